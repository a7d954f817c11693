//! The cue builder: words and a profile in, cues that meet the profile out — or, where speech is
//! too fast for the rules, cues that keep every word and a record of the rules they break.
//!
//! Cue boundaries are chosen by dynamic programming over the word sequence: each candidate cue
//! costs something for where it breaks the sentence (sentence end: nothing; clause punctuation or
//! a pause: little; between an article and its noun: prohibitive), for reading speed it cannot
//! meet, and for being too short to read. Lines inside a cue are balanced the same way.
#![forbid(unsafe_code)]

use super::cue::Cue;
use super::language::{Grammar, grammar};
use super::profile::{LabelStyle, Profile};
use super::rules::{Violation, evaluate, reading_chars};
use crate::asr::Word;
use crate::text::ends_sentence;
use crate::time::Ms;
use crate::time::Span;

/// Built cues and the rules they could not all meet.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub cues: Vec<Cue>,
    pub violations: Vec<Violation>,
}

const NEVER: f64 = 1000.0;
/// A cue holding two speakers (a dashed line each): allowed, but a cue per speaker is better
/// wherever timing allows.
const TWO_SPEAKERS: f64 = 80.0;
/// Silence no cue may span.
const LONG_SILENCE_MS: Ms = 1500;

fn bare(w: &str) -> String {
    w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’').to_lowercase().replace('’', "'")
}

fn ends_clause(w: &str) -> bool {
    w.trim_end_matches(['"', '\'', '”', '’', ')', ']']).ends_with([',', ';', ':', '—', '–'])
}

fn capitalised(w: &str) -> bool {
    w.trim_start_matches(|c: char| !c.is_alphanumeric()).chars().next().is_some_and(char::is_uppercase)
}

fn numeric(w: &str) -> bool {
    w.trim_matches(|c: char| !c.is_alphanumeric()).chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// Cost of breaking (a cue or a line) between `a` and `b`; `prev_a` is the word before `a`.
fn break_cost(g: &Grammar, prev_a: Option<&str>, a: &str, b: &str) -> f64 {
    if ends_sentence(a) {
        return 0.0;
    }
    if ends_clause(a) {
        // "December 4, | 2021" is one date.
        return if numeric(a) && numeric(b) { NEVER * 0.5 } else { 5.0 };
    }
    let (la, lb) = (bare(a), bare(b));
    let is = |list: &[&str], w: &str| list.contains(&w);
    if is(g.determiners, &la) || is(g.prepositions, &la) || is(g.conjunctions, &la) {
        return NEVER;
    }
    if is(g.auxiliaries, &la) && !is(g.auxiliaries, &lb) {
        return NEVER;
    }
    if is(g.negations, &lb) || is(g.pronouns, &la) && !is(g.pronouns, &lb) {
        return NEVER;
    }
    if is(g.months, &la) && numeric(b)
        || numeric(a)
            && !numeric(b)
            && lb.chars().all(char::is_alphabetic)
            && lb.len() <= 8
            && !is(g.prepositions, &lb)
            && !is(g.conjunctions, &lb)
    {
        // "December | 4", "30 | soldiers"
        return NEVER * 0.5;
    }
    // First name + last name, and other runs of capitalised words (not at a sentence start).
    let a_starts_sentence = prev_a.is_none_or(ends_sentence);
    if capitalised(a) && capitalised(b) && !a_starts_sentence {
        return NEVER * 0.8;
    }
    if is(g.conjunctions, &lb) || is(g.prepositions, &lb) {
        return 15.0;
    }
    if is(g.auxiliaries, &lb) || is(g.pronouns, &lb) {
        return 25.0;
    }
    40.0
}

fn text_len(words: &[Word]) -> usize {
    words.iter().map(|w| w.text.chars().count()).sum::<usize>() + words.len().saturating_sub(1)
}

fn join(words: &[Word]) -> String {
    words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ")
}

/// Best split of `words` into at most `max_lines` lines of at most `width` characters:
/// (cost, line texts). `None` if no split fits.
fn lines(g: &Grammar, words: &[Word], width: usize, max_lines: usize) -> Option<(f64, Vec<String>)> {
    let total = text_len(words);
    if total <= width {
        return Some((0.0, vec![join(words)]));
    }
    if max_lines < 2 || words.len() < 2 {
        return None;
    }
    let mut best: Option<(f64, Vec<String>)> = None;
    for k in 1..words.len() {
        let top = text_len(&words[..k]);
        if top > width {
            break;
        }
        let Some((rest_cost, rest)) = lines(g, &words[k..], width, max_lines - 1) else { continue };
        let bottom = rest.first().map_or(0, |l| l.chars().count());
        let prev = (k >= 2).then(|| words[k - 2].text.as_str());
        let mut cost = rest_cost + break_cost(g, prev, &words[k - 1].text, &words[k].text) * 0.5;
        // Balanced lines, the lower one longer where possible (a pyramid).
        cost += (top as f64 - bottom as f64).abs() * 0.4 + if top > bottom { 4.0 } else { 0.0 };
        if best.as_ref().is_none_or(|(c, _)| cost < *c) {
            let mut ls = vec![join(&words[..k])];
            ls.extend(rest);
            best = Some((cost, ls));
        }
    }
    best
}

/// Makes word times usable: ends after starts, starts never going back.
fn sanitise(words: &[Word]) -> Vec<Word> {
    let mut out: Vec<Word> = Vec::with_capacity(words.len());
    for w in words {
        let mut w = w.clone();
        if let Some(p) = out.last() {
            w.start_ms = w.start_ms.max(p.start_ms);
        }
        w.end_ms = w.end_ms.max(w.start_ms);
        out.push(w);
    }
    out
}

/// Silence between each pair of consecutive words (`pauses[k]` precedes word k). With voice
/// activity, each silence between speech spans is given to the one word boundary nearest to it
/// (Whisper's word times often stretch across pauses or drift); without it, word times are used.
fn pauses(words: &[Word], speech: Option<&[Span]>) -> Vec<Ms> {
    let n = words.len();
    let Some(sp) = speech else {
        return (0..n)
            .map(|k| if k == 0 { 0 } else { words[k].start_ms.saturating_sub(words[k - 1].end_ms) })
            .collect();
    };
    let mut out = vec![0; n];
    if n < 2 {
        return out;
    }
    let boundary = |k: usize| (words[k - 1].end_ms + words[k].start_ms) / 2;
    // A pause is given to the nearby boundary that reads most like one: a sentence end beats a
    // comma, which beats the middle of a phrase, by more than Whisper's usual timing drift.
    let affinity = |k: usize| {
        let w = &words[k - 1].text;
        if ends_sentence(w) {
            0
        } else if ends_clause(w) {
            400
        } else {
            1200
        }
    };
    for g in sp.windows(2) {
        let (gs, ge) = (g[0].end_ms, g[1].start_ms);
        if ge <= gs {
            continue;
        }
        let centre = (gs + ge) / 2;
        let best = (1..n)
            .filter(|&k| boundary(k).abs_diff(centre) <= 2000)
            .min_by_key(|&k| boundary(k).abs_diff(centre) + affinity(k));
        if let Some(k) = best {
            out[k] = out[k].max(ge - gs);
        }
    }
    out
}

/// Where a cue whose first word Whisper places at `start` really begins: Whisper's word times
/// drift by a few hundred milliseconds, while voice activity detection finds the onset to 10 ms.
/// A cue that opens a stretch of speech starts with it; one that continues it keeps its word time.
fn speech_onset(start: Ms, prev_word: Option<(Ms, Ms)>, speech: &[Span]) -> Ms {
    const LOOK_AHEAD: Ms = 3000;
    let span = speech
        .iter()
        .find(|s| s.start_ms <= start && start < s.end_ms)
        .or_else(|| speech.iter().find(|s| s.start_ms > start && s.start_ms - start <= LOOK_AHEAD));
    let Some(s) = span else { return start };
    if s.start_ms > start {
        // Placed in the silence before the speech.
        return s.start_ms;
    }
    // The word before ended before this speech began, or (DTW stretches a word's end to the next
    // word's start) at least started before it.
    let opens_span = prev_word.is_none_or(|(ps, pe)| pe <= s.start_ms + 150 || ps + 100 < s.start_ms);
    if opens_span && start - s.start_ms <= 1000 { s.start_ms } else { start }
}

/// Builds cues from `words` (in `language`) under `profile`; with `speech` (voice activity),
/// cue starts are placed on speech onsets.
pub fn build_cues(words: &[Word], language: &str, profile: &Profile, speech: Option<&[Span]>) -> Layout {
    build_cues_named(words, language, profile, speech, &[])
}

/// A run of words laid out as lines under `label` (the profile's speaker label for a new
/// speaker, if any): (cost, lines). DCMP's `(Name)` takes a line of its own; BBC's `NAME:`
/// opens the first line.
fn labelled_lines(g: &Grammar, run: &[Word], label: Option<&str>, profile: &Profile) -> Option<(f64, Vec<String>)> {
    let width = profile.max_chars_per_line;
    match (label, profile.speaker_labels) {
        (None, _) | (Some(_), LabelStyle::Dash) => lines(g, run, width, profile.max_lines),
        (Some(label), LabelStyle::Parentheses) if profile.max_lines >= 2 && label.chars().count() <= width => {
            let (cost, rest) = lines(g, run, width, profile.max_lines - 1)?;
            Some((cost, std::iter::once(label.to_string()).chain(rest).collect()))
        }
        (Some(label), _) => {
            let mut with: Vec<Word> = Vec::with_capacity(run.len() + 1);
            with.push(Word { text: label.to_string(), ..run[0].clone() });
            with.extend_from_slice(run);
            lines(g, &with, width, profile.max_lines)
        }
    }
}

/// As [`build_cues`], with the speakers' names (id, name) for the profile's speaker labels; a
/// speaker without one is "Speaker N". Under a labelling profile every change of speaker starts
/// a cue, opened by the label.
pub fn build_cues_named(
    words: &[Word],
    language: &str,
    profile: &Profile,
    speech: Option<&[Span]>,
    names: &[(u32, String)],
) -> Layout {
    let g = grammar(language);
    let words: Vec<Word> = sanitise(words).into_iter().filter(|w| !w.text.trim().is_empty()).collect();
    let n = words.len();
    let capacity = profile.max_chars_per_line * profile.max_lines;
    let pause = pauses(&words, speech);
    // Where the speaker changes: before word k, when both words' speakers are known.
    let changes_at = |k: usize| matches!((words[k - 1].speaker, words[k].speaker), (Some(a), Some(b)) if a != b);
    let dash_width = profile.max_chars_per_line.saturating_sub(profile.speaker_dash.chars().count());
    let labelled = profile.speaker_labels != LabelStyle::Dash;
    // Where each speaker's name is first said (a word of it, of three letters or more), for
    // profiles that name a speaker only once introduced.
    let introduced = |name: &str| -> usize {
        let said = |w: &str| crate::text::bare(w).to_lowercase();
        let parts: Vec<String> = name.split_whitespace().map(said).filter(|p| p.chars().count() >= 3).collect();
        words.iter().position(|w| parts.contains(&said(&w.text))).unwrap_or(usize::MAX)
    };
    let named: Vec<(u32, String, usize)> = names
        .iter()
        .map(|(id, n)| (*id, n.clone(), if profile.name_after_introduction { introduced(n) } else { 0 }))
        .collect();
    // The label a cue starting at word i opens with: where a new speaker starts.
    let labels: Vec<Option<String>> = (0..n)
        .map(|i| {
            let s = words[i].speaker.filter(|_| labelled)?;
            if i > 0 && words[i - 1].speaker == Some(s) {
                return None;
            }
            let name = match named.iter().find(|(id, ..)| *id == s) {
                Some((_, name, from)) if i >= *from => name.clone(),
                _ => format!("Speaker {s}"),
            };
            profile.speaker_label(&name)
        })
        .collect();
    // The one speaker change inside words[i..j] that a two-speaker cue could hold: `Err` for
    // more than one.
    let change_in = |i: usize, j: usize| -> Result<Option<usize>, ()> {
        let mut found = None;
        for k in i + 1..j {
            if changes_at(k) {
                if found.is_some() {
                    return Err(());
                }
                found = Some(k);
            }
        }
        Ok(found)
    };
    // Where a cue would start if it began at word i.
    let starts: Vec<Ms> = (0..n)
        .map(|i| {
            let prev = i.checked_sub(1).map(|p| (words[p].start_ms, words[p].end_ms));
            speech.map_or(words[i].start_ms, |sp| speech_onset(words[i].start_ms, prev, sp))
        })
        .collect();
    // best[j]: (cost, start of the last cue) for a layout of words[..j].
    let mut best: Vec<(f64, usize)> = vec![(f64::INFINITY, 0); n + 1];
    best[0] = (0.0, 0);
    for j in 1..=n {
        for i in (0..j).rev() {
            let run = &words[i..j];
            let single = j - i == 1;
            let chars = text_len(run);
            if chars > capacity && !single {
                break;
            }
            let span = run[run.len() - 1].end_ms.saturating_sub(starts[i]);
            if span > profile.max_duration_ms && !single {
                break;
            }
            if best[i].0.is_infinite() {
                continue;
            }
            let layout_cost = match change_in(i, j) {
                // Three or more speakers: never in one cue (and no longer run has fewer).
                Err(()) => break,
                // Two speakers: a dashed line each, each on one line.
                Ok(Some(k)) => {
                    // A labelling profile gives each speaker a cue of their own.
                    if labelled
                        || profile.max_lines < 2
                        || text_len(&words[i..k]) > dash_width
                        || text_len(&words[k..j]) > dash_width
                    {
                        continue;
                    }
                    TWO_SPEAKERS
                }
                Ok(None) => match labelled_lines(g, run, labels[i].as_deref(), profile) {
                    Some((c, _)) => c,
                    None if single => NEVER,
                    None => continue,
                },
            };
            let mut cost = best[i].0 + layout_cost + 30.0;
            if j < n {
                let prev = (j >= 2).then(|| words[j - 2].text.as_str());
                cost += break_cost(g, prev, &words[j - 1].text, &words[j].text);
                // A new speaker is a natural boundary, as is a pause.
                if changes_at(j) {
                    cost -= 40.0;
                }
                if pause[j] >= profile.pause_ms / 2 {
                    cost -= 20.0 + (pause[j].min(2000) as f64) / 20.0;
                }
            }
            // Sentence ends inside a cue are fine when short, but a cue should not straddle a pause.
            for k in i + 1..j {
                let gap = pause[k];
                if gap >= profile.pause_ms / 2 {
                    // A cue held across a long silence is one that lingers: never.
                    cost += if gap >= LONG_SILENCE_MS { NEVER * 2.0 } else { 150.0 + gap as f64 / 10.0 };
                }
                if ends_sentence(&words[k - 1].text) {
                    cost += 15.0;
                }
            }
            // Time the cue could stay up: until the next word (less a gap), at most a little
            // past its own speech.
            let limit = starts.get(j).map_or(Ms::MAX, |s| s.saturating_sub(profile.min_gap_ms()));
            let available = (run[run.len() - 1].end_ms + profile.max_linger_ms)
                .min(limit)
                .min(starts[i] + profile.max_duration_ms)
                .saturating_sub(starts[i]);
            let cue_chars =
                chars + profile.max_lines.min(2) - 1 + labels[i].as_ref().map_or(0, |l| l.chars().count() + 1);
            // A label is read too.
            let label_words = labels[i].as_ref().map_or(0, |l| l.split_whitespace().count());
            let need = profile.needed_duration_ms(cue_chars, run.len() + label_words);
            if need > available {
                // Worse than any break but a prohibited one: a rule would be broken.
                cost += 300.0 + (need - available) as f64;
            }
            if cost < best[j].0 {
                best[j] = (cost, i);
            }
        }
    }
    // Walk back to recover the cue boundaries.
    let mut bounds = Vec::new();
    let mut j = n;
    while j > 0 {
        let i = best[j].1;
        bounds.push((i, j));
        j = i;
    }
    bounds.reverse();

    let mut cues: Vec<Cue> = bounds
        .iter()
        .map(|&(i, j)| {
            let run = &words[i..j];
            let (ls, speakers) = match change_in(i, j) {
                Ok(Some(k)) => {
                    let dash = &profile.speaker_dash;
                    let spoken = [words[i].speaker, words[k].speaker].into_iter().flatten().collect();
                    (vec![format!("{dash}{}", join(&words[i..k])), format!("{dash}{}", join(&words[k..j]))], spoken)
                }
                _ => {
                    let ls = labelled_lines(g, run, labels[i].as_deref(), profile)
                        .map(|(_, l)| l)
                        .unwrap_or_else(|| labels[i].iter().cloned().chain(std::iter::once(join(run))).collect());
                    let speakers = run[0].speaker.map(|s| vec![s; ls.len()]).unwrap_or_default();
                    (ls, speakers)
                }
            };
            let start = starts[i];
            Cue { start_ms: start, end_ms: run[run.len() - 1].end_ms.max(start), lines: ls, speakers }
        })
        .collect();
    // Onsets may only move a start later than the previous cue's, never earlier.
    for k in 1..cues.len() {
        if cues[k].start_ms < cues[k - 1].start_ms {
            cues[k].start_ms = cues[k - 1].start_ms;
            cues[k].end_ms = cues[k].end_ms.max(cues[k].start_ms);
        }
    }
    time_cues(&mut cues, profile);
    let violations = evaluate(&cues, profile);
    Layout { cues, violations }
}

/// Sets cue ends: long enough to read (into the following silence, at most `max_linger_ms` past
/// the speech), never into the next cue, and small gaps chained down to the minimum.
fn time_cues(cues: &mut [Cue], profile: &Profile) {
    let gap = profile.min_gap_ms();
    for k in 0..cues.len() {
        if k > 0 {
            // Cues never overlap: when speech is too dense even for that, a start moves later.
            let prev_end = cues[k - 1].end_ms;
            let c = &mut cues[k];
            c.start_ms = c.start_ms.max(prev_end);
            c.end_ms = c.end_ms.max(c.start_ms);
        }
        let speech_end = cues[k].end_ms;
        let next_start = cues.get(k + 1).map(|c| c.start_ms);
        let c = &mut cues[k];
        let need = profile.needed_duration_ms(reading_chars(c), super::rules::word_count(c));
        let mut end = speech_end.max(c.start_ms + need).min(speech_end + profile.max_linger_ms);
        if let Some(ns) = next_start {
            let latest = ns.saturating_sub(gap);
            if ns.saturating_sub(end) < profile.chain_gap_ms() {
                // Chain: close a short gap down to the minimum (or open an overlap up to it).
                end = latest;
            }
            end = end.min(latest);
        }
        c.end_ms = end.min(c.start_ms + profile.max_duration_ms).max(c.start_ms + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(spec: &str) -> Vec<Word> {
        // "word@start-end"
        spec.split_whitespace()
            .map(|t| {
                let (text, times) = t.split_once('@').unwrap();
                let (a, b) = times.split_once('-').unwrap();
                Word {
                    text: text.replace('_', " "),
                    start_ms: a.parse().unwrap(),
                    end_ms: b.parse().unwrap(),
                    probability: 1.0,
                    speaker: None,
                }
            })
            .collect()
    }

    #[test]
    fn breaks_at_sentence_ends_and_keeps_phrases_together() {
        let w = words(
            "On@0-200 December@200-600 4,@600-900 Azerbaijan@900-1500 returned@1500-1900 ten@1900-2100 Armenian@2100-2600 \
             prisoners@2600-3100 of@3100-3200 war@3200-3500 captured@3500-4000 in@4000-4100 November.@4100-4700 \
             The@5200-5300 clashes@5300-5800 were@5800-6000 the@6000-6100 worst.@6100-6600",
        );
        let l = build_cues(&w, "en", &Profile::netflix(), None);
        let texts: Vec<String> = l.cues.iter().map(|c| c.lines.join(" / ")).collect();
        assert!(texts.iter().any(|t| t.ends_with("November.")), "{texts:?}");
        assert!(texts.last().unwrap().starts_with("The clashes"), "{texts:?}");
        for t in &texts {
            assert!(!t.contains("of /") && !t.contains("the /") && !t.contains("December /"), "{t}");
        }
        assert!(l.violations.is_empty(), "{:?}", l.violations);
    }

    #[test]
    fn short_cues_extend_into_silence_but_not_far() {
        let w = words("Yes.@1000-1200 No.@5000-5200");
        let l = build_cues(&w, "en", &Profile::netflix(), None);
        assert_eq!(l.cues.len(), 2);
        assert_eq!(l.cues[0].start_ms, 1000, "never before the speech");
        assert_eq!(l.cues[0].end_ms, 1700, "0.5 s past the speech at most");
        assert!(l.violations.iter().all(|v| v.rule == super::super::rules::Rule::MinDuration));
    }
}
