//! The hallucination guard: Whisper invents text over silence and music, loops on a phrase, and
//! falls back on stock phrases from its training subtitles. Such text is taken out before cues
//! are built, and every removal is recorded for review.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

use crate::asr::{Segment, Transcript, Word};
use crate::time::Ms;
use crate::time::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// Text where voice activity detection found no speech.
    NoSpeech,
    /// "[Music]", "(applause)", "♪".
    NonSpeechAnnotation,
    /// "Thanks for watching", "Subtitles by …".
    StockPhrase,
    /// The same words over and over.
    Repetition,
}

/// Text the guard removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    pub start_ms: Ms,
    pub end_ms: Ms,
    pub text: String,
    pub reason: Reason,
}

const STOCK: &[&str] = &[
    "thanks for watching",
    "thank you for watching",
    "thanks for listening",
    "please subscribe",
    "like and subscribe",
    "subscribe to my channel",
    "subtitles by",
    "subtitled by",
    "captions by",
    "captioning by",
    "transcribed by",
    "translated by",
    "amara org",
    "see you in the next video",
    "www ",
];

fn norm(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_annotation(text: &str) -> bool {
    let t = text.trim();
    t.is_empty()
        || t.chars().all(|c| "♪♫♬ *-.".contains(c))
        || (t.starts_with('[') && t.ends_with(']'))
        || (t.starts_with('(') && t.ends_with(')'))
}

fn is_stock(text: &str) -> bool {
    let n = format!("{} ", norm(text));
    let words = n.split_whitespace().count();
    words <= 10 && STOCK.iter().any(|p| n.contains(p))
}

/// Collapses a run of ≥ 3 consecutive repeats of an n-gram (n ≤ 6) to one copy.
fn collapse_repeats(words: &[Word], flags: &mut Vec<Flag>) -> Vec<Word> {
    let key = |w: &Word| norm(&w.text);
    let mut out: Vec<Word> = Vec::with_capacity(words.len());
    let mut i = 0;
    'outer: while i < words.len() {
        for n in 1..=6usize {
            if i + 3 * n > words.len() {
                break;
            }
            let gram: Vec<String> = words[i..i + n].iter().map(key).collect();
            let mut reps = 1;
            while i + (reps + 1) * n <= words.len()
                && words[i + reps * n..i + (reps + 1) * n].iter().map(key).eq(gram.iter().cloned())
            {
                reps += 1;
            }
            if reps >= 3 && gram.iter().any(|g| !g.is_empty()) {
                out.extend_from_slice(&words[i..i + n]);
                let dropped = &words[i + n..i + reps * n];
                flags.push(Flag {
                    start_ms: dropped[0].start_ms,
                    end_ms: dropped[dropped.len() - 1].end_ms,
                    text: dropped.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" "),
                    reason: Reason::Repetition,
                });
                i += reps * n;
                continue 'outer;
            }
        }
        out.push(words[i].clone());
        i += 1;
    }
    out
}

/// Milliseconds of `[start, end)` covered by detected speech.
fn speech_overlap(start: Ms, end: Ms, speech: &[Span]) -> Ms {
    speech.iter().map(|s| end.min(s.end_ms).saturating_sub(start.max(s.start_ms))).sum()
}

/// Distance from `[start, end)` to the nearest speech.
fn distance_to_speech(start: Ms, end: Ms, speech: &[Span]) -> Ms {
    speech
        .iter()
        .map(|s| if end <= s.start_ms { s.start_ms - end } else { start.saturating_sub(s.end_ms) })
        .min()
        .unwrap_or(Ms::MAX)
}

/// Whisper's word times can be a second or more off at the edges of its segments, so single
/// words are judged only when far from any speech; whole segments by how much speech they cover.
const WORD_SLACK_MS: Ms = 2000;
const MIN_SEGMENT_SPEECH: f64 = 0.15;

fn flag_words(ws: &[Word], reason: Reason) -> Flag {
    Flag {
        start_ms: ws[0].start_ms,
        end_ms: ws[ws.len() - 1].end_ms,
        text: ws.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" "),
        reason,
    }
}

fn flag_segment(s: &Segment, reason: Reason) -> Flag {
    Flag { start_ms: s.start_ms, end_ms: s.end_ms, text: s.text.clone(), reason }
}

/// The words worth subtitling and what was taken out. `speech` is `None` when voice activity
/// detection did not run (then only the text-based checks apply).
pub fn guard(t: &Transcript, speech: Option<&[Span]>) -> (Vec<Word>, Vec<Flag>) {
    let mut kept = Vec::new();
    let mut flags = Vec::new();
    let mut last_text = String::new();
    let mut same_count = 0;
    for s in &t.segments {
        if s.words.is_empty() {
            continue;
        }
        if is_annotation(&s.text) {
            flags.push(flag_segment(s, Reason::NonSpeechAnnotation));
            continue;
        }
        if is_stock(&s.text) {
            flags.push(flag_segment(s, Reason::StockPhrase));
            continue;
        }
        let n = norm(&s.text);
        same_count = if n == last_text { same_count + 1 } else { 0 };
        last_text = n;
        if same_count >= 2 {
            flags.push(flag_segment(s, Reason::Repetition));
            continue;
        }
        if let Some(sp) = speech {
            let dur = s.end_ms.saturating_sub(s.start_ms).max(1);
            if (speech_overlap(s.start_ms, s.end_ms, sp) as f64) < MIN_SEGMENT_SPEECH * dur as f64 {
                flags.push(flag_segment(s, Reason::NoSpeech));
                continue;
            }
        }
        let mut words: Vec<Word> = Vec::with_capacity(s.words.len());
        let mut unspoken: Vec<Word> = Vec::new();
        for w in &s.words {
            if is_annotation(&w.text) && w.text.chars().any(|c| "♪♫♬[]()".contains(c)) {
                flags.push(flag_words(std::slice::from_ref(w), Reason::NonSpeechAnnotation));
                continue;
            }
            match speech {
                Some(sp) if distance_to_speech(w.start_ms, w.end_ms, sp) > WORD_SLACK_MS => unspoken.push(w.clone()),
                _ => {
                    if !unspoken.is_empty() {
                        flags.push(flag_words(&unspoken, Reason::NoSpeech));
                        unspoken.clear();
                    }
                    words.push(w.clone());
                }
            }
        }
        if !unspoken.is_empty() {
            flags.push(flag_words(&unspoken, Reason::NoSpeech));
        }
        kept.extend(collapse_repeats(&words, &mut flags));
    }
    flags.sort_by_key(|f| f.start_ms);
    (kept, flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(text: &str, start: Ms, nsp: f32) -> Segment {
        let words: Vec<Word> = text
            .split_whitespace()
            .enumerate()
            .map(|(i, w)| Word {
                text: w.into(),
                start_ms: start + i as Ms * 300,
                end_ms: start + i as Ms * 300 + 250,
                probability: 0.5,
                speaker: None,
            })
            .collect();
        Segment {
            start_ms: start,
            end_ms: start + words.len() as Ms * 300,
            text: text.into(),
            no_speech_probability: nsp,
            words,
            speaker: None,
        }
    }

    #[test]
    fn drops_stock_phrases_annotations_loops_and_unspoken_text() {
        let t = Transcript {
            language: "en".into(),
            segments: vec![
                seg("The work is ongoing.", 0, 0.1),
                seg("Thanks for watching!", 5000, 0.7),
                seg("[Music]", 9000, 0.9),
                seg("we need we need we need we need our children back", 12_000, 0.1),
                seg("you", 40_000, 0.9),
            ],
        };
        let speech = [Span { start_ms: 0, end_ms: 2000 }, Span { start_ms: 12_000, end_ms: 16_000 }];
        let (kept, flags) = guard(&t, Some(&speech));
        let text: Vec<&str> = kept.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(text, ["The", "work", "is", "ongoing.", "we", "need", "our", "children", "back"]);
        let reasons: Vec<Reason> = flags.iter().map(|f| f.reason).collect();
        assert_eq!(reasons, [Reason::StockPhrase, Reason::NonSpeechAnnotation, Reason::Repetition, Reason::NoSpeech]);
    }
}
