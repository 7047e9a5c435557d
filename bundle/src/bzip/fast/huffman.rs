//! Huffman code lengths and canonical codes as libbzip2 makes them (`BZ2_hbMakeCodeLengths`,
//! `BZ2_hbAssignCodes`): a weight carries the frequency in its high bits and the subtree depth
//! in its low byte, so ties go to shallower trees; when a code is longer than allowed, all
//! frequencies are halved and the tree rebuilt.

/// Code lengths (each 1..=max_len) for `freq` (zero frequencies count as one).
pub(super) fn code_lengths(len: &mut [u8], freq: &[u32], max_len: u8) {
    let alpha = freq.len();
    debug_assert!(alpha >= 2 && len.len() == alpha);
    let mut heap = vec![0usize; alpha + 2];
    let mut weight = vec![0u32; alpha * 2 + 2];
    let mut parent = vec![0i32; alpha * 2 + 2];
    for (i, &f) in freq.iter().enumerate() {
        weight[i + 1] = f.max(1) << 8;
    }
    loop {
        let mut nodes = alpha;
        let mut n_heap = 0;
        heap[0] = 0;
        weight[0] = 0;
        parent[0] = -2;
        parent[1..=alpha].fill(-1);
        for i in 1..=alpha {
            n_heap += 1;
            heap[n_heap] = i;
            up_heap(&mut heap, &weight, n_heap);
        }
        while n_heap > 1 {
            let n1 = heap[1];
            heap[1] = heap[n_heap];
            n_heap -= 1;
            down_heap(&mut heap, &weight, n_heap, 1);
            let n2 = heap[1];
            heap[1] = heap[n_heap];
            n_heap -= 1;
            down_heap(&mut heap, &weight, n_heap, 1);
            nodes += 1;
            parent[n1] = nodes as i32;
            parent[n2] = nodes as i32;
            weight[nodes] = add_weights(weight[n1], weight[n2]);
            parent[nodes] = -1;
            n_heap += 1;
            heap[n_heap] = nodes;
            up_heap(&mut heap, &weight, n_heap);
        }
        let mut too_long = false;
        for i in 1..=alpha {
            let mut depth = 0u8;
            let mut k = i;
            while parent[k] >= 0 {
                k = parent[k] as usize;
                depth += 1;
            }
            len[i - 1] = depth;
            too_long |= depth > max_len;
        }
        if !too_long {
            return;
        }
        for w in weight.iter_mut().take(alpha + 1).skip(1) {
            let j = 1 + ((*w >> 8) / 2);
            *w = j << 8;
        }
    }
}

fn add_weights(a: u32, b: u32) -> u32 {
    ((a & 0xffff_ff00) + (b & 0xffff_ff00)) | (1 + (a & 0xff).max(b & 0xff))
}

fn up_heap(heap: &mut [usize], weight: &[u32], mut z: usize) {
    let tmp = heap[z];
    while weight[tmp] < weight[heap[z >> 1]] {
        heap[z] = heap[z >> 1];
        z >>= 1;
    }
    heap[z] = tmp;
}

fn down_heap(heap: &mut [usize], weight: &[u32], n_heap: usize, mut z: usize) {
    let tmp = heap[z];
    loop {
        let mut y = z << 1;
        if y > n_heap {
            break;
        }
        if y < n_heap && weight[heap[y + 1]] < weight[heap[y]] {
            y += 1;
        }
        if weight[tmp] < weight[heap[y]] {
            break;
        }
        heap[z] = heap[y];
        z = y;
    }
    heap[z] = tmp;
}

/// Canonical codes: shorter codes first, equal lengths in symbol order.
pub(super) fn assign_codes(code: &mut [u32], len: &[u8]) {
    let min = *len.iter().min().unwrap_or(&1);
    let max = *len.iter().max().unwrap_or(&1);
    let mut next = 0u32;
    for n in min..=max {
        for (c, &l) in code.iter_mut().zip(len) {
            if l == n {
                *c = next;
                next += 1;
            }
        }
        next <<= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kraft(len: &[u8]) -> f64 {
        len.iter().map(|&l| 0.5f64.powi(i32::from(l))).sum()
    }

    #[test]
    fn lengths_are_complete_and_bounded() {
        let mut len = [0u8; 5];
        code_lengths(&mut len, &[10, 1, 1, 1, 0], 17);
        assert_eq!(len[0], 1);
        assert!((kraft(&len) - 1.0).abs() < 1e-12, "{len:?}");
        // Fibonacci frequencies make a deep tree: it must be limited.
        let mut freq = vec![1u32, 1];
        while freq.len() < 28 {
            let n = freq.len();
            freq.push(freq[n - 1] + freq[n - 2]);
        }
        let mut len = vec![0u8; 28];
        code_lengths(&mut len, &freq, 17);
        assert!(len.iter().all(|&l| (1..=17).contains(&l)), "{len:?}");
        assert!(kraft(&len) <= 1.0 + 1e-12);
    }

    #[test]
    fn canonical_codes_are_prefix_free() {
        let len = [2u8, 3, 3, 2, 2];
        let mut code = [0u32; 5];
        assign_codes(&mut code, &len);
        assert_eq!(code, [0b00, 0b110, 0b111, 0b01, 0b10]);
    }
}
