//! The Burrows-Wheeler transform bzip2 needs: the last column of the *cyclic rotations* of a
//! block in sorted order, and the row of rotation 0.
//!
//! libsais sorts *suffixes* (as if a smallest end marker followed the block). Rotation order
//! equals suffix order for every pair of suffixes where neither is a prefix of the other. The
//! suffixes that are a prefix of another one ("bad") are always the K shortest ones: if a
//! suffix is not a prefix of any other suffix, no longer suffix can be. So: find K by walking
//! from the shortest suffix, remove those K from the order, sort them by full rotation, and
//! merge each into the rest by binary search on rotations. When K is large (periodic data) the
//! caller falls back to libbzip2 instead.

use std::cmp::Ordering;

/// Above this many bad suffixes the fix-up is not worth it.
const MAX_BAD: usize = 4096;

/// Reusable buffers.
#[derive(Default)]
pub(super) struct Bwt {
    sa: Vec<i32>,
    doubled: Vec<u8>,
}

impl Bwt {
    /// Writes the BWT of `block` into `out` and returns the origin row, or None when the block
    /// is too periodic for the fix-up (the caller then uses another sorter).
    pub(super) fn transform(&mut self, block: &[u8], out: &mut Vec<u8>) -> Option<usize> {
        let n = block.len();
        if n == 0 {
            return None;
        }
        self.sa.clear();
        self.sa.resize(n, 0);
        libsais::SuffixArrayConstruction::for_text(block)
            .in_borrowed_buffer(&mut self.sa[..])
            .single_threaded()
            .run()
            .ok()?;
        let sa = &self.sa;

        // Ranks of the shortest suffixes, to find how many are bad.
        let window = MAX_BAD.min(n);
        let first = n - window;
        let mut rank = vec![0u32; window];
        for (r, &p) in sa.iter().enumerate() {
            let p = p as usize;
            if p >= first {
                rank[p - first] = r as u32;
            }
        }
        let mut bad = 0;
        while bad < window {
            let j = n - 1 - bad;
            let r = rank[j - first] as usize;
            if r + 1 >= n {
                break;
            }
            let next = sa[r + 1] as usize;
            let len = n - j;
            if next + len <= n && block[next..next + len] == block[j..] {
                bad += 1;
            } else {
                break;
            }
        }
        if bad == window && window < n {
            return None;
        }

        out.clear();
        out.reserve(n);
        let mut origin = 0;
        let mut emit = |i: usize, p: usize| {
            if p == 0 {
                origin = i;
                out.push(block[n - 1]);
            } else {
                out.push(block[p - 1]);
            }
        };
        if bad == 0 {
            for (i, &p) in sa.iter().enumerate() {
                emit(i, p as usize);
            }
            return Some(origin);
        }

        self.doubled.clear();
        self.doubled.extend_from_slice(block);
        self.doubled.extend_from_slice(block);
        let doubled = &self.doubled;
        let rotation = |a: usize| &doubled[a..a + n];
        let bad_from = n - bad;
        let mut bad_rows: Vec<usize> = (bad_from..n).collect();
        bad_rows.sort_by(|&a, &b| rotation(a).cmp(rotation(b)).then(a.cmp(&b)));
        let good: Vec<usize> = sa
            .iter()
            .map(|&p| p as usize)
            .filter(|&p| p < bad_from)
            .collect();
        let mut row = 0;
        let mut g = 0;
        for &b in &bad_rows {
            let at = good.partition_point(|&x| rotation(x).cmp(rotation(b)) == Ordering::Less);
            while g < at {
                emit(row, good[g]);
                row += 1;
                g += 1;
            }
            emit(row, b);
            row += 1;
        }
        for &p in &good[g..] {
            emit(row, p);
            row += 1;
        }
        Some(origin)
    }
}

#[cfg(test)]
pub(super) fn inverse(last: &[u8], origin: usize) -> Vec<u8> {
    let n = last.len();
    let mut start = [0usize; 256];
    for &c in last {
        start[c as usize] += 1;
    }
    let mut sum = 0;
    for s in start.iter_mut() {
        let c = *s;
        *s = sum;
        sum += c;
    }
    let mut next = vec![0usize; n];
    for (i, &c) in last.iter().enumerate() {
        next[start[c as usize]] = i;
        start[c as usize] += 1;
    }
    let mut out = Vec::with_capacity(n);
    let mut p = next[origin];
    for _ in 0..n {
        out.push(last[p]);
        p = next[p];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sorts rotations naively.
    fn naive(block: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let n = block.len();
        let d = [block, block].concat();
        let mut rows: Vec<usize> = (0..n).collect();
        rows.sort_by(|&a, &b| d[a..a + n].cmp(&d[b..b + n]));
        let last = rows.iter().map(|&r| d[r + n - 1]).collect();
        let sorted = rows.iter().map(|&r| d[r]).collect();
        (last, sorted)
    }

    #[test]
    fn matches_sorted_rotations() {
        let mut bwt = Bwt::default();
        let mut out = Vec::new();
        let mut cases: Vec<Vec<u8>> = [
            &b"banana"[..],
            b"abababab",
            b"aaaa",
            b"a",
            b"abcabd",
            b"mississippi",
            b"abab\0\0\0\0ab",
            b"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
            b"xyxyxyxyxyxyxyz",
            b"\x00\x01\x00\x01\x00",
        ]
        .iter()
        .map(|c| c.to_vec())
        .collect();
        cases.push(crate::bzip::test_data(20_000, 3));
        cases.push([crate::bzip::test_data(5_000, 4), vec![0; 300]].concat());
        for case in &cases {
            let origin = bwt
                .transform(case, &mut out)
                .expect("no fallback for these");
            let (want, _) = naive(case);
            assert_eq!(out, want, "{:?}", String::from_utf8_lossy(case));
            assert_eq!(&inverse(&out, origin), case);
        }
    }

    #[test]
    fn periodic_blocks_fall_back() {
        let mut bwt = Bwt::default();
        let mut out = Vec::new();
        let periodic: Vec<u8> = b"abc".iter().cycle().take(30_000).copied().collect();
        assert_eq!(bwt.transform(&periodic, &mut out), None);
    }
}
