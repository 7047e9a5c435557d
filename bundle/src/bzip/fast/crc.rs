//! The bzip2 CRC-32 (polynomial 0x04c11db7, most significant bit first, as in libbzip2).

const fn table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u32) << 24;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x8000_0000 != 0 {
                (c << 1) ^ 0x04c1_1db7
            } else {
                c << 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static TABLE: [u32; 256] = table();

/// Running block CRC: start with `!0`, finish with `!crc`.
#[inline]
pub(super) fn update(crc: u32, byte: u8) -> u32 {
    (crc << 8) ^ TABLE[((crc >> 24) as u8 ^ byte) as usize]
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_value() {
        // CRC-32/BZIP2 of "123456789" is 0xFC891918.
        let crc = b"123456789".iter().fold(!0u32, |c, &b| super::update(c, b));
        assert_eq!(!crc, 0xFC89_1918);
    }
}
