//! Several batches filling one archive at once (on one machine, or on several sharing a folder
//! and a PostgreSQL database): a batch claims a report before making it and holds it with a
//! lease that a thread renews; another batch leaves a held report alone and comes back to it
//! once the rest is done, and takes it over when its holder stopped renewing (it crashed or
//! was killed).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::store::{ClaimState, Db, Holder, Store, StoreError};

/// How long a claim lasts without renewal, unless `--lease` says.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);
/// Shortest lease taken.
pub const MIN_LEASE: Duration = Duration::from_secs(2);

/// This batch, as other batches see it in the claims table.
#[derive(Debug, Clone)]
pub struct Worker {
    /// `host:pid:tag`, different for every batch ever run.
    pub id: String,
    pub lease: Duration,
    db: Db,
    root: PathBuf,
}

impl Worker {
    pub fn new(db: &Db, root: PathBuf, lease: Duration) -> Self {
        let host = this_host();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let id = format!("{host}:{}:{nanos:08x}", std::process::id());
        Self { id, lease: lease.max(MIN_LEASE), db: db.clone(), root }
    }

    /// Claims `report`: `Ok(Ok(claim))` when this batch may make it, `Ok(Err(holder))` when
    /// another batch holds it.
    pub fn claim(&self, store: &mut Store, report: &str) -> Result<Result<Claim, Holder>, StoreError> {
        match store.claim(report, &self.id, self.lease, &is_gone_from_here)? {
            ClaimState::Claimed { taken_over } => {
                // Its own connection: the batch's is busy with the report's work.
                let mut renewer = Store::connect(&self.db, Some(&self.root), false)?;
                let (stop, stopped) = mpsc::channel::<()>();
                let lost = Arc::new(AtomicBool::new(false));
                let (flag, report_name, id, lease) =
                    (Arc::clone(&lost), report.to_string(), self.id.clone(), self.lease);
                let thread = std::thread::spawn(move || {
                    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(lease / 3) {
                        // A failed renewal is tried again at the next tick; the lease allows two
                        // misses.
                        if let Ok(false) = renewer.renew(&report_name, &id, lease) {
                            flag.store(true, Ordering::Relaxed);
                        }
                    }
                    let _ = renewer.release(&report_name, &id);
                });
                Ok(Ok(Claim { report: report.to_string(), taken_over, lost, stop: Some(stop), thread: Some(thread) }))
            }
            ClaimState::Held(holder) => Ok(Err(holder)),
        }
    }
}

/// This machine's name, as claims record it.
fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether `worker` (`host:pid:tag`) was a process of this machine that no longer runs. Asked
/// only for an archive.db, which lives on this machine: a batch killed there is taken over at
/// once instead of after its lease. (Not for PostgreSQL: machines of a team may share a name.)
pub fn is_gone_from_here(worker: &str) -> bool {
    let mut parts = worker.rsplitn(3, ':');
    let (_tag, pid, host) = (parts.next(), parts.next(), parts.next());
    match (host, pid.and_then(|p| p.parse::<u32>().ok())) {
        (Some(h), Some(pid)) if h == this_host() && cfg!(target_os = "linux") => {
            pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        }
        _ => false,
    }
}

/// A report this batch holds; dropped, it is released.
pub struct Claim {
    pub report: String,
    /// The worker whose expired claim this one replaced.
    pub taken_over: Option<String>,
    lost: Arc<AtomicBool>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Claim {
    /// Another batch took the report over (this one failed to renew in time).
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_gone_from_this_machine_is_seen() {
        let host = this_host();
        assert!(is_gone_from_here(&format!("{host}:4294967295:0a")), "no such process");
        assert!(!is_gone_from_here(&format!("{host}:{}:0a", std::process::id())), "this one runs");
        assert!(!is_gone_from_here("another-machine:4294967295:0a"), "another machine's: the lease decides");
        assert!(!is_gone_from_here("garbage"));
    }
}
