//! SubRip (.srt) output, through srtlib.
#![forbid(unsafe_code)]

use std::io::{self, Write};

use srtlib::{Subtitle, Timestamp};

use crate::captions::Cue;
use crate::text::safe_line;

/// srtlib stores u32 milliseconds with at most 255 hours.
fn stamp(ms: u64) -> Timestamp {
    Timestamp::from_milliseconds(ms.min(Timestamp::MAX_TIMESTAMP_MILLIS as u64) as u32)
}

/// Writes cues numbered from 1, blank line between them, LF line ends.
pub fn write<W: Write + ?Sized>(w: &mut W, cues: &[Cue]) -> io::Result<()> {
    for (i, c) in cues.iter().enumerate() {
        // Each line safe (a blank line or a timing line in the text would start a fake cue).
        let text = c.lines.iter().map(|l| safe_line(l)).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n");
        let sub = Subtitle::new(i + 1, stamp(c.start_ms), stamp(c.end_ms), text);
        writeln!(w, "{sub}\n")?;
    }
    Ok(())
}

/// Reads an SRT file as found in the wild.
pub fn read(bytes: &[u8]) -> super::read::Parsed {
    use super::read::{Parsed, blocks, decode_text};
    use crate::captions::Rule;
    let mut p = Parsed::default();
    let text = decode_text(bytes, &mut p);
    let lines: Vec<&str> = text.lines().collect();
    let mut expected = 1usize;
    for (first, block) in blocks(&lines) {
        // The number line is optional in practice; the timing line is not.
        let (number, timing_at) = match block[0].trim().parse::<usize>() {
            Ok(n) => (Some(n), 1),
            Err(_) => (None, 0),
        };
        let cue_no = p.cues.len() + 1;
        let Some((start, end)) = p.timing(&block, first, timing_at) else { continue };
        match number {
            None => p.problem(cue_no, start, Rule::Numbering, format!("line {}: cue number missing", first + 1)),
            Some(n) if n != expected => p.problem(
                cue_no,
                start,
                Rule::Numbering,
                format!("line {}: numbered {n}, expected {expected}", first + 1),
            ),
            _ => {}
        }
        let timing_line = block[timing_at];
        if timing_line.contains('.') && !timing_line.contains(',') {
            let detail = format!("line {}: SRT times use a comma, not a dot", first + timing_at + 1);
            p.problem(cue_no, start, Rule::Timestamp, detail);
        }
        expected = number.unwrap_or(expected).saturating_add(1);
        let text_lines: Vec<String> = block[timing_at + 1..].iter().map(|l| l.trim_end().to_string()).collect();
        p.cues.push(Cue { start_ms: start, end_ms: end, lines: text_lines, speakers: Vec::new() });
    }
    p
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbering_at_the_largest_number_does_not_wrap() {
        let max = usize::MAX;
        let text = format!("{max}\n00:00:01,000 --> 00:00:02,000\nA\n\n1\n00:00:03,000 --> 00:00:04,000\nB\n");
        let p = super::read(text.as_bytes());
        assert_eq!(p.cues.len(), 2);
    }
}
