//! `vidscribe check`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use vidscribe::captions::Profile;
use vidscribe::captions::rules::evaluate;
use vidscribe::formats::{self};

pub(crate) fn check(file: &Path, profile: &Profile, as_json: bool) -> Result<ExitCode> {
    let (parsed, is_vtt) = formats::read::subtitle_file(file)?;
    let mut violations = parsed.problems.clone();
    violations.extend(evaluate(&parsed.cues, profile));
    violations.sort_by_key(|v| (v.cue, v.rule));
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for v in &violations {
        *counts.entry(v.rule.name()).or_default() += 1;
    }
    fn j<T: serde::Serialize + ?Sized>(v: &T) -> String {
        serde_json::to_string(v).unwrap_or_else(|_| "null".into())
    }
    let write = || -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        if as_json {
            // Streamed, one violation a line: no second copy of the report in memory.
            writeln!(out, "{{")?;
            writeln!(out, "  \"file\": {},", j(&file.display().to_string()))?;
            writeln!(out, "  \"format\": \"{}\",", if is_vtt { "vtt" } else { "srt" })?;
            writeln!(out, "  \"profile\": {},", j(profile))?;
            writeln!(out, "  \"cues\": {},", parsed.cues.len())?;
            writeln!(out, "  \"notes\": {},", j(&parsed.notes))?;
            write!(out, "  \"violations\": [")?;
            for (i, v) in violations.iter().enumerate() {
                write!(out, "{}\n    {}", if i == 0 { "" } else { "," }, j(v))?;
            }
            writeln!(out, "{}],", if violations.is_empty() { "" } else { "\n  " })?;
            writeln!(out, "  \"summary\": {}", j(&counts))?;
            writeln!(out, "}}")?;
        } else {
            for v in &violations {
                writeln!(out, "{}: {v}", file.display())?;
            }
            let summary = counts.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
            let notes = if parsed.notes.is_empty() { String::new() } else { format!(" [{}]", parsed.notes.join(", ")) };
            writeln!(
                out,
                "{}: {} cues, {} violations under {}{}{}",
                file.display(),
                parsed.cues.len(),
                violations.len(),
                profile.name,
                if summary.is_empty() { String::new() } else { format!(" ({summary})") },
                notes
            )?;
        }
        out.flush()
    };
    write().context("writing to stdout")?;
    Ok(if violations.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
