//! Finding where bzip2 streams may start in compressed bytes.
//!
//! A stream starts byte-aligned with `BZh`, a block-size digit `1`–`9`, and (unless the stream
//! is empty) the 48-bit block magic 0x314159265359 ("1AY&SY"). Such ten bytes can also occur by
//! chance inside compressed data, so a match is only a candidate: the decoder checks that the
//! previous stream really ends there.

/// Length of the pattern [`find_stream_start`] looks for.
pub const START_LEN: usize = 10;

const BLOCK_MAGIC: &[u8; 6] = b"1AY&SY";

/// The offset of the first stream-start candidate in `data`, if any.
pub fn find_stream_start(data: &[u8]) -> Option<usize> {
    let finder = memchr::memmem::Finder::new(BLOCK_MAGIC);
    let mut from = 4;
    while from + BLOCK_MAGIC.len() <= data.len() {
        let hit = from + finder.find(&data[from..])?;
        let start = hit - 4;
        if &data[start..start + 3] == b"BZh" && (b'1'..=b'9').contains(&data[start + 3]) {
            return Some(start);
        }
        from = hit + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_candidates() {
        assert_eq!(find_stream_start(b""), None);
        assert_eq!(find_stream_start(b"BZh91AY&S"), None);
        assert_eq!(find_stream_start(b"BZh91AY&SY"), Some(0));
        assert_eq!(find_stream_start(b"xxBZh11AY&SYzz"), Some(2));
        assert_eq!(find_stream_start(b"BZh01AY&SY"), None);
        assert_eq!(find_stream_start(b"1AY&SYBZh91AY&SY"), Some(6));
        assert_eq!(find_stream_start(b"xBZx91AY&SY.BZh51AY&SY"), Some(12));
    }
}
