//! The server's HTTP decisions, free of sockets so each can be tested alone: which `Host:`
//! values name this server, which requests come from another site, what a `Range:` (with
//! `If-Range:`) asks of a file, validators, and URL path segments.
#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::time::SystemTime;

/// Most ranges one `Range:` header may list before it is ignored (and the whole file sent).
pub const MAX_RANGES: usize = 32;

/// The names a request's `Host:` may give: the bound address (any address when bound to all of
/// them: an address is never a name that DNS rebinding can point elsewhere), `localhost` on
/// loopback, and the `--host` names, each with the bound port.
#[derive(Debug, Clone)]
pub struct Hosts {
    ip: IpAddr,
    port: u16,
    names: Vec<String>,
}

impl Hosts {
    pub fn new(ip: IpAddr, port: u16, names: &[String]) -> Self {
        let names = names.iter().map(|n| n.trim().trim_end_matches('.').to_ascii_lowercase()).collect();
        Self { ip, port, names }
    }

    /// Whether `host` (a `Host:` value, or an `Origin:`'s host and port) names this server.
    pub fn allows(&self, host: &str) -> bool {
        let Some((name, port)) = split_host(host) else { return false };
        if port.unwrap_or(80) != self.port {
            return false;
        }
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if let Ok(ip) = name.parse::<IpAddr>() {
            return self.ip.is_unspecified() || ip == self.ip || (self.ip.is_loopback() && ip.is_loopback());
        }
        (name == "localhost" && self.ip.is_loopback()) || self.names.contains(&name)
    }
}

/// `name[:port]` or `[v6]:port` → (name, port); `None` when malformed.
fn split_host(host: &str) -> Option<(&str, Option<u16>)> {
    let host = host.trim();
    if host.is_empty() || host.bytes().any(|b| b.is_ascii_control() || b == b' ' || b == b'/' || b == b'@') {
        return None;
    }
    if let Some(rest) = host.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        return Some((ip, port));
    }
    match host.rsplit_once(':') {
        Some((name, p)) => Some((name, Some(p.parse().ok()?))),
        None => Some((host, None)),
    }
}

/// The host and port of an `Origin:` value (`http://127.0.0.1:8080`), `None` for `null` or junk.
pub fn origin_host(origin: &str) -> Option<&str> {
    let rest = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"))?;
    Some(rest.split('/').next().unwrap_or(rest))
}

/// What a request for a file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranged {
    /// 200, the whole file: no range asked, one that is ignored (an `If-Range:` that no longer
    /// holds, a unit other than bytes, a malformed or overlong list), or several disjoint ranges.
    Whole,
    /// 206, bytes `first..=last`.
    Part(u64, u64),
    /// 416: no range within the file.
    Unsatisfiable,
}

/// A file's validators: a strong ETag from its length and modification time, and that time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    pub etag: String,
    pub modified: SystemTime,
}

impl Validators {
    pub fn of(meta: &std::fs::Metadata) -> Self {
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let ns = modified.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Self { etag: format!("\"{:x}-{ns:x}\"", meta.len()), modified }
    }

    pub fn last_modified(&self) -> String {
        httpdate::fmt_http_date(self.modified)
    }

    /// `If-None-Match:` (any of a list, weakly compared, or `*`) or, without it,
    /// `If-Modified-Since:`: the client's copy is current (304).
    pub fn not_modified(&self, if_none_match: Option<&str>, if_modified_since: Option<&str>) -> bool {
        if let Some(list) = if_none_match {
            let mine = self.etag.trim_start_matches("W/");
            return list.split(',').map(str::trim).any(|t| t == "*" || t.trim_start_matches("W/") == mine);
        }
        match if_modified_since.and_then(|d| httpdate::parse_http_date(d).ok()) {
            // Whole seconds: the date the client holds is this file's, rounded down.
            Some(since) => secs(self.modified) <= secs(since),
            None => false,
        }
    }

    /// `If-Range:` holds: a strong ETag equal to this one, or exactly this modification date.
    fn still(&self, if_range: &str) -> bool {
        let v = if_range.trim();
        if v.starts_with('"') {
            return v == self.etag;
        }
        httpdate::parse_http_date(v).is_ok_and(|d| secs(d) == secs(self.modified))
    }
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A decimal position; more digits than a u64 holds is the largest position (a huge end is
/// clamped to the file, not refused).
fn position(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse().unwrap_or(u64::MAX))
}

/// RFC 9110's byte ranges for a file of `len` bytes.
pub fn ranged(range: Option<&str>, if_range: Option<&str>, len: u64, v: &Validators) -> Ranged {
    let Some(range) = range else { return Ranged::Whole };
    if if_range.is_some_and(|ir| !v.still(ir)) {
        return Ranged::Whole;
    }
    let Some(spec) = range.trim().strip_prefix("bytes=") else { return Ranged::Whole };
    let specs: Vec<&str> = spec.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    if specs.is_empty() || specs.len() > MAX_RANGES {
        return Ranged::Whole;
    }
    let mut wanted = Vec::new();
    for s in specs {
        let Some((a, b)) = s.split_once('-') else { return Ranged::Whole };
        let (a, b) = (a.trim(), b.trim());
        if a.is_empty() {
            // The last n bytes.
            let Some(n) = position(b) else { return Ranged::Whole };
            if n > 0 && len > 0 {
                wanted.push((len.saturating_sub(n), len - 1));
            }
            continue;
        }
        let Some(first) = position(a) else { return Ranged::Whole };
        let last = if b.is_empty() {
            u64::MAX
        } else {
            match position(b) {
                Some(l) if l >= first => l,
                // first > last makes the whole header invalid: it is ignored.
                _ => return Ranged::Whole,
            }
        };
        if first < len {
            wanted.push((first, last.min(len - 1)));
        }
    }
    if wanted.is_empty() {
        return Ranged::Unsatisfiable;
    }
    wanted.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (a, b) in wanted {
        match merged.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    match merged.as_slice() {
        [(a, b)] => Ranged::Part(*a, *b),
        // Disjoint ranges: the whole file, which the client can cut (RFC 9110 allows ignoring
        // Range), rather than a multipart body that browsers do not ask for.
        _ => Ranged::Whole,
    }
}

/// Every byte but the unreserved ones (RFC 3986) is escaped in a segment.
const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~').remove(b'.');

/// A path segment made safe to put in a URL: every byte but the unreserved ones escaped (and
/// the dots of `.` or `..`), so a report's id can hold a slash, a backslash, `#`, `?` or `%`
/// and still be one segment of this site (a browser never reads `\evil.example` in it as
/// another host).
pub fn segment(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|c| c == b'.') {
        return s.replace('.', "%2E");
    }
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

/// Percent-decoding of one path segment: `None` for a bad escape, invalid UTF-8, or a NUL.
pub fn unsegment(s: &str) -> Option<String> {
    // percent_encoding keeps a bad escape as typed; here it is refused.
    let b = s.as_bytes();
    let bad = b
        .iter()
        .enumerate()
        .any(|(i, &c)| c == b'%' && !b.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)));
    let s = percent_encoding::percent_decode_str(s).decode_utf8().ok()?;
    (!bad && !s.contains('\0')).then(|| s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn v() -> Validators {
        Validators { etag: "\"3e8-1\"".into(), modified: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000) }
    }

    #[test]
    fn single_ranges() {
        let r = |h: &str| ranged(Some(h), None, 1000, &v());
        assert_eq!(r("bytes=0-99"), Ranged::Part(0, 99));
        assert_eq!(r("bytes=900-"), Ranged::Part(900, 999));
        assert_eq!(r("bytes=-100"), Ranged::Part(900, 999));
        assert_eq!(r("bytes=-5000"), Ranged::Part(0, 999));
        assert_eq!(r("bytes=990-2000"), Ranged::Part(990, 999));
        // A huge end is clamped, however many digits it has.
        assert_eq!(r("bytes=10-99999999999999999999999999"), Ranged::Part(10, 999));
        assert_eq!(r("bytes=1000-"), Ranged::Unsatisfiable);
        assert_eq!(r("bytes=99999999999999999999999-"), Ranged::Unsatisfiable);
        assert_eq!(r("bytes=-0"), Ranged::Unsatisfiable);
        assert_eq!(ranged(Some("bytes=0-"), None, 0, &v()), Ranged::Unsatisfiable);
        // Invalid headers are ignored: the whole file.
        assert_eq!(r("bytes=5-1"), Ranged::Whole);
        assert_eq!(r("items=0-1"), Ranged::Whole);
        assert_eq!(r("bytes=a-b"), Ranged::Whole);
        assert_eq!(r("bytes="), Ranged::Whole);
    }

    #[test]
    fn several_ranges_merge_or_give_the_whole() {
        let r = |h: &str| ranged(Some(h), None, 1000, &v());
        assert_eq!(r("bytes=0-99,50-149"), Ranged::Part(0, 149));
        assert_eq!(r("bytes=0-99, 100-199"), Ranged::Part(0, 199));
        assert_eq!(r("bytes=200-299,0-99,50-250"), Ranged::Part(0, 299));
        assert_eq!(r("bytes=0-1,5-6"), Ranged::Whole);
        assert_eq!(r("bytes=0-1,2000-3000"), Ranged::Part(0, 1));
        let many = (0..=MAX_RANGES).map(|i| format!("{i}-{i}")).collect::<Vec<_>>().join(",");
        assert_eq!(r(&format!("bytes={many}")), Ranged::Whole);
    }

    #[test]
    fn if_range_and_conditionals() {
        let v = v();
        let date = v.last_modified();
        assert_eq!(ranged(Some("bytes=0-9"), Some(&v.etag), 1000, &v), Ranged::Part(0, 9));
        assert_eq!(ranged(Some("bytes=0-9"), Some("\"other\""), 1000, &v), Ranged::Whole);
        assert_eq!(ranged(Some("bytes=0-9"), Some(&date), 1000, &v), Ranged::Part(0, 9));
        assert_eq!(ranged(Some("bytes=0-9"), Some("Mon, 01 Jan 2001 00:00:00 GMT"), 1000, &v), Ranged::Whole);
        assert_eq!(ranged(Some("bytes=0-9"), Some("W/\"3e8-1\""), 1000, &v), Ranged::Whole);
        assert!(v.not_modified(Some("\"x\", \"3e8-1\""), None));
        assert!(v.not_modified(Some("*"), None));
        assert!(!v.not_modified(Some("\"x\""), Some(&date)));
        assert!(v.not_modified(None, Some(&date)));
        assert!(!v.not_modified(None, Some("Mon, 01 Jan 2001 00:00:00 GMT")));
        assert!(!v.not_modified(None, None));
    }

    #[test]
    fn hosts() {
        let local = Hosts::new("127.0.0.1".parse().unwrap(), 8080, &["Archive.Newsroom.example".into()]);
        for ok in ["127.0.0.1:8080", "localhost:8080", "LOCALHOST.:8080", "[::1]:8080", "archive.newsroom.example:8080"]
        {
            assert!(local.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "127.0.0.1:8081",
            "127.0.0.1",
            "localhost",
            "192.168.1.2:8080",
            "",
            "a b:8080",
            "user@127.0.0.1:8080",
            "[::1:8080",
        ] {
            assert!(!local.allows(bad), "{bad}");
        }
        let all = Hosts::new("0.0.0.0".parse().unwrap(), 80, &[]);
        assert!(all.allows("192.168.1.2") && all.allows("10.0.0.1:80") && !all.allows("localhost"));
        assert!(!all.allows("rebind.evil.example"));
        assert_eq!(origin_host("http://127.0.0.1:8080"), Some("127.0.0.1:8080"));
        assert_eq!(origin_host("null"), None);
    }

    #[test]
    fn segments() {
        assert_eq!(segment("report-87b936b625"), "report-87b936b625");
        assert_eq!(segment("\\evil.example"), "%5Cevil.example");
        assert_eq!(segment("a/b?c#d%e f"), "a%2Fb%3Fc%23d%25e%20f");
        assert_eq!(segment(".."), "%2E%2E");
        assert_eq!(segment("ünï"), "%C3%BCn%C3%AF");
        for s in ["\\evil.example", "a/b?c#d%e f", "..", "ünï", "report.html"] {
            assert_eq!(unsegment(&segment(s)).as_deref(), Some(s));
        }
        assert_eq!(unsegment("%zz"), None);
        assert_eq!(unsegment("%4"), None);
        assert_eq!(unsegment("a%00"), None);
        // Query values, as the site reads them (url's form decoding).
        let value = |q: &str| url::form_urlencoded::parse(format!("q={q}").as_bytes()).next().unwrap().1.into_owned();
        assert_eq!(value("a%20b+c"), "a b c");
        assert_eq!(value("%zz%4"), "%zz%4");
        assert_eq!(value("%E2%80%9Cq%E2%80%9D"), "\u{201c}q\u{201d}");
    }
}
