//! `vidscribe transcribe`.

use std::process::ExitCode;

use anyhow::Result;

use vidscribe::job::{ArticleSpec, Media};

use crate::cli::TranscribeArgs;
use crate::common::*;

pub(crate) fn transcribe(args: &TranscribeArgs, show: bool, tell: bool) -> Result<ExitCode> {
    let a = &args.article;
    let spec = a.article.clone().map(|path| ArticleSpec {
        path,
        prompt: a.prompt_from_article,
        wording: a.article_wording,
        fix_names: a.fix_names,
    });
    let cfg = job_config(Media::from_arg(&args.input), &args.recognition, &args.profile, spec)?;
    recognise_and_write(&cfg, &args.output, args.formats(), None, None, (show, tell), args.stats)
}
