//! Editing in the browser (`serve --edit`): a report's cues on a page of their own, each
//! correctable, saved through the same code as `vidscribe apply` — the edit laid over the
//! report's JSON, every output made again, the archive's row replaced, the revision recorded.
//! Only this server's own page can save: a token it made at start, same-origin requests, POST
//! only, bodies of bounded size. Two editors saving the same cue: the second is told what it now
//! says and keeps what they typed.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hyper::StatusCode;
use serde::Deserialize;

use super::Pool;
use crate::align::Edited;
use crate::correction::Revision;
use crate::formats::json::Document;

/// Largest edit request body.
pub const MAX_EDIT_BODY: usize = 64 * 1024;
/// Most lines of an edited cue, and characters of a line.
const MAX_LINES: usize = 8;
const MAX_LINE_CHARS: usize = 1_000;

pub const PAGE: &str = include_str!("edit.html");
pub const SCRIPT: &str = include_str!("edit.js");

/// What editing needs: who edits, the token only this server's pages know, one edit at a time.
pub(crate) struct Editing {
    pub editor: String,
    pub token: String,
    lock: Mutex<()>,
}

impl Editing {
    /// A new token from the system's random source.
    pub(crate) fn new(editor: String) -> std::io::Result<Self> {
        use std::io::Read;
        let mut bytes = [0u8; 24];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        let token = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self { editor: crate::text::safe_line(&editor), token, lock: Mutex::new(()) })
    }

    /// Whether `given` is the token (compared in constant time).
    pub(crate) fn token_is(&self, given: &str) -> bool {
        given.len() == self.token.len() && given.bytes().zip(self.token.bytes()).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0
    }
}

/// A save: cue `cue`, which read `before` when the editor opened it, now reads `after`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Save {
    pub cue: usize,
    pub before: Vec<String>,
    pub after: Vec<String>,
}

/// An answer: status and JSON.
pub(crate) type Answer = (StatusCode, serde_json::Value);

fn refuse(status: StatusCode, message: &str) -> Answer {
    (status, serde_json::json!({ "error": message }))
}

/// The report's JSON, inside the archive, and its media's name.
fn report_json(pool: &Pool, id: &str) -> Result<Option<(PathBuf, Option<String>)>, String> {
    let (mut store, generation) = pool.take().map_err(|e| crate::job::one_line(&e))?;
    let files = store.report_files(id).map_err(|e| crate::job::one_line(&e))?;
    pool.put_back(store, generation);
    let Some(files) = files else { return Ok(None) };
    let Ok(folder) = pool.root().join(&files.folder).canonicalize() else { return Ok(None) };
    if !folder.starts_with(pool.root()) {
        return Ok(None);
    }
    let jsons: Vec<PathBuf> = std::fs::read_dir(&folder)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
        .collect();
    let path = match jsons.as_slice() {
        [one] => one.clone(),
        _ => folder.join("report.json"),
    };
    Ok(path.is_file().then_some((path, files.media)))
}

fn read(path: &Path) -> Result<Document, Answer> {
    crate::job::read_document(path).map_err(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, &crate::job::one_line(&e)))
}

/// `GET /api/report/{id}`: the cues to edit and the revisions so far.
pub(crate) fn report(pool: &Pool, id: &str) -> Answer {
    let (path, media) = match report_json(pool, id) {
        Ok(Some(p)) => p,
        Ok(None) => return refuse(StatusCode::NOT_FOUND, "not found"),
        Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let doc = match read(&path) {
        Ok(d) => d,
        Err(a) => return a,
    };
    let cues = doc.captions.as_ref().map_or(&[][..], |c| &c.cues);
    (
        StatusCode::OK,
        serde_json::json!({
            "report": id,
            "video": media.map(|m| format!("/r/{}/{}", super::http::segment(id), super::http::segment(&m))),
            "track": path.file_stem().map(|s| format!("/r/{}/{}.vtt", super::http::segment(id), super::http::segment(&s.to_string_lossy()))),
            "cues": cues.iter().map(|c| serde_json::json!({ "start_ms": c.start_ms, "end_ms": c.end_ms, "lines": c.lines })).collect::<Vec<_>>(),
            "revisions": doc.revisions,
            "corrections": doc.corrections.iter().filter(|c| c.edit.is_some()).collect::<Vec<_>>(),
        }),
    )
}

/// `POST /api/edit/{id}`: one cue corrected, applied as `vidscribe apply` applies a file.
pub(crate) fn save(pool: &Pool, editing: &Editing, id: &str, body: &[u8]) -> Answer {
    let save: Save = match serde_json::from_slice(body) {
        Ok(s) => s,
        Err(_) => return refuse(StatusCode::BAD_REQUEST, "send {\"cue\": N, \"before\": [lines], \"after\": [lines]}"),
    };
    let after: Vec<String> =
        save.after.iter().map(|l| crate::text::safe_line(l)).filter(|l| !l.trim().is_empty()).collect();
    if after.is_empty() || after.len() > MAX_LINES || after.iter().any(|l| l.chars().count() > MAX_LINE_CHARS) {
        return refuse(
            StatusCode::BAD_REQUEST,
            &format!("a cue takes 1 to {MAX_LINES} lines of at most {MAX_LINE_CHARS} characters"),
        );
    }
    // One edit at a time: the check and the write below see the same report.
    let _one = editing.lock.lock().unwrap_or_else(|e| e.into_inner());
    let path = match report_json(pool, id) {
        Ok(Some((p, _))) => p,
        Ok(None) => return refuse(StatusCode::NOT_FOUND, "not found"),
        Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let mut doc = match read(&path) {
        Ok(d) => d,
        Err(a) => return a,
    };
    let Some(mut cues) = doc.captions.as_ref().map(|c| c.cues.clone()) else {
        return refuse(StatusCode::CONFLICT, "the report has no captions");
    };
    let Some(cue) = cues.get_mut(save.cue) else {
        return refuse(StatusCode::CONFLICT, "no such cue (reload the page)");
    };
    if cue.lines != save.before {
        let last = doc.revisions.last();
        return (
            StatusCode::CONFLICT,
            serde_json::json!({
                "error": match last {
                    Some(r) => format!("this cue was changed since you opened it (revision {} by {} at {})", r.number, r.editor, r.at),
                    None => "this cue was changed since you opened it".to_string(),
                },
                "current": cue.lines,
            }),
        );
    }
    cue.lines = after;
    let revision = Revision {
        number: doc.revisions.len() as u32 + 1,
        editor: editing.editor.clone(),
        at: crate::time::utc_now(),
        source: "serve".into(),
        changes: 0,
    };
    let number = revision.number;
    let never = crate::progress::Cancel::new();
    // New words are timed from the report's media (with the default model) when it is there.
    let before = doc.clone();
    let dir = crate::job::folder_of(&path);
    let find = || crate::job::Listener::find(&before, dir, None, None, &never);
    let unheard = match crate::job::lay_over_heard(&mut doc, &Edited::from_cues(&cues), revision, find, &never) {
        Ok(None) => return (StatusCode::OK, serde_json::json!({ "unchanged": true })),
        Ok(Some((_, unheard))) => unheard,
        Err(e) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
    };
    let outputs = crate::job::outputs_beside(&path, None, &doc);
    if let Err(e) = crate::job::write_outputs(&doc, &[], &outputs, &never) {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, &crate::job::one_line(&e));
    }
    if let Err(e) = crate::archive::batch::index(&[path], pool.root(), &pool.db) {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, &crate::job::one_line(&e));
    }
    (StatusCode::OK, serde_json::json!({ "revision": number, "unheard": unheard }))
}
