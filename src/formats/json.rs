//! The JSON transcript document: everything needed to rebuild cues later without running
//! recognition again, and to know exactly how the transcript was made.
#![forbid(unsafe_code)]

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

use crate::article::{Article, Links};
use crate::asr::{ModelInfo, TranscribeOptions, Transcript};
use crate::captions::guard::Flag;
use crate::captions::{Cue, Profile, Violation};
use crate::correction::Correction;
use crate::media::SourceInfo;
use crate::time::Span;

/// Schema version of [`Document`]; bumped when fields change. Older documents are read as they
/// are: version 1 has no `meta`, version 2 no `web` sources nor embed addresses, version 3 no
/// speakers, version 4 no edits (`revisions`, edited captions).
pub const SCHEMA: u32 = 5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
    pub whisper_cpp: String,
}

impl Tool {
    pub fn current() -> Self {
        Self {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
            whisper_cpp: whisper_rs::WHISPER_CPP_VERSION.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Input {
    /// As given on the command line (`-` for stdin; the address for fetched media).
    pub path: String,
    /// Where the media was fetched from, when it was; since schema 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebSource>,
    #[serde(flatten)]
    pub audio: SourceInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub schema: u32,
    pub tool: Tool,
    pub input: Input,
    pub model: ModelInfo,
    pub options: TranscribeOptions,
    /// The threads recognition and VAD ran on (fewer than `options.threads` while other
    /// processes kept cores busy); absent in documents written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads_used: Option<ThreadsUsed>,
    /// Windows recognised again (their text went round in a loop, or was short for their
    /// speech): what each attempt gave and which was kept. Absent when none was, and in
    /// documents written before it was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redecoded: Vec<crate::pipeline::Redecoded>,
    #[serde(flatten)]
    pub transcript: Transcript,
    /// Speech found by voice activity detection (absent if it did not run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speech: Option<Vec<Span>>,
    /// The cues as built, under which rules, what they break and what the guard removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captions: Option<Captions>,
    /// The article the report belongs to, as read (absent without --article).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub article: Option<ArticleSource>,
    /// Which paragraph each passage, segment and cue comes from, and when each paragraph is spoken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Links>,
    /// Every change made to the recognised words (article wording, name spellings), for review.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corrections: Vec<Correction>,
    /// What an archive knows of the report (title, date, source, web address); since schema 2.
    #[serde(default, skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
    /// What an archive batch made the report from (absent outside a batch); since schema 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<ArchiveStamp>,
    /// The speakers heard (with `--speakers`); words and segments name them by id. Since
    /// schema 4.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub speakers: Vec<crate::speakers::Speaker>,
    /// Who speaks when: each turn runs from its first word's start to its last word's end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub speaker_turns: Vec<crate::speakers::Turn>,
    /// The edits applied to the report, oldest first (their changes are in `corrections`, reason
    /// `edited`); since schema 5.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<crate::correction::Revision>,
    /// What following a script (`--script`) found: text not heard, speech not in it. Since
    /// schema 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<crate::align::script::ScriptReport>,
}

/// An input fetched from the web.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebSource {
    /// The address asked for.
    pub url: String,
    /// The address the content came from, after redirects.
    pub final_url: String,
    /// When it was fetched (UTC, RFC 3339); a re-run from the cache keeps the first fetch's time.
    pub fetched_at: String,
    /// The tool that fetched it when not vidscribe itself (`yt-dlp 2026.10.26`, for players).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

/// Threads a run used, per stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadsUsed {
    /// Fewest and most threads a recognition window ran on (per lane).
    pub recognition: [usize; 2],
    pub vad: usize,
    /// Recognition lanes that ran side by side at most (each a whisper.cpp state of its own).
    #[serde(default = "one")]
    pub lanes: usize,
}

fn one() -> usize {
    1
}

/// The checksums a batch judges a report by: unchanged means it is not made again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveStamp {
    pub media_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub article_sha256: Option<String>,
    /// Of the inputs, the model and every option that changes the output.
    pub fingerprint: String,
}

/// Catalogue facts about a report, as a batch manifest gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// YYYY-MM-DD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Meta {
    pub fn is_empty(&self) -> bool {
        self.title.is_none() && self.date.is_none() && self.source.is_none() && self.url.is_none()
    }

    /// These fields, and `other`'s where these have none: metadata once given is never erased
    /// by a run that gives none.
    pub fn or(self, other: Meta) -> Meta {
        Meta {
            title: self.title.or(other.title),
            date: self.date.or(other.date),
            source: self.source.or(other.source),
            url: self.url.or(other.url),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArticleSource {
    /// As given on the command line.
    pub path: String,
    /// Where the page was fetched from, when it was; since schema 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebSource>,
    #[serde(flatten)]
    pub article: Article,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Captions {
    pub profile: Profile,
    pub cues: Vec<Cue>,
    pub violations: Vec<Violation>,
    pub flagged: Vec<Flag>,
    /// The cues are an editor's (times and lines as set by `apply`): made again from the words
    /// only under another profile. Since schema 5.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub edited: bool,
}

pub fn write<W: Write + ?Sized>(w: &mut W, doc: &Document) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, doc)?;
    writeln!(w)
}

pub fn read<R: Read>(r: R) -> serde_json::Result<Document> {
    serde_json::from_reader(r)
}
