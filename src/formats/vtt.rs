//! WebVTT (.vtt) output.

use std::io::{self, Write};

use crate::captions::Cue;
use crate::time::clock;

/// Escapes the three characters WebVTT reserves; escaping `>` also rules out `-->` in text.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn write<W: Write + ?Sized>(w: &mut W, cues: &[Cue]) -> io::Result<()> {
    writeln!(w, "WEBVTT\n")?;
    for c in cues {
        writeln!(w, "{} --> {}", clock(c.start_ms, '.'), clock(c.end_ms, '.'))?;
        for line in &c.lines {
            writeln!(w, "{}", escape(line.trim()))?;
        }
        writeln!(w)?;
    }
    Ok(())
}
