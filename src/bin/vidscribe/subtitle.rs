//! `vidscribe subtitle`: captions again from a JSON transcript.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use vidscribe::captions::Profile;
use vidscribe::formats::{self, Format};
use vidscribe::job::{self, ArticleSpec, Outputs};

use crate::CANCEL;
use crate::cli::ArticleArgs;

pub(crate) fn subtitle(
    transcript: &Path,
    output: &str,
    formats: &[Format],
    from_article: &ArticleArgs,
    profile: &Profile,
    show: bool,
) -> Result<ExitCode> {
    if from_article.prompt_from_article {
        bail!("--prompt-from-article needs recognition: use transcribe or run");
    }
    let mut doc = job::read_document(transcript)?;
    let mut inputs = vec![transcript.to_path_buf()];
    if let Some(path) = &from_article.article {
        let a = job::read_article(path)?;
        let spec = ArticleSpec {
            path: path.clone(),
            prompt: false,
            wording: from_article.article_wording,
            fix_names: from_article.fix_names,
        };
        job::apply_article(&mut doc, a, path.display().to_string(), &spec, None);
        inputs.push(path.clone());
    }
    let notes = job::build_captions(&mut doc, profile);
    let formats = formats::unique(formats);
    let written = if output == "-" {
        if formats.len() != 1 {
            bail!("-o - writes to stdout, which takes exactly one format (use e.g. -f srt)");
        }
        job::write_stream(&doc, &notes, formats[0], &mut std::io::stdout().lock()).context("writing to stdout")?;
        vec!["stdout".to_string()]
    } else {
        let stem = transcript.file_stem().map_or("output".into(), |s| s.to_string_lossy().into_owned());
        let outputs =
            Outputs { dir: PathBuf::from(output), formats, stem, page: None, media_copy: None, video: None, inputs };
        outputs.check()?;
        job::write_outputs(&doc, &notes, &outputs, &CANCEL)?.iter().map(|p| p.display().to_string()).collect()
    };
    if show {
        let c = doc.captions.as_ref().map_or((0, 0), |c| (c.cues.len(), c.violations.len()));
        eprintln!(
            "vidscribe: {} cues under {} ({} rule violations): wrote {}",
            c.0,
            profile.name,
            c.1,
            written.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
