//! Linking a transcript to its article: for each spoken passage, the paragraph it quotes
//! (`verbatim`), retells (`paraphrase`) or only touches on (`topical`), with the matched word
//! spans in both texts; and for each paragraph, when it is spoken.
//!
//! Passages are the transcript's sentences (so a quote split across Whisper segments is judged
//! whole). Verbatim quotes are found by local alignment of normalised words with fuzzy word
//! matching (ASR errors, numbers said or written); paraphrases by the share of the passage's
//! content words, weighted by how rare they are in the article, that the paragraph contains.
#![forbid(unsafe_code)]

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{Article, BlockKind};
use crate::asr::{Transcript, Word};
use crate::text::{Normalized, ends_sentence, is_stop_word, normalize_words, similarity, sound_key, stem};
use crate::time::Ms;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkKind {
    Verbatim,
    Paraphrase,
    Topical,
    None,
}

impl LinkKind {
    /// Verbatim and paraphrase links say where the passage comes from; the others do not.
    pub fn is_source(self) -> bool {
        matches!(self, LinkKind::Verbatim | LinkKind::Paraphrase)
    }

    pub fn name(self) -> &'static str {
        match self {
            LinkKind::Verbatim => "verbatim",
            LinkKind::Paraphrase => "paraphrase",
            LinkKind::Topical => "topical",
            LinkKind::None => "none",
        }
    }
}

/// A range of words `[first, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordSpan {
    pub first: usize,
    pub end: usize,
}

/// One sentence of the transcript and where it belongs in the article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Passage {
    pub start_ms: Ms,
    pub end_ms: Ms,
    /// Words of the transcript (indices over all its words, in order).
    pub words: WordSpan,
    pub text: String,
    /// Block number of the linked paragraph (absent for `none`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paragraph: Option<usize>,
    pub kind: LinkKind,
    /// 0–1: for verbatim, the share of the passage's words matched in order; otherwise the
    /// rarity-weighted share of its content words found in the paragraph.
    pub score: f64,
    /// The transcript words that matched (verbatim) or the whole passage (otherwise).
    pub matched_words: WordSpan,
    /// The matched words of the paragraph (whitespace-separated words of its text), for verbatim
    /// and paraphrase links.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub article_words: Option<WordSpan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub article_text: Option<String>,
    /// Written-word pairs (transcript word, paragraph word) of a verbatim alignment.
    #[serde(skip)]
    pub pairs: Vec<(usize, usize)>,
}

/// The link of a segment or a cue: that of the passage it shares most time or words with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitLink {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paragraph: Option<usize>,
    pub kind: LinkKind,
    pub score: f64,
    /// Indices of the passages it overlaps.
    pub passages: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    pub start_ms: Ms,
    pub end_ms: Ms,
}

/// When a paragraph is spoken (verbatim or paraphrased).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParagraphTimes {
    pub paragraph: usize,
    pub spoken: Vec<TimeRange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Links {
    pub passages: Vec<Passage>,
    pub segments: Vec<UnitLink>,
    #[serde(default)]
    pub cues: Vec<UnitLink>,
    pub paragraphs: Vec<ParagraphTimes>,
}

/// Share of a passage's words that must align in order for a verbatim link.
const VERBATIM_MIN: f64 = 0.75;
/// The same for a passage matched from end to end (at least this share of it, from its first
/// words to its last).
const VERBATIM_GARBLED_MIN: f64 = 0.55;
const END_TO_END: f64 = 0.85;
/// ... and for a passage that opens with this many words in the article's order.
const VERBATIM_OPENING_MIN: f64 = 0.5;
const QUOTE_RUN: usize = 8;
/// ... and for a sentence next to a quote from the same paragraph.
const QUOTE_NEIGHBOUR_MIN: f64 = 0.5;
/// Rarity-weighted share of content words for a paraphrase link, and for a topical one.
const PARAPHRASE_MIN: f64 = 0.3;
const TOPICAL_MIN: f64 = 0.25;
/// Content words a paraphrase must share with its paragraph.
const PARAPHRASE_MIN_SHARED: usize = 3;
/// ... of which this many are specific: found in at most `SPECIFIC_DF` paragraphs.
const PARAPHRASE_MIN_SPECIFIC: usize = 2;
const SPECIFIC_DF: usize = 2;
/// A sentence is cut at a pause this long even without punctuation.
const PAUSE_MS: Ms = 1500;
/// Spoken ranges of one paragraph closer than this are one range.
const MERGE_MS: Ms = 2000;

/// One linkable block, prepared once.
struct Para {
    number: usize,
    kind: BlockKind,
    words: Vec<String>,
    norm: Normalized,
    keys: Keys,
    stems: HashSet<String>,
}

/// Indices of the content words (not stop words, longer than two letters).
fn content(norm: &[String]) -> impl Iterator<Item = usize> + '_ {
    norm.iter().enumerate().filter(|(_, w)| w.len() > 2 && !is_stop_word(w)).map(|(k, _)| k)
}

/// Stems and sound keys of normalised words, worked out once: the alignment compares every word
/// of every passage with every word of every paragraph.
struct Keys {
    stems: Vec<String>,
    sounds: Vec<String>,
}

impl Keys {
    fn of(words: &[String]) -> Self {
        Keys { stems: words.iter().map(|w| stem(w)).collect(), sounds: words.iter().map(|w| sound_key(w)).collect() }
    }
}

/// How well word `i` of `p` matches word `j` of `q`, 0–1: equal, same stem, near-identical
/// spelling or the same sound (ASR errors on names).
fn word_match(p: (&[String], &Keys), i: usize, q: (&[String], &Keys), j: usize) -> f64 {
    let (a, b) = (&p.0[i], &q.0[j]);
    if a == b {
        return 1.0;
    }
    if a.len() < 4 || b.len() < 4 {
        return 0.0;
    }
    if p.1.stems[i] == q.1.stems[j] {
        0.9
    } else if a.ends_with(b) || b.ends_with(a) || a.starts_with(b) || b.starts_with(a) {
        // Compounds heard in part: "field" for "airfield".
        0.6
    } else if similarity(a, b) >= 0.75 {
        0.7
    } else if a.len() >= 5 && p.1.sounds[i] == q.1.sounds[j] {
        0.6
    } else {
        0.0
    }
}

/// Pairs of aligned word indices (passage, paragraph).
type Pairs = Vec<(usize, usize)>;

const MISMATCH: f64 = 0.7;
const GAP: f64 = 0.6;

/// Best local alignment of `p` (passage) within `a` (paragraph): matched weight and the pairs of
/// normalised-word indices that matched.
fn align(p: (&[String], &Keys), a: (&[String], &Keys)) -> (f64, Pairs) {
    let (n, m) = (p.0.len(), a.0.len());
    if n == 0 || m == 0 {
        return (0.0, Vec::new());
    }
    let sims: Vec<Vec<f64>> = (0..n).map(|i| (0..m).map(|j| word_match(p, i, a, j)).collect()).collect();
    // h[i][j]: best score of an alignment ending at p[i-1], a[j-1]; 0 = start fresh.
    let mut h = vec![vec![0.0f64; m + 1]; n + 1];
    let mut from = vec![vec![0u8; m + 1]; n + 1]; // 0 stop, 1 diagonal, 2 up, 3 left
    let mut best = (0.0, 0, 0);
    for i in 1..=n {
        for j in 1..=m {
            let s = sims[i - 1][j - 1];
            let diag = h[i - 1][j - 1] + if s > 0.0 { s } else { -MISMATCH };
            let up = h[i - 1][j] - GAP;
            let left = h[i][j - 1] - GAP;
            let (v, f) = [(0.0, 0), (diag, 1), (up, 2), (left, 3)]
                .into_iter()
                .fold((0.0, 0), |acc, x| if x.0 > acc.0 { x } else { acc });
            h[i][j] = v;
            from[i][j] = f;
            if v > best.0 {
                best = (v, i, j);
            }
        }
    }
    let (mut i, mut j) = (best.1, best.2);
    let mut pairs = Vec::new();
    let mut weight = 0.0;
    while i > 0 && j > 0 && from[i][j] != 0 {
        match from[i][j] {
            1 => {
                let s = sims[i - 1][j - 1];
                if s > 0.0 {
                    pairs.push((i - 1, j - 1));
                    weight += s;
                }
                i -= 1;
                j -= 1;
            }
            2 => i -= 1,
            _ => j -= 1,
        }
    }
    pairs.reverse();
    (weight, pairs)
}

/// The longest run of consecutive words matched to consecutive words.
fn longest_run(pairs: &[(usize, usize)]) -> usize {
    let (mut best, mut run) = (0, 0);
    for (k, p) in pairs.iter().enumerate() {
        run = if k > 0 && pairs[k - 1] == (p.0 - 1, p.1.wrapping_sub(1)) { run + 1 } else { 1 };
        best = best.max(run);
    }
    best
}

/// Splits the transcript's words into sentences: after sentence-final punctuation, or at a long
/// pause.
fn sentences(words: &[&Word]) -> Vec<WordSpan> {
    let mut spans = Vec::new();
    let mut first = 0;
    for i in 0..words.len() {
        let ends = ends_sentence(&words[i].text);
        let pause = words.get(i + 1).is_some_and(|n| n.start_ms.saturating_sub(words[i].end_ms) >= PAUSE_MS);
        if ends || pause || i + 1 == words.len() {
            spans.push(WordSpan { first, end: i + 1 });
            first = i + 1;
        }
    }
    spans
}

/// The transcript's sentences, as word spans: the passages of a transcript with no article.
pub fn sentence_spans(transcript: &Transcript) -> Vec<WordSpan> {
    let words: Vec<&Word> = transcript.words().collect();
    sentences(&words)
}

/// Links `transcript` to `article` (cues come later, with [`Links::link_cues`]).
pub fn link(transcript: &Transcript, article: &Article) -> Links {
    let paras: Vec<Para> = article
        .body()
        .filter(|b| !b.text.trim().is_empty())
        .map(|b| {
            let words: Vec<String> = b.text.split_whitespace().map(String::from).collect();
            let norm = normalize_words(words.iter().map(String::as_str));
            let keys = Keys::of(&norm.words);
            let stems = content(&norm.words).map(|k| keys.stems[k].clone()).collect();
            Para { number: b.number, kind: b.kind, words, norm, keys, stems }
        })
        .collect();
    // Rarity: a word found in few paragraphs tells more.
    let mut df: HashMap<&str, usize> = HashMap::new();
    for p in &paras {
        for s in &p.stems {
            *df.entry(s.as_str()).or_default() += 1;
        }
    }
    let df = |s: &str| *df.get(s).unwrap_or(&0);

    let words: Vec<&Word> = transcript.words().collect();
    let mut passages = Vec::new();
    let mut norms = Vec::new();
    for span in sentences(&words) {
        let ws = &words[span.first..span.end];
        let norm = normalize_words(ws.iter().map(|w| w.text.as_str()));
        let text = ws.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
        let mut passage = Passage {
            start_ms: ws.first().map_or(0, |w| w.start_ms),
            end_ms: ws.last().map_or(0, |w| w.end_ms),
            words: span,
            text,
            paragraph: None,
            kind: LinkKind::None,
            score: 0.0,
            matched_words: span,
            article_words: None,
            article_text: None,
            pairs: Vec::new(),
        };
        let probabilities: Vec<f32> = ws.iter().map(|w| w.probability).collect();
        let keys = Keys::of(&norm.words);
        judge(&mut passage, &norm, &keys, &probabilities, &paras, &df);
        passages.push(passage);
        norms.push((norm, keys));
    }
    extend_quotes(&mut passages, &norms, &paras);

    let segments = unit_links_by_words(transcript, &passages);
    let paragraphs = paragraph_times(&paras, &passages);
    Links { passages, segments, cues: Vec::new(), paragraphs }
}

impl Links {
    /// Gives each cue `(start, end)` the link of the passage it shares most time with.
    pub fn link_cues(&mut self, cues: &[(Ms, Ms)]) {
        self.cues = cues
            .iter()
            .map(|&(s, e)| {
                unit_link(&self.passages, |p| {
                    let shared = p.end_ms.min(e).saturating_sub(p.start_ms.max(s)) as usize;
                    shared + usize::from(p.start_ms < e && p.end_ms > s)
                })
            })
            .collect();
    }
}

/// Decides one passage's link.
fn judge(
    passage: &mut Passage,
    norm: &Normalized,
    keys: &Keys,
    probabilities: &[f32],
    paras: &[Para],
    df: &dyn Fn(&str) -> usize,
) {
    let n_paras = paras.len() as f64;
    let idf = |s: &str| (1.0 + n_paras / (1.0 + df(s) as f64)).ln();
    if norm.words.is_empty() {
        return;
    }
    let n = norm.words.len() as f64;
    let content_words: Vec<usize> = content(&norm.words).collect();
    let passage_stems: Vec<String> = content_words.iter().map(|&k| keys.stems[k].clone()).collect();
    // Words the recogniser was unsure of (often mangled names) are weak evidence either way.
    let certainty: Vec<f64> = content_words
        .iter()
        .map(|&k| f64::from(probabilities.get(norm.origin[k]).copied().unwrap_or(1.0)).max(0.1))
        .collect();
    let n_content = passage_stems.len();

    // Verbatim: the best in-order match of the passage's words in any block.
    let mut best_verbatim: Option<(f64, usize, Pairs)> = None;
    for (k, p) in paras.iter().enumerate() {
        let (weight, pairs) = align((&norm.words, keys), (&p.norm.words, &p.keys));
        let score = weight / n;
        let shared_content =
            pairs.iter().filter(|&&(i, _)| norm.words[i].len() > 2 && !is_stop_word(&norm.words[i])).count();
        let enough = shared_content >= 2 || (shared_content >= 1 && score >= 0.8 && norm.words.len() >= 3);
        // A quote garbled by recognition errors still matches from its first words to its last;
        // a paraphrase matches a stretch in the middle.
        let end_to_end = pairs
            .first()
            .zip(pairs.last())
            .is_some_and(|(f, l)| (l.0 + 1 - f.0) as f64 >= END_TO_END * n && f.0 <= 2 && norm.words.len() - l.0 <= 3);
        // A quote whose end the recogniser lost still starts with a long run of the article's words.
        let long_opening = pairs.first().is_some_and(|f| f.0 <= 1) && longest_run(&pairs) >= QUOTE_RUN;
        let verbatim = score >= VERBATIM_MIN
            || (score >= VERBATIM_GARBLED_MIN && end_to_end)
            || (score >= VERBATIM_OPENING_MIN && long_opening);
        if verbatim && enough && best_verbatim.as_ref().is_none_or(|b| score > b.0) {
            best_verbatim = Some((score, k, pairs));
        }
    }
    if let Some((score, k, pairs)) = best_verbatim {
        set_verbatim(passage, norm, &paras[k], score, &pairs);
        return;
    }

    // Paraphrase or topical: rarity-weighted share of the passage's content words.
    if n_content == 0 {
        return;
    }
    let weight = |k: usize| idf(&passage_stems[k]) * certainty[k];
    let total: f64 = (0..passage_stems.len()).map(weight).sum();
    let mut best: Option<(f64, usize, (usize, usize), f64)> = None; // cover, para, (shared, specific), rank
    for (k, p) in paras.iter().enumerate() {
        let found: Vec<usize> = (0..passage_stems.len())
            .filter(|&k| {
                let s = &passage_stems[k];
                p.stems.contains(s) || (s.len() >= 5 && p.stems.iter().any(|t| similarity(s, t) >= 0.8))
            })
            .collect();
        let cover = found.iter().map(|&k| weight(k)).sum::<f64>() / total.max(1e-9);
        let found: HashSet<&String> = found.iter().map(|&k| &passage_stems[k]).collect();
        let shared = found.len();
        // Words the story uses everywhere (its topic) say nothing about which paragraph: a
        // paraphrase also shares words found in few paragraphs.
        let specific = found.iter().filter(|s| df(s) <= SPECIFIC_DF).count();
        // Titles, headings and captions sum up the whole story: anything on the topic resembles
        // them, so they can be quoted but not paraphrased.
        let can_paraphrase = matches!(p.kind, BlockKind::Paragraph | BlockKind::Quote);
        let rank = if can_paraphrase { cover } else { cover.min(PARAPHRASE_MIN - 1e-6) };
        if best.is_none_or(|b| rank > b.3) {
            best = Some((cover, k, (shared, specific), rank));
        }
    }
    let Some((cover, k, (shared, specific), rank)) = best else { return };
    let p = &paras[k];
    let kind = if rank >= PARAPHRASE_MIN && shared >= PARAPHRASE_MIN_SHARED && specific >= PARAPHRASE_MIN_SPECIFIC {
        LinkKind::Paraphrase
    } else if cover >= TOPICAL_MIN && shared >= 1 {
        LinkKind::Topical
    } else {
        return;
    };
    passage.paragraph = Some(p.number);
    passage.kind = kind;
    passage.score = cover.min(1.0);
    if kind == LinkKind::Paraphrase {
        // The paragraph's words that carry the shared content.
        let hits: Vec<usize> = content(&p.norm.words)
            .filter(|&j| passage_stems.contains(&p.keys.stems[j]))
            .map(|j| p.norm.origin[j])
            .collect();
        if let (Some(&a), Some(&b)) = (hits.first(), hits.last()) {
            passage.article_words = Some(WordSpan { first: a, end: b + 1 });
            passage.article_text = Some(p.words[a..=b].join(" "));
        }
    }
}

fn set_verbatim(passage: &mut Passage, norm: &Normalized, p: &Para, score: f64, pairs: &[(usize, usize)]) {
    let mut written: Vec<(usize, usize)> =
        pairs.iter().map(|&(i, j)| (passage.words.first + norm.origin[i], p.norm.origin[j])).collect();
    written.dedup();
    let t = WordSpan { first: written[0].0, end: written[written.len() - 1].0 + 1 };
    let a = WordSpan { first: written[0].1, end: written[written.len() - 1].1 + 1 };
    passage.paragraph = Some(p.number);
    passage.kind = LinkKind::Verbatim;
    passage.score = score.min(1.0);
    passage.matched_words = t;
    passage.article_text = Some(p.words[a.first..a.end].join(" "));
    passage.article_words = Some(a);
    passage.pairs = written;
}

/// A quote goes on across sentences: a sentence next to one quoting a paragraph, and matching
/// that paragraph in order well enough for a garbled quote, is part of the quote.
fn extend_quotes(passages: &mut [Passage], norms: &[(Normalized, Keys)], paras: &[Para]) {
    let mut changed = true;
    while changed {
        changed = false;
        for k in 0..passages.len() {
            if passages[k].kind == LinkKind::Verbatim || norms[k].0.words.is_empty() {
                continue;
            }
            let neighbours = [k.checked_sub(1), Some(k + 1)];
            let quoted = neighbours
                .into_iter()
                .flatten()
                .filter_map(|n| passages.get(n))
                .find(|n| n.kind == LinkKind::Verbatim)
                .and_then(|n| n.paragraph);
            let Some(para) = quoted.and_then(|q| paras.iter().find(|p| p.number == q)) else { continue };
            let (weight, pairs) = align((&norms[k].0.words, &norms[k].1), (&para.norm.words, &para.keys));
            let score = weight / norms[k].0.words.len() as f64;
            if score >= QUOTE_NEIGHBOUR_MIN && !pairs.is_empty() {
                set_verbatim(&mut passages[k], &norms[k].0, para, score, &pairs);
                changed = true;
            }
        }
    }
}

/// Picks, among passages, the one with the largest `overlap` (0 = none).
fn unit_link(passages: &[Passage], overlap: impl Fn(&Passage) -> usize) -> UnitLink {
    let overlaps: Vec<(usize, usize)> =
        passages.iter().enumerate().map(|(i, p)| (i, overlap(p))).filter(|&(_, o)| o > 0).collect();
    let best = overlaps.iter().max_by_key(|&&(i, o)| (o, passages[i].kind.is_source())).map(|&(i, _)| &passages[i]);
    UnitLink {
        paragraph: best.and_then(|p| p.paragraph),
        kind: best.map_or(LinkKind::None, |p| p.kind),
        score: best.map_or(0.0, |p| p.score),
        passages: overlaps.iter().map(|&(i, _)| i).collect(),
    }
}

fn unit_links_by_words(transcript: &Transcript, passages: &[Passage]) -> Vec<UnitLink> {
    let mut first = 0;
    transcript
        .segments
        .iter()
        .map(|s| {
            let (a, b) = (first, first + s.words.len());
            first = b;
            unit_link(passages, |p| p.words.end.min(b).saturating_sub(p.words.first.max(a)))
        })
        .collect()
}

fn paragraph_times(paras: &[Para], passages: &[Passage]) -> Vec<ParagraphTimes> {
    paras
        .iter()
        .filter_map(|p| {
            let mut spoken: Vec<TimeRange> = Vec::new();
            for q in passages.iter().filter(|q| q.paragraph == Some(p.number) && q.kind.is_source()) {
                match spoken.last_mut() {
                    Some(last) if q.start_ms <= last.end_ms + MERGE_MS => last.end_ms = last.end_ms.max(q.end_ms),
                    _ => spoken.push(TimeRange { start_ms: q.start_ms, end_ms: q.end_ms }),
                }
            }
            (!spoken.is_empty()).then_some(ParagraphTimes { paragraph: p.number, spoken })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::parse_text;
    use crate::asr::Segment;

    /// A transcript from text, one word every 400 ms, one segment per line.
    fn transcript(lines: &[&str]) -> Transcript {
        let mut t = 0;
        let segments = lines
            .iter()
            .map(|line| {
                let words: Vec<Word> = line
                    .split_whitespace()
                    .map(|w| {
                        t += 400;
                        Word { text: w.into(), start_ms: t - 400, end_ms: t - 50, probability: 0.9, speaker: None }
                    })
                    .collect();
                t += 1000;
                Segment {
                    start_ms: words[0].start_ms,
                    end_ms: words[words.len() - 1].end_ms,
                    text: line.to_string(),
                    no_speech_probability: 0.0,
                    words,
                    speaker: None,
                }
            })
            .collect();
        Transcript { language: "en".into(), segments }
    }

    const ARTICLE: &str = "Prisoners come home\n\n\
        On December 4, 2021, Azerbaijan returned ten Armenian prisoners of war (POW) captured in November 2021, in exchange for maps detailing landmine locations.\n\n\
        The November clashes were reportedly the worst since the 44-day war in 2020. More than 30 Armenian servicemen were captured as prisoners of war.\n\n\
        Gyumri relatives gathered outside the local government building demanding answers.\n";

    #[test]
    fn verbatim_with_asr_errors_and_spoken_numbers() {
        let article = parse_text(ARTICLE.as_bytes()).unwrap();
        let t = transcript(&[
            "On December fourth, twenty twenty-one, Azerbaijan returned ten Armenian prisoners of war",
            "captured in November 2021 in exchange for maps detailing land mine locations.",
        ]);
        let links = link(&t, &article);
        assert_eq!(links.passages.len(), 1, "one sentence across two segments");
        let p = &links.passages[0];
        assert_eq!((p.kind, p.paragraph), (LinkKind::Verbatim, Some(2)), "{p:?}");
        assert!(p.score > 0.8);
        assert_eq!(p.article_words.unwrap().first, 0);
        assert!(links.segments.iter().all(|s| s.paragraph == Some(2) && s.kind == LinkKind::Verbatim));
        assert_eq!(links.paragraphs.len(), 1);
        assert_eq!(links.paragraphs[0].spoken[0].start_ms, 0);
    }

    #[test]
    fn paraphrase_topical_and_unrelated() {
        let article = parse_text(ARTICLE.as_bytes()).unwrap();
        let t = transcript(&[
            "The fighting in November was the worst since the war of 2020, and more than thirty Armenian servicemen were taken prisoner.",
            "Good evening, and welcome to the programme.",
        ]);
        let mut links = link(&t, &article);
        links.link_cues(&[(0, 3000), (100_000, 101_000)]);
        let p = &links.passages;
        assert_eq!((p[0].kind, p[0].paragraph), (LinkKind::Paraphrase, Some(3)), "{:?}", p[0]);
        assert_eq!(p[1].kind, LinkKind::None, "{:?}", p[1]);
        assert_eq!(links.cues[0].paragraph, Some(3));
        assert_eq!(links.cues[1].kind, LinkKind::None);
    }

    #[test]
    fn short_quote_and_no_article_match() {
        let article =
            parse_text(b"Title here\n\n\"We need our children back. What did he do yesterday?\" one parent said.\n")
                .unwrap();
        let t = transcript(&["We need our children back.", "Snow has fallen in the mountains."]);
        let links = link(&t, &article);
        assert_eq!(links.passages[0].kind, LinkKind::Verbatim, "{:?}", links.passages[0]);
        assert_eq!(links.passages[1].kind, LinkKind::None);
    }
}
