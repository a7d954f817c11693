//! Fetching over HTTP(S): pages and files, with a time limit, a size limit and one-line errors.
//! ureq with rustls on ring; certificates are checked against the system's trust store.
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use ureq::ResponseExt;

use crate::progress::{Cancel, Progress};

/// Default limits: 30 s to connect and answer (and of silence while a body arrives), 20 MB for a
/// page, 4 GB for a media file.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_PAGE_BYTES: u64 = 20_000_000;
pub const DEFAULT_FILE_BYTES: u64 = 4_000_000_000;
/// Redirects followed before giving up (a loop ends here).
pub const MAX_REDIRECTS: u32 = 10;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("{url}: not an http or https address")]
    Scheme { url: String },
    #[error("{url}: the server answered {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: more than {MAX_REDIRECTS} redirects (a redirect loop?)")]
    Redirects { url: String },
    #[error("{url}: no answer within {} s", .secs)]
    Timeout { url: String, secs: u64 },
    #[error("{url}: larger than the limit of {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: {message}")]
    Failed { url: String, message: String },
    #[error("{url}: the server sent the file encoded ({encoding}) although it was asked for it as it is")]
    Encoded { url: String, encoding: String },
    #[error(transparent)]
    Store(#[from] crate::output::OutputError),
    #[error("cancelled")]
    Cancelled,
}

/// What a fetch brought back.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Where the content came from after redirects.
    pub url: String,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    pub page_bytes: u64,
    pub file_bytes: u64,
}

impl Limits {
    /// The default limits with the time limit in seconds (at least one), as `--timeout` gives it.
    pub fn with_timeout(secs: u64) -> Self {
        Self { timeout: Duration::from_secs(secs.max(1)), ..Self::default() }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self { timeout: DEFAULT_TIMEOUT, page_bytes: DEFAULT_PAGE_BYTES, file_bytes: DEFAULT_FILE_BYTES }
    }
}

pub struct Client {
    agent: ureq::Agent,
    limits: Limits,
}

/// Is `s` an http(s) address (rather than a path)?
pub fn is_url(s: &str) -> bool {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

impl Client {
    pub fn new(limits: Limits) -> Self {
        let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::PlatformVerifier).build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .max_redirects(MAX_REDIRECTS)
            .timeout_connect(Some(limits.timeout))
            .timeout_recv_response(Some(limits.timeout))
            .user_agent(concat!("vidscribe/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Self { agent, limits }
    }

    /// Sends the request; a success status and a declared length within `limit`, or an error.
    /// Returns the response with the address after redirects and its content type.
    /// A page may come gzip-compressed (its decoded bytes count against the limit as they come);
    /// a file (`as_is`) is asked for as it is, and refused if the server encodes it anyway, so
    /// that a few megabytes of gzip cannot unfold into gigabytes before the limit is reached.
    /// Returns the response, the address after redirects, its content type and whether its
    /// body is gzip.
    fn call(&self, url: &str, limit: u64, as_is: bool) -> Result<Answer, NetError> {
        if !is_url(url) {
            return Err(NetError::Scheme { url: url.into() });
        }
        let request = self.agent.get(url).header("Accept-Encoding", if as_is { "identity" } else { "gzip" });
        let resp = request.call().map_err(|e| self.error(url, e))?;
        let status = resp.status().as_u16();
        let final_url = resp.get_uri().to_string();
        if !(200..300).contains(&status) {
            return Err(NetError::Status { url: final_url, status });
        }
        let encoding = resp
            .headers()
            .get("content-encoding")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_ascii_lowercase());
        let gzip = match encoding.as_deref() {
            None | Some("" | "identity") => false,
            Some("gzip" | "x-gzip") if !as_is => true,
            Some(other) => {
                let encoding = crate::text::visible(&other.chars().take(40).collect::<String>());
                return Err(NetError::Encoded { url: final_url, encoding });
            }
        };
        // A compressed body's declared length is of the compressed bytes.
        if !gzip && declared_len(&resp).is_some_and(|n| n > limit) {
            return Err(NetError::TooLarge { url: final_url, limit });
        }
        let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
        Ok(Answer { resp, url: final_url, content_type, gzip })
    }

    fn error(&self, url: &str, e: ureq::Error) -> NetError {
        let url = url.to_string();
        match e {
            ureq::Error::TooManyRedirects => NetError::Redirects { url },
            ureq::Error::Timeout(_) => NetError::Timeout { url, secs: self.limits.timeout.as_secs() },
            ureq::Error::BodyExceedsLimit(limit) => NetError::TooLarge { url, limit },
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                NetError::Timeout { url, secs: self.limits.timeout.as_secs() }
            }
            other => NetError::Failed { url, message: other.to_string() },
        }
    }

    /// Fetches a page (or any small document) into memory.
    pub fn get(&self, url: &str, cancel: &Cancel) -> Result<Fetched, NetError> {
        let answer = self.call(url, self.limits.page_bytes, false)?;
        let (final_url, content_type) = (answer.url.clone(), answer.content_type.clone());
        let mut bytes = Vec::new();
        self.stream(answer, self.limits.page_bytes, &mut bytes, &crate::progress::Silent, cancel)?;
        Ok(Fetched { url: final_url, content_type, bytes })
    }

    /// Downloads `url` to `dest`: into a temporary file beside it, renamed once complete, removed
    /// on any failure. Returns the address after redirects and the content type.
    pub fn download(
        &self,
        url: &str,
        dest: &Path,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<(String, Option<String>), NetError> {
        let answer = self.call(url, self.limits.file_bytes, true)?;
        let (final_url, content_type) = (answer.url.clone(), answer.content_type.clone());
        let total = declared_len(&answer.resp);
        progress.begin_bytes("downloading", total);
        // Written whole or not at all, as every output is.
        let written =
            crate::output::write_atomically(dest, |w| self.stream(answer, self.limits.file_bytes, w, progress, cancel));
        progress.end();
        written.map_err(|e| match e {
            crate::output::FileError::Inner(e) => e,
            crate::output::FileError::Output(e) => NetError::Store(e),
        })?;
        Ok((final_url, content_type))
    }

    /// Copies the body into `out`, at most `limit` bytes. A reader thread feeds the chunks, so that
    /// a server that stops sending is noticed (no data for the timeout) and Ctrl-C is honoured
    /// within a fraction of a second; a stalled reader is left to end with the process.
    fn stream(
        &self,
        answer: Answer,
        limit: u64,
        out: &mut dyn Write,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<(), NetError> {
        let url = answer.url.as_str();
        let (tx, rx) = mpsc::sync_channel::<Result<Vec<u8>, std::io::Error>>(4);
        // ureq's own limit is one byte beyond ours, so that the count below is what reports it;
        // a gzip body is decoded here and its decoded bytes are what is counted.
        let raw = answer.resp.into_body().into_with_config().limit(limit.saturating_add(1)).reader();
        let mut reader: Box<dyn Read + Send> =
            if answer.gzip { Box::new(flate2::read::MultiGzDecoder::new(raw)) } else { Box::new(raw) };
        std::thread::spawn(move || {
            loop {
                let mut chunk = vec![0u8; 64 * 1024];
                match reader.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => {
                        chunk.truncate(n);
                        if tx.send(Ok(chunk)).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        break;
                    }
                }
            }
        });
        let tick = Duration::from_millis(200);
        let mut silent = Duration::ZERO;
        let mut done: u64 = 0;
        loop {
            if cancel.is_cancelled() {
                return Err(NetError::Cancelled);
            }
            match rx.recv_timeout(tick) {
                Ok(Ok(chunk)) => {
                    silent = Duration::ZERO;
                    done += chunk.len() as u64;
                    if done > limit {
                        return Err(NetError::TooLarge { url: url.into(), limit });
                    }
                    out.write_all(&chunk).map_err(|source| NetError::Failed {
                        url: url.into(),
                        message: format!("cannot store the download: {source}"),
                    })?;
                    progress.at(done);
                }
                Ok(Err(e)) => {
                    return Err(match e.kind() {
                        std::io::ErrorKind::TimedOut => {
                            NetError::Timeout { url: url.into(), secs: self.limits.timeout.as_secs() }
                        }
                        _ => NetError::Failed { url: url.into(), message: format!("the transfer broke off: {e}") },
                    });
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    silent += tick;
                    if silent >= self.limits.timeout {
                        return Err(NetError::Timeout { url: url.into(), secs: self.limits.timeout.as_secs() });
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            }
        }
    }
}

/// A successful answer whose body is still to be read.
struct Answer {
    resp: ureq::http::Response<ureq::Body>,
    /// The address after redirects.
    url: String,
    content_type: Option<String>,
    /// The body is gzip, decoded as it is read.
    gzip: bool,
}

fn declared_len(resp: &ureq::http::Response<ureq::Body>) -> Option<u64> {
    resp.headers().get("content-length")?.to_str().ok()?.trim().parse().ok()
}
