//! WebVTT (.vtt) output.

use std::io::{self, Write};

use crate::captions::Cue;
use crate::time::clock;

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
    writeln!(w, "WEBVTT\n")?;
    let mut pending = notes.iter().peekable();
    let note = |w: &mut W, n: &Note| -> io::Result<()> {
        // A note may not contain "-->" nor a blank line.
        let text = n.text.replace("-->", "->").replace("\n\n", "\n");
        writeln!(w, "NOTE {} {}\n", clock(n.at_ms, '.'), text.trim())
    };
    for c in cues {
        while let Some(n) = pending.next_if(|n| n.at_ms <= c.start_ms) {
            note(w, n)?;
        }
        writeln!(w, "{} --> {}", clock(c.start_ms, '.'), clock(c.end_ms, '.'))?;
        for line in &c.lines {
            writeln!(w, "{}", escape(line.trim()))?;
        }
        writeln!(w)?;
    }
    for n in pending {
        note(w, n)?;
    }
    Ok(())
}

/// Reads a WebVTT file.
pub fn read(bytes: &[u8]) -> super::read::Parsed {
    use super::read::{Parsed, decode_text, parse_timing, unescape};
    use crate::captions::Rule;
    let mut p = Parsed::default();
    let text = decode_text(bytes, &mut p);
    let lines: Vec<&str> = text.lines().collect();
    if !lines.first().is_some_and(|l| l.starts_with("WEBVTT") && (l.len() == 6 || l[6..].starts_with([' ', '\t']))) {
        p.problem(0, 0, Rule::Syntax, "line 1: a WebVTT file must start with WEBVTT".into());
    }
    let mut i = 1;
    // Skip the header block.
    while i < lines.len() && !lines[i].trim().is_empty() {
        i += 1;
    }
    while i < lines.len() {
        if lines[i].trim().is_empty() {
            i += 1;
            continue;
        }
        let block_start = i;
        let mut block = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() {
            block.push(lines[i]);
            i += 1;
        }
        let first = block[0].trim_start();
        if first.starts_with("NOTE") || first.starts_with("STYLE") || first.starts_with("REGION") {
            continue;
        }
        let cue_no = p.cues.len() + 1;
        let last_start = p.cues.last().map_or(0, |c| c.start_ms);
        let timing_at = if block[0].contains("-->") { 0 } else { 1 };
        let Some(timing_line) = block.get(timing_at).filter(|l| l.contains("-->")) else {
            p.problem(
                cue_no,
                last_start,
                Rule::Syntax,
                format!("line {}: block without a timing line", block_start + 1),
            );
            continue;
        };
        let Some((start, end, _)) = parse_timing(timing_line) else {
            p.problem(
                cue_no,
                last_start,
                Rule::Timestamp,
                format!("line {}: malformed timing {:?}", block_start + timing_at + 1, timing_line.trim()),
            );
            continue;
        };
        if timing_line.split("-->").next().is_some_and(|a| a.contains(',')) {
            p.problem(
                cue_no,
                start,
                Rule::Timestamp,
                format!("line {}: WebVTT times use a dot, not a comma", block_start + timing_at + 1),
            );
        }
        let text_lines: Vec<String> = block[timing_at + 1..]
            .iter()
            .map(|l| {
                if l.contains("-->") {
                    p.problem(cue_no, start, Rule::Syntax, format!("line {}: cue text contains -->", block_start + 1));
                }
                unescape(l.trim_end())
            })
            .collect();
        p.cues.push(Cue { start_ms: start, end_ms: end, lines: text_lines });
    }
    p
}
