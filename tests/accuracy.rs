//! End to end, real model, real media: word error rate against exact reference transcripts.

mod common;

use common::*;
use vidscribe::eval::{normalize, word_errors};

fn reference(name: &str) -> String {
    std::fs::read_to_string(speech(name)).unwrap()
}

/// tiny.en on the synthetic report: espeak-ng voices and Armenian, Azerbaijani and Russian names
/// are hard for the smallest English model. Measured 21.9 % (MP4) and 23.7 % (WebM) on
/// 2026-11-28; the bound leaves a few points for toolchain differences, so a real regression fails.
const REPORT_WER_BOUND: f64 = 0.28;

/// The two containers decode to the same audio (checked strictly in tests/decode.rs), but AAC and
/// Opus differ by a little coding noise, and tiny.en, unsure of the garbled names, resolves them
/// differently ("Ehrmajan" / "Ehrmacht-jan"), which shifts its 30 s windows. Measured 15.3 %.
const CONTAINER_DISAGREEMENT_BOUND: f64 = 0.20;

#[test]
fn report_mp4_and_webm_give_the_same_words_within_the_bound() {
    let script = std::fs::read_to_string(sample("report.txt")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mp4 = transcribe_json(&sample("report.mp4"), dir.path(), &[]);
    let webm = transcribe_json(&sample("report.webm"), dir.path(), &[]);
    let (a, b) = (mp4.transcript.text(), webm.transcript.text());
    let between = word_errors(&a, &b);
    eprintln!(
        "report: MP4 and WebM transcripts differ on {:.2} % of words",
        between.rate() * 100.0
    );
    assert!(
        between.rate() <= CONTAINER_DISAGREEMENT_BOUND,
        "MP4 and WebM disagree on {:.1} % of words:\n{a}\n---\n{b}",
        between.rate() * 100.0
    );
    for (name, text) in [("mp4", &a), ("webm", &b)] {
        let e = word_errors(&script, text);
        eprintln!("report.{name}: WER {:.2} %", e.rate() * 100.0);
        assert!(
            e.rate() <= REPORT_WER_BOUND,
            "report.{name}: WER {:.2} % > {:.0} %:\n{text}",
            e.rate() * 100.0,
            REPORT_WER_BOUND * 100.0
        );
    }
    // Every word carries times inside the audio and a probability.
    let dur = mp4.input.audio.duration_ms;
    for w in mp4.transcript.words() {
        assert!(w.start_ms <= w.end_ms && w.end_ms <= dur + 10, "{w:?}");
        assert!((0.0..=1.0).contains(&w.probability));
    }
    assert_eq!(mp4.transcript.language, "en");
    assert_eq!(mp4.model.name, "tiny.en");
}

#[test]
fn librispeech_reader_within_six_percent() {
    let dir = tempfile::tempdir().unwrap();
    let doc = transcribe_json(&speech("en_ls_32-21631.flac"), dir.path(), &[]);
    let e = word_errors(&reference("en_ls_32-21631.txt"), &doc.transcript.text());
    eprintln!("en_ls_32-21631: WER {:.2} % ({:?})", e.rate() * 100.0, e);
    assert!(e.rate() <= 0.06, "WER {:.2} %", e.rate() * 100.0);
    // No stretch of the 279 s reading is dropped: the last words are there.
    let words = normalize(&doc.transcript.text());
    assert!(
        words.ends_with(&["newspaper".to_string()]),
        "ending lost: {:?}",
        &words[words.len().saturating_sub(8)..]
    );
}

#[test]
fn jfk_every_word_right() {
    let dir = tempfile::tempdir().unwrap();
    let doc = transcribe_json(&speech("en_jfk.flac"), dir.path(), &[]);
    let e = word_errors(&reference("en_jfk.txt"), &doc.transcript.text());
    assert_eq!(e.rate(), 0.0, "{}", doc.transcript.text());
}
