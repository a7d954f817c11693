//! The decoding contract on damaged media (README, "Damaged, truncated and piped media"): a corpus of mutants of every
//! sample container, made by tests/mutants.py (truncations, random bytes, zeroed and duplicated
//! stretches; the true times of the damaged bytes from ffprobe's packet positions), each checked
//! against what must hold for its case: no panic; audio decoded unless the file cannot be read at
//! all; detectable damage reported within ±100 ms of its true range; the timeline after the
//! damage intact (the PCM aligned against the undamaged decode, not judged by recognition).

mod common;

use std::path::Path;

use common::*;
use vidscribe::media::decode::{Audio, DamageCause, DecodeError, DecodeOptions};
use vidscribe::progress::{Cancel, Silent};

#[derive(Debug, serde::Deserialize)]
struct Mutant {
    file: String,
    source: String,
    kind: String,
    lost_from_ms: Option<u64>,
    lost_to_ms: Option<u64>,
    length_ms: u64,
}

fn decode(p: &Path) -> Result<Audio, DecodeError> {
    vidscribe::media::decode_path(p, &DecodeOptions::default(), &Silent, &Cancel::new())
}

/// Containers whose length is declared in their header (so a cut end is detectable).
fn declares_length(source: &str) -> bool {
    [".wav", ".flac", ".mkv", ".webm", ".mp3", ".mp4", ".m4a"].iter().any(|e| source.ends_with(e))
}

/// Containers whose packets carry checksums (FLAC frames, Ogg pages): damage is detectable.
fn checksummed(source: &str) -> bool {
    [".flac", ".ogg", ".opus"].iter().any(|e| source.ends_with(e))
}

/// Ogg: a page (here up to a second of audio) is checked whole, so a cut loses the page it
/// falls in; ffprobe places all of a page's packets at the page's position.
fn ogg(source: &str) -> bool {
    source.ends_with(".ogg") || source.ends_with(".opus")
}

/// Matroska: after data its reader cannot parse, vidscribe gives it the file again from the next
/// intact Cluster (each begins with its time code), so damage in the middle loses only its own
/// stretch; a duplicated stretch may be heard twice (Matroska's timestamps are not protected).
fn matroska(source: &str) -> bool {
    source.ends_with(".mkv") || source.ends_with(".webm") || source.ends_with("-webm-named.mp3")
}

/// Formats whose timestamps a checksum protects: a repeated stretch is recognised and dropped.
fn timestamped(source: &str) -> bool {
    [".flac", ".ogg", ".opus"].iter().any(|e| source.ends_with(e))
}

/// MP4: packets are found through offsets in its index (moov). Where the index is at the end
/// (clip.m4a) a cut loses it, and a duplicated stretch before it moves every offset; there is
/// no sync word to search for in AAC-in-MP4, so those files are refused with the reason. With
/// the index first (report.mp4), a cut file is read up to the cut.
fn indexed_mp4(source: &str) -> bool {
    source.ends_with(".mp4") || source.ends_with(".m4a")
}

/// The shift (ms, -500..=500) that best aligns `b` with `a` over `from..to` ms, for messages.
fn best_lag(a: &[f32], b: &[f32], from_ms: u64, to_ms: u64) -> i64 {
    let (lo, hi) = (from_ms as usize * 16, to_ms as usize * 16);
    (-500i64..=500)
        .step_by(2)
        .map(|lag| {
            let s = lag * 16;
            let score: f64 = (lo..hi)
                .filter_map(|i| {
                    let j = i as i64 + s;
                    (j >= 0 && (j as usize) < b.len() && i < a.len()).then(|| (a[i] * b[j as usize]) as f64)
                })
                .sum();
            (lag, score)
        })
        .max_by(|x, y| x.1.total_cmp(&y.1))
        .map_or(0, |(lag, _)| lag)
}

/// The relative difference of `b` against `a` over `from..to` ms (16 kHz), when `a` has sound there.
fn mismatch(a: &[f32], b: &[f32], from_ms: u64, to_ms: u64) -> Option<f64> {
    let (lo, hi) = (from_ms as usize * 16, to_ms as usize * 16);
    if hi > a.len() || hi > b.len() {
        return None;
    }
    let energy: f64 = a[lo..hi].iter().map(|x| (*x as f64).powi(2)).sum();
    if energy / ((hi - lo) as f64) < 1e-5 {
        return None;
    }
    let diff: f64 = a[lo..hi].iter().zip(&b[lo..hi]).map(|(x, y)| ((*x - *y) as f64).powi(2)).sum();
    Some((diff / energy).sqrt())
}

#[test]
fn damaged_media_decodes_what_can_be_heard_and_reports_what_was_lost() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_tool(
        std::process::Command::new("python3").arg(root().join("tests/mutants.py")).arg(dir.path()),
        "tests/mutants.py failed (it needs python3 and ffprobe: scripts/setup.sh test installs ffmpeg)",
    );
    let mutants: Vec<Mutant> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(mutants.len() >= 90, "{} mutants", mutants.len());
    let mut originals = std::collections::HashMap::new();
    let (mut refused, mut problems) = (Vec::new(), Vec::new());
    for m in &mutants {
        let path = dir.path().join(&m.file);
        let original: &Audio =
            originals.entry(m.source.clone()).or_insert_with(|| decode(&root().join(&m.source)).unwrap());
        let got = match std::panic::catch_unwind(|| decode(&path)) {
            Ok(r) => r,
            Err(_) => {
                problems.push(format!("{}: panicked", m.file));
                continue;
            }
        };
        let a = match got {
            Ok(a) => a,
            Err(e) => {
                // Refusal is allowed where nothing can be read: a damaged header, or an MP4
                // whose index is gone or no longer points at its packets.
                let header = m.kind.ends_with("-header")
                    || ogg(&m.source) && m.kind.starts_with("trunc") && m.lost_from_ms.unwrap_or(0) < 1100;
                let mp4_index = indexed_mp4(&m.source)
                    && m.source.ends_with(".m4a")
                    && (m.kind.starts_with("trunc") || m.kind == "duplicate-middle");
                if !(header || mp4_index) {
                    problems.push(format!("{}: refused: {e}", m.file));
                }
                refused.push(format!("{}: {e}", m.file));
                continue;
            }
        };
        let lost = &a.source.damaged;
        let reported = |from: u64, to: u64| lost.iter().any(|d| d.start_ms <= to + 100 && d.end_ms + 100 >= from);
        if m.kind.starts_with("trunc") {
            let cut = m.lost_from_ms.unwrap();
            let early = if ogg(&m.source) { 1100 } else { 150 };
            if a.duration_ms() as i64 > cut as i64 + 150 || (a.duration_ms() as i64) < cut as i64 - early {
                problems.push(format!("{}: {} ms decoded, the cut is at {cut} ms", m.file, a.duration_ms()));
            }
            if declares_length(&m.source) && cut + 150 < m.length_ms {
                // From where the audio stops (the last whole packet), to the declared end.
                let ok = lost.iter().any(|d| {
                    d.cause == DamageCause::Truncated
                        && (d.start_ms as i64 - a.duration_ms() as i64).abs() <= 100
                        && (d.end_ms as i64 - m.length_ms as i64).abs() <= 100
                });
                if !ok {
                    problems.push(format!("{}: cut at {cut} ms not reported: {lost:?}", m.file));
                }
            }
            continue;
        }
        if m.kind.ends_with("-header") {
            continue; // no panic is the contract
        }
        let (Some(from), Some(to)) = (m.lost_from_ms, m.lost_to_ms) else { continue };
        let rest_lost = |from: u64| {
            lost.iter().any(|d| {
                d.cause == DamageCause::Unreadable && d.start_ms <= from + 100 && d.end_ms + 100 >= m.length_ms
            })
        };
        if matroska(&m.source) && m.kind.ends_with("-middle") {
            // Matroska re-synchronises at the next intact Cluster: the rest is heard, at its time.
            if rest_lost(to) || lost.iter().any(|d| d.start_ms <= to + 6000 && d.end_ms + 200 >= m.length_ms) {
                problems.push(format!("{}: the rest after {to} ms was lost: {lost:?}", m.file));
            }
            if (a.duration_ms() as i64 - original.duration_ms() as i64).abs() > 200 {
                problems.push(format!("{}: {} ms, want {}", m.file, a.duration_ms(), original.duration_ms()));
            }
        }
        if m.kind == "duplicate-middle" {
            if timestamped(&m.source) && (a.duration_ms() as i64 - original.duration_ms() as i64).abs() > 100 {
                problems.push(format!(
                    "{}: {} ms, want {} (the repeat dropped)",
                    m.file,
                    a.duration_ms(),
                    original.duration_ms()
                ));
            }
        } else if checksummed(&m.source) && !reported(from, to) {
            problems.push(format!("{}: damage at {from}–{to} ms not reported: {lost:?}", m.file));
        }
        // After the damage, the audio is where it was (unless the rest was reported lost).
        let resumed = lost.iter().all(|d| d.end_ms < m.length_ms.saturating_sub(200));
        // Matroska resumes at the next Cluster: what it lost runs to there.
        let to = if matroska(&m.source) {
            lost.iter().filter(|d| d.start_ms <= to + 100).map(|d| d.end_ms).max().unwrap_or(to).max(to)
        } else {
            to
        };
        let tail_ok = !timestamped(&m.source) && m.kind == "duplicate-middle"
            || !resumed
            || matroska(&m.source) && to + 1400 > m.length_ms
            || match mismatch(&original.samples, &a.samples, to + 400, (to + 1400).min(m.length_ms)) {
                Some(r) => r < 0.5,
                None => true,
            };
        if !tail_ok {
            let lag = best_lag(&original.samples, &a.samples, to + 400, (to + 1400).min(m.length_ms));
            problems.push(format!("{}: the timeline after {to} ms moved by {lag} ms (lost: {lost:?})", m.file));
        }
    }
    eprintln!("{} mutants, {} refused:\n  {}", mutants.len(), refused.len(), refused.join("\n  "));
    assert!(
        problems.is_empty(),
        "{} of {} mutants break the contract:\n{}",
        problems.len(),
        mutants.len(),
        problems.join("\n")
    );
}

/// A damaged file through the command line: the warning names the lost stretch (also when
/// stderr is not a terminal), the JSON records it, exit 0; `--strict` refuses it, writing
/// nothing.
#[test]
fn damage_is_a_warning_with_its_times_and_strict_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let webm = std::fs::read(sample("report.webm")).unwrap();
    let cut = dir.path().join("cut.webm");
    std::fs::write(&cut, &webm[..webm.len() * 9 / 10]).unwrap();
    let run = |extra: &[&str], out: &str| {
        bin()
            .arg("transcribe")
            .arg(&cut)
            .arg("-o")
            .arg(dir.path().join(out))
            .args(["-f", "json", "-m"])
            .arg(model())
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&[], "plain");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    let warning =
        err.lines().find(|l| l.starts_with("vidscribe: warning: damaged input")).unwrap_or_else(|| panic!("{err}"));
    assert!(warning.contains("1:41.") && warning.contains("1:55.") && warning.contains("cut off"), "{warning}");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("plain/cut.json")).unwrap()).unwrap();
    let lost = &doc["input"]["damaged"][0];
    assert_eq!(lost["cause"], "truncated");
    assert!((lost["end_ms"].as_u64().unwrap() as i64 - 115_454).abs() < 200, "{lost}");
    // --quiet: no warning; the JSON still says it.
    let o = run(&["-q"], "quiet");
    assert!(o.status.success() && o.stderr.is_empty(), "{}", String::from_utf8_lossy(&o.stderr));
    // A batch logs it.
    let archive = dir.path().join("archive");
    let o = bin().arg("batch").arg(&cut).arg("-o").arg(&archive).arg("-m").arg(model()).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let log = std::fs::read_to_string(archive.join("batch.log")).unwrap();
    assert!(
        log.lines().any(|l| l.contains("warning cut-") && l.contains("damaged input") && l.contains("cut off")),
        "{log}"
    );
    let o = run(&["--strict"], "strict");
    let err = assert_clean_failure(&o, "--strict");
    assert!(err.contains("refused by --strict") && err.contains("cut off"), "{err}");
    assert!(
        !dir.path().join("strict").exists() || std::fs::read_dir(dir.path().join("strict")).unwrap().next().is_none()
    );
}

/// The same words from ffmpeg's piped output (streaming WAV headers with placeholder sizes,
/// WebM with unknown lengths) as from the file; a FIFO is read as a stream; an input that sends
/// nothing waits, gives up after --input-timeout, and Ctrl-C stops the wait at once.
#[test]
fn pipes_and_fifos_are_streamed() {
    let words = |args: &[&str], stdin: Option<std::process::Stdio>| {
        let mut c = std_bin();
        c.arg("transcribe").args(args).args(["-f", "txt", "-o", "-", "-q", "-m"]).arg(model());
        if let Some(s) = stdin {
            c.stdin(s);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let file = words(&[sample("formats/clip.flac").to_str().unwrap()], None);
    assert!(file.contains("prisoners of war"), "{file}");
    // ffmpeg's output piped, against the same output written to a file first.
    let made = tempfile::tempdir().unwrap();
    for (format, ext) in [(&["-f", "wav"][..], "wav"), (&["-c:a", "libopus", "-f", "webm"][..], "webm")] {
        let ffmpeg = |to: &str| {
            let mut c = std::process::Command::new("ffmpeg");
            c.args(["-v", "error", "-y", "-i"]).arg(sample("formats/clip.flac")).args(format).arg(to);
            c
        };
        let saved = made.path().join(format!("clip.{ext}"));
        assert!(ffmpeg(saved.to_str().unwrap()).status().expect("ffmpeg: run scripts/setup.sh test").success());
        let from_file = words(&[saved.to_str().unwrap()], None);
        let mut ff = ffmpeg("-").stdout(std::process::Stdio::piped()).spawn().unwrap();
        let piped = words(&["-"], Some(ff.stdout.take().unwrap().into()));
        assert!(ff.wait().unwrap().success());
        assert_eq!(piped, from_file, "piped {ext}");
        assert!(piped.contains("prisoners of war"), "{piped}");
    }
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("in.fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let writer = {
        let (fifo, clip) = (fifo.clone(), sample("formats/clip.flac"));
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(500));
            std::fs::write(&fifo, std::fs::read(clip).unwrap()).unwrap();
        })
    };
    assert_eq!(words(&[fifo.to_str().unwrap()], None), file, "through a FIFO");
    writer.join().unwrap();
    // Nobody writes: --input-timeout gives up with one line.
    let started = std::time::Instant::now();
    let o = bin()
        .arg("transcribe")
        .arg(&fifo)
        .args(["--input-timeout", "1", "-f", "txt", "-o", "-", "-m"])
        .arg(model())
        .output()
        .unwrap();
    let err = assert_clean_failure(&o, "a silent FIFO");
    assert!(err.contains("sent nothing for 1 s"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    // Nobody writes and no timeout: Ctrl-C ends the wait at once.
    let child = std_bin()
        .arg("transcribe")
        .arg(&fifo)
        .args(["-f", "txt", "-o", "-", "-m"])
        .arg(model())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let asked = std::time::Instant::now();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(asked.elapsed() < std::time::Duration::from_secs(1), "{:?}", asked.elapsed());
}

/// An hour on stdin is held like an hour in a file: spooled, not read into memory.
#[test]
fn an_hour_on_stdin_takes_the_memory_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("hour.wav");
    let n: u32 = 16_000 * 3600;
    let head = wav_header(1, 16_000, 2 * n);
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&wav).unwrap());
        f.write_all(&head).unwrap();
        let minute = vec![0u8; 2 * 16_000 * 60];
        for _ in 0..60 {
            f.write_all(&minute).unwrap();
        }
    }
    // Peak resident memory of a run, sampled from /proc while it runs.
    let peak = |stdin: bool| {
        let mut c = std_bin();
        c.arg("transcribe").arg(if stdin { "-".as_ref() } else { wav.as_os_str() });
        c.args(["-f", "txt", "-o"]).arg(dir.path().join("out")).args(["-q", "-m"]).arg(model());
        if stdin {
            c.stdin(std::fs::File::open(&wav).unwrap());
        }
        let mut child = c.spawn().unwrap();
        let status = format!("/proc/{}/status", child.id());
        let mut peak_kb = 0u64;
        loop {
            if let Ok(s) = std::fs::read_to_string(&status)
                && let Some(l) = s.lines().find(|l| l.starts_with("VmHWM:"))
            {
                peak_kb = peak_kb.max(l.split_whitespace().nth(1).unwrap().parse().unwrap());
            }
            if let Some(st) = child.try_wait().unwrap() {
                assert!(st.success());
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        peak_kb / 1024
    };
    let (file, piped) = (peak(false), peak(true));
    eprintln!("an hour of audio: file {file} MB, stdin {piped} MB peak");
    assert!(piped <= file + 30 && piped < 400, "stdin {piped} MB, file {file} MB");
}
