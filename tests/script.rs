//! `--script`: the sample report with the script its speech was made from — the captions say
//! exactly the script's words, their cues start no later than recognition's do; a script with a
//! paragraph that was not spoken and without a sentence that was: both reported, the captions
//! right; bad scripts refused in one line with nothing written; forced decoding times words as
//! recognition does.
mod common;

use std::path::Path;

use common::{assert_clean_failure, bin, model, sample};
use vidscribe::eval::{cue_start_errors, percentile, word_errors};
use vidscribe::formats::json::Document;

fn transcribe(dir: &Path, extra: &[&std::ffi::OsStr]) -> Document {
    let out = bin()
        .arg("transcribe")
        .arg(sample("report.mp4"))
        .arg("-o")
        .arg(dir)
        .args(["-f", "json", "-m"])
        .arg(model())
        .args(["--threads", "2"])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    vidscribe::formats::json::read(std::fs::File::open(dir.join("report.json")).unwrap()).unwrap()
}

fn captioned(d: &Document) -> String {
    d.captions.as_ref().unwrap().cues.iter().map(|c| c.lines.join(" ")).collect::<Vec<_>>().join(" ")
}

/// Median and 95th percentile of the cue start errors against the script's true times.
fn timing(d: &Document) -> (u64, u64) {
    let truth: Vec<(u64, u64)> = common::script().iter().map(|r| (r.start_ms, r.end_ms)).collect();
    let errors = cue_start_errors(&d.captions.as_ref().unwrap().cues, &truth);
    (percentile(&errors, 0.5), percentile(&errors, 0.95))
}

#[test]
fn the_script_is_captioned_where_spoken_and_what_does_not_fit_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let script_text = std::fs::read_to_string(sample("report.txt")).unwrap();
    let recognised = transcribe(&tmp.path().join("plain"), &[]);
    let followed = transcribe(&tmp.path().join("script"), &["--script".as_ref(), sample("report.txt").as_os_str()]);

    // Every captioned word is the script's, in its spelling and punctuation.
    let before = word_errors(&script_text, &captioned(&recognised));
    let after = word_errors(&script_text, &captioned(&followed));
    eprintln!(
        "WER against the script: recognition {:.1} %, with the script {:.1} %",
        before.rate() * 100.0,
        after.rate() * 100.0
    );
    assert!(before.rate() > 0.0, "recognition alone is not perfect, so the test shows something");
    assert_eq!(after.rate(), 0.0, "{after:?}");
    let words: Vec<&str> = followed.transcript.words().map(|w| w.text.as_str()).collect();
    let script_words: Vec<&str> = script_text.split_whitespace().collect();
    assert_eq!(words, script_words, "the transcript is the script, word for word");
    let report = followed.script.as_ref().unwrap();
    assert_eq!((report.words, report.spoken), (script_words.len(), script_words.len()));
    assert!(report.unspoken.is_empty() && report.unscripted.is_empty(), "{report:?}");

    // Cue starts no worse than recognition's.
    let (plain, with_script) = (timing(&recognised), timing(&followed));
    eprintln!("cue start error median/p95: recognition {plain:?} ms, with the script {with_script:?} ms");
    assert!(with_script.0 <= plain.0 + 5 && with_script.1 <= plain.1 + 5, "{plain:?} → {with_script:?}");

    // A script with a paragraph nobody said, and without a sentence that was said.
    let extra = "The ministry of foreign affairs did not answer our questions about the negotiations or about the timetable for further exchanges.";
    let missing = "The fighting in November was said to be the worst since the war of 2020, and more than thirty Armenian servicemen were taken prisoner.";
    let mut lines: Vec<&str> = script_text.lines().filter(|l| *l != missing).collect();
    assert_eq!(lines.len(), script_text.lines().count() - 1);
    lines.insert(4, extra);
    let changed = tmp.path().join("changed.txt");
    std::fs::write(&changed, lines.join("\n")).unwrap();
    let d = transcribe(&tmp.path().join("changed"), &["--script".as_ref(), changed.as_os_str()]);
    let report = d.script.as_ref().unwrap();
    assert_eq!(report.unspoken.len(), 1, "{report:#?}");
    assert!(report.unspoken[0].text.starts_with("The ministry of foreign affairs"), "{report:#?}");
    assert_eq!(report.unspoken[0].line, 5);
    assert_eq!(report.unscripted.len(), 1, "{report:#?}");
    assert!(report.unscripted[0].text.to_lowercase().contains("fighting"), "{report:#?}");
    let text = captioned(&d);
    assert!(!text.contains("ministry"), "text not spoken was captioned");
    assert!(text.to_lowercase().contains("fighting in november"), "speech the script lacks was dropped");
    // The rest is the script's: the captions are the script with the recognised sentence where
    // the missing one was said, and without the extra paragraph.
    let recognised_part = report.unscripted[0].text.as_str();
    let want: String =
        script_text.lines().map(|l| if l == missing { recognised_part } else { l }).collect::<Vec<_>>().join(" ");
    let errors = word_errors(&want, &text);
    assert_eq!(errors.rate(), 0.0, "{errors:?}");
}

#[test]
fn bad_scripts_are_refused_in_one_line_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.txt");
    std::fs::write(&big, "word ".repeat((16 << 20) / 5 + 1)).unwrap();
    let unrelated = common::speech("en_jfk.txt");
    for (script, says) in [
        (big.as_path(), "over 16 MB"),
        (sample("report.mp4").as_path(), "binary data"),
        (unrelated.as_path(), "does not follow the script"),
    ] {
        let out_dir = tmp.path().join("out");
        let out = bin()
            .arg("transcribe")
            .arg(sample("report.mp4"))
            .arg("-o")
            .arg(&out_dir)
            .arg("-m")
            .arg(model())
            .arg("--script")
            .arg(script)
            .output()
            .unwrap();
        let err = assert_clean_failure(&out, says);
        assert!(err.contains(says), "{err}");
        assert!(!out_dir.exists() || std::fs::read_dir(&out_dir).unwrap().next().is_none(), "{says}: files written");
    }
}

#[test]
fn with_an_article_the_script_still_has_the_last_word() {
    let tmp = tempfile::tempdir().unwrap();
    let out = bin()
        .arg("run")
        .arg(sample("report.mp4"))
        .arg("--article")
        .arg(sample("article.txt"))
        .arg("--script")
        .arg(sample("report.txt"))
        .arg("-o")
        .arg(tmp.path())
        .arg("-m")
        .arg(model())
        .args(["--threads", "2", "-q"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let d = vidscribe::formats::json::read(std::fs::File::open(tmp.path().join("report.json")).unwrap()).unwrap();
    let script_text = std::fs::read_to_string(sample("report.txt")).unwrap();
    let words: Vec<&str> = d.transcript.words().map(|w| w.text.as_str()).collect();
    assert_eq!(words, script_text.split_whitespace().collect::<Vec<_>>());
    use vidscribe::correction::Reason;
    assert!(d.corrections.iter().all(|c| c.reason == Reason::Script), "only the script changed words");
    assert!(d.links.as_ref().is_some_and(|l| !l.passages.is_empty()), "still linked to the article");
}

/// Forced decoding times words as recognition does: each sentence of the sample said again by
/// the decoder over its stretch of audio gives the words recognition heard right the same
/// times; and a pass refuses what it cannot do (too many tokens, too little or too much audio)
/// instead of guessing.
#[test]
fn forced_decoding_times_words_as_recognition_does() {
    use vidscribe::asr::{Forcer, Model};
    let tmp = tempfile::tempdir().unwrap();
    let recognised = transcribe(&tmp.path().join("plain"), &[]);
    let model = Model::load_with(&model(), true).unwrap();
    let cancel = vidscribe::progress::Cancel::new();
    let audio = report_pcm(&cancel);
    let mut forcer = Forcer::new(&model, "en", 2).unwrap();
    let plain = |w: &str| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
    let mut shifts = Vec::new();
    for row in common::script() {
        let (from, to) = (row.start_ms.saturating_sub(300), row.end_ms + 300);
        let clip = &audio[from as usize * 16..(to as usize * 16).min(audio.len())];
        let words: Vec<&str> = row.text.split_whitespace().collect();
        let starts = forcer.starts(clip, from, &words, &cancel).unwrap().expect("a sentence fits one pass");
        assert_eq!(starts.len(), words.len());
        assert!(starts.windows(2).all(|s| s[0] <= s[1]), "in order: {starts:?}");
        assert!(starts.iter().all(|&s| (from..to).contains(&s)), "inside the audio read: {starts:?}");
        // Recognised words of the same stretch with the same text, in order.
        let heard: Vec<_> = recognised.transcript.words().filter(|w| (from..to).contains(&w.start_ms)).collect();
        let mut k = 0;
        for (w, s) in words.iter().zip(&starts) {
            if let Some(j) = heard[k..].iter().position(|h| plain(&h.text) == plain(w)) {
                shifts.push(heard[k + j].start_ms.abs_diff(*s));
                k += j + 1;
            }
        }
    }
    shifts.sort_unstable();
    let (median, p95) = (percentile(&shifts, 0.5), percentile(&shifts, 0.95));
    eprintln!("forced against recognised word starts over {} words: median {median} ms, p95 {p95} ms", shifts.len());
    assert!(shifts.len() > 150, "{} words compared", shifts.len());
    assert!(median <= 20 && p95 <= 120, "median {median}, p95 {p95}");

    // What one pass cannot do, it does not try.
    let long: Vec<&str> = std::iter::repeat_n("Nagorno-Karabakh", 120).collect();
    assert_eq!(forcer.starts(&audio[..16 * 20_000], 0, &long, &cancel).unwrap(), None, "over 200 tokens");
    assert_eq!(forcer.starts(&audio[..16 * 900], 0, &["Good"], &cancel).unwrap(), None, "under a second");
    assert_eq!(forcer.starts(&audio[..16 * 31_000], 0, &["Good"], &cancel).unwrap(), None, "over 30 s");
    assert_eq!(forcer.starts(&audio[..16 * 5_000], 0, &[], &cancel).unwrap(), None, "no words");
    // A stop asked for is a stop, not a result.
    let stopped = vidscribe::progress::Cancel::new();
    stopped.cancel();
    assert!(matches!(
        forcer.starts(&audio[..16 * 5_000], 0, &["Good", "evening."], &stopped),
        Err(vidscribe::asr::TranscribeError::Cancelled)
    ));
}

/// A text asked about over the clip and prompt of the one before it branches from the decoder's
/// cache instead of a pass of its own, and scores as a pass of its own would: texts that share
/// a beginning with the last, share nothing, stop short of it, run past it or repeat it, after
/// the article as prompt (longer than the 223 tokens whisper.cpp keeps) or none; the same bits,
/// as the decoder says a branch token by token as a pass does. The peeked distributions come
/// from a pass of its own.
#[test]
fn texts_branched_from_the_decoders_cache_score_as_passes_of_their_own() {
    use vidscribe::asr::{Forcer, Model};
    let model = Model::load_with(&model(), false).unwrap();
    let cancel = vidscribe::progress::Cancel::new();
    let audio = report_pcm(&cancel);
    let article = std::fs::read_to_string(sample("article.txt")).unwrap();
    let long_prompt: String = article.chars().take(2000).collect();
    let mut shared = Forcer::scorer(&model, "en", 2).unwrap();
    let mut compared = 0;
    for prompt in [long_prompt.as_str(), ""] {
        for row in common::script().iter().take(3) {
            let (from, to) = (row.start_ms.saturating_sub(300), row.end_ms + 300);
            let clip = &audio[from as usize * 16..(to as usize * 16).min(audio.len())];
            let words: Vec<&str> = row.text.split_whitespace().collect();
            let n = words.len();
            let mut middle = words.clone();
            middle[n / 2] = "Gerasimov";
            let mut first = words.clone();
            first[0] = "Azerbaijan";
            let texts: Vec<Vec<&str>> = vec![
                words.clone(),
                middle,
                first,
                words[..n - 2].to_vec(),
                words.clone(),
                words.iter().copied().chain(["Yerevan", "said."]).collect(),
                words.clone(),
            ];
            let before = shared.branches();
            for (i, text) in texts.iter().enumerate() {
                let peek: &[usize] = if i == 0 { &[1] } else { &[] };
                let got = shared.likelihood(clip, prompt, text, peek, &cancel).unwrap().expect("a sentence fits");
                let mut own = Forcer::scorer(&model, "en", 2).unwrap();
                let want = own.likelihood(clip, prompt, text, peek, &cancel).unwrap().expect("a sentence fits");
                assert_eq!(own.branches(), 0);
                assert!(
                    (got.logprob - want.logprob).abs() < 1e-9,
                    "text {i} of {:?}: {} branched, {} alone",
                    row.text,
                    got.logprob,
                    want.logprob
                );
                assert_eq!(got.next.len(), want.next.len());
                compared += 1;
            }
            assert_eq!(shared.branches() - before, texts.len() - 1, "all but the first branch");
        }
    }
    assert_eq!(compared, 42);
    // Another clip, or another prompt, is a pass of its own.
    let clip = &audio[16 * 1000..16 * 6000];
    let before = shared.branches();
    shared.likelihood(clip, "", &["Good", "evening."], &[], &cancel).unwrap();
    shared.likelihood(clip, "Armenia.", &["Good", "evening."], &[], &cancel).unwrap();
    assert_eq!(shared.branches(), before);
}

/// The sample report's audio, 16 kHz mono.
fn report_pcm(cancel: &vidscribe::progress::Cancel) -> Vec<f32> {
    vidscribe::media::decode_path(&sample("report.mp4"), &Default::default(), &vidscribe::progress::Silent, cancel)
        .unwrap()
        .samples
}

/// The article step gives a word heard in lower case the capitals of the article's name it
/// spells only where the word is no ordinary one: one the decoder says as a single token after
/// a space ("armed forces" may be any forces; "civilnet" is only the article's Civilnet).
#[test]
fn the_tokenizer_tells_ordinary_words_from_names_only_the_article_spells() {
    use vidscribe::asr::{Forcer, Model};
    let model = Model::load_with(&model(), true).unwrap();
    let forcer = Forcer::new(&model, "en", 1).unwrap();
    for w in ["armed", "forces", "chief", "general", "staff", "court", "southern", "military", "snow"] {
        assert_eq!(forcer.word_tokens(w).len(), 1, "{w}: {:?}", forcer.word_tokens(w));
    }
    // Nor are words English always writes with a capital ("european": 3 tokens in lower case).
    for w in ["civilnet", "azerbaijan", "gerasimov", "sahakyan", "yerevan", "gyumri", "erebuni", "european"] {
        assert!(forcer.word_tokens(w).len() > 1, "{w}: {:?}", forcer.word_tokens(w));
    }
}
