//! Groups words into cues of readable size and balances their lines.

use crate::asr::{Transcript, Word};
use crate::time::Ms;

use super::cue::Cue;

/// Size and timing limits for cues.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayoutRules {
    pub max_chars_per_line: usize,
    pub max_lines: usize,
    pub min_duration_ms: Ms,
    pub max_duration_ms: Ms,
    /// A silence at least this long between words ends a cue.
    pub pause_ms: Ms,
    /// Gap kept between consecutive cues.
    pub min_gap_ms: Ms,
}

impl Default for LayoutRules {
    fn default() -> Self {
        Self {
            max_chars_per_line: 42,
            max_lines: 2,
            min_duration_ms: 833,
            max_duration_ms: 7000,
            pause_ms: 1000,
            min_gap_ms: 84,
        }
    }
}

fn ends_sentence(w: &str) -> bool {
    w.trim_end_matches(['"', '\'', '”', '’', ')'])
        .ends_with(['.', '?', '!', '…'])
}

fn text_len(words: &[&Word]) -> usize {
    words.iter().map(|w| w.text.chars().count()).sum::<usize>() + words.len().saturating_sub(1)
}

/// Splits words into at most `max_lines` lines, as even as possible, the lower line the longer
/// one when both splits are equally even.
fn balance(words: &[&Word], rules: &LayoutRules) -> Vec<String> {
    let join = |ws: &[&Word]| {
        ws.iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    if text_len(words) <= rules.max_chars_per_line || words.len() < 2 || rules.max_lines < 2 {
        return vec![join(words)];
    }
    let best = (1..words.len())
        .min_by_key(|&i| {
            let (a, b) = (text_len(&words[..i]), text_len(&words[i..]));
            (a.max(b), a > b)
        })
        .unwrap_or(1);
    vec![join(&words[..best]), join(&words[best..])]
}

/// Builds cues from the transcript's words: a cue ends at a sentence end, a long pause, or when
/// the next word would not fit; times come from the words, never overlap, and short cues are
/// extended into the following silence.
pub fn build_cues(t: &Transcript, rules: &LayoutRules) -> Vec<Cue> {
    let words: Vec<&Word> = t.words().collect();
    let capacity = rules.max_chars_per_line * rules.max_lines;
    let mut groups: Vec<Vec<&Word>> = Vec::new();
    let mut cur: Vec<&Word> = Vec::new();
    for w in words {
        if let Some(last) = cur.last() {
            let mut with = cur.clone();
            with.push(w);
            let too_long = text_len(&with) > capacity
                || w.end_ms.saturating_sub(cur[0].start_ms) > rules.max_duration_ms;
            let pause = w.start_ms.saturating_sub(last.end_ms) >= rules.pause_ms;
            if too_long || pause || ends_sentence(&last.text) {
                groups.push(std::mem::take(&mut cur));
            }
        }
        cur.push(w);
    }
    if !cur.is_empty() {
        groups.push(cur);
    }
    let mut cues: Vec<Cue> = groups
        .iter()
        .map(|g| Cue {
            start_ms: g[0].start_ms,
            end_ms: g[g.len() - 1].end_ms,
            lines: balance(g, rules),
        })
        .collect();
    for i in 0..cues.len() {
        let next_start = cues.get(i + 1).map(|c| c.start_ms);
        let c = &mut cues[i];
        if c.end_ms < c.start_ms + rules.min_duration_ms {
            c.end_ms = c.start_ms + rules.min_duration_ms;
        }
        if let Some(n) = next_start {
            c.end_ms = c
                .end_ms
                .min(n.saturating_sub(rules.min_gap_ms))
                .max(c.start_ms + 1);
        }
    }
    cues
}
