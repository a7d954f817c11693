//! Plain text: one line per transcript segment.
#![forbid(unsafe_code)]

use std::io::{self, Write};

use crate::asr::Transcript;

pub fn write<W: Write + ?Sized>(w: &mut W, t: &Transcript) -> io::Result<()> {
    for s in &t.segments {
        writeln!(w, "{}", crate::text::safe_line(&s.text))?;
    }
    Ok(())
}
