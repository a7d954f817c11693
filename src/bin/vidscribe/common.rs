//! What the commands that recognise share: the job's config from the arguments, the summary line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use vidscribe::captions::Profile;
use vidscribe::formats::Format;
use vidscribe::formats::json::Meta;
use vidscribe::job::{self, ArticleSpec, JobConfig, Media, Outputs};
use vidscribe::time::clock;

use crate::CANCEL;
use crate::cli::{ProfileArgs, RecognitionArgs};
use crate::progress::*;

pub(crate) fn profile_of(args: &ProfileArgs) -> Result<Profile> {
    args.resolve().map_err(|e| anyhow::anyhow!(e))
}

/// The job a command describes.
pub(crate) fn job_config(
    media: Media,
    r: &RecognitionArgs,
    p: &ProfileArgs,
    article: Option<ArticleSpec>,
) -> Result<JobConfig> {
    let profile = profile_of(p)?;
    let mut options = r.transcribe_options();
    // A profile may ask for speakers (`speakers = true`): as `--speakers` with the count found.
    if profile.speakers && options.speakers.is_none() {
        options.speakers = Some(vidscribe::speakers::SpeakerOptions {
            threshold: r.speaker_threshold,
            names: r.speaker_names.clone().map(|n| n.0).unwrap_or_default(),
            ..Default::default()
        });
    }
    if r.speaker_names.is_some() && options.speakers.is_none() {
        anyhow::bail!("--speaker-names needs --speakers (or a profile with speakers = true)");
    }
    Ok(JobConfig {
        media,
        article,
        model: r.model.clone(),
        vad: !r.no_vad,
        options,
        decode: r.decode_options(),
        profile,
        meta: Meta::default(),
        web: Default::default(),
        strict: r.strict,
        speaker_model: r.speaker_model.clone(),
        discard_edits: r.discard_edits,
        script: r.script.clone(),
    })
}

pub(crate) fn print_stats(report: &job::Report, wall: std::time::Duration) {
    let stats = &report.stats;
    let ms = |d: std::time::Duration| d.as_millis();
    eprintln!(
        "vidscribe: stats: audio_ms={} load_ms={} decode_ms={} vad_ms={} transcribe_ms={} speakers_ms={} windows={} retried={} split={} looped={} filled={} peak_buffer_s={:.1} threads={}-{} lanes={} rtf={:.4}",
        stats.audio_ms,
        ms(report.load),
        ms(stats.decode),
        ms(stats.vad),
        ms(stats.recognise),
        ms(stats.speakers),
        stats.windows,
        stats.retried,
        stats.split,
        stats.looped,
        stats.filled,
        stats.peak_buffer_samples as f64 / 16_000.0,
        stats.min_threads,
        stats.max_threads,
        stats.lanes.max(1),
        wall.as_secs_f64() * 1000.0 / stats.audio_ms.max(1) as f64
    );
}

pub(crate) fn report_done(show: bool, report: &job::Report, written: &[String]) {
    if !show {
        return;
    }
    let doc = &report.doc;
    if !doc.input.audio.damaged.is_empty() {
        eprintln!(
            "vidscribe: warning: damaged input, {} (silence in their place; --strict refuses such input)",
            vidscribe::media::decode::describe_damage(&doc.input.audio.damaged)
        );
    }
    if let Some(s) = &doc.script {
        eprintln!(
            "vidscribe: script {}: {} of its {} words heard and captioned; {} passages of it not heard, {} stretches of speech not in it (both listed under \"script\" in the JSON)",
            s.path,
            s.spoken,
            s.words,
            s.unspoken.len(),
            s.unscripted.len()
        );
    }
    let c = doc.captions.as_ref().map_or((0, 0, 0), |c| (c.cues.len(), c.violations.len(), c.flagged.len()));
    let linked = doc.links.as_ref().map_or(String::new(), |l| {
        let source = l.passages.iter().filter(|p| p.kind.is_source()).count();
        format!(
            ", {source} of {} passages linked to the article, {} corrections",
            l.passages.len(),
            doc.corrections.len()
        )
    });
    eprintln!(
        "vidscribe: {} of audio, language {}, {} cues ({} rule violations, {} passages removed){linked}: wrote {}",
        clock(doc.input.audio.duration_ms, '.'),
        doc.transcript.language,
        c.0,
        c.1,
        c.2,
        written.join(", ")
    );
}

/// Runs a recognition job and writes its outputs (a directory, or one format to stdout).
/// `fetched`: the name and cached file of media fetched from the web, copied beside the outputs.
#[allow(clippy::too_many_arguments)]
pub(crate) fn recognise_and_write(
    cfg: &JobConfig,
    output: &str,
    formats: Vec<Format>,
    page: Option<String>,
    fetched: Option<(String, PathBuf)>,
    (show, tell): (bool, bool),
    stats: bool,
) -> Result<ExitCode> {
    let started = Instant::now();
    let bar = Bar::new(show);
    let mut inputs = Vec::new();
    if let Media::File(p) = &cfg.media {
        inputs.push(p.clone());
    }
    if let Some(a) = &cfg.article {
        inputs.push(a.path.clone());
    }
    let (report, written) = if output == "-" {
        if formats.len() != 1 {
            bail!("-o - writes to stdout, which takes exactly one format (use e.g. -f srt)");
        }
        let report = job::recognise(cfg, &bar, &CANCEL)?;
        job::write_stream(&report.doc, &report.notes, formats[0], &mut std::io::stdout().lock())
            .context("writing to stdout")?;
        (report, vec!["stdout".to_string()])
    } else {
        let stem = match &fetched {
            Some((name, _)) => Path::new(name).file_stem().map_or("video".into(), |s| s.to_string_lossy().into_owned()),
            None => cfg.media.stem(),
        };
        let outputs =
            Outputs { dir: PathBuf::from(output), formats, stem, page, media_copy: fetched, video: None, inputs };
        let (report, written) = job::run(cfg, &outputs, &bar, &CANCEL)?;
        (report, written.iter().map(|p| p.display().to_string()).collect())
    };
    if stats {
        print_stats(&report, started.elapsed());
    }
    report_done(tell, &report, &written);
    Ok(ExitCode::SUCCESS)
}

/// `text` cut to at most `max` characters, with an ellipsis saying so.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}…")
}
