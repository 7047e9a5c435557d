//! Making an extracted tree durable while it is being written: each file is handed over as soon
//! as it is complete and fsynced on one of a few background threads, so the disk writes the
//! first files while the decoder still works on the next ones (instead of one long sync after
//! the last file); the folders are handed over at the end. Nothing may rely on the tree before
//! [`Syncer::finish`] returns Ok.

use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::{Error, Result};

/// Threads waiting on fsyncs (they wait for the disk, they hardly use a CPU).
const THREADS: usize = 4;
/// Files handed over but not yet synced (each holds an open descriptor).
const QUEUE: usize = 256;

type Job = (PathBuf, File);

/// Background fsyncs of finished files (see the module doc).
pub struct Syncer {
    tx: Option<SyncSender<Job>>,
    handles: Vec<JoinHandle<Result<()>>>,
}

impl Syncer {
    /// Starts the sync threads.
    pub fn new() -> Result<Syncer> {
        let (tx, rx) = sync_channel::<Job>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let mut handles = Vec::with_capacity(THREADS);
        for i in 0..THREADS {
            let rx = Arc::clone(&rx);
            let handle = std::thread::Builder::new()
                .name(format!("fsync-{i}"))
                .spawn(move || work(&rx))
                .map_err(|e| Error::Stream {
                    context: "starting a sync thread".into(),
                    source: e,
                })?;
            handles.push(handle);
        }
        Ok(Syncer {
            tx: Some(tx),
            handles,
        })
    }

    /// Hands over a complete file (or an open folder) to be fsynced.
    pub fn sync(&self, path: PathBuf, file: File) {
        if let Some(tx) = &self.tx {
            // The threads only stop early after a failure, which finish() reports.
            let _ = tx.send((path, file));
        }
    }

    /// Fsyncs `dirs` (complete by now) and waits for every fsync; the first failure is
    /// returned. (The order of the fsyncs does not matter: all are done before this returns,
    /// and nothing may rely on the tree before that.)
    pub fn finish(mut self, dirs: &[PathBuf]) -> Result<()> {
        for d in dirs {
            match File::open(d) {
                Ok(f) => self.sync(d.clone(), f),
                Err(e) => {
                    let _ = self.join();
                    return Err(Error::io("open", d, e));
                }
            }
        }
        self.join()
    }

    fn join(&mut self) -> Result<()> {
        self.tx = None;
        let mut result = Ok(());
        for h in self.handles.drain(..) {
            let r = h.join().unwrap_or_else(|_| {
                Err(Error::Stream {
                    context: "a sync thread".into(),
                    source: std::io::Error::other("panicked"),
                })
            });
            if result.is_ok() {
                result = r;
            }
        }
        result
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

fn work(rx: &Mutex<Receiver<Job>>) -> Result<()> {
    loop {
        let job = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return Ok(()),
        };
        let Ok((path, file)) = job else {
            return Ok(());
        };
        file.sync_all().map_err(|e| Error::io("sync", &path, e))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncs_files_and_folders() {
        let d = tempfile::tempdir().unwrap();
        let s = Syncer::new().unwrap();
        for i in 0..20 {
            let p = d.path().join(format!("f{i}"));
            std::fs::write(&p, b"x").unwrap();
            s.sync(p.clone(), File::open(&p).unwrap());
        }
        s.finish(&[d.path().to_path_buf()]).unwrap();
        let missing = d.path().join("nope");
        let err = Syncer::new().unwrap().finish(&[missing]).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
