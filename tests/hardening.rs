//! A shared archive tried as a hostile user would: `serve` facing idle, slow and half-open
//! clients, huge heads, foreign `Host:` values, cross-site requests and asks for files that are
//! not the archive's to serve; media that would be pages; credentials in addresses; media
//! rewritten under the archive; metadata from a manifest and a folder; a foreign database; an
//! archive read by another user.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::*;

fn batch(inputs: &[&Path], archive: &Path, extra: &[&str]) -> Output {
    batch_into(inputs, archive, extra)
}

/// An archive of one sample clip, batched from a folder of its own; its report folder.
fn archive_of(dir: &Path, clip: &str) -> (PathBuf, PathBuf) {
    let inputs = dir.join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    let name = Path::new(clip).file_name().unwrap();
    std::fs::copy(sample(clip), inputs.join(name)).unwrap();
    let archive = dir.join("archive");
    ok(&batch(&[&inputs], &archive, &[]));
    let folder = report_dirs(&archive)[0].clone();
    (archive, folder)
}

fn ok(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    err
}

fn report_dirs(archive: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(archive).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    v.sort();
    v
}

/// A raw request, sent exactly as given: status, head, body.
fn raw(addr: &str, request: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head to {request:?}: {:?}", String::from_utf8_lossy(&all)));
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, all[split + 4..].to_vec())
}

fn get(addr: &str, path: &str, extra: &str) -> (u16, String, Vec<u8>) {
    raw(addr, &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n"))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// The JFK clip as a 16-bit WAV with an HTML page (a script that reads the search API) after
/// its samples: what a stranger would upload as `x.html`.
fn wav_with_script() -> Vec<u8> {
    let audio = vidscribe::media::decode_path(
        &speech("en_jfk.flac"),
        &Default::default(),
        &vidscribe::progress::Silent,
        &vidscribe::progress::Cancel::new(),
    )
    .unwrap();
    let pcm: Vec<u8> =
        audio.samples.iter().flat_map(|s| ((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes()).collect();
    let mut wav = wav_header(1, 16_000, pcm.len() as u32);
    wav.extend_from_slice(&pcm);
    wav.extend_from_slice(
        b"<html><script>fetch('/api/search?q=a').then(r=>r.text()).then(t=>document.title=t)</script>",
    );
    wav
}

/// An archive of the sample report plus the JFK clip named `x.html`, `report.html` and
/// `clip.json` (three names that would be pages or collide with a report's own files).
fn hostile_archive(dir: &Path) -> PathBuf {
    let inputs = dir.join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::copy(sample("report.webm"), inputs.join("report.webm")).unwrap();
    std::fs::copy(sample("article.txt"), inputs.join("report.txt")).unwrap();
    let wav = wav_with_script();
    let named = inputs.join("named");
    std::fs::create_dir_all(&named).unwrap();
    // Each name is its own report (its content differs by a byte).
    for (i, name) in ["x.html", "report.html", "clip.json"].iter().enumerate() {
        let mut w = wav.clone();
        w.push(b'0' + i as u8);
        std::fs::write(named.join(name), w).unwrap();
    }
    let archive = dir.join("archive");
    let mut inputs_given: Vec<PathBuf> = vec![inputs.join("report.webm")];
    inputs_given.extend(["x.html", "report.html", "clip.json"].iter().map(|n| named.join(n)));
    let refs: Vec<&Path> = inputs_given.iter().map(PathBuf::as_path).collect();
    ok(&batch(&refs, &archive, &[]));
    archive
}

#[test]
fn media_are_stored_under_safe_names_and_served_as_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let archive = hostile_archive(dir.path());
    let dirs = report_dirs(&archive);
    assert_eq!(dirs.len(), 4, "{dirs:?}");
    for d in &dirs {
        let names: Vec<String> =
            std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        // No empty folder, and the media under media.<its container>, never the input's name.
        assert!(names.contains(&"report.html".to_string()), "{d:?}: {names:?}");
        let media: Vec<&String> = names.iter().filter(|n| n.starts_with("media.")).collect();
        assert_eq!(media.len(), 1, "{d:?}: {names:?}");
        assert!(media[0] == "media.wav" || media[0] == "media.webm", "{names:?}");
        assert!(!names.iter().any(|n| n == "x.html"), "{names:?}");
    }
    let server = serve(&[archive.as_os_str()]);
    let addr = &server.addr;
    let (status, head, body) = get(addr, "/api/search?q=ask+not&limit=50", "");
    assert_eq!(status, 200, "{head}");
    let hits: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
    assert!(hits.len() >= 3, "the three copies of the JFK clip: {hits:?}");
    for h in &hits {
        let url = h["url"].as_str().unwrap();
        assert!(url.starts_with("/r/") && url.contains("/report.html#t="), "{url}");
        let report = h["report"].as_str().unwrap();
        let (status, head, body) = get(addr, &format!("/r/{report}/media.wav"), "");
        assert_eq!(status, 200, "{head}");
        assert_eq!(header(&head, "content-type"), Some("audio/wav"), "{head}");
        assert_eq!(header(&head, "x-content-type-options"), Some("nosniff"));
        assert!(header(&head, "content-security-policy").is_some_and(|c| c.contains("sandbox")), "{head}");
        assert!(body.ends_with(b"</script>0") || body.ends_with(b"</script>1") || body.ends_with(b"</script>2"));
        // The input's name means nothing to the server: `x.html` is nobody's file, and a
        // `clip.json` there is the report's own transcript (the media named so is media.wav).
        for name in ["x.html", "x.wav", "clip.json"] {
            let (status, _, body) = get(addr, &format!("/r/{report}/{name}"), "");
            if name == "clip.json" && status == 200 {
                let doc: serde_json::Value = serde_json::from_slice(&body).expect("the transcript, not the media");
                assert!(doc["segments"].is_array() && doc["schema"].is_number(), "{doc}");
            } else {
                assert_eq!(status, 404, "{name}");
            }
        }
    }
}

#[test]
fn serve_answers_only_what_is_the_archives_to_show() {
    let dir = tempfile::tempdir().unwrap();
    let (archive, folder) = archive_of(dir.path(), "formats/clip.ogg");
    let folder = folder.file_name().unwrap().to_string_lossy().into_owned();
    std::os::unix::fs::symlink("/etc/passwd", archive.join(&folder).join("passwd.txt")).unwrap();
    std::fs::write(archive.join(&folder).join("notes.md"), "private").unwrap();
    let server = serve(&[archive.as_os_str()]);
    let addr = &server.addr;

    // The page and the outputs of a report, by its id.
    let stem = "clip";
    for (name, ctype) in [
        ("report.html", "text/html"),
        (&format!("{stem}.vtt") as &str, "text/vtt"),
        (&format!("{stem}.srt"), "application/x-subrip"),
        (&format!("{stem}.json"), "application/json"),
        (&format!("{stem}.txt"), "text/plain"),
        ("media.ogg", "audio/ogg"),
    ] {
        let (status, head, _) = get(addr, &format!("/r/{folder}/{name}"), "");
        assert_eq!(status, 200, "{name}: {head}");
        assert!(header(&head, "content-type").unwrap().starts_with(ctype), "{name}: {head}");
        assert!(header(&head, "content-security-policy").is_some(), "{name}: {head}");
    }
    // Nothing else: the database and its journals, the log, files that are not a report's,
    // raw folder paths, and every way of spelling a way out.
    for path in [
        "/archive.db".to_string(),
        "/archive.db-wal".into(),
        "/archive.db-shm".into(),
        "/batch.log".into(),
        format!("/{folder}/report.html"),
        format!("/r/{folder}/notes.md"),
        format!("/r/{folder}/passwd.txt"),
        format!("/r/{folder}/../../archive.db"),
        format!("/r/{folder}/..%2farchive.db"),
        format!("/r/{folder}/%2e%2e%2f%2e%2e%2farchive.db"),
        format!("/r/{folder}/.vidscribe-lock"),
        format!("/r/{folder}%2f..%2f..%2fetc%2fpasswd/x.txt"),
        "/r/..%2f..%2fetc/passwd.txt".into(),
        format!("/r/{folder}/archive.db"),
        format!("/r/{folder}/report.html%00.txt"),
        "/r/nosuchreport/report.html".into(),
        "/%2e%2e/etc/passwd".into(),
        "//etc/passwd".into(),
    ] {
        let (status, head, body) = get(addr, &path, "");
        assert!(status == 404 || status == 400, "{path}: {head}");
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("root:") && !text.contains("private") && !text.contains("SQLite"), "{path}: {text}");
    }

    // Only this server's names in Host: (DNS rebinding), and no Host at all is refused.
    let (status, _, _) = raw(addr, "GET / HTTP/1.1\r\nHost: rebind.evil.example\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 421);
    let (status, _, _) = raw(addr, "GET / HTTP/1.0\r\n\r\n");
    assert_eq!(status, 421);
    let port = addr.rsplit(':').next().unwrap();
    let (status, _, _) = raw(addr, &format!("GET / HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"));
    assert_eq!(status, 200);
    // A named server: --host.
    let named = common::serve(&[archive.as_os_str(), "--host".as_ref(), "archive.newsroom.example".as_ref()]);
    let nport = named.addr.rsplit(':').next().unwrap();
    let req = format!("GET / HTTP/1.1\r\nHost: archive.newsroom.example:{nport}\r\nConnection: close\r\n\r\n");
    assert_eq!(raw(&named.addr, &req).0, 200);

    // Cross-site requests: a script or a video tag on another site, an Origin that is not ours.
    let (status, _, _) = get(addr, "/api/search?q=prisoners", "Sec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: cors\r\n");
    assert_eq!(status, 403);
    let (status, _, _) =
        get(addr, &format!("/r/{folder}/media.ogg"), "Sec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: no-cors\r\n");
    assert_eq!(status, 403);
    let (status, _, _) = get(addr, "/api/search?q=prisoners", "Origin: http://evil.example\r\n");
    assert_eq!(status, 403);
    let (status, _, _) = get(addr, "/api/search?q=prisoners", "Origin: null\r\n");
    assert_eq!(status, 403);
    // A person following a link from elsewhere gets the page.
    let (status, _, _) = get(addr, "/", "Sec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: navigate\r\n");
    assert_eq!(status, 200);
    let (status, _, _) = get(addr, "/api/search?q=war", &format!("Origin: http://{addr}\r\n"));
    assert_eq!(status, 200);
    // Only GET and HEAD.
    let (status, head, _) = raw(
        addr,
        &format!("POST /api/search HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 3\r\nConnection: close\r\n\r\nq=a"),
    );
    assert_eq!(status, 405, "{head}");
    // The API's limits say what they take.
    for bad in ["limit=0", "limit=1001", "limit=x", "since=2020-02-30"] {
        let (status, head, _) = get(addr, &format!("/api/search?q=war&{bad}"), "");
        assert_eq!(status, 400, "{bad}: {head}");
    }
}

#[test]
fn ranges_lengths_and_validators() {
    let dir = tempfile::tempdir().unwrap();
    let (archive, folder) = archive_of(dir.path(), "formats/clip.flac");
    let id = folder.file_name().unwrap().to_string_lossy().into_owned();
    let bytes = std::fs::read(folder.join("media.flac")).unwrap();
    let len = bytes.len();
    assert!(len > 32 * 1024);
    let server = serve(&[archive.as_os_str()]);
    let addr = &server.addr;
    let path = format!("/r/{id}/media.flac");

    // Whole, with its length (not chunked), GET and HEAD alike.
    let (status, head, body) = get(addr, &path, "");
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-length"), Some(len.to_string().as_str()), "{head}");
    assert!(header(&head, "transfer-encoding").is_none(), "{head}");
    assert_eq!(body, bytes);
    let (status, head, body) = raw(addr, &format!("HEAD {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"));
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-length"), Some(len.to_string().as_str()), "{head}");
    assert!(body.is_empty() && header(&head, "accept-ranges") == Some("bytes"), "{head}");
    let etag = header(&head, "etag").unwrap().to_string();
    let modified = header(&head, "last-modified").unwrap().to_string();

    let part = |range: &str, extra: &str| get(addr, &path, &format!("Range: {range}\r\n{extra}"));
    let (status, head, body) = part("bytes=100-199", "");
    assert_eq!(status, 206);
    assert_eq!(header(&head, "content-range"), Some(format!("bytes 100-199/{len}").as_str()));
    assert_eq!(body, &bytes[100..200]);
    // Overlapping ranges merge into one; a huge end is clamped.
    let (status, head, body) = part("bytes=0-99, 50-149", "");
    assert_eq!((status, header(&head, "content-range")), (206, Some(format!("bytes 0-149/{len}").as_str())));
    assert_eq!(body, &bytes[..150]);
    let (status, head, body) = part("bytes=1000-99999999999999999999999", "");
    assert_eq!(header(&head, "content-range"), Some(format!("bytes 1000-{}/{len}", len - 1).as_str()));
    assert_eq!((status, body.as_slice()), (206, &bytes[1000..]));
    // Disjoint ranges: the whole file, correctly.
    let (status, head, body) = part("bytes=0-9,500-509", "");
    assert_eq!((status, body.len()), (200, len), "{head}");
    // If-Range: the same file gets its part, a changed one the whole.
    assert_eq!(part("bytes=0-9", &format!("If-Range: {etag}\r\n")).0, 206);
    assert_eq!(part("bytes=0-9", &format!("If-Range: {modified}\r\n")).0, 206);
    let (status, _, body) = part("bytes=0-9", "If-Range: \"stale\"\r\n");
    assert_eq!((status, body.len()), (200, len));
    // Unsatisfiable.
    let (status, head, _) = part(&format!("bytes={len}-"), "");
    assert_eq!(status, 416);
    assert_eq!(header(&head, "content-range"), Some(format!("bytes */{len}").as_str()));
    // Conditional GET.
    let (status, _, body) = get(addr, &path, &format!("If-None-Match: {etag}\r\n"));
    assert_eq!((status, body.len()), (304, 0));
}

/// Hundreds of idle, half-open and slow connections, with the process's open-file limit
/// lowered below them: the accept loop lives, a search still answers at once, the idle ones are
/// closed after the idle timeout, and a 300 MB header line costs nothing.
#[test]
fn idle_and_slow_clients_do_not_take_the_server_down() {
    let dir = tempfile::tempdir().unwrap();
    let (archive, _) = archive_of(dir.path(), "formats/clip.ogg");

    // 128 open files: fewer than the connections below.
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 128 && exec \"$0\" serve \"$1\" --port 0 --idle-timeout 3")
        .arg(env!("CARGO_BIN_EXE_vidscribe"))
        .arg(&archive)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let addr = line.trim().trim_start_matches("listening on http://").trim_end_matches('/').to_string();
    let _server = Serving { child, addr: addr.clone() };
    let rss = || -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", _server.child.id())).unwrap();
        status.lines().find(|l| l.starts_with("VmRSS:")).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let search = || {
        let t = Instant::now();
        let (status, head, _) = get(&addr, "/api/search?q=war", "");
        (status, head, t.elapsed())
    };
    let (status, _, alone) = search();
    assert_eq!(status, 200);

    // 400 connections that say nothing or half a request line, held open.
    let mut idle = Vec::new();
    for i in 0..400 {
        match TcpStream::connect(&addr) {
            Ok(mut s) => {
                if i % 2 == 0 {
                    let _ = s.write_all(b"GET /api/search?q=");
                }
                idle.push(s);
            }
            Err(_) => break,
        }
    }
    // While they are held: every search is answered, either at once or with a clear 503
    // (full), never by silence; once the idle timeout closes them, searches are answered again.
    let mut answered = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(15) {
        let (status, head, took) = search();
        assert!(status == 200 || status == 503, "{head}");
        assert!(took < Duration::from_secs(5), "a search took {took:?} beside idle connections");
        if status == 200 {
            answered += 1;
            if answered >= 3 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(answered >= 3, "the server stopped answering searches");
    // The idle ones were closed by the server.
    let closed = idle
        .iter()
        .filter(|s| {
            s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
            let mut b = [0u8; 1024];
            let mut r: &TcpStream = s;
            match r.read(&mut b) {
                Ok(0) => true,
                Ok(_) => true, // answered (408/400) then closed
                Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
            }
        })
        .count();
    assert!(closed >= idle.len() * 9 / 10, "{closed} of {} idle connections closed", idle.len());
    drop(idle);

    // One enormous header line: refused early, memory unchanged.
    let before = rss();
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = write!(s, "GET / HTTP/1.1\r\nHost: {addr}\r\nX-Big: ");
    let chunk = vec![b'a'; 1 << 20];
    let mut sent = 0usize;
    for _ in 0..300 {
        if s.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    let mut answer = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.read_to_end(&mut answer);
    drop(s);
    assert!(sent < 300 << 20 || answer.starts_with(b"HTTP/1.1 431"), "{}", String::from_utf8_lossy(&answer));
    let after = rss();
    assert!(after < before + 20_000, "memory grew from {before} kB to {after} kB on one huge header");
    let (status, _, took) = search();
    assert_eq!(status, 200);
    assert!(took < alone + Duration::from_secs(2), "{took:?} against {alone:?} alone");
}

/// An archive.db replaced on disk while serving: every answer comes from the new file.
#[test]
fn a_replaced_database_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    for (name, clip) in [(&a, "formats/clip.ogg"), (&b, "formats/clip.mp3")] {
        std::fs::create_dir_all(name.join("in")).unwrap();
        std::fs::copy(sample(clip), name.join("in").join(Path::new(clip).file_name().unwrap())).unwrap();
        ok(&batch(&[&name.join("in")], &name.join("archive"), &[]));
    }
    let archive = a.join("archive");
    let server = serve(&[archive.as_os_str()]);
    let reports = |addr: &str| -> Vec<String> {
        let (_, _, body) = get(addr, "/api/search?q=prisoners&limit=100", "");
        let hits: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
        let mut r: Vec<String> = hits.iter().map(|h| h["report"].as_str().unwrap().to_string()).collect();
        r.dedup();
        r
    };
    // Several requests at once fill the pool with connections to the first file.
    let first = reports(&server.addr);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| reports(&server.addr));
        }
    });
    assert_eq!(first.len(), 1);
    assert!(first[0].starts_with("clip-"));
    // Replaced by a rename, as a restore or a copy from another machine does.
    let tmp = archive.join("archive.db.new");
    std::fs::copy(b.join("archive/archive.db"), &tmp).unwrap();
    for ext in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(archive.join(format!("archive.db{ext}")));
    }
    std::fs::rename(&tmp, archive.join("archive.db")).unwrap();
    let want = reports(&common::serve(&[b.join("archive").as_os_str()]).addr);
    assert_ne!(want, first);
    for _ in 0..20 {
        assert_eq!(reports(&server.addr), want);
    }
}

/// Runs `cmd`, killing it after `secs`: a hang fails the test instead of holding it.
fn within(cmd: &mut std::process::Command, secs: u64) -> Output {
    let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            panic!("still running after {secs} s: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

fn search_titles(archive: &Path, query: &str) -> Vec<String> {
    let out = bin().arg("search").arg(archive).args([query, "--json", "--flat"]).output().unwrap();
    let err = ok(&out);
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!lines.is_empty(), "{query}: nothing found; {err}");
    lines.iter().map(|h| h["title"].as_str().unwrap_or("").to_string()).collect()
}

/// Everything an archive writes, as bytes: to look for a secret in all of it at once.
fn everything_under(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            all.extend(everything_under(&p));
        } else if p.extension().is_none_or(|x| x != "wav") {
            all.extend(std::fs::read(&p).unwrap());
        }
    }
    all
}

#[test]
fn archived_data_is_never_lost_changed_or_leaked() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("collection");
    std::fs::create_dir_all(&c).unwrap();
    let story = c.join("story.wav");
    std::fs::copy(sample("formats/clip.wav"), &story).unwrap();
    let original = std::fs::read(&story).unwrap();
    let manifest = c.join("titles.csv");
    std::fs::write(
        &manifest,
        "video,title,url\nstory.wav,Prisoners of war,https://editor:hunter2@news.example/story?token=s3cret&id=7\n\
         http://editor:hunter2@127.0.0.1:9/gone.mp4,Gone,\n",
    )
    .unwrap();

    // Credentials never stored nor printed; metadata kept whichever order the inputs come in.
    for (name, order) in [("a", [&manifest, &c]), ("b", [&c, &manifest])] {
        let archive = dir.path().join(name);
        let out = batch(&[order[0].as_path(), order[1].as_path()], &archive, &[]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "the address that answers nothing fails: {err}");
        assert!(err.contains("127.0.0.1:9/gone.mp4") && !err.contains("hunter2") && !err.contains("editor"), "{err}");
        let written = String::from_utf8_lossy(&everything_under(&archive)).into_owned();
        assert!(written.contains("news.example/story?id=7"), "the address is kept, without its secrets");
        for secret in ["hunter2", "s3cret", "editor:"] {
            assert!(!written.contains(secret), "{secret} written into {name}");
        }
        assert_eq!(search_titles(&archive, "prisoners"), ["Prisoners of war"], "{name}");
    }
    // A later run without the manifest never erases what it gave.
    let archive = dir.path().join("a");
    let err = ok(&batch(&[&c.join("story.wav")], &archive, &[]));
    assert!(err.contains("1 unchanged"), "{err}");
    assert_eq!(search_titles(&archive, "prisoners"), ["Prisoners of war"]);

    // The source re-exported in place: the archived copy is still the media it was made from.
    let folder = report_dirs(&archive)[0].clone();
    let stored = folder.join("media.wav");
    assert_eq!(std::fs::read(&stored).unwrap(), original);
    let mut f = std::fs::OpenOptions::new().write(true).open(&story).unwrap();
    f.write_all(b"RIFF-rewritten").unwrap();
    drop(f);
    assert_eq!(std::fs::read(&stored).unwrap(), original, "the archived media followed its source");
    // A damaged archived copy is noticed and copied again, without recognising again.
    std::fs::write(&story, &original).unwrap();
    std::fs::write(&stored, b"damaged").unwrap();
    let err = ok(&batch(&[&story], &archive, &[]));
    assert!(err.contains("1 updated") && err.contains("0 made"), "{err}");
    assert_eq!(std::fs::read(&stored).unwrap(), original);

    // Not a vidscribe database: refused in one line, not changed by a byte.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    {
        let conn = rusqlite::Connection::open(foreign.join("archive.db")).unwrap();
        conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine');").unwrap();
    }
    let before = std::fs::read(foreign.join("archive.db")).unwrap();
    for out in [batch(&[&story], &foreign, &[]), bin().arg("search").arg(&foreign).arg("war").output().unwrap()] {
        let err = assert_clean_failure(&out, "a foreign database");
        assert!(err.contains("not a vidscribe archive"), "{err}");
    }
    assert_eq!(std::fs::read(foreign.join("archive.db")).unwrap(), before);
    assert!(report_dirs(&foreign).is_empty());

    // Inputs that would hang: a device as the video, a FIFO as the article; one line each.
    let pipe = c.join("pipe.txt");
    assert!(std::process::Command::new("mkfifo").arg(&pipe).status().unwrap().success());
    let hangs = c.join("hangs.csv");
    std::fs::write(&hangs, "video,article\n/dev/zero,\nstory.wav,pipe.txt\n").unwrap();
    let out = within(
        std::process::Command::new(env!("CARGO_BIN_EXE_vidscribe"))
            .arg("batch")
            .arg(&hangs)
            .arg("-o")
            .arg(dir.path().join("hangs"))
            .arg("-m")
            .arg(model())
            .arg("--allow-outside"),
        120,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("2 failed") && err.contains("/dev/zero"), "{err}");
    let log = std::fs::read_to_string(dir.path().join("hangs/batch.log")).unwrap();
    assert_eq!(log.matches("not a regular file").count(), 2, "{log}");
}

/// Another user (a colleague, a web server's account) searches and serves an archive they
/// cannot write to: read-only, nothing created beside it.
#[test]
fn another_user_can_search_and_serve_an_archive_they_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("in");
    std::fs::create_dir_all(&c).unwrap();
    std::fs::copy(sample("formats/clip.ogg"), c.join("clip.ogg")).unwrap();
    let archive = dir.path().join("archive");
    ok(&batch(&[&c], &archive, &[]));
    let before: Vec<String> =
        std::fs::read_dir(&archive).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    // Readable by all, writable by root alone (the owner).
    assert!(std::process::Command::new("chmod").arg("-R").arg("go=rX").arg(dir.path()).status().unwrap().success());
    let as_nobody = |args: &[&std::ffi::OsStr]| {
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_vidscribe"))
            .args(args);
        cmd
    };
    let out = within(
        &mut as_nobody(&[
            "search".as_ref(),
            archive.as_os_str(),
            "prisoners".as_ref(),
            "--json".as_ref(),
            "--flat".as_ref(),
        ]),
        60,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!out.stdout.is_empty());
    // serve as that user: it answers a search.
    let mut child = as_nobody(&["serve".as_ref(), archive.as_os_str(), "--port".as_ref(), "0".as_ref()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let addr = line.trim().trim_start_matches("listening on http://").trim_end_matches('/').to_string();
    let server = Serving { child, addr };
    let (status, head, body) = get(&server.addr, "/api/search?q=prisoners", "");
    assert_eq!(status, 200, "{head} {}", String::from_utf8_lossy(&body));
    drop(server);
    let after: Vec<String> =
        std::fs::read_dir(&archive).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(before, after, "nothing created in the archive folder");
}

/// Search compares words as they show: a full-width query finds the plain word, and a word that
/// an invisible character splits (zero-width space, soft hyphen) is found whole, by a query
/// typed either way. An archive whose report index was built before that (schema 2) is rebuilt
/// the next time it is written.
#[test]
fn full_width_and_invisible_characters_match_the_words_they_show() {
    let dir = tempfile::tempdir().unwrap();
    let golden = std::fs::read_to_string(root().join("tests/golden/report.linked.json")).unwrap();
    assert!(golden.contains("negotiation") && golden.contains("prisoners"));
    // Two words of the transcript disguised: one split by a zero-width space, one by a soft hyphen.
    let disguised = golden.replace("negotiation", "nego\\u200btiation").replace("prisoners", "pris\\u00adoners");
    let fixture = dir.path().join("fixture");
    std::fs::create_dir_all(&fixture).unwrap();
    std::fs::write(fixture.join("report.json"), disguised).unwrap();
    let archive = dir.path().join("archive");
    let out = bin().arg("index").arg(&fixture).arg("-o").arg(&archive).output().unwrap();
    ok(&out);
    let search = |q: &str| -> Vec<serde_json::Value> {
        let out = bin().arg("search").arg(&archive).arg(q).args(["--json", "--flat"]).output().unwrap();
        ok(&out);
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    let plain = search("negotiation");
    assert!(!plain.is_empty(), "a zero-width space inside a word does not split it");
    let start = |hits: &[serde_json::Value]| hits.iter().map(|h| h["start_ms"].as_u64().unwrap()).collect::<Vec<_>>();
    for q in ["ｎｅｇｏｔｉａｔｉｏｎ", "nego\u{200b}tiation", "NEGO\u{2060}TIATION"] {
        assert_eq!(start(&search(q)), start(&plain), "{q:?}");
    }
    let phrase = search("\"matter for negotiation\"");
    assert!(!phrase.is_empty());
    assert_eq!(start(&search("\"ｍａｔｔｅｒ for nego\u{200b}tiation\"")), start(&phrase));
    assert!(!search("prisoners").is_empty(), "a soft hyphen inside a word does not split it");
    assert!(search("nego").is_empty() && search("tiation").is_empty(), "no half-words in the index");

    // The report index as schema 2 built it (text as written), then a write: rebuilt, folded.
    let db = archive.join("archive.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute("INSERT INTO reports_fts (reports_fts) VALUES ('delete-all')", []).unwrap();
        conn.execute(
            "INSERT INTO reports_fts (rowid, text) SELECT report_id, group_concat(text, char(10)) FROM passages GROUP BY report_id",
            [],
        )
        .unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
    }
    assert!(search("negotiation").is_empty(), "the schema 2 index split the word");
    let out = bin().arg("index").arg(&fixture).arg("-o").arg(&archive).output().unwrap();
    ok(&out);
    let version: i64 =
        rusqlite::Connection::open(&db).unwrap().pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(version, vidscribe::archive::store::SCHEMA);
    assert_eq!(start(&search("ｎｅｇｏｔｉａｔｉｏｎ")), start(&plain));

    // An archive of schema 3 (passages without speakers) is searched as before, its hits with
    // no speaker, once the column is added on opening.
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("ALTER TABLE passages DROP COLUMN speaker").unwrap();
        conn.pragma_update(None, "user_version", 3).unwrap();
    }
    let hits = search("negotiation");
    assert_eq!(start(&hits), start(&plain));
    assert!(hits.iter().all(|h| h["speaker"].is_null()), "{hits:?}");
    let out = bin().arg("search").arg(&archive).arg("negotiation").args(["--speaker", "Speaker 1"]).output().unwrap();
    ok(&out);
    assert!(out.stdout.is_empty(), "no passage of an old report has a speaker");
}
