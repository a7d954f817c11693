//! Recognition from start to end, streamed: PCM comes from a source a minute at a time, voice
//! activity detection finds the speech in it, speech is cut into windows at pauses and each
//! window is recognised as soon as no later audio can change it. Only the audio not yet
//! recognised (and the next minute, decoded while VAD runs) is held, so memory does not grow
//! with the length of the input.
//!
//! Each window is checked: a window whose text is much shorter than its speech (Whisper skipped
//! a stretch) is recognised again without the carried context, then in two halves.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

#[cfg(test)]
use crate::asr::LOOP_RATIO;
use crate::asr::transcribe::Saved;
use crate::asr::transcript::end_with_speech;
use crate::asr::vad::{Detector, VadError};
use crate::asr::window::{self, PAD_BEFORE_MS, SPLIT_GAP_MS, Window};
use crate::asr::{Context, Model, Recognizer, Segment, TranscribeError, TranscribeOptions, Transcript};
use crate::media::resample::TARGET_RATE;
use crate::media::{DecodeError, Stream};
use crate::progress::{Cancel, Progress};
use crate::time::{Ms, Span, ms_to_samples, samples_to_ms};

/// Audio read (and run through VAD) at a time.
const PIECE_SAMPLES: usize = 16_000 * 60;
/// The same with two lanes: four minutes, so each lane gets about two minutes of windows per
/// context break (about 15 MB of samples held).
const LANE_PIECE_SAMPLES: usize = 16_000 * 240;
/// Inputs up to this long get two lanes. Each lane holds a whisper.cpp state (about 190 MB more
/// at peak: 296 -> 493 MB on LibriSpeech 279 s), and on long inputs they did not pay (60 min:
/// 147.2 s with lanes, 143.5 s without; 117 s report: 5.36 s against 6.03 s; AMD EPYC with
/// AVX-512, 2 cores), so long inputs keep one lane and a flat 300 MB.
const LANES_UP_TO_MS: Ms = 10 * 60 * 1000;

/// Where the 16 kHz mono PCM comes from.
pub trait PcmSource {
    /// Appends at least `want` samples to `out`, fewer only at the end; false once the input
    /// has ended.
    fn read(&mut self, out: &mut Vec<f32>, want: usize) -> Result<bool, DecodeError>;
    /// Length of the input, when known in advance.
    fn total_ms(&self) -> Option<Ms>;
}

impl PcmSource for Stream {
    fn read(&mut self, out: &mut Vec<f32>, want: usize) -> Result<bool, DecodeError> {
        Stream::read(self, out, want)
    }
    fn total_ms(&self) -> Option<Ms> {
        self.declared_ms()
    }
}

/// The audio one read of a [`PcmSource`] gave: [`PIECE_SAMPLES`] or more (fewer at the end).
struct Decoded {
    pcm: Vec<f32>,
    /// Whether the input goes on.
    more: bool,
    took: Duration,
}

impl Decoded {
    fn from(source: &mut (dyn PcmSource + Send)) -> Result<Decoded, DecodeError> {
        let t = Instant::now();
        let mut pcm = Vec::with_capacity(PIECE_SAMPLES + TARGET_RATE as usize);
        let more = source.read(&mut pcm, PIECE_SAMPLES)?;
        Ok(Decoded { pcm, more, took: t.elapsed() })
    }
}

/// PCM already in memory.
pub struct Slice<'a> {
    pcm: &'a [f32],
    pos: usize,
}

impl<'a> Slice<'a> {
    pub fn new(pcm: &'a [f32]) -> Self {
        Self { pcm, pos: 0 }
    }
}

impl PcmSource for Slice<'_> {
    fn read(&mut self, out: &mut Vec<f32>, want: usize) -> Result<bool, DecodeError> {
        let end = (self.pos + want).min(self.pcm.len());
        out.extend_from_slice(&self.pcm[self.pos..end]);
        self.pos = end;
        Ok(self.pos < self.pcm.len())
    }
    fn total_ms(&self) -> Option<Ms> {
        Some(samples_to_ms(self.pcm.len() as u64, TARGET_RATE))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Vad(#[from] VadError),
    #[error(transparent)]
    Transcribe(#[from] TranscribeError),
    /// The model could not be loaded (see [`ModelSource`]).
    #[error(transparent)]
    Model(TranscribeError),
    /// The speaker model could not be loaded (it loads while the first audio is read).
    #[error(transparent)]
    SpeakerModel(crate::speakers::model::SpeakerModelError),
    #[error("cancelled")]
    Cancelled,
}

/// Where recognition gets its model: at hand, or still loading in another thread while the
/// first audio is decoded and searched for speech (asked for when the first window is ready).
pub trait ModelSource: Sync {
    fn model(&self) -> Result<&Model, TranscribeError>;
}

impl ModelSource for Model {
    fn model(&self) -> Result<&Model, TranscribeError> {
        Ok(self)
    }
}

/// Where the time went and what the accuracy guard did.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub audio_ms: Ms,
    pub decode: Duration,
    pub vad: Duration,
    pub recognise: Duration,
    /// Time spent embedding voices (`--speakers`).
    pub speakers: Duration,
    pub windows: usize,
    /// Windows recognised again because their text was too short for their speech.
    pub retried: usize,
    /// Of those, windows recognised in two halves.
    pub split: usize,
    /// Windows recognised again because their text went round in a loop.
    pub looped: usize,
    /// Stretches of speech no word covered whose words were found by hearing them again.
    pub filled: usize,
    /// Every window recognised again, why, and which attempt was kept (in the JSON).
    pub redecoded: Vec<Redecoded>,
    /// Most samples held at once.
    pub peak_buffer_samples: usize,
    /// Fewest and most recognition threads a window used (fewer than asked while other
    /// processes kept cores busy).
    pub min_threads: usize,
    pub max_threads: usize,
    /// Recognition lanes that ran side by side at most (1 or 2).
    pub lanes: usize,
}

impl Stats {
    /// Nothing counted yet.
    fn start() -> Self {
        Stats { min_threads: usize::MAX, ..Stats::default() }
    }

    /// Windows from now on run on `threads` threads.
    fn ran_on(&mut self, threads: usize) {
        self.min_threads = self.min_threads.min(threads);
        self.max_threads = self.max_threads.max(threads);
    }

    /// Adds what a lane counted.
    fn add_lane(&mut self, lane: &Stats) {
        self.windows += lane.windows;
        self.retried += lane.retried;
        self.split += lane.split;
        self.looped += lane.looped;
        self.filled += lane.filled;
        self.redecoded.extend(lane.redecoded.iter().cloned());
        self.redecoded.sort_by_key(|r| r.start_ms);
        self.ran_on(lane.min_threads);
        self.ran_on(lane.max_threads);
    }
}

/// What the pipeline found.
#[derive(Debug, Clone)]
pub struct Recognised {
    pub transcript: Transcript,
    /// Speech spans, when VAD was used.
    pub speech: Option<Vec<Span>>,
    pub stats: Stats,
}

/// Words per second of speech below which a window's text is suspect, until the speakers'
/// pace is known: well under anyone's (2–3 words per second of speech).
const MIN_WORDS_PER_S: f64 = 1.0;
/// Then: this share of the pace heard so far. On the sample report whole windows run at
/// 0.84–1.1 of the pace; a window that lost its last two sentences ran at 0.5.
const PACE_SHARE: f64 = 0.6;
/// Windows with less speech than this are not judged.
const JUDGED_SPEECH_MS: Ms = 2_500;

/// How much deflate shrinks `text`: high for text that repeats itself.
fn compression_ratio(text: &str) -> f64 {
    use std::io::Write;
    if text.is_empty() {
        return 0.0;
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to memory does not fail.
    let packed = z.write_all(text.as_bytes()).and_then(|_| z.finish()).map_or(text.len(), |v| v.len());
    text.len() as f64 / packed.max(1) as f64
}

/// A segment this long (bytes) is judged on its own as well: a loop confined to one short
/// stretch can hide in a window whose whole text still reads as speech (LibriSpeech at
/// 48 kHz: 292 bytes of "Good afternoon." in 1.4 s, 3.65 on its own, under 2.4 in its window).
/// Shorter text compresses badly whatever it says.
const JUDGED_SEGMENT_BYTES: usize = 100;
/// Characters per second of a segment no one speaks at (read speech runs at 12–20): a segment
/// of at least `JUDGED_SEGMENT_BYTES` this dense is text the decoder made up.
const MAX_CHARS_PER_S: f64 = 60.0;

/// The compression ratio of a window's text.
fn window_ratio(segs: &[Segment]) -> f64 {
    let text: Vec<&str> = segs.iter().map(|s| s.text.as_str()).collect();
    compression_ratio(&text.join(" "))
}

/// How much a window's text repeats itself.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Repetition {
    /// The compression ratio of its whole text or of its most repetitive long segment,
    /// whichever is higher.
    ratio: f64,
    /// The most characters per second of any long segment.
    chars_per_s: f64,
}

impl Repetition {
    fn of(segs: &[Segment]) -> Self {
        let long = segs.iter().filter(|s| s.text.len() >= JUDGED_SEGMENT_BYTES);
        long.fold(Repetition { ratio: window_ratio(segs), chars_per_s: 0.0 }, |r, s| {
            let secs = (s.end_ms - s.start_ms).max(1) as f64 / 1000.0;
            Repetition {
                ratio: r.ratio.max(compression_ratio(&s.text)),
                chars_per_s: r.chars_per_s.max(s.text.chars().count() as f64 / secs),
            }
        })
    }

    /// Text the decoder made up: it repeats itself more than `loop_ratio` allows, or holds
    /// more characters than its time could (a loop squeezed into a moment).
    fn looped(self, loop_ratio: f64) -> bool {
        self.ratio > loop_ratio || self.unspeakable()
    }

    /// More characters a second than anyone says.
    fn unspeakable(self) -> bool {
        self.chars_per_s > MAX_CHARS_PER_S
    }

    /// Lower is better: text that could be spoken beats text that could not, then the less
    /// repetitive wins.
    fn score(self) -> (bool, f64) {
        (self.unspeakable(), self.ratio)
    }
}

/// A window recognised again: why, what each attempt gave, and which was kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Redecoded {
    pub start_ms: Ms,
    pub end_ms: Ms,
    /// `looped` (its text, or one of its long segments, compressed more than the options'
    /// `loop_ratio` or held more characters than its time could), `short` (fewer
    /// words than its speech holds at the pace heard so far) or `hole` (speech that none of
    /// its words covered: then `start_ms`–`end_ms` is the stretch around it heard again).
    pub why: String,
    /// The attempts in order: `full` (the text so far as context), `prompt-only`,
    /// `no-context`, `halves` (in two, cut at its quietest moment); for a hole `full` (the
    /// window's words in the stretch) and `alone` (the stretch heard on its own).
    pub attempts: Vec<Attempt>,
    /// Which attempt's words were kept.
    pub kept: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub context: String,
    pub words: usize,
    /// The compression ratio of its text, or of its most repetitive segment of at least 100
    /// bytes when higher, to two decimals.
    pub compression_ratio: f64,
    /// The most characters per second of any of its segments of at least 100 bytes, to one
    /// decimal (read speech runs at 12–20; over 60 is a loop).
    #[serde(default)]
    pub chars_per_s: f64,
}

impl Attempt {
    fn of(context: &str, segs: &[Segment]) -> Self {
        let rep = Repetition::of(segs);
        Attempt {
            context: context.into(),
            words: words(segs),
            compression_ratio: (rep.ratio * 100.0).round() / 100.0,
            chars_per_s: (rep.chars_per_s * 10.0).round() / 10.0,
        }
    }
}

fn context_name(c: Context) -> &'static str {
    match c {
        Context::Full => "full",
        Context::PromptOnly => "prompt-only",
        Context::Nothing => "no-context",
    }
}

/// Recognises everything `source` gives. Without a VAD `detector` all audio counts as speech
/// (windows are then cut at the quietest moments); with one, word ends are kept inside the
/// speech they belong to.
pub fn recognise(
    source: &mut (dyn PcmSource + Send),
    model: &dyn ModelSource,
    mut detector: Option<&mut Detector>,
    mut embedder: Option<&mut crate::speakers::Embedder<'_>>,
    opts: &TranscribeOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Recognised, PipelineError> {
    // Made when the first window is ready: the model may still be loading until then.
    let mut first_lane: Option<Recognizer> = None;
    // Asked for two lanes, with two threads or more and an input of known length up to
    // LANES_UP_TO_MS, windows are recognised in two lanes (see below); audio is then read in
    // longer pieces so that a lane has several windows to carry its context through.
    let lanes = opts.lanes >= 2 && opts.threads >= 2 && source.total_ms().is_some_and(|t| t <= LANES_UP_TO_MS);
    let piece_samples = if lanes { LANE_PIECE_SAMPLES } else { PIECE_SAMPLES };
    let mut lane_b: Option<Recognizer> = None;
    let mut stats = Stats::start();
    let mut buf: Vec<f32> = Vec::with_capacity(piece_samples * 2);
    let mut origin_ms: Ms = 0; // time of buf[0]
    let mut spans: Vec<Span> = Vec::new();
    let mut done_ms: Ms = 0;
    let mut segments: Vec<Segment> = Vec::new();
    let mut pace = Pace::default();
    let mut watch = crate::cpu::Watch::start();
    // Speech recognised and not yet embedded (with `--speakers`), and whether the speaker model
    // has been waited for.
    let mut heard: Option<Heard> = None;
    let mut speakers_ready = false;
    let total_ms = source.total_ms();
    let vad = detector.is_some();
    // The read after the one being run through VAD, decoded meanwhile (see below), and whether
    // the last look at the machine left this job two cores (before any look: as asked).
    let mut ahead: Option<Result<Decoded, DecodeError>> = None;
    let mut two_cores = opts.threads >= 2;
    progress.begin("transcribing", total_ms);
    loop {
        if cancel.is_cancelled() {
            return Err(PipelineError::Cancelled);
        }
        // A piece is read and run through VAD a minute at a time (two lanes gather four), so
        // that an interruption is seen within one such step.
        let piece_start = buf.len();
        let mut more = true;
        // The voices of the piece before are embedded meanwhile: reading and finding speech
        // keep one core busy, and neither they nor the embedding spin at barriers, so the three
        // threads share the two cores that recognition has just let go of.
        std::thread::scope(|s| {
            let embedding = match (heard.take(), embedder.as_deref_mut()) {
                (Some(h), Some(e)) => Some(s.spawn(move || h.embed(e, cancel))),
                _ => None,
            };
            // With a core to spare (two left to this job by the last look at the machine, no
            // embedding beside) and an input of known length (a live stream is not waited for),
            // the next read is decoded while this one is run through VAD: neither spins at
            // barriers, and the reads and VAD calls are the same as one after the other
            // (report.webm: 281 ms of decoding, 254 ms of VAD).
            let read_ahead = two_cores && embedding.is_none() && total_ms.is_some();
            let read = (|| {
                while more && buf.len() - piece_start < piece_samples {
                    if cancel.is_cancelled() {
                        return Err(PipelineError::Cancelled);
                    }
                    let from = buf.len();
                    let got = match ahead.take() {
                        Some(got) => got?,
                        None => {
                            progress.step("decoding");
                            Decoded::from(&mut *source)?
                        }
                    };
                    more = got.more;
                    stats.decode += got.took;
                    buf.extend_from_slice(&got.pcm);
                    drop(got);
                    let step_ms = origin_ms + samples_to_ms(from as u64, TARGET_RATE);
                    let step_end_ms = origin_ms + samples_to_ms(buf.len() as u64, TARGET_RATE);
                    let next = std::thread::scope(|s| {
                        let next = (read_ahead && more).then(|| s.spawn(|| Decoded::from(&mut *source)));
                        let t = Instant::now();
                        if detector.is_some() {
                            progress.step("finding speech");
                        }
                        let found = match detector.as_deref_mut() {
                            Some(d) => d.push(&buf[from..], step_ms, &mut spans),
                            None => {
                                match spans.last_mut() {
                                    Some(last) => last.end_ms = step_end_ms,
                                    None if step_end_ms > 0 => spans.push(Span { start_ms: 0, end_ms: step_end_ms }),
                                    None => {}
                                }
                                Ok(())
                            }
                        };
                        stats.vad += t.elapsed();
                        let next = next.map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
                        found.map(|()| next)
                    })?;
                    ahead = next;
                    let held = buf.len() + ahead.as_ref().and_then(|a| a.as_ref().ok()).map_or(0, |a| a.pcm.len());
                    stats.peak_buffer_samples = stats.peak_buffer_samples.max(held);
                }
                Ok::<_, PipelineError>(())
            })();
            if let Some(Err(panic)) = embedding.map(|h| h.join()) {
                std::panic::resume_unwind(panic);
            }
            read
        })?;
        if let Some(e) = embedder.as_deref() {
            // Loaded while the first audio was read: a damaged model stops the job before any
            // recognition.
            if !speakers_ready {
                e.ready().map_err(PipelineError::SpeakerModel)?;
                speakers_ready = true;
            }
            stats.speakers = e.time;
        }
        let end_ms = origin_ms + samples_to_ms(buf.len() as u64, TARGET_RATE);

        let at = |ms: Ms, origin: Ms| ms_to_samples(ms - origin, TARGET_RATE).min(buf.len());
        // Spans already recognised are not looked at again.
        let pending = &spans[spans.partition_point(|s| s.end_ms <= done_ms)..];
        let windows = window::plan(pending, done_ms, end_ms, &mut |a, b| window::quietest_in(&buf, origin_ms, a, b));
        // A window is final once later audio cannot join it.
        let ready = windows
            .iter()
            .enumerate()
            .take_while(|(i, w)| !more || i + 1 < windows.len() || w.end_ms + SPLIT_GAP_MS + PAD_BEFORE_MS <= end_ms)
            .count();
        let t = Instant::now();
        let expected = expected_windows(stats.windows, &windows, end_ms, total_ms);
        let ready = &windows[..ready];
        // One window: its step shown, its audio recognised under the guard.
        let hear = |rec: &mut Recognizer, w: &Window, number: usize, pace: &mut Pace, st: &mut Stats| {
            progress.step(&match expected {
                Some(n) => format!("window {number} of {n}"),
                None => format!("window {number}"),
            });
            let pcm = &buf[at(w.start_ms, origin_ms)..at(w.end_ms, origin_ms)];
            let speech_ms = window::speech_ms(w, pending);
            // Speech the VAD heard, for the holes check (without VAD all audio counts as speech).
            let heard_speech = vad.then_some(pending);
            let got = guarded(rec, pcm, *w, speech_ms, heard_speech, opts.loop_ratio, pace, st, progress, cancel)?;
            st.windows += 1;
            Ok::<_, TranscribeError>(got)
        };
        if lanes && ready.len() >= 2 {
            // Two lanes, each carrying its own context: the first goes on from the text so far,
            // the second starts its half afresh (with the prompt). The split depends on the audio
            // alone, never on the load, so the words are the same whether the halves run side by
            // side or one after the other (`--threads 1`). The lanes always run side by side:
            // on one thread each they never reach a ggml barrier, so a busy machine only
            // time-slices them, and they get two of its runnable threads rather than one
            // (report.webm beside another transcription: 8.31 s one after the other, see README).
            // More threads per lane only where more cores are idle, and a lane that outlives
            // the other takes the core that one leaves (report.mp4: five windows cannot be cut
            // evenly; the lane with three ran 1.8 s alone).
            let k = balanced_split(ready);
            let r = recogniser(&mut first_lane, model, opts)?;
            let second = match &mut lane_b {
                Some(b) => b,
                None => lane_b.insert(Recognizer::new(r.model(), opts)?),
            };
            second.restore(Saved::empty());
            let threads = watch.threads(opts.threads);
            two_cores = threads >= 2;
            let per_lane = (threads / 2).max(1);
            let began = watch;
            let running = AtomicUsize::new(2);
            r.set_threads(per_lane);
            second.set_threads(per_lane);
            let finished = AtomicU64::new(0);
            let lane = |rec: &mut Recognizer, group: &[Window], first: usize, mut pace: Pace| {
                let mut st = Stats::start();
                st.ran_on(per_lane);
                let mut out = Vec::new();
                let mut alone = false;
                for (j, w) in group.iter().enumerate() {
                    if !alone && running.load(Ordering::Acquire) == 1 {
                        alone = true;
                        let mut since_began = began;
                        let threads = since_began.threads(opts.threads);
                        rec.set_threads(threads);
                        st.ran_on(threads);
                    }
                    out.extend(hear(rec, w, first + j + 1, &mut pace, &mut st)?);
                    let d = finished.fetch_add(w.len_ms(), Ordering::Relaxed) + w.len_ms();
                    progress.at(done_ms + d);
                }
                running.fetch_sub(1, Ordering::AcqRel);
                Ok::<_, TranscribeError>((out, st, pace))
            };
            let (a, b) = ready.split_at(k);
            let (pace_a, pace_b) = (std::mem::take(&mut pace), Pace::default());
            let start_b = stats.windows + a.len();
            let (got_a, got_b) = std::thread::scope(|s| {
                let hb = s.spawn(|| lane(second, b, start_b, pace_b));
                let ga = lane(r, a, stats.windows, pace_a);
                (ga, hb.join().unwrap_or(Err(TranscribeError::Whisper("a recognition lane panicked".into()))))
            });
            let ((seg_a, st_a, pa), (seg_b, st_b, pb)) = (got_a?, got_b?);
            segments.extend(seg_a);
            segments.extend(seg_b);
            // The second lane's pace is what it heard; the first lane's already includes the past.
            pace = Pace { words: pa.words + pb.words, speech_ms: pa.speech_ms + pb.speech_ms };
            stats.add_lane(&st_a);
            stats.add_lane(&st_b);
            stats.lanes = 2;
            r.restore(second.save());
            done_ms = ready[ready.len() - 1].end_ms;
            progress.at(done_ms);
        } else {
            for w in ready {
                let r = recogniser(&mut first_lane, model, opts)?;
                // Never more busy threads than idle cores (ggml's threads spin at every barrier).
                let threads = watch.threads(opts.threads);
                two_cores = threads >= 2;
                r.set_threads(threads);
                stats.ran_on(threads);
                stats.lanes = stats.lanes.max(1);
                let number = stats.windows + 1;
                segments.extend(hear(r, w, number, &mut pace, &mut stats)?);
                done_ms = w.end_ms;
                progress.at(done_ms);
            }
        }
        stats.recognise += t.elapsed();
        // Voices of the speech just recognised: its audio kept for the embedding, which runs
        // while the next piece is read (above), or now when there is none.
        if embedder.is_some() && !ready.is_empty() {
            let threads = watch.threads(opts.threads);
            let stretches = ready
                .iter()
                .map(|w| {
                    let (a, b) = (at(w.start_ms, origin_ms), at(w.end_ms, origin_ms));
                    (origin_ms + samples_to_ms(a as u64, TARGET_RATE), buf[a..b].to_vec())
                })
                .collect();
            heard = Some(Heard { stretches, speech: pending.to_vec(), threads });
        }
        if !more && let (Some(h), Some(e)) = (heard.take(), embedder.as_deref_mut()) {
            progress.step("telling voices apart");
            h.embed(e, cancel);
            stats.speakers = e.time;
            if cancel.is_cancelled() {
                return Err(PipelineError::Cancelled);
            }
        }
        if !more {
            break;
        }
        if windows.is_empty() {
            // Nothing pending: only the start of speech that may follow needs keeping.
            done_ms = done_ms.max(end_ms.saturating_sub(PAD_BEFORE_MS));
        }
        let drop = at(done_ms, origin_ms);
        buf.drain(..drop);
        origin_ms += samples_to_ms(drop as u64, TARGET_RATE);
    }
    progress.end();
    stats.audio_ms = origin_ms + samples_to_ms(buf.len() as u64, TARGET_RATE);
    let language = recogniser(&mut first_lane, model, opts)?.language();
    let mut transcript = Transcript { language, segments };
    let speech = detector.is_some().then(|| {
        transcript.end_words_with_speech(&spans);
        spans
    });
    stats.min_threads = stats.min_threads.min(stats.max_threads);
    Ok(Recognised { transcript, speech, stats })
}

/// Recognised speech whose voices are still to be embedded: each window's start and audio, the
/// speech spans around them, and the threads the embedding may take.
struct Heard {
    stretches: Vec<(Ms, Vec<f32>)>,
    speech: Vec<Span>,
    threads: usize,
}

impl Heard {
    /// Embeds the stretches, unless cancelled (the caller sees that).
    fn embed(self, e: &mut crate::speakers::Embedder<'_>, cancel: &Cancel) {
        if cancel.is_cancelled() {
            return;
        }
        let stretches: Vec<(Ms, &[f32])> = self.stretches.iter().map(|(t, pcm)| (*t, pcm.as_slice())).collect();
        e.hear_all(&stretches, &self.speech, self.threads);
    }
}

/// The first lane's recogniser, made on first use (when the model is first needed).
fn recogniser<'a, 'm>(
    slot: &'a mut Option<Recognizer<'m>>,
    model: &'m dyn ModelSource,
    opts: &TranscribeOptions,
) -> Result<&'a mut Recognizer<'m>, PipelineError> {
    Ok(match slot {
        Some(r) => r,
        None => slot.insert(Recognizer::new(model.model().map_err(PipelineError::Model)?, opts)?),
    })
}

/// How many windows the whole input will make, estimated from those made so far (`done`),
/// those planned in the audio read (`planned`, ending at `end_ms`) and the audio still to come;
/// unknown when the input's length is.
fn expected_windows(done: usize, planned: &[Window], end_ms: Ms, total_ms: Option<Ms>) -> Option<usize> {
    let total_ms = total_ms?;
    let known = done + planned.len();
    let covered = planned.last().map_or(end_ms, |w| w.end_ms).max(1);
    let rest = total_ms.saturating_sub(end_ms);
    // The pace of windows per audio ms so far (at least one window per input).
    let more = (rest as f64 * known.max(1) as f64 / covered as f64).round() as usize;
    Some((known + more).max(done + 1))
}

/// Where to cut `windows` (two or more) into two runs of about the same length of audio: the
/// number of windows in the first.
fn balanced_split(windows: &[Window]) -> usize {
    let total: Ms = windows.iter().map(|w| w.len_ms()).sum();
    let mut before: Ms = 0;
    let mut best = (Ms::MAX, 1);
    for (k, w) in windows.iter().enumerate().take(windows.len() - 1) {
        before += w.len_ms();
        let diff = before.abs_diff(total - before);
        if diff < best.0 {
            best = (diff, k + 1);
        }
    }
    best.1
}

/// Words recognised per second of speech so far.
#[derive(Debug, Default)]
struct Pace {
    words: usize,
    speech_ms: Ms,
}

impl Pace {
    fn too_few(&self, words: usize, speech_ms: Ms) -> bool {
        if speech_ms < JUDGED_SPEECH_MS {
            return false;
        }
        let floor = if self.speech_ms >= 30_000 {
            PACE_SHARE * self.words as f64 * 1000.0 / self.speech_ms as f64
        } else {
            MIN_WORDS_PER_S
        };
        (words as f64) < floor * speech_ms as f64 / 1000.0
    }
}

fn words(segs: &[Segment]) -> usize {
    segs.iter().map(|s| s.words.len()).sum()
}

/// A window being recognised again: the record of its attempts, and the text context after the
/// best so far (restored once the attempts are over).
struct Again {
    record: Redecoded,
    best_saved: Saved,
}

impl Again {
    fn new(r: &Recognizer, w: Window, why: &str, first: &[Segment]) -> Self {
        let record = Redecoded {
            start_ms: w.start_ms,
            end_ms: w.end_ms,
            why: why.into(),
            attempts: vec![Attempt::of("full", first)],
            kept: "full".into(),
        };
        Again { record, best_saved: r.save() }
    }

    /// Recognises the window again from the context `before` it with less of it (the prompt
    /// only, then nothing), keeping an attempt that is `better` than the best so far, until the
    /// best is `enough`.
    #[allow(clippy::too_many_arguments)]
    fn with_less_context(
        &mut self,
        r: &mut Recognizer,
        pcm: &[f32],
        before: &Saved,
        best: &mut Vec<Segment>,
        better: impl Fn(&[Segment], &[Segment]) -> bool,
        enough: impl Fn(&[Segment]) -> bool,
        (progress, cancel): (&dyn Progress, &Cancel),
    ) -> Result<(), TranscribeError> {
        for context in [Context::PromptOnly, Context::Nothing] {
            r.restore(before.clone());
            let got = r.recognise(pcm, self.record.start_ms, context, progress, cancel)?;
            self.record.attempts.push(Attempt::of(context_name(context), &got));
            if better(&got, best) {
                *best = got;
                self.best_saved = r.save();
                self.record.kept = context_name(context).into();
            }
            if enough(best) {
                break;
            }
        }
        Ok(())
    }
}

/// Recognises one window; if its text is too short for its speech, recognises it again with
/// less context, then in two halves, and keeps the attempt with the most words. If its text
/// went round in a loop, recognises it again with less context and keeps the first attempt
/// that does not (else the one that compresses least). With the VAD's speech
/// (`heard_speech`), stretches of it that no word covers are then heard again ([`fill_holes`]).
#[allow(clippy::too_many_arguments)]
fn guarded(
    r: &mut Recognizer,
    pcm: &[f32],
    w: Window,
    speech_ms: Ms,
    heard_speech: Option<&[Span]>,
    loop_ratio: f64,
    pace: &mut Pace,
    stats: &mut Stats,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Vec<Segment>, TranscribeError> {
    let before: Saved = r.save();
    let mut best = r.recognise(pcm, w.start_ms, Context::Full, progress, cancel)?;
    if Repetition::of(&best).looped(loop_ratio) {
        stats.looped += 1;
        let mut again = Again::new(r, w, "looped", &best);
        again.with_less_context(
            r,
            pcm,
            &before,
            &mut best,
            |got, best| Repetition::of(got).score() < Repetition::of(best).score(),
            |best| !Repetition::of(best).looped(loop_ratio),
            (progress, cancel),
        )?;
        r.restore(again.best_saved);
        stats.redecoded.push(again.record);
    }
    if pace.too_few(words(&best), speech_ms) {
        stats.retried += 1;
        let mut again = Again::new(r, w, "short", &best);
        again.with_less_context(
            r,
            pcm,
            &before,
            &mut best,
            |got, best| words(got) > words(best),
            |best| !pace.too_few(words(best), speech_ms),
            (progress, cancel),
        )?;
        if pace.too_few(words(&best), speech_ms) && w.len_ms() >= 2 * window::MIN_WINDOW_MS {
            r.restore(before.clone());
            let third = w.len_ms() / 3;
            let cut = window::quietest_in(pcm, w.start_ms, w.start_ms + third, w.end_ms - third);
            let split = ms_to_samples(cut - w.start_ms, TARGET_RATE);
            let mut halves = r.recognise(&pcm[..split], w.start_ms, Context::Full, progress, cancel)?;
            halves.extend(r.recognise(&pcm[split..], cut, Context::Full, progress, cancel)?);
            again.record.attempts.push(Attempt::of("halves", &halves));
            if words(&halves) > words(&best) {
                stats.split += 1;
                best = halves;
                again.best_saved = r.save();
                again.record.kept = "halves".into();
            }
        }
        r.restore(again.best_saved);
        stats.redecoded.push(again.record);
    }
    if let Some(speech) = heard_speech {
        fill_holes(r, pcm, w, speech, &before, &mut best, loop_ratio, stats, (progress, cancel))?;
    }
    pace.words += words(&best);
    pace.speech_ms += speech_ms;
    Ok(best)
}

/// Speech this long (ms) that none of a window's words covers lost its words: Whisper jumped
/// over it (report.webm on AVX-512: "We need our children back." heard as "Children back.",
/// 1020 ms of speech uncovered). Word times from DTW leave up to ~700 ms between words of real
/// speech (LibriSpeech: at most 640 ms).
const HOLE_MS: Ms = 800;
/// Holes heard again in one window at most.
const MAX_HOLES: usize = 3;

/// The first stretch of `speech` (inside `w`, after `from`) of at least `HOLE_MS` that no word
/// of `segs` covers.
fn first_hole(segs: &[Segment], speech: &[Span], w: Window, from: Ms) -> Option<Span> {
    let mut words: Vec<(Ms, Ms)> = segs
        .iter()
        .flat_map(|s| s.words.iter().map(|x| (x.start_ms, end_with_speech(x.start_ms, x.end_ms, speech))))
        .collect();
    words.sort_unstable();
    for span in speech {
        let (a, b) = (span.start_ms.max(w.start_ms).max(from), span.end_ms.min(w.end_ms));
        if a >= b {
            continue;
        }
        let mut t = a;
        for &(ws, we) in words.iter().filter(|&&(ws, we)| we > a && ws < b) {
            if ws >= t + HOLE_MS {
                return Some(Span { start_ms: t, end_ms: ws });
            }
            t = t.max(we);
        }
        if b >= t + HOLE_MS {
            return Some(Span { start_ms: t, end_ms: b });
        }
    }
    None
}

/// Hears again, on their own, stretches of the window's speech its words left uncovered
/// (`first_hole`): the segments whose words fall in the speech span of the hole are replaced
/// by what is heard in their stretch, if that has more words and does not loop.
#[allow(clippy::too_many_arguments)]
pub fn fill_holes(
    r: &mut Recognizer,
    pcm: &[f32],
    w: Window,
    speech: &[Span],
    before: &Saved,
    best: &mut Vec<Segment>,
    loop_ratio: f64,
    stats: &mut Stats,
    (progress, cancel): (&dyn Progress, &Cancel),
) -> Result<(), TranscribeError> {
    let after = r.save();
    let mut from = w.start_ms;
    for _ in 0..MAX_HOLES {
        let Some(hole) = first_hole(best, speech, w, from) else { break };
        // The speech span the hole is in, and the segments with words in it from the hole on.
        let span_end = speech
            .iter()
            .find(|s| s.start_ms <= hole.start_ms && hole.start_ms < s.end_ms)
            .map_or(hole.end_ms, |s| s.end_ms.min(w.end_ms));
        let touches = |s: &Segment| {
            s.words
                .iter()
                .any(|x| end_with_speech(x.start_ms, x.end_ms, speech) > hole.start_ms && x.start_ms < span_end)
        };
        let first = best.iter().position(touches).unwrap_or(best.partition_point(|s| s.start_ms < hole.start_ms));
        let last = best.iter().rposition(touches).map_or(first, |i| i + 1);
        let old = &best[first..last];
        let spoken = old.iter().flat_map(|s| &s.words);
        let start_ms = spoken.clone().map(|x| x.start_ms).fold(hole.start_ms, Ms::min);
        let end_ms = spoken.map(|x| end_with_speech(x.start_ms, x.end_ms, speech)).fold(span_end, Ms::max);
        let a = start_ms.saturating_sub(PAD_BEFORE_MS).max(w.start_ms);
        let b = (end_ms + window::PAD_AFTER_MS).min(w.end_ms);
        let at = |ms: Ms| ms_to_samples(ms - w.start_ms, TARGET_RATE).min(pcm.len());
        r.restore(before.clone());
        let got = r.recognise(&pcm[at(a)..at(b)], a, Context::Full, progress, cancel)?;
        let mut record = Redecoded {
            start_ms: a,
            end_ms: b,
            why: "hole".into(),
            attempts: vec![Attempt::of("full", old), Attempt::of("alone", &got)],
            kept: "full".into(),
        };
        let better = words(&got) > words(old) && !Repetition::of(&got).looped(loop_ratio);
        from = hole.end_ms;
        if better {
            record.kept = "alone".into();
            stats.filled += 1;
            best.splice(first..last, got);
            best.sort_by_key(|s| s.start_ms);
            // A segment kept before the stretch ends where the stretch's words begin.
            for i in 1..best.len() {
                let next = best[i].start_ms;
                let prev = &mut best[i - 1];
                prev.end_ms = prev.end_ms.min(next).max(prev.start_ms);
            }
        }
        stats.redecoded.push(record);
    }
    r.restore(after);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_that_goes_round_in_a_loop_is_told_from_speech() {
        // What beam search gave for a window of the sample report, and what the speech said.
        let looping = "\"We spoke to family in the cross of the country this week and many cities have heard in \
            four months.\" The third has been for months. \"We spoke to the third, having four months. \"We spoke to \
            the third, having four months. \"We spoke to the third, having four months. \"We spoke to the third, \
            having four months. \"We spoke to the third, having four months. \"We spoke to the third, having four months.";
        let speech = "We spoke to families across the country this week and many said they had heard nothing in \
            four months. I remember the first flight when we left Baku and the faces of those servicemen when they \
            flew to Yerevan to the Erebuni airfield. Estimates of how many Armenian soldiers are still held in \
            Azerbaijan range from forty to one hundred and forty.";
        assert!(compression_ratio(looping) > LOOP_RATIO, "{}", compression_ratio(looping));
        assert!(compression_ratio(speech) < LOOP_RATIO, "{}", compression_ratio(speech));
        assert!(compression_ratio("Good evening.") < LOOP_RATIO);
        assert_eq!(compression_ratio(""), 0.0);
    }

    fn seg(start_ms: Ms, end_ms: Ms, text: &str) -> Segment {
        Segment { start_ms, end_ms, text: text.into(), no_speech_probability: 0.0, words: vec![], speaker: None }
    }

    #[test]
    fn a_loop_confined_to_one_segment_is_caught() {
        // What tiny.en heard in LibriSpeech 32-21631 resampled from 48 kHz: one 1.4 s segment
        // goes round, the rest of the window is the chapter as read.
        let heard = [
            (
                65_701,
                70_661,
                "Brownie happened to be inside his house, and in a wonderfully short time his head appeared,",
            ),
            (71_221, 74_661, "above the water, and he soon crawled up beside Mr. Crow."),
            (75_861, 79_461, "\"Well, I am glad to see you,\" he told Mr. Crow."),
            (80_421, 86_101, "\"Peter Mink caught a monstrous eel in the duck pond on Monday,\" Mr. Crow said."),
            (
                86_981,
                92_981,
                "\"Being a newspaper, he thought he ought to say nothing except what was news, not even good",
            ),
            (
                92_981,
                94_371,
                "afternoon. overnight good afternoon. Good. good next afternoon. Good after noon. Good \
                afternoon. Good afternoon. Good afternoon. Good After noon... Good afternoon seconds good afternoon. \
                Good afternoon. Good afternoon afternoon good afternoon afternoon Good afternoon afternoon good \
                afternoon",
            ),
            (
                94_551,
                120_891,
                "Mr. Rabbit of Pine Ridge with his wife and 14 children is visiting his brother Mr. \
                Jeremiah Rabbit. Mr. Crow continued to relate in a sing song voice. Good gracious Brownie Beaver \
                exclaimed. \"Faddy Coon,\" Mr. Crow said. \"Faddy Coon was confined to his house by illness \
                Tuesday night. He ate too many dried apples.\"",
            ),
        ];
        let window: Vec<Segment> = heard.iter().map(|&(a, b, t)| seg(a, b, t)).collect();
        assert!(window_ratio(&window) < LOOP_RATIO, "the window as a whole hides it: {}", window_ratio(&window));
        let looped = Repetition::of(&window);
        assert!(looped.looped(LOOP_RATIO), "{looped:?}");
        // Either sign alone would tell: it repeats itself and no one speaks that fast.
        assert!(looped.ratio > LOOP_RATIO && looped.chars_per_s > MAX_CHARS_PER_S, "{looped:?}");
        let mut read = window.clone();
        read.remove(5);
        let clean = Repetition::of(&read);
        assert!(!clean.looped(LOOP_RATIO), "{clean:?}");
        assert!(looped.score() > clean.score());
        // Only its density gives it away when it does not repeat word for word.
        let dense = [seg(0, 1_000, &read[5].text)];
        assert!(Repetition::of(&dense).looped(LOOP_RATIO) && !Repetition::of(&dense[..0]).looped(LOOP_RATIO));
        // A short segment is not judged on its own however fast it looks.
        assert!(!Repetition::of(&[seg(0, 100, "Good afternoon. Good afternoon.")]).looped(LOOP_RATIO));
    }

    #[test]
    fn a_window_is_suspect_when_its_text_is_short_for_its_speech() {
        let fresh = Pace::default();
        // Before the pace is known: under one word per second of speech.
        assert!(fresh.too_few(9, 10_000));
        assert!(!fresh.too_few(10, 10_000));
        // Too little speech to judge.
        assert!(!fresh.too_few(0, 2_000));
        // Once known (2.7 words/s): under 60 % of it.
        let known = Pace { words: 225, speech_ms: 83_255 };
        assert!(known.too_few(18, 13_470), "the window that lost its last two sentences");
        assert!(!known.too_few(42, 18_530), "a whole window at 0.84 of the pace");
    }

    /// Words with times (ms) from `(text, start, end)`.
    fn timed(start_ms: Ms, end_ms: Ms, words: &[(&str, Ms, Ms)]) -> Segment {
        let text = words.iter().map(|w| w.0).collect::<Vec<_>>().join(" ");
        let words = words
            .iter()
            .map(|&(t, a, b)| crate::asr::Word {
                text: t.into(),
                start_ms: a,
                end_ms: b,
                probability: 0.9,
                speaker: None,
            })
            .collect();
        Segment { words, ..seg(start_ms, end_ms, &text) }
    }

    #[test]
    fn speech_that_no_word_covers_is_a_hole() {
        // The end of report.webm's fourth window as heard on an AMD EPYC with AVX-512: "We need
        // our" lost (the speech at 95421-96961 ms holds "We need our children back."). "responds."
        // runs on to the segment's closing timestamp, past the end of its speech.
        let w = Window { start_ms: 92_500, end_ms: 97_361 };
        let speech = [Span { start_ms: 82_971, end_ms: 93_921 }, Span { start_ms: 95_421, end_ms: 96_961 }];
        let said = [("that", 92_521, 92_701), ("the", 92_701, 93_181), ("government", 93_181, 93_181)];
        let heard = vec![
            timed(88_141, 93_141, &said),
            timed(93_141, 96_141, &[("responds.", 93_901, 96_141)]),
            timed(96_141, 98_141, &[("Children", 96_441, 97_161), ("back.", 97_161, 97_351)]),
        ];
        assert_eq!(first_hole(&heard, &speech, w, w.start_ms), Some(Span { start_ms: 95_421, end_ms: 96_441 }));
        // Looked for after it, there is none; nor in the window as heard in full.
        assert_eq!(first_hole(&heard, &speech, w, 96_441), None);
        let we =
            [("We", 95_661, 95_861), ("need", 95_861, 96_241), ("our", 96_241, 96_421), ("children", 96_421, 97_161)];
        let full = vec![heard[0].clone(), heard[1].clone(), timed(95_221, 99_221, &we)];
        assert_eq!(first_hole(&full, &speech, w, w.start_ms), None);
        // 720 ms between "government" and "responds." is the pause DTW leaves, not a hole; nor
        // are 700 ms of a span after its last word.
        assert_eq!(first_hole(&heard[..2], &speech[..1], w, w.start_ms), None);
        let short = [Span { start_ms: 82_971, end_ms: 93_881 }];
        assert_eq!(first_hole(&heard[..1], &short, w, w.start_ms), None);
        // 800 ms are.
        let longer = [Span { start_ms: 82_971, end_ms: 93_981 }];
        assert_eq!(first_hole(&heard[..1], &longer, w, w.start_ms), Some(Span { start_ms: 93_181, end_ms: 93_981 }));
        // Speech before the window's start is not the window's to fill.
        let early = Window { start_ms: 96_000, end_ms: 97_361 };
        assert_eq!(first_hole(&heard[2..], &speech, early, early.start_ms), None);
    }
}
