//! The vidscribe command: parses arguments, runs the job, prints the error chain on one line and
//! turns the outcome into an exit code. The only place that knows about terminals.
#![forbid(unsafe_code)]

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use vidscribe::asr;
use vidscribe::progress::Cancel;
use vidscribe::{formats, job};

use cli::{Cli, Command};

/// `println!` that returns a write error (a closed pipe, a full disk) instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*).context("writing to stdout")?
    };
}

mod apply;
mod batch;
mod check;
mod cli;
mod common;
mod index;
mod model;
mod progress;
mod run;
mod score;
mod search;
mod serve;
mod subtitle;
mod transcribe;

use common::profile_of;

pub(crate) static CANCEL: Cancel = Cancel::new();

/// Whether the error is a closed reader of stdout (`| head`): that ends quietly, as in ripgrep.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    asr::transcribe::set_library_logging(cli.verbose);
    let _ = ctrlc::set_handler(|| {
        if vidscribe::media::spool::waiting_for_input() {
            // Nothing has been read, so nothing can be half-done: stop at once.
            std::process::exit(130);
        }
        if CANCEL.is_cancelled() && !vidscribe::output::committing() {
            // A second Ctrl-C: stop now (an output set being renamed into place is let finish).
            // Temporary files left behind are removed by the next run into that folder.
            std::process::exit(130);
        }
        CANCEL.cancel();
    });
    let result = run(&cli);
    match result {
        Ok(code) => code,
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e)
            if CANCEL.is_cancelled()
                || e.downcast_ref::<job::JobError>().is_some_and(job::JobError::is_cancelled)
                || e.downcast_ref::<vidscribe::archive::BatchError>()
                    .is_some_and(vidscribe::archive::BatchError::is_cancelled) =>
        {
            if matches!(cli.command, Command::Batch(_)) {
                eprintln!("vidscribe: interrupted; finished reports are kept, run the same batch again to resume");
            } else {
                eprintln!("vidscribe: interrupted; no output written");
            }
            ExitCode::from(130)
        }
        Err(e) => {
            let msg = vidscribe::secret::in_text(&format!("{e:#}").replace('\n', " "));
            eprintln!("vidscribe: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<ExitCode> {
    // Progress bars only on a terminal; the one-line summary (and warnings) unless --quiet.
    let show = !cli.quiet && std::io::stderr().is_terminal();
    let tell = !cli.quiet;
    match &cli.command {
        Command::Transcribe(args) => transcribe::transcribe(args, show, tell),
        Command::Run(args) => run::run_job(args, show, tell),
        Command::Batch(args) => batch::batch(args, show, !cli.quiet),
        Command::Apply(args) => apply::apply(args, tell),
        Command::Index { dirs, output, db } => index::index(dirs, output, db.as_deref(), !cli.quiet),
        Command::Search(args) => search::search(args),
        Command::Serve(args) => serve::serve(args),
        Command::Subtitle { transcript, output, format, article, profile } => {
            subtitle::subtitle(transcript, output, format, article, &profile_of(profile)?, tell)
        }
        Command::Check { file, profile, json } => check::check(file, &profile_of(profile)?, *json),
        Command::Profile { profile } => {
            let text = toml::to_string(&profile_of(profile)?).context("profile as TOML")?;
            std::io::stdout().lock().write_all(text.as_bytes()).context("writing to stdout")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Model(m) => model::model_command(m, show),
        Command::Score { reference, hypothesis, times, article } => {
            score::score(reference, hypothesis, times.as_deref(), article.as_deref())
        }
    }
}
