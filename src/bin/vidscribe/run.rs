//! `vidscribe run`: a report from a file or an article's web address.

use std::process::ExitCode;

use anyhow::{Result, bail};

use vidscribe::formats::Format;
use vidscribe::job::{self, ArticleSpec, Media};
use vidscribe::net;
use vidscribe::remote::{self, WebInputs};

use crate::CANCEL;
use crate::cli::RunArgs;
use crate::common::*;
use crate::progress::*;

/// `run`: the transcript with all the article's help, the files, and report.html.
pub(crate) fn run_job(args: &RunArgs, show: bool, tell: bool) -> Result<ExitCode> {
    let t = &args.transcribe;
    if t.output == "-" {
        bail!("run writes several files: give an output directory with -o");
    }
    if t.input == "-" {
        bail!("run needs the video as a file, so that report.html can play it");
    }
    let article_arg = t.article.article.as_ref().map(|p| p.to_string_lossy().into_owned());
    let web = match (net::is_url(&t.input), &article_arg) {
        // run ARTICLE_URL: the page, and the video it embeds (or --video).
        (true, None) => Some(WebInputs { page: Some(t.input.clone()), video: args.video.clone(), embed: args.embed }),
        _ if args.video.is_some() || args.embed.is_some() => {
            bail!("--video and --embed go with an article's web address: run URL --video FILE|URL")
        }
        // run VIDEO --article A, either of them on the web.
        (input_url, Some(a)) if input_url || net::is_url(a) => {
            Some(WebInputs { page: net::is_url(a).then(|| a.clone()), video: Some(t.input.clone()), embed: None })
        }
        (_, None) => bail!(
            "run needs --article FILE|URL, or the article's web address instead of the video \
             (use `vidscribe transcribe` for a video without its article)"
        ),
        _ => None,
    };
    let a = &t.article;
    let mut media = Media::from_arg(&t.input);
    let mut article_path = t.article.article.clone();
    let mut sources = job::WebSources::default();
    let mut fetched = None;
    if let Some(w) = web {
        let got = remote::gather(&w, net::Limits::with_timeout(args.timeout), &Bar::new(show), &CANCEL)?;
        if let Some(used) = got.used.filter(|_| tell && got.embeds.len() > 1) {
            eprintln!("vidscribe: the page embeds {} videos (--embed N for another):", got.embeds.len());
            // The first twenty (and the one used), each address cut short: a page may list
            // thousands, or carry whole files in data: URLs.
            for (i, e) in got.embeds.iter().enumerate().filter(|(i, _)| *i < 20 || *i == used) {
                let mark = if i == used { " (used)" } else { "" };
                let url = vidscribe::text::visible(&shorten(&vidscribe::text::safe_line(&e.url), 200));
                eprintln!("  {}. {} {url}{mark}", i + 1, e.provider);
            }
            if got.embeds.len() > 20 {
                eprintln!("  … {} more", got.embeds.len() - 20);
            }
        }
        if let Some((path, source)) = got.article {
            article_path = Some(path);
            sources.article = Some(source);
        }
        if let Some((name, source)) = got.fetched_media {
            fetched = Some((name, got.media.clone()));
            sources.media = Some(source);
        }
        media = Media::File(got.media);
    }
    let Some(path) = article_path else { bail!("run needs --article FILE|URL") };
    let mut spec = ArticleSpec::full(path, args.literal);
    spec.prompt |= a.prompt_from_article;
    spec.wording |= a.article_wording;
    spec.fix_names |= a.fix_names;
    let mut cfg = job_config(media, &t.recognition, &t.profile, Some(spec))?;
    cfg.web = sources;
    let mut formats: Vec<Format> = t.formats().into_iter().filter(|f| *f != Format::Html).collect();
    // The page is always report.html, whatever the video is called.
    formats.push(Format::Html);
    recognise_and_write(&cfg, &t.output, formats, Some("report.html".into()), fetched, (show, tell), t.stats)
}
