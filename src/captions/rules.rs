//! Checks cues against a profile. Used by the cue builder (to record what it could not meet)
//! and by `vidscribe check` (for subtitles made anywhere).
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

use super::cue::Cue;
use super::profile::Profile;
use crate::time::{Ms, clock};

/// The rule a cue breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    LineLength,
    LineCount,
    ReadingSpeed,
    MinDuration,
    MaxDuration,
    Gap,
    Chaining,
    Overlap,
    Order,
    Empty,
    /// Two speakers in one cue not written as the profile's dash style: a line each, each
    /// opened by the dash (Netflix: a hyphen without a space).
    SpeakerDash,
    // Problems of the file rather than of timing or layout, found by the subtitle readers.
    Numbering,
    Timestamp,
    Syntax,
    Encoding,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::LineLength => "line-length",
            Rule::LineCount => "line-count",
            Rule::ReadingSpeed => "reading-speed",
            Rule::MinDuration => "min-duration",
            Rule::MaxDuration => "max-duration",
            Rule::Gap => "gap",
            Rule::Chaining => "chaining",
            Rule::Overlap => "overlap",
            Rule::Order => "order",
            Rule::Empty => "empty",
            Rule::SpeakerDash => "speaker-dash",
            Rule::Numbering => "numbering",
            Rule::Timestamp => "timestamp",
            Rule::Syntax => "syntax",
            Rule::Encoding => "encoding",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// 1-based cue number (0 for the file as a whole).
    pub cue: usize,
    pub start_ms: Ms,
    pub rule: Rule,
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cue {} at {}: {}: {}", self.cue, clock(self.start_ms, '.'), self.rule.name(), self.detail)
    }
}

/// How a cue's speaker dashes differ from the profile's `dash` style, if they do. A line opened
/// by a hyphen, en or em dash and then a letter or an opening quote marks a speaker (a
/// number, `-30`, does not); one such line asks for every line to be one, each a speaker.
fn dash_problem(c: &Cue, dash: &str) -> Option<String> {
    let marks = |l: &str| {
        let l = l.trim_start();
        let rest = l.strip_prefix(['-', '–', '—'])?;
        let after = rest.trim_start();
        let speaker = after.chars().next().is_some_and(|ch| ch.is_alphabetic() || "\"'“‘(¿¡".contains(ch));
        speaker.then(|| l[..l.len() - after.len()].to_string())
    };
    let found: Vec<Option<String>> = c.lines.iter().map(|l| marks(l)).collect();
    if found.iter().all(Option::is_none) {
        return None;
    }
    if let Some(k) = found.iter().position(Option::is_none) {
        return Some(format!("line {} has no dash while another line opens with one: one speaker per line", k + 1));
    }
    let wrong = found.iter().flatten().find(|d| d.as_str() != dash)?;
    Some(format!("speaker dash \"{wrong}\" (the profile's is \"{dash}\")"))
}

/// Visible characters of a line: markup tags (`<i>`, `</b>`, `<c.yellow>`, `{\an8}`) do not
/// count; a `<` or `{` that does not open a complete tag is text like any other (a line of
/// ten million `<` is ten million characters, not none). Linear time.
pub fn visible_len(line: &str) -> usize {
    let chars: Vec<char> = line.chars().collect();
    let mut n = 0;
    let mut i = 0;
    while i < chars.len() {
        let tag_end = match (chars[i], chars.get(i + 1)) {
            ('<', Some(c)) if c.is_alphabetic() || *c == '/' => tag_close(&chars, i + 1, '<', '>'),
            ('{', Some('\\')) => tag_close(&chars, i + 1, '{', '}'),
            _ => None,
        };
        match tag_end {
            Some(end) => i = end + 1,
            None => {
                n += 1;
                i += 1;
            }
        }
    }
    n
}

/// Where the tag opened before `from` closes: the next `close`, unless another `open` comes first.
fn tag_close(chars: &[char], from: usize, open: char, close: char) -> Option<usize> {
    for (k, &c) in chars.iter().enumerate().skip(from) {
        if c == close {
            return Some(k);
        }
        if c == open {
            return None;
        }
    }
    None
}

pub fn word_count(cue: &Cue) -> usize {
    cue.lines.iter().map(|l| l.split_whitespace().count()).sum()
}

/// Characters a reader must read: the lines, plus one for each line break.
pub fn reading_chars(cue: &Cue) -> usize {
    cue.lines.iter().map(|l| visible_len(l)).sum::<usize>() + cue.lines.len().saturating_sub(1)
}

/// Every rule `cues` break under `profile`, in cue order.
pub fn evaluate(cues: &[Cue], profile: &Profile) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut push = |i: usize, c: &Cue, rule: Rule, detail: String| {
        out.push(Violation { cue: i + 1, start_ms: c.start_ms, rule, detail })
    };
    for (i, c) in cues.iter().enumerate() {
        let dur = c.end_ms.saturating_sub(c.start_ms);
        if c.lines.iter().all(|l| l.trim().is_empty()) {
            push(i, c, Rule::Empty, "no text".into());
            continue;
        }
        for (k, l) in c.lines.iter().enumerate() {
            let n = visible_len(l);
            if n > profile.max_chars_per_line {
                push(
                    i,
                    c,
                    Rule::LineLength,
                    format!("line {} has {n} characters (max {})", k + 1, profile.max_chars_per_line),
                );
            }
        }
        if c.lines.len() > profile.max_lines {
            push(i, c, Rule::LineCount, format!("{} lines (max {})", c.lines.len(), profile.max_lines));
        }
        if let Some(detail) = dash_problem(c, &profile.speaker_dash) {
            push(i, c, Rule::SpeakerDash, detail);
        }
        if c.end_ms <= c.start_ms {
            push(i, c, Rule::Timestamp, format!("ends at {} before it starts", clock(c.end_ms, '.')));
            continue;
        }
        let min = profile.min_duration_ms.max(profile.min_ms_per_word.map_or(0, |w| w * word_count(c) as Ms));
        if dur < min {
            push(i, c, Rule::MinDuration, format!("{dur} ms (min {min} ms)"));
        }
        if dur > profile.max_duration_ms {
            push(i, c, Rule::MaxDuration, format!("{dur} ms (max {} ms)", profile.max_duration_ms));
        }
        let secs = dur as f64 / 1000.0;
        if let Some(cps) = profile.max_chars_per_second {
            let rate = reading_chars(c) as f64 / secs;
            if rate > cps + 1e-9 {
                push(i, c, Rule::ReadingSpeed, format!("{rate:.1} characters/s (max {cps})"));
            }
        }
        if let Some(wpm) = profile.max_words_per_minute {
            let rate = word_count(c) as f64 * 60.0 / secs;
            if rate > wpm + 1e-9 {
                push(i, c, Rule::ReadingSpeed, format!("{rate:.0} words/minute (max {wpm})"));
            }
        }
        if let Some(prev) = i.checked_sub(1).map(|p| &cues[p]) {
            if c.start_ms < prev.start_ms {
                push(i, c, Rule::Order, format!("starts before cue {} ({})", i, clock(prev.start_ms, '.')));
            } else if c.start_ms < prev.end_ms {
                push(i, c, Rule::Overlap, format!("starts {} ms before cue {} ends", prev.end_ms - c.start_ms, i));
            } else {
                let gap = c.start_ms - prev.end_ms;
                // Rounding to whole milliseconds may shave the last one off a frame.
                if gap + 1 < profile.min_gap_ms() {
                    push(i, c, Rule::Gap, format!("{gap} ms after cue {} (min {} ms)", i, profile.min_gap_ms()));
                } else if gap > profile.min_gap_ms() + 1 && gap < profile.chain_gap_ms() {
                    push(
                        i,
                        c,
                        Rule::Chaining,
                        format!(
                            "{gap} ms after cue {}: gaps under {} ms should close to {} ms",
                            i,
                            profile.chain_gap_ms(),
                            profile.min_gap_ms()
                        ),
                    );
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod visible_tests {
    use super::visible_len;

    #[test]
    fn tags_are_invisible_text_is_not() {
        assert_eq!(visible_len("<i>Hello</i> {\\an8}there"), "Hello there".len());
        assert_eq!(visible_len("<c.yellow>a</c>"), 1);
        assert_eq!(visible_len("a < b and c > d"), 15);
        assert_eq!(visible_len("<<<"), 3);
        assert_eq!(visible_len("<b"), 2);
        assert_eq!(visible_len("{no tag}"), 8);
        assert_eq!(visible_len(&"<".repeat(1_000_000)), 1_000_000);
    }
}

#[cfg(test)]
mod dash_tests {
    use super::*;

    #[test]
    fn speaker_dashes_follow_the_profile() {
        let cue = |lines: &[&str]| Cue {
            start_ms: 0,
            end_ms: 3000,
            lines: lines.iter().map(|l| l.to_string()).collect(),
            speakers: vec![],
        };
        let p = Profile::netflix();
        let rules = |c: Cue| evaluate(&[c], &p).into_iter().map(|v| v.rule).collect::<Vec<_>>();
        assert!(rules(cue(&["-Are they alive?", "-Yes."])).is_empty());
        assert!(rules(cue(&["-30 degrees at night,", "and colder."])).is_empty(), "a number is not a speaker");
        assert_eq!(rules(cue(&["- Are they alive?", "- Yes."])), vec![Rule::SpeakerDash]);
        assert_eq!(rules(cue(&["-Are they", "alive?"])), vec![Rule::SpeakerDash]);
    }
}
