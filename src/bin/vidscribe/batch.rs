//! `vidscribe batch`.

use std::process::ExitCode;

use anyhow::Result;

use vidscribe::archive::Db;
use vidscribe::job::Media;
use vidscribe::net;
use vidscribe::time::short_clock;

use crate::CANCEL;
use crate::cli::BatchArgs;
use crate::common::*;
use crate::progress::*;

pub(crate) fn batch(args: &BatchArgs, show: bool, lines: bool) -> Result<ExitCode> {
    if args.recognition.script.is_some() {
        anyhow::bail!("--script is for one report (transcribe or run), not a batch");
    }
    let items = vidscribe::archive::batch::collect(&args.inputs, Some(&args.output), args.allow_outside)?;
    let cfg = vidscribe::archive::BatchConfig {
        archive: args.output.clone(),
        job: job_config(Media::Stdin, &args.recognition, &args.profile, None)?,
        literal: args.literal,
        web_limits: net::Limits::with_timeout(args.timeout),
        db: Db::of(&args.output, args.db.as_deref()),
        lease: std::time::Duration::from_secs(args.lease),
    };
    let bars = BatchBars::new(show, lines);
    let result = vidscribe::archive::batch::run(&items, &cfg, &bars, &CANCEL);
    bars.clear();
    let summary = result?;
    if lines || show {
        let failed = if summary.failed.is_empty() {
            String::new()
        } else {
            // The first ten by name; the rest are in batch.log (a summary stays one short line).
            let named: Vec<String> =
                summary.failed.iter().take(10).map(|(m, _)| vidscribe::text::visible(&shorten(m, 200))).collect();
            let more = summary.failed.len().saturating_sub(named.len());
            let more = if more > 0 { format!(" and {more} more (see batch.log)") } else { String::new() };
            format!(": {}{more}", named.join(", "))
        };
        eprintln!(
            "vidscribe: batch into {}: {} made ({} of audio), {} updated, {} unchanged, {}{} failed{failed}",
            args.output.display(),
            summary.done.len(),
            short_clock(summary.audio_ms),
            summary.updated.len(),
            summary.skipped.len(),
            if summary.elsewhere.is_empty() {
                String::new()
            } else {
                format!("{} made by other batches, ", summary.elsewhere.len())
            },
            summary.failed.len()
        );
    }
    Ok(if summary.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
