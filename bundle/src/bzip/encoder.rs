//! The parallel encoder: cuts its input into [`CHUNK_SIZE`] chunks, compresses each into its own
//! level-9 bzip2 stream on a worker thread (with our block encoder, `super::fast`, or libbzip2
//! for periodic data), and writes the streams in input order. Output
//! depends only on the input bytes (never on the thread count); memory is bounded by the
//! number of chunks in flight (twice the thread count).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};

use bzip2::Compression;

use super::pool::Pool;
use super::{CHUNK_SIZE, LEVEL, effective_threads};
use crate::{Error, Result};

/// Compresses one chunk into one complete level-9 bzip2 stream: with our faster block encoder,
/// or with libbzip2 for the (periodic) blocks our sorter declines. The choice depends only on
/// the data, so the output stays deterministic.
pub(crate) fn compress_chunk(data: &[u8]) -> io::Result<Vec<u8>> {
    match super::fast::compress_stream(data) {
        Some(stream) => Ok(stream),
        None => compress_with_libbzip2(data),
    }
}

/// Compresses one chunk into one bzip2 stream with libbzip2 (the `bzip2` crate).
pub(crate) fn compress_with_libbzip2(data: &[u8]) -> io::Result<Vec<u8>> {
    let out = Vec::with_capacity(data.len() / 3 + 1024);
    let mut encoder = bzip2::write::BzEncoder::new(out, Compression::new(LEVEL));
    encoder.write_all(data)?;
    encoder.finish()
}

type ChunkResult = (u64, io::Result<Vec<u8>>);

struct Workers {
    pool: Pool,
    tx: Sender<ChunkResult>,
    rx: Receiver<ChunkResult>,
    ready: BTreeMap<u64, io::Result<Vec<u8>>>,
    max_in_flight: usize,
}

/// Parallel multi-stream bzip2 encoder (see the module doc). Call [`finish`](Self::finish):
/// dropping it without finishing loses the buffered tail.
pub struct ParallelBzEncoder<W: Write> {
    inner: W,
    chunk: Vec<u8>,
    workers: Option<Workers>,
    submitted: u64,
    written: u64,
}

impl<W: Write> ParallelBzEncoder<W> {
    /// Compresses into `inner` with `threads` workers (0 = one per CPU; 1 = on the calling
    /// thread). The output is the same for any thread count.
    pub fn new(inner: W, threads: usize) -> Self {
        let threads = effective_threads(threads);
        let workers = if threads > 1 {
            Pool::new(threads, "bzip2-enc").ok().map(|pool| {
                let (tx, rx) = channel();
                Workers {
                    pool,
                    tx,
                    rx,
                    ready: BTreeMap::new(),
                    max_in_flight: threads * 2,
                }
            })
        } else {
            None
        };
        ParallelBzEncoder {
            inner,
            chunk: Vec::with_capacity(CHUNK_SIZE),
            workers,
            submitted: 0,
            written: 0,
        }
    }

    /// Compresses what is buffered, writes every stream, flushes and returns the writer.
    /// Empty input gives one empty bzip2 stream, as `bzip2` does.
    pub fn finish(mut self) -> Result<W> {
        let wrap = |source| Error::Stream {
            context: "writing bzip2 output".into(),
            source,
        };
        if !self.chunk.is_empty() || self.submitted == 0 {
            self.submit().map_err(wrap)?;
        }
        while self.written < self.submitted {
            self.write_next(true).map_err(wrap)?;
        }
        self.inner.flush().map_err(wrap)?;
        self.workers = None;
        Ok(self.inner)
    }

    fn submit(&mut self) -> io::Result<()> {
        let data = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK_SIZE));
        let seq = self.submitted;
        self.submitted += 1;
        let Some(workers) = &self.workers else {
            let out = compress_chunk(&data)?;
            self.written += 1;
            return self.inner.write_all(&out);
        };
        let tx = workers.tx.clone();
        workers.pool.submit(move || {
            let result = catch_unwind(AssertUnwindSafe(|| compress_chunk(&data)))
                .unwrap_or_else(|_| Err(worker_died()));
            let _ = tx.send((seq, result));
        });
        // Keep memory bounded: wait while too many chunks are in flight.
        while self.submitted - self.written > self.max_in_flight() as u64 {
            self.write_next(true)?;
        }
        // Write whatever is already done, without waiting.
        while self.written < self.submitted && self.write_next(false)? {}
        Ok(())
    }

    fn max_in_flight(&self) -> usize {
        self.workers.as_ref().map_or(1, |w| w.max_in_flight)
    }

    /// Writes the next stream in order if it is ready (waiting for it when `block`).
    fn write_next(&mut self, block: bool) -> io::Result<bool> {
        let Some(workers) = &mut self.workers else {
            return Ok(false);
        };
        let seq = self.written;
        loop {
            if let Some(result) = workers.ready.remove(&seq) {
                let out = result?;
                self.inner.write_all(&out)?;
                self.written += 1;
                return Ok(true);
            }
            let (done, result) = if block {
                workers.rx.recv().map_err(|_| worker_died())?
            } else {
                match workers.rx.try_recv() {
                    Ok(r) => r,
                    Err(_) => return Ok(false),
                }
            };
            workers.ready.insert(done, result);
        }
    }
}

fn worker_died() -> io::Error {
    io::Error::other("a bzip2 compression thread stopped unexpectedly")
}

impl<W: Write> Write for ParallelBzEncoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = CHUNK_SIZE - self.chunk.len();
        let n = room.min(buf.len());
        self.chunk.extend_from_slice(&buf[..n]);
        if self.chunk.len() == CHUNK_SIZE {
            self.submit()?;
        }
        Ok(n)
    }

    /// Writes the streams finished so far; a partial chunk stays buffered (flushing it would
    /// make the output depend on when flush was called).
    fn flush(&mut self) -> io::Result<()> {
        while self.written < self.submitted && self.write_next(false)? {}
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_data;
    use super::*;

    fn encode(data: &[u8], threads: usize, piece: usize) -> Vec<u8> {
        let mut e = ParallelBzEncoder::new(Vec::new(), threads);
        for p in data.chunks(piece) {
            e.write_all(p).unwrap();
        }
        e.finish().unwrap()
    }

    #[test]
    fn output_is_independent_of_threads_and_write_sizes() {
        let data = test_data(CHUNK_SIZE * 3 + 12_345, 9);
        let one = encode(&data, 1, 1 << 20);
        assert_eq!(one, encode(&data, 4, 7_777));
        assert_eq!(one, encode(&data, 2, 65_536));
        // One stream per chunk, concatenated.
        let want: Vec<u8> = data
            .chunks(CHUNK_SIZE)
            .flat_map(|c| compress_chunk(c).unwrap())
            .collect();
        assert_eq!(one, want);
        assert!(one.windows(4).filter(|w| w == b"BZh9").count() >= 4);
    }

    #[test]
    fn periodic_chunks_use_libbzip2_and_decode() {
        use std::io::Read;
        let periodic = b"abc".repeat(CHUNK_SIZE / 3);
        assert!(super::super::fast::compress_stream(&periodic).is_none());
        assert_eq!(
            compress_chunk(&periodic).unwrap(),
            compress_with_libbzip2(&periodic).unwrap()
        );
        // Long runs are not periodic after RLE1 (the last count differs): our encoder.
        let zeros = vec![0u8; CHUNK_SIZE];
        for data in [periodic, zeros] {
            let stream = compress_chunk(&data).unwrap();
            let mut out = Vec::new();
            bzip2::read::BzDecoder::new(&stream[..])
                .read_to_end(&mut out)
                .unwrap();
            assert!(out == data);
        }
    }

    #[test]
    fn empty_input_is_one_empty_stream() {
        assert_eq!(encode(b"", 3, 1), compress_chunk(b"").unwrap());
    }
}
