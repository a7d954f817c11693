//! How long-running stages report progress and learn that the user wants to stop.
//!
//! The library never touches the terminal: the CLI implements [`Progress`] with a progress bar.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};

/// Receives progress from a stage. Every method defaults to doing nothing.
pub trait Progress: Send + Sync {
    /// A stage begins; `total_ms` is the media time it will cover, when known.
    fn begin(&self, _stage: &str, _total_ms: Option<u64>) {}
    /// A transfer begins (a download): [`Progress::at`] then counts bytes, not media time.
    fn begin_bytes(&self, stage: &str, total_bytes: Option<u64>) {
        self.begin(stage, total_bytes)
    }
    /// What the stage is doing now ("finding speech", "window 3 of 12"), shown beside it.
    fn step(&self, _what: &str) {}
    /// Media time (ms) processed so far in the current stage.
    fn at(&self, _done_ms: u64) {}
    /// The current stage is over.
    fn end(&self) {}
}

/// A [`Progress`] that reports nothing.
pub struct Silent;
impl Progress for Silent {}

/// Set from a signal handler (or anywhere) to ask running stages to stop early.
/// Stages check it between units of work; whisper checks it through its abort callback.
#[derive(Debug, Default)]
pub struct Cancel(AtomicBool);

impl Cancel {
    pub const fn new() -> Self {
        Self(AtomicBool::new(false))
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
    /// The flag itself, for C callbacks that take a pointer.
    pub fn flag(&self) -> &AtomicBool {
        &self.0
    }
}
