//! The parallel decoder against what other tools write (single streams of bzip2 and lbzip2,
//! concatenations), our encoder against their decoders, and the decoder's errors.

mod common;

use std::io::{Read, Write};

use bundle::bzip::{CHUNK_SIZE, ParallelBzDecoder, ParallelBzEncoder};
use common::{data, filter};

fn decode(bytes: &[u8], threads: usize) -> std::io::Result<Vec<u8>> {
    let mut d = ParallelBzDecoder::new(bytes, threads);
    let mut out = Vec::new();
    d.read_to_end(&mut out)?;
    Ok(out)
}

fn encode(bytes: &[u8], threads: usize) -> Vec<u8> {
    let mut e = ParallelBzEncoder::new(Vec::new(), threads);
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Incompressible bytes, so a stream is larger than the decoder's parallel span.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        out.extend_from_slice(&s.to_le_bytes());
    }
    out.truncate(len);
    out
}

#[test]
fn reads_single_streams_of_bzip2_and_lbzip2() {
    let plain = data(3 * CHUNK_SIZE + 777, 11);
    let from_bzip2 = filter("bzip2", &["-9c"], &plain);
    let from_lbzip2 = filter("lbzip2", &["-9c", "-n", "2"], &plain);
    for (what, bytes) in [("bzip2", &from_bzip2), ("lbzip2", &from_lbzip2)] {
        let starts = bytes.windows(4).filter(|w| w == b"BZh9").count();
        assert_eq!(starts, 1, "{what} wrote more than one stream");
        for threads in [1, 3] {
            assert!(
                decode(bytes, threads).unwrap() == plain,
                "{what}, {threads} threads"
            );
        }
    }
}

#[test]
fn reads_concatenations_and_big_streams() {
    let a = data(1_500_000, 12);
    let b = noise(5_000_000, 13);
    let c = data(10, 14);
    // bzip2 | bzip2 | ours | lbzip2: a multi-stream file of mixed origin, with a stream larger
    // than what the decoder hands to a worker.
    let big = filter("bzip2", &["-1c"], &b);
    assert!(big.len() as u64 > bundle::bzip::MAX_SPAN);
    let joined = [
        filter("bzip2", &["-9c"], &a),
        big,
        encode(&c, 2),
        filter("lbzip2", &["-9c"], &a),
    ]
    .concat();
    let want = [&a[..], &b[..], &c[..], &a[..]].concat();
    for threads in [1, 2, 4] {
        assert!(
            decode(&joined, threads).unwrap() == want,
            "{threads} threads"
        );
    }
}

#[test]
fn other_decoders_read_our_streams() {
    let plain = data(2 * CHUNK_SIZE + 5, 15);
    let ours = encode(&plain, 4);
    assert!(filter("bzip2", &["-dc"], &ours) == plain);
    assert!(filter("lbzip2", &["-dc", "-n", "2"], &ours) == plain);
    assert!(decode(&ours, 2).unwrap() == plain);
}

#[test]
fn corrupt_input_is_an_error_never_short_output() {
    let plain = data(2 * CHUNK_SIZE + 100_000, 16);
    let ours = encode(&plain, 2);
    let single = filter("bzip2", &["-9c"], &plain);
    for (what, bytes) in [("ours", &ours), ("bzip2", &single)] {
        let err = |b: &[u8]| match decode(b, 2) {
            Ok(out) => panic!("{what}: decoded {} bytes without error", out.len()),
            Err(e) => e.to_string(),
        };
        // Truncated anywhere: in the middle, just before the end, at a stream boundary - 1.
        for cut in [bytes.len() / 2, bytes.len() - 1, bytes.len() - 5] {
            let e = err(&bytes[..cut]);
            assert!(
                e.contains("truncated") || e.contains("corrupt"),
                "{what} cut {cut}: {e}"
            );
        }
        // A flipped bit in the middle (CRC or structure).
        let mut flipped = bytes.to_vec();
        flipped[bytes.len() / 3] ^= 0x04;
        let e = err(&flipped);
        assert!(e.contains("bzip2"), "{what} flipped: {e}");
        // Garbage after the last stream.
        let e = err(&[&bytes[..], b"\0\0garbage"].concat());
        assert!(
            e.contains("after the last bzip2 stream"),
            "{what} garbage: {e}"
        );
    }
    assert!(decode(b"", 2).is_err());
}
