//! `vidscribe serve` on loopback: the search page in a real browser (type, see hits, click one,
//! the report opens with its video at that second through a 206 response), the JSON API giving
//! what `search --json` gives, and no path outside the archive readable however it is spelled.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

use common::*;

fn serve(archive: &std::path::Path) -> Serving {
    let s = common::serve(&[archive.as_os_str()]);
    assert!(s.addr.starts_with("127.0.0.1:"), "{}", s.addr);
    s
}

/// A raw request, the path sent exactly as given (as `curl --path-as-is`): status, headers, body.
fn raw(addr: &str, method: &str, path: &str, extra: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n").unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, all[split + 4..].to_vec())
}

fn archive_of_the_sample(dir: &std::path::Path) -> std::path::PathBuf {
    let inputs = dir.join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::copy(sample("report.webm"), inputs.join("report.webm")).unwrap();
    std::fs::copy(sample("article.txt"), inputs.join("report.txt")).unwrap();
    let archive = dir.join("archive");
    let o = bin().arg("batch").arg(&inputs).arg("-o").arg(&archive).arg("-m").arg(model()).arg("-q").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    archive
}

#[test]
fn the_archive_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let archive = archive_of_the_sample(dir.path());
    let server = serve(&archive);

    // The API gives the objects `search --json` prints, the link made absolute for the site.
    let (status, head, body) = raw(&server.addr, "GET", "/api/search?q=children+back", "");
    assert_eq!(status, 200, "{head}");
    let api: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
    let cli = bin().arg("search").arg(&archive).args(["children back", "--json", "--flat"]).output().unwrap();
    let cli: Vec<serde_json::Value> =
        String::from_utf8_lossy(&cli.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!api.is_empty());
    assert_eq!(api.len(), cli.len());
    for (a, c) in api.iter().zip(&cli) {
        assert_eq!((&a["report"], &a["start_ms"], &a["snippet"]), (&c["report"], &c["start_ms"], &c["snippet"]));
        let url = a["url"].as_str().unwrap();
        assert!(url.starts_with("/r/") && url.contains("/report.html#t="), "{url}");
    }
    let (status, _, _) = raw(&server.addr, "GET", "/api/search?q=x&since=yesterday", "");
    assert_eq!(status, 400);

    // Media with range requests; HEAD; an unsatisfiable range.
    let folder = api[0]["report"].as_str().unwrap();
    let media = format!("/r/{folder}/media.webm");
    let size = std::fs::metadata(archive.join(folder).join("media.webm")).unwrap().len();
    let (status, head, body) = raw(&server.addr, "GET", &media, "Range: bytes=100-199\r\n");
    assert_eq!(status, 206, "{head}");
    assert!(head.to_ascii_lowercase().contains(&format!("content-range: bytes 100-199/{size}")), "{head}");
    assert!(head.to_ascii_lowercase().contains("content-type: video/webm"), "{head}");
    assert_eq!(body, std::fs::read(archive.join(folder).join("media.webm")).unwrap()[100..200]);
    let (status, head, body) = raw(&server.addr, "HEAD", &media, "");
    assert!(status == 200 && body.is_empty() && head.to_ascii_lowercase().contains("accept-ranges: bytes"), "{head}");
    let (status, _, _) = raw(&server.addr, "GET", &media, &format!("Range: bytes={size}-\r\n"));
    assert_eq!(status, 416);

    // Nothing outside the archive, however the path is spelled.
    std::os::unix::fs::symlink("/etc/passwd", archive.join(folder).join("passwd.txt")).unwrap();
    let outside = archive.parent().unwrap().join("secret.txt");
    std::fs::write(&outside, "secret").unwrap();
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/..%2fsecret.txt",
        "/..%5csecret.txt",
        &format!("/{folder}/../../secret.txt"),
        &format!("/{folder}/%2e%2e/%2e%2e/secret.txt"),
        "//etc/passwd",
        "/etc/passwd",
        "/%2fetc%2fpasswd",
        &format!("/{folder}/passwd.txt"),
        &format!("/r/{folder}/passwd.txt"),
        &format!("/r/{folder}/../../secret.txt"),
        &format!("/r/{folder}/%2e%2e/%2e%2e/secret.txt"),
        "/.vidscribe-x",
        "/archive.db%00.html",
        "http://example.org/etc/passwd",
    ] {
        let (status, head, body) = raw(&server.addr, "GET", path, "");
        assert!(status == 403 || status == 404, "{path}: {head}");
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("secret") && !text.contains("root:"), "{path}: {text}");
    }

    // In Chromium: type, see hits, click the first; the report opens at that second.
    let out = Command::new("node")
        .arg(root().join("tests/browser/check-serve.mjs"))
        .arg(format!("http://{}/", server.addr))
        .arg("children back")
        .output()
        .expect("node is needed for the browser test: run scripts/test.sh");
    assert!(out.status.success(), "the browser check failed: {}", String::from_utf8_lossy(&out.stderr));
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["console_errors"], serde_json::json!([]), "{page:#}");
    assert_eq!(page["page_errors"], serde_json::json!([]), "{page:#}");
    let hits = page["hits"].as_array().unwrap();
    assert_eq!(hits.len(), api.len(), "{page:#}");
    assert!(
        hits[0]["marks"].as_array().unwrap().iter().any(|m| m.as_str().unwrap().to_lowercase().contains("children"))
    );
    let href = hits[0]["href"].as_str().unwrap();
    let want: f64 = href.rsplit("#t=").next().unwrap().parse().unwrap();
    assert!((want * 1000.0 - api[0]["start_ms"].as_f64().unwrap()).abs() < 1.0, "{href}");
    assert!(page["opened"].as_str().unwrap().ends_with(href), "{page:#}");
    assert!(page["video"]["ready_state"].as_u64().unwrap() >= 1, "{page:#}");
    let at = page["video"]["current_time"].as_f64().unwrap();
    assert!((at - want).abs() <= 0.5, "the video is at {at} s, the hit at {want} s");
    assert!(page["media_statuses"].as_array().unwrap().iter().any(|s| s == 206), "{page:#}");
    // A query of HTML is shown as text: no element made, no script run.
    assert!(page["evil_status"].as_str().unwrap().contains("<img src=x onerror=alert(1)>"), "{page:#}");
    assert_eq!(page["evil_elements"], 0);
    assert_eq!(page["dialogs"], 0);
}

#[test]
fn serve_refuses_what_is_not_an_archive() {
    let dir = tempfile::tempdir().unwrap();
    let o = bin().arg("serve").arg(dir.path()).args(["--port", "0"]).output().unwrap();
    let err = assert_clean_failure(&o, "an empty folder");
    assert!(err.contains("archive"), "{err}");
}

/// A common word on the search page (Chromium): twenty reports, each once with its best
/// passages, not twenty passages of one report; "N more in this report" lists the rest in
/// place, and the next page brings other reports. The API's grouped answer is the CLI's.
#[test]
fn the_search_page_shows_reports_not_one_reports_passages() {
    let dir = tempfile::tempdir().unwrap();
    let archive = synthetic_archive(dir.path(), 60);
    let server = serve(&archive);
    let (status, head, body) = raw(&server.addr, "GET", "/api/search?q=prisoners&group=report", "");
    assert_eq!(status, 200, "{head}");
    let api: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
    let cli = bin().arg("search").arg(&archive).args(["prisoners", "--json"]).output().unwrap();
    let cli: Vec<serde_json::Value> =
        String::from_utf8_lossy(&cli.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(api.len(), 20);
    let keys = |v: &[serde_json::Value]| v.iter().map(|g| (g["report"].clone(), g["more"].clone())).collect::<Vec<_>>();
    assert_eq!(keys(&api), keys(&cli));
    for (status, query) in [(400, "group=reports"), (400, "page=0"), (200, "page=3&group=report")] {
        let (got, head, _) = raw(&server.addr, "GET", &format!("/api/search?q=prisoners&{query}"), "");
        assert_eq!(got, status, "{query}: {head}");
    }

    let out = Command::new("node")
        .arg(root().join("tests/browser/check-serve.mjs"))
        .arg(format!("http://{}/", server.addr))
        .arg("prisoners")
        .output()
        .expect("node is needed for the browser test: run scripts/test.sh");
    assert!(out.status.success(), "the browser check failed: {}", String::from_utf8_lossy(&out.stderr));
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["page_errors"], serde_json::json!([]), "{page:#}");
    assert_eq!(page["console_errors"], serde_json::json!([]), "{page:#}");
    let reports: Vec<&str> = page["reports"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    let distinct: std::collections::BTreeSet<&str> = reports.iter().copied().collect();
    assert_eq!(reports.len(), 20, "{page:#}");
    assert!(distinct.len() >= 10, "a common word's first page shows many reports: {reports:?}");
    let shown = page["hits"].as_array().unwrap().len();
    assert!((20..=60).contains(&shown), "at most three passages a report: {shown}");
    let expanded = &page["expanded"];
    let n: u64 = expanded["label"].as_str().unwrap().split(' ').next().unwrap().parse().unwrap();
    assert_eq!(expanded["after"].as_u64().unwrap(), expanded["before"].as_u64().unwrap() + n, "{page:#}");
    let next: Vec<&str> = page["next_reports"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert!(!next.is_empty() && next.iter().all(|r| !reports.contains(r)), "other reports: {next:?}");
}
