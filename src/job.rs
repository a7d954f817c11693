//! The whole job as library calls: a [`JobConfig`] plus a [`Progress`] sink and a [`Cancel`]
//! flag give a finished [`Report`] (decode → recognise → link the article → captions), which is
//! then rendered into an [`OutputSet`]. `transcribe`, `run`, `batch` and the tests all go through
//! here; the binary only builds the config, draws progress and maps errors to exit codes.
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::align::{EditError, Edited, Hearing};
use crate::article::{self, Article, ArticleError, link, wording};
use crate::asr::model::{self, ModelError};
use crate::asr::vad::{self, VadError};
use crate::asr::{Forcer, Model, TranscribeError, TranscribeOptions};
use crate::captions::guard::guard;
use crate::captions::{Profile, build_cues_named};
use crate::correction::Revision;
use crate::formats::json::{self, Document, Meta};
use crate::formats::{self, Format, vtt};
use crate::media::{self, DecodeError, DecodeOptions};
use crate::output::{OutputError, OutputSet, refuse_inputs};
use crate::pipeline::{self, PipelineError, Stats};
use crate::progress::{Cancel, Progress};

/// An error and its causes on one line, each cause once (library errors either show their
/// source in their message or return it from `source()`, never both).
pub fn one_line(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(c) = cur {
        parts.push(c.to_string());
        cur = c.source();
    }
    parts.retain(|p| !p.is_empty());
    parts.join(": ").replace('\n', " ")
}

/// Where the media comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Media {
    File(PathBuf),
    Stdin,
}

impl Media {
    /// `-` is standard input.
    pub fn from_arg(arg: &str) -> Self {
        if arg == "-" { Media::Stdin } else { Media::File(PathBuf::from(arg)) }
    }

    /// As the user named it.
    pub fn name(&self) -> String {
        match self {
            Media::File(p) => p.display().to_string(),
            Media::Stdin => "stdin".into(),
        }
    }

    /// The stem output files are named after.
    pub fn stem(&self) -> String {
        match self {
            Media::File(p) => p.file_stem().map_or("output".into(), |s| s.to_string_lossy().into_owned()),
            Media::Stdin => "stdin".into(),
        }
    }
}

/// The article a report belongs to, and what to take from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleSpec {
    /// A file, or `-` for stdin.
    pub path: PathBuf,
    /// Put its title and names into Whisper's prompt.
    pub prompt: bool,
    /// Give quoted passages the article's own words.
    pub wording: bool,
    /// Correct near-miss spellings of its names.
    pub fix_names: bool,
}

impl ArticleSpec {
    /// Every kind of help from the article (as `run` and `batch` use it), or only the links.
    pub fn full(path: PathBuf, literal: bool) -> Self {
        Self { path, prompt: !literal, wording: !literal, fix_names: !literal }
    }
}

/// Everything that decides what a job produces.
#[derive(Debug, Clone)]
pub struct JobConfig {
    pub media: Media,
    pub article: Option<ArticleSpec>,
    /// The model file; `None` finds the default one.
    pub model: Option<PathBuf>,
    /// Voice activity detection (cue starts on speech onsets, text over silence caught).
    pub vad: bool,
    pub options: TranscribeOptions,
    pub decode: DecodeOptions,
    pub profile: Profile,
    pub meta: Meta,
    /// Where media and article were fetched from, when they were (`run URL`).
    pub web: WebSources,
    /// Damaged media is an error rather than a warning.
    pub strict: bool,
    /// The speaker model for `--speakers`; `None` finds the default one.
    pub speaker_model: Option<PathBuf>,
    /// A report made again drops the edits its earlier version had (else they are kept).
    pub discard_edits: bool,
    /// A text the speech follows (`--script`): its words captioned where they were spoken.
    pub script: Option<PathBuf>,
}

/// The web addresses inputs came from, recorded in the document.
#[derive(Debug, Clone, Default)]
pub struct WebSources {
    /// The media's address, recorded as the input's path too.
    pub media: Option<json::WebSource>,
    pub article: Option<json::WebSource>,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot read article {path}")]
    ReadArticle {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("article {path}")]
    Article {
        path: String,
        #[source]
        source: ArticleError,
    },
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    SpeakerModel(#[from] crate::speakers::model::SpeakerModelError),
    #[error("use --no-vad to go without")]
    VadModel(#[source] VadError),
    #[error(transparent)]
    Vad(VadError),
    #[error(transparent)]
    Load(#[from] TranscribeError),
    #[error("{what}")]
    Media {
        what: String,
        #[source]
        source: DecodeError,
    },
    #[error("{what}")]
    Recognition {
        what: String,
        #[source]
        source: PipelineError,
    },
    #[error("cannot read {path}")]
    ReadTranscript {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a vidscribe JSON transcript")]
    Transcript {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path} has edits that do not fit the new recognition (--discard-edits makes the report afresh)")]
    Edits {
        path: PathBuf,
        #[source]
        source: EditError,
    },
    #[error("the speech does not follow the script {path}")]
    Script {
        path: String,
        #[source]
        source: EditError,
    },
    #[error(transparent)]
    TextFile(#[from] formats::read::TextFileError),
    #[error("the report's media was not found (looked for {0})")]
    NoMedia(String),
    #[error("interrupted")]
    Cancelled,
    #[error(transparent)]
    Output(#[from] OutputError),
}

impl JobError {
    /// The user asked to stop (Ctrl-C or a signal), as opposed to a failure.
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self,
            JobError::Cancelled
                | JobError::Output(OutputError::Cancelled)
                | JobError::Recognition { source: PipelineError::Cancelled, .. }
        )
    }
}

/// A transcript made, with everything recorded in its document.
#[derive(Debug, Clone)]
pub struct Report {
    pub doc: Document,
    /// WebVTT NOTEs (what the hallucination guard removed).
    pub notes: Vec<vtt::Note>,
    pub stats: Stats,
    /// Time to load the model and the VAD.
    pub load: Duration,
}

/// Silero VAD runs thousands of tiny graphs, each full of thread barriers at which ggml's workers
/// busy-wait: a second thread buys nothing (LibriSpeech 279 s, idle, AMD EPYC Zen 4: 652 ms on
/// one thread, 912 ms on two) and, beside any other busy process, turns seconds into minutes.
pub const VAD_THREADS: usize = 1;

/// A model loading in its own thread: the model and how long it took.
type Loading = JoinHandle<Result<(Model, Duration), TranscribeError>>;

/// The recogniser, kept across the reports of a batch. Its model may still be loading in a
/// thread of its own ([`Engine::start`]) while the first audio is decoded and searched for
/// speech; it is waited for when the first window is ready.
pub struct Engine {
    model: OnceLock<(Model, Duration)>,
    loading: Mutex<Option<Loading>>,
    vad_model: Option<PathBuf>,
    /// The speaker-embedding network, when speaker turns are asked for (loading in a thread of
    /// its own until first needed).
    speaker_net: Option<crate::speakers::model::Loading>,
}

impl Engine {
    /// Checks and loads the model (with DTW word timing if asked and known for it) and finds the
    /// VAD model when `vad` is on.
    pub fn load(model: Option<&Path>, dtw: bool, vad: bool) -> Result<Self, JobError> {
        let engine = Self::start(model, dtw, vad)?;
        engine.loaded()?;
        Ok(engine)
    }

    /// As [`load`](Self::load), but the model is read and checked in a thread of its own (about
    /// 140 ms for tiny.en, a fifth of it the checksum), overlapping the decoding of the first
    /// audio. Where the model or the VAD model are is found at once, so a missing one is still
    /// the first error.
    pub fn start(model: Option<&Path>, dtw: bool, vad: bool) -> Result<Self, JobError> {
        let path = model::resolve(model)?;
        let vad_model = if vad { Some(vad::find_model().map_err(JobError::VadModel)?) } else { None };
        let loading = std::thread::Builder::new()
            .name("model".into())
            .spawn(move || {
                let started = Instant::now();
                Model::load_with(&path, dtw).map(|m| (m, started.elapsed()))
            })
            .map_err(|e| TranscribeError::Whisper(format!("cannot start a thread to load the model: {e}")))?;
        Ok(Self { model: OnceLock::new(), loading: Mutex::new(Some(loading)), vad_model, speaker_net: None })
    }

    /// Finds the speaker model (`given`, else the default one) when `wanted` and starts loading
    /// and checking it in a thread of its own: a missing one is an error at once, a damaged one
    /// as soon as the first audio has been read (before any recognition, and nothing written).
    pub fn with_speakers(mut self, wanted: bool, given: Option<&Path>) -> Result<Self, JobError> {
        if wanted {
            let path = crate::speakers::model::resolve(given)?;
            self.speaker_net = Some(crate::speakers::model::Loading::start(path)?);
        }
        Ok(self)
    }

    /// The speaker model, waited for, when speaker turns were asked for.
    pub fn speaker_net(&self) -> Result<Option<&crate::speakers::campplus::CamPlus>, JobError> {
        Ok(match &self.speaker_net {
            Some(loading) => Some(loading.wait()?),
            None => None,
        })
    }

    /// The model and how long it took to load, waited for if it is still loading.
    fn loaded(&self) -> Result<&(Model, Duration), TranscribeError> {
        let mut loading = self.loading.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(handle) = loading.take() {
            let got = handle.join().map_err(|_| TranscribeError::Whisper("loading the model failed".into()))??;
            let _ = self.model.set(got);
        }
        // Only empty after a failure that was already returned to the first caller.
        self.model.get().ok_or_else(|| TranscribeError::Whisper("the model could not be loaded".into()))
    }

    pub fn model(&self) -> Result<&Model, JobError> {
        Ok(&self.loaded()?.0)
    }

    /// Time the model took to load (much of it hidden behind decoding when started early).
    pub fn load_time(&self) -> Duration {
        self.model.get().map_or(Duration::ZERO, |m| m.1)
    }
}

impl pipeline::ModelSource for Engine {
    fn model(&self) -> Result<&Model, TranscribeError> {
        Ok(&self.loaded()?.0)
    }
}

/// Reads and parses an article (`-` is stdin).
pub fn read_article(path: &Path) -> Result<Article, JobError> {
    let name = path.display().to_string();
    let read_err = |source| JobError::ReadArticle { path: name.clone(), source };
    // Never more than the limit (and one byte to tell) is read, from a file or from stdin.
    let limit = article::parse::MAX_ARTICLE_BYTES as u64 + 1;
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        std::io::stdin().take(limit).read_to_end(&mut bytes).map_err(read_err)?;
    } else {
        crate::hash::regular(path)
            .and_then(|()| std::fs::File::open(path))
            .and_then(|f| f.take(limit).read_to_end(&mut bytes))
            .map_err(read_err)?;
    }
    article::parse_any(&bytes).map_err(|source| JobError::Article { path: name, source })
}

/// Reads a vidscribe JSON transcript.
pub fn read_document(path: &Path) -> Result<Document, JobError> {
    let file = std::fs::File::open(path).map_err(|source| JobError::ReadTranscript { path: path.into(), source })?;
    let mut doc = json::read(std::io::BufReader::new(file))
        .map_err(|source| JobError::Transcript { path: path.into(), source })?;
    // An edited document is as untrusted as any input.
    doc.transcript.make_safe();
    Ok(doc)
}

/// A config's article, read and checked before any time is spent on recognition.
pub struct Prepared {
    article: Option<(String, Article)>,
    options: TranscribeOptions,
    /// The script's path as given and its text.
    script: Option<(String, String)>,
}

/// Reads the article and completes the options (the article's names in the prompt).
pub fn prepare(cfg: &JobConfig) -> Result<Prepared, JobError> {
    if cfg.media == Media::Stdin && cfg.article.as_ref().is_some_and(|a| a.path == Path::new("-")) {
        return Err(JobError::Usage("the video and the article cannot both come from stdin".into()));
    }
    let article = match &cfg.article {
        Some(a) => Some((a.path.display().to_string(), read_article(&a.path)?)),
        None => None,
    };
    let mut options = cfg.options.clone();
    if let (Some(spec), Some((_, a))) = (&cfg.article, &article)
        && spec.prompt
    {
        let names = wording::prompt(a);
        options.prompt = Some(match options.prompt.take() {
            Some(p) => format!("{p} {names}"),
            None => names,
        });
    }
    let script = match &cfg.script {
        Some(p) => {
            let bytes = formats::read::text_bytes(p, crate::align::script::MAX_SCRIPT_BYTES)?;
            let text = formats::read::decode_text(&bytes, &mut Default::default());
            Some((p.display().to_string(), text))
        }
        None => None,
    };
    Ok(Prepared { article, options, script })
}

/// Decodes, detects speech, recognises, links to the article and builds cues.
pub fn transcribe(
    cfg: &JobConfig,
    prepared: Prepared,
    engine: &Engine,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Report, JobError> {
    let what = cfg.media.name();
    let media_err = |source| JobError::Media { what: what.clone(), source };
    let mut stream = match &cfg.media {
        Media::Stdin => media::Stream::open_stream(media::spool::Origin::Stdin, &cfg.decode).map_err(media_err)?,
        Media::File(p) => media::Stream::open_path(p, &cfg.decode).map_err(media_err)?,
    };
    let mut detector = match &engine.vad_model {
        Some(m) => Some(vad::Detector::new(m, VAD_THREADS).map_err(JobError::Vad)?),
        None => None,
    };
    let mut options = prepared.options;
    let mut embedder = match (&options.speakers, &engine.speaker_net) {
        (Some(_), Some(net)) => Some(crate::speakers::Embedder::loading(net, stream.declared_ms())),
        (Some(_), None) => return Err(JobError::Usage("speaker turns were asked for without a speaker model".into())),
        _ => None,
    };
    // The script's words are timed from the audio again, and the article's rare names asked of
    // the decoder over it: it is kept as it is decoded (for names, up to MAX_ASKED_AUDIO_MS).
    let mut kept = Vec::new();
    let asks_names = cfg.article.as_ref().is_some_and(|a| a.fix_names) && prepared.article.is_some();
    let keep = (prepared.script.is_some() || asks_names).then_some(&mut kept);
    let limit =
        prepared.script.is_none().then(|| crate::time::ms_to_samples(MAX_ASKED_AUDIO_MS, media::resample::TARGET_RATE));
    let mut source = Source { stream: &mut stream, strict: cfg.strict, keep, limit };
    let recognised =
        pipeline::recognise(&mut source, engine, detector.as_mut(), embedder.as_mut(), &options, progress, cancel)
            .map_err(|source| match source {
                pipeline::PipelineError::Model(e) => JobError::Load(e),
                pipeline::PipelineError::SpeakerModel(e) => JobError::SpeakerModel(e),
                source => JobError::Recognition { what: what.clone(), source },
            })?;
    let model = engine.model()?;
    options.dtw = model.uses_dtw();
    if cancel.is_cancelled() {
        return Err(JobError::Cancelled);
    }
    let pipeline::Recognised { mut transcript, speech, mut stats } = recognised;
    let audio = stream.info();
    transcript.make_safe();
    // The script's words where they were spoken, before speakers label the words.
    let mut corrections = Vec::new();
    let script = match &prepared.script {
        Some((path, text)) => {
            let speech = speech.clone().unwrap_or_default();
            let mut hear = Forcer::new(model, &transcript.language, 1).ok().map(|forcer| Hearing {
                pcm: &kept,
                speech: &speech,
                forcer,
                threads: options.threads,
                cancel,
            });
            let followed = crate::align::script::follow(&transcript, text, path, hear.as_mut());
            if cancel.is_cancelled() {
                return Err(JobError::Cancelled);
            }
            let (t, c, report) = followed.map_err(|source| JobError::Script { path: path.clone(), source })?;
            kept = Vec::new();
            transcript = t;
            transcript.make_safe();
            corrections = c;
            Some(report)
        }
        None => None,
    };
    let diarization = match (&options.speakers, embedder) {
        (Some(o), Some(e)) => crate::speakers::assign(e.into_items(), &mut transcript, o),
        _ => None,
    };
    if let Some(d) = &diarization {
        stats.speakers += d.time;
    }
    let (speakers, speaker_turns) = diarization.map(|d| (d.speakers, d.turns)).unwrap_or_default();
    let mut doc = Document {
        schema: json::SCHEMA,
        tool: json::Tool::current(),
        input: json::Input {
            path: match (&cfg.web.media, &cfg.media) {
                (Some(w), _) => crate::secret::address(&w.url),
                (None, Media::File(p)) => p.display().to_string(),
                (None, Media::Stdin) => "-".into(),
            },
            web: cfg.web.media.clone(),
            audio,
        },
        model: model.info.clone(),
        options,
        threads_used: Some(json::ThreadsUsed {
            recognition: [stats.min_threads, stats.max_threads],
            vad: if engine.vad_model.is_some() { VAD_THREADS } else { 0 },
            lanes: stats.lanes.max(1),
        }),
        redecoded: stats.redecoded.clone(),
        transcript,
        speech,
        captions: None,
        article: None,
        links: None,
        corrections,
        meta: cfg.meta.clone(),
        archive: None,
        speakers,
        speaker_turns,
        revisions: Vec::new(),
        script,
    };
    if let (Some(spec), Some((path, a))) = (&cfg.article, prepared.article) {
        // A fetched page is known by its address, not by its place in the cache.
        let path = cfg.web.article.as_ref().map_or(path, |w| w.url.clone());
        // The decoder is asked on a copy of the model without DTW timing, which whisper.cpp
        // would otherwise compute at every pass (a fifth of its time) for nothing.
        let scorer = (!kept.is_empty()).then(|| Model::load_with(&model.info.path, false).ok()).flatten();
        let mut hear = scorer
            .as_ref()
            .and_then(|m| Forcer::scorer(m, &doc.transcript.language, 1).ok())
            .map(|forcer| Hearing { pcm: &kept, speech: &[], forcer, threads: doc.options.threads, cancel });
        apply_article(&mut doc, a, path, spec, hear.as_mut());
        drop(hear);
        if cancel.is_cancelled() {
            return Err(JobError::Cancelled);
        }
        if let Some(article) = doc.article.as_mut() {
            article.web = cfg.web.article.clone();
        }
    }
    let notes = build_captions(&mut doc, &cfg.profile);
    Ok(Report { doc, notes, stats, load: engine.load_time() })
}

/// The input stream as recognition reads it: stopped at the first damage it reports when
/// strict (`--strict`: nothing after it is recognised, nothing is written), and its samples also
/// kept when asked (to time a script's words from the audio again).
struct Source<'a> {
    stream: &'a mut media::Stream,
    strict: bool,
    keep: Option<&'a mut Vec<f32>>,
    /// Samples kept at most: past it, none are (an hour is 230 MB).
    limit: Option<usize>,
}

/// Adds `new` to `kept` unless that passes `limit` samples, in which case nothing is kept any
/// more (`kept` emptied, memory returned): whether it still keeps.
fn keep_within(kept: &mut Vec<f32>, new: &[f32], limit: Option<usize>) -> bool {
    if limit.is_some_and(|l| kept.len() + new.len() > l) {
        *kept = Vec::new();
        return false;
    }
    kept.extend_from_slice(new);
    true
}

/// Longest input whose audio is kept for asking the decoder about the article's names
/// ([`crate::article::heard`]): 30 minutes, 115 MB of samples. Longer inputs keep the other
/// name corrections only.
pub const MAX_ASKED_AUDIO_MS: crate::time::Ms = 30 * 60 * 1000;

impl pipeline::PcmSource for Source<'_> {
    fn read(&mut self, out: &mut Vec<f32>, want: usize) -> Result<bool, media::DecodeError> {
        let from = out.len();
        let more = self.stream.read(out, want)?;
        let lost = self.stream.damaged();
        if self.strict && !lost.is_empty() {
            return Err(media::DecodeError::Refused(media::decode::describe_damage(lost)));
        }
        if let Some(kept) = self.keep.as_mut()
            && !keep_within(kept, &out[from..], self.limit)
        {
            self.keep = None;
        }
        Ok(more)
    }
    fn total_ms(&self) -> Option<crate::time::Ms> {
        self.stream.declared_ms()
    }
}

/// Links the transcript to the article and applies the corrections asked for, recording all;
/// with the report's audio (`hear`), the article's rare names are also asked of the decoder
/// where it heard something doubtful ([`crate::article::heard`]).
pub fn apply_article(doc: &mut Document, a: Article, path: String, spec: &ArticleSpec, hear: Option<&mut Hearing>) {
    let links = link(&doc.transcript, &a);
    // A script says what was said: the article's wording and spellings do not override it.
    let scripted = doc.script.is_some();
    if (spec.wording || spec.fix_names) && !scripted {
        // With the report's audio, the decoder's tokenizer tells ordinary words (one token said
        // after a space) from names only the article spells; without it, none is taken for a name.
        let ordinary = |w: &str| hear.as_ref().is_none_or(|h| h.forcer.word_tokens(w).len() == 1);
        let (c, mut links) =
            wording::correct_settled(&doc.transcript, &a, links, spec.wording, spec.fix_names, &ordinary);
        doc.transcript = c.transcript;
        doc.corrections.extend(c.corrections);
        if let Some(hear) = hear.filter(|_| spec.fix_names) {
            let prompt = doc.options.prompt.clone().unwrap_or_default();
            // Only a stop ends it early; the caller sees that.
            if let Ok(asked) = crate::article::heard::ask(&doc.transcript, &a, &prompt, hear)
                && !asked.corrections.is_empty()
            {
                doc.transcript = asked.transcript;
                doc.transcript.make_safe();
                doc.corrections.extend(asked.corrections);
                doc.corrections.sort_by_key(|c| c.start_ms);
                links = link(&doc.transcript, &a);
            }
        }
        doc.links = Some(links);
    } else {
        doc.links = Some(links);
    }
    // Speakers take the names the article gives the quotes they speak.
    if let Some(links) = doc.links.as_ref().filter(|_| !doc.speakers.is_empty()) {
        let words: Vec<crate::asr::Word> = doc.transcript.words().cloned().collect();
        let quotes = crate::article::attribution::attributions(&a);
        crate::speakers::names::name_from_article(&mut doc.speakers, &words, &links.passages, &quotes);
    }
    doc.article = Some(json::ArticleSource { path: crate::secret::address(&path), web: None, article: a });
}

/// The user this process runs as (for revisions), else "unknown".
pub fn os_user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()))
        .map_or_else(|| "unknown".into(), |u| crate::text::safe_line(&u))
}

/// What laying an edit over a document did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaidOver {
    /// Corrections made.
    pub changes: usize,
    /// Runs of new words that recognition did not time, and how many were timed from the audio.
    pub untimed: usize,
    pub aligned: usize,
}

/// Lays `edited` over `doc` as revision `revision` and makes the captions again (the editor's
/// cues kept as set when the edit had times); `hear`, the report's audio, times the new words.
/// `None` when the edit changes nothing.
pub fn lay_over(
    doc: &mut Document,
    edited: &Edited,
    revision: Revision,
    hear: Option<&mut Hearing>,
) -> Result<Option<LaidOver>, EditError> {
    let old_cues = doc.captions.as_ref().map(|c| c.cues.clone());
    let applied = crate::align::apply(&doc.transcript, edited, old_cues.as_deref(), revision.number, hear)?;
    let same_cues = match (&applied.cues, &old_cues) {
        (Some(new), Some(old)) => {
            new.len() == old.len()
                && new
                    .iter()
                    .zip(old)
                    .all(|(a, b)| (a.start_ms, a.end_ms, &a.lines) == (b.start_ms, b.end_ms, &b.lines))
        }
        (None, _) => true,
        (Some(_), None) => false,
    };
    if applied.corrections.is_empty() && same_cues {
        return Ok(None);
    }
    let changes = applied.corrections.len();
    let laid = LaidOver { changes, untimed: applied.untimed, aligned: applied.aligned };
    doc.transcript = applied.transcript;
    doc.transcript.make_safe();
    doc.corrections.extend(applied.corrections);
    doc.revisions.push(Revision { changes, ..revision });
    if let Some(a) = &doc.article {
        doc.links = Some(link(&doc.transcript, &a.article));
    }
    let profile = doc.captions.as_ref().map(|c| c.profile.clone()).unwrap_or_default();
    doc.captions = applied.cues.map(|cues| json::Captions {
        profile: profile.clone(),
        cues,
        violations: Vec::new(),
        flagged: Vec::new(),
        edited: true,
    });
    build_captions(doc, &profile);
    Ok(Some(laid))
}

/// As [`lay_over`], with the new words timed from the report's audio, which `find` gives (asked
/// for only when the edit has new words). With the result, why they could not be heard, if so
/// (they were then spread between their neighbours).
pub fn lay_over_heard(
    doc: &mut Document,
    edited: &Edited,
    revision: Revision,
    find: impl FnOnce() -> Result<Listener, JobError>,
    cancel: &Cancel,
) -> Result<Option<(LaidOver, Option<String>)>, EditError> {
    let mut trial = doc.clone();
    let Some(laid) = lay_over(&mut trial, edited, revision.clone(), None)? else { return Ok(None) };
    if laid.untimed == 0 {
        *doc = trial;
        return Ok(Some((laid, None)));
    }
    let listener = match find() {
        Ok(l) => l,
        Err(e) => {
            *doc = trial;
            return Ok(Some((laid, Some(one_line(&e)))));
        }
    };
    let Some(mut hear) = listener.hearing(cancel) else {
        *doc = trial;
        return Ok(Some((laid, Some(format!("model {} cannot time words", listener.model.info.name)))));
    };
    let heard = lay_over(doc, edited, revision, Some(&mut hear))?;
    if cancel.is_cancelled() {
        return Err(EditError::Cancelled);
    }
    Ok(heard.map(|l| (l, None)))
}

/// The edits of the report that `before` (a JSON document) holds, kept in `report` unless the
/// job discards them; nothing when there is no such document or it has no edits.
pub fn keep_edits_of(report: &mut Report, before: &Path, cfg: &JobConfig, cancel: &Cancel) -> Result<(), JobError> {
    if cfg.discard_edits {
        return Ok(());
    }
    let Ok(old) = read_document(before) else { return Ok(()) };
    if old.revisions.is_empty() {
        return Ok(());
    }
    // The editor's new words timed from the audio again (between their neighbours if it
    // cannot be heard).
    let media = match &cfg.media {
        Media::File(p) => Some(p.as_path()),
        Media::Stdin => None,
    };
    let dir = folder_of(before);
    let listener = Listener::find(&report.doc, dir, media, cfg.model.as_deref(), cancel).ok();
    let mut hear = listener.as_ref().and_then(|l| l.hearing(cancel));
    let kept = keep_edits(&mut report.doc, &old, hear.as_mut());
    if cancel.is_cancelled() {
        return Err(JobError::Cancelled);
    }
    kept.map_err(|source| JobError::Edits { path: before.to_path_buf(), source })?;
    // The guard's notes were for words the editor has since approved or replaced.
    report.notes.clear();
    Ok(())
}

/// The editor's version a document holds: its cues when an editor set them, else its words
/// (segment by segment) when it has been edited at all.
pub fn editor_version(doc: &Document) -> Option<Edited> {
    if doc.revisions.is_empty() {
        return None;
    }
    match &doc.captions {
        Some(c) if c.edited => Some(Edited::from_cues(&c.cues)),
        _ => Some(Edited::from_text(
            &doc.transcript.segments.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join("\n\n"),
        )),
    }
}

/// A new recognition of a report that was edited: the edits laid over it again (the editor's
/// words and cues, timed from the new recognition and `hear`, its audio), the revision history
/// carried over.
pub fn keep_edits(doc: &mut Document, before: &Document, hear: Option<&mut Hearing>) -> Result<(), EditError> {
    let (Some(edited), Some(last)) = (editor_version(before), before.revisions.last().cloned()) else {
        return Ok(());
    };
    lay_over(doc, &edited, last, hear)?;
    // The history is the editors', not this run's.
    doc.revisions = before.revisions.clone();
    Ok(())
}

/// What times an edit's new words from the audio: a report's audio, decoded, and a model that
/// times words by DTW.
pub struct Listener {
    pcm: Vec<f32>,
    speech: Vec<crate::time::Span>,
    language: String,
    model: Model,
}

impl Listener {
    /// The audio of the report `doc` whose outputs are in `dir` — `media` if given, else the
    /// input's copy beside the report (its own name, or a batch's `media.*`), else the input
    /// where it was — and `model` (else the default model).
    pub fn find(
        doc: &Document,
        dir: &Path,
        media: Option<&Path>,
        model: Option<&Path>,
        cancel: &Cancel,
    ) -> Result<Self, JobError> {
        let path = match media {
            Some(m) => m.to_path_buf(),
            None => media_beside(dir, doc)
                .map(|name| dir.join(name))
                .or_else(|| Some(PathBuf::from(&doc.input.path)).filter(|p| p.is_file()))
                .ok_or_else(|| JobError::NoMedia(format!("{} and media.* in {}", doc.input.path, dir.display())))?,
        };
        let what = path.display().to_string();
        // Only a file: a FIFO given as the media would wait for a writer for ever.
        crate::hash::regular(&path)
            .map_err(|e| JobError::Media { what: what.clone(), source: DecodeError::Open(e) })?;
        let model = Model::load_with(&model::resolve(model)?, true)?;
        let audio = media::decode_path(&path, &DecodeOptions::default(), &crate::progress::Silent, cancel)
            .map_err(|source| JobError::Media { what, source })?;
        Ok(Self {
            pcm: audio.samples,
            speech: doc.speech.clone().unwrap_or_default(),
            language: doc.transcript.language.clone(),
            model,
        })
    }

    /// The hearing new words are timed by; none when the model cannot time words.
    pub fn hearing<'a>(&'a self, cancel: &'a Cancel) -> Option<Hearing<'a, 'a>> {
        let forcer = Forcer::new(&self.model, &self.language, 1).ok()?;
        Some(Hearing {
            pcm: &self.pcm,
            speech: &self.speech,
            forcer,
            threads: crate::asr::transcribe::default_threads(),
            cancel,
        })
    }
}

/// The name of the report's media in its folder `dir`: the input's own name, else the copy a
/// batch keeps (`media.*`).
pub fn media_beside(dir: &Path, doc: &Document) -> Option<String> {
    Path::new(&doc.input.path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| dir.join(n).is_file())
        .or_else(|| {
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("media.") && dir.join(n).is_file())
                .min()
        })
}

/// Guards the transcript, builds cues under `profile` and records both in the document; returns
/// the WebVTT NOTEs for what the guard removed.
pub fn build_captions(doc: &mut Document, profile: &Profile) -> Vec<vtt::Note> {
    // An editor's cues stay as the editor set them, under the profile they were made for (the
    // rules still say what they break).
    if let Some(c) = doc.captions.as_mut().filter(|c| c.edited && c.profile == *profile) {
        c.violations = crate::captions::rules::evaluate(&c.cues, profile);
        if let Some(links) = &mut doc.links {
            let spans: Vec<(u64, u64)> = c.cues.iter().map(|c| (c.start_ms, c.end_ms)).collect();
            links.link_cues(&spans);
        }
        return Vec::new();
    }
    // Nor does the guard second-guess an editor's words.
    let (words, flagged) = if doc.revisions.is_empty() {
        guard(&doc.transcript, doc.speech.as_deref())
    } else {
        (doc.transcript.words().cloned().collect(), Vec::new())
    };
    let names: Vec<(u32, String)> = doc.speakers.iter().map(|s| (s.id, s.label())).collect();
    let layout = build_cues_named(&words, &doc.transcript.language, profile, doc.speech.as_deref(), &names);
    let notes = flagged
        .iter()
        .map(|f| vtt::Note {
            at_ms: f.start_ms,
            text: crate::text::safe_line(&format!(
                "removed ({}): {}",
                serde_json::to_string(&f.reason).unwrap_or_default().trim_matches('"'),
                f.text
            )),
        })
        .collect();
    if let Some(links) = &mut doc.links {
        let spans: Vec<(u64, u64)> = layout.cues.iter().map(|c| (c.start_ms, c.end_ms)).collect();
        links.link_cues(&spans);
    }
    doc.captions = Some(json::Captions {
        profile: profile.clone(),
        cues: layout.cues,
        violations: layout.violations,
        flagged,
        edited: false,
    });
    notes
}

/// Renders one format of a document. `video` is the media's address relative to the page.
pub fn render(f: Format, w: &mut dyn Write, doc: &Document, notes: &[vtt::Note], video: &str) -> std::io::Result<()> {
    let cues: &[crate::captions::Cue] = doc.captions.as_ref().map_or(&[], |c| &c.cues);
    let voices: Vec<(u32, String)> = doc.speakers.iter().map(|s| (s.id, s.label())).collect();
    match f {
        Format::Srt => formats::srt::write(w, cues),
        Format::Vtt => vtt::write_voiced(w, cues, notes, &voices),
        Format::Json => json::write(w, doc),
        Format::Txt => formats::txt::write(w, &doc.transcript),
        Format::Html => {
            let mut track = Vec::new();
            vtt::write_voiced(&mut track, cues, notes, &voices)?;
            crate::report::html::write(w, doc, video, &String::from_utf8_lossy(&track))
        }
    }
}

/// What to write and where.
#[derive(Debug, Clone)]
pub struct Outputs {
    pub dir: PathBuf,
    pub formats: Vec<Format>,
    /// Files are named `{stem}.{ext}`, except the page.
    pub stem: String,
    /// The page's file name when `formats` has [`Format::Html`] (`run` writes `report.html`).
    pub page: Option<String>,
    /// A copy of the media to put beside the page (hard link where possible), under this name.
    pub media_copy: Option<(String, PathBuf)>,
    /// The address the page plays the video from, when it is already known (a report made
    /// again where its video is); else from `media_copy` or the input.
    pub video: Option<String>,
    /// Files the set must never replace.
    pub inputs: Vec<PathBuf>,
}

impl Outputs {
    fn name_of(&self, f: Format) -> String {
        match (&self.page, f) {
            (Some(p), Format::Html) => p.clone(),
            _ => format!("{}.{}", self.stem, f.extension()),
        }
    }

    /// Every path the set will write.
    pub fn targets(&self) -> Vec<PathBuf> {
        let mut t: Vec<PathBuf> = self.formats.iter().map(|&f| self.dir.join(self.name_of(f))).collect();
        if let Some((name, _)) = &self.media_copy {
            t.push(self.dir.join(name));
        }
        t
    }

    /// Fails now, before any work, if an output would replace an input.
    pub fn check(&self) -> Result<(), JobError> {
        Ok(refuse_inputs(&self.targets(), &self.inputs)?)
    }
}

/// Writes `outputs` of `report` as one set: all files appear together, or none.
pub fn write_outputs(
    doc: &Document,
    notes: &[vtt::Note],
    outputs: &Outputs,
    cancel: &Cancel,
) -> Result<Vec<PathBuf>, JobError> {
    let mut set = OutputSet::begin(&outputs.dir, &outputs.inputs)?;
    let video = match (&outputs.video, &outputs.media_copy, outputs.formats.contains(&Format::Html)) {
        (_, _, false) => String::new(),
        (Some(v), _, true) => v.clone(),
        (None, Some((name, source)), true) => {
            set.add_copy(name, source)?;
            url_path(name)
        }
        // The page finds the video relative to itself (as given, when it cannot be resolved).
        (None, None, true) => {
            relative_path(&outputs.dir, Path::new(&doc.input.path)).unwrap_or_else(|| doc.input.path.clone())
        }
    };
    for &f in &outputs.formats {
        set.add(&outputs.name_of(f), |w| render(f, w, doc, notes, &video))?;
    }
    Ok(set.commit(cancel)?)
}

/// The output set a report's JSON lives in, made again (into `out` when given): the formats
/// found beside it, its page, and the address that page plays the video from.
pub fn outputs_beside(report: &Path, out: Option<&Path>, doc: &Document) -> Outputs {
    let from = folder_of(report).to_path_buf();
    let dir = out.map_or_else(|| from.clone(), Path::to_path_buf);
    let stem = report.file_stem().map_or("report".into(), |s| s.to_string_lossy().into_owned());
    let (formats, page) = formats_beside(&from, &stem);
    let video = page_video(&from, &dir, doc);
    Outputs { dir, formats, stem, page, media_copy: None, video: Some(video), inputs: Vec::new() }
}

/// The folder a file is in: its parent, or `.` for a bare name (whose parent is "").
pub fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The formats of a report's outputs beside its JSON (`stem.srt`, …, its page), the JSON always.
fn formats_beside(dir: &Path, stem: &str) -> (Vec<Format>, Option<String>) {
    let mut formats: Vec<Format> = [Format::Srt, Format::Vtt, Format::Txt]
        .into_iter()
        .filter(|f| dir.join(format!("{stem}.{}", f.extension())).is_file())
        .collect();
    formats.push(Format::Json);
    let page = [format!("{stem}.html"), "report.html".to_string()].into_iter().find(|p| dir.join(p).is_file());
    if page.is_some() {
        formats.push(Format::Html);
    }
    (formats, page)
}

/// The address the page plays the video from: a copy in the report's folder (a batch's
/// `media.*`, or the input's own name), else the input where it is.
fn page_video(from: &Path, dir: &Path, doc: &Document) -> String {
    match media_beside(from, doc) {
        Some(name) if from.canonicalize().ok() == dir.canonicalize().ok() => url_path(&name),
        Some(name) => relative_path(dir, &from.join(&name)).unwrap_or(name),
        None => relative_path(dir, Path::new(&doc.input.path)).unwrap_or_else(|| doc.input.path.clone()),
    }
}

/// Writes one format to a stream (stdout).
pub fn write_stream(doc: &Document, notes: &[vtt::Note], f: Format, w: &mut dyn Write) -> std::io::Result<()> {
    render(f, w, doc, notes, &doc.input.path)?;
    w.flush()
}

/// Percent-encodes the characters of a path that would end or change a URL path (`/` is kept).
pub fn url_path(segment: &str) -> String {
    segment.replace('%', "%25").replace('#', "%23").replace('?', "%3F").replace(' ', "%20")
}

/// `target` as a URL path relative to the directory `from` (both must exist).
pub fn relative_path(from: &Path, target: &Path) -> Option<String> {
    let from = from.canonicalize().ok()?;
    let target = target.canonicalize().ok()?;
    let common = from.components().zip(target.components()).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = from.components().skip(common).map(|_| "..".to_string()).collect();
    parts.extend(target.components().skip(common).map(|c| c.as_os_str().to_string_lossy().into_owned()));
    Some(parts.iter().map(|p| url_path(p)).collect::<Vec<_>>().join("/"))
}

/// The whole job for one input: prepare, load, recognise, write. Returns the report and the
/// files written.
pub fn run(
    cfg: &JobConfig,
    outputs: &Outputs,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<(Report, Vec<PathBuf>), JobError> {
    outputs.check()?;
    let mut report = recognise(cfg, progress, cancel)?;
    let before = outputs.dir.join(format!("{}.{}", outputs.stem, Format::Json.extension()));
    keep_edits_of(&mut report, &before, cfg, cancel)?;
    let written = write_outputs(&report.doc, &report.notes, outputs, cancel)?;
    Ok((report, written))
}

/// One input from start to report: the article read and the model found first (so that their
/// errors come before any decoding), the model loading while [`transcribe`] decodes the first
/// audio.
pub fn recognise(cfg: &JobConfig, progress: &dyn Progress, cancel: &Cancel) -> Result<Report, JobError> {
    let prepared = prepare(cfg)?;
    let engine = Engine::start(cfg.model.as_deref(), cfg.options.dtw, cfg.vad)?
        .with_speakers(cfg.options.speakers.is_some(), cfg.speaker_model.as_deref())?;
    transcribe(cfg, prepared, &engine, progress, cancel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_is_kept_up_to_its_limit_then_not_at_all() {
        let mut kept = Vec::new();
        assert!(keep_within(&mut kept, &[0.5; 6], Some(10)));
        assert!(keep_within(&mut kept, &[0.5; 4], Some(10)));
        assert_eq!(kept.len(), 10);
        assert!(!keep_within(&mut kept, &[0.5; 1], Some(10)));
        assert!(kept.is_empty() && kept.capacity() == 0);
        // A script's audio has no limit.
        assert!(keep_within(&mut kept, &[0.5; 100], None));
        // The limit is half an hour of 16 kHz samples.
        assert_eq!(crate::time::ms_to_samples(MAX_ASKED_AUDIO_MS, media::resample::TARGET_RATE), 30 * 60 * 16_000);
    }
}
