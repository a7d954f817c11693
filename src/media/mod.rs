//! Media in, 16 kHz mono PCM out: container probing, track choice, decoding, resampling.
#![forbid(unsafe_code)]

pub mod decode;
mod matroska;
mod mp4;
pub mod resample;
pub mod spool;

pub use decode::{Audio, DecodeError, DecodeOptions, SourceInfo, Stream, decode_bytes, decode_path};

/// The media files vidscribe reads, by extension, with the content type each is served as:
/// the one list that batch (which files are media), the article reader (which links are media
/// files), downloads (a name for what a server sent) and `serve` go by.
const KINDS: &[(&str, &str)] = &[
    ("mp4", "video/mp4"),
    ("m4v", "video/mp4"),
    ("m4a", "audio/mp4"),
    ("mov", "video/quicktime"),
    ("webm", "video/webm"),
    ("mkv", "video/x-matroska"),
    ("mka", "audio/x-matroska"),
    ("ogg", "audio/ogg"),
    ("oga", "audio/ogg"),
    ("opus", "audio/ogg"),
    ("mp3", "audio/mpeg"),
    ("wav", "audio/wav"),
    ("flac", "audio/flac"),
    ("aac", "audio/aac"),
];

/// Other names servers give the same types.
const TYPE_ALIASES: &[(&str, &str)] = &[
    ("audio/webm", "video/webm"),
    ("video/ogg", "audio/ogg"),
    ("audio/x-wav", "audio/wav"),
    ("audio/wave", "audio/wav"),
    ("audio/x-flac", "audio/flac"),
    ("audio/x-m4a", "audio/mp4"),
];

/// Whether `ext` (without the dot, any case) names a media file.
pub fn is_media_extension(ext: &str) -> bool {
    KINDS.iter().any(|(e, _)| e.eq_ignore_ascii_case(ext))
}

/// The content type of a media file extension.
pub fn content_type(ext: &str) -> Option<&'static str> {
    KINDS.iter().find(|(e, _)| e.eq_ignore_ascii_case(ext)).map(|(_, t)| *t)
}

/// Bytes [`sniff`] needs from the start of a file.
pub const SNIFF_BYTES: usize = 64;

/// The container a file's first bytes show, as the extension of [`KINDS`] it is stored and
/// served under (so a file's name never decides how a browser treats it); `None` when they show
/// no container vidscribe reads.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    let at = |i: usize, magic: &[u8]| head.get(i..i + magic.len()) == Some(magic);
    if at(0, b"RIFF") && at(8, b"WAVE") {
        Some("wav")
    } else if at(0, b"fLaC") {
        Some("flac")
    } else if at(0, b"OggS") {
        Some(if head.windows(8).any(|w| w == b"OpusHead") { "opus" } else { "ogg" })
    } else if at(0, &[0x1A, 0x45, 0xDF, 0xA3]) {
        // The EBML header names its document type: webm, else Matroska.
        Some(if head.windows(4).any(|w| w == b"webm") { "webm" } else { "mkv" })
    } else if at(4, b"ftyp") {
        Some(match head.get(8..12) {
            Some(b"M4A ") | Some(b"M4B ") => "m4a",
            Some(b"qt  ") => "mov",
            _ => "mp4",
        })
    } else if at(0, b"ID3") {
        Some("mp3")
    } else if head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0 {
        // MPEG audio frames; ADTS (AAC) has layer bits 00.
        Some(if head[1] & 0x06 == 0 { "aac" } else { "mp3" })
    } else {
        None
    }
}

/// The usual extension for a content type (`video/webm; codecs=opus` → `webm`).
pub fn extension_for(content_type: &str) -> Option<&'static str> {
    let t = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let t = TYPE_ALIASES.iter().find(|(alias, _)| *alias == t).map_or(t.as_str(), |(_, canonical)| canonical);
    KINDS.iter().find(|(_, kind)| *kind == t).map(|(e, _)| *e)
}
