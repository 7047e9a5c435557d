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
/// Bytes the fix-up may compare per block before giving up (near-periodic blocks, where
/// rotations agree for long stretches). The sort and search below are ours, so which pairs are
/// compared, and so whether the budget runs out, depends only on the data.
const COMPARE_BUDGET: usize = 64 << 20;

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
        let mut rotations = Rotations {
            doubled: &self.doubled,
            n,
            budget: COMPARE_BUDGET,
        };
        let bad_from = n - bad;
        let bad_rows = rotations.sort((bad_from..n).collect())?;
        let good: Vec<usize> = sa
            .iter()
            .map(|&p| p as usize)
            .filter(|&p| p < bad_from)
            .collect();
        let mut row = 0;
        let mut g = 0;
        for &b in &bad_rows {
            let at = rotations.insertion_point(&good, b)?;
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

/// Rotation comparisons on the doubled block, charged to a byte budget.
struct Rotations<'a> {
    doubled: &'a [u8],
    n: usize,
    budget: usize,
}

impl Rotations<'_> {
    /// Orders rotations `a` and `b` (equal rotations by position); None when out of budget.
    fn cmp(&mut self, a: usize, b: usize) -> Option<Ordering> {
        let x = &self.doubled[a..a + self.n];
        let y = &self.doubled[b..b + self.n];
        let mut off = 0;
        while off < self.n {
            let end = (off + 256).min(self.n);
            self.budget = self.budget.checked_sub(end - off)?;
            if x[off..end] != y[off..end] {
                return Some(x[off..end].cmp(&y[off..end]));
            }
            off = end;
        }
        Some(a.cmp(&b))
    }

    /// Bottom-up merge sort of rotation starts.
    fn sort(&mut self, mut v: Vec<usize>) -> Option<Vec<usize>> {
        let mut tmp = vec![0usize; v.len()];
        let mut width = 1;
        while width < v.len() {
            let mut start = 0;
            while start < v.len() {
                let mid = (start + width).min(v.len());
                let end = (start + 2 * width).min(v.len());
                let (mut i, mut j, mut k) = (start, mid, start);
                while i < mid && j < end {
                    if self.cmp(v[j], v[i])? == Ordering::Less {
                        tmp[k] = v[j];
                        j += 1;
                    } else {
                        tmp[k] = v[i];
                        i += 1;
                    }
                    k += 1;
                }
                tmp[k..k + mid - i].copy_from_slice(&v[i..mid]);
                k += mid - i;
                tmp[k..k + end - j].copy_from_slice(&v[j..end]);
                start = end;
            }
            std::mem::swap(&mut v, &mut tmp);
            width *= 2;
        }
        Some(v)
    }

    /// How many of the sorted `rows` order before rotation `r`.
    fn insertion_point(&mut self, rows: &[usize], r: usize) -> Option<usize> {
        let (mut lo, mut hi) = (0, rows.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.cmp(rows[mid], r)? == Ordering::Less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Some(lo)
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
    fn near_periodic_blocks_stop_at_the_budget() {
        // The 3900 shortest suffixes are bad and their rotations run into a long periodic
        // head: sorting them would compare gigabytes.
        let block = [b"abc".repeat(150_000), b"x".to_vec(), b"abc".repeat(1300)].concat();
        let mut bwt = Bwt::default();
        let mut out = Vec::new();
        assert_eq!(bwt.transform(&block, &mut out), None);
        // A short periodic head stays within the budget and is exact.
        let block = [b"abc".repeat(300), b"x".to_vec(), b"abc".repeat(300)].concat();
        let origin = bwt.transform(&block, &mut out).unwrap();
        assert_eq!(out, naive(&block).0);
        assert_eq!(inverse(&out, origin), block);
    }

    #[test]
    fn periodic_blocks_fall_back() {
        let mut bwt = Bwt::default();
        let mut out = Vec::new();
        let periodic: Vec<u8> = b"abc".iter().cycle().take(30_000).copied().collect();
        assert_eq!(bwt.transform(&periodic, &mut out), None);
    }
}
