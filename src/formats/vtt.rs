//! WebVTT (.vtt) output.
#![forbid(unsafe_code)]

use std::io::{self, Write};

use crate::captions::Cue;
use crate::text::safe_line;
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
        // A note may contain neither "-->" nor a line break (a blank line would end it).
        writeln!(w, "NOTE {} {}\n", clock(n.at_ms, '.'), safe_line(&n.text))
    };
    for c in cues {
        while let Some(n) = pending.next_if(|n| n.at_ms <= c.start_ms) {
            note(w, n)?;
        }
        writeln!(w, "{} --> {}", clock(c.start_ms, '.'), clock(c.end_ms, '.'))?;
        for line in &c.lines {
            writeln!(w, "{}", escape(&safe_line(line)))?;
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
    use super::read::{Parsed, blocks, decode_text, unescape};
    use crate::captions::Rule;
    let mut p = Parsed::default();
    let text = decode_text(bytes, &mut p);
    let lines: Vec<&str> = text.lines().collect();
    if !lines.first().is_some_and(|l| l.starts_with("WEBVTT") && (l.len() == 6 || l[6..].starts_with([' ', '\t']))) {
        p.problem(0, 0, Rule::Syntax, "line 1: a WebVTT file must start with WEBVTT".into());
    }
    // The first block is the header.
    for (first, block) in
        blocks(&lines).into_iter().skip(usize::from(lines.first().is_some_and(|l| l.starts_with("WEBVTT"))))
    {
        let head = block[0].trim_start();
        if head.starts_with("NOTE") || head.starts_with("STYLE") || head.starts_with("REGION") {
            continue;
        }
        let cue_no = p.cues.len() + 1;
        let timing_at = if block[0].contains("-->") { 0 } else { 1 };
        let Some((start, end)) = p.timing(&block, first, timing_at) else { continue };
        if block[timing_at].split("-->").next().is_some_and(|a| a.contains(',')) {
            let detail = format!("line {}: WebVTT times use a dot, not a comma", first + timing_at + 1);
            p.problem(cue_no, start, Rule::Timestamp, detail);
        }
        let mut text_lines = Vec::new();
        for (k, l) in block[timing_at + 1..].iter().enumerate() {
            if l.contains("-->") {
                let detail = format!("line {}: cue text contains -->", first + timing_at + k + 2);
                p.problem(cue_no, start, Rule::Syntax, detail);
            }
            text_lines.push(unescape(l.trim_end()));
        }
        p.cues.push(Cue { start_ms: start, end_ms: end, lines: text_lines });
    }
    p
}
