//! The vidscribe command: parses arguments, runs the job, prints the error chain on one line and
//! turns the outcome into an exit code. The only place that knows about terminals.
#![forbid(unsafe_code)]

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use vidscribe::archive::Db;
use vidscribe::article::wording;
use vidscribe::asr::{self, model, quantize};
use vidscribe::captions::Profile;
use vidscribe::captions::rules::evaluate;
use vidscribe::formats::json::Meta;
use vidscribe::formats::{self, Format, json};
use vidscribe::job::{self, ArticleSpec, JobConfig, Media, Outputs};
use vidscribe::net;
use vidscribe::progress::{Cancel, Progress};
use vidscribe::remote::{self, WebInputs};
use vidscribe::time::{clock, short_clock};

mod cli;
use cli::{
    ArticleArgs, BatchArgs, Cli, Command, ModelCommand, ProfileArgs, RecognitionArgs, RunArgs, SearchArgs,
    TranscribeArgs,
};

static CANCEL: Cancel = Cancel::new();

/// `println!` that returns a write error (a closed pipe, a full disk) instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*).context("writing to stdout")?
    };
}

/// Whether the error is a closed reader of stdout (`| head`): that ends quietly, as in ripgrep.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

/// A progress bar on stderr, drawn only for a terminal.
struct Bar {
    bar: ProgressBar,
}

impl Bar {
    fn new(visible: bool) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(0),
            if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
        );
        Self { bar }
    }
}

impl Progress for Bar {
    fn begin(&self, stage: &str, total_ms: Option<u64>) {
        self.bar.reset();
        self.bar.set_length(total_ms.unwrap_or(0).max(1));
        // The audio done of its whole length, beside what the stage is doing now.
        let known = total_ms.is_some();
        let style =
            ProgressStyle::with_template("{prefix} {msg:<20} {wide_bar} {audio}  {elapsed} elapsed, {eta} left")
                .map(|s| {
                    s.with_key("audio", move |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let done = short_clock(state.pos());
                        let _ = if known {
                            write!(w, "{done} of {}", short_clock(state.len().unwrap_or(0)))
                        } else {
                            write!(w, "{done}")
                        };
                    })
                })
                .unwrap_or_else(|_| ProgressStyle::default_bar());
        self.bar.set_style(style);
        self.bar.set_prefix(stage.to_string());
        self.bar.set_message("");

        // The clock moves even while a long stage reports nothing.
        self.bar.enable_steady_tick(std::time::Duration::from_millis(250));
    }
    fn begin_bytes(&self, stage: &str, total_bytes: Option<u64>) {
        self.bar.reset();
        self.bar.set_length(total_bytes.unwrap_or(0).max(1));
        let template = if total_bytes.is_some() {
            "{prefix} {wide_bar} {decimal_bytes} of {decimal_total_bytes}  {decimal_bytes_per_sec}, {eta} left"
        } else {
            "{prefix} {spinner} {decimal_bytes}  {decimal_bytes_per_sec}"
        };
        self.bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
        self.bar.set_prefix(stage.to_string());
        self.bar.enable_steady_tick(std::time::Duration::from_millis(250));
    }
    fn step(&self, what: &str) {
        self.bar.set_message(what.to_string());
    }
    fn at(&self, done_ms: u64) {
        self.bar.set_position(done_ms);
    }
    fn end(&self) {
        self.bar.finish_and_clear();
    }
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
        Command::Transcribe(args) => transcribe(args, show, tell),
        Command::Run(args) => run_job(args, show, tell),
        Command::Batch(args) => batch(args, show, !cli.quiet),
        Command::Index { dirs, output, db } => index(dirs, output, db.as_deref(), !cli.quiet),
        Command::Search(args) => search(args),
        Command::Serve { archive, db, port, bind, hosts, max_connections, idle_timeout } => {
            let (db, folder) = Db::locate(archive.as_deref(), db.as_deref()).context("give the archive")?;
            let idle = std::time::Duration::from_secs(u64::from(*idle_timeout));
            let options = vidscribe::archive::serve::Options {
                bind: bind.clone(),
                port: *port,
                hosts: hosts.clone(),
                max_connections: *max_connections as usize,
                header_timeout: idle.min(std::time::Duration::from_secs(10)),
                idle_timeout: idle,
            };
            let server = vidscribe::archive::serve::Server::bind(folder.as_deref(), &db, options)?;
            // The address first, on stdout, so scripts and tests can wait for it.
            outln!("listening on http://{}/", server.addr());
            std::io::stdout().flush().context("writing to stdout")?;
            server.run(&CANCEL)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Subtitle { transcript, output, format, article, profile } => {
            subtitle(transcript, output, format, article, &profile_of(profile)?, tell)
        }
        Command::Check { file, profile, json } => check(file, &profile_of(profile)?, *json),
        Command::Profile { profile } => {
            let text = toml::to_string(&profile_of(profile)?).context("profile as TOML")?;
            std::io::stdout().lock().write_all(text.as_bytes()).context("writing to stdout")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Model(m) => model_command(m, show),
        Command::Score { reference, hypothesis, times, article } => {
            score(reference, hypothesis, times.as_deref(), article.as_deref())
        }
    }
}

fn profile_of(args: &ProfileArgs) -> Result<Profile> {
    args.resolve().map_err(|e| anyhow::anyhow!(e))
}

/// The job a command describes.
fn job_config(media: Media, r: &RecognitionArgs, p: &ProfileArgs, article: Option<ArticleSpec>) -> Result<JobConfig> {
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
    })
}

fn print_stats(report: &job::Report, wall: std::time::Duration) {
    let stats = &report.stats;
    let ms = |d: std::time::Duration| d.as_millis();
    eprintln!(
        "vidscribe: stats: audio_ms={} load_ms={} decode_ms={} vad_ms={} transcribe_ms={} speakers_ms={} windows={} retried={} split={} peak_buffer_s={:.1} threads={}-{} lanes={} rtf={:.4}",
        stats.audio_ms,
        ms(report.load),
        ms(stats.decode),
        ms(stats.vad),
        ms(stats.recognise),
        ms(stats.speakers),
        stats.windows,
        stats.retried,
        stats.split,
        stats.peak_buffer_samples as f64 / 16_000.0,
        stats.min_threads,
        stats.max_threads,
        stats.lanes.max(1),
        wall.as_secs_f64() * 1000.0 / stats.audio_ms.max(1) as f64
    );
}

fn report_done(show: bool, report: &job::Report, written: &[String]) {
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
fn recognise_and_write(
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
        let outputs = Outputs { dir: PathBuf::from(output), formats, stem, page, media_copy: fetched, inputs };
        let (report, written) = job::run(cfg, &outputs, &bar, &CANCEL)?;
        (report, written.iter().map(|p| p.display().to_string()).collect())
    };
    if stats {
        print_stats(&report, started.elapsed());
    }
    report_done(tell, &report, &written);
    Ok(ExitCode::SUCCESS)
}

fn transcribe(args: &TranscribeArgs, show: bool, tell: bool) -> Result<ExitCode> {
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

/// `run`: the transcript with all the article's help, the files, and report.html.
fn run_job(args: &RunArgs, show: bool, tell: bool) -> Result<ExitCode> {
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

fn subtitle(
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
        job::apply_article(&mut doc, a, path.display().to_string(), &spec);
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
        let outputs = Outputs { dir: PathBuf::from(output), formats, stem, page: None, media_copy: None, inputs };
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

/// Progress of a batch: one line for the whole collection (reports, hours of audio, time left)
/// and one for the current file; without a terminal, a line per finished report.
struct BatchBars {
    overall: ProgressBar,
    file: ProgressBar,
    lines: bool,
    state: std::sync::Mutex<BatchState>,
}

#[derive(Default)]
struct BatchState {
    total: usize,
    finished: usize,
    audio_total: u64,
    audio_before: u64,
    current_ms: u64,
}

impl BatchBars {
    fn new(show: bool, lines: bool) -> Self {
        let multi = indicatif::MultiProgress::with_draw_target(if show {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let overall = multi.add(ProgressBar::new(1));
        overall.set_style(
            ProgressStyle::with_template("{msg} {wide_bar} {eta} left")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let file = multi.add(ProgressBar::new(1));
        file.set_style(
            ProgressStyle::with_template("  {msg:.dim} {bar:30} {percent:>3}%")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        overall.enable_steady_tick(std::time::Duration::from_millis(500));
        Self { overall, file, lines: lines && !show, state: Default::default() }
    }

    fn redraw(&self, s: &BatchState) {
        let done = s.audio_before + s.current_ms;
        self.overall.set_length(s.audio_total.max(done).max(1));
        self.overall.set_position(done);
        self.overall.set_message(format!(
            "{}/{} reports, {:.2} of {:.2} h of audio",
            s.finished,
            s.total,
            done as f64 / 3_600_000.0,
            s.audio_total as f64 / 3_600_000.0
        ));
    }
}

impl Progress for BatchBars {
    fn begin(&self, stage: &str, total_ms: Option<u64>) {
        self.file.set_length(total_ms.unwrap_or(1).max(1));
        self.file.set_position(0);
        self.step(stage);
    }
    fn step(&self, what: &str) {
        let name = self.file.message();
        self.file.set_message(format!("{} ({what})", name.split(" (").next().unwrap_or("")));
    }
    fn at(&self, done_ms: u64) {
        self.file.set_position(done_ms);
        if let Ok(mut s) = self.state.lock() {
            s.current_ms = done_ms;
            self.redraw(&s);
        }
    }
}

impl vidscribe::archive::Observer for BatchBars {
    fn planned(&self, total: usize, audio_ms: u64) {
        if let Ok(mut s) = self.state.lock() {
            s.total = total;
            s.audio_total = audio_ms;
            self.redraw(&s);
        }
    }
    fn started(&self, _index: usize, media: &Path, _audio_ms: Option<u64>) {
        self.file.set_message(vidscribe::secret::address(&media.display().to_string()));
        self.file.set_position(0);
    }
    fn finished(&self, index: usize, media: &Path, outcome: &vidscribe::archive::Outcome) {
        use vidscribe::archive::Outcome;
        let total = if let Ok(mut s) = self.state.lock() {
            s.finished += 1;
            if let Outcome::Done { audio_ms, .. } = outcome {
                s.audio_before += audio_ms;
            }
            s.current_ms = 0;
            self.redraw(&s);
            s.total
        } else {
            0
        };
        let what = match outcome {
            Outcome::Done { report, audio_ms, damage } if damage.is_empty() => {
                format!("made {report} ({} of audio)", short_clock(*audio_ms))
            }
            Outcome::Done { report, audio_ms, damage } => {
                format!("made {report} ({} of audio; damaged input, {damage})", short_clock(*audio_ms))
            }
            Outcome::Skipped { report } => format!("unchanged {report}, skipped"),
            Outcome::Updated { report } => format!("updated {report} (metadata), not recognised again"),
            Outcome::Elsewhere { report, .. } => format!("{report} made by another batch"),
            Outcome::Failed { error } => {
                format!("FAILED {}: {error}", vidscribe::secret::address(&media.display().to_string()))
            }
        };
        if self.lines {
            eprintln!("vidscribe: [{}/{total}] {what}", index + 1);
        } else if matches!(outcome, Outcome::Failed { .. }) {
            self.overall.suspend(|| eprintln!("vidscribe: {what}"));
        }
    }
    fn progress(&self) -> &dyn Progress {
        self
    }
}

fn batch(args: &BatchArgs, show: bool, lines: bool) -> Result<ExitCode> {
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
    bars.overall.finish_and_clear();
    bars.file.finish_and_clear();
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

fn index(dirs: &[PathBuf], output: &Path, db: Option<&str>, lines: bool) -> Result<ExitCode> {
    let db = Db::of(output, db);
    let done = vidscribe::archive::batch::index(dirs, output, &db)?;
    if lines {
        for (path, why) in &done.skipped {
            eprintln!("vidscribe: skipped {path}: {why}");
        }
        eprintln!("vidscribe: indexed {} reports into {}", done.reports, db.describe());
    }
    Ok(ExitCode::SUCCESS)
}

fn search(args: &SearchArgs) -> Result<ExitCode> {
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

fn check(file: &Path, profile: &Profile, as_json: bool) -> Result<ExitCode> {
    let (parsed, is_vtt) = formats::read::subtitle_file(file)?;
    let mut violations = parsed.problems.clone();
    violations.extend(evaluate(&parsed.cues, profile));
    violations.sort_by_key(|v| (v.cue, v.rule));
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for v in &violations {
        *counts.entry(v.rule.name()).or_default() += 1;
    }
    fn j<T: serde::Serialize + ?Sized>(v: &T) -> String {
        serde_json::to_string(v).unwrap_or_else(|_| "null".into())
    }
    let write = || -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        if as_json {
            // Streamed, one violation a line: no second copy of the report in memory.
            writeln!(out, "{{")?;
            writeln!(out, "  \"file\": {},", j(&file.display().to_string()))?;
            writeln!(out, "  \"format\": \"{}\",", if is_vtt { "vtt" } else { "srt" })?;
            writeln!(out, "  \"profile\": {},", j(profile))?;
            writeln!(out, "  \"cues\": {},", parsed.cues.len())?;
            writeln!(out, "  \"notes\": {},", j(&parsed.notes))?;
            write!(out, "  \"violations\": [")?;
            for (i, v) in violations.iter().enumerate() {
                write!(out, "{}\n    {}", if i == 0 { "" } else { "," }, j(v))?;
            }
            writeln!(out, "{}],", if violations.is_empty() { "" } else { "\n  " })?;
            writeln!(out, "  \"summary\": {}", j(&counts))?;
            writeln!(out, "}}")?;
        } else {
            for v in &violations {
                writeln!(out, "{}: {v}", file.display())?;
            }
            let summary = counts.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
            let notes = if parsed.notes.is_empty() { String::new() } else { format!(" [{}]", parsed.notes.join(", ")) };
            writeln!(
                out,
                "{}: {} cues, {} violations under {}{}{}",
                file.display(),
                parsed.cues.len(),
                violations.len(),
                profile.name,
                if summary.is_empty() { String::new() } else { format!(" ({summary})") },
                notes
            )?;
        }
        out.flush()
    };
    write().context("writing to stdout")?;
    Ok(if violations.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The words of a transcript file, whatever its format.
fn transcript_text(path: &Path) -> Result<String> {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    if ext == "srt" || ext == "vtt" {
        // The subtitle readers: cue text only (no NOTEs, numbers, timings or tags).
        let (parsed, _) = formats::read::subtitle_file(path)?;
        return Ok(parsed.cues.iter().map(|c| c.lines.join(" ")).collect::<Vec<_>>().join(" "));
    }
    let raw = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(if ext == "json" {
        json::read(&raw[..])
            .with_context(|| format!("{} is not a vidscribe transcript", path.display()))?
            .transcript
            .text()
    } else {
        String::from_utf8_lossy(&raw).into_owned()
    })
}

/// `score REF.rttm doc.json`: diarization error of the document's speaker turns.
fn score_speakers(reference: &Path, rttm: &str, hypothesis: &Path) -> Result<ExitCode> {
    use vidscribe::eval::{LabelledTurn, read_rttm, speaker_errors};
    let truth = read_rttm(rttm).with_context(|| format!("{}: not RTTM", reference.display()))?;
    let raw = std::fs::read(hypothesis).with_context(|| format!("cannot read {}", hypothesis.display()))?;
    let doc =
        json::read(&raw[..]).with_context(|| format!("{} is not a vidscribe JSON transcript", hypothesis.display()))?;
    let hyp: Vec<LabelledTurn> =
        doc.speaker_turns.iter().map(|t| (t.start_ms, t.end_ms, t.speaker.to_string())).collect();
    let count = |t: &[LabelledTurn]| t.iter().map(|x| &x.2).collect::<std::collections::BTreeSet<_>>().len();
    let (collar, none) = (speaker_errors(&truth, &hyp, 250), speaker_errors(&truth, &hyp, 0));
    outln!(
        "DER {:.2}% with a 0.25 s collar ({:.2}% missed, {:.2}% false alarm, {:.2}% confusion), {:.2}% without; {} speakers found, {} in the reference",
        collar.rate() * 100.0,
        collar.missed as f64 * 100.0 / collar.speech.max(1) as f64,
        collar.false_alarm as f64 * 100.0 / collar.speech.max(1) as f64,
        collar.confusion as f64 * 100.0 / collar.speech.max(1) as f64,
        none.rate() * 100.0,
        count(&hyp),
        count(&truth)
    );
    Ok(ExitCode::SUCCESS)
}

fn score(reference: &Path, hypothesis: &Path, times: Option<&Path>, article_path: Option<&Path>) -> Result<ExitCode> {
    let r = std::fs::read_to_string(reference).with_context(|| format!("cannot read {}", reference.display()))?;
    if reference.extension().is_some_and(|e| e.eq_ignore_ascii_case("rttm")) {
        return score_speakers(reference, &r, hypothesis);
    }
    let e = vidscribe::eval::word_errors(&r, &transcript_text(hypothesis)?);
    outln!(
        "WER {:.2}% ({} substitutions, {} deletions, {} insertions, {} reference words)",
        e.rate() * 100.0,
        e.substitutions,
        e.deletions,
        e.insertions,
        e.reference_words
    );
    if let Some(times) = times {
        let tsv = std::fs::read_to_string(times).with_context(|| format!("cannot read {}", times.display()))?;
        let script = vidscribe::eval::read_script(&tsv)
            .with_context(|| format!("{}: no start_ms/end_ms columns", times.display()))?;
        let truth: Vec<(u64, u64)> = script.iter().map(|r| (r.start_ms, r.end_ms)).collect();
        let raw = std::fs::read(hypothesis).with_context(|| format!("cannot read {}", hypothesis.display()))?;
        let doc = json::read(&raw[..])
            .with_context(|| format!("{} is not a vidscribe JSON transcript", hypothesis.display()))?;
        let captions = doc.captions.context("the transcript has no cues")?;
        let errors = vidscribe::eval::cue_start_errors(&captions.cues, &truth);
        outln!(
            "cue start error: median {} ms, 95th percentile {} ms, max {} ms over {} segments; {} rule violations under {}",
            vidscribe::eval::percentile(&errors, 0.5),
            vidscribe::eval::percentile(&errors, 0.95),
            errors.last().copied().unwrap_or(0),
            errors.len(),
            captions.violations.len(),
            captions.profile.name
        );
        if let Some(links) = &doc.links
            && script.iter().any(|r| !r.kind.is_empty())
        {
            let l = vidscribe::eval::link_score(&script, &links.passages);
            outln!(
                "links: precision {:.1}%, recall {:.1}% ({} right, {} wrong or extra, {} missed; kind right for {} of {} from the article)",
                l.precision() * 100.0,
                l.recall() * 100.0,
                l.true_positives,
                l.false_positives,
                l.false_negatives,
                l.kind_right,
                l.from_article
            );
        }
        if let Some(path) = article_path {
            let a = job::read_article(path)?;
            let names: Vec<String> = wording::names(&a).into_iter().map(|n| n.text).collect();
            let said: Vec<&str> = script.iter().map(|r| r.text.as_str()).collect();
            let cue_text: Vec<String> = captions.cues.iter().map(|c| c.lines.join(" ")).collect();
            let n = vidscribe::eval::names_spelled(&names, &said.join(" "), &cue_text.join(" "));
            outln!(
                "names: {} of {} spoken ({:.1}%) spelled as in the article in the subtitles; {} of {} distinct names; missed: {}",
                n.right,
                n.spoken,
                n.rate() * 100.0,
                n.distinct_right,
                n.distinct_spoken,
                if n.missed.is_empty() { "none".to_string() } else { n.missed.join(", ") }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn model_command(cmd: &ModelCommand, show: bool) -> Result<ExitCode> {
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

/// `text` cut to at most `max` characters, with an ellipsis saying so.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}…")
}
