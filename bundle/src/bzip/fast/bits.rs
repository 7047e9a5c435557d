//! A most-significant-bit-first bit writer, as bzip2 streams are written.

pub(super) struct BitWriter {
    pub(super) out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter {
    pub(super) fn new(capacity: usize) -> BitWriter {
        BitWriter {
            out: Vec::with_capacity(capacity),
            acc: 0,
            n: 0,
        }
    }

    /// Writes the low `count` bits of `value` (count <= 32).
    #[inline]
    pub(super) fn put(&mut self, count: u32, value: u32) {
        debug_assert!(count <= 32);
        if count == 0 {
            return;
        }
        self.acc = (self.acc << count) | u64::from(value & (u32::MAX >> (32 - count)));
        self.n += count;
        while self.n >= 8 {
            self.n -= 8;
            self.out.push((self.acc >> self.n) as u8);
        }
    }

    /// Pads with zero bits to a byte boundary and returns the bytes.
    pub(super) fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push((self.acc << (8 - self.n)) as u8);
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn msb_first() {
        let mut w = super::BitWriter::new(4);
        w.put(1, 1);
        w.put(3, 0b010);
        w.put(8, 0xff);
        w.put(0, 0);
        w.put(2, 0b11);
        assert_eq!(w.finish(), [0b1010_1111, 0b1111_1100]);
    }
}
