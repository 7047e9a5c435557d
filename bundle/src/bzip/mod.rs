//! Parallel bzip2: an encoder that writes the pbzip2 layout (fixed-size input chunks, one
//! bzip2 stream each, concatenated in order) and a decoder that reads any concatenation of
//! bzip2 streams, decoding independent streams on worker threads.
//!
//! Plain `bzip2 -d`, `lbzip2 -d` and `tar xjf` read the encoder's output, because bzip2 has
//! always decoded concatenated streams as the concatenation of their contents.
//!
//! Each chunk is compressed by our own block encoder (`fast`: libsais suffix sorting, about
//! 1.6 times libbzip2's speed per core on binaries, same size within 0.1 %), or by libbzip2
//! (the `bzip2` crate) for the rare periodic chunks our sorter declines. Decoding uses our
//! block decoder (`fast::decode`, about 1.4 times libbzip2's speed per core), with libbzip2 for
//! what it declines (randomised blocks), for corrupt data (libbzip2 is the judge) and for
//! streams too large for a worker's span.

mod decoder;
mod encoder;
mod fast;
mod pool;
mod scan;

pub use decoder::ParallelBzDecoder;
pub use decoder::{MAX_SPAN, MAX_SPAN_OUTPUT};
pub use encoder::ParallelBzEncoder;
pub use scan::find_stream_start;

/// Input bytes per bzip2 stream: a release-format constant, never derived from thread count.
/// 900,000 bytes keep a chunk to (about) one level-9 block.
pub const CHUNK_SIZE: usize = 900_000;

/// Compression level of every stream: a release-format constant.
pub const LEVEL: u32 = 9;

/// `threads == 0` means "as many as the machine has".
pub(crate) fn effective_threads(threads: usize) -> usize {
    if threads > 0 {
        threads
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// Deterministic, somewhat compressible test data (words from a small xorshift generator).
#[cfg(test)]
pub(crate) fn test_data(len: usize, seed: u64) -> Vec<u8> {
    let words: [&[u8]; 8] = [
        b"bundle ",
        b"tar ",
        b"stream ",
        b"\x7fELF\x02\x01",
        b"usernetes\n",
        b"\0\0\0\0",
        b"rootless ",
        b"0123456789",
    ];
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        if state.is_multiple_of(5) {
            out.push((state >> 24) as u8);
        } else {
            out.extend_from_slice(words[(state >> 40) as usize % words.len()]);
        }
    }
    out.truncate(len);
    out
}
