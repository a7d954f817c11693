//! Who speaks when: speaker embeddings of stretches of speech (CAM++, a model imported like the
//! Whisper weights), clustered into speakers, made into turns that follow word boundaries.
//! Names come later, at the link step, from the article's attributions.
//!
//! The pipeline hands each recognised window's audio to an [`Embedder`] (so an hour is never
//! held in memory); [`assign`] then clusters what it embedded and labels the transcript's words.
#![deny(unsafe_code)]

pub mod campplus;
pub mod checkpoint;
pub mod cluster;
pub mod fbank;
mod gemm;
pub use gemm::{uses_bf16, uses_vnni};
pub mod model;
pub mod names;

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::asr::transcript::Transcript;
use crate::time::{Ms, Span, ms_to_samples};
use campplus::CamPlus;
use fbank::Fbank;

/// Length of an embedded stretch.
pub const WINDOW_MS: Ms = 1_500;
/// Most time between the starts of two stretches of one span of speech. Voices change at
/// pauses far more often than inside a span, and each span's first and last moments are always
/// embedded; inside, stretches every three seconds are enough to see a change, and one is
/// looked at more closely where two neighbours disagree ([`REFINE_BELOW`]).
pub const STEP_MS: Ms = 3_000;
/// Neighbouring stretches less similar than this (cosine) get one more stretch between them.
pub const REFINE_BELOW: f32 = 0.5;
/// Speech shorter than this is not embedded (too little to tell a voice by).
pub const MIN_SPEECH_MS: Ms = 400;
/// Cosine distance under which two groups of stretches are one speaker (average linkage).
/// Tuned on clips of the LibriVox and LibriSpeech readers, never on the tests' material (see
/// tests/speakers.rs).
pub const THRESHOLD: f32 = 0.6;
/// A cluster with less speech than this, and under [`MIN_SHARE`] of all, is not a speaker of
/// its own: its stretches go to the most similar speaker.
pub const MIN_SPEAKER_MS: Ms = 3_000;
pub const MIN_SHARE: f32 = 0.08;
/// How far into a word its speaker is asked for.
const VOTE_MS: Ms = 150;
/// A run of words shorter than this between two turns of one speaker joins them.
pub const MIN_TURN_MS: Ms = 1_000;

/// What `--speakers` asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeakerOptions {
    /// The number of speakers, when known (`--speakers N`); else found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    /// The clustering threshold used when the count is found.
    pub threshold: f32,
    /// Names an editor gave (`--speaker-names "1=Rustam Muradov,2=…"`), by speaker id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<(u32, String)>,
}

/// Most names `--speaker-names` takes, and the longest name.
pub const MAX_NAMES: usize = 32;
pub const MAX_NAME_CHARS: usize = 100;

/// Reads `--speaker-names`: `ID=Name` pairs separated by commas, ids from 1, each once; names
/// made one safe line, none empty or over [`MAX_NAME_CHARS`] characters.
pub fn parse_names(text: &str) -> Result<Vec<(u32, String)>, String> {
    let mut out: Vec<(u32, String)> = Vec::new();
    for part in text.split(',').filter(|p| !p.trim().is_empty()) {
        let (id, name) = part.split_once('=').ok_or_else(|| format!("\"{}\" is not ID=Name", part.trim()))?;
        let id: u32 = id
            .trim()
            .parse()
            .ok()
            .filter(|&i| i >= 1)
            .ok_or_else(|| format!("\"{}\" is not a speaker id (1, 2, …)", id.trim()))?;
        let name = crate::text::safe_line(name.trim());
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(format!("speaker {id}: a name of 1 to {MAX_NAME_CHARS} characters"));
        }
        if out.iter().any(|(i, _)| *i == id) {
            return Err(format!("speaker {id} is named twice"));
        }
        out.push((id, name));
        if out.len() > MAX_NAMES {
            return Err(format!("more than {MAX_NAMES} names"));
        }
    }
    if out.is_empty() {
        return Err("no ID=Name pairs".into());
    }
    Ok(out)
}

impl Default for SpeakerOptions {
    fn default() -> Self {
        SpeakerOptions { count: None, threshold: THRESHOLD, names: Vec::new() }
    }
}

/// A stretch of speech and its voice.
#[derive(Debug, Clone)]
pub struct Embedded {
    pub span: Span,
    pub vector: Vec<f32>,
}

/// Embeds the speech of each recognised window as the pipeline goes.
pub struct Embedder<'m> {
    net: Net<'m>,
    fbank: Fbank,
    items: Vec<Embedded>,
    step_ms: Ms,
    /// Time spent embedding.
    pub time: Duration,
}

/// Stretches to embed in `speech`: [`WINDOW_MS`] long every `step_ms`, the last one ending at
/// the span's end; a span shorter than a window is one stretch; spans under
/// [`MIN_SPEECH_MS`] are left out.
pub fn plan_windows(speech: &[Span], step_ms: Ms) -> Vec<Span> {
    let mut out = Vec::new();
    for s in speech {
        let len = s.end_ms.saturating_sub(s.start_ms);
        if len < MIN_SPEECH_MS {
            continue;
        }
        if len <= WINDOW_MS {
            out.push(*s);
            continue;
        }
        if len <= 2 * WINDOW_MS {
            // One voice is all a span this short holds, nearly always: one stretch, its middle.
            let start = s.start_ms + (len - WINDOW_MS) / 2;
            out.push(Span { start_ms: start, end_ms: start + WINDOW_MS });
            continue;
        }
        // First and last stretches at the span's edges, the rest evenly between them.
        let room = len - WINDOW_MS;
        let k = room.div_ceil(step_ms.max(1)).max(1);
        for i in 0..=k {
            let start = s.start_ms + room * i / k;
            out.push(Span { start_ms: start, end_ms: start + WINDOW_MS });
        }
    }
    out
}

/// Where two neighbouring stretches of one span disagree, a stretch half-way between them.
fn refinements(windows: &[Span], vectors: &[Option<Vec<f32>>], speech: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    for i in 1..windows.len() {
        let (a, b) = (windows[i - 1], windows[i]);
        let (Some(va), Some(vb)) = (&vectors[i - 1], &vectors[i]) else { continue };
        let same_span = speech.iter().any(|s| s.start_ms <= a.start_ms && b.end_ms <= s.end_ms);
        let (ca, cb) = ((a.start_ms + a.end_ms) / 2, (b.start_ms + b.end_ms) / 2);
        if !same_span || cb < ca + WINDOW_MS / 2 {
            continue;
        }
        let sim: f32 = va.iter().zip(vb).map(|(x, y)| x * y).sum();
        if sim < REFINE_BELOW {
            let mid = (ca + cb) / 2;
            let start = mid.saturating_sub(WINDOW_MS / 2).clamp(a.start_ms, b.end_ms.saturating_sub(WINDOW_MS));
            out.push(Span { start_ms: start, end_ms: start + WINDOW_MS });
        }
    }
    out
}

/// Stretches embedded together: each weight matrix is packed once per batch.
const BATCH: usize = 8;

/// The network an [`Embedder`] uses: loaded, or still loading.
#[derive(Clone, Copy)]
enum Net<'m> {
    Ready(&'m CamPlus),
    Loading(&'m model::Loading),
}

impl<'m> Embedder<'m> {
    /// `total_ms`, when known, sets the step: longer inputs embed more sparsely so that the
    /// clustering stays within [`cluster::MAX_ITEMS`].
    pub fn new(net: &'m CamPlus, total_ms: Option<Ms>) -> Self {
        Self::with(Net::Ready(net), total_ms)
    }

    /// As [`Embedder::new`] with a network still loading, waited for when first needed. If it
    /// fails to load, nothing is embedded; the caller learns why from [`model::Loading::wait`].
    pub fn loading(net: &'m model::Loading, total_ms: Option<Ms>) -> Self {
        Self::with(Net::Loading(net), total_ms)
    }

    /// Waits for the network if it is still loading: why it could not be loaded, if it could not.
    pub fn ready(&self) -> Result<(), model::SpeakerModelError> {
        match self.net {
            Net::Ready(_) => Ok(()),
            Net::Loading(loading) => loading.wait().map(|_| ()),
        }
    }

    fn with(net: Net<'m>, total_ms: Option<Ms>) -> Self {
        let per_item = total_ms.map_or(0, |t| t / (cluster::MAX_ITEMS as u64 / 2) + 1);
        Embedder { net, fbank: Fbank::new(), items: Vec::new(), step_ms: STEP_MS.max(per_item), time: Duration::ZERO }
    }

    /// Embeds the speech in `pcm` (16 kHz, starting at `origin_ms`), on up to `threads` threads.
    /// `speech` is the speech inside it (spans are clipped to the audio given).
    pub fn hear(&mut self, pcm: &[f32], origin_ms: Ms, speech: &[Span], threads: usize) {
        self.hear_all(&[(origin_ms, pcm)], speech, threads);
    }

    /// As [`Embedder::hear`] for several stretches of audio (each with the time of its first
    /// sample), embedded together so that the threads share all their stretches rather than a
    /// few at a time. Each stretch is planned on its own, and what is embedded is kept in the
    /// stretches' order, so the result is that of hearing them one after the other (but where
    /// [`cluster::MAX_ITEMS`] cuts the plan short: every stretch's planned windows go before any
    /// refinement).
    pub fn hear_all(&mut self, stretches: &[(Ms, &[f32])], speech: &[Span], threads: usize) {
        let t0 = Instant::now();
        let net = match self.net {
            Net::Ready(net) => net,
            Net::Loading(loading) => match loading.get() {
                Some(net) => net,
                None => return,
            },
        };
        let mut room = cluster::MAX_ITEMS.saturating_sub(self.items.len());
        let plans: Vec<(Vec<Span>, Vec<Span>)> = stretches
            .iter()
            .map(|&(origin_ms, pcm)| {
                let end_ms = origin_ms + crate::time::samples_to_ms(pcm.len() as u64, fbank::RATE);
                let clipped: Vec<Span> = speech
                    .iter()
                    .map(|s| Span { start_ms: s.start_ms.max(origin_ms), end_ms: s.end_ms.min(end_ms) })
                    .filter(|s| s.end_ms > s.start_ms)
                    .collect();
                let mut windows = plan_windows(&clipped, self.step_ms);
                windows.truncate(room);
                room -= windows.len();
                (clipped, windows)
            })
            .collect();
        let audio = |i: usize, w: &Span| {
            let (origin_ms, pcm) = stretches[i];
            let at = |ms: Ms| ms_to_samples(ms.saturating_sub(origin_ms), fbank::RATE).min(pcm.len());
            &pcm[at(w.start_ms)..at(w.end_ms)]
        };
        let first: Vec<&[f32]> =
            plans.iter().enumerate().flat_map(|(i, (_, ws))| ws.iter().map(move |w| audio(i, w))).collect();
        let mut vectors = self.embed_all(net, &first, threads).into_iter();
        let vectors: Vec<Vec<Option<Vec<f32>>>> =
            plans.iter().map(|(_, ws)| vectors.by_ref().take(ws.len()).collect()).collect();
        let extras: Vec<Vec<Span>> = plans
            .iter()
            .zip(&vectors)
            .map(|((clipped, windows), v)| {
                let mut extra = refinements(windows, v, clipped);
                extra.truncate(room);
                room -= extra.len();
                extra
            })
            .collect();
        let second: Vec<&[f32]> =
            extras.iter().enumerate().flat_map(|(i, ws)| ws.iter().map(move |w| audio(i, w))).collect();
        let mut more = self.embed_all(net, &second, threads).into_iter();
        for (((_, windows), v), extra) in plans.into_iter().zip(vectors).zip(extras) {
            let n = extra.len();
            for (w, v) in windows.into_iter().zip(v).chain(extra.into_iter().zip(more.by_ref().take(n))) {
                if let Some(vector) = v {
                    self.items.push(Embedded { span: w, vector });
                }
            }
        }
        self.time += t0.elapsed();
    }

    /// Unit embeddings of `windows` (their audio), in batches spread over `threads` threads.
    fn embed_all(&self, net: &CamPlus, windows: &[&[f32]], threads: usize) -> Vec<Option<Vec<f32>>> {
        let fbank = &self.fbank;
        let embed = |group: &[&[f32]]| -> Vec<Option<Vec<f32>>> {
            let feats: Vec<Vec<f32>> = group.iter().map(|pcm| fbank.compute(pcm)).collect();
            let refs: Vec<&[f32]> = feats.iter().map(Vec::as_slice).collect();
            net.embed_batch(&refs)
                .into_iter()
                .map(|e| {
                    let mut v = e?.to_vec();
                    cluster::normalise(&mut v);
                    v.iter().all(|x| x.is_finite()).then_some(v)
                })
                .collect()
        };
        // A few stretches (the refinements) are still shared: a batch is packed per thread, but an
        // idle core costs more.
        let threads = threads.clamp(1, windows.len().max(1));
        let per = windows.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = windows
                .chunks(per)
                .skip(1)
                .map(|part| s.spawn(move || part.chunks(BATCH).flat_map(embed).collect::<Vec<_>>()))
                .collect();
            let mut out: Vec<Option<Vec<f32>>> =
                windows.chunks(per).next().unwrap_or(&[]).chunks(BATCH).flat_map(embed).collect();
            for (h, part) in handles.into_iter().zip(windows.chunks(per).skip(1)) {
                out.extend(h.join().unwrap_or_else(|_| vec![None; part.len()]));
            }
            out
        })
    }

    pub fn items(&self) -> &[Embedded] {
        &self.items
    }

    /// What was embedded, for [`assign`].
    pub fn into_items(self) -> Vec<Embedded> {
        self.items
    }
}

/// A stretch of one speaker's speech, from the first word's start to the last one's end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub start_ms: Ms,
    pub end_ms: Ms,
    /// The speaker's id (1, 2, … in order of first speech).
    pub speaker: u32,
}

/// Where a speaker's name came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NameSource {
    /// `article` (an attribution in the article) or `editor` (`--speaker-names`).
    pub kind: String,
    /// The article's block number (1-based, as passages give it) whose attribution names the
    /// speaker, and the pattern that matched (`said X`, `X said`, `according to X`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paragraph: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

/// A speaker heard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Speaker {
    pub id: u32,
    /// The name, when the article or an editor gave one; `None` stays "Speaker N".
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_source: Option<NameSource>,
    /// How much of the speech is theirs.
    pub speech_ms: Ms,
}

impl Speaker {
    /// The name to show: the given name, else "Speaker N".
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| format!("Speaker {}", self.id))
    }
}

/// Speakers found, their turns, and how long it took.
#[derive(Debug, Clone, Default)]
pub struct Diarization {
    pub speakers: Vec<Speaker>,
    pub turns: Vec<Turn>,
    pub embedded: usize,
    pub time: Duration,
}

/// The label each stretch's vote gives to instant `t`: stretches covering it, weighted by how
/// near their middle it is; else the nearest stretch within a second.
fn vote(items: &[Embedded], labels: &[usize], t: Ms, k: usize, votes: &mut [f32]) -> Option<usize> {
    votes.iter_mut().for_each(|v| *v = 0.0);
    let first = items.partition_point(|e| e.span.end_ms <= t);
    let mut any = false;
    for (e, &l) in items[first..].iter().zip(&labels[first..]) {
        if e.span.start_ms > t {
            break;
        }
        if t < e.span.end_ms {
            let mid = (e.span.start_ms + e.span.end_ms) as f32 / 2.0;
            let half = (e.span.end_ms - e.span.start_ms) as f32 / 2.0;
            votes[l] += 1.0 - 0.9 * ((t as f32 - mid).abs() / half).min(1.0);
            any = true;
        }
    }
    if any {
        return (0..k).max_by(|a, b| votes[*a].total_cmp(&votes[*b]));
    }
    let near = |e: &Embedded| if t < e.span.start_ms { e.span.start_ms - t } else { t.saturating_sub(e.span.end_ms) };
    let (i, d) = items.iter().enumerate().map(|(i, e)| (i, near(e))).min_by_key(|x| x.1)?;
    (d <= 1_000).then_some(labels[i])
}

/// Clusters the embedded stretches into speakers and labels every word and segment of
/// `transcript` with its speaker; turns follow word boundaries, and runs of words shorter than
/// [`MIN_TURN_MS`] between two turns of one speaker join them. `None` when there is nothing to
/// label (no speech embedded, or no words): no speakers, not an error.
pub fn assign(mut items: Vec<Embedded>, transcript: &mut Transcript, opts: &SpeakerOptions) -> Option<Diarization> {
    let t0 = Instant::now();
    items.sort_by_key(|e| (e.span.start_ms, e.span.end_ms));
    if items.is_empty() || transcript.words().next().is_none() {
        return None;
    }
    let vectors: Vec<&[f32]> = items.iter().map(|e| e.vector.as_slice()).collect();
    // A stretch's weight: the speech it adds to those before it, in seconds (so that a
    // cluster's weight is its speech, however much the stretches overlap).
    let mut covered: Ms = 0;
    let weights: Vec<f32> = items
        .iter()
        .map(|e| {
            let new = e.span.end_ms.saturating_sub(e.span.start_ms.max(covered));
            covered = covered.max(e.span.end_ms);
            new.max(1) as f32 / 1000.0
        })
        .collect();
    let count = match opts.count {
        Some(k) => cluster::Count::Known(k),
        None => cluster::Count::Threshold(opts.threshold),
    };
    let labels = cluster::cluster(&vectors, &weights, count, MIN_SPEAKER_MS as f32 / 1000.0, MIN_SHARE);
    let k = labels.iter().max().map_or(1, |m| m + 1);
    let mut votes = vec![0.0f32; k];
    // Each word: the vote near its start. Word starts are where recognition is surest (DTW
    // stretches a word's end into a following pause, where the next voice may be heard).
    let mut word_labels: Vec<Option<usize>> = transcript
        .words()
        .map(|w| vote(&items, &labels, w.start_ms + ((w.end_ms - w.start_ms) / 2).min(VOTE_MS), k, &mut votes))
        .collect();
    // Words no stretch reaches take their neighbour's speaker.
    for i in 1..word_labels.len() {
        if word_labels[i].is_none() {
            word_labels[i] = word_labels[i - 1];
        }
    }
    for i in (0..word_labels.len().saturating_sub(1)).rev() {
        if word_labels[i].is_none() {
            word_labels[i] = word_labels[i + 1];
        }
    }
    let times: Vec<(Ms, Ms)> = transcript.words().map(|w| (w.start_ms, w.end_ms)).collect();
    let mut labels_w: Vec<usize> = word_labels.iter().map(|l| l.unwrap_or(0)).collect();
    smooth(&mut labels_w, &times);
    let texts: Vec<&str> = transcript.words().map(|w| w.text.as_str()).collect();
    snap_to_sentences(&mut labels_w, &texts, &times);
    // Ids in order of first speech.
    let mut order: Vec<usize> = Vec::new();
    for l in &labels_w {
        if !order.contains(l) {
            order.push(*l);
        }
    }
    let id = |l: usize| order.iter().position(|o| *o == l).unwrap_or(0) as u32 + 1;
    let mut i = 0;
    for seg in &mut transcript.segments {
        let mut spoken: Vec<(u32, Ms)> = Vec::new();
        for w in &mut seg.words {
            let s = id(labels_w[i]);
            w.speaker = Some(s);
            match spoken.iter_mut().find(|x| x.0 == s) {
                Some(x) => x.1 += w.end_ms - w.start_ms,
                None => spoken.push((s, w.end_ms - w.start_ms)),
            }
            i += 1;
        }
        seg.speaker = spoken.iter().max_by_key(|x| x.1).map(|x| x.0);
    }
    let mut turns: Vec<Turn> = Vec::new();
    for (l, (s, e)) in labels_w.iter().zip(&times) {
        let speaker = id(*l);
        match turns.last_mut() {
            Some(t) if t.speaker == speaker => t.end_ms = t.end_ms.max(*e),
            _ => turns.push(Turn { start_ms: *s, end_ms: *e, speaker }),
        }
    }
    // An editor's names (`--speaker-names`); ids no one answers to are left out.
    let given = |id: u32| opts.names.iter().find(|(i, _)| *i == id).map(|(_, n)| n.clone());
    let speakers = (1..=order.len() as u32)
        .map(|id| {
            let name = given(id);
            Speaker {
                id,
                name_source: name.as_ref().map(|_| NameSource {
                    kind: "editor".into(),
                    paragraph: None,
                    pattern: None,
                }),
                name,
                speech_ms: turns.iter().filter(|t| t.speaker == id).map(|t| t.end_ms - t.start_ms).sum(),
            }
        })
        .collect();
    Some(Diarization { speakers, turns, embedded: items.len(), time: t0.elapsed() })
}

/// How far (words, and time) a change of speaker may move to reach a sentence end.
const SNAP_WORDS: usize = 3;
const SNAP_MS: Ms = 1_500;

/// Moves each change of speaker that falls inside a sentence to the nearest sentence end within
/// [`SNAP_WORDS`] words: a voice changes between sentences far more often than inside one, and
/// stretches that straddle a change blur where exactly it falls (a word or two either way).
fn snap_to_sentences(labels: &mut [usize], texts: &[&str], times: &[(Ms, Ms)]) {
    let n = labels.len();
    for k in 1..n {
        if labels[k] == labels[k - 1] || crate::text::ends_sentence(texts[k - 1]) {
            continue;
        }
        let near = (k.saturating_sub(SNAP_WORDS).max(1)..=(k + SNAP_WORDS).min(n - 1))
            .filter(|&m| crate::text::ends_sentence(texts[m - 1]) && times[m].0.abs_diff(times[k].0) <= SNAP_MS)
            .min_by_key(|&m| m.abs_diff(k));
        match near {
            Some(m) if m > k => {
                let before = labels[k - 1];
                labels[k..m].iter_mut().for_each(|l| *l = before);
            }
            Some(m) => {
                let after = labels[k];
                labels[m..k].iter_mut().for_each(|l| *l = after);
            }
            None => {}
        }
    }
}

/// Joins runs of words shorter than [`MIN_TURN_MS`] to their surroundings: a short run between
/// two runs of one speaker takes that speaker; a short run at either end takes its neighbour's.
fn smooth(labels: &mut [usize], times: &[(Ms, Ms)]) {
    loop {
        // Runs: (first word, past-the-end word).
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for i in 0..labels.len() {
            match runs.last_mut() {
                Some(r) if labels[r.0] == labels[i] => r.1 = i + 1,
                _ => runs.push((i, i + 1)),
            }
        }
        let dur = |r: &(usize, usize)| times[r.1 - 1].1.saturating_sub(times[r.0].0);
        let mut changed = false;
        for j in 0..runs.len() {
            if dur(&runs[j]) >= MIN_TURN_MS || runs.len() == 1 {
                continue;
            }
            let before = j.checked_sub(1).map(|p| labels[runs[p].0]);
            let after = runs.get(j + 1).map(|n| labels[n.0]);
            let to = match (before, after) {
                (Some(b), Some(a)) if a == b => Some(a),
                (None, Some(a)) => Some(a),
                (Some(b), None) => Some(b),
                _ => None,
            };
            if let Some(to) = to {
                labels[runs[j].0..runs[j].1].iter_mut().for_each(|l| *l = to);
                changed = true;
                break;
            }
        }
        if !changed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_speech_and_skip_crumbs() {
        let span = |start_ms, end_ms| Span { start_ms, end_ms };
        let w = plan_windows(&[span(0, 300), span(1000, 2000), span(3000, 6000), span(7000, 14000)], 3000);
        // Too short; whole; one stretch in the middle; edges and evenly between, ≤ 3 s apart.
        assert_eq!(
            w,
            vec![span(1000, 2000), span(3750, 5250), span(7000, 8500), span(9750, 11250), span(12500, 14000)]
        );
    }

    #[test]
    fn changes_inside_a_sentence_move_to_its_end() {
        let texts = ["This", "is", "Diane", "in", "New", "Jersey.", "And", "I'm", "Sheila."];
        let times: Vec<(Ms, Ms)> = (0..9).map(|i| (i * 300, i * 300 + 250)).collect();
        let mut l = vec![0, 0, 0, 1, 1, 0, 1, 1, 1];
        snap_to_sentences(&mut l, &texts, &times);
        assert_eq!(l, vec![0, 0, 0, 0, 0, 0, 1, 1, 1]);
        // A change already at a sentence end stays; one with no sentence end near stays too.
        let mut l = vec![0, 0, 0, 0, 0, 0, 1, 1, 1];
        snap_to_sentences(&mut l, &texts, &times);
        assert_eq!(l, vec![0, 0, 0, 0, 0, 0, 1, 1, 1]);
        let texts = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        let mut l = vec![0, 0, 0, 0, 1, 1, 1, 1, 1];
        snap_to_sentences(&mut l, &texts, &times);
        assert_eq!(l, vec![0, 0, 0, 0, 1, 1, 1, 1, 1]);
    }

    #[test]
    fn editor_names_are_read_strictly() {
        assert_eq!(
            parse_names("1=Rustam Muradov, 2=Speaker of the House").unwrap(),
            vec![(1, "Rustam Muradov".to_string()), (2, "Speaker of the House".to_string())]
        );
        for bad in ["", "1", "0=A", "x=A", "1=", "1=A,1=B", &format!("1={}", "a".repeat(101))] {
            assert!(parse_names(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_names("1=Line\nbreak").unwrap()[0].1.lines().count(), 1);
    }

    #[test]
    fn short_runs_join_their_surroundings() {
        let times: Vec<(Ms, Ms)> = (0..10).map(|i| (i * 400, i * 400 + 350)).collect();
        let mut l = vec![0, 0, 0, 0, 1, 0, 0, 0, 0, 2];
        smooth(&mut l, &times);
        assert_eq!(l, vec![0; 10]);
        let mut l = vec![0, 0, 0, 1, 1, 1, 1, 0, 0, 0];
        smooth(&mut l, &times);
        assert_eq!(l, vec![0, 0, 0, 1, 1, 1, 1, 0, 0, 0]);
    }
}
