//! Fetching over HTTP against a real server on loopback: every failure is one typed error, within
//! the time limit, and a failed download leaves nothing behind.

mod common;

use std::time::{Duration, Instant};

use common::http::{Route, Server};
use vidscribe::net::{Client, Limits, NetError};
use vidscribe::progress::{Cancel, Silent};

fn client(timeout_s: u64) -> Client {
    Client::new(Limits { timeout: Duration::from_secs(timeout_s), page_bytes: 1000, file_bytes: 10_000 })
}

#[test]
fn pages_redirects_and_failures() {
    let s = Server::start();
    s.route("/page", Route::Body("text/html; charset=utf-8", b"<p>hello</p>".to_vec()));
    s.route("/moved", Route::Redirect("/page".into()));
    s.route("/loop-a", Route::Redirect("/loop-b".into()));
    s.route("/loop-b", Route::Redirect("/loop-a".into()));
    s.route("/big", Route::Body("text/html", vec![b'x'; 1001]));
    s.route("/gone", Route::Status(410));
    let c = client(5);
    let cancel = Cancel::new();
    let got = c.get(&s.url("/moved"), &cancel).unwrap();
    assert_eq!(got.url, s.url("/page"));
    assert_eq!(got.bytes, b"<p>hello</p>");
    assert_eq!(got.content_type.as_deref(), Some("text/html; charset=utf-8"));
    assert!(matches!(c.get(&s.url("/loop-a"), &cancel), Err(NetError::Redirects { .. })));
    assert!(matches!(c.get(&s.url("/big"), &cancel), Err(NetError::TooLarge { limit: 1000, .. })));
    assert!(matches!(c.get(&s.url("/gone"), &cancel), Err(NetError::Status { status: 410, .. })));
    assert!(matches!(c.get(&s.url("/nothing"), &cancel), Err(NetError::Status { status: 404, .. })));
    assert!(matches!(c.get("ftp://example.org/x", &cancel), Err(NetError::Scheme { .. })));
    // Nobody listening.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = c.get(&format!("http://127.0.0.1:{closed}/"), &cancel).unwrap_err();
    assert!(matches!(e, NetError::Failed { .. }), "{e:?}");
    assert_eq!(e.to_string().lines().count(), 1);
}

/// A page may come gzip-compressed: decoded, its decoded bytes against the limit. A file is asked
/// for as it is, and refused when it comes encoded anyway, leaving nothing behind.
#[test]
fn encodings_are_decoded_for_pages_and_refused_for_files() {
    let s = Server::start();
    s.route("/page", Route::Encoded("text/html", "gzip", common::http::gzip(b"<p>hello</p>")));
    s.route("/bomb", Route::Encoded("text/html", "gzip", common::http::gzip(&[b' '; 1_000_000])));
    s.route("/brotli", Route::Encoded("text/html", "br", b"not really brotli".to_vec()));
    s.route("/clip.wav", Route::Encoded("audio/wav", "gzip", common::http::gzip(&[7u8; 5000])));
    let c = client(5);
    let cancel = Cancel::new();
    assert_eq!(c.get(&s.url("/page"), &cancel).unwrap().bytes, b"<p>hello</p>");
    // 1 MB of page in 1 kB of gzip: stopped at the 1000-byte limit.
    assert!(matches!(c.get(&s.url("/bomb"), &cancel), Err(NetError::TooLarge { limit: 1000, .. })));
    let e = c.get(&s.url("/brotli"), &cancel).unwrap_err();
    assert!(matches!(&e, NetError::Encoded { encoding, .. } if encoding == "br"), "{e:?}");
    let dir = tempfile::tempdir().unwrap();
    let e = c.download(&s.url("/clip.wav"), &dir.path().join("clip.wav"), &Silent, &cancel).unwrap_err();
    assert!(matches!(&e, NetError::Encoded { encoding, .. } if encoding == "gzip"), "{e:?}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing left behind");
}

#[test]
fn downloads_are_whole_or_absent() {
    let s = Server::start();
    s.route("/clip.wav", Route::Body("audio/wav", vec![7u8; 5000]));
    s.route("/huge.wav", Route::Body("audio/wav", vec![7u8; 10_001]));
    s.route("/stalls.wav", Route::Stall(vec![1u8; 100], Duration::from_secs(30)));
    let dir = tempfile::tempdir().unwrap();
    let c = client(2);
    let cancel = Cancel::new();
    let dest = dir.path().join("clip.wav");
    let (url, ct) = c.download(&s.url("/clip.wav"), &dest, &Silent, &cancel).unwrap();
    assert_eq!((url, ct.as_deref()), (s.url("/clip.wav"), Some("audio/wav")));
    assert_eq!(std::fs::read(&dest).unwrap(), vec![7u8; 5000]);

    let dest = dir.path().join("huge.wav");
    assert!(matches!(c.download(&s.url("/huge.wav"), &dest, &Silent, &cancel), Err(NetError::TooLarge { .. })));
    let started = Instant::now();
    let dest = dir.path().join("stalls.wav");
    let e = c.download(&s.url("/stalls.wav"), &dest, &Silent, &cancel).unwrap_err();
    assert!(matches!(e, NetError::Timeout { secs: 2, .. }), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    // Only the finished download is there: no partial file, no temporary.
    let mut names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["clip.wav"]);

    // Ctrl-C during a stalled transfer is honoured at once.
    let cancel = std::sync::Arc::new(Cancel::new());
    let flag = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        flag.cancel();
    });
    let started = Instant::now();
    let e = client(20).download(&s.url("/stalls.wav"), &dir.path().join("x.wav"), &Silent, &cancel).unwrap_err();
    assert!(matches!(e, NetError::Cancelled), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
}
