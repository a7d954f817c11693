//! `vidscribe serve`: the archive in a browser. An HTTP/1.1 server (hyper on tokio) on loopback
//! by default: `/` the search page, `/api/search` the hits as JSON (the objects `search --json`
//! prints), and each report's public files under `/r/{report}/{file}` — its page, subtitles,
//! transcript and media (with range requests so a browser can seek) — named by the report's id,
//! never by a path: nothing else on the disk, the database and batch.log included, can be asked
//! for. Made to face a hostile network: a bounded number of connections, headers of bounded
//! size, connections that say nothing dropped, an accept loop that outlives running out of file
//! descriptors, and answers only to `Host:` names that are this server's.
#![forbid(unsafe_code)]

mod body;
mod edit;
pub mod http;
mod site;

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::Semaphore;

use super::store::{Db, Store, StoreError};
use crate::progress::Cancel;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {message}")]
    Listen { addr: String, message: String },
    #[error("--host {0:?} is not a host name")]
    Host(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot start the server: {0}")]
    Runtime(std::io::Error),
}

/// How the server faces its clients. Every limit is explicit.
#[derive(Debug, Clone)]
pub struct Options {
    pub bind: String,
    pub port: u16,
    /// Names (besides the bound address) that `Host:` may give, for a server reached by name.
    pub hosts: Vec<String>,
    /// Connections served at once; more are answered 503 and closed. Lowered to fit the
    /// process's open-file limit.
    pub max_connections: usize,
    /// A request's head must arrive within this.
    pub header_timeout: Duration,
    /// A connection on which nothing moves (no request, no byte read or written) for this long
    /// is closed.
    pub idle_timeout: Duration,
    /// Editing in the browser (`--edit`), as this editor: off when `None`.
    pub edit: Option<String>,
    /// A replica of the database that searches and pages read from (`--read-db`); saves go
    /// to the database itself.
    pub read_db: Option<Db>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1".into(),
            port: 8080,
            hosts: Vec::new(),
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            edit: None,
            read_db: None,
        }
    }
}

/// Largest request head (request line and headers) read; a longer one is answered 431.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most headers in a request.
pub const MAX_HEADERS: usize = 64;
/// File descriptors kept back from connections for the database, files being sent and logs.
const FD_RESERVE: usize = 48;
/// Most idle database connections kept for the next requests.
const MAX_IDLE: usize = 16;
/// Requests that use the database or the disk at once (each holds a thread of its own).
const MAX_BLOCKING: usize = 16;

/// Open connections to the archive's database, reused from one request to the next (a
/// PostgreSQL connection costs a round of authentication to open). An archive.db replaced on
/// disk (a new file at its path) is noticed at the next request: every connection to the old
/// file is dropped, so no answer mixes the two.
pub(crate) struct Pool {
    /// Where saves are indexed.
    pub(crate) db: Db,
    /// Where searches and pages read: the database, or a replica of it.
    read: Db,
    root: PathBuf,
    idle: Mutex<Idle>,
}

struct Idle {
    stores: Vec<Store>,
    generation: u64,
    file: Option<(u64, u64)>,
}

/// The device and inode of an SQLite archive's file (`None` for PostgreSQL).
fn file_identity(db: &Db) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    match db {
        Db::Sqlite(p) => std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino())),
        Db::Postgres(_) => None,
    }
}

impl Pool {
    pub(crate) fn take(&self) -> Result<(Store, u64), StoreError> {
        let now = file_identity(&self.read);
        let (idle, generation) = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if now != idle.file {
                idle.stores.clear();
                idle.generation += 1;
                idle.file = now;
            }
            (idle.stores.pop(), idle.generation)
        };
        match idle {
            Some(s) => Ok((s, generation)),
            None => Ok((Store::open_read(&self.read, Some(&self.root))?, generation)),
        }
    }

    pub(crate) fn put_back(&self, store: Store, generation: u64) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.generation == generation && idle.stores.len() < MAX_IDLE {
            idle.stores.push(store);
        }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }
}

/// A running server.
pub struct Server {
    listener: TcpListener,
    site: Arc<site::Site>,
    options: Options,
    max_connections: usize,
}

impl Server {
    /// Opens the archive (its folder, its database, or both) read-only and listens on
    /// `bind:port` (port 0: any free port).
    pub fn bind(archive: Option<&Path>, db: &Db, options: Options) -> Result<Self, ServeError> {
        for h in &options.hosts {
            if h.is_empty() || h.contains(['/', ':', '@', ' ', '[', ']']) || h.bytes().any(|b| b.is_ascii_control()) {
                return Err(ServeError::Host(h.clone()));
            }
        }
        // Checks that it is an archive now, not at the first request (and, with a replica,
        // that both answer).
        let read = options.read_db.clone().unwrap_or_else(|| db.clone());
        if read != *db {
            Store::open_read(db, archive)?;
        }
        let store = Store::open_read(&read, archive)?;
        let root = store.root().canonicalize().unwrap_or_else(|_| store.root().to_path_buf());
        let pool = Pool {
            db: db.clone(),
            read: read.clone(),
            root,
            idle: Mutex::new(Idle { stores: vec![store], generation: 0, file: file_identity(&read) }),
        };
        let addr = format!("{}:{}", options.bind, options.port);
        let listen_err = |e: std::io::Error| ServeError::Listen { addr: addr.clone(), message: e.to_string() };
        let ip: IpAddr = options
            .bind
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| ServeError::Listen { addr: addr.clone(), message: "not an IP address".into() })?;
        let listener = TcpListener::bind(SocketAddr::new(ip, options.port)).map_err(listen_err)?;
        listener.set_nonblocking(true).map_err(listen_err)?;
        let bound = listener.local_addr().map_err(listen_err)?;
        let hosts = http::Hosts::new(bound.ip(), bound.port(), &options.hosts);
        let max_connections = options.max_connections.min(open_file_limit().saturating_sub(FD_RESERVE)).max(1);
        let editing = match &options.edit {
            Some(editor) => Some(edit::Editing::new(editor.clone()).map_err(ServeError::Runtime)?),
            None => None,
        };
        Ok(Self { listener, site: Arc::new(site::Site::new(pool, hosts, editing)), options, max_connections })
    }

    /// The address it listens on (`127.0.0.1:8080`).
    pub fn addr(&self) -> String {
        self.listener.local_addr().map(|a| a.to_string()).unwrap_or_default()
    }

    /// Connections it serves at once (the option, lowered to fit the open-file limit).
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// Answers requests until `cancel` is set.
    pub fn run(&self, cancel: &Cancel) -> Result<(), ServeError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(MAX_BLOCKING)
            .enable_all()
            .build()
            .map_err(ServeError::Runtime)?;
        let listener = self.listener.try_clone().map_err(ServeError::Runtime)?;
        rt.block_on(async {
            let listener = tokio::net::TcpListener::from_std(listener).map_err(ServeError::Runtime)?;
            self.accept(listener, cancel).await;
            Ok(())
        })
    }

    async fn accept(&self, listener: tokio::net::TcpListener, cancel: &Cancel) {
        let slots = Arc::new(Semaphore::new(self.max_connections));
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        let mut last_complaint: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if cancel.is_cancelled() {
                        return;
                    }
                }
                got = listener.accept() => match got {
                    Ok((stream, _)) => {
                        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                            // Full: say so and close, rather than leave the client waiting in
                            // the backlog behind connections that may never speak.
                            let _ = stream.try_write(BUSY);
                            continue;
                        };
                        let _ = stream.set_nodelay(true);
                        let site = Arc::clone(&self.site);
                        let options = self.options.clone();
                        tokio::spawn(async move {
                            connection(stream, site, &options).await;
                            drop(slot);
                        });
                    }
                    Err(e) => {
                        // Out of file descriptors (EMFILE, ENFILE), or a connection that went
                        // away before it was taken: wait a moment and go on accepting. The
                        // waiting connections stay in the kernel's backlog meanwhile.
                        if last_complaint.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                            eprintln!("vidscribe serve: cannot accept a connection ({e}); going on");
                            last_complaint = Some(Instant::now());
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }
    }
}

const BUSY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\nConnection: close\r\n\r\n";

/// One connection: HTTP/1.1 with keep-alive, bounded heads, and timeouts on silence in either
/// direction (an idle keep-alive connection, a client that stops reading a video).
async fn connection(stream: tokio::net::TcpStream, site: Arc<site::Site>, options: &Options) {
    let mut io = tokio_io_timeout::TimeoutStream::new(stream);
    io.set_read_timeout(Some(options.idle_timeout));
    io.set_write_timeout(Some(options.idle_timeout));
    let io = TokioIo::new(Box::pin(io));
    let service = hyper::service::service_fn(move |req| {
        let site = Arc::clone(&site);
        async move { Ok::<_, std::convert::Infallible>(site.answer(req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS)
        .keep_alive(true)
        .serve_connection(io, service);
    let _ = conn.await;
}

/// The process's soft limit on open files (/proc/self/limits), or a common default.
fn open_file_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            t.lines().find(|l| l.starts_with("Max open files")).and_then(|l| {
                l.trim_start_matches("Max open files")
                    .split_whitespace()
                    .next()
                    .map(|v| v.parse().unwrap_or(usize::MAX))
            })
        })
        .unwrap_or(1024)
}
