//! Output (and later input) formats. Every writer takes `impl Write` and knows nothing of files.
#![forbid(unsafe_code)]

pub mod json;
pub mod read;
pub mod srt;
pub mod txt;
pub mod vtt;

use std::str::FromStr;

/// The formats `transcribe` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Srt,
    Vtt,
    Json,
    Txt,
    /// The self-contained report page (video, subtitles, article and transcript side by side).
    Html,
}

impl Format {
    pub const ALL: [Format; 5] = [Format::Srt, Format::Vtt, Format::Json, Format::Txt, Format::Html];

    pub fn extension(self) -> &'static str {
        match self {
            Format::Srt => "srt",
            Format::Vtt => "vtt",
            Format::Json => "json",
            Format::Txt => "txt",
            Format::Html => "html",
        }
    }
}

/// `formats` in the order given, each once.
pub fn unique(formats: &[Format]) -> Vec<Format> {
    let mut out: Vec<Format> = Vec::new();
    for f in formats {
        if !out.contains(f) {
            out.push(*f);
        }
    }
    out
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.extension().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown format {s:?} (choose from srt, vtt, json, txt, html)"))
    }
}
