//! Move-to-front over a 256-byte list, shared by the encoder and the decoder: the list is
//! moved 16 bytes per step from the top and the last (at most 16) bytes as one 128-bit shift.
//! (A byte loop here becomes a memmove call, which costs more than the move itself at these
//! sizes, and a search byte by byte costs more than memchr's.)

/// Moves `list[..idx]` up by one and puts `b` (which was at `idx`) first.
#[inline(always)]
pub(super) fn move_to_front(list: &mut [u8; 256], idx: usize, b: u8) {
    let mut k = idx;
    while k >= 16 {
        let chunk: [u8; 16] = list[k - 16..k].try_into().expect("16 bytes");
        list[k - 15..=k].copy_from_slice(&chunk);
        k -= 16;
    }
    let head: &mut [u8; 16] = (&mut list[..16]).try_into().expect("16 bytes");
    let x = u128::from_le_bytes(*head);
    let moved = u128::MAX >> (120 - 8 * k);
    *head = ((x & !moved) | (((x << 8) | u128::from(b)) & moved)).to_le_bytes();
}

/// Where `b` is in `list` (which holds every byte value once): the first 16 bytes are
/// searched inline (most positions are small), the rest with memchr.
#[inline(always)]
pub(super) fn position(list: &[u8; 256], b: u8) -> usize {
    const LO: u128 = u128::MAX / 255;
    const HI: u128 = LO << 7;
    let head: [u8; 16] = list[..16].try_into().expect("16 bytes");
    let y = u128::from_le_bytes(head) ^ (u128::from(b) * LO);
    // The lowest byte flagged here is the first zero byte of y (flags above it may be false).
    let zero = y.wrapping_sub(LO) & !y & HI;
    if zero != 0 {
        return (zero.trailing_zeros() / 8) as usize;
    }
    16 + memchr::memchr(b, &list[16..]).expect("every byte value is in the list")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_to_front() {
        for idx in 0..256 {
            let mut list: [u8; 256] = std::array::from_fn(|i| (255 - i) as u8);
            let mut want = list.to_vec();
            let b = want.remove(idx);
            want.insert(0, b);
            assert_eq!(position(&list, b), idx);
            move_to_front(&mut list, idx, b);
            assert_eq!(list.to_vec(), want, "{idx}");
        }
    }
}
