//! The vidscribe command: parses arguments, runs the job, prints the error chain on one line and
//! turns the outcome into an exit code. The only place that knows about terminals.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use vidscribe::article::{self, link, wording};
use vidscribe::asr::{self, model, quantize, vad};
use vidscribe::captions::guard::guard;
use vidscribe::captions::rules::evaluate;
use vidscribe::captions::{Profile, build_cues};
use vidscribe::cli::{ArticleArgs, Cli, Command, ModelCommand, ProfileArgs, RunArgs, TranscribeArgs};
use vidscribe::formats::{self, Format, json, vtt};
use vidscribe::media;
use vidscribe::output::write_atomically;
use vidscribe::pipeline;
use vidscribe::progress::{Cancel, Progress};
use vidscribe::time::clock;

static CANCEL: Cancel = Cancel::new();

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
        let total = total_ms.unwrap_or(0);
        self.bar.reset();
        self.bar.set_length(total.max(1));
        self.bar.set_position(0);
        let style = ProgressStyle::with_template("{msg:>12} {wide_bar} {percent:>3}%  {elapsed} elapsed, {eta} left")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        self.bar.set_style(style);
        self.bar.set_message(stage.to_string());
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
        if CANCEL.is_cancelled() {
            // A second Ctrl-C: stop now. Outputs are only ever renamed into place when complete.
            std::process::exit(130);
        }
        CANCEL.cancel();
    });
    let result = run(&cli);
    match result {
        Ok(code) => code,
        Err(_) if CANCEL.is_cancelled() => {
            eprintln!("vidscribe: interrupted; no output written");
            ExitCode::from(130)
        }
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("vidscribe: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<ExitCode> {
    let show = !cli.quiet && std::io::stderr().is_terminal();
    match &cli.command {
        Command::Transcribe(args) => transcribe(args, show),
        Command::Run(args) => run_job(args, show),
        Command::Subtitle { transcript, output, format, article, profile } => {
            subtitle(transcript, output, format, article, &profile_of(profile)?, show)
        }
        Command::Check { file, profile, json } => check(file, &profile_of(profile)?, *json),
        Command::Profile { profile } => {
            print!("{}", toml::to_string(&profile_of(profile)?).context("profile as TOML")?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Model(m) => model_command(m),
        Command::Score { reference, hypothesis, times, article } => {
            score(reference, hypothesis, times.as_deref(), article.as_deref())
        }
    }
}

fn profile_of(args: &ProfileArgs) -> Result<Profile> {
    args.resolve().map_err(|e| anyhow::anyhow!(e))
}

/// Guards the transcript, builds cues under `profile` and records both in the document.
fn build_captions(doc: &mut json::Document, profile: &Profile) -> Vec<vtt::Note> {
    let (words, flagged) = guard(&doc.transcript, doc.speech.as_deref());
    let layout = build_cues(&words, &doc.transcript.language, profile, doc.speech.as_deref());
    let notes = flagged
        .iter()
        .map(|f| vtt::Note {
            at_ms: f.start_ms,
            text: format!(
                "removed ({}): {}",
                serde_json::to_string(&f.reason).unwrap_or_default().trim_matches('"'),
                f.text
            ),
        })
        .collect();
    if let Some(links) = &mut doc.links {
        let spans: Vec<(u64, u64)> = layout.cues.iter().map(|c| (c.start_ms, c.end_ms)).collect();
        links.link_cues(&spans);
    }
    doc.captions =
        Some(json::Captions { profile: profile.clone(), cues: layout.cues, violations: layout.violations, flagged });
    notes
}

/// Writes the chosen formats of `doc` into `output` (a directory, or - for stdout).
fn write_outputs(
    doc: &json::Document,
    notes: &[vtt::Note],
    formats: &[Format],
    output: &str,
    stem: &str,
) -> Result<Vec<String>> {
    let cues: &[vidscribe::captions::Cue] = doc.captions.as_ref().map_or(&[], |c| &c.cues);
    // The page finds the video relative to itself (as given, when it cannot be resolved).
    let page_dir = if output == "-" { PathBuf::from(".") } else { PathBuf::from(output) };
    let render = |f: Format, w: &mut dyn Write| -> std::io::Result<()> {
        match f {
            Format::Srt => formats::srt::write(w, cues),
            Format::Vtt => vtt::write_with_notes(w, cues, notes),
            Format::Json => json::write(w, doc),
            Format::Txt => formats::txt::write(w, &doc.transcript),
            Format::Html => {
                let mut track = Vec::new();
                vtt::write_with_notes(&mut track, cues, notes)?;
                let video =
                    relative_path(&page_dir, Path::new(&doc.input.path)).unwrap_or_else(|_| doc.input.path.clone());
                vidscribe::report::html::write(w, doc, &video, &String::from_utf8_lossy(&track))
            }
        }
    };
    if output == "-" {
        if formats.len() != 1 {
            bail!("-o - writes to stdout, which takes exactly one format (use e.g. -f srt)");
        }
        let mut out = std::io::stdout().lock();
        render(formats[0], &mut out).context("writing to stdout")?;
        return Ok(vec!["stdout".into()]);
    }
    let dir = PathBuf::from(output);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create output directory {}", dir.display()))?;
    let mut written = Vec::new();
    for &f in formats {
        let path = dir.join(format!("{stem}.{}", f.extension()));
        write_atomically(&path, |w| render(f, w))?;
        written.push(path.display().to_string());
    }
    Ok(written)
}

/// A transcript made, with everything recorded in its document.
struct Job {
    doc: json::Document,
    notes: Vec<vtt::Note>,
    stem: String,
}

fn read_article(path: &Path) -> Result<article::Article> {
    let bytes = if path == Path::new("-") {
        let mut b = Vec::new();
        std::io::stdin().read_to_end(&mut b).context("reading the article from stdin")?;
        b
    } else {
        std::fs::read(path).with_context(|| format!("cannot read article {}", path.display()))?
    };
    article::parse_any(&bytes).with_context(|| format!("article {}", path.display()))
}

/// Decodes, detects speech, recognises, links to the article and builds cues.
fn make_transcript(args: &TranscribeArgs, from_article: &ArticleArgs, show: bool) -> Result<Job> {
    let profile = profile_of(&args.profile)?;
    let mut opts = args.transcribe_options();
    if args.input == "-" && from_article.article.as_deref() == Some(Path::new("-")) {
        bail!("the video and the article cannot both come from stdin");
    }
    // Read the article and find the models before spending time on decoding.
    let article = match &from_article.article {
        Some(p) => Some((p.display().to_string(), read_article(p)?)),
        None => None,
    };
    if let (true, Some((_, a))) = (from_article.prompt_from_article, &article) {
        let names = wording::prompt(a);
        opts.prompt = Some(match opts.prompt.take() {
            Some(p) => format!("{p} {names}"),
            None => names,
        });
    }
    let model_path = model::resolve(args.model.as_deref())?;
    model::check(&model_path)?;
    let vad_model = if args.no_vad { None } else { Some(vad::find_model().context("use --no-vad to go without")?) };

    let bar = Bar::new(show);
    let started = Instant::now();
    let decode_opts = args.decode_options();
    let (mut stream, stem) = if args.input == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).context("reading stdin")?;
        (media::Stream::open_bytes(bytes.into(), &decode_opts).context("stdin")?, "stdin".to_string())
    } else {
        let path = Path::new(&args.input);
        let stream = media::Stream::open_path(path, &decode_opts).with_context(|| args.input.clone())?;
        let stem = path.file_stem().map_or("output".into(), |s| s.to_string_lossy().into_owned());
        (stream, stem)
    };
    let mut detector = match &vad_model {
        Some(m) => Some(vad::Detector::new(m, opts.threads)?),
        None => None,
    };
    let model = asr::Model::load_with(&model_path, opts.dtw)?;
    let opts = asr::TranscribeOptions { dtw: model.uses_dtw(), ..opts };
    let loaded = Instant::now();
    let what = if args.input == "-" { "stdin".to_string() } else { args.input.clone() };
    let recognised = pipeline::recognise(&mut stream, &model, detector.as_mut(), &opts, &bar, &CANCEL).context(what)?;
    let source = stream.info();
    if source.skipped_packets > 0 && show {
        eprintln!("vidscribe: warning: {} damaged packets replaced by silence", source.skipped_packets);
    }
    let pipeline::Recognised { transcript, speech, stats } = recognised;
    let finished = Instant::now();
    if CANCEL.is_cancelled() {
        bail!("interrupted");
    }
    if args.stats {
        let ms = |d: std::time::Duration| d.as_millis();
        eprintln!(
            "vidscribe: stats: audio_ms={} load_ms={} decode_ms={} vad_ms={} transcribe_ms={} windows={} retried={} split={} peak_buffer_s={:.1} rtf={:.4}",
            stats.audio_ms,
            ms(loaded - started),
            ms(stats.decode),
            ms(stats.vad),
            ms(stats.recognise),
            stats.windows,
            stats.retried,
            stats.split,
            stats.peak_buffer_samples as f64 / 16_000.0,
            (finished - started).as_secs_f64() * 1000.0 / stats.audio_ms.max(1) as f64
        );
    }
    let mut doc = json::Document {
        schema: json::SCHEMA,
        tool: json::Tool::current(),
        input: json::Input { path: args.input.clone(), audio: source },
        model: model.info.clone(),
        options: opts,
        transcript,
        speech,
        captions: None,
        article: None,
        links: None,
        corrections: Vec::new(),
    };
    if let Some((path, a)) = article {
        apply_article(&mut doc, a, path, from_article);
    }
    let notes = build_captions(&mut doc, &profile);
    Ok(Job { doc, notes, stem })
}

/// Links the transcript to the article and applies the corrections asked for, recording all.
fn apply_article(doc: &mut json::Document, a: article::Article, path: String, from_article: &ArticleArgs) {
    let links = link(&doc.transcript, &a);
    if from_article.article_wording || from_article.fix_names {
        let c = wording::correct(&doc.transcript, &a, &links, from_article.article_wording, from_article.fix_names);
        doc.links = Some(link(&c.transcript, &a));
        doc.transcript = c.transcript;
        doc.corrections.extend(c.corrections);
    } else {
        doc.links = Some(links);
    }
    doc.article = Some(json::ArticleSource { path, article: a });
}

fn report_done(show: bool, job: &Job, written: &[String]) {
    if !show {
        return;
    }
    let doc = &job.doc;
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

fn transcribe(args: &TranscribeArgs, show: bool) -> Result<ExitCode> {
    let formats = args.formats();
    if args.output == "-" && formats.len() != 1 {
        bail!("-o - writes to stdout, which takes exactly one format (use e.g. -f srt)");
    }
    let job = make_transcript(args, &args.article, show)?;
    let written = write_outputs(&job.doc, &job.notes, &formats, &args.output, &job.stem)?;
    report_done(show, &job, &written);
    Ok(ExitCode::SUCCESS)
}

/// `run`: the transcript with all the article's help, the files, and report.html.
fn run_job(args: &RunArgs, show: bool) -> Result<ExitCode> {
    let t = &args.transcribe;
    if t.article.article.is_none() {
        bail!("run needs --article FILE (use `vidscribe transcribe` for a video without its article)");
    }
    if t.output == "-" {
        bail!("run writes several files: give an output directory with -o");
    }
    if t.input == "-" {
        bail!("run needs the video as a file, so that report.html can play it");
    }
    let on = !args.literal;
    let from_article = ArticleArgs {
        article: t.article.article.clone(),
        prompt_from_article: on || t.article.prompt_from_article,
        article_wording: on || t.article.article_wording,
        fix_names: on || t.article.fix_names,
    };
    let job = make_transcript(t, &from_article, show)?;
    let formats: Vec<Format> = t.formats().into_iter().filter(|f| *f != Format::Html).collect();
    let mut written = write_outputs(&job.doc, &job.notes, &formats, &t.output, &job.stem)?;
    // The page is always report.html, whatever the video is called.
    written.extend(write_outputs(&job.doc, &job.notes, &[Format::Html], &t.output, "report")?);
    report_done(show, &job, &written);
    Ok(ExitCode::SUCCESS)
}

/// `target` as a URL path relative to the directory `from` (both must exist).
fn relative_path(from: &Path, target: &Path) -> Result<String> {
    let from = from.canonicalize().with_context(|| format!("cannot resolve {}", from.display()))?;
    let target = target.canonicalize().with_context(|| format!("cannot resolve {}", target.display()))?;
    let common = from.components().zip(target.components()).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = from.components().skip(common).map(|_| "..".to_string()).collect();
    parts.extend(target.components().skip(common).map(|c| c.as_os_str().to_string_lossy().into_owned()));
    Ok(parts
        .iter()
        .map(|p| p.replace('%', "%25").replace('#', "%23").replace('?', "%3F").replace(' ', "%20"))
        .collect::<Vec<_>>()
        .join("/"))
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
    let file = std::fs::File::open(transcript).with_context(|| format!("cannot read {}", transcript.display()))?;
    let mut doc = json::read(std::io::BufReader::new(file))
        .with_context(|| format!("{} is not a vidscribe JSON transcript", transcript.display()))?;
    if let Some(path) = &from_article.article {
        let a = read_article(path)?;
        apply_article(&mut doc, a, path.display().to_string(), from_article);
    }
    let notes = build_captions(&mut doc, profile);
    let stem = transcript.file_stem().map_or("output".into(), |s| s.to_string_lossy().into_owned());
    let written = write_outputs(&doc, &notes, &formats::unique(formats), output, &stem)?;
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

fn check(file: &Path, profile: &Profile, as_json: bool) -> Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let is_vtt = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes).starts_with(b"WEBVTT")
        || file.extension().is_some_and(|e| e.eq_ignore_ascii_case("vtt"));
    let parsed = if is_vtt { vtt::read(&bytes) } else { formats::srt::read(&bytes) };
    let mut violations = parsed.problems.clone();
    violations.extend(evaluate(&parsed.cues, profile));
    violations.sort_by_key(|v| (v.cue, v.rule));
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for v in &violations {
        *counts.entry(v.rule.name()).or_default() += 1;
    }
    if as_json {
        let report = serde_json::json!({
            "file": file.display().to_string(),
            "format": if is_vtt { "vtt" } else { "srt" },
            "profile": profile,
            "cues": parsed.cues.len(),
            "notes": parsed.notes,
            "violations": violations,
            "summary": counts,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for v in &violations {
            println!("{}: {v}", file.display());
        }
        let summary = counts.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
        let notes = if parsed.notes.is_empty() { String::new() } else { format!(" [{}]", parsed.notes.join(", ")) };
        println!(
            "{}: {} cues, {} violations under {}{}{}",
            file.display(),
            parsed.cues.len(),
            violations.len(),
            profile.name,
            if summary.is_empty() { String::new() } else { format!(" ({summary})") },
            notes
        );
    }
    Ok(if violations.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The words of a transcript file, whatever its format.
fn transcript_text(path: &Path) -> Result<String> {
    let raw = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    Ok(match ext.as_str() {
        "json" => json::read(raw.as_bytes())
            .with_context(|| format!("{} is not a vidscribe transcript", path.display()))?
            .transcript
            .text(),
        "srt" | "vtt" => raw
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.contains("-->") && l.parse::<u64>().is_err() && *l != "WEBVTT")
            .collect::<Vec<_>>()
            .join(" "),
        _ => raw,
    })
}

fn score(reference: &Path, hypothesis: &Path, times: Option<&Path>, article_path: Option<&Path>) -> Result<ExitCode> {
    let r = std::fs::read_to_string(reference).with_context(|| format!("cannot read {}", reference.display()))?;
    let e = vidscribe::eval::word_errors(&r, &transcript_text(hypothesis)?);
    println!(
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
        println!(
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
            println!(
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
            let a = read_article(path)?;
            let names: Vec<String> = wording::names(&a).into_iter().map(|n| n.text).collect();
            let said: Vec<&str> = script.iter().map(|r| r.text.as_str()).collect();
            let cue_text: Vec<String> = captions.cues.iter().map(|c| c.lines.join(" ")).collect();
            let n = vidscribe::eval::names_spelled(&names, &said.join(" "), &cue_text.join(" "));
            println!(
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

fn model_command(cmd: &ModelCommand) -> Result<ExitCode> {
    match cmd {
        ModelCommand::Import { paths } => {
            let (out, inputs) = paths.split_last().context("give the inputs, then the output file")?;
            let h = asr::import::import(inputs, out)?;
            let (info, _) = model::inspect(out)?;
            println!(
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
            println!(
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
                println!(
                    "no models in {}; run scripts/fetch-model.sh",
                    dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
                );
            }
            println!("{:<10} {:<6} {:>8}  {:<12} {:<64}  PATH", "NAME", "TYPE", "SIZE", "LANGUAGES", "SHA256");
            for m in models {
                match m {
                    Ok(i) => println!(
                        "{:<10} {:<6} {:>6}MB  {:<12} {:<64}  {}",
                        i.name,
                        i.weights,
                        i.size_bytes / 1_000_000,
                        if i.multilingual { "multilingual" } else { "English" },
                        i.sha256,
                        i.path.display()
                    ),
                    Err(e) => println!("{:<10} {e}", "INVALID"),
                }
            }
        }
        ModelCommand::Check { file } => {
            let (info, layout) = model::inspect(file)?;
            println!(
                "{}: ok: {} ({}), {} tensors, {} tokens, {} bytes, sha256 {}",
                file.display(),
                info.name,
                info.weights,
                layout.tensors.len(),
                layout.vocab.len(),
                info.size_bytes,
                info.sha256
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
