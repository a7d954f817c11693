//! An edited caption or text file laid over the transcript it was made from. The edit's words
//! are aligned with the transcript's timed words by a diff on normalised words (Myers, in
//! linear memory): unchanged words keep their times, a word replaced one for one takes the
//! replaced word's times, other new words are spread over the time of what they replace (or
//! the gap they are put in) and marked so. Every change becomes a [`Correction`]; cues the
//! editor moved, split, merged or re-broke keep the editor's times and lines.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use similar::{Algorithm, DiffOp, capture_diff_slices_deadline};

use super::force::Hearing;
use crate::asr::transcript::spread;
use crate::asr::{Segment, Transcript, Word};
use crate::captions::Cue;
use crate::captions::rules::spoken_text;
use crate::correction::{Change, Correction, EditNote, Reason, Timing};
use crate::time::Ms;

/// Most cues an edit may have (ten hours at a cue every two seconds is 18,000).
pub const MAX_EDIT_CUES: usize = 50_000;
/// Most words an edit may have (ten hours of fast speech is about 120,000).
pub const MAX_EDIT_WORDS: usize = 300_000;
/// Share of the larger side's words that must be found unchanged on the other for an edit to be
/// taken as one of this transcript (the rest may be corrected, added or removed).
pub const MIN_COMMON: f64 = 0.5;
/// How far outside its cue an unchanged word may lie (the editor moves cues, not much farther).
pub const MAX_CUE_DRIFT_MS: Ms = 2_000;
/// Share of the unchanged words that must lie in (or near) their cue in a timed edit.
pub const MIN_IN_CUE: f64 = 0.8;
/// After this long the diff settles for a correct but perhaps longer edit script (only texts
/// with little in common take that long, and those are refused anyway).
const DIFF_DEADLINE: Duration = Duration::from_secs(3);
/// Time given to each word inserted where there is no gap to put it in.
const INSERTED_WORD_MS: Ms = 300;

/// A cue (or, from plain text, a paragraph) of an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditedCue {
    /// As the editor set them; none for plain text.
    pub times: Option<(Ms, Ms)>,
    /// Lines as written, voice spans removed (they are made again from the words' speakers).
    pub lines: Vec<String>,
}

/// A person's version of the captions or of the transcript's text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edited {
    pub cues: Vec<EditedCue>,
}

impl Edited {
    /// Cues as a subtitle file gives them.
    pub fn from_cues(cues: &[Cue]) -> Self {
        let cues = cues
            .iter()
            .map(|c| EditedCue {
                times: Some((c.start_ms, c.end_ms)),
                lines: c.lines.iter().map(|l| unvoiced(l)).collect(),
            })
            .collect();
        Edited { cues }
    }

    /// Plain text: each paragraph (lines up to a blank line) a cue without times.
    pub fn from_text(text: &str) -> Self {
        let mut cues = Vec::new();
        let mut lines: Vec<String> = Vec::new();
        for line in text.lines().chain(std::iter::once("")) {
            if line.trim().is_empty() {
                if !lines.is_empty() {
                    cues.push(EditedCue { times: None, lines: std::mem::take(&mut lines) });
                }
            } else {
                lines.push(line.trim().to_string());
            }
        }
        Edited { cues }
    }

    /// Whether every cue has the editor's times (a subtitle file).
    pub fn timed(&self) -> bool {
        !self.cues.is_empty() && self.cues.iter().all(|c| c.times.is_some())
    }

    /// The words said, each with its cue and line.
    fn words(&self) -> TextWords {
        let mut out = Vec::new();
        for (c, cue) in self.cues.iter().enumerate() {
            for (l, line) in cue.lines.iter().enumerate() {
                out.extend(spoken_text(line).split_whitespace().map(|w| (w.to_string(), c, l)));
            }
        }
        out
    }
}

/// A line without WebVTT voice spans (`<v Name>…</v>`), other markup kept.
fn unvoiced(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find('<') {
        out.push_str(&rest[..at]);
        let tag = &rest[at..];
        let is_voice =
            tag.starts_with("</v>") || tag.starts_with("<v ") || tag.starts_with("<v.") || tag.starts_with("<v>");
        match tag.find('>').filter(|_| is_voice) {
            Some(end) => rest = &tag[end + 1..],
            None => {
                out.push('<');
                rest = &tag[1..];
            }
        }
    }
    out.push_str(rest);
    out.trim().to_string()
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EditError {
    #[error("the edit has no words")]
    Empty,
    #[error("the edit has {0} cues, more than {MAX_EDIT_CUES}")]
    TooManyCues(usize),
    #[error("the edit has {0} words, more than {MAX_EDIT_WORDS}")]
    TooManyWords(usize),
    #[error(
        "the edit has little in common with the transcript ({common}% of its words are the transcript's, \
         {kept}% of the transcript's are in it): is it from another report?"
    )]
    Unrelated { common: u32, kept: u32 },
    #[error(
        "the edit's cues are not where the transcript's words are ({0}% of the unchanged words lie outside \
         their cue): is it from another report?"
    )]
    Mistimed(u32),
    #[error("cancelled")]
    Cancelled,
}

/// The transcript with an edit laid over it.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub transcript: Transcript,
    /// Every change, in order: words first, then cues.
    pub corrections: Vec<Correction>,
    /// The editor's cues, for a timed edit: its times and lines, each line's speaker from its words.
    pub cues: Option<Vec<Cue>>,
    /// Runs of new words not timed as recognised words, and how many of them were timed from
    /// the audio (the rest spread between their neighbours).
    pub untimed: usize,
    pub aligned: usize,
}

/// The comparison key of a written word: its normalised form ("40," and "forty" are one word).
fn key(word: &str) -> String {
    crate::text::normalize(word).join(" ")
}

fn percent(a: usize, b: usize) -> u32 {
    (a as f64 * 100.0 / b.max(1) as f64).round() as u32
}

/// Lays `edited` over `t`. `old_cues`, the captions the editor started from, tell which cues
/// the editor moved, split or merged (timed edits only); `revision` numbers the corrections.
/// `hear`, the report's audio, times new words from it.
pub fn apply(
    t: &Transcript,
    edited: &Edited,
    old_cues: Option<&[Cue]>,
    revision: u32,
    hear: Option<&mut Hearing>,
) -> Result<Applied, EditError> {
    let (mut laid, new) = lay(t, edited, Mode::Edit, revision)?;
    let aligned = laid.time_from(hear)?;
    let untimed = laid.untimed.len();
    let cues = edited.timed().then(|| editor_cues(edited, &new, &laid.out));
    let mut corrections = laid.corrections;
    if let (Some(cues), Some(old_cues)) = (&cues, old_cues) {
        corrections.extend(cue_changes(old_cues, cues, revision));
    }
    Ok(Applied { transcript: regroup(t, &laid.out), corrections, cues, untimed, aligned })
}

/// A text's words, each with its cue (or paragraph) and line.
pub(crate) type TextWords = Vec<(String, usize, usize)>;

/// Whose text is laid over the recognition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// An editor's: what it leaves out is deleted, what it adds is inserted.
    Edit,
    /// A script's: speech it lacks stays as recognised, and text of it not heard (more than a
    /// few words in a row) is not captioned.
    Script,
}

/// Script words missing from the recognition in a row up to which they are taken as spoken but
/// missed by the recogniser (captioned, timed between their neighbours); longer runs were not
/// spoken.
pub const MAX_MISSED_WORDS: usize = 3;

/// The text laid over the recognised words.
pub(crate) struct Laid {
    /// The words, each with the segment it belongs to.
    pub out: Vec<(Word, usize)>,
    pub corrections: Vec<Correction>,
    /// Script text not heard: its text, the index of its first word, and the time it would
    /// have come.
    pub unspoken: Vec<(String, usize, Ms)>,
    /// Speech not in the script: its text and times.
    pub unscripted: Vec<(String, Ms, Ms)>,
    /// New words (a range of `out`) that no recognised word was heard in place of, each run with
    /// its correction (a word that replaces one recognised word takes that word's times).
    pub untimed: Vec<(std::ops::Range<usize>, usize)>,
}

impl Laid {
    /// Times the new words from the audio where it can ([`super::force`]); their corrections
    /// say so. Returns how many runs of new words were.
    pub fn time_from(&mut self, hear: Option<&mut Hearing>) -> Result<usize, EditError> {
        let Some(hear) = hear else { return Ok(0) };
        let ranges: Vec<_> = self.untimed.iter().map(|(r, _)| r.clone()).collect();
        let aligned = super::force::retime(&mut self.out, &ranges, hear).map_err(|_| EditError::Cancelled)?;
        let count = aligned.iter().filter(|a| **a).count();
        for ((range, c), ok) in self.untimed.iter().zip(aligned) {
            let c = &mut self.corrections[*c];
            if ok && let Some(note) = c.edit.as_mut() {
                note.timing = Some(Timing::Aligned);
                if c.before.is_empty() {
                    (c.start_ms, c.end_ms) = (self.out[range.start].0.start_ms, self.out[range.end - 1].0.end_ms);
                }
            }
        }
        Ok(count)
    }
}

/// The text's words (each with its cue or paragraph and line) laid over `t`'s words.
pub(crate) fn lay(t: &Transcript, edited: &Edited, mode: Mode, revision: u32) -> Result<(Laid, TextWords), EditError> {
    if edited.cues.len() > MAX_EDIT_CUES {
        return Err(EditError::TooManyCues(edited.cues.len()));
    }
    let new = edited.words();
    if new.is_empty() {
        return Err(EditError::Empty);
    }
    if new.len() > MAX_EDIT_WORDS {
        return Err(EditError::TooManyWords(new.len()));
    }
    let old: Vec<(&Word, usize)> =
        t.segments.iter().enumerate().flat_map(|(s, seg)| seg.words.iter().map(move |w| (w, s))).collect();
    let old_keys: Vec<String> = old.iter().map(|(w, _)| key(&w.text)).collect();
    let new_keys: Vec<String> = new.iter().map(|(w, _, _)| key(w)).collect();
    let mut ops =
        capture_diff_slices_deadline(Algorithm::Myers, &old_keys, &new_keys, Some(Instant::now() + DIFF_DEADLINE));
    ops = peel(in_order(ops), &old_keys, &new_keys);
    let olds: Vec<String> = old.iter().map(|(w, _)| likeness_form(&w.text)).collect();
    let news: Vec<String> = new.iter().map(|(w, _, _)| likeness_form(w)).collect();
    if mode == Mode::Script {
        ops = peel(coalesce(ops), &old_keys, &new_keys)
            .into_iter()
            .flat_map(|op| split_lopsided(op, &olds, &news))
            .collect();
    }
    // A sentence added or taken out is that sentence, not its last words and the next one's
    // first (which the new words would then be timed around).
    let old_texts: Vec<&str> = old.iter().map(|(w, _)| w.text.as_str()).collect();
    let new_texts: Vec<&str> = new.iter().map(|(w, _, _)| w.as_str()).collect();
    ops = slide(ops, (&old_keys, &old_texts), (&new_keys, &new_texts));
    let same: usize = ops.iter().map(|op| if let DiffOp::Equal { len, .. } = op { *len } else { 0 }).sum();
    // An edit changes a part; a script may hold more than was said, but must hold most of it.
    let base = if mode == Mode::Edit { old.len().max(new.len()) } else { old.len() };
    if (same as f64) < MIN_COMMON * base as f64 {
        return Err(EditError::Unrelated { common: percent(same, new.len()), kept: percent(same, old.len()) });
    }
    if edited.timed() {
        let outside = ops
            .iter()
            .filter_map(|op| match op {
                DiffOp::Equal { old_index, new_index, len } => Some((*old_index, *new_index, *len)),
                _ => None,
            })
            .flat_map(|(o, n, len)| (0..len).map(move |k| (o + k, n + k)))
            .filter(|&(o, n)| {
                let (start, end) = edited.cues[new[n].1].times.unwrap_or_default();
                let w = old[o].0;
                w.end_ms + MAX_CUE_DRIFT_MS < start || w.start_ms > end + MAX_CUE_DRIFT_MS
            })
            .count();
        if (outside as f64) > (1.0 - MIN_IN_CUE) * same as f64 {
            return Err(EditError::Mistimed(percent(outside, same)));
        }
    }

    let reason = if mode == Mode::Edit { Reason::Edited } else { Reason::Script };
    let note = |change, timing| Some(EditNote { change, revision, timing, before_ms: None });
    let mut unspoken = Vec::new();
    let mut unscripted = Vec::new();
    let joined = |ws: &[(&Word, usize)]| ws.iter().map(|(w, _)| w.text.as_str()).collect::<Vec<_>>().join(" ");
    let texts = |from: usize, len: usize| new[from..from + len].iter().map(|(w, _, _)| w.clone()).collect::<Vec<_>>();
    // One word out per word of the edit, in order, with the segment it belongs to.
    let mut out: Vec<(Word, usize)> = Vec::with_capacity(new.len());
    let mut corrections = Vec::new();
    let mut untimed = Vec::new();
    for op in &ops {
        match *op {
            DiffOp::Equal { old_index, new_index, len } => {
                for k in 0..len {
                    let (w, seg) = old[old_index + k];
                    let text = &new[new_index + k].0;
                    if &w.text != text {
                        corrections.push(Correction {
                            heard: None,
                            before: w.text.clone(),
                            after: text.clone(),
                            start_ms: w.start_ms,
                            end_ms: w.end_ms,
                            reason,
                            paragraph: None,
                            edit: note(Change::Words, Some(Timing::Recognised)),
                        });
                    }
                    out.push((Word { text: text.clone(), ..w.clone() }, seg));
                }
            }
            DiffOp::Delete { old_index, old_len, .. } if mode == Mode::Script => {
                let kept = &old[old_index..old_index + old_len];
                unscripted.push((joined(kept), kept[0].0.start_ms, kept[old_len - 1].0.end_ms));
                out.extend(kept.iter().map(|(w, s)| ((*w).clone(), *s)));
            }
            DiffOp::Insert { new_index, new_len, .. } if mode == Mode::Script && new_len > MAX_MISSED_WORDS => {
                let near = out.last().map_or(0, |(w, _)| w.end_ms);
                unspoken.push((texts(new_index, new_len).join(" "), new_index, near));
            }
            DiffOp::Replace { old_index, old_len, new_index, new_len }
                if mode == Mode::Script
                    && lopsided(&olds[old_index..old_index + old_len], &news[new_index..new_index + new_len]) =>
            {
                // Not a misheard phrase: speech the script lacks beside text not spoken.
                let kept = &old[old_index..old_index + old_len];
                unscripted.push((joined(kept), kept[0].0.start_ms, kept[old_len - 1].0.end_ms));
                out.extend(kept.iter().map(|(w, s)| ((*w).clone(), *s)));
                unspoken.push((texts(new_index, new_len).join(" "), new_index, kept[old_len - 1].0.end_ms));
            }
            DiffOp::Delete { old_index, old_len, .. } => {
                let gone = &old[old_index..old_index + old_len];
                corrections.push(Correction {
                    heard: None,
                    before: joined(gone),
                    after: String::new(),
                    start_ms: gone[0].0.start_ms,
                    end_ms: gone[old_len - 1].0.end_ms,
                    reason,
                    paragraph: None,
                    edit: note(Change::Words, None),
                });
            }
            DiffOp::Replace { old_index, old_len, new_index, new_len } => {
                let gone = &old[old_index..old_index + old_len];
                let texts = texts(new_index, new_len);
                let (start, end) = (gone[0].0.start_ms, gone[old_len - 1].0.end_ms);
                // Each new word beside the recognised word it sounds like: its times; the rest
                // spread between those.
                let pairs = pair_up(gone, &texts);
                let first = out.len();
                let mut interpolated = false;
                let mut k = 0;
                while k < new_len {
                    if let Some(i) = pairs[k] {
                        let (was, seg) = gone[i];
                        out.push((Word { text: texts[k].clone(), probability: 1.0, ..was.clone() }, seg));
                        k += 1;
                        continue;
                    }
                    // A run of new words without a counterpart, between the neighbours' times.
                    let run_end = (k..new_len).find(|&j| pairs[j].is_some()).unwrap_or(new_len);
                    let from = out.last().map_or(start, |(w, _)| w.end_ms.max(start));
                    let to = pairs.get(run_end).copied().flatten().map_or(end, |i| gone[i].0.start_ms).max(from);
                    let place = (k * old_len / new_len).min(old_len - 1);
                    let (was, seg) = gone[place];
                    for w in spread(&texts[k..run_end], from, to, 1.0) {
                        out.push((Word { speaker: was.speaker, ..w }, seg));
                    }
                    interpolated = true;
                    k = run_end;
                }
                corrections.push(Correction {
                    heard: None,
                    before: joined(gone),
                    after: texts.join(" "),
                    start_ms: start,
                    end_ms: end,
                    reason,
                    paragraph: None,
                    edit: note(
                        Change::Words,
                        Some(if interpolated { Timing::Interpolated } else { Timing::Recognised }),
                    ),
                });
                if interpolated {
                    untimed.push((first..out.len(), corrections.len() - 1));
                }
            }
            DiffOp::Insert { old_index, new_index, new_len } => {
                let texts = texts(new_index, new_len);
                let after_sentence = out.last().is_none_or(|(w, _)| crate::text::ends_sentence(&w.text));
                let prev = out.last().map(|(w, s)| (w.end_ms, w.speaker, *s));
                let next = old.get(old_index).map(|(w, s)| (w.start_ms, w.speaker, *s));
                let wanted = INSERTED_WORD_MS * new_len as Ms;
                // Beside the word they belong with: the next one when they open a sentence, else
                // the one before; across the whole gap only when it is short.
                let (start, end) = match (prev.map(|p| p.0), next.map(|n| n.0)) {
                    (Some(a), Some(b)) if b <= a + wanted => (a, b.max(a)),
                    (Some(_), Some(b)) if after_sentence => (b - wanted, b),
                    (Some(a), _) => (a, a + wanted),
                    (None, Some(b)) => (b.saturating_sub(wanted), b),
                    (None, None) => (0, wanted),
                };
                let (speaker, seg) =
                    if after_sentence { next.or(prev) } else { prev.or(next) }.map_or((None, 0), |(_, sp, s)| (sp, s));
                let words = spread(&texts, start, end, 1.0);
                corrections.push(Correction {
                    heard: None,
                    before: String::new(),
                    after: texts.join(" "),
                    start_ms: start,
                    end_ms: end,
                    reason,
                    paragraph: None,
                    edit: note(Change::Words, Some(Timing::Interpolated)),
                });
                let first = out.len();
                out.extend(words.into_iter().map(|w| (Word { speaker, ..w }, seg)));
                untimed.push((first..out.len(), corrections.len() - 1));
            }
        }
    }
    Ok((Laid { out, corrections, unspoken, unscripted, untimed }, new))
}

/// Largest replaced run (old words × new words) paired word by word; beyond it, spread.
const MAX_PAIRING: usize = 250_000;
/// How alike two words must be to be taken as one word heard otherwise.
const MIN_LIKENESS: f64 = 0.34;

/// For each new word of a replaced run, the recognised word it stands for, if any: the pairing
/// in order that makes the pairs most alike (one word heard otherwise: "Yeraman" for
/// "Yerevan,"), so a new word takes the time of the word it replaces, not of whatever word is
/// at its position.
fn pair_up(gone: &[(&Word, usize)], texts: &[String]) -> Vec<Option<usize>> {
    let (n, m) = (gone.len(), texts.len());
    if n == m && n == 1 {
        return vec![Some(0)];
    }
    if n * m > MAX_PAIRING {
        return vec![None; m];
    }
    let olds: Vec<String> = gone.iter().map(|(w, _)| likeness_form(&w.text)).collect();
    let news: Vec<String> = texts.iter().map(|t| likeness_form(t)).collect();
    let like = |i: usize, j: usize| likeness(&olds[i], &news[j]);
    let best = likeness_table(&olds, &news);
    let mut out = vec![None; m];
    let (mut i, mut j) = (n, m);
    while i > 0 && j > 0 {
        let l = like(i - 1, j - 1);
        if l > 0.0 && (best[i][j] - (best[i - 1][j - 1] + l)).abs() < 1e-9 {
            out[j - 1] = Some(i - 1);
            i -= 1;
            j -= 1;
        } else if (best[i][j] - best[i - 1][j]).abs() < 1e-9 {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    // Equal numbers of words with nothing alike: position for position.
    if n == m && out.iter().all(Option::is_none) {
        return (0..m).map(Some).collect();
    }
    out
}

/// A word as compared for likeness: bare, lower case.
fn likeness_form(w: &str) -> String {
    crate::text::bare(w).to_lowercase()
}

/// How alike two words are (0 below [`MIN_LIKENESS`]).
fn likeness(a: &str, b: &str) -> f64 {
    let s = crate::text::similarity(a, b);
    if s >= MIN_LIKENESS { s } else { 0.0 }
}

/// `best[i][j]`: the most likeness a pairing in order of `a[..i]` with `b[..j]` can have.
fn likeness_table(a: &[String], b: &[String]) -> Vec<Vec<f64>> {
    let mut best = vec![vec![0.0f64; b.len() + 1]; a.len() + 1];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let pair = best[i - 1][j - 1] + likeness(&a[i - 1], &b[j - 1]);
            best[i][j] = pair.max(best[i - 1][j]).max(best[i][j - 1]);
        }
    }
    best
}

/// Replacements with their first and last words unchanged (by key) made smaller: those words
/// are equal, not replaced.
fn peel(ops: Vec<DiffOp>, old_keys: &[String], new_keys: &[String]) -> Vec<DiffOp> {
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        let DiffOp::Replace { old_index: o, old_len: ol, new_index: n, new_len: nl } = op else {
            out.push(op);
            continue;
        };
        let head = (0..ol.min(nl)).take_while(|&k| old_keys[o + k] == new_keys[n + k]).count();
        let tail = (0..(ol - head).min(nl - head))
            .take_while(|&k| old_keys[o + ol - 1 - k] == new_keys[n + nl - 1 - k])
            .count();
        if head > 0 {
            out.push(DiffOp::Equal { old_index: o, new_index: n, len: head });
        }
        let (o2, n2, ol2, nl2) = (o + head, n + head, ol - head - tail, nl - head - tail);
        out.extend(match (ol2, nl2) {
            (0, 0) => None,
            (0, _) => Some(DiffOp::Insert { old_index: o2, new_index: n2, new_len: nl2 }),
            (_, 0) => Some(DiffOp::Delete { old_index: o2, old_len: ol2, new_index: n2 }),
            _ => Some(DiffOp::Replace { old_index: o2, old_len: ol2, new_index: n2, new_len: nl2 }),
        });
        if tail > 0 {
            out.push(DiffOp::Equal { old_index: o2 + ol2, new_index: n2 + nl2, len: tail });
        }
    }
    out
}

/// Text only one side has, moved (where the words around it allow) to start a sentence:
/// "The | fighting … prisoner. The" is the same diff as "The fighting … prisoner. | The", and
/// the second is what was left out.
fn slide(mut ops: Vec<DiffOp>, old: (&[String], &[&str]), new: (&[String], &[&str])) -> Vec<DiffOp> {
    for i in 1..ops.len() {
        let DiffOp::Equal { old_index: eo, new_index: en, len: el } = ops[i - 1] else { continue };
        let (side, at, len) = match ops[i] {
            DiffOp::Delete { old_index, old_len, .. } => (old, old_index, old_len),
            DiffOp::Insert { new_index, new_len, .. } => (new, new_index, new_len),
            _ => continue,
        };
        let (keys, texts) = side;
        let room = (1..=el.min(len)).take_while(|&t| keys[at - t] == keys[at + len - t]).count();
        let starts_sentence = |k: usize| k == 0 || crate::text::ends_sentence(texts[k - 1]);
        if starts_sentence(at) {
            continue;
        }
        let Some(t) = (1..=room).find(|&t| starts_sentence(at - t)) else { continue };
        ops[i - 1] = DiffOp::Equal { old_index: eo, new_index: en, len: el - t };
        ops[i] = match ops[i] {
            DiffOp::Delete { old_index, old_len, new_index } => {
                DiffOp::Delete { old_index: old_index - t, old_len, new_index: new_index - t }
            }
            DiffOp::Insert { old_index, new_index, new_len } => {
                DiffOp::Insert { old_index: old_index - t, new_index: new_index - t, new_len }
            }
            op => op,
        };
        // The words slid past come after it, joining the next unchanged run.
        let (o, n) = (ops[i].old_range().end, ops[i].new_range().end);
        match ops.get_mut(i + 1) {
            Some(DiffOp::Equal { old_index, new_index, len }) if *old_index == o + t && *new_index == n + t => {
                (*old_index, *new_index, *len) = (o, n, *len + t);
            }
            _ => ops.insert(i + 1, DiffOp::Equal { old_index: o, new_index: n, len: t }),
        }
    }
    ops.retain(|op| !matches!(op, DiffOp::Equal { len: 0, .. }));
    ops
}

/// Whether a replacement of recognised words (`old`, in likeness form) by script words (`new`)
/// is too uneven to be the same speech heard otherwise: one side over twice the other and by
/// more than a few words ("as the my John" for "Azerbaijan" is one name misheard), and over
/// twice as many letters (a name splits into short words, its sounds stay: "man, I'm in Pompa
/// City and" is "Benyamin Poghosyan" heard by tiny.en, 22 letters against 17).
fn lopsided(old: &[String], new: &[String]) -> bool {
    let (ol, nl) = (old.len(), new.len());
    let letters = |ws: &[String]| ws.iter().map(|w| w.chars().count()).sum::<usize>();
    let (oc, nc) = (letters(old), letters(new));
    (nl > 2 * ol + 1 || ol > 2 * nl + 1) && ol.abs_diff(nl) > MAX_MISSED_WORDS && (nc > 2 * oc || oc > 2 * nc)
}

/// A replacement where one side is far longer than the other: the shorter side heard otherwise
/// at one end of the longer (found by likeness), the rest of the longer side text not spoken
/// or speech not scripted. Unchanged when no end of the longer side is like the shorter.
fn split_lopsided(op: DiffOp, olds: &[String], news: &[String]) -> Vec<DiffOp> {
    let DiffOp::Replace { old_index: o, old_len: ol, new_index: n, new_len: nl } = op else { return vec![op] };
    if !lopsided(&olds[o..o + ol], &news[n..n + nl]) || ol * nl > MAX_PAIRING {
        return vec![op];
    }
    let (short, long) =
        if nl > ol { (&olds[o..o + ol], &news[n..n + nl]) } else { (&news[n..n + nl], &olds[o..o + ol]) };
    let (s, l) = (short.len(), long.len());
    let range = s.div_ceil(2)..=(2 * s + 1).min(l - 1);
    // The best k words at the start of the longer side, and at its end.
    let front = likeness_table(short, long);
    let rs: Vec<String> = short.iter().rev().cloned().collect();
    let rl: Vec<String> = long.iter().rev().cloned().collect();
    let back = likeness_table(&rs, &rl);
    let best_front = range.clone().map(|k| (front[s][k], k)).fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a });
    let best_back = range.map(|k| (back[s][k], k)).fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a });
    let (score, k, at_front) = if best_front.0 >= best_back.0 {
        (best_front.0, best_front.1, true)
    } else {
        (best_back.0, best_back.1, false)
    };
    if score < 0.4 * s as f64 || k == 0 {
        return vec![op];
    }
    let rest = l - k;
    match (nl > ol, at_front) {
        // More script than speech: the speech is the script's first (or last) k words.
        (true, true) => vec![
            DiffOp::Replace { old_index: o, old_len: ol, new_index: n, new_len: k },
            DiffOp::Insert { old_index: o + ol, new_index: n + k, new_len: rest },
        ],
        (true, false) => vec![
            DiffOp::Insert { old_index: o, new_index: n, new_len: rest },
            DiffOp::Replace { old_index: o, old_len: ol, new_index: n + rest, new_len: k },
        ],
        // More speech than script.
        (false, true) => vec![
            DiffOp::Replace { old_index: o, old_len: k, new_index: n, new_len: nl },
            DiffOp::Delete { old_index: o + k, old_len: rest, new_index: n + nl },
        ],
        (false, false) => vec![
            DiffOp::Delete { old_index: o, old_len: rest, new_index: n },
            DiffOp::Replace { old_index: o + rest, old_len: k, new_index: n, new_len: nl },
        ],
    }
}

/// The diff's operations with every index where the walk through both texts stands (the diff
/// may give a deletion an index in the new text that is not where it happens).
fn in_order(ops: Vec<DiffOp>) -> Vec<DiffOp> {
    let (mut o, mut n) = (0, 0);
    ops.into_iter()
        .map(|op| {
            let (ol, nl) = (op.old_range().len(), op.new_range().len());
            let fixed = match op {
                DiffOp::Equal { len, .. } => DiffOp::Equal { old_index: o, new_index: n, len },
                DiffOp::Delete { .. } => DiffOp::Delete { old_index: o, old_len: ol, new_index: n },
                DiffOp::Insert { .. } => DiffOp::Insert { old_index: o, new_index: n, new_len: nl },
                DiffOp::Replace { .. } => DiffOp::Replace { old_index: o, old_len: ol, new_index: n, new_len: nl },
            };
            (o, n) = (o + ol, n + nl);
            fixed
        })
        .collect()
}

/// Changes on both sides of one or two unchanged words made one change: "the" found in a
/// sentence that was not spoken and in one the script lacks is a coincidence, not a place the
/// two texts meet.
fn coalesce(ops: Vec<DiffOp>) -> Vec<DiffOp> {
    let mut out: Vec<DiffOp> = Vec::with_capacity(ops.len());
    let mut i = 0;
    while i < ops.len() {
        let op = ops[i];
        let lonely = matches!(op, DiffOp::Equal { len, .. } if len <= 2)
            && out.last().is_some_and(|p| !matches!(p, DiffOp::Equal { .. }))
            && ops.get(i + 1).is_some_and(|n| !matches!(n, DiffOp::Equal { .. }));
        if lonely && let Some(prev) = out.pop() {
            let next = ops[i + 1];
            let (o, n) = (prev.old_range().start, prev.new_range().start);
            let (oe, ne) = (next.old_range().end, next.new_range().end);
            out.push(DiffOp::Replace { old_index: o, old_len: oe - o, new_index: n, new_len: ne - n });
            i += 2;
            continue;
        }
        // A change right after a merged one joins it.
        match (out.last().copied(), op) {
            (Some(prev @ DiffOp::Replace { .. }), next) if !matches!(next, DiffOp::Equal { .. }) => {
                out.pop();
                let (o, n) = (prev.old_range().start, prev.new_range().start);
                let (oe, ne) = (next.old_range().end, next.new_range().end);
                out.push(DiffOp::Replace { old_index: o, old_len: oe - o, new_index: n, new_len: ne - n });
            }
            _ => out.push(op),
        }
        i += 1;
    }
    out
}

/// `t`'s segments with the words laid over them; a segment whose words all went goes too.
pub(crate) fn regroup(t: &Transcript, out: &[(Word, usize)]) -> Transcript {
    let mut segments: Vec<Segment> = Vec::new();
    let mut current: Option<usize> = None;
    for (w, s) in out {
        if current != Some(*s) {
            let was = &t.segments[*s];
            segments.push(Segment { words: Vec::new(), text: String::new(), ..was.clone() });
            current = Some(*s);
        }
        if let Some(seg) = segments.last_mut() {
            seg.words.push(w.clone());
        }
    }
    for seg in &mut segments {
        seg.text = seg.words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
        if let (Some(a), Some(b)) = (seg.words.first(), seg.words.last()) {
            seg.start_ms = seg.start_ms.min(a.start_ms);
            seg.end_ms = seg.end_ms.max(b.end_ms);
        }
    }
    Transcript { language: t.language.clone(), segments }
}

/// The edit's cues as captions: the editor's times and lines; each line's speaker is the one
/// most of its words have (a line without words, a label, takes the next line's).
fn editor_cues(edited: &Edited, new: &[(String, usize, usize)], out: &[(Word, usize)]) -> Vec<Cue> {
    let any_speaker = out.iter().any(|(w, _)| w.speaker.is_some());
    let mut cues: Vec<Cue> = edited
        .cues
        .iter()
        .map(|c| {
            let (start_ms, end_ms) = c.times.unwrap_or_default();
            Cue { start_ms, end_ms, lines: c.lines.clone(), speakers: Vec::new() }
        })
        .collect();
    if !any_speaker {
        return cues;
    }
    let mut votes: Vec<Vec<Vec<u32>>> = edited.cues.iter().map(|c| vec![Vec::new(); c.lines.len()]).collect();
    for ((_, c, l), (w, _)) in new.iter().zip(out) {
        if let Some(s) = w.speaker {
            votes[*c][*l].push(s);
        }
    }
    for (cue, lines) in cues.iter_mut().zip(votes) {
        let mut speakers: Vec<Option<u32>> = lines
            .iter()
            .map(|v| {
                let mut best: Option<(usize, u32)> = None;
                for &s in v {
                    let n = v.iter().filter(|&&x| x == s).count();
                    if best.is_none_or(|(m, _)| n > m) {
                        best = Some((n, s));
                    }
                }
                best.map(|(_, s)| s)
            })
            .collect();
        // Lines without words take the next line's speaker, else the one before.
        for k in (0..speakers.len()).rev() {
            if speakers[k].is_none() {
                speakers[k] = speakers.get(k + 1).copied().flatten();
            }
        }
        for k in 1..speakers.len() {
            if speakers[k].is_none() {
                speakers[k] = speakers[k - 1];
            }
        }
        if speakers.iter().all(Option::is_some) {
            cue.speakers = speakers.into_iter().flatten().collect();
        }
    }
    cues
}

/// What the editor did to the cues: moved, split, merged, re-cut. Cue boundaries are compared
/// as places in the words (the old captions' words aligned with the edit's), so a word changed
/// inside a cue is not a cue change (it is a word correction) and does not hide one nearby.
fn cue_changes(old: &[Cue], new: &[Cue], revision: u32) -> Vec<Correction> {
    // The cues' words (keys) and where each cue starts among them, the end last.
    let words = |cs: &[Cue]| {
        let mut keys = Vec::new();
        let mut starts = Vec::with_capacity(cs.len() + 1);
        for c in cs {
            starts.push(keys.len());
            for l in &c.lines {
                keys.extend(spoken_text(l).split_whitespace().map(key));
            }
        }
        starts.push(keys.len());
        (keys, starts)
    };
    let ((ok, os), (nk, ns)) = (words(old), words(new));
    // Where each place between the old words is among the new ones, where the words around it
    // are unchanged.
    let mut at: Vec<Option<usize>> = vec![None; ok.len() + 1];
    for op in capture_diff_slices_deadline(Algorithm::Myers, &ok, &nk, Some(Instant::now() + DIFF_DEADLINE)) {
        if let DiffOp::Equal { old_index, new_index, len } = op {
            for k in 0..=len {
                at[old_index + k] = Some(new_index + k);
            }
        }
    }
    at[0] = Some(0);
    at[ok.len()] = Some(nk.len());
    let text = |cs: &[Cue]| cs.iter().map(|c| c.lines.join(" ")).collect::<Vec<_>>().join(" | ");
    let mut out = Vec::new();
    let mut group = |before: &[Cue], after: &[Cue]| {
        let change = match (before, after) {
            ([a], [b]) if (a.start_ms, a.end_ms) != (b.start_ms, b.end_ms) => Change::CueTimes,
            // The same text broken into lines otherwise (changed words are word corrections).
            ([a], [b]) if a.lines != b.lines && a.lines.join(" ") == b.lines.join(" ") => Change::CueLines,
            ([_], [_]) => return,
            ([_], [_, _, ..]) => Change::CueSplit,
            ([_, _, ..], [_]) => Change::CueMerge,
            _ => Change::CueLines,
        };
        let span = |cs: &[Cue]| cs.first().map(|c| c.start_ms).zip(cs.last().map(|c| c.end_ms));
        let (start_ms, end_ms) = span(after).or(span(before)).unwrap_or_default();
        out.push(Correction {
            heard: None,
            before: text(before),
            after: text(after),
            start_ms,
            end_ms,
            reason: Reason::Edited,
            paragraph: None,
            edit: Some(EditNote { change, revision, timing: None, before_ms: span(before).map(|(a, b)| [a, b]) }),
        });
    };
    // Groups of cues between boundaries both sides share.
    let (mut i, mut j, mut gi, mut gj) = (0, 0, 0, 0);
    while i < old.len() || j < new.len() {
        let old_end = (i < old.len()).then(|| at[os[i + 1]]).flatten();
        let new_end = (j < new.len()).then(|| ns[j + 1]);
        match (old_end, new_end) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
                group(&old[gi..i], &new[gj..j]);
                (gi, gj) = (i, j);
            }
            (Some(a), Some(b)) if a < b => i += 1,
            (None, Some(_)) if i < old.len() => i += 1,
            (_, Some(_)) => j += 1,
            (_, None) => i += 1,
        }
    }
    if gi < old.len() || gj < new.len() {
        group(&old[gi..], &new[gj..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, start_ms: Ms, end_ms: Ms) -> Word {
        Word { text: text.into(), start_ms, end_ms, probability: 0.9, speaker: None }
    }

    fn transcript(words: &[(&str, Ms, Ms)]) -> Transcript {
        let words: Vec<Word> = words.iter().map(|&(t, a, b)| word(t, a, b)).collect();
        let text = words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
        let (start_ms, end_ms) = (words[0].start_ms, words[words.len() - 1].end_ms);
        Transcript {
            language: "en".into(),
            segments: vec![Segment { start_ms, end_ms, text, no_speech_probability: 0.0, words, speaker: None }],
        }
    }

    fn cue(start_ms: Ms, end_ms: Ms, lines: &[&str]) -> Cue {
        Cue { start_ms, end_ms, lines: lines.iter().map(|l| l.to_string()).collect(), speakers: Vec::new() }
    }

    fn sample() -> Transcript {
        transcript(&[
            ("Estimates", 0, 500),
            ("on", 500, 700),
            ("every", 700, 1000),
            ("my", 1000, 1200),
            ("John", 1200, 1500),
            ("range", 1500, 1900),
            ("from", 1900, 2100),
            ("around", 2100, 2500),
            ("forty.", 2500, 3000),
            ("Prisoners", 4000, 4600),
            ("came", 4600, 4900),
            ("home", 4900, 5300),
            ("today.", 5300, 6000),
        ])
    }

    #[test]
    fn unchanged_words_keep_their_times_and_changes_are_recorded() {
        let t = sample();
        let old = [
            cue(0, 3000, &["Estimates on every my John", "range from around forty."]),
            cue(4000, 6000, &["Prisoners came home today."]),
        ];
        let edited = Edited::from_cues(&[
            cue(0, 3000, &["Estimates on Azerbaijan", "range from around 40."]),
            cue(4300, 6300, &["Prisoners came home today."]),
        ]);
        let a = apply(&t, &edited, Some(&old), 1, None).unwrap();
        let words: Vec<&Word> = a.transcript.words().collect();
        let texts: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(
            texts,
            ["Estimates", "on", "Azerbaijan", "range", "from", "around", "40.", "Prisoners", "came", "home", "today."]
        );
        // Unchanged words: the very same times.
        assert_eq!((words[3].start_ms, words[3].end_ms), (1500, 1900));
        assert_eq!((words[7].start_ms, words[7].end_ms), (4000, 4600));
        // Three words become one: it takes their time.
        assert_eq!((words[2].start_ms, words[2].end_ms), (700, 1500));
        // "forty." → "40.": the same word, written otherwise, keeps its time.
        assert_eq!((words[6].start_ms, words[6].end_ms), (2500, 3000));
        let c = &a.corrections;
        assert_eq!(c.len(), 3, "{c:#?}");
        assert_eq!((c[0].before.as_str(), c[0].after.as_str()), ("every my John", "Azerbaijan"));
        assert_eq!(c[0].edit.as_ref().unwrap().timing, Some(Timing::Interpolated));
        assert_eq!((c[1].before.as_str(), c[1].after.as_str()), ("forty.", "40."));
        let moved = &c[2];
        assert_eq!(moved.edit.as_ref().unwrap().change, Change::CueTimes);
        assert_eq!(moved.edit.as_ref().unwrap().before_ms, Some([4000, 6000]));
        assert_eq!((moved.start_ms, moved.end_ms), (4300, 6300));
        let cues = a.cues.unwrap();
        assert_eq!((cues[1].start_ms, cues[1].end_ms), (4300, 6300));
        assert_eq!(
            a.transcript.segments[0].text,
            "Estimates on Azerbaijan range from around 40. Prisoners came home today."
        );
    }

    #[test]
    fn splits_merges_and_the_same_edit_twice() {
        let t = sample();
        let old = [
            cue(0, 3000, &["Estimates on every my John range from around forty."]),
            cue(4000, 6000, &["Prisoners came home today."]),
        ];
        let edited = Edited::from_cues(&[
            cue(0, 1500, &["Estimates on every my John"]),
            cue(1500, 3000, &["range from around forty."]),
            cue(4000, 6000, &["Prisoners came home today."]),
        ]);
        let a = apply(&t, &edited, Some(&old), 1, None).unwrap();
        assert_eq!(a.corrections.len(), 1);
        assert_eq!(a.corrections[0].edit.as_ref().unwrap().change, Change::CueSplit);
        // Applied again to its own result: nothing to do.
        let again = apply(&a.transcript, &edited, a.cues.as_deref(), 2, None).unwrap();
        assert!(again.corrections.is_empty(), "{:#?}", again.corrections);
        assert_eq!(again.transcript, a.transcript);
        // A split beside a cue whose words changed is still a split.
        let near = Edited::from_cues(&[
            cue(0, 1500, &["Estimates on every my John"]),
            cue(1500, 3000, &["range from around forty."]),
            cue(4000, 6000, &["Prisoners came back today."]),
        ]);
        let kinds: Vec<Change> = apply(&t, &near, Some(&old), 1, None)
            .unwrap()
            .corrections
            .iter()
            .map(|c| c.edit.as_ref().unwrap().change)
            .collect();
        assert_eq!(kinds, [Change::Words, Change::CueSplit]);
        let merged = Edited::from_cues(&[cue(
            0,
            6000,
            &["Estimates on every my John range from around forty.", "Prisoners came home today."],
        )]);
        let m = apply(&t, &merged, Some(&old), 1, None).unwrap();
        assert_eq!(m.corrections.len(), 1);
        assert_eq!(m.corrections[0].edit.as_ref().unwrap().change, Change::CueMerge);
    }

    #[test]
    fn text_edits_insert_and_delete() {
        let t = sample();
        let edited = Edited::from_text(
            "Estimates on every my John range from around forty.\n\nPrisoners came home at last today.",
        );
        let a = apply(&t, &edited, None, 1, None).unwrap();
        assert!(a.cues.is_none());
        let words: Vec<&Word> = a.transcript.words().collect();
        let at = words.iter().position(|w| w.text == "at").unwrap();
        assert!(words[at].start_ms >= 5300 && words[at + 1].end_ms <= 5300 + 2 * INSERTED_WORD_MS);
        assert_eq!(a.corrections.len(), 1);
        assert_eq!(a.corrections[0].after, "at last");
        let cut = Edited::from_text("Estimates on every my John range from around forty. Prisoners came home.");
        let d = apply(&t, &cut, None, 1, None).unwrap();
        let c: Vec<(&str, &str)> = d.corrections.iter().map(|c| (c.before.as_str(), c.after.as_str())).collect();
        assert_eq!(c, [("home", "home."), ("today.", "")]);
    }

    #[test]
    fn foreign_edits_are_refused() {
        let t = sample();
        let other = Edited::from_text("The minister said the budget would be published on Monday after the vote.");
        assert!(matches!(apply(&t, &other, None, 1, None), Err(EditError::Unrelated { .. })));
        assert_eq!(apply(&t, &Edited::from_text(" \n\n "), None, 1, None), Err(EditError::Empty));
        // The same words, an hour later: not this report's captions.
        let late = Edited::from_cues(&[
            cue(3_600_000, 3_603_000, &["Estimates on every my John range from around forty."]),
            cue(3_604_000, 3_606_000, &["Prisoners came home today."]),
        ]);
        assert!(matches!(apply(&t, &late, None, 1, None), Err(EditError::Mistimed(100))));
    }

    #[test]
    fn labels_dashes_and_voices_are_not_words() {
        assert_eq!(unvoiced("<v Rustam Muradov>Hello <i>there</i></v>"), "Hello <i>there</i>");
        assert_eq!(unvoiced("a < b"), "a < b");
        let e = Edited::from_cues(&[cue(0, 1000, &["(RUSTAM MURADOV)", "-We came home.", "NARRATOR: Yes."])]);
        let words: Vec<String> = e.words().into_iter().map(|(w, _, _)| w).collect();
        assert_eq!(words, ["We", "came", "home.", "Yes."]);
    }

    #[test]
    fn a_name_heard_as_many_short_words_is_misheard_not_unscripted() {
        let forms = |t: &str| t.split_whitespace().map(likeness_form).collect::<Vec<_>>();
        // What tiny.en heard for "Benyamin Poghosyan": six words, but as many sounds.
        assert!(!lopsided(&forms("man, I'm in Pompa City and"), &forms("Benyamin Poghosyan")));
        assert!(!lopsided(&forms("as the my John"), &forms("Azerbaijan")));
        // A sentence the script lacks beside a word it has is both more words and more letters.
        assert!(lopsided(&forms("We met the families today. And"), &forms("so")));
        assert!(lopsided(&forms("so"), &forms("The ministry has not said how many remain.")));
    }
}
