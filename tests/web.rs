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
        .env("NO_PROXY", "127.0.0.1")
        .env("no_proxy", "127.0.0.1")
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap()
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
    assert_eq!(doc["schema"], 3);
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
    // The first in the story is a YouTube player: said plainly, nothing written.
    let o = run(home.path(), &dir.path().join("a"), &[&server.url("/two.html")]);
    let err = assert_clean_failure(&o, "a player embed");
    assert!(err.contains("youtube") && err.contains("--video"), "{err}");
    assert!(!dir.path().join("a").exists());
    // --embed 2: the <video>'s <source>.
    let o = run(home.path(), &dir.path().join("b"), &[&server.url("/two.html"), "--embed", "2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
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
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str); 6] = [
        ("/nothing.html", "404"),
        ("/loop", "redirects"),
        ("/slow.html", "no answer within 3 s"),
        ("/plain.html", "no embedded video"),
        ("/gone.html", "404"),
        ("/notmedia.html", "not a recognised"),
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
    // Not http(s).
    let o = bin().args(["run", "ftp://example.org/story.html", "-o"]).arg(dir.path().join("ftp")).output().unwrap();
    assert!(!o.status.success());
}
