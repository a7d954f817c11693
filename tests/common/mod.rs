//! Shared helpers for the integration tests.
#![allow(dead_code)]

pub mod http;
pub mod pg;

use std::path::{Path, PathBuf};
use std::process::Output;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn sample(rel: &str) -> PathBuf {
    root().join("samples").join(rel)
}

pub fn speech(name: &str) -> PathBuf {
    root().join("tests/data/speech").join(name)
}

/// The real tiny.en model vidscribe uses by default (q8_0). Its absence is a test failure,
/// never a skip.
pub fn model() -> PathBuf {
    present(root().join("models/ggml-tiny.en-q8_0.bin"))
}

/// tiny.en's f16 weights, which `model fetch` quantises into [`model`].
pub fn f16_model() -> PathBuf {
    present(root().join("models/ggml-tiny.en.bin"))
}

fn present(p: PathBuf) -> PathBuf {
    assert!(
        p.is_file(),
        "the tiny.en model is missing at {}: run scripts/fetch-model.sh (scripts/test.sh does)",
        p.display()
    );
    p
}

/// The binary, with its data folder inside target/ (never the user's) and no model named by
/// the environment.
pub fn bin() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("vidscribe").expect("vidscribe binary");
    c.env_remove("VIDSCRIBE_MODEL").env("VIDSCRIBE_HOME", root().join("target/test-home"));
    c
}

/// `vidscribe batch INPUTS -o ARCHIVE` with the test model on two threads, and `extra`.
pub fn batch_into(inputs: &[&Path], archive: &Path, extra: &[&str]) -> std::process::Output {
    bin()
        .arg("batch")
        .args(inputs)
        .arg("-o")
        .arg(archive)
        .arg("-m")
        .arg(model())
        .args(["--threads", "2"])
        .args(extra)
        .output()
        .unwrap()
}

/// The same, as a std Command (for tests that pipe its stdin or watch it run).
pub fn std_bin() -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("vidscribe"));
    c.env_remove("VIDSCRIBE_MODEL").env("VIDSCRIBE_HOME", root().join("target/test-home"));
    c
}

/// Runs `vidscribe transcribe INPUT -o DIR -f json` and returns the parsed document.
pub fn transcribe_json(input: &Path, dir: &Path, extra: &[&str]) -> vidscribe::formats::json::Document {
    let out = bin()
        .arg("transcribe")
        .arg(input)
        .arg("-o")
        .arg(dir)
        .args(["-f", "json", "-q", "-m"])
        .arg(model())
        .args(extra)
        .output()
        .expect("run vidscribe");
    assert!(out.status.success(), "transcribe {} failed: {}", input.display(), String::from_utf8_lossy(&out.stderr));
    let stem = input.file_stem().unwrap().to_string_lossy().into_owned();
    let f = std::fs::File::open(dir.join(format!("{stem}.json"))).expect("json output");
    vidscribe::formats::json::read(f).expect("valid json document")
}

/// The sample report's script: true times, kind and paragraph of each segment.
pub fn script() -> Vec<vidscribe::eval::ScriptRow> {
    let raw = std::fs::read_to_string(sample("report.script.tsv")).expect("script");
    vidscribe::eval::read_script(&raw).expect("script columns")
}

pub fn report_duration_ms() -> u64 {
    let raw = std::fs::read_to_string(sample("report.duration.tsv")).expect("duration");
    raw.split('\t').nth(1).unwrap().trim().parse().unwrap()
}

/// A failed run: exit code 1, exactly one line on stderr, no panic.
pub fn assert_clean_failure(out: &Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{what}: exit code, stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{what}: want one line on stderr, got: {err}");
    assert!(!err.contains("panicked"), "{what}: panic: {err}");
    assert!(err.starts_with("vidscribe: error: "), "{what}: {err}");
    err
}

/// Runs a tool the tests need and returns its output; its failure (or absence) fails the test
/// with `hint` (what installs it) and the tool's own stderr.
pub fn run_tool(cmd: &mut std::process::Command, hint: &str) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{hint}: {e}"));
    assert!(out.status.success(), "{hint}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Runs the browser check; a missing Chromium or playwright-core is a failure, never a skip.
pub fn browser_check(page: &Path, query: &str, deep_link_seconds: &str) -> serde_json::Value {
    let script = root().join("tests/browser/check-report.mjs");
    let out = run_tool(
        std::process::Command::new("node").arg(&script).arg(page).arg(query).arg(deep_link_seconds),
        "the browser check failed (scripts/test.sh installs node, Debian's chromium and playwright-core)",
    );
    serde_json::from_slice(&out.stdout).expect("browser check prints JSON")
}

/// A 16-bit PCM WAV header for `data_bytes` of samples.
pub fn wav_header(channels: u16, rate: u32, data_bytes: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(44);
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data_bytes).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate * channels as u32 * 2).to_le_bytes());
    v.extend_from_slice(&(channels * 2).to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_bytes.to_le_bytes());
    v
}

/// `vidscribe serve ARGS --port 0`, stopped when dropped.
pub struct Serving {
    pub child: std::process::Child,
    /// `127.0.0.1:PORT`
    pub addr: String,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `vidscribe serve ARGS --port 0` and waits for its `listening on` line.
pub fn serve(args: &[&std::ffi::OsStr]) -> Serving {
    use std::io::BufRead;
    let mut child = std_bin()
        .arg("serve")
        .args(args)
        .args(["--port", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .and_then(|a| a.strip_suffix('/'))
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .to_string();
    Serving { child, addr }
}

/// An archive of `n` synthetic reports (scripts/archive-fixture.py, the bench's generator),
/// indexed into `dir/archive`.
pub fn synthetic_archive(dir: &Path, n: usize) -> PathBuf {
    let fixture = dir.join("fixture");
    run_tool(
        std::process::Command::new("python3")
            .arg(root().join("scripts/archive-fixture.py"))
            .arg(n.to_string())
            .arg(&fixture),
        "scripts/archive-fixture.py failed",
    );
    let archive = dir.join("archive");
    let out = bin().arg("index").arg(&fixture).arg("-o").arg(&archive).output().unwrap();
    assert!(out.status.success(), "index: {}", String::from_utf8_lossy(&out.stderr));
    archive
}

/// Queries of every form that the two-stage ranking tests page through.
pub const PAGED_QUERIES: [&str; 9] = [
    "prisoners",
    "war prisoners",
    "\"prisoners of war\"",
    "children back",
    "Gerasimov",
    "Gyumri OR Yerevan",
    "negotia*",
    "pash* OR gera* prisoners",
    "the",
];

/// Pages through each of [`PAGED_QUERIES`] seven reports at a time and checks that every
/// matching report comes exactly once and that they are the reports the database's own ranking
/// of all matches gives (`rank_all`, best first); prints how many of the first twenty are that
/// ranking's first twenty (named `order`). Checks that some query matched more reports than a
/// word's candidates, so that both stages were read.
pub fn assert_paging_loses_and_repeats_nothing(
    store: &mut vidscribe::archive::Store,
    order: &str,
    mut rank_all: impl FnMut(&mut vidscribe::archive::Store, &vidscribe::archive::query::Query) -> Vec<i64>,
) {
    let filters = vidscribe::archive::Filters::default();
    let mut beyond = false;
    for text in PAGED_QUERIES {
        let q = vidscribe::archive::search::prepare(store, text).unwrap();
        let mut paged: Vec<i64> = Vec::new();
        loop {
            let page = store.matching_reports(&q, &filters, paged.len(), 7).unwrap();
            paged.extend(page.iter().map(|r| r.id));
            if page.len() < 7 {
                break;
            }
        }
        let ranked = rank_all(store, &q);
        let mut once = paged.clone();
        once.sort_unstable();
        once.dedup();
        assert_eq!(once.len(), paged.len(), "{text}: a report came twice");
        let mut all = ranked.clone();
        all.sort_unstable();
        assert_eq!(once, all, "{text}: not the same reports");
        let first: std::collections::BTreeSet<i64> = paged.iter().take(20).copied().collect();
        let same = ranked.iter().take(20).filter(|id| first.contains(id)).count();
        eprintln!("{text:?}: {} reports; first page {same} of {} as {order}", all.len(), first.len());
        beyond |= all.len() > vidscribe::archive::store::CANDIDATES_PER_TERM;
    }
    assert!(beyond, "a word matches more reports than its candidates, so both stages were read");
}
