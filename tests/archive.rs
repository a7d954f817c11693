//! The archive: batch over a collection (failures recorded, finished reports skipped, an
//! interrupted batch resumed to the same database), index from JSON outputs, and search at the
//! true time of what was said, names matched by sound, in vidscribe and in Datasette.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::*;
use vidscribe::archive::Store;

/// A collection: three 8-second clips (one with its article beside it) and a broken file.
fn collection(dir: &Path, broken: bool) -> PathBuf {
    let c = dir.join("collection");
    std::fs::create_dir_all(&c).unwrap();
    std::fs::copy(sample("formats/clip.wav"), c.join("a.wav")).unwrap();
    std::fs::copy(sample("article.txt"), c.join("a.txt")).unwrap();
    std::fs::copy(sample("formats/clip.ogg"), c.join("b.ogg")).unwrap();
    std::fs::copy(sample("formats/clip.mp3"), c.join("c.mp3")).unwrap();
    if broken {
        let flac = std::fs::read(sample("formats/clip.flac")).unwrap();
        std::fs::write(c.join("broken.flac"), &flac[..5000]).unwrap();
    }
    c
}

fn batch(inputs: &[&Path], archive: &Path) -> Output {
    batch_into(inputs, archive, &[])
}

fn search_json(archive: &Path, query: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let out = bin().arg("search").arg(archive).arg(query).args(["--json", "--flat"]).args(extra).output().unwrap();
    assert!(out.status.success(), "search {query:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn report_dirs(archive: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(archive)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn modified(p: &Path) -> SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

#[test]
fn batch_records_failures_skips_finished_reports_and_searches() {
    let dir = tempfile::tempdir().unwrap();
    let c = collection(dir.path(), true);
    let archive = dir.path().join("archive");
    let out = batch(&[&c], &archive);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "one input failed: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("3 made") && err.contains("1 failed") && err.contains("broken.flac"), "{err}");

    // One folder per report, with the files of `run` and a copy of the media itself, named
    // after its container (never after the input).
    let dirs = report_dirs(&archive);
    assert_eq!(dirs.len(), 3, "{dirs:?}");
    for (d, (media, stored)) in
        dirs.iter().zip([("a.wav", "media.wav"), ("b.ogg", "media.ogg"), ("c.mp3", "media.mp3")])
    {
        let stem = &media[..1];
        assert!(d.starts_with(&format!("{stem}-")), "{d}");
        for f in [
            stored.to_string(),
            format!("{stem}.srt"),
            format!("{stem}.vtt"),
            format!("{stem}.json"),
            format!("{stem}.txt"),
            "report.html".into(),
        ] {
            assert!(archive.join(d).join(&f).is_file(), "{d}/{f} missing");
        }
        assert_eq!(std::fs::read(archive.join(d).join(stored)).unwrap(), std::fs::read(c.join(media)).unwrap());
    }
    let page = std::fs::read_to_string(archive.join(&dirs[0]).join("report.html")).unwrap();
    assert!(page.contains(r#"src="media.wav""#), "the page plays the archived media");

    // The database: reports, passages with words, paragraphs of a's article, the failure.
    let store = Store::open(&archive, false).unwrap();
    let count = |sql: &str| -> i64 { store.sqlite().unwrap().query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM reports"), 3);
    assert!(count("SELECT count(*) FROM passages") >= 3);
    assert!(count("SELECT count(*) FROM words") >= 30);
    assert!(count("SELECT count(*) FROM paragraphs") >= 10, "a's article is stored");
    let (input, error): (String, String) = store
        .sqlite()
        .unwrap()
        .query_row("SELECT input, error FROM failures", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert!(input.ends_with("broken.flac") && error.contains("damaged"), "{input}: {error}");
    let log = std::fs::read_to_string(archive.join("batch.log")).unwrap();
    assert!(log.lines().any(|l| l.contains("FAILED") && l.contains("broken.flac")), "{log}");
    drop(store);

    // A second run makes nothing again: the log says so and no file is rewritten.
    let json = archive.join(&dirs[1]).join("b.json");
    let before = modified(&json);
    let out = batch(&[&c], &archive);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("0 made") && err.contains("3 unchanged"), "{err}");
    assert_eq!(modified(&json), before, "a finished report was written again");
    let log = std::fs::read_to_string(archive.join("batch.log")).unwrap();
    assert_eq!(log.lines().filter(|l| l.contains("Z unchanged ")).count(), 3, "{log}");

    // The clips open with "…prisoners of war…": every report has it, at its true time.
    let hits = search_json(&archive, "\"prisoners of war\"", &[]);
    assert_eq!(hits.len(), 3, "{hits:?}");
    for h in &hits {
        let start = h["start_ms"].as_u64().unwrap();
        assert!((4_500..=6_000).contains(&start), "'prisoners' is said at about 5.3 s: {h}");
        let url = h["url"].as_str().unwrap();
        assert!(url.starts_with("file://") && url.contains("/report.html#t="), "{url}");
    }
    let a = hits.iter().find(|h| h["report"].as_str().unwrap().starts_with("a-")).unwrap();
    assert!(a["kind"].is_string(), "a is linked to its article: {a}");
    // The hit's link opens the archived page, playing the archived media, at that second.
    let url = a["url"].as_str().unwrap();
    let (page, t) = url.trim_start_matches("file://").split_once("#t=").unwrap();
    let seen = browser_check(Path::new(page), "", t);
    assert!(seen["video"]["ready_state"].as_u64().unwrap() >= 1, "{seen}");
    let at = seen["deep_link"]["current_time"].as_f64().unwrap();
    assert!((at * 1000.0 - a["start_ms"].as_f64().unwrap()).abs() < 500.0, "opened at {at} s: {a}");
    let b = hits.iter().find(|h| h["report"].as_str().unwrap().starts_with("b-")).unwrap();
    assert!(b["kind"].is_null() && b["paragraph"].is_null(), "b has no article: {b}");
}

#[test]
fn interrupted_batch_resumes_to_the_same_archive() {
    let dir = tempfile::tempdir().unwrap();
    let c = collection(dir.path(), false);
    // The uninterrupted reference.
    let reference = dir.path().join("reference");
    let out = batch(&[&c], &reference);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let archive = dir.path().join("archive");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vidscribe"))
        .arg("batch")
        .arg(&c)
        .arg("-o")
        .arg(&archive)
        .arg("-m")
        .arg(model())
        .args(["--threads", "2"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("[1/3] made"), "{first}");
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "interrupted: {rest:?}");
    assert!(rest.iter().any(|l| l.contains("resume")), "{rest:?}");
    // Nothing half-written: every report folder is complete, no temporary file anywhere.
    for d in report_dirs(&archive) {
        let names: Vec<String> = std::fs::read_dir(archive.join(&d))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".part")), "{d}: {names:?}");
        assert!(names.len() == 6 || names.is_empty(), "{d}: {names:?}");
    }
    let out = batch(&[&c], &archive);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("1 unchanged") || err.contains("2 unchanged"), "the finished report is kept: {err}");
    let dump = |a: &Path| Store::open(a, false).unwrap().dump().unwrap();
    assert_eq!(dump(&archive), dump(&reference));
}

/// The committed transcript of the sample report (real recognition, linked to its article).
fn linked_fixture(dir: &Path, replace: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(root().join("tests/golden/report.linked.json")).unwrap();
    for (a, b) in replace {
        text = text.replace(a, b);
    }
    let d = dir.join("fixture");
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join("report.json");
    std::fs::write(&p, text).unwrap();
    p
}

fn index(inputs: &[&Path], archive: &Path) {
    let out = bin().arg("index").args(inputs).arg("-o").arg(archive).output().unwrap();
    assert!(out.status.success(), "index: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn search_finds_quotes_at_their_true_time_and_names_by_sound() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    index(&[&linked_fixture(dir.path(), &[])], &archive);
    let script = script();
    // Quotes from the script: the hit starts when the quote does, and belongs to its paragraph.
    for (segment, query) in [(11, "\"we need our children\""), (6, "\"I remember the first flight\"")] {
        let row = &script[segment - 1];
        let hits = search_json(&archive, query, &[]);
        assert!(!hits.is_empty(), "{query}");
        let h = &hits[0];
        let start = h["start_ms"].as_u64().unwrap();
        assert!(start.abs_diff(row.start_ms) <= 500, "{query}: hit at {start} ms, said at {} ms", row.start_ms);
        assert_eq!(h["paragraph"].as_u64(), Some(row.paragraph as u64), "{query}: {h}");
        assert_eq!(h["kind"], "verbatim", "{h}");
        let marked: Vec<&str> = h["snippet"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["mark"] == true)
            .map(|p| p["text"].as_str().unwrap())
            .collect();
        assert!(!marked.is_empty(), "{h}");
    }
    // Phrases keep their order; words do not need to.
    assert!(search_json(&archive, "\"war prisoners\"", &[]).is_empty());
    assert!(!search_json(&archive, "war prisoners", &[]).is_empty());
    // Exclusion, prefixes, OR.
    let all = search_json(&archive, "prisoners", &["--limit", "100"]).len();
    let without = search_json(&archive, "prisoners -December", &["--limit", "100"]).len();
    assert!(without < all && without > 0, "{without} of {all}");
    assert!(!search_json(&archive, "negotia*", &[]).is_empty());
    assert!(!search_json(&archive, "zzzunheard OR negotiation", &[]).is_empty());
    // Whatever is typed, the engine never sees syntax it rejects.
    for q in [
        "\"prisoners of",
        "NEAR(prisoners war)",
        "prisoners AND",
        "*",
        "-",
        "\"",
        "text:prisoners",
        "^prisoners",
        "(((",
        "prisoners\"\"\"",
        "OR OR OR",
    ] {
        let out = bin().arg("search").arg(&archive).arg(q).output().unwrap();
        assert!(out.status.success(), "{q:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(!search_json(&archive, "\"prisoners of", &[]).is_empty(), "an unbalanced quote is taken literally");
    // Filters: the fixture has no date, so a date range excludes it.
    assert!(search_json(&archive, "prisoners", &["--since", "2020-01-01"]).is_empty());
    assert!(!search_json(&archive, "prisoners", &["--language", "en"]).is_empty());
    // A bad date is a usage error (exit 2), as clap reports it.
    for bad in ["last week", "2020-02-30"] {
        let out = bin().arg("search").arg(&archive).args(["prisoners", "--since", bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // A query may begin with an exclusion, without `--`.
    let out = bin().arg("search").arg(&archive).args(["-Baku prisoners", "--json", "--flat"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = bin().args(["search", "/nonexistent/archive", "x"]).output().unwrap();
    assert_clean_failure(&out, "no archive");

    // A report where the recogniser misheard the names: found by the right spelling.
    let misheard = dir.path().join("misheard");
    std::fs::create_dir(&misheard).unwrap();
    let f = linked_fixture(&misheard, &[("Sahakyan", "Sahakian"), ("Gerasimov", "Gerasimoff")]);
    let archive2 = dir.path().join("archive2");
    index(&[&f], &archive2);
    for (query, heard) in [("Sahakyan", "sahakian"), ("Gerasimov", "gerasimoff")] {
        let hits = search_json(&archive2, query, &[]);
        assert!(!hits.is_empty(), "{query} finds {heard}");
        assert!(hits.iter().all(|h| h["matched"].as_array().unwrap().iter().any(|m| m == heard)), "{query}: {hits:?}");
    }
    assert!(search_json(&archive2, "Ronaldo", &[]).is_empty(), "an unrelated name finds nothing");
}

#[test]
fn index_reads_older_documents_and_rebuilds_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    // Schema 1, as written before the archive existed.
    let f = linked_fixture(dir.path(), &[("\"schema\": 2", "\"schema\": 1")]);
    let a = dir.path().join("a");
    index(&[&f], &a);
    index(&[&f], &a);
    let mut store = Store::open(&a, false).unwrap();
    let n: i64 = store.sqlite().unwrap().query_row("SELECT count(*) FROM reports", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1, "indexing again replaces, never duplicates");
    let b = dir.path().join("b");
    index(&[f.parent().unwrap()], &b);
    assert_eq!(store.dump().unwrap(), Store::open(&b, false).unwrap().dump().unwrap());
    // The replaced report left nothing behind in the full-text indexes either.
    let hits = |x: &Path| search_json(x, "prisoners OR children OR Gyumri", &["--limit", "100"]);
    assert_eq!(hits(&a), hits(&b));
    assert!(!hits(&a).is_empty());
    let indexed: i64 = store
        .sqlite()
        .unwrap()
        .query_row("SELECT count(*) FROM reports_fts WHERE reports_fts MATCH 'prisoners'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(indexed, 1, "the first indexing of the report was removed from reports_fts");
    let out = bin().args(["index", "/nonexistent/dir", "-o"]).arg(&b).output().unwrap();
    assert_clean_failure(&out, "missing input");
}

/// The archive as Datasette serves it: full-text search is detected on passages, and its JSON
/// API finds the passage vidscribe finds.
#[test]
fn datasette_serves_the_archive_and_finds_the_same_passage() {
    let datasette = root().join("tests/.venv/bin/datasette");
    assert!(datasette.is_file(), "Datasette is missing at {}: scripts/test.sh installs it", datasette.display());
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    index(&[&linked_fixture(dir.path(), &[])], &archive);
    let ours = search_json(&archive, "negotiation", &[]);
    assert!(!ours.is_empty());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = Command::new(&datasette)
        .arg("serve")
        .arg(archive.join("archive.db"))
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let get = |path: &str| -> Option<String> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
        let mut body = String::new();
        s.read_to_string(&mut body).ok()?;
        Some(body)
    };
    let started = Instant::now();
    let mut response = None;
    while started.elapsed() < Duration::from_secs(60) {
        if let Some(r) = get("/archive/passages.json?_search=negotiation&_shape=array") {
            response = Some(r);
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = server.kill();
    let _ = server.wait();
    let response = response.expect("Datasette answered");
    assert!(response.starts_with("HTTP/1.") && response.contains(" 200 "), "{response}");
    let body = &response[response.find("\r\n\r\n").unwrap() + 4..];
    let rows: Vec<serde_json::Value> = serde_json::from_str(body).unwrap();
    let texts: Vec<&str> = rows.iter().map(|r| r["text"].as_str().unwrap()).collect();
    assert!(texts.contains(&ours[0]["text"].as_str().unwrap()), "{texts:?} vs {}", ours[0]["text"]);
}

/// A manifest gives each report its title, date and source; the filters use them; a changed
/// title is brought up to date without recognising again.
#[test]
fn manifest_metadata_filters_and_updates_without_recognition() {
    let dir = tempfile::tempdir().unwrap();
    let c = collection(dir.path(), false);
    let manifest = c.join("manifest.csv");
    let write = |title: &str| {
        std::fs::write(
            &manifest,
            format!(
                "video,article,title,date,source\na.wav,a.txt,\"{title}\",2021-12-10,CivilNet\nb.ogg,,Second,2022-03-01,Hetq\n"
            ),
        )
        .unwrap()
    };
    write("Prisoners, a first report");
    let archive = dir.path().join("archive");
    let out = batch(&[&manifest], &archive);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(report_dirs(&archive).len(), 2, "c.mp3 is not in the manifest");
    let hits = search_json(&archive, "prisoners", &["--source", "CivilNet"]);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["title"], "Prisoners, a first report");
    assert_eq!(hits[0]["date"], "2021-12-10");
    assert_eq!(search_json(&archive, "prisoners", &["--since", "2022-01-01"]).len(), 1);
    assert_eq!(search_json(&archive, "prisoners", &["--until", "2021-12-31"]).len(), 1);
    assert!(search_json(&archive, "prisoners", &["--since", "2023-01-01"]).is_empty());

    let a_json = archive.join(&report_dirs(&archive)[0]).join("a.json");
    let words_before = std::fs::read_to_string(&a_json).unwrap();
    write("Prisoners of war, retitled");
    let out = batch(&[&manifest], &archive);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("0 made") && err.contains("1 updated") && err.contains("1 unchanged"), "{err}");
    let hits = search_json(&archive, "prisoners", &["--source", "CivilNet"]);
    assert_eq!(hits[0]["title"], "Prisoners of war, retitled");
    let after: vidscribe::formats::json::Document =
        serde_json::from_str(&std::fs::read_to_string(&a_json).unwrap()).unwrap();
    let before: vidscribe::formats::json::Document = serde_json::from_str(&words_before).unwrap();
    assert_eq!(after.meta.title.as_deref(), Some("Prisoners of war, retitled"));
    assert_eq!(after.transcript, before.transcript, "not recognised again");

    // A manifest with a bad date is refused as a whole, naming the line.
    std::fs::write(&manifest, "video,date\na.wav,10/12/2021\n").unwrap();
    let out = batch(&[&manifest], &archive);
    let err = assert_clean_failure(&out, "bad manifest");
    assert!(err.contains("line 2"), "{err}");
}

/// A batch killed outright (SIGKILL: no chance to release its claim) on this machine: the next
/// batch on the same archive.db sees that the holder no longer runs and takes its report over
/// at once, not after the lease.
#[test]
fn a_killed_batchs_report_is_taken_over_at_once_on_the_same_machine() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("collection");
    std::fs::create_dir_all(&c).unwrap();
    std::fs::copy(sample("report.webm"), c.join("report.webm")).unwrap();
    let archive = dir.path().join("archive");
    let batch = || {
        let mut cmd = std_bin();
        cmd.arg("batch").arg(&c).arg("-o").arg(&archive).args(["--lease", "600", "--threads", "1", "-m"]).arg(model());
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        cmd
    };
    let mut first = batch().spawn().unwrap();
    let started = Instant::now();
    loop {
        let held = Store::open(&archive, false).ok().and_then(|s| {
            s.sqlite().unwrap().query_row("SELECT count(*) FROM claims", [], |r| r.get::<_, i64>(0)).ok()
        });
        if held == Some(1) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the first batch never claimed its report");
        std::thread::sleep(Duration::from_millis(100));
    }
    first.kill().unwrap();
    let _ = first.wait();
    let t = Instant::now();
    let out = batch().output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let log = std::fs::read_to_string(archive.join("batch.log")).unwrap();
    assert!(log.contains("took over report-"), "{log}");
    assert!(t.elapsed() < Duration::from_secs(300), "not after the 600 s lease: {:?}", t.elapsed());
    assert_eq!(report_dirs(&archive).len(), 1);
}

/// A common word over a collection: each report once, with its best three passages and how many
/// more it has, twenty reports a page, in the order the flat list ranks them; pages do not
/// repeat a report, and nothing is lost between the grouped and the flat view.
#[test]
fn a_common_word_shows_each_report_once_with_its_best_passages() {
    let dir = tempfile::tempdir().unwrap();
    let archive = synthetic_archive(dir.path(), 60);
    let grouped = |extra: &[&str]| -> Vec<serde_json::Value> {
        let out = bin().arg("search").arg(&archive).args(["prisoners", "--json"]).args(extra).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    let flat = search_json(&archive, "prisoners", &["--limit", "1000"]);
    let mut per_report: Vec<(String, usize)> = Vec::new();
    for h in &flat {
        let r = h["report"].as_str().unwrap().to_string();
        match per_report.last_mut() {
            Some((last, n)) if *last == r => *n += 1,
            _ => per_report.push((r, 1)),
        }
    }
    assert!(per_report.len() >= 40, "the word is common: {} reports", per_report.len());
    assert!(
        flat.iter().take(20).map(|h| h["report"].as_str().unwrap()).collect::<std::collections::BTreeSet<_>>().len()
            < 10,
        "the flat first page is a few reports' passages: the reason for grouping"
    );
    let first = grouped(&[]);
    let second = grouped(&["--page", "2"]);
    assert_eq!(first.len(), 20);
    let mut seen = std::collections::BTreeSet::new();
    for (g, (report, n)) in first.iter().chain(&second).zip(&per_report) {
        assert_eq!(g["report"].as_str().unwrap(), report, "the flat list's report order");
        assert!(seen.insert(report.clone()), "{report} twice");
        let hits = g["hits"].as_array().unwrap();
        assert!(!hits.is_empty() && hits.len() <= 3, "{g}");
        assert_eq!(hits.len() + g["more"].as_u64().unwrap() as usize, *n, "{report}: every passage counted");
        // Shown in speaking order, each one of the report's flat hits.
        let starts: Vec<u64> = hits.iter().map(|h| h["start_ms"].as_u64().unwrap()).collect();
        assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");
        for s in &starts {
            assert!(flat.iter().any(|h| h["report"] == g["report"] && h["start_ms"] == *s), "{report} at {s}");
        }
    }
    // In text: a heading per report, the rest counted.
    let out = bin().arg("search").arg(&archive).arg("prisoners").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().filter(|l| l.starts_with(|c: char| c.is_ascii_digit())).count(), 20, "{text}");
    assert!(text.contains("more in this report"), "{text}");
}

/// archive.db ranks the candidates (each word's weightiest reports, kept as reports are indexed)
/// first, the other matches after them: paging through a query gives every matching report
/// once, the reports FTS5 finds; the kept reports are those a rebuild from the passages keeps.
#[test]
fn archive_db_ranks_the_weightiest_reports_first_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = tmp.path().join("fixture");
    run_tool(
        Command::new("python3").arg(root().join("scripts/archive-fixture.py")).arg("400").arg(&fixture),
        "scripts/archive-fixture.py failed",
    );
    let folder = tmp.path().join("archive");
    index(&[&fixture], &folder);
    // Ten of them indexed again: their old impacts and counts go with them.
    let again: Vec<PathBuf> = (0..10).map(|i| fixture.join(format!("r00/report-{i:05}.json"))).collect();
    index(&again.iter().map(PathBuf::as_path).collect::<Vec<_>>(), &folder);
    let mut store = Store::open(&folder, false).unwrap();
    assert_paging_loses_and_repeats_nothing(&mut store, "BM25 over all", |store, q| {
        store
            .sqlite()
            .unwrap()
            .prepare("SELECT rowid FROM reports_fts WHERE reports_fts MATCH ?1 ORDER BY bm25(reports_fts), rowid")
            .unwrap()
            .query_map([q.positive_fts5().unwrap()], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    });

    // Each word's count of reports is true, and the reports kept for it are its weightiest —
    // the same as a rebuild from the stored passages keeps (an archive of schema 5 opened for
    // writing is rebuilt so).
    type Kept = Vec<(String, f64, i64)>;
    type Stats = Vec<(String, i64, i64, Option<f64>)>;
    let tables = |store: &Store| -> (Kept, Stats) {
        let conn = store.sqlite().unwrap();
        let impacts = conn
            .prepare("SELECT term, impact, report_id FROM impacts ORDER BY term, impact DESC, report_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let stats = conn
            .prepare("SELECT term, reports, kept, floor FROM term_stats WHERE reports > 0 ORDER BY term")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        (impacts, stats)
    };
    let (impacts, stats) = tables(&store);
    let conn = store.sqlite().unwrap();
    let mut full = 0;
    let all: i64 = conn.query_row("SELECT count(*) FROM reports", [], |r| r.get(0)).unwrap();
    assert_eq!(stats[0], (String::new(), all, 0, None), "the empty word counts the reports");
    for (term, reports, kept, floor) in &stats[1..] {
        let has: i64 = conn
            .query_row("SELECT count(*) FROM reports_fts WHERE reports_fts MATCH ?1", [format!("\"{term}\"")], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(*reports, has, "{term}: reports counted");
        let rows: Vec<f64> = impacts.iter().filter(|(t, _, _)| t == term).map(|(_, w, _)| *w).collect();
        assert_eq!(rows.len() as i64, *kept, "{term}");
        if *kept == vidscribe::archive::store::CANDIDATES_PER_TERM as i64 {
            full += 1;
            assert_eq!(*floor, rows.iter().copied().reduce(f64::min), "{term}");
        }
    }
    assert!(full > 10, "common words keep their weightiest reports only: {full}");
    drop(store);
    let conn = rusqlite::Connection::open(folder.join("archive.db")).unwrap();
    conn.pragma_update(None, "user_version", 5).unwrap();
    drop(conn);
    let store = Store::open(&folder, true).unwrap();
    let (rebuilt_impacts, rebuilt_stats) = tables(&store);
    // Reports indexed again left their words with fewer kept than they could have.
    let differ: Vec<&String> = stats.iter().zip(&rebuilt_stats).filter(|(a, b)| a != b).map(|(a, _)| &a.0).collect();
    assert_eq!(stats.len(), rebuilt_stats.len());
    assert!(differ.len() < stats.len() / 10, "{} of {} words differ from a rebuild", differ.len(), stats.len());
    let kept_same = impacts.iter().filter(|(t, _, _)| !differ.contains(&t)).count();
    let rebuilt_same = rebuilt_impacts.iter().filter(|(t, _, _)| !differ.contains(&t)).count();
    // (Which of two reports of equal impact is kept at the floor follows the order they came in.)
    let kept: Vec<_> = impacts.iter().filter(|(t, _, _)| !differ.contains(&t)).map(|(t, w, _)| (t, w)).collect();
    let rebuilt: Vec<_> =
        rebuilt_impacts.iter().filter(|(t, _, _)| !differ.contains(&t)).map(|(t, w, _)| (t, w)).collect();
    let first_difference = kept.iter().zip(&rebuilt).find(|(a, b)| a != b);
    assert!(first_difference.is_none() && kept_same == rebuilt_same, "{first_difference:?} {kept_same} {rebuilt_same}");
}
