//! `run` from the article's web address, against a real HTTP server on loopback: the page is
//! fetched and read, its video found and downloaded beside the outputs, both cached, their
//! addresses recorded; every failure is one line and exit 1 with nothing written.

mod common;

use std::time::Duration;

use common::http::{Route, Server};
use common::*;

/// The sample article as a Global Voices-style page with `videos` placed in its story.
fn page(videos: &[&str]) -> Vec<u8> {
    let text = std::fs::read_to_string(sample("article.txt")).unwrap();
    let mut parts = text.split("\n\n").map(str::trim).filter(|p| !p.is_empty());
    let title = parts.next().unwrap().to_string();
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let paras: Vec<String> = parts.map(|p| format!("<p>{}</p>", esc(p))).collect();
    let half = paras.len() / 2;
    format!(
        "<!doctype html><html><head><title>{t}</title><meta property=\"og:video\" content=\"/media/og.mp4\"></head>\
         <body><nav><a href=\"/\">Home</a></nav><article><h1 class=\"entry-title\">{t}</h1><div class=\"entry-content\">\
         {a}{v}{b}</div></article><footer>Comments</footer></body></html>",
        t = esc(&title),
        a = paras[..half].join("\n"),
        v = videos.join("\n"),
        b = paras[half..].join("\n"),
    )
    .into_bytes()
}

/// Every file under `dir` (none if it does not exist).
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(|e| e.ok())
        .flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path()] })
        .collect()
}

fn run(home: &std::path::Path, out: &std::path::Path, args: &[&str]) -> std::process::Output {
    bin()
        .env("VIDSCRIBE_HOME", home)
        .arg("run")
        .args(args)
        .arg("-o")
        .arg(out)
        .args(["-q", "-m"])
        .arg(model())
        .arg("--timeout")
        .arg("3")
        .env("VIDSCRIBE_YTDLP", ytdlp())
        .env("NO_PROXY", "127.0.0.1")
        .env("no_proxy", "127.0.0.1")
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap()
}

/// The pinned yt-dlp that scripts/setup.sh test installs; its absence is a failure.
fn ytdlp() -> std::path::PathBuf {
    let p = root().join("tests/.venv/bin/yt-dlp");
    assert!(p.is_file(), "yt-dlp is missing at {}: run scripts/setup.sh test (scripts/test.sh does)", p.display());
    p
}

/// `clip.flac` re-encoded by ffmpeg into the containers YouTube's audio comes in.
fn ffmpeg(dir: &std::path::Path, name: &str, args: &[&str]) -> Vec<u8> {
    let out = dir.join(name);
    let o = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(sample("formats/clip.flac"))
        .args(args)
        .arg(&out)
        .output()
        .expect("ffmpeg makes the test media: run scripts/setup.sh test (scripts/test.sh does)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read(out).unwrap()
}

#[test]
fn an_article_address_gives_the_whole_report_with_its_video_beside_it() {
    let server = Server::start();
    let mp4 = std::fs::read(sample("report.mp4")).unwrap();
    server.route(
        "/news/story.html",
        Route::Body("text/html; charset=utf-8", page(&["<video controls src=\"../media/report.mp4\"></video>"])),
    );
    server.route("/media/report.mp4", Route::Body("video/mp4", mp4.clone()));
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = run(home.path(), &out, &[&server.url("/news/story.html")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut names: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["report.html", "report.json", "report.mp4", "report.srt", "report.txt", "report.vtt"]);
    assert_eq!(std::fs::read(out.join("report.mp4")).unwrap(), mp4);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(doc["schema"], vidscribe::formats::json::SCHEMA);
    assert_eq!(doc["input"]["path"], server.url("/media/report.mp4"));
    assert_eq!(doc["input"]["web"]["url"], server.url("/media/report.mp4"));
    assert_eq!(doc["article"]["path"], server.url("/news/story.html"));
    let fetched = doc["article"]["web"]["fetched_at"].as_str().unwrap();
    assert!(fetched.len() == 20 && fetched.ends_with('Z'), "{fetched}");
    // The story's video first, the page's og:video after it.
    let embeds: Vec<(&str, &str)> = doc["article"]["embeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["provider"].as_str().unwrap(), e["url"].as_str().unwrap()))
        .collect();
    assert_eq!(embeds, [("video", "../media/report.mp4"), ("video", "/media/og.mp4")]);
    // Linked to the article as from a file: paragraphs found, names spelled as the article does.
    let linked = doc["links"]["passages"].as_array().unwrap().iter().filter(|p| !p["paragraph"].is_null()).count();
    assert!(linked >= 8, "{linked} passages linked");
    // The same links, corrections and captions as `run` on the saved page and media.
    let saved = dir.path().join("saved");
    std::fs::create_dir(&saved).unwrap();
    std::fs::write(saved.join("story.html"), page(&["<video controls src=\"../media/report.mp4\"></video>"])).unwrap();
    std::fs::write(saved.join("report.mp4"), &mp4).unwrap();
    let local = dir.path().join("local");
    let o = bin()
        .arg("run")
        .arg(saved.join("report.mp4"))
        .arg("--article")
        .arg(saved.join("story.html"))
        .arg("-o")
        .arg(&local)
        .args(["-q", "-m"])
        .arg(model())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let here: serde_json::Value = serde_json::from_slice(&std::fs::read(local.join("report.json")).unwrap()).unwrap();
    for key in ["links", "corrections", "captions"] {
        assert!(doc[key] == here[key], "{key} differ between run URL and run on the saved page");
    }
    assert_eq!(doc["article"]["blocks"], here["article"]["blocks"]);
    assert_eq!(std::fs::read(out.join("report.srt")).unwrap(), std::fs::read(local.join("report.srt")).unwrap());
    // The page plays the copy beside it.
    let check = browser_check(&out.join("report.html"), "children back", "30.25");
    assert!(check["video"]["ready_state"].as_u64().unwrap() >= 1, "{check:#}");

    // Again, into another folder: nothing fetched, the same transcript.
    let again = dir.path().join("again");
    let o = run(home.path(), &again, &[&server.url("/news/story.html")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!((server.hits("/news/story.html"), server.hits("/media/report.mp4")), (1, 1));
    assert_eq!(std::fs::read(again.join("report.srt")).unwrap(), std::fs::read(out.join("report.srt")).unwrap());
}

#[test]
fn several_embeds_a_chosen_one_or_a_given_video() {
    let server = Server::start();
    server.route(
        "/two.html",
        Route::Body(
            "text/html",
            page(&[
                "<iframe src=\"https://www.youtube.com/embed/dQw4w9WgXcQ\"></iframe>",
                "<video><source src=\"/media/clip.wav\" type=\"audio/wav\"></video>",
            ]),
        ),
    );
    server.route("/media/clip.wav", Route::Body("audio/wav", std::fs::read(sample("formats/clip.wav")).unwrap()));
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The first in the story is a YouTube player, which yt-dlp cannot reach from here: one line,
    // nothing written.
    let o = run(home.path(), &dir.path().join("a"), &[&server.url("/two.html")]);
    let err = assert_clean_failure(&o, "an unreachable player");
    assert!(err.contains("yt-dlp could not fetch https://www.youtube.com/watch?v=dQw4w9WgXcQ"), "{err}");
    assert!(!dir.path().join("a").exists());
    // --embed 2: the <video>'s <source>; the page's videos are listed (unless --quiet).
    let o = bin()
        .env("VIDSCRIBE_HOME", home.path())
        .args(["run", &server.url("/two.html"), "--embed", "2", "-o"])
        .arg(dir.path().join("b"))
        .arg("-m")
        .arg(model())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("the page embeds 3 videos"), "{err}");
    assert!(err.contains("  2. video /media/clip.wav (used)"), "{err}");
    assert!(err.contains("  1. youtube https://www.youtube.com/watch?v=dQw4w9WgXcQ\n"), "{err}");
    assert!(dir.path().join("b/clip.wav").is_file() && dir.path().join("b/clip.srt").is_file());
    let err = assert_clean_failure(
        &run(home.path(), &dir.path().join("c"), &[&server.url("/two.html"), "--embed", "4"]),
        "no fourth embed",
    );
    assert!(err.contains("embeds 3"), "{err}");
    // --video: a local file instead; the article still comes from the page.
    let o = run(
        home.path(),
        &dir.path().join("d"),
        &[&server.url("/two.html"), "--video", sample("formats/clip.flac").to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("d/clip.json")).unwrap()).unwrap();
    assert_eq!(doc["article"]["web"]["url"], server.url("/two.html"));
    assert!(doc["input"]["web"].is_null());
}

#[test]
fn failures_are_one_line_within_the_time_limit() {
    let server = Server::start();
    server.route("/loop", Route::Redirect("/loop2".into()));
    server.route("/loop2", Route::Redirect("/loop".into()));
    server.route("/slow.html", Route::Stall(b"<html><body><p>".to_vec(), Duration::from_secs(30)));
    server.route(
        "/plain.html",
        Route::Body(
            "text/html",
            b"<html><body><article><p>Only words here, no video at all.</p></article></body></html>".to_vec(),
        ),
    );
    server.route("/gone.html", Route::Body("text/html", page(&["<video src=\"/missing.mp4\"></video>"])));
    server.route("/notmedia.html", Route::Body("text/html", page(&["<video src=\"/page.mp4\"></video>"])));
    server.route("/page.mp4", Route::Body("video/mp4", b"<html>not a video</html>".to_vec()));
    server.route("/huge.html", Route::Body("text/html", vec![b' '; 20_000_001]));
    // 25 MB of page in 25 kB of gzip: the decoded bytes count against the 20 MB limit.
    server.route("/bomb.html", Route::Encoded("text/html", "gzip", common::http::gzip(&vec![b' '; 25_000_000])));
    // A video sent gzip-encoded although it was asked for as it is: refused before any is kept.
    server.route("/encoded.html", Route::Body("text/html", page(&["<video src=\"/encoded.wav\"></video>"])));
    let wav = std::fs::read(sample("formats/clip.wav")).unwrap();
    server.route("/encoded.wav", Route::Encoded("audio/wav", "gzip", common::http::gzip(&wav)));
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str); 9] = [
        ("/nothing.html", "404"),
        ("/huge.html", "larger than the limit of 20000000 bytes"),
        ("/loop", "redirects"),
        ("/slow.html", "no answer within 3 s"),
        ("/plain.html", "no embedded video"),
        ("/gone.html", "404"),
        ("/notmedia.html", "not a recognised"),
        ("/bomb.html", "larger than the limit of 20000000 bytes"),
        ("/encoded.html", "the server sent the file encoded (gzip)"),
    ];
    for (path, says) in cases {
        let started = std::time::Instant::now();
        let out = dir.path().join(path.trim_start_matches('/'));
        let o = run(home.path(), &out, &[&server.url(path)]);
        let err = assert_clean_failure(&o, path);
        assert!(err.contains(says), "{path}: {err}");
        assert!(started.elapsed() < Duration::from_secs(10), "{path}: {:?}", started.elapsed());
        assert!(!out.exists(), "{path}: output written");
    }
    // Nothing of what failed was kept in the web cache (pages that came whole may be).
    let kept: u64 = walk(&home.path().join("cache")).iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
    assert!(kept < 5_000_000, "{kept} bytes kept in the cache");
    // Not http(s).
    let o = bin().args(["run", "ftp://example.org/story.html", "-o"]).arg(dir.path().join("ftp")).output().unwrap();
    assert!(!o.status.success());
}

/// A player embed (an iframe whose page only yt-dlp's generic extractor understands) delivers
/// YouTube's two audio containers: Opus in WebM and AAC in fragmented MP4 (DASH); both decode
/// and are heard. A player yt-dlp cannot read, or no yt-dlp at all, is one line.
#[test]
fn players_are_fetched_with_yt_dlp_in_both_of_youtubes_containers() {
    let media = tempfile::tempdir().unwrap();
    let webm = ffmpeg(media.path(), "clip.webm", &["-c:a", "libopus", "-b:a", "48k", "-f", "webm"]);
    let dash = ffmpeg(
        media.path(),
        "clip.m4a",
        &["-c:a", "aac", "-b:a", "96k", "-movflags", "+frag_keyframe+empty_moov+default_base_moof", "-f", "mp4"],
    );
    let server = Server::start();
    let player = |src: &str, ty: &str| {
        format!("<!doctype html><html><head><title>Player</title></head><body><video controls><source src=\"{src}\" type=\"{ty}\"></video></body></html>").into_bytes()
    };
    server.route("/player/webm", Route::Body("text/html", player("/media/clip.webm", "video/webm")));
    server.route("/player/dash", Route::Body("text/html", player("/media/clip.m4a", "audio/mp4")));
    server.route("/media/clip.webm", Route::Body("video/webm", webm));
    server.route("/media/clip.m4a", Route::Body("audio/mp4", dash));
    server.route("/webm.html", Route::Body("text/html", page(&["<iframe src=\"/player/webm\"></iframe>"])));
    server.route("/dash.html", Route::Body("text/html", page(&["<iframe src=\"/player/dash\"></iframe>"])));
    server.route("/broken.html", Route::Body("text/html", page(&["<iframe src=\"/player/none\"></iframe>"])));
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (page_path, container) in [("/webm.html", "webm"), ("/dash.html", "m4a")] {
        let out = dir.path().join(container);
        let o = run(home.path(), &out, &[&server.url(page_path)]);
        assert!(o.status.success(), "{page_path}: {}", String::from_utf8_lossy(&o.stderr));
        let copy = out.join(format!("video.{container}"));
        assert!(copy.is_file(), "{page_path}: {:?}", std::fs::read_dir(&out).unwrap().collect::<Vec<_>>());
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("video.json")).unwrap()).unwrap();
        assert_eq!(doc["input"]["web"]["via"], "yt-dlp 2026.10.26", "{page_path}");
        assert!((7_500..8_500).contains(&doc["input"]["duration_ms"].as_u64().unwrap()), "{}", doc["input"]);
        let text = std::fs::read_to_string(out.join("video.txt")).unwrap().to_lowercase();
        // Five words in a row from the script; not "of war": on these synthetic voices tiny.en
        // hears "prisoners at war" in some encodings (samples/formats/clip.mp3, f16 and q8_0 alike).
        assert!(text.contains("report on the armenian prisoners"), "{page_path}: {text}");
    }
    // Cached: the second run asks yt-dlp nothing (the media is fetched once).
    let o = run(home.path(), &dir.path().join("again"), &[&server.url("/webm.html")]);
    assert!(o.status.success());
    assert_eq!(server.hits("/media/clip.webm"), 1);

    let o = run(home.path(), &dir.path().join("broken"), &[&server.url("/broken.html")]);
    let err = assert_clean_failure(&o, "a player yt-dlp cannot read");
    assert!(err.contains("yt-dlp could not fetch") && err.contains("404"), "{err}");
    // No yt-dlp anywhere.
    let o = bin()
        .env("VIDSCRIBE_HOME", home.path())
        .env("VIDSCRIBE_YTDLP", "")
        .env("PATH", "/nonexistent")
        .args(["run", &server.url("/broken.html"), "-o"])
        .arg(dir.path().join("none"))
        .arg("-m")
        .arg(model())
        .output()
        .unwrap();
    let err = assert_clean_failure(&o, "no yt-dlp");
    assert!(err.contains("needs yt-dlp") && err.contains("setup.sh web"), "{err}");
}

/// A batch manifest whose videos and articles are web addresses: each fetched once (cached),
/// the report folder named after the media as fetched, a broken address a failure that does not
/// stop the batch; run again, nothing is fetched or recognised.
#[test]
fn batch_manifests_take_web_addresses() {
    let server = Server::start();
    server.route("/story.html", Route::Body("text/html", page(&["<video src=\"/media/clip.wav\"></video>"])));
    server.route("/media/clip.wav", Route::Body("audio/wav", std::fs::read(sample("formats/clip.wav")).unwrap()));
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let manifest = dir.path().join("m.csv");
    std::fs::write(
        &manifest,
        format!(
            "video,article,title\n{v},{a},From the web\n{local},{a},Local video\n{missing},,Gone\n",
            v = server.url("/media/clip.wav"),
            a = server.url("/story.html"),
            local = sample("formats/clip.flac").display(),
            missing = server.url("/media/missing.mp4"),
        ),
    )
    .unwrap();
    let archive = dir.path().join("archive");
    let batch = || {
        bin()
            .env("VIDSCRIBE_HOME", &home)
            .env("VIDSCRIBE_YTDLP", ytdlp())
            .arg("batch")
            .arg(&manifest)
            .arg("-o")
            .arg(&archive)
            .args(["-m"])
            .arg(model())
            .args(["--threads", "2", "--timeout", "5", "--allow-outside"])
            .output()
            .unwrap()
    };
    let o = batch();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "one input failed: {err}");
    assert!(err.contains("missing.mp4") && err.contains("404"), "{err}");
    let mut folders: Vec<String> = std::fs::read_dir(&archive)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    assert_eq!(folders.len(), 2, "{folders:?}");
    assert!(folders.iter().any(|f| f.starts_with("clip-")), "{folders:?}");
    let web = folders
        .iter()
        .find(|f| archive.join(f).join("clip.json").is_file() && archive.join(f).join("media.wav").is_file())
        .expect("the fetched clip's report");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(archive.join(web).join("clip.json")).unwrap()).unwrap();
    assert_eq!(doc["input"]["path"], server.url("/media/clip.wav"));
    assert_eq!(doc["article"]["web"]["url"], server.url("/story.html"));
    assert_eq!(doc["meta"]["title"], "From the web");
    assert_eq!((server.hits("/story.html"), server.hits("/media/clip.wav")), (1, 1));
    // Searchable like any report.
    let hits = bin().arg("search").arg(&archive).args(["prisoners", "--json", "--flat"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&hits.stdout).lines().count(), 2, "{}", String::from_utf8_lossy(&hits.stdout));

    // Again: nothing fetched, nothing recognised.
    let o = batch();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("2 unchanged"), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!((server.hits("/story.html"), server.hits("/media/clip.wav")), (1, 1));
}
