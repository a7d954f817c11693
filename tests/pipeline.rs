//! The streamed, windowed recognition pipeline with the real model and VAD: it hears what one
//! whisper.cpp pass hears, loses no stretch of a long reading, and holds only a bounded stretch
//! of audio at a time.

mod common;

use common::*;
use vidscribe::asr::{self, vad};
use vidscribe::eval::{normalize, word_errors};
use vidscribe::pipeline::{self, Slice};
use vidscribe::progress::{Cancel, Silent};

fn pcm(name: &str) -> Vec<f32> {
    vidscribe::media::decode_path(&speech(name), &Default::default(), &Silent, &Cancel::new()).unwrap().samples
}

fn detector() -> vad::Detector {
    let path = root().join("models").join(vad::VAD_MODEL_FILE);
    assert!(path.is_file(), "the VAD model is missing at {}", path.display());
    vad::Detector::new(&path, asr::transcribe::default_threads()).unwrap()
}

fn windowed(model: &asr::Model, pcm: &[f32]) -> pipeline::Recognised {
    let mut d = detector();
    let opts = asr::TranscribeOptions { dtw: model.uses_dtw(), ..Default::default() };
    pipeline::recognise(&mut Slice::new(pcm), model, Some(&mut d), None, &opts, &Silent, &Cancel::new()).unwrap()
}

#[test]
fn windows_give_the_same_words_as_one_pass() {
    // JFK's 11 s twice, 4 s of silence between: one 26 s whisper.cpp pass, or two windows.
    let jfk = pcm("en_jfk.flac");
    let mut audio = jfk.clone();
    audio.extend(std::iter::repeat_n(0.0, 16_000 * 4));
    audio.extend(&jfk);
    let model = asr::Model::load_with(&model(), true).unwrap();
    let opts = asr::TranscribeOptions { dtw: true, ..Default::default() };
    let single = asr::transcribe(&model, &audio, &opts, &Silent, &Cancel::new()).unwrap();
    let got = windowed(&model, &audio);
    assert_eq!(got.stats.windows, 2, "the silence splits the audio: {:?}", got.stats);
    let (a, b) = (normalize(&single.text()), normalize(&got.transcript.text()));
    assert_eq!(a, b, "\none pass: {}\nwindows:  {}", single.text(), got.transcript.text());
    let reference = std::fs::read_to_string(speech("en_jfk.txt")).unwrap();
    assert_eq!(word_errors(&format!("{reference} {reference}"), &got.transcript.text()).rate(), 0.0);
    // The second telling is timed in the second window.
    let second = got.transcript.words().find(|w| w.start_ms > 11_000).expect("words after the silence");
    assert!((15_000..16_500).contains(&second.start_ms), "{second:?}");
}

#[test]
fn librispeech_reading_loses_nothing_in_bounded_memory() {
    let audio = pcm("en_ls_32-21631.flac");
    let model = asr::Model::load_with(&model(), true).unwrap();
    let got = windowed(&model, &audio);
    let reference = std::fs::read_to_string(speech("en_ls_32-21631.txt")).unwrap();
    let e = word_errors(&reference, &got.transcript.text());
    eprintln!("en_ls_32-21631 windowed: WER {:.2} % ({:?}), {:?}", e.rate() * 100.0, e, got.stats);
    assert!(e.rate() <= 0.04, "WER {:.2} %: {}", e.rate() * 100.0, got.transcript.text());
    assert!(e.deletions <= 6, "{e:?}");
    let words = normalize(&got.transcript.text());
    assert!(words.ends_with(&["newspaper".to_string()]), "ending lost: {:?}", &words[words.len() - 8..]);
    // Never more than a read (a minute), the window waiting for it and the next read, decoded
    // while this one is run through VAD.
    let held_s = got.stats.peak_buffer_samples as f64 / 16_000.0;
    assert!(held_s <= 60.0 + 35.0 + 60.0, "held {held_s:.1} s of audio");
    assert_eq!(got.stats.audio_ms, 278_840);
    // Windows are whole: every word's time lies inside the audio and in order of windows.
    let mut last = 0;
    for s in &got.transcript.segments {
        assert!(s.start_ms + 1_000 >= last, "segments go back in time: {s:?}");
        last = s.start_ms;
    }
}

/// With every core kept busy by other processes, recognition uses one thread (ggml's threads
/// spin at barriers: two on a busy machine took 74 s for a 26 s clip, one 2.2 s) and gives the
/// same words as with the threads an idle machine gives; two lanes (`--lanes 2`) run side by
/// side on one thread each, busy or not, and may not cost more than a point and a half of WER.
#[test]
fn busy_cores_mean_fewer_threads_and_the_same_words() {
    let dir = tempfile::tempdir().unwrap();
    let run = |out: &str, extra: &[&str]| {
        let threads = if extra.contains(&"-t") { &[][..] } else { &["-t", "2"][..] };
        let o = bin()
            .arg("transcribe")
            .arg(sample("report.webm"))
            .arg("-o")
            .arg(dir.path().join(out))
            .args(["-f", "txt", "-q", "--stats", "-m"])
            .arg(model())
            .args(threads)
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let stats = String::from_utf8_lossy(&o.stderr).into_owned();
        (std::fs::read_to_string(dir.path().join(out).join("report.txt")).unwrap(), stats)
    };
    // Whatever threads this machine gives (1 or 2, as busy as it is), one lane.
    let (words, stats) = run("default", &[]);
    assert!(stats.contains("lanes=1"), "one lane by default: {stats}");
    let (one_thread, stats) = run("one", &["-t", "1"]);
    assert!(stats.contains("threads=1-1") && stats.contains("lanes=1"), "{stats}");
    assert_eq!(one_thread, words, "the thread count does not change the words");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut hogs: Vec<std::process::Child> = (0..cores)
        .map(|_| std::process::Command::new("sh").args(["-c", "while :; do :; done"]).spawn().unwrap())
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let busy = run("busy", &[]);
    let busy_lanes = run("busy-lanes", &["--lanes", "2"]);
    for h in &mut hogs {
        let _ = h.kill();
        let _ = h.wait();
    }
    let (busy_words, stats) = busy;
    assert!(stats.contains("threads=1-1") && stats.contains("lanes=1"), "{stats}");
    assert_eq!(busy_words, words);
    let (two_lanes, stats) = busy_lanes;
    assert!(stats.contains("threads=1-1") && stats.contains("lanes=2"), "two lanes even when busy: {stats}");
    // Two lanes start the second half afresh, so some words may differ from one lane's; the
    // accuracy against the exact script may not move by more than a point and a half, and the
    // word count by more than 2 % (nothing lost or repeated where the work is split).
    let reference = std::fs::read_to_string(sample("report.txt")).unwrap();
    let (two, one) = (word_errors(&reference, &two_lanes), word_errors(&reference, &words));
    assert!(two.rate() <= one.rate() + 0.015, "two lanes {two:?} against one {one:?}");
    let count = |t: &str| t.split_whitespace().count();
    assert!(count(&two_lanes).abs_diff(count(&words)) * 50 <= count(&words), "{two_lanes}\n{words}");
}

/// The same input, model and options give the same files, byte for byte, run after run
/// (the threads a run could get may differ; they are recorded, and only they may differ).
#[test]
fn repeated_runs_give_identical_output() {
    let dir = tempfile::tempdir().unwrap();
    let run = |out: &str| {
        let o = bin()
            .arg("run")
            .arg(sample("report.webm"))
            .arg("--article")
            .arg(sample("article.txt"))
            .arg("-o")
            .arg(dir.path().join(out))
            .args(["-q", "-m"])
            .arg(model())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.path().join(out))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let name = e.file_name().to_string_lossy().into_owned();
                let mut bytes = std::fs::read(e.path()).unwrap();
                if name.ends_with(".json") {
                    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                    assert!(v["threads_used"]["recognition"][1].as_u64().unwrap() >= 1, "{}", v["threads_used"]);
                    v.as_object_mut().unwrap().remove("threads_used");
                    bytes = serde_json::to_vec_pretty(&v).unwrap();
                }
                (name, bytes)
            })
            .collect();
        files.sort();
        files
    };
    let first = run("first");
    let second = run("second");
    let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["report.html", "report.json", "report.srt", "report.txt", "report.vtt"]);
    for ((name, a), (_, b)) in first.iter().zip(&second) {
        assert!(a == b, "{name} differs between two runs");
    }
}

/// Stopping recognition at any moment ends it with `Cancelled`, never a crash. Only the
/// encoder's graphs may be stopped in the middle: whisper.cpp aborts the process when the decoder
/// pass of its DTW word timing fails (and that pass runs at the very end of a window), so a stop
/// there must wait for it. Stops are swept over the last third of a one-window pass, where the
/// alignment runs; an abort here ends the whole test binary with SIGABRT.
#[test]
fn a_stop_at_any_moment_is_cancelled_never_a_crash() {
    use std::time::Instant;
    let audio: Vec<f32> = pcm("en_jfk.flac")[..16_000 * 4].to_vec();
    let model = asr::Model::load_with(&model(), true).unwrap();
    let opts = asr::TranscribeOptions { dtw: true, ..Default::default() };
    let whole = {
        let t = Instant::now();
        let got = asr::transcribe(&model, &audio, &opts, &Silent, &Cancel::new()).unwrap();
        assert!(!got.text().trim().is_empty());
        t.elapsed()
    };
    let (mut stopped, mut finished) = (0, 0);
    for k in 0..40u32 {
        let at = whole * 2 / 3 + whole * k / 100;
        let cancel = Cancel::new();
        let result = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(at);
                cancel.cancel();
            });
            asr::transcribe(&model, &audio, &opts, &Silent, &cancel)
        });
        match result {
            Ok(_) => finished += 1,
            Err(asr::TranscribeError::Cancelled) => stopped += 1,
            Err(e) => panic!("stopped at {at:?} of {whole:?}: {e}"),
        }
    }
    eprintln!("a pass takes {whole:?}; of 40 stops late in it, {stopped} cancelled it, {finished} came after its end");
}

/// Whisper can jump over words at a timestamp: on an AMD EPYC with AVX-512, tiny.en q8_0 heard
/// the end of report.webm's fourth window as "… the government responds. Children back." (the
/// segments below, recorded there), leaving a second of speech ("We need our") under no word.
/// The stretch is heard again on its own and its words replace those heard in it.
#[test]
fn words_whisper_jumped_over_are_heard_again() {
    use vidscribe::asr::{Segment, Word};
    use vidscribe::time::Span;
    let audio = vidscribe::media::decode_path(&sample("report.webm"), &Default::default(), &Silent, &Cancel::new())
        .unwrap()
        .samples;
    let model = asr::Model::load_with(&model(), true).unwrap();
    let opts = asr::TranscribeOptions { dtw: true, ..Default::default() };
    let mut r = asr::Recognizer::new(&model, &opts).unwrap();
    let w = asr::window::Window { start_ms: 88_141, end_ms: 97_361 };
    let pcm = &audio[88_141 * 16..97_361 * 16];
    let speech = [Span { start_ms: 82_971, end_ms: 93_921 }, Span { start_ms: 95_421, end_ms: 96_961 }];
    let seg = |start_ms, end_ms, words: &[(&str, u64, u64)]| Segment {
        start_ms,
        end_ms,
        text: words.iter().map(|w| w.0).collect::<Vec<_>>().join(" "),
        no_speech_probability: 0.0,
        words: words
            .iter()
            .map(|&(t, a, b)| Word { text: t.into(), start_ms: a, end_ms: b, probability: 0.9, speaker: None })
            .collect(),
        speaker: None,
    };
    let mut heard = vec![
        seg(
            88_141,
            93_141,
            &[
                ("in", 88_441, 89_021),
                ("captivity", 89_021, 89_481),
                ("gathered", 89_481, 89_941),
                ("outside", 89_941, 90_281),
                ("the", 90_281, 90_601),
                ("local", 90_601, 91_101),
                ("government", 91_101, 91_681),
                ("building", 91_681, 92_201),
                ("demanding", 92_201, 92_521),
                ("that", 92_521, 92_701),
                ("the", 92_701, 93_181),
                ("government", 93_181, 93_181),
            ],
        ),
        seg(93_141, 96_141, &[("responds.", 93_901, 96_141)]),
        seg(96_141, 98_141, &[("Children", 96_441, 97_161), ("back.", 97_161, 97_351)]),
    ];
    let mut stats = pipeline::Stats::default();
    let before = r.save();
    pipeline::fill_holes(&mut r, pcm, w, &speech, &before, &mut heard, 2.4, &mut stats, (&Silent, &Cancel::new()))
        .unwrap();
    let text: Vec<String> = heard.iter().map(|s| s.text.clone()).collect();
    assert_eq!(stats.filled, 1, "{text:?} {:?}", stats.redecoded);
    let words = normalize(&text.join(" "));
    assert_eq!(
        words,
        normalize(
            "in captivity gathered outside the local government building demanding that the government responds. We \
             need our children back."
        ),
        "{text:?}"
    );
    // Recorded: the stretch heard again, both attempts, the one kept.
    let [r] = &stats.redecoded[..] else { panic!("{:?}", stats.redecoded) };
    assert_eq!((r.why.as_str(), r.kept.as_str()), ("hole", "alone"), "{r:?}");
    assert_eq!((r.attempts[0].words, r.attempts[1].words), (2, 5), "{r:?}");
    assert!(r.start_ms <= 95_421 && r.end_ms >= 96_961 && r.end_ms <= w.end_ms, "{r:?}");
    // The new words lie in the stretch, in order, and the segment before ends where they begin.
    let new: Vec<&Word> = heard[2..].iter().flat_map(|s| s.words.iter()).collect();
    assert!(new.windows(2).all(|p| p[0].start_ms <= p[1].start_ms), "{new:?}");
    assert!(new.iter().all(|x| (r.start_ms..=r.end_ms).contains(&x.start_ms)), "{new:?}");
    assert!((95_221..=95_921).contains(&new[0].start_ms), "\"We\" starts near 95.42 s: {new:?}");
    assert!(heard[1].end_ms <= heard[2].start_ms, "{heard:?}");
}
