//! The cue builder under random word streams, the subtitle linter on planted faults, and the
//! `subtitle` command against golden files.

mod common;

use common::*;
use proptest::prelude::*;
use vidscribe::asr::Word;
use vidscribe::captions::rules::{Rule, reading_chars, visible_len, word_count};
use vidscribe::captions::{Profile, build_cues};

const POOL: &[&str] = &[
    "the",
    "a",
    "of",
    "in",
    "and",
    "but",
    "not",
    "is",
    "was",
    "will",
    "they",
    "prisoners",
    "war.",
    "Armenian",
    "soldiers,",
    "Yerevan",
    "Gyumri",
    "December",
    "4,",
    "2021",
    "44-day",
    "said:",
    "returned",
    "Azerbaijan's",
    "peacekeepers",
    "ongoing.",
    "Why?",
    "yes!",
    "—",
    "internationally-recognised-extraordinarily-long-compound-word",
    "Sahakyan",
    "Muradov",
    "30",
];

fn stream() -> impl Strategy<Value = Vec<Word>> {
    prop::collection::vec((0..POOL.len(), 0u64..900, 0u64..2500, prop::bool::weighted(0.05)), 0..120).prop_map(|spec| {
        let mut t = 0u64;
        spec.into_iter()
            .map(|(i, dur, gap, glitch)| {
                // Mostly short gaps (fast or normal speech), sometimes long pauses, rarely a time
                // that goes backwards as Whisper's occasionally do.
                let gap = if gap > 2000 { gap * 2 } else { gap / 8 };
                let start = if glitch { t.saturating_sub(300) } else { t + gap };
                let w = Word {
                    text: POOL[i].into(),
                    start_ms: start,
                    end_ms: start + dur,
                    probability: 0.9,
                    speaker: None,
                };
                t = t.max(start + dur);
                w
            })
            .collect()
    })
}

fn profiles() -> impl Strategy<Value = Profile> {
    prop_oneof![Just(Profile::netflix()), Just(Profile::bbc())]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn cues_keep_every_word_in_order_and_meet_or_record_every_rule(words in stream(), p in profiles()) {
        let layout = build_cues(&words, "en", &p, None);
        let cues = &layout.cues;
        // No word lost, duplicated or reordered.
        let got: Vec<String> = cues.iter().flat_map(|c| c.lines.iter()).flat_map(|l| l.split_whitespace()).map(String::from).collect();
        let want: Vec<String> = words.iter().map(|w| w.text.clone()).collect();
        prop_assert_eq!(got, want);
        let has = |cue: usize, rule: Rule| layout.violations.iter().any(|v| v.cue == cue && v.rule == rule);
        let first_start = words.first().map_or(0, |w| w.start_ms);
        for (k, c) in cues.iter().enumerate() {
            let n = k + 1;
            prop_assert!(c.start_ms < c.end_ms, "cue {} empty in time", n);
            prop_assert!(c.start_ms >= first_start);
            if k > 0 {
                prop_assert!(c.start_ms >= cues[k - 1].end_ms, "cue {} overlaps", n);
            }
            for l in &c.lines {
                prop_assert!(visible_len(l) <= p.max_chars_per_line || has(n, Rule::LineLength), "cue {} line too long, unrecorded", n);
            }
            prop_assert!(c.lines.len() <= p.max_lines || has(n, Rule::LineCount));
            let dur = c.end_ms - c.start_ms;
            let min = p.min_duration_ms.max(p.min_ms_per_word.map_or(0, |w| w * word_count(c) as u64));
            prop_assert!(dur >= min || has(n, Rule::MinDuration), "cue {} too short, unrecorded", n);
            prop_assert!(dur <= p.max_duration_ms || has(n, Rule::MaxDuration), "cue {} too long, unrecorded", n);
            if let Some(cps) = p.max_chars_per_second {
                prop_assert!(reading_chars(c) as f64 * 1000.0 / dur as f64 <= cps + 1e-9 || has(n, Rule::ReadingSpeed));
            }
            if let Some(wpm) = p.max_words_per_minute {
                prop_assert!(word_count(c) as f64 * 60_000.0 / dur as f64 <= wpm + 1e-9 || has(n, Rule::ReadingSpeed));
            }
            if k > 0 {
                let gap = c.start_ms - cues[k - 1].end_ms;
                prop_assert!(gap + 1 >= p.min_gap_ms() || has(n, Rule::Gap));
            }
        }
    }
}

/// Words read at 70 ms a letter from `start_ms`, 60 ms apart, `pause_ms` after a full stop.
fn read_aloud(text: &str, start_ms: u64, pause_ms: u64) -> Vec<Word> {
    let mut t = start_ms;
    text.split_whitespace()
        .map(|w| {
            let dur = w.len() as u64 * 70;
            let word = Word { text: w.into(), start_ms: t, end_ms: t + dur, probability: 1.0, speaker: None };
            t += dur + if w.ends_with('.') { pause_ms } else { 60 };
            word
        })
        .collect()
}

#[test]
fn normal_speech_meets_netflix_with_no_violation() {
    // 14 characters per second with pauses between sentences: an unhurried reader.
    let text = "On December 4, 2021, Azerbaijan returned ten Armenian prisoners of war captured in November. \
                The November clashes were reportedly the worst since the war in 2020. \
                Seven Azerbaijani and six Armenian soldiers were killed during the renewed fighting. \
                We need our children back.";
    let words = read_aloud(text, 1000, 900);
    for p in [Profile::netflix(), Profile::bbc()] {
        let l = build_cues(&words, "en", &p, None);
        assert!(l.violations.is_empty(), "{}: {:?}\n{:#?}", p.name, l.violations, l.cues);
    }
}

#[test]
fn check_finds_every_planted_fault() {
    let out = bin().arg("check").arg(root().join("tests/data/subtitles/bad.srt")).arg("--json").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: Vec<(u64, String)> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["cue"].as_u64().unwrap(), v["rule"].as_str().unwrap().to_string()))
        .collect();
    let planted: &[(u64, &str)] = &[
        (0, "encoding"),
        (3, "numbering"),
        (4, "numbering"),
        (5, "overlap"),
        (6, "order"),
        (7, "timestamp"),
        (7, "line-length"),
        (8, "line-count"),
        (9, "reading-speed"),
        (10, "min-duration"),
        (11, "max-duration"),
        (12, "gap"),
        (13, "chaining"),
    ];
    for (cue, rule) in planted {
        assert!(found.contains(&(*cue, rule.to_string())), "missed {rule} at cue {cue}: {found:?}");
    }
    assert_eq!(found.len(), planted.len(), "false alarms: {found:?}");
    let notes = report["notes"].to_string();
    assert!(notes.contains("byte-order mark") && notes.contains("CRLF"), "{notes}");
    assert_eq!(report["cues"], 13);

    let out = bin().arg("check").arg(root().join("tests/data/subtitles/bad.vtt")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    // As a player reads it: the comma cue is dropped, the arrow line ends cue 4 (left empty).
    for (cue, rule) in
        [(3, "overlap"), (4, "timestamp"), (4, "syntax"), (4, "empty"), (5, "min-duration"), (6, "line-length")]
    {
        assert!(
            text.contains(&format!("cue {cue} at"))
                && text.lines().any(|l| l.contains(&format!("cue {cue} at")) && l.contains(rule)),
            "missed {rule} at cue {cue}:\n{text}"
        );
    }
    assert!(text.trim_end().lines().last().unwrap().contains("7 cues"), "{text}");
}

#[test]
fn check_never_panics_on_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [&[u8]; 6] = [
        b"",
        b"\xff\xfe\x00garbage",
        b"1\n",
        b"WEBVTT\n\n-->\n\n00:00.000 --> \n",
        b"1\n00:00:01,000 --> 00:00:00,500\nbackwards\n",
        b"99999999999999999999\n99:99:99,999 --> 00:00:01,000\nx\n",
    ];
    for (i, bytes) in cases.iter().enumerate() {
        let p = dir.path().join(format!("case{i}.srt"));
        std::fs::write(&p, bytes).unwrap();
        let out = bin().arg("check").arg(&p).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "case {i}: {err}");
        assert!(out.status.code() == Some(0) || out.status.code() == Some(1), "case {i}");
    }
}

/// Cues rebuilt from the committed transcript of the sample report match golden files under both
/// profiles, and `check` finds nothing wrong with vidscribe's own output.
#[test]
fn subtitle_golden_files_and_own_output_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    let transcript = root().join("tests/golden/report.json");
    for profile in ["netflix", "bbc"] {
        let out = bin()
            .arg("subtitle")
            .arg(&transcript)
            .arg("-o")
            .arg(dir.path())
            .args(["-f", "srt,vtt,json", "--profile", profile])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        for ext in ["srt", "vtt"] {
            let got = std::fs::read_to_string(dir.path().join(format!("report.{ext}"))).unwrap();
            let golden = root().join(format!("tests/golden/report.{profile}.{ext}"));
            if std::env::var_os("UPDATE_GOLDEN").is_some() {
                std::fs::write(&golden, &got).unwrap();
            }
            assert_eq!(got, std::fs::read_to_string(&golden).unwrap(), "{}", golden.display());
            let check = bin().arg("check").arg(&golden).args(["--profile", profile, "--json"]).output().unwrap();
            let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
            let found = report["violations"].as_array().unwrap().len();
            if profile == "netflix" {
                // Normal-pace speech: every rule met.
                assert_eq!(found, 0, "{}", String::from_utf8_lossy(&check.stdout));
                assert!(check.status.success());
            } else {
                // The BBC's 180 words/minute is slower than these voices speak: the builder keeps
                // every word and records the breaches, and `check` finds exactly those.
                let doc: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
                assert_eq!(
                    found,
                    doc["captions"]["violations"].as_array().unwrap().len(),
                    "{}",
                    String::from_utf8_lossy(&check.stdout)
                );
            }
        }
    }
}

/// One sentence rule everywhere: an abbreviation is not a sentence end, so no cue or line is cut
/// between "Mr." and the name it belongs to, nor a passage split there.
#[test]
fn abbreviations_do_not_end_sentences() {
    let text = "Yesterday in the capital the prime minister of Armenia met Mr. Pashinyan and Dr. Sahakyan \
                to discuss the return of the prisoners of war. Gen. Gerasimov was there too.";
    let words = read_aloud(text, 0, 60);
    let t = words.last().unwrap().end_ms;
    for p in [Profile::netflix(), Profile::bbc()] {
        let l = build_cues(&words, "en", &p, None);
        for c in &l.cues {
            for line in &c.lines {
                assert!(
                    !line.ends_with("Mr.") && !line.ends_with("Dr.") && !line.ends_with("Gen."),
                    "{}: {:?}",
                    p.name,
                    c.lines
                );
            }
        }
    }
    let transcript = vidscribe::asr::Transcript {
        language: "en".into(),
        segments: vec![vidscribe::asr::Segment {
            start_ms: 0,
            end_ms: t,
            text: text.into(),
            no_speech_probability: 0.0,
            words,
            speaker: None,
        }],
    };
    assert_eq!(vidscribe::article::link::sentence_spans(&transcript).len(), 2);
}
