//! The command line: outputs, stdin/stdout, exit codes, and bad input handled cleanly.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// `vidscribe transcribe INPUT [-o OUT] -m MODEL EXTRA…`
fn transcribe(
    input: &std::path::Path,
    out: Option<&std::path::Path>,
    model: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    let mut c = bin();
    c.arg("transcribe").arg(input);
    if let Some(o) = out {
        c.arg("-o").arg(o);
    }
    c.arg("-m").arg(model).args(extra).output().unwrap()
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map_or(vec![], |rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
}

#[test]
fn bad_inputs_exit_1_with_one_line_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    let mp4 = std::fs::read(sample("report.mp4")).unwrap();
    // A truncated file is read up to its cut (tests/damage.rs); --strict makes it an error.
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        ("truncated.mp4", mp4[..mp4.len() / 3].to_vec(), &["--strict"]),
        ("zero.mp4", vec![], &[]),
        (
            "random.mp4",
            (0..200_000u32).map(|i| (i.wrapping_mul(2_246_822_519).rotate_left(7) >> 3) as u8).collect(),
            &[],
        ),
        ("no-audio.mp4", std::fs::read(sample("no-audio.mp4")).unwrap(), &[]),
    ];
    let out_dir = dir.path().join("out");
    for (name, bytes, extra) in &cases {
        let p = inputs.join(name);
        std::fs::write(&p, bytes).unwrap();
        let out = transcribe(&p, Some(&out_dir), &model(), extra);
        let err = assert_clean_failure(&out, name);
        assert!(err.contains(name), "{name}: the message names the file: {err}");
        assert!(files_in(&out_dir).is_empty(), "{name}: output written: {:?}", files_in(&out_dir));
    }
    // A truncated model file.
    let good = std::fs::read(model()).unwrap();
    let bad_model = inputs.join("truncated-model.bin");
    std::fs::write(&bad_model, &good[..good.len() * 2 / 3]).unwrap();
    let out = transcribe(&sample("formats/clip.wav"), Some(&out_dir), &bad_model, &[]);
    let err = assert_clean_failure(&out, "truncated model");
    assert!(err.contains("truncated"), "{err}");
    assert_eq!(err.matches("the file is truncated").count(), 1, "each cause is printed once: {err}");
    assert!(files_in(&out_dir).is_empty());
    // A missing model, and an English-only model asked for French.
    let out = transcribe(&sample("formats/clip.wav"), None, std::path::Path::new("/nonexistent/model.bin"), &[]);
    assert_clean_failure(&out, "missing model");
    let out = transcribe(&sample("formats/clip.wav"), Some(&out_dir), &model(), &["-l", "fr"]);
    let err = assert_clean_failure(&out, "language");
    assert!(err.contains("English-only"), "{err}");
    assert!(files_in(&out_dir).is_empty());
}

#[test]
fn usage_errors_exit_2_and_help_has_examples() {
    let out = bin().args(["transcribe"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin().args(["transcribe", "x.mp4", "-f", "docx"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    for ratio in ["0.5", "11", "NaN", "two"] {
        let out = bin().args(["transcribe", "x.mp4", "--loop-ratio", ratio]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "--loop-ratio {ratio}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not a compression ratio from 1 to 10"), "{err}");
    }
    let out = bin().args(["transcribe", "x.mp4", "-o", "-"]).arg("-m").arg(model()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "stdout takes one format");
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Examples:") && help.contains("vidscribe transcribe report.mp4"), "{help}");
}

#[test]
fn writes_every_format_and_stdin_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .arg("transcribe")
        .arg(sample("formats/clip.m4a"))
        .arg("-o")
        .arg(dir.path())
        .arg("-m")
        .arg(model())
        .arg("-q")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut names = files_in(dir.path());
    names.sort();
    assert_eq!(names, ["clip.json", "clip.srt", "clip.txt", "clip.vtt"]);
    let srt = std::fs::read_to_string(dir.path().join("clip.srt")).unwrap();
    assert!(srt.starts_with("1\n00:00:0"), "{srt}");
    assert!(srtlib::Subtitles::parse_from_str(srt.clone()).is_ok());

    let input = std::fs::read(sample("formats/clip.opus")).unwrap();
    let out = bin()
        .args(["transcribe", "-", "-o", "-", "-f", "vtt", "-q"])
        .arg("-m")
        .arg(model())
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let vtt = String::from_utf8(out.stdout).unwrap();
    assert!(vtt.starts_with("WEBVTT\n\n00:00:0"), "{vtt}");
    assert!(vtt.to_lowercase().contains("evening"), "{vtt}");
}

/// The CPU time a process has used so far, all its threads together, and whether it has ended
/// (a zombie not yet reaped), from `/proc/PID/stat` (in the kernel's 100 Hz ticks).
fn cpu_time(pid: u32) -> (Duration, bool) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    (Duration::from_millis(ticks * 10), fields[0] == "Z")
}

/// How a run stopped after SIGINT: the wall time it took, and the work it did meanwhile (CPU
/// time, all threads). The work is what vidscribe controls; the wall time also depends on how
/// busy the machine is (other tests run beside this one), so only a hang is judged on it.
struct Stopped {
    wall: Duration,
    work: Duration,
}

/// Sends SIGINT to a `transcribe` of `input` after `after_ms` and measures how it stopped; it
/// must exit 130 having written nothing.
fn interrupt(input: &std::path::Path, after_ms: u64, extra: &[&str]) -> Stopped {
    let dir = tempfile::tempdir().unwrap();
    let exe = assert_cmd::cargo::cargo_bin("vidscribe");
    let mut child = Command::new(exe)
        .arg("transcribe")
        .arg(input)
        .arg("-o")
        .arg(dir.path())
        .arg("-m")
        .arg(model())
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap());
    std::thread::sleep(Duration::from_millis(after_ms));
    let (before, _) = cpu_time(child.id());
    let ok = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(ok.success());
    let asked = Instant::now();
    // Read the process's CPU time once it has ended but before it is reaped.
    let after = loop {
        let (used, ended) = cpu_time(child.id());
        if ended {
            break used;
        }
        assert!(asked.elapsed() < Duration::from_secs(30), "no exit 30 s after SIGINT");
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall = asked.elapsed();
    let status = child.wait().unwrap();
    let err = reader.join().unwrap();
    let work = after.saturating_sub(before);
    eprintln!("{}: SIGINT after {after_ms} ms, stopped in {wall:?} having worked {work:?}", input.display());
    assert_eq!(status.code(), Some(130), "after {after_ms} ms: {err}");
    assert!(files_in(dir.path()).is_empty(), "{:?}", files_in(dir.path()));
    assert!(!err.contains("panicked"), "{err}");
    Stopped { wall, work }
}

/// Stopping takes under a second of work (on an idle machine 30–300 ms of wall time; whisper.cpp's
/// encoder, which took over a second on two cores, stops between graph nodes) and never hangs
/// however busy the machine is.
fn assert_prompt(stopped: &Stopped, after_ms: u64) {
    let Stopped { wall, work } = stopped;
    assert!(*work < Duration::from_secs(1), "after {after_ms} ms: stopping took {work:?} of CPU");
    assert!(*wall < Duration::from_secs(15), "after {after_ms} ms: stopping took {wall:?}");
}

#[test]
fn ctrl_c_stops_cleanly_with_130_and_no_output() {
    // At 1 s the LibriSpeech reading is in its first windows, later in the encoder or decoder of
    // later ones (at 5 s, before the encoder could be stopped, stopping took 1.1–1.3 s).
    for after_ms in [1000, 3000, 5000, 7000] {
        assert_prompt(&interrupt(&speech("en_ls_32-21631.flac"), after_ms, &[]), after_ms);
    }
}

/// Thirty minutes of quiet noise: no speech, so after the model is loaded the whole run is
/// voice activity detection (4.4 s here), fed a minute at a time (150 ms each on one thread).
#[test]
fn ctrl_c_during_voice_activity_detection_stops_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let noise = dir.path().join("noise.wav");
    let n = 16_000 * 60 * 30;
    let mut wav = wav_header(1, 16_000, 2 * n as u32);
    wav.reserve(2 * n);
    let mut x: u32 = 12_345;
    for _ in 0..n {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345) & 0x7fff_ffff;
        wav.extend((((x >> 16) & 0x7ff) as i16 - 1024).to_le_bytes());
    }
    std::fs::write(&noise, wav).unwrap();
    for after_ms in [1500, 3000] {
        assert_prompt(&interrupt(&noise, after_ms, &[]), after_ms);
    }
}

/// An output that would replace one of the inputs is refused before any work, and the input
/// stays as it was.
#[test]
fn outputs_never_replace_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("clip.json");
    std::fs::copy(sample("formats/clip.wav"), &media).unwrap();
    let before = std::fs::read(&media).unwrap();
    let out = transcribe(&media, Some(dir.path()), &model(), &["-q"]);
    let err = assert_clean_failure(&out, "media named like its JSON output");
    assert!(err.contains("one of the inputs"), "{err}");
    assert_eq!(std::fs::read(&media).unwrap(), before);
    assert_eq!(files_in(dir.path()), ["clip.json"]);
    // run whose media is called like its page.
    let page = dir.path().join("report.html");
    std::fs::copy(sample("formats/clip.wav"), &page).unwrap();
    let out = bin()
        .arg("run")
        .arg(&page)
        .arg("--article")
        .arg(sample("article.txt"))
        .arg("-o")
        .arg(dir.path())
        .arg("-m")
        .arg(model())
        .output()
        .unwrap();
    let err = assert_clean_failure(&out, "media named report.html");
    assert!(err.contains("one of the inputs"), "{err}");
    assert_eq!(std::fs::read(&page).unwrap(), std::fs::read(sample("formats/clip.wav")).unwrap());
    std::fs::remove_file(&page).unwrap();
    // subtitle rewriting its own transcript in place.
    let doc = root().join("tests/golden/report.json");
    let copy = dir.path().join("report.json");
    std::fs::copy(&doc, &copy).unwrap();
    let out = bin().arg("subtitle").arg(&copy).args(["-f", "json", "-o"]).arg(dir.path()).output().unwrap();
    assert_clean_failure(&out, "subtitle over its own transcript");
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(&doc).unwrap());
}

/// Output to a closed pipe ends quietly with success (as `| head` expects); output to a full
/// device is a one-line error; neither panics.
#[test]
fn stdout_errors_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.srt");
    let mut srt = String::new();
    for i in 0..20_000u64 {
        let (s, e) = (i * 3000, i * 3000 + 2000);
        let t =
            |ms: u64| format!("{:02}:{:02}:{:02},{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
        srt.push_str(&format!(
            "{}\n{} --> {}\nA line of text that is much too long for any caption profile at all\n\n",
            i + 1,
            t(s),
            t(e)
        ));
    }
    std::fs::write(&big, srt).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vidscribe"))
        .arg("check")
        .arg(&big)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 100];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "a closed pipe ends quietly: {err}");
    assert!(err.is_empty(), "{err}");

    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    for args in [
        vec!["check".to_string(), big.display().to_string()],
        vec!["profile".into()],
        vec!["model".into(), "list".into()],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_vidscribe"))
            .args(&args)
            .env_remove("VIDSCRIBE_MODEL")
            .stdout(full())
            .output()
            .unwrap();
        let err = assert_clean_failure(&out, &args.join(" "));
        assert!(err.contains("writing to stdout"), "{err}");
    }
}

/// `score` reads subtitles with the SRT and WebVTT readers: vidscribe's own VTT (NOTE blocks,
/// escaped text) against its cue text is a perfect score.
#[test]
fn score_reads_subtitles_as_players_do() {
    let dir = tempfile::tempdir().unwrap();
    let doc =
        vidscribe::formats::json::read(std::fs::File::open(root().join("tests/golden/report.json")).unwrap()).unwrap();
    let cues = doc.captions.unwrap().cues;
    let reference = dir.path().join("ref.txt");
    std::fs::write(&reference, cues.iter().map(|c| c.lines.join(" ")).collect::<Vec<_>>().join(" ")).unwrap();
    for golden in ["report.netflix.vtt", "report.netflix.srt"] {
        let out = bin().arg("score").arg(&reference).arg(root().join("tests/golden").join(golden)).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("WER 0.00%"), "{golden}: {text}");
    }
    std::fs::write(&reference, "On December 4, 2021, Azerbaijan returned ten Armenian prisoners of war. Tom & Jerry <b>said</b> --> nothing. Yes.").unwrap();
    let out = bin().arg("score").arg(&reference).arg(root().join("tests/golden/notes.vtt")).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("WER 0.00%"), "{}", String::from_utf8_lossy(&out.stdout));
}

/// Text from an edited transcript (as from recognition or an article) cannot steer any writer:
/// blank lines, timing lines, arrows and control characters in words give no fake cue, no extra
/// NOTE and no extra TXT line.
#[test]
fn hostile_text_gives_no_fake_cue_in_any_format() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc =
        vidscribe::formats::json::read(std::fs::File::open(root().join("tests/golden/report.json")).unwrap()).unwrap();
    let payloads = [
        "war\n\n00:00:50,000 --> 00:00:51,000\nFAKE",
        "held\r\n\r\n99\r\n00:00:52.000 --> 00:00:53.000\r\nFAKE",
        "in--->\u{0}\u{b}\u{2028}\u{2029}x",
        "\n\n\n",
    ];
    let segments = doc.transcript.segments.len();
    for (k, p) in payloads.iter().enumerate() {
        let s = &mut doc.transcript.segments[k * 2];
        s.words[1].text = p.to_string();
        s.text = format!("{}\n\n{p}", s.text);
    }
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let hostile = input.join("hostile.json");
    std::fs::write(&hostile, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = dir.path().join("out");
    let run =
        bin().arg("subtitle").arg(&hostile).args(["-f", "srt,vtt,txt,json,html", "-o"]).arg(&out).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let written = vidscribe::formats::json::read(std::fs::File::open(out.join("hostile.json")).unwrap()).unwrap();
    let cues = written.captions.as_ref().unwrap().cues.len();
    for w in written.transcript.words() {
        assert!(!w.text.is_empty() && !w.text.contains("-->") && !w.text.chars().any(char::is_control), "{:?}", w.text);
    }
    let srt = std::fs::read(out.join("hostile.srt")).unwrap();
    assert_eq!(vidscribe::formats::srt::read(&srt).cues.len(), cues, "SRT");
    let vtt = std::fs::read(out.join("hostile.vtt")).unwrap();
    assert_eq!(vidscribe::formats::vtt::read(&vtt).cues.len(), cues, "WebVTT");
    let vtt = String::from_utf8(vtt).unwrap();
    assert_eq!(vtt.matches("-->").count(), cues, "one arrow per cue, none in text or NOTEs");
    assert!(!vtt.contains("FAKE\n\n") || vtt.lines().all(|l| l != "FAKE"), "FAKE is never a line of its own");
    let txt = std::fs::read_to_string(out.join("hostile.txt")).unwrap();
    assert_eq!(txt.lines().count(), segments, "TXT: one line per segment");
    let check = bin().arg("check").arg(out.join("hostile.srt")).args(["--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(report["cues"].as_u64(), Some(cues as u64));
}

/// A transcript big enough that writing its outputs takes a while (the sample's, 150 times).
fn big_transcript(dir: &std::path::Path) -> std::path::PathBuf {
    let mut doc =
        vidscribe::formats::json::read(std::fs::File::open(root().join("tests/golden/report.json")).unwrap()).unwrap();
    let one = doc.transcript.segments.clone();
    let span = one.last().unwrap().end_ms + 2_000;
    for k in 1..150u64 {
        for s in &one {
            let mut s = s.clone();
            s.start_ms += k * span;
            s.end_ms += k * span;
            for w in &mut s.words {
                w.start_ms += k * span;
                w.end_ms += k * span;
            }
            doc.transcript.segments.push(s);
        }
    }
    doc.speech = None;
    let p = dir.join("big.json");
    std::fs::write(&p, serde_json::to_vec(&doc).unwrap()).unwrap();
    p
}

fn set_of(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    v.sort();
    v
}

/// Whatever stops a run while it writes — a full disk, SIGINT, SIGTERM, SIGHUP at any moment —
/// the folder holds the old set of outputs or the complete new one, never a mix, and no
/// temporary file.
#[test]
fn outputs_are_the_old_set_or_the_new_one_whatever_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let transcript = big_transcript(&input);
    let subtitle = |out: &std::path::Path, profile: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vidscribe"));
        c.arg("subtitle").arg(&transcript).args(["-f", "srt,vtt,json", "--profile", profile, "-o"]).arg(out);
        c
    };
    // The two sets a run may leave: the old (netflix) and the new (bbc).
    let old_dir = dir.path().join("old");
    let new_dir = dir.path().join("new");
    assert!(subtitle(&old_dir, "netflix").status().unwrap().success());
    assert!(subtitle(&new_dir, "bbc").status().unwrap().success());
    let (old, new) = (set_of(&old_dir), set_of(&new_dir));
    assert_ne!(old, new);
    assert!(new.iter().map(|(_, b)| b.len()).sum::<usize>() > 5_000_000, "big enough to take a while to write");

    // A full disk: writes fail with EFBIG past 1 MB (SIGXFSZ ignored, as a full disk would).
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let reset = || {
        for (name, bytes) in &old {
            std::fs::write(out.join(name), bytes).unwrap();
        }
    };
    reset();
    let full = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; exec prlimit --fsize=1000000 {} subtitle {} -f srt,vtt,json --profile bbc -o {}",
            env!("CARGO_BIN_EXE_vidscribe"),
            transcript.display(),
            out.display()
        ))
        .output()
        .unwrap();
    let err = assert_clean_failure(&full, "full disk");
    assert!(err.contains("cannot write"), "{err}");
    assert_eq!(set_of(&out), old, "a full disk leaves the old set");

    // Signals at moments spread over the run.
    let mut seen_new = 0;
    for (k, signal) in ["INT", "TERM", "HUP"].iter().cycle().take(12).enumerate() {
        reset();
        let mut child = subtitle(&out, "bbc").stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(40 * k as u64));
        let _ = Command::new("kill").args(["-s", signal, &child.id().to_string()]).status();
        let status = child.wait().unwrap();
        let now = set_of(&out);
        assert!(now == old || now == new, "SIG{signal} after {} ms left a mixed set (exit {status})", 40 * k);
        if now == new {
            seen_new += 1;
            assert_eq!(status.code(), Some(0));
        } else {
            // Exit 130; or, for a signal that came before the handler was installed, the
            // signal's own default (and nothing had been written yet).
            use std::os::unix::process::ExitStatusExt;
            let number = match *signal {
                "INT" => 2,
                "TERM" => 15,
                _ => 1,
            };
            assert!(status.code() == Some(130) || status.signal() == Some(number), "SIG{signal}: {status}");
        }
    }
    assert!(seen_new < 12, "some signal arrived before the outputs were complete");
}

/// Subtitle files past the stated limits are refused with one line, before they are parsed.
#[test]
fn subtitle_limits_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let many = dir.path().join("many.srt");
    let mut srt = String::with_capacity(5 << 20);
    for i in 0..=vidscribe::formats::read::MAX_CUES {
        srt.push_str(&format!("{}\n00:00:01,000 --> 00:00:02,000\nx\n\n", i + 1));
    }
    std::fs::write(&many, srt).unwrap();
    let out = bin().arg("check").arg(&many).output().unwrap();
    let err = assert_clean_failure(&out, "too many cues");
    assert!(err.contains("more than 200000 cues"), "{err}");
    let big = dir.path().join("big.vtt");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(vidscribe::formats::read::MAX_SUBTITLE_BYTES + 1).unwrap();
    let out = bin().arg("check").arg(&big).output().unwrap();
    let err = assert_clean_failure(&out, "too large");
    assert!(err.contains("is over 64 MB"), "{err}");
}

/// Two runs writing the same stem into one folder at once: the folder's lock makes one set
/// wait for the other, so it ends with one run's complete set, never srt/vtt of one and json of
/// the other.
#[test]
fn concurrent_runs_into_one_folder_never_mix_their_sets() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let transcript = big_transcript(&input);
    let run = |out: &std::path::Path, profile: &str| {
        Command::new(env!("CARGO_BIN_EXE_vidscribe"))
            .arg("subtitle")
            .arg(&transcript)
            .args(["-f", "srt,vtt,json", "--profile", profile, "-o"])
            .arg(out)
            .spawn()
            .unwrap()
    };
    let sets: Vec<_> = ["netflix", "bbc"]
        .iter()
        .map(|p| {
            let d = dir.path().join(p);
            assert!(run(&d, p).wait().unwrap().success());
            set_of(&d)
        })
        .collect();
    let out = dir.path().join("out");
    for _ in 0..3 {
        let (mut a, mut b) = (run(&out, "netflix"), run(&out, "bbc"));
        assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
        let now = set_of(&out);
        assert!(now == sets[0] || now == sets[1], "a mixed set");
    }
}

/// The one-line summary goes to stderr unless --quiet, terminal or not (a log shows what was
/// written); --quiet leaves stderr empty.
#[test]
fn summary_line_unless_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let out = transcribe(&sample("formats/clip.wav"), Some(dir.path()), &model(), &["-f", "srt"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("2 cues") || err.contains("cues ("), "{err}");
    assert!(err.contains("clip.srt"), "{err}");
    let out = transcribe(&sample("formats/clip.wav"), Some(dir.path()), &model(), &["-f", "srt", "-q"]);
    assert!(out.status.success() && out.stderr.is_empty());
}
