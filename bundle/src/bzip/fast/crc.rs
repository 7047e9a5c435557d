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

/// `SLICES[k][b]`: the CRC step of byte `b` followed by `k` zero bytes (slicing by 8).
static SLICES: [[u32; 256]; 8] = slices();

const fn slices() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    t[0] = table();
    let mut k = 1;
    while k < 8 {
        let mut b = 0;
        while b < 256 {
            let prev = t[k - 1][b];
            t[k][b] = (prev << 8) ^ t[0][(prev >> 24) as usize];
            b += 1;
        }
        k += 1;
    }
    t
}

/// Running block CRC: start with `!0`, finish with `!crc`.
#[inline]
pub(super) fn update(crc: u32, byte: u8) -> u32 {
    (crc << 8) ^ TABLE[((crc >> 24) as u8 ^ byte) as usize]
}

/// [`update`] over a slice, eight bytes per step.
pub(super) fn update_slice(mut crc: u32, data: &[u8]) -> u32 {
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let hi = crc ^ u32::from_be_bytes([w[0], w[1], w[2], w[3]]);
        let lo = u32::from_be_bytes([w[4], w[5], w[6], w[7]]);
        let t = &SLICES;
        crc = t[7][(hi >> 24) as usize]
            ^ t[6][(hi >> 16) as usize & 0xff]
            ^ t[5][(hi >> 8) as usize & 0xff]
            ^ t[4][hi as usize & 0xff]
            ^ t[3][(lo >> 24) as usize]
            ^ t[2][(lo >> 16) as usize & 0xff]
            ^ t[1][(lo >> 8) as usize & 0xff]
            ^ t[0][lo as usize & 0xff];
    }
    words.remainder().iter().fold(crc, |c, &b| update(c, b))
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_value() {
        // CRC-32/BZIP2 of "123456789" is 0xFC891918.
        let crc = b"123456789".iter().fold(!0u32, |c, &b| super::update(c, b));
        assert_eq!(!crc, 0xFC89_1918);
        assert_eq!(!super::update_slice(!0, b"123456789"), 0xFC89_1918);
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7919 % 251) as u8).collect();
        for len in [0, 1, 7, 8, 9, 63, 64, 1000] {
            let bytewise = data[..len].iter().fold(!0u32, |c, &b| super::update(c, b));
            assert_eq!(super::update_slice(!0, &data[..len]), bytewise, "{len}");
        }
    }
}
