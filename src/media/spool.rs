//! Media that arrives as a stream (stdin, a FIFO): read as it comes by a thread, spooled to a
//! temporary file so that container readers can seek back (and forward, by reading ahead) as in a
//! file, with memory bounded whatever the length. An input that sends nothing waits, as `cat`
//! does, unless a timeout is given.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::time::Duration;

use symphonia::core::io::MediaSource;

/// Bytes read from the input at a time, and chunks in flight (so at most 1 MB is held).
const CHUNK: usize = 64 * 1024;
const IN_FLIGHT: usize = 16;

/// Set while a read waits for an input that has sent nothing yet; nothing has been written
/// then, so the binary exits at once on Ctrl-C.
static WAITING: AtomicBool = AtomicBool::new(false);

/// Whether the process is waiting for its input to send something.
pub fn waiting_for_input() -> bool {
    WAITING.load(Ordering::SeqCst)
}

/// Where streamed bytes come from.
pub enum Origin {
    Stdin,
    /// A FIFO or device, opened by the reader thread (opening a FIFO waits for a writer).
    Path(PathBuf),
}

pub struct Spool {
    /// In a mutex only because a media source must be Sync; one reader uses it.
    rx: std::sync::Mutex<Receiver<io::Result<Vec<u8>>>>,
    file: tempfile::NamedTempFile,
    /// Bytes spooled so far.
    len: u64,
    pos: u64,
    eof: bool,
    timeout: Option<Duration>,
    timed_out: Arc<AtomicBool>,
}

impl Spool {
    /// Starts reading `origin` in a thread.
    pub fn start(origin: Origin, timeout: Option<Duration>) -> io::Result<Self> {
        let file = tempfile::Builder::new().prefix("vidscribe-input-").tempfile()?;
        let (tx, rx) = sync_channel(IN_FLIGHT);
        std::thread::spawn(move || {
            let mut input: Box<dyn Read> = match origin {
                Origin::Stdin => Box::new(io::stdin().lock()),
                Origin::Path(p) => match File::open(&p) {
                    Ok(f) => Box::new(f),
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                },
            };
            loop {
                let mut buf = vec![0u8; CHUNK];
                match input.read(&mut buf) {
                    Ok(0) => {
                        let _ = tx.send(Ok(Vec::new()));
                        return;
                    }
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.send(Ok(buf)).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
        });
        Ok(Self { rx: std::sync::Mutex::new(rx), file, len: 0, pos: 0, eof: false, timeout, timed_out: Arc::default() })
    }

    /// Set once the input sent nothing for the timeout.
    pub fn timed_out_flag(&self) -> Arc<AtomicBool> {
        self.timed_out.clone()
    }

    /// The spool file (what has arrived so far), for a second reader.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Receives the next chunk into the spool; false at the end of the input.
    fn pull(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        WAITING.store(self.len == 0, Ordering::SeqCst);
        // `&mut self`: the mutex is never contended, only there to make the source Sync.
        let rx = self.rx.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
        let got = match self.timeout {
            Some(t) => rx.recv_timeout(t),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        WAITING.store(false, Ordering::SeqCst);
        let chunk = match got {
            Ok(chunk) => chunk?,
            Err(RecvTimeoutError::Timeout) => {
                self.timed_out.store(true, Ordering::SeqCst);
                return Err(io::Error::new(io::ErrorKind::TimedOut, "the input sent nothing in time"));
            }
            Err(RecvTimeoutError::Disconnected) => Vec::new(),
        };
        if chunk.is_empty() {
            self.eof = true;
            return Ok(false);
        }
        let f = self.file.as_file_mut();
        f.seek(SeekFrom::Start(self.len))?;
        f.write_all(&chunk)?;
        self.len += chunk.len() as u64;
        Ok(true)
    }
}

impl Read for Spool {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.len {
            if !self.pull()? {
                return Ok(0);
            }
        }
        let n = buf.len().min((self.len - self.pos) as usize);
        let f = self.file.as_file_mut();
        f.seek(SeekFrom::Start(self.pos))?;
        let got = f.read(&mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl Seek for Spool {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => n as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
            SeekFrom::End(d) => {
                while self.pull()? {}
                self.len as i128 + d as i128
            }
        };
        if target < 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"));
        }
        let target = target as u64;
        // Forward: read ahead into the spool (stopping at the end of the input).
        while target > self.len && self.pull()? {}
        self.pos = target;
        Ok(self.pos)
    }
}

impl MediaSource for Spool {
    fn is_seekable(&self) -> bool {
        true
    }
    fn byte_len(&self) -> Option<u64> {
        self.eof.then_some(self.len)
    }
}
