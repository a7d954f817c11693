//! SubRip (.srt) output, through srtlib.

use std::io::{self, Write};

use srtlib::{Subtitle, Timestamp};

use crate::captions::Cue;

/// srtlib stores u32 milliseconds with at most 255 hours.
fn stamp(ms: u64) -> Timestamp {
    Timestamp::from_milliseconds(ms.min(Timestamp::MAX_TIMESTAMP_MILLIS as u64) as u32)
}

/// Writes cues numbered from 1, blank line between them, LF line ends.
pub fn write<W: Write + ?Sized>(w: &mut W, cues: &[Cue]) -> io::Result<()> {
    for (i, c) in cues.iter().enumerate() {
        let sub = Subtitle::new(i + 1, stamp(c.start_ms), stamp(c.end_ms), c.text());
        writeln!(w, "{sub}\n")?;
    }
    Ok(())
}
