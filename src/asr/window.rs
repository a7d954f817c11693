//! Where to cut the audio for recognition: windows of at most [`MAX_WINDOW_MS`] around the
//! speech that voice activity detection found, cut at pauses.
//!
//! Whisper reads 30 s at a time. Left to itself it moves through a long recording by the last
//! timestamp it decoded, so its windows overlap, start mid-word and spend the encoder on
//! silence. Windows planned here hold whole stretches of speech, skip long silences, and are
//! never longer than Whisper's window, so each is one encoder pass over only the audio it holds.
#![forbid(unsafe_code)]

use crate::media::resample::TARGET_RATE;
use crate::time::Span;
use crate::time::{Ms, ms_to_samples, samples_to_ms};

/// Whisper's window is 30 s; a little less leaves room for the padding around speech.
pub const MAX_WINDOW_MS: Ms = 29_000;
/// A silence this long starts a new window rather than being encoded.
pub const SPLIT_GAP_MS: Ms = 3_000;
/// Audio kept before and after each stretch of speech: VAD spans are tight and the first and
/// last sounds of a word are quiet.
pub const PAD_BEFORE_MS: Ms = 200;
pub const PAD_AFTER_MS: Ms = 400;
/// whisper.cpp stops 100 ms before the end of its input, and a very short input gives it too
/// little to go on: windows are never shorter than this.
pub const MIN_WINDOW_MS: Ms = 1_500;
/// A stretch of speech longer than a window is cut at its quietest moment in the last part of
/// the window, no earlier than this into it.
const EARLIEST_CUT_MS: Ms = 18_000;

/// A stretch of audio to recognise in one go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start_ms: Ms,
    pub end_ms: Ms,
}

impl Window {
    pub fn len_ms(&self) -> Ms {
        self.end_ms - self.start_ms
    }
}

/// Plans windows over `speech` (sorted, disjoint spans) in the audio from `from_ms` to `end_ms`
/// (speech before `from_ms` has been dealt with). `quietest(from, to)` names the quietest instant in `[from, to)`; it is asked only to cut a
/// stretch of speech longer than a window. Windows are sorted, disjoint, at most
/// [`MAX_WINDOW_MS`] long and together hold every span.
pub fn plan(speech: &[Span], from_ms: Ms, end_ms: Ms, quietest: &mut dyn FnMut(Ms, Ms) -> Ms) -> Vec<Window> {
    // Padded spans, overlapping ones merged.
    let mut padded: Vec<Window> = Vec::new();
    for s in speech.iter().filter(|s| s.end_ms > s.start_ms.max(from_ms) && s.start_ms < end_ms) {
        let w = Window {
            start_ms: s.start_ms.saturating_sub(PAD_BEFORE_MS).max(from_ms),
            end_ms: (s.end_ms + PAD_AFTER_MS).min(end_ms),
        };
        match padded.last_mut() {
            Some(last) if w.start_ms <= last.end_ms => last.end_ms = last.end_ms.max(w.end_ms),
            _ => padded.push(w),
        }
    }
    // Speech longer than a window is cut at quiet moments.
    let mut pieces: Vec<Window> = Vec::new();
    for mut w in padded {
        while w.len_ms() > MAX_WINDOW_MS {
            let from = w.start_ms + EARLIEST_CUT_MS;
            let to = w.start_ms + MAX_WINDOW_MS;
            let cut = quietest(from, to).clamp(from, to);
            pieces.push(Window { start_ms: w.start_ms, end_ms: cut });
            w.start_ms = cut;
        }
        pieces.push(w);
    }
    // Neighbouring pieces share a window while it stays short enough and the silence between
    // them is short.
    let mut windows: Vec<Window> = Vec::new();
    for p in pieces {
        match windows.last_mut() {
            Some(last) if p.end_ms - last.start_ms <= MAX_WINDOW_MS && p.start_ms < last.end_ms + SPLIT_GAP_MS => {
                last.end_ms = p.end_ms
            }
            _ => windows.push(p),
        }
    }
    // Too-short windows grow into the silence around them.
    for i in 0..windows.len() {
        let lo = if i == 0 { from_ms } else { windows[i - 1].end_ms };
        let hi = windows.get(i + 1).map_or(end_ms, |w| w.start_ms);
        let w = &mut windows[i];
        if w.len_ms() < MIN_WINDOW_MS {
            let want = MIN_WINDOW_MS - w.len_ms();
            let after = (want / 2).min(hi.saturating_sub(w.end_ms));
            let before = (want - after).min(w.start_ms - lo);
            w.start_ms -= before;
            w.end_ms = (w.end_ms + (want - before)).min(hi);
        }
    }
    windows
}

/// The quietest instant of `pcm` (16 kHz, starting at `origin_ms`) in `[from, to)`: the middle
/// of the 20 ms frame with the least energy.
pub fn quietest_in(pcm: &[f32], origin_ms: Ms, from: Ms, to: Ms) -> Ms {
    const FRAME: usize = 320;
    let at = |ms: Ms| ms_to_samples(ms.saturating_sub(origin_ms), TARGET_RATE).min(pcm.len());
    let (a, b) = (at(from), at(to));
    if b < a + FRAME {
        return from;
    }
    let mut best = (f32::INFINITY, a);
    let mut i = a;
    while i + FRAME <= b {
        let e: f32 = pcm[i..i + FRAME].iter().map(|x| x * x).sum();
        if e < best.0 {
            best = (e, i);
        }
        i += FRAME / 2;
    }
    origin_ms + samples_to_ms((best.1 + FRAME / 2) as u64, TARGET_RATE)
}

/// How much of `w` the spans cover.
pub fn speech_ms(w: &Window, speech: &[Span]) -> Ms {
    speech.iter().map(|s| s.end_ms.min(w.end_ms).saturating_sub(s.start_ms.max(w.start_ms))).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn span(a: Ms, b: Ms) -> Span {
        Span { start_ms: a, end_ms: b }
    }

    #[test]
    fn speech_with_short_pauses_shares_a_window_and_long_silence_splits() {
        let spans = [span(1_000, 5_000), span(6_000, 9_000), span(20_000, 24_000)];
        let w = plan(&spans, 0, 60_000, &mut |a, _| a);
        assert_eq!(w, vec![Window { start_ms: 800, end_ms: 9_400 }, Window { start_ms: 19_800, end_ms: 24_400 }]);
    }

    #[test]
    fn long_speech_is_cut_where_it_is_quietest() {
        let w = plan(&[span(0, 70_000)], 0, 70_000, &mut |a, b| (a + b) / 2);
        assert_eq!(w.len(), 3);
        assert_eq!(w[0], Window { start_ms: 0, end_ms: 23_500 });
        assert!(w.iter().all(|w| w.len_ms() <= MAX_WINDOW_MS));
        assert_eq!(w.last().unwrap().end_ms, 70_000);
    }

    #[test]
    fn quietest_finds_the_silent_frame() {
        let mut pcm = vec![0.5f32; 16_000 * 3];
        pcm[16_000 * 2..16_000 * 2 + 640].fill(0.0);
        let at = quietest_in(&pcm, 10_000, 10_500, 13_000);
        assert!((12_000..12_040).contains(&at), "{at}");
    }

    proptest! {
        #[test]
        fn windows_hold_all_speech_in_order(gaps in proptest::collection::vec((0u64..8_000, 50u64..40_000), 0..30)) {
            let mut spans = Vec::new();
            let mut t = 0;
            for (gap, len) in gaps {
                t += gap + 1;
                spans.push(span(t, t + len));
                t += len;
            }
            let end = t + 500;
            let w = plan(&spans, 0, end, &mut |a, b| (a + b) / 2);
            for pair in w.windows(2) {
                prop_assert!(pair[0].end_ms <= pair[1].start_ms);
            }
            for x in &w {
                prop_assert!(x.len_ms() <= MAX_WINDOW_MS && x.end_ms <= end);
            }
            for s in &spans {
                let covered: Ms = speech_ms(&Window { start_ms: s.start_ms, end_ms: s.end_ms }, &w.iter().map(|w| span(w.start_ms, w.end_ms)).collect::<Vec<_>>());
                prop_assert_eq!(covered, s.end_ms - s.start_ms);
            }
        }
    }
}
