//! `vidscribe model`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};

use vidscribe::asr::{self, model, quantize};
use vidscribe::job::{self};

use crate::CANCEL;
use crate::cli::ModelCommand;
use crate::progress::*;

pub(crate) fn model_command(cmd: &ModelCommand, show: bool) -> Result<ExitCode> {
    match cmd {
        ModelCommand::Fetch { name, dir } => {
            let bar = Bar::new(show);
            let got = asr::fetch::fetch(name, dir.as_deref(), &bar, &CANCEL)?;
            let how = if got.made { "ready" } else { "already present and verified" };
            if got.speaker {
                vidscribe::speakers::model::load(&got.path)?;
                let size = std::fs::metadata(&got.path).map_or(0, |m| m.len());
                outln!(
                    "{}: CAM++ speaker model (192-dim embeddings, {size} bytes, sha256 {}) {how}",
                    got.path.display(),
                    model::sha256_file(&got.path)?
                );
                return Ok(ExitCode::SUCCESS);
            }
            let (info, _) = model::inspect(&got.path)?;
            outln!(
                "{}: {} ({}, {} bytes, sha256 {}) {how}",
                got.path.display(),
                info.name,
                info.weights,
                info.size_bytes,
                info.sha256
            );
        }
        ModelCommand::Import { paths } => {
            let (out, inputs) = paths.split_last().context("give the inputs, then the output file")?;
            let h = asr::import::import(inputs, out)?;
            let (info, _) = model::inspect(out)?;
            outln!(
                "{}: {} ({}, {} bytes, sha256 {})",
                out.display(),
                h.model_name(),
                info.weights,
                info.size_bytes,
                info.sha256
            );
        }
        ModelCommand::Quantize { input, output, kind } => {
            quantize::quantize(input, output, *kind)?;
            let (info, _) = model::inspect(output)?;
            outln!(
                "{}: {} ({}, {} bytes, sha256 {})",
                output.display(),
                info.name,
                info.weights,
                info.size_bytes,
                info.sha256
            );
        }
        ModelCommand::List { dirs } => {
            let dirs = if dirs.is_empty() { model::model_dirs() } else { dirs.clone() };
            let models = model::list(&dirs);
            if models.is_empty() {
                outln!(
                    "no models in {}; run scripts/fetch-model.sh",
                    dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
                );
            }
            outln!("{:<10} {:<6} {:>8}  {:<12} {:<64}  PATH", "NAME", "TYPE", "SIZE", "LANGUAGES", "SHA256");
            for m in models {
                match m {
                    Ok(i) => outln!(
                        "{:<10} {:<6} {:>6}MB  {:<12} {:<64}  {}",
                        i.name,
                        i.weights,
                        i.size_bytes / 1_000_000,
                        if i.multilingual { "multilingual" } else { "English" },
                        i.sha256,
                        i.path.display()
                    ),
                    Err(e) => outln!("{:<10} {}", "INVALID", job::one_line(&e)),
                }
            }
        }
        ModelCommand::Check { file } => {
            let (info, layout) = model::verify(file)?;
            outln!(
                "{}: ok: {} ({}), {} tensors, {} tokens, {} bytes, sha256 {} ({})",
                file.display(),
                info.name,
                info.weights,
                layout.tensors.len(),
                layout.vocab.len(),
                info.size_bytes,
                info.sha256,
                if model::is_known(&info.sha256) { "known model" } else { "every weight checked" }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
