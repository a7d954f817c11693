//! `vidscribe apply`: an editor's corrections laid over a report, every output made again.

use std::process::ExitCode;

use anyhow::Result;

use vidscribe::revise::{self, ApplyConfig, Outcome};

use crate::CANCEL;
use crate::cli::ApplyArgs;

pub(crate) fn apply(args: &ApplyArgs, tell: bool) -> Result<ExitCode> {
    let cfg = ApplyConfig {
        edited: args.edited.clone(),
        report: args.to.clone(),
        out: args.output.clone(),
        editor: args.editor.clone(),
        archive: args.archive.clone().map(|a| (a, args.db.clone())),
        media: args.media.clone(),
        model: args.model.clone(),
    };
    match revise::apply_file(&cfg, &CANCEL)? {
        Outcome::Unchanged => {
            if tell {
                eprintln!(
                    "vidscribe: {} changes nothing in {}: nothing written",
                    args.edited.display(),
                    args.to.display()
                );
            }
        }
        Outcome::Applied { revision, words, cues, violations, written, indexed, new_words, aligned, unheard } => {
            if tell {
                if let Some(why) = unheard {
                    eprintln!("vidscribe: new words timed between their neighbours, not from the audio: {why}");
                } else if aligned < new_words {
                    eprintln!(
                        "vidscribe: {aligned} of {new_words} runs of new words timed from the audio; the rest between their neighbours"
                    );
                }
                let written: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
                eprintln!(
                    "vidscribe: revision {revision}: {words} word and {cues} cue corrections; wrote {}",
                    written.join(", ")
                );
                if violations > 0 {
                    eprintln!(
                        "vidscribe: the captions break {violations} profile rules as edited (`vidscribe check` lists them)"
                    );
                }
                if let Some(db) = indexed {
                    eprintln!("vidscribe: updated the report in {db}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
