//! Process-wide cancellation: set by the Ctrl-C handler (or by the first failing component when
//! the run must stop), polled by every long-running step so temporary files are cleaned up and
//! no archive reaches its final path.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

static CANCELLED: AtomicBool = AtomicBool::new(false);

/// Asks every running step to stop.
pub fn request() {
    CANCELLED.store(true, Ordering::SeqCst);
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    CANCELLED.load(Ordering::SeqCst)
}

/// `Err(Error::Cancelled)` once a stop was asked for.
pub fn check() -> Result<()> {
    if requested() {
        Err(Error::Cancelled)
    } else {
        Ok(())
    }
}
