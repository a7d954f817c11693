//! Writers against golden files (byte for byte), and the SRT re-parsed by srtlib.

use std::path::PathBuf;

use vidscribe::asr::{ModelInfo, Segment, TranscribeOptions, Transcript, Word};
use vidscribe::captions::{Cue, Profile, build_cues};
use vidscribe::formats::{self, json};
use vidscribe::media::SourceInfo;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name)
}

/// Compares with the golden file; `UPDATE_GOLDEN=1` rewrites it instead.
fn check(name: &str, got: &[u8]) {
    let path = golden(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, got).unwrap();
    }
    let want = std::fs::read(&path).unwrap_or_else(|_| panic!("missing golden file {}", path.display()));
    assert_eq!(String::from_utf8_lossy(got), String::from_utf8_lossy(&want), "{name} differs from its golden file");
}

fn word(text: &str, start_ms: u64, end_ms: u64) -> Word {
    Word { text: text.into(), start_ms, end_ms, probability: 0.9, speaker: None }
}

fn transcript() -> Transcript {
    let seg = |words: Vec<Word>| Segment {
        start_ms: words[0].start_ms,
        end_ms: words[words.len() - 1].end_ms,
        text: words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" "),
        no_speech_probability: 0.01,
        words,
        speaker: None,
    };
    Transcript {
        language: "en".into(),
        segments: vec![
            seg(vec![
                word("On", 1500, 1700),
                word("December", 1700, 2100),
                word("4,", 2100, 2400),
                word("2021,", 2400, 3100),
                word("Azerbaijan", 3100, 3800),
                word("returned", 3800, 4200),
                word("ten", 4200, 4400),
                word("Armenian", 4400, 4900),
                word("prisoners", 4900, 5400),
                word("of", 5400, 5500),
                word("war.", 5500, 5900),
            ]),
            seg(vec![
                word("Tom", 7000, 7200),
                word("&", 7200, 7300),
                word("Jerry", 7300, 7600),
                word("<b>said</b>", 7600, 8000),
                word("-->", 8000, 8100),
                word("nothing.", 8100, 8500),
            ]),
            seg(vec![word("Yes.", 3_725_000, 3_725_300)]),
        ],
    }
}

fn cues() -> Vec<Cue> {
    let t = transcript();
    let words: Vec<_> = t.words().cloned().collect();
    build_cues(&words, "en", &Profile::netflix(), None).cues
}

#[test]
fn srt_matches_golden_and_reparses() {
    let mut out = Vec::new();
    formats::srt::write(&mut out, &cues()).unwrap();
    check("basic.srt", &out);
    let parsed = srtlib::Subtitles::parse_from_str(String::from_utf8(out).unwrap()).expect("srtlib parses our SRT");
    let parsed = parsed.to_vec();
    assert_eq!(parsed.len(), cues().len());
    for (p, c) in parsed.iter().zip(cues()) {
        // A timing arrow in the text is the one change the writers make (text::safe_line).
        assert_eq!(p.text, c.text().replace("-->", "→"));
        assert_eq!(p.start_time, srtlib::Timestamp::from_milliseconds(c.start_ms as u32));
    }
}

#[test]
fn vtt_matches_golden_and_escapes() {
    let mut out = Vec::new();
    formats::vtt::write(&mut out, &cues()).unwrap();
    check("basic.vtt", &out);
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("WEBVTT\n\n"));
    assert!(text.contains("Tom &amp; Jerry &lt;b&gt;said&lt;/b&gt; → nothing."));
    for block in text.split("\n\n").skip(1).filter(|b| !b.is_empty()) {
        let mut lines = block.lines();
        assert!(lines.next().unwrap().contains(" --> "));
        assert!(lines.all(|l| !l.contains("-->") && !l.is_empty()));
    }
    assert!(text.contains("01:02:05.000 --> "), "hours are written");
}

#[test]
fn txt_and_json_match_golden_and_json_round_trips() {
    let mut out = Vec::new();
    formats::txt::write(&mut out, &transcript()).unwrap();
    check("basic.txt", &out);
    let doc = json::Document {
        schema: json::SCHEMA,
        tool: json::Tool { name: "vidscribe".into(), version: "test".into(), whisper_cpp: "test".into() },
        input: json::Input {
            path: "report.mp4".into(),
            web: None,
            audio: SourceInfo {
                container: "isomp4".into(),
                codec: "aac".into(),
                track: 1,
                sample_rate: 44100,
                channels: 2,
                duration_ms: 3_726_000,
                priming_frames: 1024,
                skipped_packets: 0,
                damaged: Vec::new(),
            },
        },
        model: ModelInfo {
            path: "models/ggml-tiny.en.bin".into(),
            name: "tiny.en".into(),
            weights: "f16".into(),
            multilingual: false,
            size_bytes: 77_704_698,
            sha256: "60ed3f96d259cf3532681d5bed47b58ecaffd678f9e9467e2d2770a8a61cbcf5".into(),
        },
        options: TranscribeOptions {
            language: None,
            translate: false,
            threads: 2,
            prompt: Some("Yerevan".into()),
            beam: 1,
            dtw: true,
            lanes: 1,
            speakers: None,
            loop_ratio: vidscribe::asr::LOOP_RATIO,
        },
        threads_used: Some(json::ThreadsUsed { recognition: [1, 2], vad: 1, lanes: 1 }),
        redecoded: Vec::new(),
        transcript: transcript(),
        speech: None,
        captions: None,
        article: None,
        links: None,
        corrections: Vec::new(),
        meta: json::Meta {
            title: Some("Armenian prisoners of war".into()),
            date: Some("2026-11-28".into()),
            source: Some("CivilNet".into()),
            url: None,
        },
        archive: None,
        speakers: Vec::new(),
        speaker_turns: Vec::new(),
        revisions: Vec::new(),
        script: None,
    };
    let mut out = Vec::new();
    json::write(&mut out, &doc).unwrap();
    check("basic.json", &out);
    let back = json::read(&out[..]).unwrap();
    assert_eq!(back, doc);
    // Cues rebuilt from the JSON alone are the same as from the original transcript.
    let words: Vec<_> = back.transcript.words().cloned().collect();
    assert_eq!(build_cues(&words, "en", &Profile::netflix(), None).cues, cues());
}

#[test]
fn vtt_notes_record_removed_text_between_cues() {
    let notes = [
        formats::vtt::Note { at_ms: 0, text: "removed (stock-phrase): Thanks for watching!".into() },
        formats::vtt::Note {
            at_ms: 6000,
            text: "removed (no-speech): a --> b\n\n\n00:00:06.000 ---> 00:00:07.000\nfake".into(),
        },
        formats::vtt::Note { at_ms: 9_999_000, text: "at the end".into() },
    ];
    let mut out = Vec::new();
    formats::vtt::write_with_notes(&mut out, &cues(), &notes).unwrap();
    check("notes.vtt", &out);
    let text = String::from_utf8(out).unwrap();
    let parsed = formats::vtt::read(text.as_bytes());
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    assert_eq!(parsed.cues.len(), cues().len(), "NOTE blocks are not cues");
    assert!(
        text.contains(
            "NOTE 00:00:06.000 removed (no-speech): a → b 00:00:06.000 -→ 00:00:07.000 fake\n\n00:00:07.000 -->"
        ),
        "a note is one line without an arrow: {text}"
    );
}

/// The WebVTT reader follows the W3C parser algorithm: on a case of each kind the web platform
/// tests check (arrows, newlines, NULs, ids, settings, timings too short, too long, negative,
/// without hours, whitespace, signatures, BOM) it reads exactly the cues Debian's Chromium
/// parses, and every timing line a player drops is reported.
#[test]
fn webvtt_reads_the_cues_a_player_shows() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/webvtt");
    let want: &[(&str, usize)] = &[
        ("arrows.vtt", 5),
        ("bom.vtt", 2),
        ("header-arrow.vtt", 2),
        ("ids.vtt", 4),
        ("newlines.vtt", 4),
        ("nulls.vtt", 5),
        ("settings.vtt", 4),
        ("signature-bad.vtt", 0),
        ("signature-lower.vtt", 0),
        ("signature-missing.vtt", 0),
        ("signature-ok.vtt", 1),
        ("signature-tab.vtt", 1),
        ("timings-negative.vtt", 2),
        ("timings-omitted-hours.vtt", 3),
        ("timings-too-long.vtt", 1),
        ("timings-too-short.vtt", 1),
        ("whitespace-chars.vtt", 3),
    ];
    let files: Vec<PathBuf> = want.iter().map(|(f, _)| dir.join(f)).collect();
    let out = std::process::Command::new("node")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/count-cues.mjs"))
        .args(&files)
        .output()
        .expect("node is needed for the browser test: run scripts/test.sh");
    assert!(out.status.success(), "Chromium: {}", String::from_utf8_lossy(&out.stderr));
    let chromium: std::collections::HashMap<String, usize> = serde_json::from_slice(&out.stdout).unwrap();
    for (file, n) in want {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let parsed = formats::vtt::read(&bytes);
        assert_eq!(parsed.cues.len(), *n, "{file}: vidscribe");
        assert_eq!(chromium[*file], *n, "{file}: Chromium");
        // Every line with an arrow is a cue a player shows, or is reported.
        let text = String::from_utf8_lossy(&bytes).replace("\r\n", "\n").replace('\r', "\n");
        let arrows = text.lines().filter(|l| l.contains("-->")).count();
        if arrows > *n {
            assert!(!parsed.problems.is_empty(), "{file}: dropped lines unreported");
        }
    }
    let arrows = formats::vtt::read(&std::fs::read(dir.join("arrows.vtt")).unwrap());
    assert!(arrows.problems.iter().any(|p| p.detail.contains("\"-->\" in cue text")), "{:?}", arrows.problems);
    let vt = formats::vtt::read(&std::fs::read(dir.join("whitespace-chars.vtt")).unwrap());
    assert!(vt.problems.iter().any(|p| p.detail.contains("line 9")), "the vertical-tab timing: {:?}", vt.problems);
}

/// Two speakers: a cue per speaker where timing allows, Netflix's dashes where a turn is too
/// short for a cue of its own, a voice span per line in WebVTT (a hostile name escaped), and no
/// rule broken.
#[test]
fn speakers_make_voice_spans_and_dashed_cues() {
    let spoken =
        |text: &str, start_ms, end_ms, speaker| Word { speaker: Some(speaker), ..word(text, start_ms, end_ms) };
    let words = vec![
        spoken("Estimates", 1000, 1500, 1),
        spoken("range", 1500, 1800, 1),
        spoken("from", 1800, 2000, 1),
        spoken("around", 2000, 2300, 1),
        spoken("forty.", 2300, 2800, 1),
        spoken("Are", 3000, 3200, 2),
        spoken("they", 3200, 3400, 2),
        spoken("alive?", 3400, 3900, 2),
        spoken("Yes.", 3950, 4300, 1),
        spoken("We", 4450, 4650, 2),
        spoken("asked", 4650, 5000, 2),
        spoken("again", 5000, 5300, 2),
        spoken("and", 5300, 5400, 2),
        spoken("again.", 5400, 5900, 2),
    ];
    let profile = Profile::netflix();
    let layout = build_cues(&words, "en", &profile, None);
    assert!(layout.violations.is_empty(), "{:?}", layout.violations);
    assert!(layout.cues.iter().all(|c| c.speakers.len() == c.lines.len()));
    assert!(
        layout.cues.iter().any(|c| c.lines.len() == 2 && c.lines.iter().all(|l| l.starts_with('-'))),
        "a dashed cue"
    );
    let voices = vec![(1, "Rustam <Muradov>".to_string()), (2, "Speaker 2".to_string())];
    let mut out = Vec::new();
    formats::vtt::write_voiced(&mut out, &layout.cues, &[], &voices).unwrap();
    check("speakers.vtt", &out);
    assert!(String::from_utf8_lossy(&out).contains("<v Rustam &lt;Muradov&gt;>"));
    let mut out = Vec::new();
    formats::srt::write(&mut out, &layout.cues).unwrap();
    check("speakers.srt", &out);
    // What `check` reads back breaks no rule either, dashes included.
    let parsed = formats::srt::read(&out);
    assert!(vidscribe::captions::rules::evaluate(&parsed.cues, &profile).is_empty());
}
