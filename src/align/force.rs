//! New words timed from the audio: the words an edit or a script put where the recognition
//! heard something else (or nothing) are said again by the decoder, made to say exactly them
//! over the stretch of audio between the unchanged words around them, and take the times of
//! the DTW alignment that times recognised words. Where that cannot be done (no audio, a stretch
//! longer than one window, an alignment that moves the unchanged words), they keep the times
//! spread over their neighbours' gap, marked so.
#![forbid(unsafe_code)]

use std::ops::Range;

use crate::asr::transcribe::{MAX_FORCED_TOKENS, MIN_FORCED_MS};
use crate::asr::{Forcer, TranscribeError, Word};
use crate::media::resample::TARGET_RATE;
use crate::progress::Cancel;
use crate::time::{Ms, Span, ms_to_samples, samples_to_ms};

/// The audio an edit is laid over, and a decoder to say its new words.
pub struct Hearing<'a, 'm> {
    /// The whole input, 16 kHz mono.
    pub pcm: &'a [f32],
    /// Where the voice activity detector heard speech (words end with it).
    pub speech: &'a [Span],
    pub forcer: Forcer<'m>,
    /// Threads at most (fewer when other work keeps cores busy).
    pub threads: usize,
    pub cancel: &'a Cancel,
}

/// Longest stretch of audio one forced pass reads (Whisper's window is 30 s; the unchanged
/// words around it and a little margin fit in the rest).
const MAX_STRETCH_MS: Ms = 25_000;
/// Audio read before the first and after the last unchanged word of a stretch.
const MARGIN_MS: Ms = 300;
/// Audio read before (after) new words at the start (end) of the speech, where there is no
/// unchanged word to start (end) from.
const OPEN_END_MS: Ms = 3_000;
/// How far the forced alignment may move an unchanged word from its recognised start before
/// the alignment of its stretch is not trusted.
const MAX_ANCHOR_SHIFT_MS: Ms = 1_000;
/// Words a stretch may hold at most (about [`MAX_FORCED_TOKENS`] tokens of ordinary text).
const MAX_STRETCH_WORDS: usize = MAX_FORCED_TOKENS / 2;
/// Audio between two stretches up to which they are read in one pass.
const JOIN_GAP_MS: Ms = 2_000;
/// A word ends at most this long after the speech it starts in.
const END_PAD_MS: Ms = 200;

/// Times the words of each range of `out` (its new words) again from the audio. Returns, for
/// each range, whether it was aligned. Only a stop asked for ends it early.
pub(crate) fn retime(
    out: &mut [(Word, usize)],
    ranges: &[Range<usize>],
    hear: &mut Hearing,
) -> Result<Vec<bool>, TranscribeError> {
    let mut aligned = vec![false; ranges.len()];
    let mut watch = crate::cpu::Watch::start();
    let mut i = 0;
    while i < ranges.len() {
        // As many following ranges as fit one pass with it.
        let mut j = i + 1;
        while j < ranges.len() && near(out, &ranges[j - 1], &ranges[j]) && fits(out, ranges[i].start, ranges[j].end) {
            j += 1;
        }
        hear.forcer.set_threads(watch.threads(hear.threads));
        let mut ok = fits(out, ranges[i].start, ranges[j - 1].end) && align(out, &ranges[i..j], hear)?;
        if !ok && j > i + 1 {
            // One range at a time, then: a stretch the others made too long may fit alone.
            j = i + 1;
            ok = fits(out, ranges[i].start, ranges[i].end) && align(out, &ranges[i..j], hear)?;
        }
        aligned[i..j].iter_mut().for_each(|a| *a = ok);
        i = j;
    }
    Ok(aligned)
}

/// The audio a pass over words `from..to` of `out` reads: from before the unchanged word
/// before them to after the unchanged word after them.
fn stretch(out: &[(Word, usize)], from: usize, to: usize) -> (Ms, Ms) {
    let lead = from.checked_sub(1).map(|k| &out[k].0);
    let trail = out.get(to).map(|(w, _)| w);
    let first = &out[from].0;
    let last = &out[to.max(from + 1) - 1].0;
    let start = match lead {
        Some(w) => w.start_ms.saturating_sub(MARGIN_MS),
        None => first.start_ms.min(trail.map_or(Ms::MAX, |w| w.start_ms)).saturating_sub(OPEN_END_MS),
    };
    let end = match trail {
        Some(w) => w.end_ms + MARGIN_MS,
        None => last.end_ms.max(lead.map_or(0, |w| w.end_ms)) + OPEN_END_MS,
    };
    (start, end.max(start + MIN_FORCED_MS))
}

/// Whether two runs are heard in one pass rather than two: when the audio between their
/// stretches is shorter than [`JOIN_GAP_MS`] (a pass costs in proportion to the audio it reads).
fn near(out: &[(Word, usize)], a: &Range<usize>, b: &Range<usize>) -> bool {
    stretch(out, b.start, b.end).0 <= stretch(out, a.start, a.end).1 + JOIN_GAP_MS
}

fn fits(out: &[(Word, usize)], from: usize, to: usize) -> bool {
    let (start, end) = stretch(out, from, to);
    end - start <= MAX_STRETCH_MS && to + 2 - from <= MAX_STRETCH_WORDS
}

/// Aligns the words of `ranges` (and the unchanged words around and between them) in one pass;
/// false, changing nothing, when the pass cannot be made or moves the unchanged words.
fn align(out: &mut [(Word, usize)], ranges: &[Range<usize>], hear: &mut Hearing) -> Result<bool, TranscribeError> {
    let (Some(first), Some(last)) = (ranges.first(), ranges.last()) else { return Ok(false) };
    let (start_ms, end_ms) = stretch(out, first.start, last.end);
    let from = first.start.saturating_sub(1);
    let to = (last.end + 1).min(out.len());
    let pcm_ms = samples_to_ms(hear.pcm.len() as u64, TARGET_RATE);
    let end_ms = end_ms.min(pcm_ms);
    if end_ms < start_ms + MIN_FORCED_MS {
        return Ok(false);
    }
    let clip = &hear.pcm[ms_to_samples(start_ms, TARGET_RATE)..ms_to_samples(end_ms, TARGET_RATE).min(hear.pcm.len())];
    let words: Vec<&str> = out[from..to].iter().map(|(w, _)| w.text.as_str()).collect();
    let starts = match hear.forcer.starts(clip, start_ms, &words, hear.cancel) {
        Ok(Some(s)) => s,
        Ok(None) | Err(TranscribeError::Whisper(_)) => return Ok(false),
        Err(e) => return Err(e),
    };
    let new = |k: usize| ranges.iter().any(|r| r.contains(&k));
    // The unchanged words must stay about where recognition heard them.
    let moved =
        (from..to).filter(|&k| !new(k)).any(|k| out[k].0.start_ms.abs_diff(starts[k - from]) > MAX_ANCHOR_SHIFT_MS);
    if moved {
        return Ok(false);
    }
    for k in (from..to).filter(|&k| new(k)) {
        let start = starts[k - from].max(if k > 0 { out[k - 1].0.start_ms } else { 0 });
        // DTW gives each word one instant: it ends where the next begins, or with its speech.
        let next = starts.get(k + 1 - from).copied().unwrap_or(end_ms);
        let end = next.min(speech_end(hear.speech, start).unwrap_or(next)).max(start);
        let w = &mut out[k].0;
        (w.start_ms, w.end_ms) = (start, end);
    }
    Ok(true)
}

/// The end of the speech a word starting at `at` starts in (plus a little).
fn speech_end(speech: &[Span], at: Ms) -> Option<Ms> {
    let i = speech.partition_point(|s| s.start_ms <= at);
    let span = &speech[i.checked_sub(1)?];
    (at < span.end_ms + END_PAD_MS).then_some(span.end_ms + END_PAD_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, start_ms: Ms, end_ms: Ms) -> (Word, usize) {
        (Word { text: text.into(), start_ms, end_ms, probability: 1.0, speaker: None }, 0)
    }

    #[test]
    fn a_stretch_runs_from_the_word_before_to_the_word_after() {
        let out = vec![word("a", 1000, 1200), word("b", 1300, 1500), word("c", 1600, 1800), word("d", 9000, 9300)];
        assert_eq!(stretch(&out, 1, 3), (700, 9600));
        // No word before: three seconds before the first new one (or the next unchanged one).
        assert_eq!(stretch(&out, 0, 1), (0, 1800));
        // No word after: three seconds after.
        assert_eq!(stretch(&out, 3, 4), (1300, 12_300));
        assert!(fits(&out, 1, 3));
        let far = vec![word("a", 0, 100), word("b", 200, 300), word("c", 30_000, 30_100)];
        assert!(!fits(&far, 1, 2), "longer than one pass");
    }

    #[test]
    fn words_end_with_their_speech() {
        let speech = [Span { start_ms: 1000, end_ms: 2000 }, Span { start_ms: 5000, end_ms: 6000 }];
        assert_eq!(speech_end(&speech, 1500), Some(2200));
        assert_eq!(speech_end(&speech, 3000), None);
        assert_eq!(speech_end(&speech, 500), None);
    }
}
