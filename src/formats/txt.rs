//! Plain text: one line per transcript segment.

use std::io::{self, Write};

use crate::asr::Transcript;

pub fn write<W: Write + ?Sized>(w: &mut W, t: &Transcript) -> io::Result<()> {
    for s in &t.segments {
        writeln!(w, "{}", s.text.trim())?;
    }
    Ok(())
}
