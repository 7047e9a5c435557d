//! A small fixed pool of worker threads that run boxed jobs in submission order.
//! Jobs report their results through channels of their own; a job that panics drops its
//! sender, so whoever waits for it sees a closed channel instead of hanging.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

type Job = Box<dyn FnOnce() + Send + 'static>;

pub(crate) struct Pool {
    tx: Option<Sender<Job>>,
    handles: Vec<JoinHandle<()>>,
}

impl Pool {
    pub(crate) fn new(threads: usize, name: &str) -> std::io::Result<Pool> {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads.max(1) {
            let rx: Arc<Mutex<Receiver<Job>>> = Arc::clone(&rx);
            let handle = std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => {
                                let _ = catch_unwind(AssertUnwindSafe(job));
                            }
                            Err(_) => return,
                        }
                    }
                })?;
            handles.push(handle);
        }
        Ok(Pool {
            tx: Some(tx),
            handles,
        })
    }

    pub(crate) fn submit(&self, job: impl FnOnce() + Send + 'static) {
        if let Some(tx) = &self.tx {
            // Workers only stop when the pool is dropped, so the send cannot fail here; if it
            // did, the job (and its result sender) is dropped and the waiter sees that.
            let _ = tx.send(Box::new(job));
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.tx = None;
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}
