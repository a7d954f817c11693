//! `vidscribe serve`: the archive in a browser. A small HTTP server (tiny_http) on loopback by
//! default: `/` the search page, `/api/search` the hits as JSON (the objects `search --json`
//! prints), and the reports' files under their folder names, media with range requests so a
//! browser can seek. Nothing outside the archive folder can be read.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::search::{self, Filters};
use super::store::{Db, Store, StoreError};
use crate::progress::Cancel;

/// The search page.
const PAGE: &str = include_str!("serve.html");
/// Longest query string accepted.
const MAX_QUERY_BYTES: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {message}")]
    Listen { addr: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Most idle database connections kept for the next requests.
const MAX_IDLE: usize = 16;

/// Open connections to the archive's database, reused from one request to the next (a
/// PostgreSQL connection costs a round of authentication to open).
struct Pool {
    db: Db,
    root: PathBuf,
    idle: Mutex<Vec<Store>>,
}

impl Pool {
    fn take(&self) -> Result<Store, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(s) => Ok(s),
            None => Store::connect(&self.db, Some(&self.root), false),
        }
    }

    fn put_back(&self, store: Store) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(store);
        }
    }
}

/// A running server.
pub struct Server {
    http: tiny_http::Server,
    pool: Arc<Pool>,
}

impl Server {
    /// Opens the archive (its folder, its database, or both) and listens on `bind:port` (port 0:
    /// any free port).
    pub fn bind(archive: Option<&Path>, db: &Db, bind: &str, port: u16) -> Result<Self, ServeError> {
        // Checks that it is an archive now, not at the first request.
        let store = Store::connect(db, archive, false)?;
        let root = store.root().canonicalize().unwrap_or_else(|_| store.root().to_path_buf());
        let pool = Arc::new(Pool { db: db.clone(), root, idle: Mutex::new(vec![store]) });
        let addr = format!("{bind}:{port}");
        let http = tiny_http::Server::http(&addr)
            .map_err(|e| ServeError::Listen { addr: addr.clone(), message: e.to_string() })?;
        Ok(Self { http, pool })
    }

    /// The address it listens on (`127.0.0.1:8080`).
    pub fn addr(&self) -> String {
        self.http.server_addr().to_string()
    }

    /// Answers requests until `cancel` is set, each in its own thread.
    pub fn run(&self, cancel: &Cancel) {
        while !cancel.is_cancelled() {
            match self.http.recv_timeout(Duration::from_millis(200)) {
                Ok(Some(req)) => {
                    let pool = Arc::clone(&self.pool);
                    std::thread::spawn(move || answer(req, &pool));
                }
                Ok(None) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

type Reply = tiny_http::Response<Box<dyn Read + Send>>;

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("ASCII header")
}

fn reply(status: u16, content_type: &str, body: Vec<u8>) -> Reply {
    let len = body.len();
    tiny_http::Response::new(
        status.into(),
        vec![header("Content-Type", content_type), header("X-Content-Type-Options", "nosniff")],
        Box::new(std::io::Cursor::new(body)) as Box<dyn Read + Send>,
        Some(len),
        None,
    )
}

fn error(status: u16, message: &str) -> Reply {
    reply(status, "application/json", serde_json::json!({ "error": message }).to_string().into_bytes())
}

fn answer(req: tiny_http::Request, pool: &Pool) {
    let response = if !matches!(req.method(), tiny_http::Method::Get | tiny_http::Method::Head) {
        error(405, "only GET and HEAD")
    } else {
        let raw = req.url().to_string();
        let range = req.headers().iter().find(|h| h.field.equiv("Range")).map(|h| h.value.as_str().to_string());
        let (path, query) = raw.split_once('?').unwrap_or((&raw, ""));
        match path {
            "/" | "/index.html" => reply(200, "text/html; charset=utf-8", PAGE.as_bytes().to_vec()),
            "/api/search" => api_search(query, pool),
            // Browsers ask for it on every page; the reports have none.
            "/favicon.ico" => reply(204, "image/x-icon", Vec::new()),
            _ => file(path, range.as_deref(), &pool.root),
        }
    };
    // tiny_http sends no body for HEAD itself, keeping the length.
    let _ = req.respond(response);
}

/// `/api/search?q=…&since=…&until=…&source=…&language=…&limit=…`.
fn api_search(query: &str, pool: &Pool) -> Reply {
    if query.len() > MAX_QUERY_BYTES {
        return error(414, "query too long");
    }
    let params: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k, true), decode(v, true))
        })
        .collect();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    let Some(q) = get("q") else { return error(400, "give a query: ?q=words") };
    for d in [get("since"), get("until")].into_iter().flatten() {
        if !super::batch::valid_date(&d) {
            return error(400, "since and until take a date as YYYY-MM-DD");
        }
    }
    let limit = get("limit").and_then(|l| l.parse().ok()).unwrap_or(20usize);
    let filters =
        Filters { since: get("since"), until: get("until"), source: get("source"), language: get("language") };
    let mut store = match pool.take() {
        Ok(s) => s,
        Err(e) => return error(500, &crate::job::one_line(&e)),
    };
    let found = search::search(&mut store, &q, &filters, limit);
    // A connection that failed is not reused.
    if found.is_ok() {
        pool.put_back(store);
    }
    match found {
        Ok(hits) => {
            let items: Vec<serde_json::Value> =
                hits.iter().map(|h| h.to_json(h.link().map(|l| format!("/{l}")))).collect();
            reply(200, "application/json", serde_json::Value::Array(items).to_string().into_bytes())
        }
        Err(e) => error(500, &crate::job::one_line(&e)),
    }
}

/// Percent-decoding (`+` as a space in query strings, itself in paths); bad escapes are kept.
fn decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A file of the archive, or 403/404. The raw path is checked before and after decoding: no
/// `..` or `.` segment, no encoded slash or backslash, no NUL, nothing hidden; and the file,
/// symbolic links resolved, must lie inside the archive.
fn file(raw: &str, range: Option<&str>, root: &Path) -> Reply {
    let lower = raw.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") || lower.contains("%00") || raw.contains('\\') {
        return error(404, "not found");
    }
    let decoded = decode(raw, false);
    let rel = decoded.trim_start_matches('/');
    let rel_path = Path::new(rel);
    if rel.is_empty()
        || rel_path.components().any(|c| !matches!(c, Component::Normal(_)))
        || rel.split('/').any(|s| s.is_empty() || s.starts_with('.'))
    {
        return error(404, "not found");
    }
    let Ok(full) = root.join(rel_path).canonicalize() else { return error(404, "not found") };
    if !full.starts_with(root) {
        return error(403, "outside the archive");
    }
    if !full.is_file() {
        return error(404, "not found");
    }
    let Ok(mut f) = File::open(&full) else { return error(404, "not found") };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let ctype = content_type(&full);
    let common = vec![
        header("Content-Type", ctype),
        header("Accept-Ranges", "bytes"),
        header("X-Content-Type-Options", "nosniff"),
    ];
    match range.map(|r| parse_range(r, len)) {
        None => {
            tiny_http::Response::new(200.into(), common, Box::new(f) as Box<dyn Read + Send>, Some(len as usize), None)
        }
        Some(Some((start, end))) => {
            if f.seek(SeekFrom::Start(start)).is_err() {
                return error(500, "cannot read the file");
            }
            let mut headers = common;
            headers.push(header("Content-Range", &format!("bytes {start}-{end}/{len}")));
            let body = f.take(end - start + 1);
            tiny_http::Response::new(
                206.into(),
                headers,
                Box::new(body) as Box<dyn Read + Send>,
                Some((end - start + 1) as usize),
                None,
            )
        }
        Some(None) => {
            let mut r = error(416, "range not satisfiable");
            r.add_header(header("Content-Range", &format!("bytes */{len}")));
            r
        }
    }
}

/// One `bytes=` range within `len` bytes: (first, last) inclusive; `None` if unsatisfiable.
fn parse_range(r: &str, len: u64) -> Option<(u64, u64)> {
    let spec = r.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || len == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        (len.saturating_sub(n), len - 1)
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() { len - 1 } else { b.parse::<u64>().ok()?.min(len - 1) };
        (start, end)
    };
    (start <= end && start < len).then_some((start, end))
}

fn content_type(p: &Path) -> &'static str {
    let ext = p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "json" => "application/json",
        "vtt" => "text/vtt; charset=utf-8",
        "srt" => "application/x-subrip; charset=utf-8",
        "txt" | "log" => "text/plain; charset=utf-8",
        _ => crate::media::content_type(&ext).unwrap_or("application/octet-stream"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-99", 1000), Some((0, 99)));
        assert_eq!(parse_range("bytes=900-", 1000), Some((900, 999)));
        assert_eq!(parse_range("bytes=-100", 1000), Some((900, 999)));
        assert_eq!(parse_range("bytes=990-2000", 1000), Some((990, 999)));
        assert_eq!(parse_range("bytes=1000-", 1000), None);
        assert_eq!(parse_range("bytes=5-1", 1000), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), None);
        assert_eq!(parse_range("items=0-1", 1000), None);
    }

    #[test]
    fn decoding() {
        assert_eq!(decode("a%20b+c", true), "a b c");
        assert_eq!(decode("a%20b+c", false), "a b+c");
        assert_eq!(decode("%zz%4", true), "%zz%4");
        assert_eq!(decode("%E2%80%9Cq%E2%80%9D", true), "\u{201c}q\u{201d}");
    }
}
