//! The parallel decoder: reads any concatenation of bzip2 streams (ours, pbzip2's, or the
//! single stream of `bzip2`/`lbzip2`) and yields the concatenation of their contents.
//!
//! How it goes parallel without trusting the input: the compressed bytes ahead of the current
//! position are scanned for stream-start candidates ([`find_stream_start`]); each span between
//! two candidates is decoded on a worker as if it were one stream. Results are then taken in
//! order, and a result is used only if its span starts exactly where the previous stream really
//! ended, and the stream ended exactly at the span's end (or, ending earlier, what follows is
//! decoded on). Whenever that check fails (a false candidate inside compressed data, a stream
//! too large for a span, an empty stream without a block magic) the decoder falls back to
//! decoding sequentially from the true position. So the output is always what a sequential
//! decoder would give; the workers only make it faster.
//!
//! Memory stays bounded whatever the archive size: at most a few spans of at most
//! [`MAX_SPAN`] compressed bytes are in flight, a worker gives up on a span whose output
//! passes [`MAX_SPAN_OUTPUT`] (the sequential path then streams it), and compressed bytes are
//! dropped once decoded.
//!
//! Errors are never silent: corrupt data (bad CRC, bad block), a truncated last stream, or bytes
//! after the last stream that are not a bzip2 stream all fail the read with the byte offset.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, sync_channel};

use bzip2::{Decompress, Status};

use super::effective_threads;
use super::fast::Decoded;
use super::pool::Pool;
use super::scan::{START_LEN, find_stream_start};

/// The largest compressed span handed to a worker; a stream longer than that is decoded on the
/// calling thread as a stream.
/// (A 900 kB chunk compresses to at most about 905 kB.)
pub const MAX_SPAN: u64 = 2 << 20;
/// A worker stops (and the span is decoded sequentially instead) when its output passes this.
pub const MAX_SPAN_OUTPUT: usize = 4 << 20;
/// At most this many spans are in flight, whatever the thread count (with the two limits
/// above, at most about 6 MiB of buffers per span; ours take about 2 MiB).
const MAX_IN_FLIGHT: usize = 10;
const READ_SIZE: usize = 256 << 10;

enum SpanResult {
    /// One stream, ending exactly at the span's end.
    Exact(Vec<u8>),
    /// One stream that ended after `used` bytes, before the span's end.
    EndedEarly(Vec<u8>, u64),
    /// No stream end inside the span, or the output got too large: decode sequentially.
    Sequential,
    /// Corrupt data, with the decoder's word for it.
    Corrupt(String),
}

struct Pending {
    start: u64,
    end: u64,
    rx: Receiver<SpanResult>,
}

enum Mode {
    Idle,
    /// Decoding the stream that starts at `pos` on the calling thread, as a stream.
    Sequential(Box<Decompress>),
    Done,
    Failed,
}

/// Parallel decoder of concatenated bzip2 streams (see the module doc).
pub struct ParallelBzDecoder<R: Read> {
    inner: R,
    threads: usize,
    pool: Option<Pool>,
    /// Compressed bytes; `buf[buf_off]` is at absolute offset `base`.
    buf: Vec<u8>,
    buf_off: usize,
    base: u64,
    eof: bool,
    /// Where the next stream of the sequential parse starts.
    pos: u64,
    streams: u64,
    /// The start of the next span to hand out, or `None` when spans reach the end of input.
    open_start: Option<u64>,
    /// Everything before this offset has been scanned for candidates.
    scan_pos: u64,
    pending: VecDeque<Pending>,
    out: Vec<u8>,
    out_pos: usize,
    mode: Mode,
    /// Tests only: also report a (false) candidate at every multiple of this offset.
    false_candidate_every: Option<u64>,
}

impl<R: Read> ParallelBzDecoder<R> {
    /// Decodes `inner` with up to `threads` workers (0 = one per CPU).
    pub fn new(inner: R, threads: usize) -> Self {
        ParallelBzDecoder {
            inner,
            threads: effective_threads(threads),
            pool: None,
            buf: Vec::new(),
            buf_off: 0,
            base: 0,
            eof: false,
            pos: 0,
            streams: 0,
            open_start: Some(0),
            scan_pos: 0,
            pending: VecDeque::new(),
            out: Vec::new(),
            out_pos: 0,
            mode: Mode::Idle,
            false_candidate_every: None,
        }
    }

    /// Candidate search over `[from, to)`: real pattern matches, plus the test-only fakes.
    fn next_candidate(&self, from: u64, to: u64) -> Option<u64> {
        let real = find_stream_start(self.window(from, to)).map(|i| from + i as u64);
        let fake = self
            .false_candidate_every
            .map(|k| from.div_ceil(k) * k)
            .filter(|&c| c + START_LEN as u64 <= to);
        match (real, fake) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The reader, once decoding is done (it has then been read to its end).
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Number of bzip2 streams decoded so far.
    pub fn streams(&self) -> u64 {
        self.streams
    }

    fn max_in_flight(&self) -> usize {
        (self.threads + 2).min(MAX_IN_FLIGHT)
    }

    fn avail_end(&self) -> u64 {
        self.base + (self.buf.len() - self.buf_off) as u64
    }

    fn window(&self, from: u64, to: u64) -> &[u8] {
        let a = self.buf_off + (from - self.base) as usize;
        let b = self.buf_off + (to - self.base) as usize;
        &self.buf[a..b]
    }

    /// Reads one more piece of input; false at end of input.
    fn read_more(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let old = self.buf.len();
        self.buf.resize(old + READ_SIZE, 0);
        let n = loop {
            match self.inner.read(&mut self.buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(e);
                }
            }
        };
        self.buf.truncate(old + n);
        if n == 0 {
            self.eof = true;
        }
        Ok(n > 0)
    }

    /// Drops compressed bytes before `to`.
    fn trim(&mut self, to: u64) {
        debug_assert!(to >= self.base && to <= self.avail_end());
        self.buf_off += (to - self.base) as usize;
        self.base = to;
        if self.buf_off >= (1 << 20) && self.buf_off * 2 >= self.buf.len() {
            self.buf.drain(..self.buf_off);
            self.buf_off = 0;
        }
    }

    /// Hands spans to workers until enough are in flight or the next span is unknown.
    fn plan(&mut self) -> io::Result<()> {
        while self.pending.len() < self.max_in_flight() {
            let Some(start) = self.open_start else {
                return Ok(());
            };
            let end = loop {
                let from = self.scan_pos.max(start + 1);
                let avail = self.avail_end();
                if from < avail {
                    if let Some(c) = self.next_candidate(from, avail) {
                        break Some(c);
                    }
                    self.scan_pos = from.max(avail.saturating_sub(START_LEN as u64 - 1));
                }
                if self.eof {
                    break None;
                }
                if avail - start >= MAX_SPAN {
                    // Too long for a span: the sequential path will take it.
                    return Ok(());
                }
                self.read_more()?;
            };
            let span_end = end.unwrap_or_else(|| self.avail_end());
            if span_end - start > MAX_SPAN {
                return Ok(());
            }
            let data = self.window(start, span_end).to_vec();
            let (tx, rx) = sync_channel(1);
            if self.pool.is_none() {
                self.pool = Some(Pool::new(self.threads, "bzip2-dec")?);
            }
            if let Some(pool) = &self.pool {
                pool.submit(move || {
                    let result = catch_unwind(AssertUnwindSafe(|| decode_span(&data)))
                        .unwrap_or_else(|_| SpanResult::Corrupt("decoder thread panicked".into()));
                    let _ = tx.send(result);
                });
            }
            self.pending.push_back(Pending {
                start,
                end: span_end,
                rx,
            });
            self.open_start = end;
            if let Some(next) = end {
                self.scan_pos = next + 1;
            }
        }
        Ok(())
    }

    /// Moves decoding forward: fills `self.out`, or writes into `dst` directly (returning the
    /// count) when decoding sequentially. Returns Ok(None) at the end of the data.
    fn step(&mut self, dst: &mut [u8]) -> io::Result<Option<usize>> {
        match self.mode {
            Mode::Done => return Ok(None),
            Mode::Failed => return Err(bz_error("decoding already failed".into())),
            Mode::Sequential(_) => return self.sequential_step(dst).map(Some),
            Mode::Idle => {}
        }
        while self.pending.front().is_some_and(|p| p.start < self.pos) {
            self.pending.pop_front();
        }
        if self.avail_end() == self.pos && !self.read_more()? {
            if self.streams == 0 {
                return Err(bz_error("no bzip2 stream: the input is empty".into()));
            }
            self.mode = Mode::Done;
            self.pool = None;
            return Ok(None);
        }
        if self.pending.is_empty() && self.open_start.is_none_or(|s| s < self.pos) {
            self.open_start = Some(self.pos);
        }
        self.plan()?;
        let front_is_here = self.pending.front().is_some_and(|p| p.start == self.pos);
        if !front_is_here {
            self.mode = Mode::Sequential(Box::new(Decompress::new(false)));
            return Ok(Some(0));
        }
        let pending = self.pending.pop_front().expect("front checked above");
        let result = pending
            .rx
            .recv()
            .unwrap_or_else(|_| SpanResult::Corrupt("decoder thread stopped".into()));
        match result {
            SpanResult::Exact(data) => self.stream_done(pending.end, data),
            SpanResult::EndedEarly(data, used) => self.stream_done(self.pos + used, data),
            SpanResult::Sequential => {
                self.mode = Mode::Sequential(Box::new(Decompress::new(false)));
            }
            SpanResult::Corrupt(why) => {
                self.mode = Mode::Failed;
                return Err(bz_error(self.corrupt_here(&why)));
            }
        }
        Ok(Some(0))
    }

    /// Describes a decoding failure of the stream at `self.pos`.
    fn corrupt_here(&self, why: &str) -> String {
        let why = why.trim_start_matches("bzip2: ");
        // In sequential mode the stream's first bytes may already be dropped: then it had a
        // header, since decoding got past it.
        let is_header = self.base > self.pos || {
            let head = self.window(self.pos, self.avail_end().min(self.pos + 4));
            head.len() == 4 && &head[..3] == b"BZh" && (b'1'..=b'9').contains(&head[3])
        };
        if self.streams > 0 && !is_header {
            format!(
                "the bytes after the last bzip2 stream (from offset {}) are not a bzip2 stream ({why})",
                self.pos
            )
        } else {
            format!("corrupt stream starting at byte {}: {why}", self.pos)
        }
    }

    fn stream_done(&mut self, end: u64, data: Vec<u8>) {
        self.streams += 1;
        self.pos = end;
        self.trim(end);
        self.out = data;
        self.out_pos = 0;
    }

    /// Decodes the stream at `self.pos` into `dst`.
    fn sequential_step(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        loop {
            let Mode::Sequential(d) = &mut self.mode else {
                unreachable!("sequential_step outside sequential mode")
            };
            let at = self.pos + d.total_in();
            let avail = self.base + (self.buf.len() - self.buf_off) as u64;
            let input = &self.buf[self.buf_off + (at - self.base) as usize..];
            let (in0, out0) = (d.total_in(), d.total_out());
            let status = d.decompress(input, dst);
            let (used, made) = (d.total_in() - in0, (d.total_out() - out0) as usize);
            let consumed_to = self.pos + d.total_in();
            let status = match status {
                Ok(s) => s,
                Err(e) => {
                    let what = self.corrupt_here(&e.to_string());
                    self.mode = Mode::Failed;
                    return Err(bz_error(what));
                }
            };
            if let Status::StreamEnd = status {
                self.streams += 1;
                self.pos = consumed_to;
                self.trim(consumed_to);
                self.mode = Mode::Idle;
                return Ok(made);
            }
            // Keep the bytes of this stream that are still to be read, drop the rest.
            self.trim(consumed_to.min(avail));
            if made > 0 {
                return Ok(made);
            }
            if used == 0 && !self.read_more()? {
                self.mode = Mode::Failed;
                return Err(bz_error(format!(
                    "truncated: the stream starting at byte {} ends early at byte {}",
                    self.pos, avail
                )));
            }
        }
    }
}

impl<R: Read> Read for ParallelBzDecoder<R> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        if dst.is_empty() {
            return Ok(0);
        }
        loop {
            if self.out_pos < self.out.len() {
                let n = dst.len().min(self.out.len() - self.out_pos);
                dst[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
                self.out_pos += n;
                return Ok(n);
            }
            match self.step(dst) {
                Ok(None) => return Ok(0),
                Ok(Some(0)) => continue,
                Ok(Some(n)) => return Ok(n),
                Err(e) => {
                    self.mode = Mode::Failed;
                    self.pending.clear();
                    return Err(e);
                }
            }
        }
    }
}

fn bz_error(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("bzip2: {message}"))
}

/// Decodes `data` as one bzip2 stream (worker side): with our decoder, or with libbzip2 for
/// what ours declines or finds corrupt (libbzip2 then has the last word, and its message).
fn decode_span(data: &[u8]) -> SpanResult {
    match super::fast::decode_stream(data, MAX_SPAN_OUTPUT) {
        Decoded::Stream { out, used } if used == data.len() => SpanResult::Exact(out),
        Decoded::Stream { out, used } => SpanResult::EndedEarly(out, used as u64),
        Decoded::Truncated | Decoded::TooLarge => SpanResult::Sequential,
        Decoded::Unsupported | Decoded::Corrupt(_) => decode_span_libbzip2(data),
    }
}

/// Decodes `data` as one bzip2 stream with libbzip2.
fn decode_span_libbzip2(data: &[u8]) -> SpanResult {
    let mut d = Decompress::new(false);
    let mut out: Vec<u8> = Vec::with_capacity(1 << 20);
    loop {
        if out.len() == out.capacity() {
            if out.len() >= MAX_SPAN_OUTPUT {
                return SpanResult::Sequential;
            }
            out.reserve(out.len().min(MAX_SPAN_OUTPUT - out.len()).max(64 << 10));
        }
        let at = d.total_in() as usize;
        let (in0, out0) = (d.total_in(), d.total_out());
        match d.decompress_vec(&data[at..], &mut out) {
            Err(e) => return SpanResult::Corrupt(e.to_string()),
            Ok(Status::StreamEnd) => {
                let used = d.total_in();
                return if used == data.len() as u64 {
                    SpanResult::Exact(out)
                } else {
                    SpanResult::EndedEarly(out, used)
                };
            }
            Ok(_) => {
                if d.total_in() == in0 && d.total_out() == out0 {
                    // Input exhausted without a stream end.
                    return SpanResult::Sequential;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::encoder::compress_chunk;
    use super::super::test_data;
    use super::*;

    fn streams(parts: &[&[u8]]) -> Vec<u8> {
        parts
            .iter()
            .flat_map(|p| compress_chunk(p).unwrap())
            .collect()
    }

    fn decode(data: &[u8], threads: usize, fake: Option<u64>) -> io::Result<Vec<u8>> {
        let mut d = ParallelBzDecoder::new(data, threads);
        d.false_candidate_every = fake;
        let mut out = Vec::new();
        d.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn false_candidates_fall_back_to_the_true_parse() {
        let a = test_data(300_000, 1);
        let b = test_data(200_000, 2);
        let c = test_data(1000, 3);
        let data = streams(&[&a, &b, &c]);
        let want = [a, b, c].concat();
        for fake in [None, Some(997), Some(4096), Some(60_000)] {
            for threads in [1, 3] {
                let got = decode(&data, threads, fake).unwrap();
                assert!(got == want, "fake {fake:?} threads {threads}");
            }
        }
    }

    #[test]
    fn empty_stream_between_streams() {
        let a = test_data(100_000, 4);
        let b = test_data(100_000, 5);
        let data = streams(&[&a, b"", &b, b""]);
        assert_eq!(decode(&data, 2, None).unwrap(), [a, b].concat());
        assert_eq!(decode(&streams(&[b""]), 2, None).unwrap(), b"");
    }

    #[test]
    fn tiny_reads() {
        let a = test_data(20_000, 6);
        let data = streams(&[&a, &a]);
        let mut d = ParallelBzDecoder::new(&data[..], 2);
        let mut out = Vec::new();
        let mut byte = [0u8; 1];
        while d.read(&mut byte).unwrap() == 1 {
            out.push(byte[0]);
        }
        assert_eq!(out, [a.clone(), a].concat());
        assert_eq!(d.streams(), 2);
    }

    #[test]
    fn errors() {
        let a = test_data(50_000, 7);
        let data = streams(&[&a, &a]);
        let err = |d: &[u8]| decode(d, 2, None).unwrap_err().to_string();
        let e = err(&data[..data.len() - 3]);
        assert!(e.contains("truncated"), "{e}");
        let e = err(&[&data[..], b"junk"].concat());
        assert!(e.contains("after the last bzip2 stream"), "{e}");
        let e = err(b"");
        assert!(e.contains("empty"), "{e}");
        let e = err(b"not bzip2 at all");
        assert!(e.contains("corrupt"), "{e}");
        let mut flipped = data.clone();
        flipped[data.len() / 4] ^= 0x10;
        let e = err(&flipped);
        assert!(e.contains("bzip2"), "{e}");
    }
}
