//! Changes made to the recognised words after recognition — the article's wording, its name
//! spellings, an editor's corrections — each recorded with its times, so that a person can
//! review what the machine changed and what a person did.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

use crate::time::Ms;

/// Why a word was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The passage quotes the article: its words are the article's.
    ArticleWording,
    /// A near-miss spelling of a name in the article.
    ProperNoun,
    /// A person changed it (`vidscribe apply`, or serve's editing).
    Edited,
    /// The script the speech follows (`--script`) spells it so.
    Script,
    /// A rare name of the article that the decoder, asked again over that audio, found clearly
    /// likelier than what it first heard (see `heard`).
    HeardName,
}

/// How likely the decoder found the heard text and the text with the name, over the same audio
/// (natural log of the probability).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Heard {
    pub before: f32,
    pub after: f32,
}

/// One change to the recognised text (or, for an edit, to the captions' cues).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correction {
    pub before: String,
    pub after: String,
    pub start_ms: Ms,
    pub end_ms: Ms,
    pub reason: Reason,
    /// The paragraph the new wording comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paragraph: Option<usize>,
    /// What an edit changed and how its new words were timed (edits only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit: Option<EditNote>,
    /// The decoder's likelihoods that decided a [`Reason::HeardName`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heard: Option<Heard>,
}

/// The details of an edit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditNote {
    pub change: Change,
    /// The revision that made it (see [`Revision`]); 0 for a script's words.
    pub revision: u32,
    /// How the new words got their times (word changes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
    /// The cue's times before (cue changes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_ms: Option<[Ms; 2]>,
}

/// What an edit changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Words replaced, inserted or deleted (or only their spelling, case or punctuation).
    Words,
    /// A cue moved or made longer or shorter, its text unchanged.
    CueTimes,
    /// One cue made into several.
    CueSplit,
    /// Several cues made into one.
    CueMerge,
    /// Cues cut differently, or their lines broken differently.
    CueLines,
}

/// How an edited word got its times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Timing {
    /// Each new word replaces one recognised word and takes its times from the audio.
    Recognised,
    /// Spread over the time of the words replaced, or the gap between neighbours.
    Interpolated,
    /// Said again by the decoder, made to say exactly the new words over the audio between the
    /// unchanged words around them, and timed by the alignment that times recognised words.
    Aligned,
}

/// One applied edit: who, when, from what, how much.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    /// 1, 2, … in the order applied.
    pub number: u32,
    /// The editor: `--editor`, else the user the process runs as.
    pub editor: String,
    /// UTC, RFC 3339.
    pub at: String,
    /// The edited file's name, or where the edit came from.
    pub source: String,
    /// Corrections it made.
    pub changes: usize,
}
