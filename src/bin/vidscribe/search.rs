//! `vidscribe search`.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use vidscribe::archive::Db;
use vidscribe::time::short_clock;

use crate::cli::SearchArgs;

pub(crate) fn search(args: &SearchArgs) -> Result<ExitCode> {
    use std::io::Write as _;
    use vidscribe::text::visible;
    let (db, folder) = Db::locate(Some(&args.archive), args.db.as_deref()).context("give the archive")?;
    let mut store = vidscribe::archive::Store::open_read(&db, folder.as_deref())?;
    let filters = vidscribe::archive::Filters {
        since: args.since.clone(),
        until: args.until.clone(),
        source: args.source.clone(),
        language: args.language.clone(),
        speaker: args.speaker.clone(),
    };
    let hits = vidscribe::archive::search::search(&mut store, &args.query, &filters, args.limit as usize)?;
    let root = store.root().canonicalize().unwrap_or_else(|_| store.root().to_path_buf());
    let url = |h: &vidscribe::archive::Hit| {
        h.link().map(|l| {
            if Path::new(&h.folder).is_absolute() {
                format!("file://{l}")
            } else {
                format!("file://{}/{l}", root.display())
            }
        })
    };
    let mut out = std::io::stdout().lock();
    let color = std::io::stdout().is_terminal();
    for (n, h) in hits.iter().enumerate() {
        if args.json {
            let line = h.to_json(url(h));
            writeln!(out, "{line}")?;
            continue;
        }
        let snippet: String = h
            .snippet
            .iter()
            .map(|p| match (p.mark, color) {
                (true, true) => format!("\x1b[1;33m{}\x1b[0m", visible(&p.text)),
                (true, false) => format!("[{}]", visible(&p.text)),
                (false, _) => visible(&p.text),
            })
            .collect();
        // Everything from the archive is shown with its control characters made visible: a
        // title or a transcript can hold terminal escapes.
        let title = visible(h.title.as_deref().unwrap_or(&h.report));
        let when =
            visible(&[h.date.as_deref(), h.source.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", "));
        writeln!(
            out,
            "{}. {title}{}  at {}",
            n + 1,
            if when.is_empty() { String::new() } else { format!(" ({when})") },
            short_clock(h.start_ms)
        )?;
        match &h.speaker {
            Some(who) => writeln!(out, "   {}: {snippet}", visible(who))?,
            None => writeln!(out, "   {snippet}")?,
        }
        if let (Some(p), Some(t)) = (h.paragraph, &h.paragraph_text) {
            let short: String = visible(&t.chars().take(160).collect::<String>());
            let more = if t.chars().count() > 160 { "…" } else { "" };
            writeln!(out, "   ¶{p} ({}): {short}{more}", h.kind.as_deref().unwrap_or("linked"))?;
        }
        if h.matched.iter().any(|m| !vidscribe::archive::query::tokens(&args.query).contains(m)) {
            writeln!(out, "   matched: {}", visible(&h.matched.join(", ")))?;
        }
        if let Some(u) = url(h) {
            writeln!(out, "   {}", visible(&u))?;
        }
    }
    if hits.is_empty() && !args.json {
        eprintln!("vidscribe: nothing found for {:?}", args.query);
    }
    Ok(ExitCode::SUCCESS)
}
