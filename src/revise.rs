//! An edit applied to a report on disk: the edited file read within limits, laid over the
//! report's JSON ([`crate::align`]), every output made again from the JSON in one set, the
//! archive's row replaced. (Laying an edit over a document, and keeping edits through a re-run,
//! are the job's: [`crate::job::lay_over`], [`crate::job::keep_edits_of`].)
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use crate::align::{self, EditError, Edited};
use crate::archive::Db;
use crate::correction::Revision;
use crate::formats::read::decode_text;
use crate::job::{self, JobError};
use crate::job::{lay_over_heard, os_user};
use crate::progress::Cancel;

/// Largest edited file read (a ten-hour programme's captions are a few MB).
pub const MAX_EDIT_BYTES: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ReviseError {
    #[error(transparent)]
    File(#[from] crate::formats::read::TextFileError),
    #[error("{path} has more than {} cues", align::edit::MAX_EDIT_CUES)]
    TooManyCues { path: PathBuf },
    #[error("{path} has no cues a player would show")]
    NoCues { path: PathBuf },
    #[error("{path}: {detail}: correct it first, or the words there would be lost")]
    Malformed { path: PathBuf, detail: String },
    #[error("cannot apply {path} to {report}")]
    Edit {
        path: PathBuf,
        report: PathBuf,
        #[source]
        source: EditError,
    },
    #[error(transparent)]
    Job(#[from] JobError),
    #[error("cannot update the archive")]
    Archive(#[source] crate::archive::BatchError),
}

/// How an edited file was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditFormat {
    Srt,
    Vtt,
    Txt,
}

/// Reads an edited file: WebVTT (by its signature or name), SRT (by name or timing lines), else
/// plain text. Refused whole: over [`MAX_EDIT_BYTES`], binary, over the cue limit (counted
/// before anything is parsed), or a subtitle file without a cue.
pub fn read_edited(path: &Path) -> Result<(Edited, EditFormat), ReviseError> {
    let bytes = crate::formats::read::text_bytes(path, MAX_EDIT_BYTES)?;
    let ext = |e: &str| path.extension().is_some_and(|x| x.eq_ignore_ascii_case(e));
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let arrows = bytes.windows(3).filter(|w| w == b"-->").count();
    let format = if body.starts_with(b"WEBVTT") || ext("vtt") {
        EditFormat::Vtt
    } else if ext("srt") || (arrows > 0 && !ext("txt")) {
        EditFormat::Srt
    } else {
        EditFormat::Txt
    };
    if format != EditFormat::Txt && arrows > align::edit::MAX_EDIT_CUES {
        return Err(ReviseError::TooManyCues { path: path.to_path_buf() });
    }
    let edited = match format {
        EditFormat::Vtt | EditFormat::Srt => {
            let parsed = if format == EditFormat::Vtt {
                crate::formats::vtt::read(&bytes)
            } else {
                crate::formats::srt::read(&bytes)
            };
            if parsed.cues.is_empty() {
                return Err(ReviseError::NoCues { path: path.to_path_buf() });
            }
            // A block a player would drop is text the edit would silently delete.
            let malformed = |detail: String| ReviseError::Malformed { path: path.to_path_buf(), detail };
            if let Some(p) = parsed.problems.iter().find(|p| p.rule == crate::captions::Rule::Syntax) {
                return Err(malformed(p.detail.clone()));
            }
            if parsed.cues.len() < arrows {
                let detail = format!("{} timing lines, {} cues read", arrows, parsed.cues.len());
                return Err(malformed(
                    match parsed.problems.iter().find(|p| p.rule == crate::captions::Rule::Timestamp) {
                        Some(p) => p.detail.clone(),
                        None => detail,
                    },
                ));
            }
            Edited::from_cues(&parsed.cues)
        }
        EditFormat::Txt => Edited::from_text(&decode_text(&bytes, &mut Default::default())),
    };
    Ok((edited, format))
}

/// What `apply` is asked to do.
#[derive(Debug, Clone)]
pub struct ApplyConfig {
    pub edited: PathBuf,
    /// The report's JSON.
    pub report: PathBuf,
    /// Where to write the outputs; the JSON's folder when `None`.
    pub out: Option<PathBuf>,
    /// Who edited; the user the process runs as when `None`.
    pub editor: Option<String>,
    /// The archive to update: a folder (its archive.db) and perhaps a PostgreSQL address. When
    /// `None`, the folder above the report's, if it holds an archive.db.
    pub archive: Option<(PathBuf, Option<String>)>,
    /// The report's media, to time new words from; found beside the report when `None`.
    pub media: Option<PathBuf>,
    /// The model that times them; the default model when `None`.
    pub model: Option<PathBuf>,
}

/// What `apply` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The edit changes nothing: nothing was written.
    Unchanged,
    Applied {
        revision: u32,
        /// Corrections of words, and of cues.
        words: usize,
        cues: usize,
        /// Rules the captions now break (the editor's cues are kept as set).
        violations: usize,
        written: Vec<PathBuf>,
        /// The archive whose row was replaced.
        indexed: Option<String>,
        /// Runs of new words, and how many were timed from the audio.
        new_words: usize,
        aligned: usize,
        /// Why the new words could not be timed from the audio, when they could not.
        unheard: Option<String>,
    },
}

/// Applies an edited file to a report: one output set written, the archive updated.
pub fn apply_file(cfg: &ApplyConfig, cancel: &Cancel) -> Result<Outcome, ReviseError> {
    let doc = job::read_document(&cfg.report)?;
    let (edited, _) = read_edited(&cfg.edited)?;
    let revision = Revision {
        number: doc.revisions.len() as u32 + 1,
        editor: cfg.editor.as_deref().map_or_else(os_user, crate::text::safe_line),
        at: crate::time::utc_now(),
        source: cfg.edited.file_name().map_or_else(String::new, |n| crate::text::safe_line(&n.to_string_lossy())),
        changes: 0,
    };
    let number = revision.number;
    let edit_err = |source| ReviseError::Edit { path: cfg.edited.clone(), report: cfg.report.clone(), source };
    let dir = job::folder_of(&cfg.report);
    let find = || job::Listener::find(&doc, dir, cfg.media.as_deref(), cfg.model.as_deref(), cancel);
    let mut laid_doc = doc.clone();
    let laid = lay_over_heard(&mut laid_doc, &edited, revision, find, cancel).map_err(edit_err)?;
    if cancel.is_cancelled() {
        return Err(JobError::Cancelled.into());
    }
    let Some((laid, unheard)) = laid else { return Ok(Outcome::Unchanged) };
    let doc = laid_doc;
    let outputs = job::outputs_beside(&cfg.report, cfg.out.as_deref(), &doc);
    let written = job::write_outputs(&doc, &[], &outputs, cancel)?;
    let json_path = written.iter().find(|p| p.extension().is_some_and(|e| e == "json")).cloned();
    let archive = match &cfg.archive {
        Some(a) => Some(a.clone()),
        None => outputs_archive(&outputs.dir).map(|a| (a, None)),
    };
    let indexed = match (archive, json_path) {
        (Some((root, db)), Some(json_path)) => {
            let db = Db::of(&root, db.as_deref());
            crate::archive::batch::index(&[json_path], &root, &db).map_err(ReviseError::Archive)?;
            Some(db.describe())
        }
        _ => None,
    };
    let (words, cues) = doc
        .corrections
        .iter()
        .filter_map(|c| c.edit.as_ref().filter(|e| e.revision == number))
        .fold((0, 0), |(w, c), e| if e.change == crate::correction::Change::Words { (w + 1, c) } else { (w, c + 1) });
    let violations = doc.captions.as_ref().map_or(0, |c| c.violations.len());
    Ok(Outcome::Applied {
        revision: number,
        words,
        cues,
        violations,
        written,
        indexed,
        new_words: laid.untimed,
        aligned: laid.aligned,
        unheard,
    })
}

/// The archive a report folder belongs to: the folder above it, when that holds an archive.db.
fn outputs_archive(dir: &Path) -> Option<PathBuf> {
    let parent = dir.canonicalize().ok()?.parent()?.to_path_buf();
    parent.join("archive.db").is_file().then_some(parent)
}
