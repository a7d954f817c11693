//! The transcript: segments and words with integer-millisecond times. Everything after
//! recognition (cues, links, files) is built from this alone.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

use crate::time::Ms;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    /// The word as spoken, with attached punctuation, without surrounding spaces.
    pub text: String,
    pub start_ms: Ms,
    pub end_ms: Ms,
    /// Mean probability of the word's tokens (0–1).
    pub probability: f32,
    /// Who says it (a speaker id of the document's `speakers`), when speakers were found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start_ms: Ms,
    pub end_ms: Ms,
    pub text: String,
    /// Whisper's probability that the window held no speech.
    pub no_speech_probability: f32,
    pub words: Vec<Word>,
    /// Who says most of it, when speakers were found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// ISO 639-1 code, given or detected.
    pub language: String,
    pub segments: Vec<Segment>,
}

impl Transcript {
    pub fn words(&self) -> impl Iterator<Item = &Word> {
        self.segments.iter().flat_map(|s| s.words.iter())
    }

    /// Cuts word ends that run on into a pause back to the speech they start in
    /// ([`end_with_speech`]).
    pub fn end_words_with_speech(&mut self, speech: &[crate::time::Span]) {
        for w in self.segments.iter_mut().flat_map(|s| s.words.iter_mut()) {
            w.end_ms = end_with_speech(w.start_ms, w.end_ms, speech);
        }
    }

    /// Makes every word and segment text one safe line ([`crate::text::safe_line`]); words left
    /// with no text are dropped. Whatever produced the transcript, no writer can be steered by it.
    pub fn make_safe(&mut self) {
        for s in &mut self.segments {
            s.text = crate::text::safe_line(&s.text);
            for w in &mut s.words {
                w.text = crate::text::safe_line(&w.text);
            }
            s.words.retain(|w| !w.text.is_empty());
        }
    }

    /// All text, segments joined by spaces.
    pub fn text(&self) -> String {
        self.segments.iter().map(|s| s.text.trim()).filter(|t| !t.is_empty()).collect::<Vec<_>>().join(" ")
    }
}

/// The end of a word from `start_ms` to `end_ms` cut back to the end of the speech span (sorted
/// `speech`) it starts in, or ends just after, plus a little: DTW gives each token one instant, so
/// a word before a pause otherwise ends where the next word begins, seconds later.
pub fn end_with_speech(start_ms: Ms, end_ms: Ms, speech: &[crate::time::Span]) -> Ms {
    const PAD_MS: Ms = 200;
    let i = speech.partition_point(|s| s.start_ms <= start_ms);
    match i.checked_sub(1).map(|i| &speech[i]) {
        Some(span) if start_ms < span.end_ms + PAD_MS => end_ms.min(span.end_ms + PAD_MS).max(start_ms),
        _ => end_ms,
    }
}

/// Words of `texts` spread over `[start, end]` in proportion to their length (for words whose
/// own times are not known: the article's wording, an editor's insertions).
pub fn spread(texts: &[String], start: Ms, end: Ms, probability: f32) -> Vec<Word> {
    let total: usize = texts.iter().map(|t| t.chars().count().max(1)).sum();
    let span = end.saturating_sub(start);
    let mut at = 0usize;
    texts
        .iter()
        .map(|t| {
            let s = start + span * at as u64 / total.max(1) as u64;
            at += t.chars().count().max(1);
            let e = start + span * at as u64 / total.max(1) as u64;
            Word { text: t.clone(), start_ms: s, end_ms: e, probability, speaker: None }
        })
        .collect()
}

/// For tests: `text` as one segment of words 400 ms apart (350 ms each), each word's
/// probability as `probability` says.
#[cfg(test)]
pub(crate) fn spoken(text: &str, probability: impl Fn(&str) -> f32) -> Transcript {
    let words: Vec<Word> = text
        .split_whitespace()
        .enumerate()
        .map(|(i, w)| Word {
            text: w.into(),
            start_ms: i as Ms * 400,
            end_ms: i as Ms * 400 + 350,
            probability: probability(w),
            speaker: None,
        })
        .collect();
    let end_ms = words.last().map_or(0, |w| w.end_ms);
    Transcript {
        language: "en".into(),
        segments: vec![Segment {
            start_ms: 0,
            end_ms,
            text: text.into(),
            no_speech_probability: 0.0,
            words,
            speaker: None,
        }],
    }
}

/// A decoded token: its raw bytes (a token may hold part of a UTF-8 character), times and
/// probability.
#[derive(Debug, Clone)]
pub struct Token {
    pub bytes: Vec<u8>,
    pub start_ms: Ms,
    pub end_ms: Ms,
    pub probability: f32,
}

fn is_punctuation_only(bytes: &[u8]) -> bool {
    let s = String::from_utf8_lossy(bytes);
    !s.trim().is_empty() && s.trim().chars().all(|c| c.is_ascii_punctuation() || "…“”‘’«»–—".contains(c))
}

/// Joins tokens into words: a token beginning with a space starts a word; anything else
/// (word pieces, punctuation, digits of a number) extends the word before it.
pub fn words_from_tokens(tokens: &[Token]) -> Vec<Word> {
    struct Acc {
        bytes: Vec<u8>,
        start: Ms,
        end: Ms,
        psum: f32,
        n: u32,
    }
    let mut words = Vec::new();
    let mut cur: Option<Acc> = None;
    let flush = |acc: Acc, words: &mut Vec<Word>| {
        let text = String::from_utf8_lossy(&acc.bytes).trim().to_string();
        if !text.is_empty() {
            words.push(Word {
                text,
                start_ms: acc.start,
                end_ms: acc.end.max(acc.start),
                probability: acc.psum / acc.n as f32,
                speaker: None,
            });
        }
    };
    for t in tokens {
        // A new sentence glued to the last one (`airfield."` + `Estimates`) starts a word too.
        let glued_sentence = cur.as_ref().is_some_and(|acc| {
            let prev = String::from_utf8_lossy(&acc.bytes);
            crate::text::ends_sentence(&prev) && t.bytes.first().is_some_and(|b| b.is_ascii_uppercase())
        });
        let starts_word = glued_sentence || t.bytes.first() == Some(&b' ') && !is_punctuation_only(&t.bytes);
        match cur.as_mut() {
            Some(acc) if !starts_word => {
                // " ." is punctuation that belongs to the word before, without its space.
                let piece = if is_punctuation_only(&t.bytes) { t.bytes.trim_ascii_start() } else { &t.bytes[..] };
                acc.bytes.extend_from_slice(piece);
                acc.end = acc.end.max(t.end_ms);
                acc.psum += t.probability;
                acc.n += 1;
            }
            _ => {
                if let Some(acc) = cur.take() {
                    flush(acc, &mut words);
                }
                cur = Some(Acc { bytes: t.bytes.clone(), start: t.start_ms, end: t.end_ms, psum: t.probability, n: 1 });
            }
        }
    }
    if let Some(acc) = cur {
        flush(acc, &mut words);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_ends_stop_with_the_speech() {
        let w = |t: &str, a, b| Word { text: t.into(), start_ms: a, end_ms: b, probability: 0.9, speaker: None };
        let mut t = Transcript {
            language: "en".into(),
            segments: vec![Segment {
                start_ms: 0,
                end_ms: 9000,
                text: "a b c".into(),
                no_speech_probability: 0.0,
                words: vec![w("a", 100, 600), w("understanding.", 700, 4000), w("Next", 4000, 4500)],
                speaker: None,
            }],
        };
        let speech =
            [crate::time::Span { start_ms: 80, end_ms: 1500 }, crate::time::Span { start_ms: 3990, end_ms: 5000 }];
        t.end_words_with_speech(&speech);
        let ends: Vec<Ms> = t.words().map(|w| w.end_ms).collect();
        assert_eq!(ends, vec![600, 1700, 4500]);
    }

    fn tok(s: &str, a: Ms, b: Ms) -> Token {
        Token { bytes: s.as_bytes().to_vec(), start_ms: a, end_ms: b, probability: 0.5 }
    }

    #[test]
    fn pieces_and_punctuation_join_their_word() {
        let w = words_from_tokens(&[
            tok(" Y", 0, 100),
            tok("ere", 100, 200),
            tok("van", 200, 300),
            tok(",", 300, 310),
            tok(" 44", 400, 500),
            tok("-", 500, 510),
            tok("day", 510, 600),
            tok(" war", 600, 700),
            tok(" .", 700, 710),
        ]);
        let texts: Vec<_> = w.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["Yerevan,", "44-day", "war."]);
        assert_eq!((w[0].start_ms, w[0].end_ms), (0, 310));
        let w = words_from_tokens(&[
            tok(" airfield", 0, 100),
            tok(".\"", 100, 110),
            tok("Est", 110, 200),
            tok("imates", 200, 300),
        ]);
        let texts: Vec<_> = w.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["airfield.\"", "Estimates"]);
    }

    #[test]
    fn split_utf8_characters_are_rejoined() {
        let e = "é".as_bytes();
        let w = words_from_tokens(&[
            Token { bytes: vec![b' ', b'c', b'a', b'f', e[0]], start_ms: 0, end_ms: 100, probability: 1.0 },
            Token { bytes: vec![e[1]], start_ms: 100, end_ms: 200, probability: 1.0 },
        ]);
        assert_eq!(w[0].text, "café");
    }
}
