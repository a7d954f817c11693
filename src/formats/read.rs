//! Reading subtitle files made anywhere: byte-order marks, CRLF, legacy code pages, markup.
//! Malformed parts are reported by line number and skipped; reading never fails on content.
#![forbid(unsafe_code)]

use crate::captions::{Cue, Rule, Violation};
use crate::time::Ms;

/// Cues read from a file and what was wrong with the file itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub cues: Vec<Cue>,
    pub problems: Vec<Violation>,
    /// Notes that are not rule violations (BOM, CRLF), for the report.
    pub notes: Vec<String>,
}

impl Parsed {
    pub(crate) fn problem(&mut self, cue: usize, start_ms: Ms, rule: Rule, detail: String) {
        self.problems.push(Violation { cue, start_ms, rule, detail });
    }

    /// The number and start time a problem in the block being read is reported under.
    fn here(&self) -> (usize, Ms) {
        (self.cues.len() + 1, self.cues.last().map_or(0, |c| c.start_ms))
    }

    /// Parses the timing line at `block[at]` of a block starting on line `first` (0-based), or
    /// records why it cannot.
    pub(crate) fn timing(&mut self, block: &[&str], first: usize, at: usize) -> Option<(Ms, Ms)> {
        let (cue, last_start) = self.here();
        let Some(line) = block.get(at).filter(|l| l.contains("-->")) else {
            self.problem(cue, last_start, Rule::Syntax, format!("line {}: no timing line", first + 1));
            return None;
        };
        match parse_timing(line) {
            Some((start, end, _)) => Some((start, end)),
            None => {
                let detail = format!("line {}: malformed timing {:?}", first + at + 1, line.trim());
                self.problem(cue, last_start, Rule::Timestamp, detail);
                None
            }
        }
    }
}

/// The blank-line-separated blocks of `lines`, each with the index of its first line.
pub(crate) fn blocks<'a>(lines: &[&'a str]) -> Vec<(usize, Vec<&'a str>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim().is_empty() {
            i += 1;
            continue;
        }
        let start = i;
        let mut block = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() {
            block.push(lines[i]);
            i += 1;
        }
        out.push((start, block));
    }
    out
}

/// Text of a subtitle file: UTF-8 (BOM removed) or, when not valid UTF-8, Windows-1252, the
/// usual legacy code page of SRT files; line ends normalised to LF.
pub fn decode_text(bytes: &[u8], parsed: &mut Parsed) -> String {
    let (body, had_bom) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(b) => (b, true),
        None => (bytes, false),
    };
    if had_bom {
        parsed.notes.push("UTF-8 byte-order mark".into());
    }
    let text = match std::str::from_utf8(body) {
        Ok(s) => s.to_string(),
        Err(e) => {
            let (s, _, _) = encoding_rs::WINDOWS_1252.decode(body);
            let line = body[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
            parsed.problem(
                0,
                0,
                Rule::Encoding,
                format!("not UTF-8 (first bad byte on line {line}); read as Windows-1252"),
            );
            s.into_owned()
        }
    };
    if text.contains("\r\n") {
        parsed.notes.push("CRLF line ends".into());
    }
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// `[hh:]mm:ss(,|.)mmm` to milliseconds; `vtt` requires the dot, SRT the comma (both accepted,
/// the wrong one reported by the caller).
pub fn parse_time(s: &str) -> Option<Ms> {
    let s = s.trim();
    let (hms, frac) = s.rsplit_once([',', '.'])?;
    if frac.len() != 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let parts: Vec<&str> = hms.split(':').collect();
    if parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 3) {
        return None;
    }
    let nums: Vec<u64> = parts.iter().map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let (h, m, sec) = match nums[..] {
        [h, m, s] => (h, m, s),
        [m, s] => (0, m, s),
        _ => return None,
    };
    if m >= 60 || sec >= 60 {
        return None;
    }
    Some(((h * 60 + m) * 60 + sec) * 1000 + frac.parse::<u64>().ok()?)
}

/// Splits a timing line `A --> B [settings]`.
pub fn parse_timing(line: &str) -> Option<(Ms, Ms, &str)> {
    let (a, rest) = line.split_once("-->")?;
    let rest = rest.trim_start();
    let (b, settings) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    Some((parse_time(a)?, parse_time(b)?, settings))
}

/// WebVTT character references back to characters.
pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&lrm;", "")
        .replace("&rlm;", "")
        .replace("&amp;", "&")
}

/// Why a text file (an edit, a script) was not read.
#[derive(Debug, thiserror::Error)]
pub enum TextFileError {
    #[error("cannot read {path}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is over {} MB", max >> 20)]
    TooLarge { path: std::path::PathBuf, max: u64 },
    #[error("{path} is not a text file (it holds binary data)")]
    Binary { path: std::path::PathBuf },
}

/// The bytes of a text file of at most `max` bytes (no more is read); refused when it holds a
/// NUL or more than 1% control characters, as media, images and archives do and text does not.
pub fn text_bytes(path: &std::path::Path, max: u64) -> Result<Vec<u8>, TextFileError> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max + 1).read_to_end(&mut bytes))
        .map_err(|source| TextFileError::Read { path: path.to_path_buf(), source })?;
    if bytes.len() as u64 > max {
        return Err(TextFileError::TooLarge { path: path.to_path_buf(), max });
    }
    let controls = bytes.iter().filter(|&&b| b < 0x20 && !b"\t\n\r\x0c".contains(&b)).count();
    if bytes.contains(&0) || controls * 100 > bytes.len() {
        return Err(TextFileError::Binary { path: path.to_path_buf() });
    }
    Ok(bytes)
}

/// Largest subtitle file read (a ten-hour programme's SRT is a few MB).
pub const MAX_SUBTITLE_BYTES: u64 = 64 << 20;
/// Most cues in one subtitle file (ten hours at a cue a second is 36,000).
pub const MAX_CUES: usize = 200_000;

#[derive(Debug, thiserror::Error)]
pub enum SubtitleError {
    #[error("cannot read {path}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is over {} MB", MAX_SUBTITLE_BYTES >> 20)]
    TooLarge { path: std::path::PathBuf },
    #[error("{path} has more than {MAX_CUES} cues")]
    TooManyCues { path: std::path::PathBuf },
}

/// Reads a subtitle file as SRT or WebVTT: WebVTT when it says so (its signature, after an
/// optional BOM) or is named `.vtt`. Returns the cues and whether it was WebVTT.
pub fn subtitles(bytes: &[u8], path: &std::path::Path) -> (Parsed, bool) {
    let is_vtt = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes).starts_with(b"WEBVTT")
        || path.extension().is_some_and(|e| e.eq_ignore_ascii_case("vtt"));
    (if is_vtt { super::vtt::read(bytes) } else { super::srt::read(bytes) }, is_vtt)
}

/// [`subtitles`] of a file, within the limits: at most [`MAX_SUBTITLE_BYTES`] read, at most
/// [`MAX_CUES`] timing lines (counted before anything is parsed), so memory stays a small
/// multiple of the file.
pub fn subtitle_file(path: &std::path::Path) -> Result<(Parsed, bool), SubtitleError> {
    use std::io::Read;
    let read_err = |source| SubtitleError::Read { path: path.to_path_buf(), source };
    let mut bytes = Vec::new();
    std::fs::File::open(path).and_then(|f| f.take(MAX_SUBTITLE_BYTES + 1).read_to_end(&mut bytes)).map_err(read_err)?;
    if bytes.len() as u64 > MAX_SUBTITLE_BYTES {
        return Err(SubtitleError::TooLarge { path: path.to_path_buf() });
    }
    if bytes.windows(3).filter(|w| w == b"-->").nth(MAX_CUES).is_some() {
        return Err(SubtitleError::TooManyCues { path: path.to_path_buf() });
    }
    Ok(subtitles(&bytes, path))
}
