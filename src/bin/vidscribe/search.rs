//! `vidscribe search`.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use vidscribe::archive::Db;
use vidscribe::text::visible;
use vidscribe::time::short_clock;

use crate::cli::SearchArgs;

pub(crate) fn search(args: &SearchArgs) -> Result<ExitCode> {
    let (db, folder) = Db::locate(Some(&args.archive), args.db.as_deref()).context("give the archive")?;
    // Searching only reads: a replica answers as the archive would.
    let db = args.read_db.as_deref().map_or(db, Db::parse);
    let mut store = vidscribe::archive::Store::open_read(&db, folder.as_deref())?;
    let filters = vidscribe::archive::Filters {
        since: args.since.clone(),
        until: args.until.clone(),
        source: args.source.clone(),
        language: args.language.clone(),
        speaker: args.speaker.clone(),
        report: None,
    };
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
    let found = if args.flat {
        let hits = vidscribe::archive::search::search(&mut store, &args.query, &filters, args.limit as usize)?;
        for (n, h) in hits.iter().enumerate() {
            if args.json {
                writeln!(out, "{}", h.to_json(url(h)))?;
                continue;
            }
            writeln!(out, "{}. {}  at {}", n + 1, heading(h), short_clock(h.start_ms))?;
            print_hit(&mut out, h, color, &args.query, url(h))?;
        }
        !hits.is_empty()
    } else {
        let page = args.page as usize - 1;
        let groups =
            vidscribe::archive::search::search_grouped(&mut store, &args.query, &filters, args.limit as usize, page)?;
        for (n, g) in groups.iter().enumerate() {
            let Some(first) = g.hits.first() else { continue };
            if args.json {
                if let Some(line) = g.to_json(url) {
                    writeln!(out, "{line}")?;
                }
                continue;
            }
            let count = g.hits.len() + g.more;
            writeln!(
                out,
                "{}. {}  ({count} passage{})",
                page * args.limit as usize + n + 1,
                heading(first),
                if count == 1 { "" } else { "s" }
            )?;
            for h in &g.hits {
                writeln!(out, "   at {}", short_clock(h.start_ms))?;
                print_hit(&mut out, h, color, &args.query, url(h))?;
            }
            if g.more > 0 {
                writeln!(out, "   … {} more in this report (--flat lists every passage)", g.more)?;
            }
        }
        !groups.is_empty()
    };
    if !found && !args.json {
        eprintln!("vidscribe: nothing found for {:?}", args.query);
    }
    Ok(ExitCode::SUCCESS)
}

/// A hit's report as a heading: its title (else its key), date and source. Everything from the
/// archive is shown with its control characters made visible: a title or a transcript can hold
/// terminal escapes.
fn heading(h: &vidscribe::archive::Hit) -> String {
    let title = visible(h.title.as_deref().unwrap_or(&h.report));
    let when = visible(&[h.date.as_deref(), h.source.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", "));
    if when.is_empty() { title } else { format!("{title} ({when})") }
}

/// A hit's lines under its heading: speaker and snippet, paragraph, other spellings, link.
fn print_hit(
    out: &mut impl Write,
    h: &vidscribe::archive::Hit,
    color: bool,
    query: &str,
    url: Option<String>,
) -> std::io::Result<()> {
    let snippet: String = h
        .snippet
        .iter()
        .map(|p| match (p.mark, color) {
            (true, true) => format!("\x1b[1;33m{}\x1b[0m", visible(&p.text)),
            (true, false) => format!("[{}]", visible(&p.text)),
            (false, _) => visible(&p.text),
        })
        .collect();
    match &h.speaker {
        Some(who) => writeln!(out, "   {}: {snippet}", visible(who))?,
        None => writeln!(out, "   {snippet}")?,
    }
    if let (Some(p), Some(t)) = (h.paragraph, &h.paragraph_text) {
        let short: String = visible(&t.chars().take(160).collect::<String>());
        let more = if t.chars().count() > 160 { "…" } else { "" };
        writeln!(out, "   ¶{p} ({}): {short}{more}", h.kind.as_deref().unwrap_or("linked"))?;
    }
    if h.matched.iter().any(|m| !vidscribe::archive::query::tokens(query).contains(m)) {
        writeln!(out, "   matched: {}", visible(&h.matched.join(", ")))?;
    }
    if let Some(u) = url {
        writeln!(out, "   {}", visible(&u))?;
    }
    Ok(())
}
