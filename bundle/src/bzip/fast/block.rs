//! One bzip2 stream at level 9: the input is run-length coded (RLE1) into blocks of at most
//! 899,981 bytes (libbzip2's limit for level 9), each block is transformed ([`Bwt`]), MTF and
//! zero-run coded, and written with 2–6 Huffman tables chosen per 50 symbols in four rounds,
//! as libbzip2 does. Layout of a block: magic 0x314159265359, block CRC, a zero "randomised"
//! bit, the origin row (24 bits), the used-byte bitmap, table count, selectors, delta-coded
//! code lengths, then the symbols. The stream ends with 0x177245385090 and the combined CRC.

use super::bits::BitWriter;
use super::bwt::Bwt;
use super::crc;
use super::huffman::{assign_codes, code_lengths};
use super::mtf::{move_to_front, position};

/// Largest RLE1 block at level 9 (libbzip2: 100000 * 9 - 19).
const BLOCK_MAX: usize = 899_981;
const GROUP: usize = 50;
const MAX_TABLES: usize = 6;
const ITERATIONS: usize = 4;
const MAX_CODE_LEN: u8 = 17;
const RUNA: u16 = 0;
const RUNB: u16 = 1;

/// Compresses `data` into one complete level-9 bzip2 stream; None when a block is too
/// periodic for our sorter (the caller then uses libbzip2).
pub(crate) fn compress_stream(data: &[u8]) -> Option<Vec<u8>> {
    thread_local! {
        // The sorter's buffers (about 9 MB for a full block) are kept per worker thread
        // instead of being mapped and zeroed again for every chunk.
        static ENCODER: std::cell::RefCell<Encoder> = std::cell::RefCell::new(Encoder::default());
    }
    ENCODER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut encoder) => encode(data, &mut encoder),
        Err(_) => encode(data, &mut Encoder::default()),
    })
}

fn encode(data: &[u8], state: &mut Encoder) -> Option<Vec<u8>> {
    let mut w = BitWriter::new(data.len() / 3 + 64);
    for &b in b"BZh9" {
        w.put(8, u32::from(b));
    }
    let mut combined: u32 = 0;
    let mut block: Vec<u8> = Vec::with_capacity(BLOCK_MAX + 8);
    let mut crc: u32 = !0;
    let mut run: Option<(u8, u32)> = None;
    for &b in data {
        if block.len() >= BLOCK_MAX {
            flush_run(&mut block, &mut crc, run.take());
            let block_crc = !crc;
            state.write_block(&mut w, &block, block_crc)?;
            combined = combined.rotate_left(1) ^ block_crc;
            block.clear();
            crc = !0;
        }
        run = match run {
            Some((c, len)) if c == b && len < 255 => Some((c, len + 1)),
            other => {
                flush_run(&mut block, &mut crc, other);
                Some((b, 1))
            }
        };
    }
    flush_run(&mut block, &mut crc, run.take());
    if !block.is_empty() {
        let block_crc = !crc;
        state.write_block(&mut w, &block, block_crc)?;
        combined = combined.rotate_left(1) ^ block_crc;
    }
    w.put(24, 0x17_7245);
    w.put(24, 0x38_5090);
    w.put(32, combined);
    Some(w.finish())
}

/// Appends a run of `len` bytes `c` in RLE1 form (4..=255 as four bytes and a count) and
/// adds the run's bytes to the block CRC.
fn flush_run(block: &mut Vec<u8>, crc: &mut u32, run: Option<(u8, u32)>) {
    let Some((c, len)) = run else { return };
    for _ in 0..len {
        *crc = crc::update(*crc, c);
    }
    if len < 4 {
        block.extend(std::iter::repeat_n(c, len as usize));
    } else {
        block.extend_from_slice(&[c, c, c, c, (len - 4) as u8]);
    }
}

/// Buffers reused from block to block.
#[derive(Default)]
struct Encoder {
    bwt: Bwt,
    last: Vec<u8>,
    mtf: Vec<u16>,
}

impl Encoder {
    fn write_block(&mut self, w: &mut BitWriter, block: &[u8], block_crc: u32) -> Option<()> {
        let origin = self.bwt.transform(block, &mut self.last)?;

        // Bytes in use, and their ranks.
        let mut in_use = [false; 256];
        for &b in block {
            in_use[b as usize] = true;
        }
        let mut rank_of = [0u8; 256];
        let mut used = 0usize;
        for (b, &u) in in_use.iter().enumerate() {
            if u {
                rank_of[b] = used as u8;
                used += 1;
            }
        }
        let alpha = used + 2;
        let eob = (used + 1) as u16;

        // MTF with zero runs as RUNA/RUNB (bijective base 2).
        let mut freq = [0u32; 258];
        self.mtf.clear();
        let mtf = &mut self.mtf;
        let mut order: [u8; 256] = std::array::from_fn(|i| i as u8);
        let mut zeros: u32 = 0;
        let push_zeros = |mtf: &mut Vec<u16>, freq: &mut [u32; 258], mut z: u32| {
            if z == 0 {
                return;
            }
            z -= 1;
            loop {
                let sym = if z & 1 == 1 { RUNB } else { RUNA };
                mtf.push(sym);
                freq[sym as usize] += 1;
                if z < 2 {
                    break;
                }
                z = (z - 2) / 2;
            }
        };
        for &b in &self.last {
            let r = rank_of[b as usize];
            if order[0] == r {
                zeros += 1;
                continue;
            }
            push_zeros(mtf, &mut freq, zeros);
            zeros = 0;
            let j = position(&order, r);
            move_to_front(&mut order, j, r);
            let sym = (j + 1) as u16;
            mtf.push(sym);
            freq[sym as usize] += 1;
        }
        push_zeros(mtf, &mut freq, zeros);
        mtf.push(eob);
        freq[eob as usize] += 1;
        let n_mtf = mtf.len();

        // Tables: initial split by cumulative frequency, then four refinement rounds.
        let tables = match n_mtf {
            0..200 => 2,
            200..600 => 3,
            600..1200 => 4,
            1200..2400 => 5,
            _ => MAX_TABLES,
        };
        let mut len = [[0u8; 258]; MAX_TABLES];
        let mut remaining = n_mtf as u32;
        let mut gs = 0usize;
        for part in (1..=tables).rev() {
            let target = remaining / part as u32;
            let mut ge = gs as isize - 1;
            let mut acc = 0u32;
            while acc < target && ge < alpha as isize - 1 {
                ge += 1;
                acc += freq[ge as usize];
            }
            if ge > gs as isize && part != tables && part != 1 && (tables - part) % 2 == 1 {
                acc -= freq[ge as usize];
                ge -= 1;
            }
            for (v, l) in len[part - 1][..alpha].iter_mut().enumerate() {
                *l = if v as isize >= gs as isize && v as isize <= ge {
                    0
                } else {
                    15
                };
            }
            gs = (ge + 1) as usize;
            remaining -= acc;
        }

        let groups = n_mtf.div_ceil(GROUP);
        let mut selectors = vec![0u8; groups];
        for _ in 0..ITERATIONS {
            // The lengths of a symbol in all tables, packed in 10-bit lanes of one word, so a
            // group's cost in every table is one addition per symbol (50 * 17 < 1024).
            let mut packed = [0u64; 258];
            for (v, p) in packed[..alpha].iter_mut().enumerate() {
                for (t, table) in len.iter().enumerate().take(tables) {
                    *p |= u64::from(table[v]) << (10 * t);
                }
            }
            let mut rfreq = [[0u32; 258]; MAX_TABLES];
            for (g, sel) in selectors.iter_mut().enumerate() {
                let syms = &mtf[g * GROUP..((g + 1) * GROUP).min(n_mtf)];
                let total: u64 = syms.iter().map(|&s| packed[s as usize]).sum();
                let cost = |t: usize| (total >> (10 * t)) & 0x3ff;
                let mut best = 0;
                for t in 1..tables {
                    if cost(t) < cost(best) {
                        best = t;
                    }
                }
                *sel = best as u8;
                for &s in syms {
                    rfreq[best][s as usize] += 1;
                }
            }
            for t in 0..tables {
                code_lengths(&mut len[t][..alpha], &rfreq[t][..alpha], MAX_CODE_LEN);
            }
        }
        let mut code = [[0u32; 258]; MAX_TABLES];
        for t in 0..tables {
            assign_codes(&mut code[t][..alpha], &len[t][..alpha]);
        }

        // Header.
        w.put(24, 0x31_4159);
        w.put(24, 0x26_5359);
        w.put(32, block_crc);
        w.put(1, 0);
        w.put(24, origin as u32);
        let mut map16 = 0u32;
        for i in 0..16 {
            if in_use[i * 16..(i + 1) * 16].iter().any(|&u| u) {
                map16 |= 1 << (15 - i);
            }
        }
        w.put(16, map16);
        for i in 0..16 {
            if map16 & (1 << (15 - i)) != 0 {
                let mut bits = 0u32;
                for j in 0..16 {
                    if in_use[i * 16 + j] {
                        bits |= 1 << (15 - j);
                    }
                }
                w.put(16, bits);
            }
        }
        w.put(3, tables as u32);
        w.put(15, groups as u32);
        let mut table_order: [u8; MAX_TABLES] = std::array::from_fn(|i| i as u8);
        for &s in &selectors {
            let mut j = 0;
            while table_order[j] != s {
                j += 1;
            }
            table_order.copy_within(0..j, 1);
            table_order[0] = s;
            for _ in 0..j {
                w.put(1, 1);
            }
            w.put(1, 0);
        }
        for table in len.iter().take(tables) {
            let mut cur = table[0];
            w.put(5, u32::from(cur));
            for &l in &table[..alpha] {
                while cur < l {
                    w.put(2, 0b10);
                    cur += 1;
                }
                while cur > l {
                    w.put(2, 0b11);
                    cur -= 1;
                }
                w.put(1, 0);
            }
        }
        // Symbols.
        for (g, &sel) in selectors.iter().enumerate() {
            let t = sel as usize;
            for &s in &mtf[g * GROUP..((g + 1) * GROUP).min(n_mtf)] {
                w.put(u32::from(len[t][s as usize]), code[t][s as usize]);
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn libbzip2_decode(stream: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        bzip2::read::BzDecoder::new(stream)
            .read_to_end(&mut out)
            .expect("libbzip2 rejects our stream");
        out
    }

    fn round_trip(data: &[u8]) -> Option<usize> {
        let stream = compress_stream(data)?;
        assert!(libbzip2_decode(&stream) == data, "{} bytes", data.len());
        Some(stream.len())
    }

    #[test]
    fn libbzip2_reads_what_we_write() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..300_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        // Runs of exactly four random bytes: RLE1 makes 5 of 4, so 900 kB need two blocks.
        let fours: Vec<u8> = noise[..225_000].iter().flat_map(|&b| [b; 4]).collect();
        let mut mixed = crate::bzip::test_data(600_000, 21);
        mixed.extend(std::iter::repeat_n(0u8, 100_000));
        mixed.extend_from_slice(&noise[..200_000]);
        for (what, data) in [
            ("empty", Vec::new()),
            ("one byte", vec![7]),
            ("two symbols", b"ab".to_vec()),
            ("a run of 4", b"aaaa".to_vec()),
            ("a run of 300", vec![b'q'; 300]),
            ("text", crate::bzip::test_data(900_000, 22)),
            ("noise", noise.clone()),
            ("runs of exactly 4", fours),
            ("mixed", mixed),
        ] {
            assert!(round_trip(&data).is_some(), "{what}: fell back");
        }
        assert_eq!(
            compress_stream(&[&noise[..1000], &[9u8; 200]].concat()).map(|_| ()),
            Some(())
        );
        // Periodic data: the sorter declines and the caller uses libbzip2.
        let periodic: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        assert_eq!(compress_stream(&periodic), None);
    }

    #[test]
    fn size_is_close_to_libbzip2() {
        let data = crate::bzip::test_data(900_000, 23);
        let ours = round_trip(&data).unwrap();
        let theirs = super::super::super::encoder::compress_with_libbzip2(&data)
            .unwrap()
            .len();
        let ratio = ours as f64 / theirs as f64;
        assert!(ratio < 1.01, "ours {ours} vs libbzip2 {theirs}");
    }
}

#[cfg(test)]
mod random_tests {
    use super::*;
    use std::io::Read;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Inputs of many shapes: small alphabets, long and short runs, copied substrings.
    fn sample(rng: &mut Rng) -> Vec<u8> {
        let size = match rng.below(4) {
            0 => rng.below(64),
            1 => rng.below(5_000),
            2 => rng.below(60_000),
            _ => rng.below(300_000),
        } as usize;
        let alphabet = [1u64, 2, 3, 16, 256][rng.below(5) as usize];
        let mut out = Vec::with_capacity(size);
        while out.len() < size {
            match rng.below(3) {
                0 => {
                    let b = rng.below(alphabet) as u8;
                    let n = 1 + rng.below(300) as usize;
                    out.extend(std::iter::repeat_n(b, n));
                }
                1 if out.len() > 10 => {
                    let from = rng.below(out.len() as u64) as usize;
                    let n = (1 + rng.below(500) as usize).min(out.len() - from);
                    out.extend_from_within(from..from + n);
                }
                _ => {
                    for _ in 0..rng.below(200) {
                        out.push(rng.below(alphabet) as u8);
                    }
                }
            }
        }
        out.truncate(size);
        out
    }

    /// (2000 cases pass too; 60 keep the test quick.)
    #[test]
    fn random_shapes_round_trip_through_libbzip2() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut fast = 0;
        for case in 0..60 {
            let data = sample(&mut rng);
            let Some(stream) = compress_stream(&data) else {
                continue;
            };
            fast += 1;
            let mut out = Vec::new();
            bzip2::read::BzDecoder::new(&stream[..])
                .read_to_end(&mut out)
                .unwrap_or_else(|e| panic!("case {case} ({} bytes): {e}", data.len()));
            assert!(out == data, "case {case} ({} bytes) differs", data.len());
        }
        assert!(fast >= 40, "only {fast} of 60 cases used our encoder");
    }
}
