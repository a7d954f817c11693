//! A whole collection, unattended: inputs from folders, files or a manifest; one report folder
//! per media file under the archive, holding the same files as `run` and the media itself; a
//! report whose inputs, model and output-affecting options are unchanged is skipped; a failing
//! input is recorded and the batch goes on; the database is updated as each report finishes.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::claim::Worker;
use super::store::{Db, Entry, RowStamp, Store, StoreError};
use crate::formats::Format;
use crate::formats::json::{ArchiveStamp, Document, Meta};
use crate::job::{self, ArticleSpec, Engine, JobConfig, JobError, Media, Outputs};
use crate::progress::{Cancel, Progress};
use crate::time::Ms;

/// Folders are searched this deep for media.
pub const MAX_DEPTH: usize = 16;
/// Most inputs one batch takes (folders, manifests and files together).
pub const MAX_ITEMS: usize = 100_000;
/// Largest manifest read.
pub const MAX_MANIFEST_BYTES: u64 = 64 << 20;
/// An article beside a media file has its stem and one of these endings (first found wins).
pub const ARTICLE_EXTENSIONS: [&str; 5] = ["html", "htm", "md", "txt", "markdown"];
/// The batch's log inside the archive.
pub const LOG_FILE: &str = "batch.log";

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error("{path} is neither a folder, a media file nor a manifest (.csv or .jsonl)")]
    NotAnInput { path: PathBuf },
    #[error("more than {MAX_ITEMS} inputs; split the collection into several batches")]
    TooMany,
    #[error("{path} is over {MAX_MANIFEST_BYTES} bytes; split the manifest")]
    ManifestTooLarge { path: PathBuf },
    #[error("no media found in {0}")]
    Nothing(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
    #[error("cannot write the batch log {path}")]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("lost its claim on {report}: another batch took it over after the lease ran out")]
    ClaimLost { report: String },
    #[error("interrupted")]
    Cancelled,
}

impl BatchError {
    /// The user asked to stop.
    pub fn is_cancelled(&self) -> bool {
        match self {
            BatchError::Cancelled => true,
            BatchError::Job(e) => e.is_cancelled(),
            BatchError::Remote(crate::remote::RemoteError::Net(crate::net::NetError::Cancelled)) => true,
            BatchError::Remote(crate::remote::RemoteError::YtDlp(crate::ytdlp::YtDlpError::Cancelled)) => true,
            _ => false,
        }
    }
}

/// One report to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// A file, or a web address (a media file or a player page).
    pub media: PathBuf,
    /// A file, or the article page's web address.
    pub article: Option<PathBuf>,
    pub meta: Meta,
}

/// Whether a manifest entry is a web address rather than a path.
fn is_web(p: &Path) -> bool {
    crate::net::is_url(&p.to_string_lossy())
}

/// A manifest row (CSV with a header row, or one JSON object per line).
#[derive(Debug, Deserialize)]
struct Row {
    video: String,
    #[serde(default)]
    article: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

fn is_media(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(crate::media::is_media_extension)
}

/// The article beside `media`: same stem, an article ending.
fn sibling_article(media: &Path) -> Option<PathBuf> {
    ARTICLE_EXTENSIONS.iter().map(|e| media.with_extension(e)).find(|p| p.is_file())
}

pub fn valid_date(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && {
            // A day of the calendar: 2020-02-30 is not one.
            let (y, m, day) =
                (d[..4].parse::<u32>().unwrap_or(0), d[5..7].parse().unwrap_or(0), d[8..10].parse().unwrap_or(0));
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let days = match m {
                1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                4 | 6 | 9 | 11 => 30,
                2 if leap => 29,
                2 => 28,
                _ => 0,
            };
            (1..=days).contains(&day)
        }
}

fn blank(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// Where the line holding an unterminated quote of a CSV text begins (1-based), if one is left
/// open at the end: the csv reader would take every following row into that field.
fn open_quote(text: &str) -> Option<usize> {
    let (mut line, mut inside, mut opened) = (1, false, 0);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if inside && chars.peek() == Some(&'"') => {
                chars.next();
            }
            '"' => {
                inside = !inside;
                if inside {
                    opened = line;
                }
            }
            '\n' => line += 1,
            _ => {}
        }
    }
    inside.then_some(opened)
}

/// `path` (relative to `base`, or absolute) without `..` that leaves it, symbolic links
/// resolved where the file exists: whether it lies inside `base`.
fn inside(base: &Path, path: &Path) -> bool {
    let Ok(base) = base.canonicalize() else { return false };
    let full = if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
    let resolved = full.canonicalize().unwrap_or_else(|_| {
        let mut out = PathBuf::new();
        for c in full.components() {
            match c {
                std::path::Component::ParentDir => {
                    out.pop();
                }
                std::path::Component::CurDir => {}
                other => out.push(other),
            }
        }
        out
    });
    resolved.starts_with(&base)
}

fn read_manifest(path: &Path, allow_outside: bool) -> Result<Vec<Item>, BatchError> {
    let read_err = |source| BatchError::Read { path: path.to_path_buf(), source };
    let len = std::fs::metadata(path).map_err(read_err)?.len();
    if len > MAX_MANIFEST_BYTES {
        return Err(BatchError::ManifestTooLarge { path: path.to_path_buf() });
    }
    let mut text = String::new();
    std::fs::File::open(path).map_err(read_err)?.read_to_string(&mut text).map_err(read_err)?;
    let bad = |line: usize, message: String| BatchError::Manifest {
        path: path.to_path_buf(),
        message: format!("line {line}: {message}"),
    };
    let mut rows: Vec<(usize, Row)> = Vec::new();
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
        if let Some(line) = open_quote(&text) {
            return Err(bad(line, "a quote that is never closed (it would swallow every row after it)".into()));
        }
        let mut r = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
        for (i, row) in r.deserialize::<Row>().enumerate() {
            rows.push((i + 2, row.map_err(|e| bad(i + 2, e.to_string()))?));
            if rows.len() > MAX_ITEMS {
                return Err(BatchError::TooMany);
            }
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            rows.push((i + 1, serde_json::from_str(line).map_err(|e| bad(i + 1, e.to_string()))?));
            if rows.len() > MAX_ITEMS {
                return Err(BatchError::TooMany);
            }
        }
    }
    let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut videos: HashMap<String, usize> = HashMap::new();
    rows.into_iter()
        .map(|(line, r)| {
            if let Some(first) = videos.insert(r.video.trim().to_string(), line) {
                return Err(bad(line, format!("video {:?} is listed again (first on line {first})", r.video.trim())));
            }
            let date = blank(r.date);
            if let Some(d) = &date
                && !valid_date(d)
            {
                return Err(bad(line, format!("date {d:?} is not YYYY-MM-DD")));
            }
            if r.video.trim().is_empty() {
                return Err(bad(line, "no video".into()));
            }
            // Paths are relative to the manifest and stay in its folder; web addresses are kept
            // as they are.
            let place = |v: &str| -> Result<PathBuf, BatchError> {
                if crate::net::is_url(v) {
                    return Ok(PathBuf::from(v));
                }
                if !allow_outside && !inside(base, Path::new(v)) {
                    return Err(bad(
                        line,
                        format!("{v:?} is outside the manifest's folder (--allow-outside allows it)"),
                    ));
                }
                Ok(base.join(v))
            };
            Ok(Item {
                media: place(r.video.trim())?,
                article: blank(r.article).map(|a| place(a.trim())).transpose()?,
                meta: Meta {
                    title: blank(r.title),
                    date,
                    source: blank(r.source),
                    url: blank(r.url).map(|u| crate::secret::address(&u)),
                },
            })
        })
        .collect()
}

/// The files under `dir` for which `keep` holds, in a stable order, down to [`MAX_DEPTH`] folders;
/// hidden files and folders (the archive's own temporaries too) are passed over, and symbolic
/// links to folders are not followed (no cycles).
fn files_under(
    dir: &Path,
    keep: &dyn Fn(&Path) -> bool,
    depth: usize,
    out: &mut Vec<PathBuf>,
) -> Result<(), BatchError> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| BatchError::Read { path: dir.to_path_buf(), source })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.file_name().is_none_or(|n| n.to_string_lossy().starts_with('.')) {
            continue;
        }
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
            files_under(&p, keep, depth + 1, out)?;
        } else if keep(&p) && p.is_file() {
            out.push(p);
        }
        if out.len() > MAX_ITEMS {
            return Err(BatchError::TooMany);
        }
    }
    Ok(())
}

/// A quoted glob pattern (`'reports/**/*.mp4'`: no shell argument limit for large collections) as
/// the paths it matches; any other input as it is.
fn expand(input: &Path) -> Result<Vec<PathBuf>, BatchError> {
    let text = input.to_string_lossy();
    if input.exists() || !text.contains(['*', '?', '[']) {
        return Ok(vec![input.to_path_buf()]);
    }
    let bad = |message: String| BatchError::Manifest { path: input.to_path_buf(), message };
    let mut found = Vec::new();
    for entry in glob::glob(&text).map_err(|e| bad(format!("not a usable pattern ({e})")))? {
        found.push(entry.map_err(|e| BatchError::Read { path: e.path().to_path_buf(), source: e.into() })?);
        if found.len() > MAX_ITEMS {
            return Err(BatchError::TooMany);
        }
    }
    if found.is_empty() {
        return Err(BatchError::Nothing(text.into_owned()));
    }
    Ok(found)
}

/// Turns folders, media files, glob patterns and manifests into the reports to make, in a stable order, each
/// media file once. `skip` (the archive itself) is never searched.
pub fn collect(inputs: &[PathBuf], skip: Option<&Path>, allow_outside: bool) -> Result<Vec<Item>, BatchError> {
    let skip = skip.and_then(|s| s.canonicalize().ok());
    let mut items = Vec::new();
    let mut expanded = Vec::new();
    for input in inputs {
        expanded.extend(expand(input)?);
    }
    for input in &expanded {
        let meta = std::fs::metadata(input).map_err(|source| BatchError::Read { path: input.clone(), source })?;
        if meta.is_dir() {
            let mut found = Vec::new();
            files_under(input, &is_media, 0, &mut found)?;
            found.retain(|m| skip.as_ref().is_none_or(|s| !m.canonicalize().is_ok_and(|m| m.starts_with(s))));
            if found.is_empty() {
                return Err(BatchError::Nothing(input.display().to_string()));
            }
            items.extend(found.into_iter().map(|media| Item {
                article: sibling_article(&media),
                media,
                meta: Meta::default(),
            }));
        } else if input.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv") || e.eq_ignore_ascii_case("jsonl")) {
            items.extend(read_manifest(input, allow_outside)?);
        } else if meta.is_file() {
            // A file named on the command line is taken as media whatever its ending.
            let article = sibling_article(input).filter(|a| a != input);
            items.push(Item { media: input.clone(), article, meta: Meta::default() });
        } else {
            return Err(BatchError::NotAnInput { path: input.clone() });
        }
        if items.len() > MAX_ITEMS {
            return Err(BatchError::TooMany);
        }
    }
    // A media file named twice (a folder and a manifest) is one report, with whatever metadata
    // and article either gave (the first where both did).
    let mut at: HashMap<PathBuf, usize> = HashMap::new();
    let mut once: Vec<Item> = Vec::with_capacity(items.len());
    for item in items {
        let key = item.media.canonicalize().unwrap_or_else(|_| item.media.clone());
        match at.get(&key) {
            Some(&k) => {
                let first = &mut once[k];
                first.meta = std::mem::take(&mut first.meta).or(item.meta);
                if first.article.is_none() {
                    first.article = item.article;
                }
            }
            None => {
                at.insert(key, once.len());
                once.push(item);
            }
        }
    }
    Ok(once)
}

/// The report's folder name: the media's stem made safe, and a short checksum of its content
/// (so `report.mp4` and `report.webm` do not collide, and a renamed file keeps its folder).
pub fn folder_name(media: &Path, media_sha256: &str) -> String {
    let stem = media.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut safe: String =
        stem.chars().map(|c| if c.is_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).take(60).collect();
    if safe.is_empty() || safe.starts_with(['.', '-']) {
        safe.insert(0, 'r');
    }
    format!("{safe}-{}", &media_sha256[..10.min(media_sha256.len())])
}

/// The options of a batch: everything but the inputs.
#[derive(Debug, Clone)]
pub struct BatchConfig {
    pub archive: PathBuf,
    /// A template: media, article and meta are set per report.
    pub job: JobConfig,
    /// Links only, no article wording, prompt or name fixes.
    pub literal: bool,
    /// For manifest entries that are web addresses.
    pub web_limits: crate::net::Limits,
    /// The database: the archive folder's archive.db, or a shared PostgreSQL one.
    pub db: Db,
    /// How long a claim on a report lasts unless renewed (a crashed batch's reports are taken
    /// over after it).
    pub lease: std::time::Duration,
}

/// What recognition made a report from: when this is unchanged the report is not recognised
/// again. Threads and other speed-only options do not count; nor does the manifest's metadata,
/// which is updated in place.
#[derive(Serialize)]
struct Fingerprint<'a> {
    schema: u32,
    media_sha256: &'a str,
    article_sha256: Option<&'a str>,
    model_sha256: &'a str,
    language: &'a Option<String>,
    translate: bool,
    prompt: &'a Option<String>,
    beam: usize,
    dtw: bool,
    vad: bool,
    track: Option<usize>,
    literal: bool,
    profile: &'a crate::captions::Profile,
}

/// How one report went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done {
        report: String,
        audio_ms: Ms,
        /// What was lost to damage in the media, described for people (empty when nothing).
        damage: String,
    },
    Skipped {
        report: String,
    },
    /// Not recognised again: its metadata changed, or it was missing from the database.
    Updated {
        report: String,
    },
    /// Another batch holds it (`seconds` of its lease left), or made it while this one waited.
    Elsewhere {
        report: String,
        worker: String,
        seconds: u64,
    },
    Failed {
        error: String,
    },
}

/// What a batch reports as it goes. Every method defaults to doing nothing.
pub trait Observer: Sync {
    /// The batch is planned: `total` reports, `audio_ms` of media where its length is known.
    fn planned(&self, _total: usize, _audio_ms: Ms) {}
    /// Report `index` (0-based) begins.
    fn started(&self, _index: usize, _media: &Path, _audio_ms: Option<Ms>) {}
    /// Report `index` is over.
    fn finished(&self, _index: usize, _media: &Path, _outcome: &Outcome) {}
    /// Progress within the current report.
    fn progress(&self) -> &dyn Progress;
}

/// The batch's result.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub done: Vec<String>,
    pub skipped: Vec<String>,
    pub updated: Vec<String>,
    /// Made by another batch filling the same archive.
    pub elsewhere: Vec<String>,
    /// (media, error)
    pub failed: Vec<(String, String)>,
    pub audio_ms: Ms,
}

struct Log {
    file: std::fs::File,
    path: PathBuf,
}

impl Log {
    fn open(archive: &Path) -> Result<Self, BatchError> {
        let path = archive.join(LOG_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| BatchError::Log { path: path.clone(), source })?;
        Ok(Self { file, path })
    }

    fn line(&mut self, text: &str) -> Result<(), BatchError> {
        let one_line = crate::secret::in_text(&text.replace(['\n', '\r'], " "));
        writeln!(self.file, "{} {one_line}", crate::time::utc_now())
            .map_err(|source| BatchError::Log { path: self.path.clone(), source })
    }
}

/// Makes every report of `items` into `cfg.archive`, skipping finished ones and waiting for
/// those another batch is making; stops early (with [`BatchError::Cancelled`]) when `cancel` is
/// set, keeping every finished report.
pub fn run(items: &[Item], cfg: &BatchConfig, observer: &dyn Observer, cancel: &Cancel) -> Result<Summary, BatchError> {
    std::fs::create_dir_all(&cfg.archive).map_err(|source| BatchError::Read { path: cfg.archive.clone(), source })?;
    let mut store = Store::connect(&cfg.db, Some(&cfg.archive), true)?;
    let worker = Worker::new(&cfg.db, cfg.archive.clone(), cfg.lease);
    let mut log = Log::open(&cfg.archive)?;
    let engine = Engine::load(cfg.job.model.as_deref(), cfg.job.options.dtw, cfg.job.vad)?
        .with_speakers(cfg.job.options.speakers.is_some(), cfg.job.speaker_model.as_deref())?;
    // A damaged speaker model stops the batch before its first report, not at each.
    engine.speaker_net()?;
    let lengths: Vec<Option<Ms>> = items
        .iter()
        // Regular files only: opening a FIFO or a device here would wait on it, or eat its data.
        .map(|i| {
            crate::hash::regular(&i.media).ok()?;
            crate::media::Stream::open_path(&i.media, &cfg.job.decode).ok().and_then(|s| s.declared_ms())
        })
        .collect();
    observer.planned(items.len(), lengths.iter().flatten().sum());
    log.line(&format!(
        "batch of {} into {} ({}; worker {})",
        items.len(),
        cfg.archive.display(),
        cfg.db.describe(),
        worker.id
    ))?;
    let mut summary = Summary::default();
    // Reports another batch holds, come back to once the rest is done.
    let mut waiting: Vec<(usize, Plan)> = Vec::new();
    let mut round = 0;
    let mut queue: Vec<(usize, Option<Plan>)> = (0..items.len()).map(|i| (i, None)).collect();
    while !queue.is_empty() && !cancel.is_cancelled() {
        for (index, planned) in queue.drain(..) {
            if cancel.is_cancelled() {
                break;
            }
            let item = &items[index];
            let media = crate::secret::address(&item.media.display().to_string());
            if planned.is_none() {
                observer.started(index, &item.media, lengths[index]);
            }
            let attempt = match planned {
                Some(p) => Ok(p),
                None => plan(item, cfg, &engine, observer.progress(), cancel),
            }
            .and_then(|p| {
                let o = make(&p, cfg, &engine, &mut store, &worker, &mut log, observer.progress(), cancel);
                o.map(|o| (o, p))
            });
            let outcome = match attempt {
                Ok((Outcome::Elsewhere { report, worker: by, seconds }, p)) => {
                    // Said once; the report is then polled quietly.
                    if round == 0 {
                        log.line(&format!("waiting for {report} ({media}): {by} is making it (lease {seconds} s)"))?;
                    }
                    waiting.push((index, p));
                    continue;
                }
                // Another batch finished it while this one waited.
                Ok((Outcome::Skipped { report }, _)) if round > 0 => {
                    Outcome::Elsewhere { report, worker: String::new(), seconds: 0 }
                }
                Ok((o, _)) => o,
                Err(e) if e.is_cancelled() || cancel.is_cancelled() => break,
                Err(e) => {
                    let error = crate::secret::in_text(&job::one_line(&e));
                    // The log line names the input; its errors begin with it too.
                    let error = error.strip_prefix(&format!("{media}: ")).map_or(error.clone(), String::from);
                    if !matches!(e, BatchError::ClaimLost { .. }) {
                        store.fail(&media, &error)?;
                    }
                    Outcome::Failed { error }
                }
            };
            record(&outcome, &media, &mut log, &mut summary)?;
            observer.finished(index, &item.media, &outcome);
        }
        if !waiting.is_empty() {
            // Polled every second, interruptible.
            for _ in 0..10 {
                if cancel.is_cancelled() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        queue = waiting.drain(..).map(|(i, p)| (i, Some(p))).collect();
        round += 1;
    }
    if cancel.is_cancelled() {
        log.line("interrupted; finished reports kept, a re-run resumes")?;
        return Err(BatchError::Cancelled);
    }
    if !summary.done.is_empty() || !summary.updated.is_empty() {
        // The database's statistics and full-text indexes brought up to date for the searches
        // that follow (a failure here loses nothing: the reports are in).
        if let Err(e) = store.tidy() {
            log.line(&format!("tidying the database: {}", crate::job::one_line(&e)))?;
        }
    }
    log.line(&format!(
        "batch over: {} made, {} updated, {} unchanged, {} made by other batches, {} failed",
        summary.done.len(),
        summary.updated.len(),
        summary.skipped.len(),
        summary.elsewhere.len(),
        summary.failed.len()
    ))?;
    Ok(summary)
}

/// Logs how a report went and counts it.
fn record(outcome: &Outcome, media: &str, log: &mut Log, summary: &mut Summary) -> Result<(), BatchError> {
    match outcome {
        Outcome::Done { report, audio_ms, damage } => {
            log.line(&format!("done {report} ({media}, {} s of audio)", audio_ms / 1000))?;
            if !damage.is_empty() {
                log.line(&format!("warning {report} ({media}): damaged input, {damage}"))?;
            }
            summary.done.push(report.clone());
            summary.audio_ms += audio_ms;
        }
        Outcome::Skipped { report } => {
            log.line(&format!("unchanged {report} ({media}): skipped"))?;
            summary.skipped.push(report.clone());
        }
        Outcome::Updated { report } => {
            log.line(&format!("updated {report} ({media}): metadata and database, not recognised again"))?;
            summary.updated.push(report.clone());
        }
        Outcome::Elsewhere { report, .. } => {
            log.line(&format!("made elsewhere {report} ({media}): another batch made it"))?;
            summary.elsewhere.push(report.clone());
        }
        Outcome::Failed { error } => {
            log.line(&format!("FAILED {media}: {error}"))?;
            summary.failed.push((media.to_string(), error.clone()));
        }
    }
    Ok(())
}

/// A report worked out from its inputs, before it is claimed and made.
struct Plan {
    /// The inputs as local files (web addresses fetched).
    item: Item,
    web: job::WebSources,
    report: String,
    fingerprint: String,
    media_sha256: String,
    article_sha256: Option<String>,
    entry: Entry,
    outputs: Outputs,
    json_path: PathBuf,
}

/// Fetches what is on the web, hashes the inputs and names the report.
fn plan(
    item: &Item,
    cfg: &BatchConfig,
    engine: &Engine,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Plan, BatchError> {
    // Web addresses are fetched first (or found in the cache); the report is then made from the
    // local copies, named after the media as fetched.
    let mut web = job::WebSources::default();
    let mut named = None;
    let item = if is_web(&item.media) || item.article.as_deref().is_some_and(is_web) {
        let w = crate::remote::WebInputs {
            page: item.article.as_ref().filter(|a| is_web(a)).map(|a| a.to_string_lossy().into_owned()),
            video: Some(item.media.to_string_lossy().into_owned()),
            embed: None,
        };
        let got = crate::remote::gather(&w, cfg.web_limits, progress, cancel)?;
        let mut article = item.article.clone();
        if let Some((path, source)) = got.article {
            article = Some(path);
            web.article = Some(source);
        }
        if let Some((name, source)) = got.fetched_media {
            named = Some(name);
            web.media = Some(source);
        }
        Item { media: got.media, article, meta: item.meta.clone() }
    } else {
        item.clone()
    };
    let read =
        |p: &Path| crate::hash::sha256_file(p).map_err(|source| BatchError::Read { path: p.to_path_buf(), source });
    let media_sha256 = read(&item.media)?;
    let article_sha256 = item.article.as_deref().map(read).transpose()?;
    let named_path = named.as_ref().map(PathBuf::from);
    let report = folder_name(named_path.as_deref().unwrap_or(&item.media), &media_sha256);
    let fingerprint = {
        let f = Fingerprint {
            schema: crate::formats::json::SCHEMA,
            media_sha256: &media_sha256,
            article_sha256: article_sha256.as_deref(),
            model_sha256: &engine.model()?.info.sha256,
            language: &cfg.job.options.language,
            translate: cfg.job.options.translate,
            prompt: &cfg.job.options.prompt,
            beam: cfg.job.options.beam,
            dtw: cfg.job.options.dtw,
            vad: cfg.job.vad,
            track: cfg.job.decode.track,
            literal: cfg.literal,
            profile: &cfg.job.profile,
        };
        crate::hash::sha256(&serde_json::to_vec(&f).unwrap_or_default())
    };
    let dir = cfg.archive.join(&report);
    let stem = Media::File(named_path.clone().unwrap_or_else(|| item.media.clone())).stem();
    let json_path = dir.join(format!("{stem}.json"));
    let media_name = stored_media_name(&item.media);
    let entry = Entry {
        report: report.clone(),
        folder: report.clone(),
        page: Some("report.html".into()),
        media: Some(media_name.clone()),
        media_sha256: Some(media_sha256.clone()),
        article_sha256: article_sha256.clone(),
        fingerprint: Some(fingerprint.clone()),
    };
    // A report's whole output set goes into its own folder, the media beside the page. A report
    // without its article still gets its page (video, subtitles, transcript).
    let outputs = Outputs {
        dir,
        formats: vec![Format::Srt, Format::Vtt, Format::Json, Format::Txt, Format::Html],
        stem,
        page: Some("report.html".into()),
        media_copy: Some((media_name, item.media.clone())),
        video: None,
        inputs: std::iter::once(item.media.clone()).chain(item.article.clone()).collect(),
    };
    Ok(Plan { item, web, report, fingerprint, media_sha256, article_sha256, entry, outputs, json_path })
}

/// The name the media is archived under: `media.` and the extension of the container its bytes
/// show, never a name from the input (a WAV named `x.html` must not become a page of the
/// archive, nor collide with the report's own files).
fn stored_media_name(media: &Path) -> String {
    let mut head = Vec::with_capacity(crate::media::SNIFF_BYTES);
    if let Ok(f) = std::fs::File::open(media) {
        let _ = f.take(crate::media::SNIFF_BYTES as u64).read_to_end(&mut head);
    }
    format!("media.{}", crate::media::sniff(&head).unwrap_or("bin"))
}

/// Claims a planned report and makes it (or skips it); [`Outcome::Elsewhere`] when another
/// batch holds it.
#[allow(clippy::too_many_arguments)]
fn make(
    plan: &Plan,
    cfg: &BatchConfig,
    engine: &Engine,
    store: &mut Store,
    worker: &Worker,
    log: &mut Log,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Outcome, BatchError> {
    let Plan { item, report, fingerprint, entry, outputs, json_path, .. } = plan;
    let report = report.clone();
    let claim = match worker.claim(store, &report)? {
        Ok(c) => c,
        Err(holder) => return Ok(Outcome::Elsewhere { report, worker: holder.worker, seconds: holder.seconds }),
    };
    if let Some(before) = &claim.taken_over {
        log.line(&format!("took over {report} from {before}, whose lease ran out"))?;
    }
    let still_ours = || if claim.is_lost() { Err(BatchError::ClaimLost { report: report.clone() }) } else { Ok(()) };
    // Metadata once given is kept by a run that gives none (a folder after its manifest).
    let before = job::read_document(json_path).ok();
    let meta = item.meta.clone().or(before.as_ref().map(|d| d.meta.clone()).unwrap_or_default());
    // Made before from the same inputs: skipped, or only its metadata, its archived media or
    // its database row brought up to date — without recognising it again.
    if let Some(mut doc) = before
        && doc.archive.as_ref().is_some_and(|s| &s.fingerprint == fingerprint)
    {
        let media_intact = entry
            .media
            .as_ref()
            .is_none_or(|m| crate::hash::sha256_file(&outputs.dir.join(m)).is_ok_and(|h| h == plan.media_sha256));
        let meta_same = doc.meta == meta;
        doc.meta = meta;
        let row_same = store.stamp(&report)?.as_ref() == Some(&RowStamp::of(entry, &doc));
        if meta_same && media_intact && row_same {
            return Ok(Outcome::Skipped { report });
        }
        if !meta_same || !media_intact {
            let notes = job::build_captions(&mut doc, &cfg.job.profile);
            still_ours()?;
            job::write_outputs(&doc, &notes, outputs, cancel)?;
        }
        still_ours()?;
        store.put(entry, &doc)?;
        return Ok(Outcome::Updated { report });
    }
    let job_cfg = JobConfig {
        media: Media::File(item.media.clone()),
        article: item.article.clone().map(|a| ArticleSpec::full(a, cfg.literal)),
        meta,
        web: plan.web.clone(),
        ..cfg.job.clone()
    };
    outputs.check()?;
    let prepared = job::prepare(&job_cfg)?;
    let mut made = job::transcribe(&job_cfg, prepared, engine, progress, cancel)?;
    // An editor's corrections to the earlier version are part of the report.
    job::keep_edits_of(&mut made, json_path, &job_cfg, cancel)?;
    made.doc.archive = Some(ArchiveStamp {
        media_sha256: plan.media_sha256.clone(),
        article_sha256: plan.article_sha256.clone(),
        fingerprint: fingerprint.clone(),
    });
    still_ours()?;
    job::write_outputs(&made.doc, &made.notes, outputs, cancel)?;
    still_ours()?;
    store.put(entry, &made.doc)?;
    let lost = &made.doc.input.audio.damaged;
    let damage = if lost.is_empty() { String::new() } else { crate::media::decode::describe_damage(lost) };
    Ok(Outcome::Done { report, audio_ms: made.doc.input.audio.duration_ms, damage })
}

/// What `index` did.
#[derive(Debug, Clone, Default)]
pub struct Indexed {
    pub reports: usize,
    /// JSON files that are not vidscribe transcripts (path, why).
    pub skipped: Vec<(String, String)>,
}

/// (Re)builds the archive's database from the JSON outputs of `run`, `transcribe` or `batch`
/// found in `dirs` (the archive's own folders included).
pub fn index(dirs: &[PathBuf], archive: &Path, db: &Db) -> Result<Indexed, BatchError> {
    let store = Store::connect(db, Some(archive), true)?;
    let root = store.root().canonicalize().unwrap_or_else(|_| store.root().to_path_buf());
    let mut files = Vec::new();
    for d in dirs {
        if d.is_file() {
            files.push(d.clone());
        } else {
            files_under(d, &|p| p.extension().is_some_and(|e| e == "json"), 0, &mut files)?;
        }
    }
    let mut done = Indexed::default();
    // More than one connection stores reports where the database writes in parallel
    // (PostgreSQL: one connection's server process was the bottleneck, idle a third of the
    // time between its statements); each report always goes to the same one (by its key), so
    // that of two documents of one report the later is kept, as with one.
    let mut writers = vec![store];
    for _ in 1..db.writers() {
        writers.push(Store::connect(db, Some(archive), false)?);
    }
    // Reading and parsing the next documents overlaps with the databases storing the last
    // (a few reports ahead: memory stays bounded).
    let (send, receive) = std::sync::mpsc::sync_channel(8);
    let mut store = std::thread::scope(|scope| -> Result<Store, BatchError> {
        scope.spawn(move || {
            for f in files {
                if send.send(index_entry(&f, &root)).is_err() {
                    break;
                }
            }
        });
        let mut queues = Vec::new();
        let mut running = Vec::new();
        for mut store in writers {
            let (queue, groups) = std::sync::mpsc::sync_channel::<Vec<(Entry, Document)>>(1);
            queues.push(queue);
            running.push(scope.spawn(move || -> Result<(usize, Store), StoreError> {
                let mut stored = 0;
                for group in groups {
                    store.put_all(&group)?;
                    stored += group.len();
                }
                Ok((stored, store))
            }));
        }
        let mut groups: Vec<Vec<(Entry, Document)>> = queues.iter().map(|_| Vec::new()).collect();
        for read in receive {
            let report = match read {
                Ok(report) => report,
                Err(skipped) => {
                    done.skipped.push(skipped);
                    continue;
                }
            };
            let w = writer_of(&report.0.report, queues.len());
            groups[w].push(report);
            // A writer that stopped has its error, returned below.
            if groups[w].len() == INDEX_GROUP && queues[w].send(std::mem::take(&mut groups[w])).is_err() {
                break;
            }
        }
        for (queue, group) in queues.into_iter().zip(groups) {
            let _ = queue.send(group);
        }
        let mut stores = Vec::new();
        for writer in running {
            let (stored, store) = writer.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?;
            done.reports += stored;
            stores.push(store);
        }
        Ok(stores.swap_remove(0))
    })?;
    // After a whole collection (not after one report re-indexed by an edit): statistics and
    // full-text indexes brought up to date for the searches that follow.
    if done.reports > 1 {
        store.tidy()?;
    }
    Ok(done)
}

/// Which of `writers` stores `report`: always the same one.
fn writer_of(report: &str, writers: usize) -> usize {
    let h = crate::hash::sha256(report.as_bytes());
    usize::from_str_radix(&h[..8], 16).unwrap_or(0) % writers.max(1)
}

/// Reports `index` stores in one transaction: readers see a collection arrive a hundred at a
/// time (a second or so apart), and the database writes a common word's index pages once per
/// hundred reports rather than once each.
const INDEX_GROUP: usize = 100;

/// A document found by `index` and where its report lives, or why it is skipped.
fn index_entry(f: &Path, root: &Path) -> Result<(Entry, Document), (String, String)> {
    let doc = job::read_document(f).map_err(|e| (f.display().to_string(), job::one_line(&e)))?;
    let path = f.canonicalize().unwrap_or_else(|_| f.to_path_buf());
    let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let (report, folder) = match dir.strip_prefix(root) {
        Ok(rel) if !rel.as_os_str().is_empty() => {
            let rel = rel.to_string_lossy().into_owned();
            (rel.clone(), rel)
        }
        _ => {
            let key = crate::hash::sha256(path.to_string_lossy().as_bytes());
            (format!("{stem}-{}", &key[..10]), dir.to_string_lossy().into_owned())
        }
    };
    // `report.html` is this document's page only when it is its folder's one JSON (the folder
    // is listed only then: a collection of thousands of JSON files in one folder is not).
    let only_json_here = || {
        std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok()).filter(|e| e.path().extension().is_some_and(|x| x == "json")).count() == 1
            })
            .unwrap_or(false)
    };
    let page = [format!("{stem}.html"), "report.html".to_string()]
        .into_iter()
        .find(|p| dir.join(p).is_file() && (p != "report.html" || only_json_here()));
    // The input beside its JSON, else the copy a batch keeps (`media.*`).
    let media = crate::job::media_beside(&dir, &doc);
    let stamp = doc.archive.clone();
    let entry = Entry {
        report,
        folder,
        page,
        media,
        media_sha256: stamp.as_ref().map(|s| s.media_sha256.clone()),
        article_sha256: stamp.as_ref().and_then(|s| s.article_sha256.clone()),
        fingerprint: stamp.map(|s| s.fingerprint),
    };
    Ok((entry, doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_are_safe_and_distinct() {
        assert_eq!(folder_name(Path::new("a/report.mp4"), "0123456789abcdef"), "report-0123456789");
        assert_eq!(folder_name(Path::new("../x y/..hidden.webm"), "ff"), "__hidden-ff");
        assert_ne!(folder_name(Path::new("report.mp4"), "aa11"), folder_name(Path::new("report.webm"), "bb22"));
    }

    #[test]
    fn dates_and_timestamps() {
        assert!(valid_date("2026-11-28"));
        assert!(!valid_date("2026-13-01") && !valid_date("28/11/2026") && !valid_date("2026-1-1"));
        assert!(!valid_date("2020-02-30") && !valid_date("2021-02-29") && !valid_date("2026-04-31"));
        assert!(valid_date("2020-02-29") && valid_date("2000-02-29") && !valid_date("1900-02-29"));
        let t = crate::time::utc_now();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.starts_with("20"), "{t}");
    }

    #[test]
    fn manifest_rows_resolve_against_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("m.csv");
        std::fs::write(
            &csv,
            "video,article,title,date,source\nv/a.mp4,a.txt,\"A, title\",2026-01-02,CivilNet\nb.webm,,,,\n",
        )
        .unwrap();
        let items = read_manifest(&csv, false).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].media, dir.path().join("v/a.mp4"));
        assert_eq!(items[0].meta.title.as_deref(), Some("A, title"));
        assert_eq!(items[1].article, None);
        let jsonl = dir.path().join("m.jsonl");
        std::fs::write(&jsonl, "{\"video\": \"a.mp4\", \"date\": \"yesterday\"}\n").unwrap();
        let err = read_manifest(&jsonl, false).unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("YYYY-MM-DD"), "{err}");
    }

    #[test]
    fn manifests_stay_in_their_folder_and_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("m");
        std::fs::create_dir_all(sub.join("v")).unwrap();
        std::fs::write(dir.path().join("secret.txt"), "x").unwrap();
        std::os::unix::fs::symlink("/etc", sub.join("etc")).unwrap();
        let csv = sub.join("m.csv");
        let read = |body: &str, allow: bool| {
            std::fs::write(&csv, format!("video,article\n{body}")).unwrap();
            read_manifest(&csv, allow)
        };
        for outside in
            ["a.mp4,../secret.txt", "/etc/hostname,", "a.mp4,/etc/hostname", "v/../../x.mp4,", "etc/hostname,"]
        {
            let err = read(&format!("{outside}\n"), false).unwrap_err().to_string();
            assert!(err.contains("line 2") && err.contains("outside the manifest's folder"), "{outside}: {err}");
        }
        assert!(read("a.mp4,../secret.txt\n", true).is_ok());
        assert!(read("v/../a.mp4,v/a.txt\n", false).is_ok());
        let err = read("a.mp4,\nb.mp4,\na.mp4,x.txt\n", false).unwrap_err().to_string();
        assert!(err.contains("line 4") && err.contains("line 2"), "{err}");
        let err = read("a.mp4,\"oops\nb.mp4,\nc.mp4,\n", false).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("quote"), "{err}");
        assert!(read("a.mp4,\"x \"\"y\"\" z\"\nb.mp4,\n", false).is_ok());
    }

    #[test]
    fn glob_patterns_expand() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["a.wav", "b.wav", "c.txt"] {
            std::fs::write(dir.path().join(n), b"x").unwrap();
        }
        let items = collect(&[dir.path().join("*.wav")], None, false).unwrap();
        assert_eq!(
            items.iter().map(|i| i.media.file_name().unwrap().to_str().unwrap()).collect::<Vec<_>>(),
            ["a.wav", "b.wav"]
        );
        assert!(matches!(collect(&[dir.path().join("*.mp4")], None, false), Err(BatchError::Nothing(_))));
    }

    #[test]
    fn folders_are_searched_to_a_limited_depth() {
        let dir = tempfile::tempdir().unwrap();
        let mut deep = dir.path().to_path_buf();
        for i in 0..=MAX_DEPTH + 1 {
            deep = deep.join(format!("d{i}"));
            std::fs::create_dir(&deep).unwrap();
            std::fs::write(deep.join("clip.wav"), b"x").unwrap();
        }
        std::fs::write(dir.path().join("d0/clip.txt"), b"article").unwrap();
        let items = collect(&[dir.path().to_path_buf()], None, false).unwrap();
        assert_eq!(items.len(), MAX_DEPTH, "one per level down to the limit");
        assert_eq!(items[0].article.as_deref(), Some(dir.path().join("d0/clip.txt").as_path()));
    }
}
