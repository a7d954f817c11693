//! The editor's loop: an SRT edited as editors do (a word fixed, a name respelled, a cue split,
//! two merged, one moved by 300 ms) applied to a report in an archive — every output agrees
//! with the edit, unchanged words keep their times, the archive finds the new word and not the
//! old one; applying it again changes nothing; a re-run keeps the edits; bad edits are refused
//! in one line with nothing changed.
mod common;

use std::path::{Path, PathBuf};

use common::{assert_clean_failure, batch_into, bin, model, sample};
use vidscribe::captions::Cue;
use vidscribe::formats::json::Document;

fn doc(path: &Path) -> Document {
    vidscribe::formats::json::read(std::fs::File::open(path).unwrap()).unwrap()
}

fn srt(cues: &[Cue]) -> String {
    let mut out = Vec::new();
    vidscribe::formats::srt::write(&mut out, cues).unwrap();
    String::from_utf8(out).unwrap()
}

fn read_cues(path: &Path) -> Vec<Cue> {
    let (parsed, _) = vidscribe::formats::read::subtitle_file(path).unwrap();
    assert!(parsed.problems.is_empty(), "{}: {:?}", path.display(), parsed.problems);
    parsed.cues
}

/// The folder's files and their contents.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| (e.path(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

fn search(archive: &Path, query: &str) -> Vec<serde_json::Value> {
    let out = bin().arg("search").arg(archive).arg(query).args(["--json", "--flat"]).output().unwrap();
    assert!(out.status.success(), "search {query:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn apply(edited: &Path, json: &Path, extra: &[&str]) -> std::process::Output {
    bin().arg("apply").arg(edited).arg("--to").arg(json).args(["--editor", "Test Editor"]).args(extra).output().unwrap()
}

/// An archive of the sample report made by `batch` in `dir`: the archive, the report's folder
/// and its id.
fn sample_archive(dir: &Path) -> (PathBuf, PathBuf, String) {
    let archive = dir.join("archive");
    let out = batch_into(&[&sample("report.mp4")], &archive, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let folder = std::fs::read_dir(&archive).unwrap().flatten().map(|e| e.path()).find(|p| p.is_dir()).unwrap();
    let id = folder.file_name().unwrap().to_string_lossy().into_owned();
    (archive, folder, id)
}

/// What the editor did, for the checks.
struct Edit {
    cues: Vec<Cue>,
    /// (before, after) of the two words changed.
    fixed: (String, String),
    respelled: (String, String),
    /// The word fixed: said once in the report, at this time.
    fixed_at_ms: u64,
    retimed: (u64, u64),
}

fn alphabetic(w: &str) -> bool {
    w.chars().all(char::is_alphabetic)
}

/// Edits `cues` as an editor would: the five kinds, each on a cue of its own.
fn edit(cues: &[Cue], d: &Document) -> Edit {
    let words: Vec<&vidscribe::asr::Word> = d.transcript.words().collect();
    let count = |w: &str| words.iter().filter(|x| vidscribe::text::bare(&x.text).eq_ignore_ascii_case(w)).count();
    let mut cues = cues.to_vec();
    let mut used = vec![false; cues.len()];
    // A word fixed: a plain word of five letters or more said once, made one that is never said.
    let (fi, fixed) = cues
        .iter()
        .enumerate()
        .find_map(|(i, c)| {
            let w = c
                .lines
                .iter()
                .flat_map(|l| l.split_whitespace())
                .find(|w| w.len() >= 5 && alphabetic(w) && count(w) == 1)?;
            Some((i, w.to_string()))
        })
        .expect("a word said once");
    used[fi] = true;
    let fixed_at_ms = words.iter().find(|w| w.text == fixed).unwrap().start_ms;
    for l in &mut cues[fi].lines {
        *l = l.replacen(&fixed, "zanzibarian", 1);
    }
    // A name respelled: a capitalised word, not first on its line, in another cue.
    let (ri, name) = cues
        .iter()
        .enumerate()
        .filter(|(i, _)| !used[*i])
        .find_map(|(i, c)| {
            let w = c
                .lines
                .iter()
                .flat_map(|l| l.split_whitespace().skip(1))
                .find(|w| w.len() >= 4 && alphabetic(w) && w.chars().next().is_some_and(char::is_uppercase))?;
            Some((i, w.to_string()))
        })
        .expect("a name");
    used[ri] = true;
    let respelled = format!("{}h", name);
    for l in &mut cues[ri].lines {
        if l.split_whitespace().skip(1).any(|w| w == name) {
            *l = l.replacen(&format!(" {name}"), &format!(" {respelled}"), 1);
            break;
        }
    }
    // A cue moved 300 ms later (one with room after it).
    let ti = (0..cues.len() - 1)
        .find(|&i| !used[i] && cues[i + 1].start_ms >= cues[i].end_ms + 400)
        .expect("a cue with room");
    used[ti] = true;
    cues[ti].start_ms += 300;
    cues[ti].end_ms += 300;
    let retimed = (cues[ti].start_ms, cues[ti].end_ms);
    // Two cues merged into one, a line each.
    let mi = (0..cues.len() - 1).find(|&i| !used[i] && !used[i + 1]).expect("two cues to merge");
    used[mi] = true;
    used[mi + 1] = true;
    let next = cues.remove(mi + 1);
    used.remove(mi + 1);
    cues[mi] = Cue {
        start_ms: cues[mi].start_ms,
        end_ms: next.end_ms,
        lines: vec![cues[mi].lines.join(" "), next.lines.join(" ")],
        speakers: Vec::new(),
    };
    // A cue of two lines split into two cues, at the line break and the middle of its time.
    let si = (0..cues.len()).find(|&i| !used[i] && cues[i].lines.len() == 2).expect("a two-line cue");
    let c = cues[si].clone();
    let mid = (c.start_ms + c.end_ms) / 2;
    cues[si] = Cue { start_ms: c.start_ms, end_ms: mid, lines: vec![c.lines[0].clone()], speakers: Vec::new() };
    cues.insert(si + 1, Cue { start_ms: mid, end_ms: c.end_ms, lines: vec![c.lines[1].clone()], speakers: Vec::new() });
    Edit { cues, fixed: (fixed, "zanzibarian".into()), respelled: (name, respelled), fixed_at_ms, retimed }
}

#[test]
fn an_edited_srt_reaches_every_output_and_the_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let (archive, folder, _) = sample_archive(tmp.path());
    let json = folder.join("report.json");
    let before = doc(&json);
    let e = edit(&read_cues(&folder.join("report.srt")), &before);
    let edited = tmp.path().join("edited.srt");
    std::fs::write(&edited, srt(&e.cues)).unwrap();

    let out = apply(&edited, &json, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("revision 1") && err.contains("updated the report"), "{err}");
    let after = doc(&json);

    // The JSON lists each change, as the editor's first revision.
    assert_eq!(after.revisions.len(), 1);
    assert_eq!(after.revisions[0].editor, "Test Editor");
    let edits: Vec<&vidscribe::correction::Correction> =
        after.corrections.iter().filter(|c| c.reason == vidscribe::correction::Reason::Edited).collect();
    use vidscribe::correction::Change;
    let has = |change: Change, pred: &dyn Fn(&vidscribe::correction::Correction) -> bool| {
        edits.iter().any(|c| c.edit.as_ref().unwrap().change == change && pred(c))
    };
    assert!(has(Change::Words, &|c| c.before == e.fixed.0 && c.after == e.fixed.1), "{edits:#?}");
    assert!(has(Change::Words, &|c| c.before == e.respelled.0 && c.after == e.respelled.1), "{edits:#?}");
    assert!(has(Change::CueTimes, &|c| (c.start_ms, c.end_ms) == e.retimed), "{edits:#?}");
    assert!(has(Change::CueSplit, &|_| true) && has(Change::CueMerge, &|_| true), "{edits:#?}");
    assert_eq!(edits.len(), 5, "{edits:#?}");

    // Unchanged words: the very same times; the two changed words: the times of the words
    // they replace.
    let old: Vec<_> = before.transcript.words().map(|w| (w.text.clone(), w.start_ms, w.end_ms)).collect();
    let new: Vec<_> = after.transcript.words().map(|w| (w.text.clone(), w.start_ms, w.end_ms)).collect();
    assert_eq!(old.len(), new.len());
    let changed: Vec<usize> = (0..old.len()).filter(|&i| old[i] != new[i]).collect();
    assert_eq!(changed.len(), 2, "only the two corrected words differ");
    for i in changed {
        assert_eq!((old[i].1, old[i].2), (new[i].1, new[i].2), "{:?} → {:?}", old[i], new[i]);
    }

    // Every output agrees with the edit: SRT and VTT cue for cue (the editor's times and lines),
    // the text, the page and its captions track.
    let strip = |cues: Vec<Cue>| cues.into_iter().map(|c| (c.start_ms, c.end_ms, c.lines)).collect::<Vec<_>>();
    assert_eq!(strip(read_cues(&folder.join("report.srt"))), strip(e.cues.clone()));
    let vtt: Vec<Cue> = read_cues(&folder.join("report.vtt"));
    assert_eq!(strip(vtt), strip(e.cues.clone()));
    let captions = after.captions.as_ref().unwrap();
    assert!(captions.edited);
    assert!(captions.cues.iter().any(|c| (c.start_ms, c.end_ms) == e.retimed));
    for f in ["report.txt", "report.html"] {
        let text = std::fs::read_to_string(folder.join(f)).unwrap();
        assert!(text.contains("zanzibarian") && text.contains(&e.respelled.1), "{f}");
    }
    // (The page also shows the article, which may use the old word.)
    let txt = std::fs::read_to_string(folder.join("report.txt")).unwrap();
    assert!(
        !txt.split_whitespace().any(|w| vidscribe::text::bare(w) == e.fixed.0),
        "the text still says {}",
        e.fixed.0
    );

    // The archive finds the corrected word at the second it was said, and not the old one.
    let hits = search(&archive, "zanzibarian");
    assert_eq!(hits.len(), 1, "{hits:?}");
    let at = hits[0]["start_ms"].as_u64().unwrap();
    assert!(at <= e.fixed_at_ms && e.fixed_at_ms < at + 15_000, "hit at {at} ms, the word at {}", e.fixed_at_ms);
    let words = hits[0]["words"].as_array().map(|w| w.iter().filter_map(|x| x["text"].as_str()).collect::<Vec<_>>());
    if let Some(words) = words {
        assert!(words.iter().any(|w| w.contains("zanzibarian")), "{hits:?}");
    }
    // (A search for the old word may still find a word of the same stem; never the word.)
    let says_old = |h: &serde_json::Value| {
        h["text"].as_str().unwrap_or("").split_whitespace().any(|w| vidscribe::text::bare(w) == e.fixed.0)
    };
    let old_hits = search(&archive, &e.fixed.0);
    assert!(!old_hits.iter().any(says_old), "the old word is still found: {old_hits:?}");

    // The archive's database keeps the revision, with its changes.
    let db = rusqlite::Connection::open(archive.join("archive.db")).unwrap();
    let (editor, changes): (String, String) = db
        .query_row("SELECT editor, changes FROM revisions JOIN reports ON reports.id = report_id", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(editor, "Test Editor");
    let changes: Vec<serde_json::Value> = serde_json::from_str(&changes).unwrap();
    assert_eq!(changes.len(), 5);
    drop(db);

    // The same edit again: nothing to do, nothing written.
    let files = snapshot(&folder);
    let out = apply(&edited, &json, &[]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("changes nothing"));
    assert_eq!(snapshot(&folder), files, "applying the same edit twice rewrote files");

    // Captions rebuilt from the JSON under the same profile keep the editor's cues.
    let again = tmp.path().join("again");
    let out = bin().arg("subtitle").arg(&json).arg("-o").arg(&again).args(["-f", "srt", "-q"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(strip(read_cues(&again.join("report.srt"))), strip(e.cues.clone()));
}

/// A sentence recognition missed, put back by an editor: its words are timed from the audio where
/// it was said (the sample's true times), not spread into the gap where they might fit; without
/// the audio they are spread, and `apply` says so.
#[test]
fn new_words_are_timed_from_the_audio_where_they_were_said() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("made");
    common::transcribe_json(&sample("report.mp4"), &dir, &["--threads", "2"]);
    let truth = common::script().into_iter().nth(2).unwrap();
    assert!(truth.text.starts_with("The fighting in November"), "{}", truth.text);
    // Recognition that missed the sentence: its words taken out of the report.
    let mut missed = doc(&dir.join("report.json"));
    for s in &mut missed.transcript.segments {
        s.words.retain(|w| w.start_ms + 500 < truth.start_ms || w.start_ms > truth.end_ms + 200);
        s.text = s.words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
    }
    missed.transcript.segments.retain(|s| !s.words.is_empty());
    let words: Vec<&str> = missed.transcript.words().map(|w| w.text.as_str()).collect();
    let at = missed.transcript.words().position(|w| w.start_ms > truth.start_ms).unwrap();
    let edited = tmp.path().join("edited.txt");
    std::fs::write(&edited, format!("{} {} {}", words[..at].join(" "), truth.text, words[at..].join(" "))).unwrap();

    // The same edit applied with the audio, and with the audio nowhere to be found.
    let mut results = Vec::new();
    for (name, extra) in [
        ("heard", vec!["-m".to_string(), model().display().to_string()]),
        ("unheard", vec!["--media".to_string(), tmp.path().join("gone.mp4").display().to_string()]),
    ] {
        let folder = tmp.path().join(name);
        std::fs::create_dir_all(&folder).unwrap();
        let json = folder.join("report.json");
        vidscribe::formats::json::write(&mut std::fs::File::create(&json).unwrap(), &missed).unwrap();
        // The media beside the report, as a batch keeps it.
        std::fs::copy(sample("report.mp4"), folder.join("media.mp4")).unwrap();
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let out = apply(&edited, &json, &extra);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        let d = doc(&json);
        let c = d
            .corrections
            .iter()
            .find(|c| c.after.contains("fighting"))
            .unwrap_or_else(|| panic!("{name}: the sentence is not a correction: {:#?}", d.corrections));
        let timing = c.edit.as_ref().unwrap().timing;
        let added: Vec<_> = d
            .transcript
            .words()
            .skip(at)
            .take(truth.text.split_whitespace().count())
            .map(|w| (w.start_ms, w.end_ms))
            .collect();
        let (start, end) = (added[0].0, added.last().unwrap().1);
        let cue = d.captions.as_ref().unwrap().cues.iter().find(|q| q.end_ms > start).unwrap().start_ms;
        eprintln!(
            "{name}: sentence {start}–{end} ms (truth {}–{}), its first cue at {cue} ms, timing {timing:?}",
            truth.start_ms, truth.end_ms
        );
        results.push((said, timing, start, end, cue, added));
    }
    let (said, timing, start, end, cue, added) = &results[0];
    assert_eq!(*timing, Some(vidscribe::correction::Timing::Aligned), "{said}");
    // DTW puts a word's start up to a few hundred ms late; the cue opens with the speech.
    assert!(start.abs_diff(truth.start_ms) <= 400 && end.abs_diff(truth.end_ms) <= 400, "{start}–{end}");
    assert!(cue.abs_diff(truth.start_ms) <= 150, "first cue at {cue}");
    assert!(added.windows(2).all(|w| w[0].0 <= w[1].0), "in order: {added:?}");
    assert!(added.iter().all(|&(s, e)| s <= e && s + 400 >= truth.start_ms && e <= truth.end_ms + 400), "{added:?}");
    let (said, timing, start, _, _, _) = &results[1];
    assert_eq!(*timing, Some(vidscribe::correction::Timing::Interpolated));
    assert!(said.contains("timed between their neighbours") && said.contains("gone.mp4"), "{said}");
    assert!(start.abs_diff(truth.start_ms) > 1000, "spreading alone was already right: the test shows nothing");

    // Media that is not a file (a FIFO nobody writes to) is not waited for; a bare file name
    // for the report is its own folder.
    let folder = tmp.path().join("fifo");
    std::fs::create_dir_all(&folder).unwrap();
    vidscribe::formats::json::write(&mut std::fs::File::create(folder.join("report.json")).unwrap(), &missed).unwrap();
    let fifo = folder.join("media.mp4");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let out = bin()
        .current_dir(&folder)
        .arg("apply")
        .arg(&edited)
        .args(["--to", "report.json", "--media", "media.mp4", "-m"])
        .arg(model())
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("not a regular file"), "{said}");
}

#[test]
fn a_re_run_keeps_the_edits_unless_told() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let run = |extra: &[&str]| {
        let out = bin()
            .arg("run")
            .arg(sample("report.mp4"))
            .arg("--article")
            .arg(sample("article.txt"))
            .arg("-o")
            .arg(&dir)
            .arg("-m")
            .arg(model())
            .args(["--threads", "2", "-q"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    run(&[]);
    let json = dir.join("report.json");
    let before = doc(&json);
    // A text edit: one word of the transcript's text changed.
    let text = std::fs::read_to_string(dir.join("report.txt")).unwrap();
    let word = text.split_whitespace().find(|w| w.len() >= 6 && alphabetic(w)).unwrap().to_string();
    let edited = tmp.path().join("edited.txt");
    std::fs::write(&edited, text.replacen(&word, "Quixotically", 1)).unwrap();
    let out = apply(&edited, &json, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let applied = doc(&json);
    assert!(applied.transcript.words().any(|w| w.text == "Quixotically"));
    assert!(!applied.captions.as_ref().unwrap().edited, "a text edit rebuilds the cues from the words");
    assert!(std::fs::read_to_string(dir.join("report.srt")).unwrap().contains("Quixotically"));

    // Recognised again into the same folder: the correction stays, and so does the history.
    run(&[]);
    let rerun = doc(&json);
    assert!(rerun.transcript.words().any(|w| w.text == "Quixotically"), "a re-run lost the edit");
    assert_eq!(rerun.revisions, applied.revisions);
    assert!(std::fs::read_to_string(dir.join("report.srt")).unwrap().contains("Quixotically"));
    // Unless asked to start afresh.
    run(&["--discard-edits"]);
    let fresh = doc(&json);
    assert!(fresh.revisions.is_empty() && !fresh.transcript.words().any(|w| w.text == "Quixotically"));
    assert_eq!(fresh.transcript.text(), before.transcript.text());
}

#[test]
fn bad_edits_are_refused_in_one_line_and_nothing_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let d = common::transcribe_json(&sample("report.mp4"), &dir, &["-f", "srt,json"]);
    let json = dir.join("report.json");
    let files = snapshot(&dir);
    let check = |edited: &Path, what: &str, says: &str| {
        let out = apply(edited, &json, &[]);
        let err = assert_clean_failure(&out, what);
        assert!(err.contains(says), "{what}: {err}");
        assert_eq!(snapshot(&dir), files, "{what}: files changed");
    };
    // A binary file (the video itself).
    check(&sample("report.mp4"), "binary", "binary data");
    // 200,000 cues.
    let many = tmp.path().join("many.srt");
    let mut text = String::new();
    for i in 0..200_000u64 {
        let t =
            |ms: u64| format!("{:02}:{:02}:{:02},{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
        text.push_str(&format!("{}\n{} --> {}\nword\n\n", i + 1, t(i * 100), t(i * 100 + 50)));
    }
    std::fs::write(&many, text).unwrap();
    check(&many, "200,000 cues", "cues");
    // 16 MB and one byte.
    let big = tmp.path().join("big.txt");
    std::fs::write(&big, "word ".repeat((16 << 20) / 5 + 1).as_bytes()).unwrap();
    assert!(std::fs::metadata(&big).unwrap().len() > 16 << 20);
    check(&big, "16 MB + 1", "over 16 MB");
    // Another report's words.
    check(&common::speech("en_jfk.txt"), "another report", "another report");
    // Nothing in common.
    let nothing = tmp.path().join("nothing.txt");
    std::fs::write(&nothing, "lorem ipsum dolor sit amet consectetur adipiscing elit").unwrap();
    check(&nothing, "nothing in common", "little in common");
    // This report's captions, an hour late.
    let late: Vec<Cue> = d
        .captions
        .as_ref()
        .unwrap()
        .cues
        .iter()
        .map(|c| Cue { start_ms: c.start_ms + 3_600_000, end_ms: c.end_ms + 3_600_000, ..c.clone() })
        .collect();
    let late_path = tmp.path().join("late.srt");
    std::fs::write(&late_path, srt(&late)).unwrap();
    check(&late_path, "an hour late", "another report");
    // A cue a player would drop is words the edit would delete.
    let broken = tmp.path().join("broken.srt");
    let mut own = std::fs::read_to_string(dir.join("report.srt")).unwrap();
    own = own.replacen(" --> ", " -> ", 1);
    std::fs::write(&broken, own).unwrap();
    check(&broken, "a malformed cue", "correct it first");
}

/// A raw HTTP request with a body: status and body.
fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, String::from_utf8_lossy(&all[split + 4..]).into_owned())
}

#[test]
fn serve_edit_saves_like_apply_and_takes_edits_only_from_its_own_page() {
    let tmp = tempfile::tempdir().unwrap();
    let (archive, folder, id) = sample_archive(tmp.path());
    let json = folder.join("report.json");
    let server = common::serve(&[archive.as_os_str(), "--edit".as_ref(), "--editor".as_ref(), "Web Editor".as_ref()]);
    let addr = server.addr.clone();

    // The page carries the token; nothing else does.
    let (status, page) = request(&addr, "GET", &format!("/edit/{id}"), &[], b"");
    assert_eq!(status, 200);
    let token =
        page.split("name=\"vidscribe-token\" content=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    assert_eq!(token.len(), 48, "{page}");
    let (status, data) = request(&addr, "GET", &format!("/api/report/{id}"), &[], b"");
    assert_eq!(status, 200, "{data}");
    assert!(!data.contains(&token));
    let data: serde_json::Value = serde_json::from_str(&data).unwrap();
    let lines = |k: usize| -> Vec<String> {
        data["cues"][k]["lines"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_string()).collect()
    };
    let before = lines(0);
    let mut after = before.clone();
    let first = after[0].split_whitespace().next().unwrap().to_string();
    after[0] = after[0].replacen(&first, "Zanzibarian", 1);
    let body = serde_json::json!({ "cue": 0, "before": before, "after": after }).to_string();
    let origin = format!("http://{addr}");
    let good =
        [("Origin", origin.as_str()), ("Content-Type", "application/json"), ("X-Vidscribe-Token", token.as_str())];

    // Forgeries and misuse: refused, nothing changed.
    let files = snapshot(&folder);
    let forged = [
        // Another site's page posting a form or a fetch: no token, its own origin.
        vec![
            ("Origin", "http://evil.example"),
            ("Content-Type", "application/json"),
            ("X-Vidscribe-Token", token.as_str()),
        ],
        vec![("Origin", origin.as_str()), ("Content-Type", "application/json")],
        vec![("Origin", origin.as_str()), ("Content-Type", "application/json"), ("X-Vidscribe-Token", "00")],
        vec![("Content-Type", "application/json"), ("X-Vidscribe-Token", token.as_str())],
        vec![
            ("Origin", origin.as_str()),
            ("Sec-Fetch-Site", "cross-site"),
            ("Content-Type", "application/json"),
            ("X-Vidscribe-Token", token.as_str()),
        ],
    ];
    for headers in &forged {
        let (status, answer) = request(&addr, "POST", &format!("/api/edit/{id}"), headers, body.as_bytes());
        assert_eq!(status, 403, "{headers:?}: {answer}");
    }
    let plain = [("Origin", origin.as_str()), ("Content-Type", "text/plain"), ("X-Vidscribe-Token", token.as_str())];
    assert_eq!(request(&addr, "POST", &format!("/api/edit/{id}"), &plain, body.as_bytes()).0, 415);
    let huge = vec![b' '; 64 * 1024 + 1];
    assert_eq!(request(&addr, "POST", &format!("/api/edit/{id}"), &good, &huge).0, 413);
    assert_eq!(request(&addr, "POST", "/api/search?q=x", &good, b"{}").0, 405);
    assert_eq!(request(&addr, "POST", &format!("/api/edit/{id}"), &good, b"not json").0, 400);
    assert_eq!(snapshot(&folder), files, "a refused request changed files");

    // The page's own save: applied as `apply` applies a file.
    let (status, answer) = request(&addr, "POST", &format!("/api/edit/{id}"), &good, body.as_bytes());
    assert_eq!(status, 200, "{answer}");
    let (_, vtt) = request(&addr, "GET", &format!("/r/{id}/report.vtt"), &[], b"");
    assert!(vtt.contains("Zanzibarian"), "{vtt}");
    let hits = search(&archive, "Zanzibarian");
    assert_eq!(hits.len(), 1, "{hits:?}");
    let d = doc(&json);
    assert_eq!(d.revisions.len(), 1);
    assert_eq!((d.revisions[0].editor.as_str(), d.revisions[0].source.as_str()), ("Web Editor", "serve"));

    // A second editor who opened the page before that save: told, nothing lost or changed.
    let stale = serde_json::json!({ "cue": 0, "before": before, "after": ["Something else entirely."] }).to_string();
    let (status, answer) = request(&addr, "POST", &format!("/api/edit/{id}"), &good, stale.as_bytes());
    assert_eq!(status, 409, "{answer}");
    assert!(answer.contains("Zanzibarian") && answer.contains("Web Editor"), "{answer}");
    assert_eq!(doc(&json).revisions.len(), 1);

    // Another cue: revision 2; the history lists both.
    let second = lines(1);
    let mut changed = second.clone();
    changed[0] = format!("{} indeed", changed[0].trim_end_matches(['.', ',']));
    let body = serde_json::json!({ "cue": 1, "before": second, "after": changed }).to_string();
    assert_eq!(request(&addr, "POST", &format!("/api/edit/{id}"), &good, body.as_bytes()).0, 200);
    let (_, data) = request(&addr, "GET", &format!("/api/report/{id}"), &[], b"");
    let data: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(data["revisions"].as_array().unwrap().len(), 2, "{data}");
    drop(server);
}

#[test]
fn an_editor_corrects_a_cue_in_chromium_and_a_forged_post_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (archive, folder, id) = sample_archive(tmp.path());
    let server =
        common::serve(&[archive.as_os_str(), "--edit".as_ref(), "--editor".as_ref(), "Browser Editor".as_ref()]);
    let script = common::root().join("tests/browser/check-edit.mjs");
    let out = common::run_tool(
        std::process::Command::new("node")
            .arg(&script)
            .arg(format!("http://{}", server.addr))
            .arg(&id)
            .arg("Zanzibarian"),
        "the browser check failed (scripts/test.sh installs node, Debian's chromium and playwright-core)",
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the check prints JSON");
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["console_errors"], serde_json::json!([]), "{r}");
    assert_eq!(r["page_errors"], serde_json::json!([]), "{r}");
    assert!(r["status"].as_str().unwrap().contains("saved as revision 1"), "{r}");
    // After a reload: the page, the captions the player reads, and the history show the edit.
    assert!(r["after_reload"].as_str().unwrap().starts_with("Zanzibarian"), "{r}");
    let track: Vec<&str> = r["track"].as_array().unwrap().iter().filter_map(|c| c.as_str()).collect();
    assert!(track.first().is_some_and(|t| t.contains("Zanzibarian")), "{r}");
    let history = r["revisions"].as_array().unwrap().iter().filter_map(|c| c.as_str()).collect::<Vec<_>>().join("\n");
    let old_first = r["before"].as_str().unwrap().split_whitespace().next().unwrap().to_string();
    assert!(history.contains("revision 1 by Browser Editor"), "{history}");
    assert!(history.contains(&old_first) && history.contains("Zanzibarian"), "both versions: {history}");
    // The forger's form reached the archive and was refused there (not stopped by the browser
    // before it was sent, which would prove nothing).
    assert!(r["forger_landed"].as_str().unwrap().contains("/api/edit/"), "{r}");
    assert!(r["forger_body"].as_str().unwrap().contains("refused"), "{r}");
    // The forged posts changed nothing; search finds the editor's word.
    let d = doc(&folder.join("report.json"));
    assert_eq!(d.revisions.len(), 1, "a forged post was applied");
    assert!(!d.transcript.words().any(|w| w.text.contains("forged")));
    assert_eq!(search(&archive, "Zanzibarian").len(), 1);
    drop(server);
}
