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
    /// A speaker label not written as the profile's labels are: DCMP's `(Name)` on a line of its
    /// own, BBC's `NAME:` opening the line, in the profile's case.
    SpeakerLabel,
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
            Rule::SpeakerLabel => "speaker-label",
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

/// The speaker dash opening `l` (with the space after it, if any): a hyphen, en or em dash
/// and then a letter or an opening quote (a number, `-30`, is not a speaker).
fn speaker_dash(l: &str) -> Option<&str> {
    let rest = l.strip_prefix(['-', '–', '—'])?;
    let after = rest.trim_start();
    let speaker = after.chars().next().is_some_and(|ch| ch.is_alphabetic() || "\"'“‘(¿¡".contains(ch));
    speaker.then(|| &l[..l.len() - after.len()])
}

/// How a cue's speaker dashes differ from the profile's `dash` style, if they do. A line opened
/// by a hyphen, en or em dash and then a letter or an opening quote marks a speaker (a
/// number, `-30`, does not); one such line asks for every line to be one, each a speaker.
fn dash_problem(c: &Cue, dash: &str) -> Option<String> {
    let found: Vec<Option<String>> = c.lines.iter().map(|l| speaker_dash(l.trim_start()).map(String::from)).collect();
    if found.iter().all(Option::is_none) {
        return None;
    }
    if let Some(k) = found.iter().position(Option::is_none) {
        return Some(format!("line {} has no dash while another line opens with one: one speaker per line", k + 1));
    }
    let wrong = found.iter().flatten().find(|d| d.as_str() != dash)?;
    Some(format!("speaker dash \"{wrong}\" (the profile's is \"{dash}\")"))
}

/// Longest speaker label recognised, in characters.
const MAX_LABEL_CHARS: usize = 40;

/// A name-like label: one to four words, each opening with a capital or a digit ("Speaker 2"),
/// letters, digits and name punctuation only.
fn name_like(text: &str) -> bool {
    let words: Vec<&str> = text.split_whitespace().collect();
    !words.is_empty()
        && words.len() <= 4
        && text.chars().count() <= MAX_LABEL_CHARS
        && words.iter().all(|w| {
            w.chars().next().is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
                && w.chars().all(|c| c.is_alphanumeric() || "-.'’#".contains(c))
        })
}

/// The speaker labels of a line: `(Name)` anywhere in it as (its text, alone on the line), and
/// a `Name:` opening it.
fn labels_in(line: &str) -> (Vec<(String, bool)>, Option<String>) {
    let l = line.trim();
    let mut paren = Vec::new();
    let mut rest = l;
    while let Some(open) = rest.find('(') {
        let Some(close) = rest[open..].find(')') else { break };
        let inner = &rest[open + 1..open + close];
        if name_like(inner) {
            paren.push((inner.to_string(), l == &rest[open..open + close + 1]));
        }
        rest = &rest[open + close + 1..];
    }
    // A colon that ends a word ("10:30" is a time).
    let colon = l
        .find(':')
        .filter(|&at| l[at + 1..].chars().next().is_none_or(char::is_whitespace))
        .map(|at| &l[..at])
        .filter(|h| name_like(h) && h.chars().any(char::is_alphabetic));
    (paren, colon.map(String::from))
}

/// How a cue's speaker labels differ from the profile's, if they do. A profile that marks
/// speakers by dashes alone is not checked for labels (Netflix's off-screen labels are free).
fn label_problem(c: &Cue, profile: &Profile) -> Option<String> {
    use super::profile::{LabelCase, LabelStyle};
    let style = profile.speaker_labels;
    if style == LabelStyle::Dash {
        return None;
    }
    let case_ok = |name: &str| profile.label_case == LabelCase::AsWritten || name == name.to_uppercase();
    for (k, line) in c.lines.iter().enumerate() {
        let (paren, colon) = labels_in(line);
        match style {
            LabelStyle::Parentheses => {
                if let Some(name) = colon.filter(|n| n == &n.to_uppercase()) {
                    return Some(format!(
                        "line {}: label \"{name}:\" (the profile's are \"(Name)\" on a line of their own)",
                        k + 1
                    ));
                }
                for (name, alone) in paren {
                    if !alone {
                        return Some(format!(
                            "line {}: label \"({name})\" shares its line (it takes a line of its own)",
                            k + 1
                        ));
                    }
                    if !case_ok(&name) {
                        return Some(format!("line {}: label \"({name})\" is not in upper case", k + 1));
                    }
                }
            }
            LabelStyle::Colon => {
                if let Some((name, _)) = paren.into_iter().find(|(_, alone)| *alone) {
                    return Some(format!(
                        "line {}: label \"({name})\" (the profile's open the line: \"NAME:\")",
                        k + 1
                    ));
                }
                if let Some(name) = colon.filter(|n| !case_ok(n)) {
                    return Some(format!("line {}: label \"{name}:\" is not in upper case", k + 1));
                }
            }
            LabelStyle::Dash => {}
        }
    }
    None
}

/// Visible characters of a line: markup tags (`<i>`, `</b>`, `<c.yellow>`, `{\an8}`) do not
/// count; a `<` or `{` that does not open a complete tag is text like any other (a line of
/// ten million `<` is ten million characters, not none). Linear time.
pub fn visible_len(line: &str) -> usize {
    visible_text(line).chars().count()
}

/// A line without its markup tags ([`visible_len`]'s rule).
pub fn visible_text(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
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
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

/// What is said on a line: its visible text without a speaker dash, `(Name)` labels or an
/// opening `Name:` label (the marks [`evaluate`] checks), so that an edited caption's words
/// can be compared with the transcript's.
pub fn spoken_text(line: &str) -> String {
    let text = visible_text(line);
    let mut l = text.trim();
    if let Some(dash) = speaker_dash(l) {
        l = l[dash.len()..].trim_start();
    }
    let (paren, colon) = labels_in(l);
    let mut out = l.to_string();
    if let Some(name) = colon {
        out = out[name.len() + 1..].trim_start().to_string();
    }
    for (name, _) in paren {
        out = out.replacen(&format!("({name})"), " ", 1);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
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
        if let Some(detail) = label_problem(c, profile) {
            push(i, c, Rule::SpeakerLabel, detail);
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
    use crate::asr::Word;

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

    #[test]
    fn speaker_labels_follow_the_profile() {
        let cue = |lines: &[&str]| Cue {
            start_ms: 0,
            end_ms: 3000,
            lines: lines.iter().map(|l| l.to_string()).collect(),
            speakers: vec![],
        };
        let check = |p: &Profile, lines: &[&str]| {
            evaluate(&[cue(lines)], p)
                .into_iter()
                .filter(|v| v.rule == Rule::SpeakerLabel)
                .map(|v| v.detail)
                .collect::<Vec<_>>()
        };
        let dcmp = Profile::dcmp();
        assert!(check(&dcmp, &["(Rustam Muradov)", "There are positive signs."]).is_empty());
        assert!(check(&dcmp, &["(Speaker 2)", "We need them back."]).is_empty());
        assert!(check(&dcmp, &["The talks (in Moscow) went on."]).is_empty(), "not a name-like label alone");
        assert_eq!(check(&dcmp, &["(Rustam Muradov) There are", "positive signs."]).len(), 1);
        assert_eq!(check(&dcmp, &["MURADOV: There are", "positive signs."]).len(), 1);
        let bbc = Profile::bbc();
        assert!(check(&bbc, &["RUSTAM MURADOV: There are", "positive signs."]).is_empty());
        assert!(check(&bbc, &["SPEAKER 2: We need them back."]).is_empty());
        assert!(check(&bbc, &["At 10:30 the talks began."]).is_empty(), "a time is no label");
        assert_eq!(check(&bbc, &["Rustam Muradov: There are", "positive signs."]).len(), 1, "upper case");
        assert_eq!(check(&bbc, &["(RUSTAM MURADOV)", "There are positive signs."]).len(), 1);
        // Netflix marks speakers by dashes and leaves labels alone.
        assert!(check(&Profile::netflix(), &["(Rustam Muradov) There are", "positive signs."]).is_empty());
        // Built cues carry the labels of their profile.
        let w = |text: &str, t: u64, s: u32| Word {
            text: text.into(),
            start_ms: t,
            end_ms: t + 400,
            probability: 0.9,
            speaker: Some(s),
        };
        let words = vec![
            w("There", 0, 2),
            w("are", 450, 2),
            w("positive", 900, 2),
            w("signs.", 1350, 2),
            w("We", 4000, 1),
            w("need", 4450, 1),
            w("them", 4900, 1),
            w("back.", 5350, 1),
        ];
        let names = [(2, "Rustam Muradov".to_string()), (1, "Speaker 1".to_string())];
        // DCMP names a speaker only once introduced: here the name is never said.
        let layout = crate::captions::build_cues_named(&words, "en", &Profile::dcmp(), None, &names);
        assert_eq!(layout.cues[0].lines[0], "(Speaker 2)");
        let mut intro = vec![w("Muradov", 0, 1), w("speaks.", 450, 1)];
        intro.extend(words.iter().map(|x| Word { start_ms: x.start_ms + 3000, end_ms: x.end_ms + 3000, ..x.clone() }));
        let layout = crate::captions::build_cues_named(&intro, "en", &Profile::dcmp(), None, &names);
        let firsts: Vec<&str> = layout.cues.iter().map(|c| c.lines[0].as_str()).collect();
        assert_eq!(firsts, ["(Speaker 1)", "(Rustam Muradov)", "(Speaker 1)"], "named once the narrator said the name");
        let dcmp_named = Profile { name_after_introduction: false, ..Profile::dcmp() };
        for p in [dcmp_named, Profile::bbc()] {
            let layout = crate::captions::build_cues_named(&words, "en", &p, None, &names);
            assert!(layout.violations.is_empty(), "{}: {:?}", p.name, layout.violations);
            let texts: Vec<String> = layout.cues.iter().map(|c| c.text()).collect();
            let want = if p.name == "dcmp" {
                ["(Rustam Muradov)\nThere are positive signs.", "(Speaker 1)\nWe need them back."]
            } else {
                // 41 characters do not fit the BBC's 37: the label keeps the first line.
                ["RUSTAM MURADOV:\nThere are positive signs.", "SPEAKER 1: We need them back."]
            };
            assert_eq!(texts, want, "{}", p.name);
            assert!(layout.cues.iter().all(|c| c.speakers.len() == c.lines.len()));
        }
    }
}
