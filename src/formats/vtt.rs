//! WebVTT (.vtt) output.
#![forbid(unsafe_code)]

use std::io::{self, Write};

use crate::captions::Cue;
use crate::text::safe_line;
use crate::time::{Ms, clock};

/// Escapes the three characters WebVTT reserves; escaping `>` also rules out `-->` in text.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

pub fn write<W: Write + ?Sized>(w: &mut W, cues: &[Cue]) -> io::Result<()> {
    write_with_notes(w, cues, &[])
}

/// A comment for the reader of the file, placed before the first cue that starts after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub at_ms: u64,
    pub text: String,
}

/// WebVTT with `NOTE` blocks (e.g. text the hallucination guard removed).
pub fn write_with_notes<W: Write + ?Sized>(w: &mut W, cues: &[Cue], notes: &[Note]) -> io::Result<()> {
    write_voiced(w, cues, notes, &[])
}

/// As [`write_with_notes`], each line of a cue whose speaker is known in `voices` (id, name)
/// in a voice span, `<v Name>line</v>`, which players show and scripts read as the speaker.
pub fn write_voiced<W: Write + ?Sized>(
    w: &mut W,
    cues: &[Cue],
    notes: &[Note],
    voices: &[(u32, String)],
) -> io::Result<()> {
    writeln!(w, "WEBVTT\n")?;
    let mut pending = notes.iter().peekable();
    let note = |w: &mut W, n: &Note| -> io::Result<()> {
        // A note may contain neither "-->" nor a line break (a blank line would end it).
        writeln!(w, "NOTE {} {}\n", clock(n.at_ms, '.'), safe_line(&n.text))
    };
    for c in cues {
        while let Some(n) = pending.next_if(|n| n.at_ms <= c.start_ms) {
            note(w, n)?;
        }
        writeln!(w, "{} --> {}", clock(c.start_ms, '.'), clock(c.end_ms, '.'))?;
        for (k, line) in c.lines.iter().enumerate() {
            let text = escape(&safe_line(line));
            match c.speakers.get(k).and_then(|s| voices.iter().find(|v| v.0 == *s)) {
                Some((_, name)) => writeln!(w, "<v {}>{text}</v>", escape(&safe_line(name)))?,
                None => writeln!(w, "{text}")?,
            }
        }
        writeln!(w)?;
    }
    for n in pending {
        note(w, n)?;
    }
    Ok(())
}

/// Reads a WebVTT file as a player does: the W3C "WebVTT parser algorithm" (file parsing,
/// collecting blocks, cue timings), so the cues are exactly those a browser shows, plus a
/// problem for every block or line a player drops or reads differently from what its author
/// meant.
pub fn read(bytes: &[u8]) -> super::read::Parsed {
    use super::read::{Parsed, decode_text};
    use crate::captions::Rule;
    let mut p = Parsed::default();
    // Decoding: UTF-8 (BOM noted), CRLF and lone CR as LF (decode_text), NUL as U+FFFD.
    let text = decode_text(bytes, &mut p).replace('\0', "\u{fffd}");
    let lines: Vec<&str> = text.split('\n').collect();
    // Signature: "WEBVTT" alone or followed by a space or tab.
    let first = lines[0];
    if !(first == "WEBVTT" || first.starts_with("WEBVTT ") || first.starts_with("WEBVTT\t")) {
        p.problem(0, 0, Rule::Syntax, "line 1: no WEBVTT signature: a player shows no cue of this file".into());
        return p;
    }
    let mut i = 1; // the line being read
    // The header: the lines after the signature up to a blank line, unless an arrow comes first.
    while i < lines.len() && !lines[i].is_empty() {
        if lines[i].contains("-->") {
            break;
        }
        i += 1;
    }
    let mut seen_cue = false;
    let mut cut = false;
    while i < lines.len() {
        while i < lines.len() && lines[i].is_empty() {
            i += 1;
        }
        if i >= lines.len() {
            break;
        }
        (i, cut) = block(&lines, i, &mut seen_cue, cut, &mut p);
    }
    p
}

/// Collects one WebVTT block starting at line `start` (not blank); returns where the next block
/// starts, and whether that is an arrow line that cut this cue's text short. A cue is a block
/// whose first or second line holds "-->" and parses as timings. `cut`: this block starts at such
/// a line, already reported.
fn block(lines: &[&str], start: usize, seen_cue: &mut bool, cut: bool, p: &mut super::read::Parsed) -> (usize, bool) {
    use super::read::unescape;
    use crate::captions::Rule;
    let mut buffer: Vec<&str> = Vec::new();
    let mut cut_next = false;
    let mut cue: Option<(Ms, Ms)> = None;
    let mut seen_arrow = false;
    let mut i = start;
    let mut count = 0;
    while i < lines.len() {
        let line = lines[i];
        count += 1;
        if line.contains("-->") {
            if count == 1 || count == 2 && !seen_arrow {
                seen_arrow = true;
                match timings(line) {
                    Some(t) => {
                        cue = Some(t);
                        buffer.clear();
                        *seen_cue = true;
                    }
                    None if cut && count == 1 => {}
                    None => {
                        let (n, at) = (p.cues.len() + 1, p.cues.last().map_or(0, |c| c.start_ms));
                        let why = if line.split("-->").next().is_some_and(|a| a.contains(',')) {
                            "WebVTT times use a dot, not a comma"
                        } else {
                            "not a WebVTT timing line"
                        };
                        let detail = format!("line {}: {why}: a player drops this cue ({:?})", i + 1, line.trim());
                        p.problem(n, at, Rule::Timestamp, detail);
                    }
                }
            } else {
                // A player ends the block here and reads this line as the start of the next.
                let at = cue.map_or(0, |c| c.0);
                let detail = format!(
                    "line {}: \"-->\" in cue text: a player ends the cue before this line and drops the line",
                    i + 1
                );
                p.problem(p.cues.len() + 1, at, Rule::Syntax, detail);
                cut_next = true;
                break;
            }
        } else if line.is_empty() {
            break;
        } else {
            buffer.push(line);
        }
        i += 1;
    }
    match cue {
        Some((start_ms, end_ms)) => {
            let lines = buffer.iter().map(|l| unescape(l.trim_end())).collect();
            p.cues.push(Cue { start_ms, end_ms, lines, speakers: Vec::new() });
        }
        None if !seen_arrow => {
            let head = buffer.first().copied().unwrap_or("");
            let comment = head == "NOTE" || head.starts_with("NOTE ") || head.starts_with("NOTE\t");
            let style = !*seen_cue && (head.trim_end() == "STYLE" || head.trim_end() == "REGION");
            if !comment && !style {
                let (n, at) = (p.cues.len() + 1, p.cues.last().map_or(0, |c| c.start_ms));
                let detail = format!("line {}: a block without a timing line: a player ignores it", start + 1);
                p.problem(n, at, Rule::Syntax, detail);
            }
        }
        None => {}
    }
    (i, cut_next)
}

/// "Collect WebVTT cue timings and settings": start and end, settings ignored.
fn timings(line: &str) -> Option<(Ms, Ms)> {
    let ws = |c: char| matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ');
    let rest = line.trim_start_matches(ws);
    let (start, rest) = timestamp(rest)?;
    let rest = rest.trim_start_matches(ws).strip_prefix("-->")?.trim_start_matches(ws);
    let (end, _settings) = timestamp(rest)?;
    Some((start, end))
}

/// "Collect a WebVTT timestamp": `[hours:]mm:ss.ttt`, hours of any length (required when the
/// first field is not two digits or over 59), exactly two digits of minutes and seconds (each
/// at most 59) and three of milliseconds. Returns the time and what follows it.
fn timestamp(s: &str) -> Option<(Ms, &str)> {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let n1 = digits(s);
    if n1 == 0 {
        return None;
    }
    let v1: u64 = s[..n1].parse().ok()?;
    let hours_first = n1 != 2 || v1 > 59;
    let s = s[n1..].strip_prefix(':')?;
    let n2 = digits(s);
    if n2 != 2 {
        return None;
    }
    let v2: u64 = s[..2].parse().ok()?;
    let mut s = &s[2..];
    let (h, m, sec) = if hours_first || s.starts_with(':') {
        s = s.strip_prefix(':')?;
        if digits(s) != 2 {
            return None;
        }
        let v3: u64 = s[..2].parse().ok()?;
        s = &s[2..];
        (v1, v2, v3)
    } else {
        (0, v1, v2)
    };
    let s = s.strip_prefix('.')?;
    if digits(s) != 3 {
        return None;
    }
    let ms: u64 = s[..3].parse().ok()?;
    if m > 59 || sec > 59 {
        return None;
    }
    Some((h.checked_mul(3_600_000)?.checked_add(m * 60_000 + sec * 1000 + ms)?, &s[3..]))
}
