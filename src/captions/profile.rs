//! Caption profiles: the professional rules a set of cues must meet, as data.
//!
//! Netflix's English timed-text style guide and the BBC subtitle guidelines are built in; any
//! value can be overridden from a TOML file or from flags.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

use crate::time::Ms;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Profile {
    pub name: String,
    /// Characters per line, spaces and punctuation included.
    pub max_chars_per_line: usize,
    pub max_lines: usize,
    /// Reading speed limit in characters per second (Netflix: 20 for adults).
    pub max_chars_per_second: Option<f64>,
    /// Reading speed limit in words per minute (BBC: 160–180).
    pub max_words_per_minute: Option<f64>,
    pub min_duration_ms: Ms,
    /// Shortest time per word a cue must stay up (BBC: about 0.3 s).
    pub min_ms_per_word: Option<Ms>,
    pub max_duration_ms: Ms,
    /// Frame rate that turns the frame-based rules into milliseconds.
    pub fps: f64,
    /// Minimum gap between consecutive cues, in frames.
    pub min_gap_frames: u32,
    /// Gaps shorter than this many frames are closed down to `min_gap_frames` (chaining).
    pub chain_gap_frames: u32,
    /// How long a cue may stay up after its last word is spoken.
    pub max_linger_ms: Ms,
    /// A pause at least this long between words is a natural place to end a cue.
    pub pause_ms: Ms,
    /// What opens each line of a cue that holds two speakers (Netflix: a hyphen without a
    /// space); `check` flags other forms.
    pub speaker_dash: String,
    /// How a new speaker is shown besides a new cue: `dash` (Netflix: no label, a dash per line
    /// when two speak in one cue), `parentheses` (DCMP: `(Name)` on a line of its own at each
    /// change of speaker), `colon` (BBC in plain text: `NAME: words`).
    pub speaker_labels: LabelStyle,
    /// The case of speaker labels: `as-written` (DCMP) or `upper` (BBC).
    pub label_case: LabelCase,
    /// A label names a speaker only once their name has been said (DCMP: never name a speaker
    /// before they are introduced); before, it is "Speaker N".
    pub name_after_introduction: bool,
    /// Tell speakers apart whenever this profile is used, as `--speakers` does (no built-in
    /// profile does: it needs the speaker model and costs time).
    pub speakers: bool,
}

/// How a change of speaker is marked in the cue text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabelStyle {
    Dash,
    Parentheses,
    Colon,
}

/// The case speaker labels are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabelCase {
    AsWritten,
    Upper,
}

impl Default for Profile {
    fn default() -> Self {
        Self::netflix()
    }
}

impl Profile {
    pub fn netflix() -> Self {
        Self {
            name: "netflix".into(),
            max_chars_per_line: 42,
            max_lines: 2,
            max_chars_per_second: Some(20.0),
            max_words_per_minute: None,
            min_duration_ms: 833,
            min_ms_per_word: None,
            max_duration_ms: 7000,
            fps: 24.0,
            min_gap_frames: 2,
            chain_gap_frames: 12,
            max_linger_ms: 500,
            pause_ms: 700,
            speaker_dash: "-".into(),
            speaker_labels: LabelStyle::Dash,
            label_case: LabelCase::AsWritten,
            name_after_introduction: false,
            speakers: false,
        }
    }

    /// The DCMP Captioning Key (US educational and broadcast captioning): 32 characters per
    /// line, at most 160 words a minute for adult viewers, and the speaker's name in
    /// parentheses on a line of its own when the speaker changes.
    pub fn dcmp() -> Self {
        Self {
            name: "dcmp".into(),
            max_chars_per_line: 32,
            max_lines: 2,
            max_chars_per_second: None,
            max_words_per_minute: Some(160.0),
            min_duration_ms: 1000,
            min_ms_per_word: None,
            max_duration_ms: 7000,
            fps: 29.97,
            min_gap_frames: 2,
            chain_gap_frames: 12,
            max_linger_ms: 500,
            pause_ms: 700,
            speaker_dash: "-".into(),
            speaker_labels: LabelStyle::Parentheses,
            label_case: LabelCase::AsWritten,
            name_after_introduction: true,
            speakers: false,
        }
    }

    pub fn bbc() -> Self {
        Self {
            name: "bbc".into(),
            max_chars_per_line: 37,
            max_lines: 2,
            max_chars_per_second: None,
            max_words_per_minute: Some(180.0),
            min_duration_ms: 600,
            min_ms_per_word: Some(300),
            max_duration_ms: 7000,
            fps: 25.0,
            min_gap_frames: 2,
            chain_gap_frames: 12,
            max_linger_ms: 500,
            pause_ms: 700,
            // The BBC marks speakers by colour where it can; in plain text, a dash as Netflix
            // between two speakers of one subtitle, and a capitalised label for a new speaker.
            speaker_dash: "-".into(),
            speaker_labels: LabelStyle::Colon,
            label_case: LabelCase::Upper,
            name_after_introduction: false,
            speakers: false,
        }
    }

    /// A built-in profile by name.
    pub fn builtin(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "netflix" => Some(Self::netflix()),
            "bbc" => Some(Self::bbc()),
            "dcmp" => Some(Self::dcmp()),
            _ => None,
        }
    }

    /// Reads a TOML profile. Keys not given take the value of the profile named by `base`
    /// (default netflix).
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.message().to_string())?;
        let base = table.get("base").and_then(|v| v.as_str()).unwrap_or("netflix");
        let mut merged =
            toml::Table::try_from(Self::builtin(base).ok_or_else(|| format!("unknown base profile {base:?}"))?)
                .map_err(|e| e.to_string())?;
        for (k, v) in table {
            if k != "base" {
                merged.insert(k, v);
            }
        }
        merged.try_into().map_err(|e: toml::de::Error| e.message().to_string())
    }

    /// The label that introduces `name` in a cue, or `None` for the dash style.
    pub fn speaker_label(&self, name: &str) -> Option<String> {
        let name = match self.label_case {
            LabelCase::AsWritten => name.to_string(),
            LabelCase::Upper => name.to_uppercase(),
        };
        match self.speaker_labels {
            LabelStyle::Dash => None,
            LabelStyle::Parentheses => Some(format!("({name})")),
            LabelStyle::Colon => Some(format!("{name}:")),
        }
    }

    pub fn frame_ms(&self) -> f64 {
        1000.0 / self.fps
    }

    pub fn min_gap_ms(&self) -> Ms {
        (self.min_gap_frames as f64 * self.frame_ms()).round() as Ms
    }

    pub fn chain_gap_ms(&self) -> Ms {
        (self.chain_gap_frames as f64 * self.frame_ms()).round() as Ms
    }

    /// Shortest duration a cue of this text may have: the profile's minimum and the reading
    /// speed limits.
    pub fn needed_duration_ms(&self, chars: usize, words: usize) -> Ms {
        let mut need = self.min_duration_ms as f64;
        if let Some(per_word) = self.min_ms_per_word {
            need = need.max((per_word * words as Ms) as f64);
        }
        if let Some(cps) = self.max_chars_per_second {
            need = need.max(chars as f64 * 1000.0 / cps);
        }
        if let Some(wpm) = self.max_words_per_minute {
            need = need.max(words as f64 * 60_000.0 / wpm);
        }
        need.ceil() as Ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_a_base_profile() {
        let p = Profile::from_toml("base = \"bbc\"\nmax_chars_per_line = 32\nfps = 30.0\n").unwrap();
        assert_eq!(p.max_chars_per_line, 32);
        assert_eq!(p.max_words_per_minute, Some(180.0));
        assert_eq!(p.min_gap_ms(), 67);
        assert!(Profile::from_toml("max_chars = 3").is_err(), "unknown keys are refused");
        assert_eq!(Profile::from_toml("").unwrap(), Profile::netflix());
    }

    #[test]
    fn frame_rules_in_milliseconds() {
        let n = Profile::netflix();
        assert_eq!((n.min_gap_ms(), n.chain_gap_ms()), (83, 500));
        assert_eq!(n.needed_duration_ms(10, 2), 833);
        assert_eq!(n.needed_duration_ms(84, 14), 4200);
    }
}
