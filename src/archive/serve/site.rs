//! What the server answers: the search page and its script, the search API, and each report's
//! public files by the report's id, with the headers that keep a browser from running anything
//! the archive holds as this site's code.
#![forbid(unsafe_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::io::AsyncSeekExt;

use super::Pool;
use super::body::Body;
use super::edit::{self, Editing};
use super::http::{self, Hosts, Ranged, Validators};
use crate::archive::query::Filters;
use crate::archive::search::{self, Hit};

const SEARCH_PAGE: &str = include_str!("search.html");
const SEARCH_SCRIPT: &str = include_str!("search.js");
const SEARCH_STYLE: &str = include_str!("search.css");
/// The search page runs its own script and style, fetches from its own site, and nothing else.
const SEARCH_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// Everything else (subtitles, transcripts, media, errors) is data: were a browser to take it for
/// a page, it would run no script and reach nothing.
const DATA_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; sandbox";
/// The edit page: its own script and style, its own site's data and media, nothing else.
const EDIT_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     media-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/// Longest query string accepted.
const MAX_QUERY_BYTES: usize = 4096;
/// The files of a report folder that may be served besides its page and its media.
const OUTPUTS: &[(&str, &str)] = &[
    ("vtt", "text/vtt; charset=utf-8"),
    ("srt", "application/x-subrip; charset=utf-8"),
    ("json", "application/json"),
    ("txt", "text/plain; charset=utf-8"),
];

pub(crate) struct Site {
    pool: Pool,
    hosts: Hosts,
    report_policy: String,
    /// Set with `--edit`.
    editing: Option<Editing>,
}

/// A report's file, found and allowed.
struct Found {
    path: PathBuf,
    content_type: &'static str,
    /// The report's page (its own policy), not data.
    page: bool,
    /// Sent as an attachment: media whose container was not recognised.
    attachment: bool,
}

impl Site {
    pub(crate) fn new(pool: Pool, hosts: Hosts, editing: Option<Editing>) -> Self {
        Self { pool, hosts, report_policy: crate::report::html::content_security_policy(), editing }
    }

    pub(crate) async fn answer(self: Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        let head = req.method() == Method::HEAD;
        let mut resp = match self.gate(req.headers()) {
            Some(refused) => refused,
            None if req.method() == Method::POST && self.editing.is_some() => self.post(req).await,
            None => self.route(&req).await,
        };
        let h = resp.headers_mut();
        h.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(DATA_POLICY));
        h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
        h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
        let len = resp.body().len();
        resp.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        if head {
            *resp.body_mut() = Body::empty();
        }
        resp
    }

    /// What every request must pass: a host name of this server's, and not another site's page.
    fn gate(&self, headers: &HeaderMap) -> Option<Response<Body>> {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        if !host.is_some_and(|h| self.hosts.allows(h)) {
            // DNS rebinding: a name that is not this server's resolving to it.
            return Some(error(StatusCode::MISDIRECTED_REQUEST, "this server does not answer to that host name"));
        }
        if self.cross_site(headers) {
            return Some(error(StatusCode::FORBIDDEN, "cross-site requests are refused"));
        }
        None
    }

    async fn route(self: &Arc<Self>, req: &Request<Incoming>) -> Response<Body> {
        let headers = req.headers();
        if !matches!(*req.method(), Method::GET | Method::HEAD) {
            let allow = if self.editing.is_some() { "GET, HEAD, POST" } else { "GET, HEAD" };
            let mut r = error(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD (and POST to save an edit)");
            r.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
            return r;
        }
        let path = req.uri().path();
        let query = req.uri().query().unwrap_or("");
        match path {
            "/" | "/index.html" => {
                let mut r = reply(StatusCode::OK, "text/html; charset=utf-8", SEARCH_PAGE);
                r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(SEARCH_POLICY));
                r
            }
            "/search.js" => reply(StatusCode::OK, "text/javascript; charset=utf-8", SEARCH_SCRIPT),
            "/search.css" => reply(StatusCode::OK, "text/css; charset=utf-8", SEARCH_STYLE),
            "/api/search" => {
                let site = Arc::clone(self);
                let query = query.to_string();
                let mut r = tokio::task::spawn_blocking(move || site.api_search(&query))
                    .await
                    .unwrap_or_else(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "search failed"));
                r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                r
            }
            // Browsers ask for it on every page; the archive has none.
            "/favicon.ico" => reply(StatusCode::NO_CONTENT, "image/x-icon", ""),
            p => {
                if let Some(rest) = p.strip_prefix("/r/") {
                    return self.report_file(rest, headers).await;
                }
                match &self.editing {
                    Some(editing) => self.edit_get(p, editing).await,
                    None => error(StatusCode::NOT_FOUND, "not found"),
                }
            }
        }
    }

    /// The edit page, its script, and a report's cues (`--edit` only).
    async fn edit_get(self: &Arc<Self>, path: &str, editing: &Editing) -> Response<Body> {
        if path == "/edit.js" {
            return reply(StatusCode::OK, "text/javascript; charset=utf-8", edit::SCRIPT);
        }
        if path.strip_prefix("/edit/").and_then(http::unsegment).is_some_and(|id| !id.is_empty()) {
            // The token goes only into this page, which no other site can read.
            let page = edit::PAGE.replace("{{token}}", &editing.token);
            let mut r = reply(StatusCode::OK, "text/html; charset=utf-8", page);
            r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(EDIT_POLICY));
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            return r;
        }
        let Some(id) = path.strip_prefix("/api/report/").and_then(http::unsegment).filter(|id| !id.is_empty()) else {
            return error(StatusCode::NOT_FOUND, "not found");
        };
        let site = Arc::clone(self);
        let (status, json) = tokio::task::spawn_blocking(move || edit::report(&site.pool, &id))
            .await
            .unwrap_or_else(|_| (StatusCode::INTERNAL_SERVER_ERROR, serde_json::json!({ "error": "failed" })));
        let mut r = reply(status, "application/json", json.to_string());
        r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }

    /// `POST /api/edit/{id}`: a save from this server's edit page, and nothing else — the page's
    /// token, a same-origin request that says so, JSON of bounded size.
    async fn post(self: &Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        let Some(editing) = &self.editing else { return error(StatusCode::NOT_FOUND, "not found") };
        let Some(id) =
            req.uri().path().strip_prefix("/api/edit/").and_then(http::unsegment).filter(|id| !id.is_empty())
        else {
            let mut r = error(StatusCode::METHOD_NOT_ALLOWED, "POST only saves an edit, to /api/edit/{report}");
            r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        };
        let headers = req.headers();
        let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
        // Browsers send Origin with every POST; a request without one did not come from a page.
        let same_origin = get("origin").and_then(http::origin_host).is_some_and(|h| self.hosts.allows(h))
            && get("sec-fetch-site").is_none_or(|s| s == "same-origin");
        if !same_origin || !get("x-vidscribe-token").is_some_and(|t| editing.token_is(t)) {
            return error(StatusCode::FORBIDDEN, "edits are taken only from this server's edit page");
        }
        let json =
            get("content-type").and_then(|t| t.split(';').next()).is_some_and(|m| m.trim() == "application/json");
        if !json {
            return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send JSON");
        }
        if get("content-length").and_then(|l| l.parse::<usize>().ok()).is_some_and(|l| l > edit::MAX_EDIT_BODY) {
            return error(StatusCode::PAYLOAD_TOO_LARGE, "an edit is at most 64 kB");
        }
        let body = match read_body(req.into_body(), edit::MAX_EDIT_BODY).await {
            Ok(b) => b,
            Err(r) => return r,
        };
        let site = Arc::clone(self);
        let (status, json) = tokio::task::spawn_blocking(move || match &site.editing {
            Some(editing) => edit::save(&site.pool, editing, &id, &body),
            None => (StatusCode::NOT_FOUND, serde_json::json!({ "error": "not found" })),
        })
        .await
        .unwrap_or_else(|_| (StatusCode::INTERNAL_SERVER_ERROR, serde_json::json!({ "error": "the edit failed" })));
        let mut r = reply(status, "application/json", json.to_string());
        r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }

    /// A request another site's page made (a script, an image or video tag, a form), not a
    /// person following a link: refused. Browsers say so in `Sec-Fetch-Site`; older ones send an
    /// `Origin` that is not this server's.
    fn cross_site(&self, headers: &HeaderMap) -> bool {
        let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
        if get("sec-fetch-site") == Some("cross-site") && get("sec-fetch-mode") != Some("navigate") {
            return true;
        }
        match headers.get(header::ORIGIN) {
            None => false,
            Some(o) => o.to_str().ok().and_then(http::origin_host).is_none_or(|h| !self.hosts.allows(h)),
        }
    }

    /// `/api/search?q=…&since=…&until=…&source=…&language=…&limit=…`.
    fn api_search(&self, query: &str) -> Response<Body> {
        if query.len() > MAX_QUERY_BYTES {
            return error(StatusCode::URI_TOO_LONG, "query too long");
        }
        let params: Vec<(String, String)> =
            url::form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
        let Some(q) = get("q") else { return error(StatusCode::BAD_REQUEST, "give a query: ?q=words") };
        for d in [get("since"), get("until")].into_iter().flatten() {
            if !crate::archive::batch::valid_date(&d) {
                return error(StatusCode::BAD_REQUEST, "since and until take a date as YYYY-MM-DD");
            }
        }
        let limit = match get("limit").map(|l| l.parse::<usize>()) {
            None => 20,
            Some(Ok(n)) if (1..=search::MAX_LIMIT).contains(&n) => n,
            Some(_) => return error(StatusCode::BAD_REQUEST, "limit takes a number from 1 to 1000"),
        };
        if get("speaker").is_some_and(|s| s.chars().count() > 200) {
            return error(StatusCode::BAD_REQUEST, "speaker takes a name of at most 200 characters");
        }
        let filters = Filters {
            since: get("since"),
            until: get("until"),
            source: get("source"),
            language: get("language"),
            speaker: get("speaker"),
            report: get("report"),
        };
        let grouped = match get("group").as_deref() {
            None | Some("none") => false,
            Some("report") => true,
            Some(_) => return error(StatusCode::BAD_REQUEST, "group takes report or none"),
        };
        let page = match get("page").map(|p| p.parse::<usize>()) {
            None => 1,
            Some(Ok(n)) if (1..=10_000).contains(&n) => n,
            Some(_) => return error(StatusCode::BAD_REQUEST, "page takes a number from 1 to 10000"),
        };
        let (mut store, generation) = match self.pool.take() {
            Ok(s) => s,
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &crate::job::one_line(&e)),
        };
        let found = if grouped {
            search::search_grouped(&mut store, &q, &filters, limit, page - 1)
                .map(|groups| groups.iter().filter_map(|g| g.to_json(site_link)).collect::<Vec<_>>())
        } else {
            search::search(&mut store, &q, &filters, limit)
                .map(|hits| hits.iter().map(|h| h.to_json(site_link(h))).collect::<Vec<_>>())
        };
        // A connection that failed is not reused.
        if found.is_ok() {
            self.pool.put_back(store, generation);
        }
        match found {
            Ok(items) => reply(StatusCode::OK, "application/json", serde_json::Value::Array(items).to_string()),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &crate::job::one_line(&e)),
        }
    }

    /// `/r/{report}/{file}`: a file of a report folder that is the report's to show.
    async fn report_file(self: &Arc<Self>, rest: &str, headers: &HeaderMap) -> Response<Body> {
        let not_found = || error(StatusCode::NOT_FOUND, "not found");
        let Some((id, name)) = rest.split_once('/') else { return not_found() };
        let (Some(id), Some(name)) = (http::unsegment(id), http::unsegment(name)) else { return not_found() };
        if id.is_empty() || name.is_empty() || name.starts_with('.') || name.contains(['/', '\\']) {
            return not_found();
        }
        let site = Arc::clone(self);
        let found = tokio::task::spawn_blocking(move || site.locate(&id, &name)).await;
        let found = match found {
            Ok(Ok(Some(f))) => f,
            Ok(Ok(None)) => return not_found(),
            Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e),
            Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "cannot read the file"),
        };
        send_file(&found, headers, &self.report_policy).await
    }

    /// Where report `id`'s file `name` is, if it may be served: the report's page, its media,
    /// or one of its subtitle and transcript files — a regular file inside the report's folder,
    /// which is inside the archive.
    fn locate(&self, id: &str, name: &str) -> Result<Option<Found>, String> {
        let (mut store, generation) = self.pool.take().map_err(|e| crate::job::one_line(&e))?;
        let files = store.report_files(id).map_err(|e| crate::job::one_line(&e))?;
        self.pool.put_back(store, generation);
        let Some(files) = files else { return Ok(None) };
        let root = self.pool.root();
        let Ok(folder) = root.join(&files.folder).canonicalize() else { return Ok(None) };
        if !folder.starts_with(root) {
            return Ok(None);
        }
        let Ok(path) = folder.join(name).canonicalize() else { return Ok(None) };
        if path.parent() != Some(folder.as_path()) || !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            return Ok(None);
        }
        let ext = Path::new(name).extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        if files.page.as_deref() == Some(name) {
            return Ok(Some(Found { path, content_type: "text/html; charset=utf-8", page: true, attachment: false }));
        }
        if files.media.as_deref() == Some(name) {
            // The type comes from what the file is, never from its name.
            let mut head = Vec::with_capacity(crate::media::SNIFF_BYTES);
            if let Ok(f) = std::fs::File::open(&path) {
                let _ = f.take(crate::media::SNIFF_BYTES as u64).read_to_end(&mut head);
            }
            let kind = crate::media::sniff(&head).and_then(crate::media::content_type);
            return Ok(Some(Found {
                path,
                content_type: kind.unwrap_or("application/octet-stream"),
                page: false,
                attachment: kind.is_none(),
            }));
        }
        Ok(ext.and_then(|e| OUTPUTS.iter().find(|(x, _)| *x == e)).map(|(_, t)| Found {
            path,
            content_type: t,
            page: false,
            attachment: false,
        }))
    }
}

/// The hit's page at its second, on this site: `/r/{report id}/report.html#t=12.3`, the id and
/// file name escaped as single segments, so no folder name can make it point elsewhere.
pub fn site_link(h: &Hit) -> Option<String> {
    h.target
        .as_ref()
        .map(|t| format!("/r/{}/{}#t={}", http::segment(&h.report), http::segment(t), search::seconds(h.start_ms)))
}

/// A file with validators, conditional requests and byte ranges; its length always known.
async fn send_file(found: &Found, headers: &HeaderMap, report_policy: &str) -> Response<Body> {
    let get = |n: header::HeaderName| headers.get(n).and_then(|v| v.to_str().ok());
    let Ok(mut file) = tokio::fs::File::open(&found.path).await else {
        return error(StatusCode::NOT_FOUND, "not found");
    };
    let Ok(meta) = file.metadata().await else { return error(StatusCode::NOT_FOUND, "not found") };
    if !meta.is_file() {
        return error(StatusCode::NOT_FOUND, "not found");
    }
    let len = meta.len();
    let v = Validators::of(&meta);
    let mut resp = Response::new(Body::empty());
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(found.content_type));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(e) = HeaderValue::from_str(&v.etag) {
        h.insert(header::ETAG, e);
    }
    if let Ok(d) = HeaderValue::from_str(&v.last_modified()) {
        h.insert(header::LAST_MODIFIED, d);
    }
    if found.page {
        if let Ok(p) = HeaderValue::from_str(report_policy) {
            h.insert(header::CONTENT_SECURITY_POLICY, p);
        }
    } else {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DATA_POLICY));
    }
    let disposition = if found.attachment { "attachment" } else { "inline" };
    let file_name = found.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let safe: String = file_name.chars().filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\').collect();
    if let Ok(d) = HeaderValue::from_str(&format!("{disposition}; filename=\"{safe}\"")) {
        h.insert(header::CONTENT_DISPOSITION, d);
    }
    if v.not_modified(get(header::IF_NONE_MATCH), get(header::IF_MODIFIED_SINCE)) {
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        return resp;
    }
    match http::ranged(get(header::RANGE), get(header::IF_RANGE), len, &v) {
        Ranged::Whole => {
            *resp.body_mut() = Body::file(file, len);
        }
        Ranged::Part(first, last) => {
            if file.seek(std::io::SeekFrom::Start(first)).await.is_err() {
                return error(StatusCode::INTERNAL_SERVER_ERROR, "cannot read the file");
            }
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            if let Ok(r) = HeaderValue::from_str(&format!("bytes {first}-{last}/{len}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, r);
            }
            *resp.body_mut() = Body::file(file, last - first + 1);
        }
        Ranged::Unsatisfiable => {
            let mut r = error(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
            if let Ok(c) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, c);
            }
            return r;
        }
    }
    resp
}

/// A request body of at most `max` bytes, read as it comes (a longer one is refused 413).
async fn read_body(mut body: Incoming, max: usize) -> Result<Vec<u8>, Response<Body>> {
    use hyper::body::Body as _;
    let mut out = Vec::new();
    loop {
        let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            None => return Ok(out),
            Some(Err(_)) => return Err(error(StatusCode::BAD_REQUEST, "the request body broke off")),
            Some(Ok(f)) => {
                if let Ok(data) = f.into_data() {
                    if out.len() + data.len() > max {
                        return Err(error(StatusCode::PAYLOAD_TOO_LARGE, "an edit is at most 64 kB"));
                    }
                    out.extend_from_slice(&data);
                }
            }
        }
    }
}

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<bytes::Bytes>) -> Response<Body> {
    let mut r = Response::new(Body::bytes(body));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn error(status: StatusCode, message: &str) -> Response<Body> {
    reply(status, "application/json", serde_json::json!({ "error": message }).to_string())
}
