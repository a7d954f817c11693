//! The archive database (`archive.db`, SQLite with FTS5): one row per report, per spoken
//! passage with its times and link, per word with its times, per article paragraph with the
//! times it is spoken, and per failed input. Full-text tables sit beside the rows they index
//! (`passages_fts`, `paragraphs_fts`, declared `content="…"` so Datasette finds them) and are
//! kept in step by triggers. Everything is read from finished JSON documents: the archive never
//! reaches back into recognition.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::article::BlockKind;
use crate::article::link::sentence_spans;
use crate::formats::json::Document;

/// The database's file name inside an archive folder.
pub const DB_FILE: &str = "archive.db";
/// Version of the tables below, kept in `PRAGMA user_version`.
pub const SCHEMA: i64 = 1;

const TABLES: &str = r#"
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY,
    report TEXT NOT NULL UNIQUE,      -- the report's folder name: its key in the archive
    folder TEXT NOT NULL,             -- that folder, relative to the archive when inside it
    title TEXT,
    date TEXT,                        -- YYYY-MM-DD
    source TEXT,
    url TEXT,                         -- the article's web address
    page TEXT,                        -- report.html inside the folder (NULL if none)
    media TEXT,                       -- the video or audio file inside the folder (or its path)
    media_path TEXT,                  -- the media as it was given
    article_path TEXT,                -- the article as it was given
    duration_ms INTEGER,
    language TEXT,
    model TEXT,
    model_sha256 TEXT,
    media_sha256 TEXT,
    article_sha256 TEXT,
    fingerprint TEXT,                 -- inputs and options that made it: unchanged means skip
    passages INTEGER,
    words INTEGER,
    indexed_at TEXT
);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY,
    report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,          -- 1, 2, … in speaking order
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    text TEXT NOT NULL,               -- as shown in the subtitles
    recognised TEXT,                  -- as recognised, where article wording or name fixes changed it
    paragraph INTEGER,                -- the article paragraph it belongs to
    kind TEXT                         -- verbatim, paraphrase, topical, none (NULL: no article)
);
CREATE INDEX IF NOT EXISTS passages_report ON passages(report_id, number);
CREATE TABLE IF NOT EXISTS words (
    passage_id INTEGER NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,        -- 0, 1, … within the passage
    word TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    probability REAL,
    PRIMARY KEY (passage_id, position)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS paragraphs (
    id INTEGER PRIMARY KEY,
    report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,          -- the article's block number
    kind TEXT NOT NULL,               -- title, heading, paragraph, quote, caption
    text TEXT NOT NULL,
    first_spoken_ms INTEGER,          -- NULL if the report never speaks it
    spoken TEXT                       -- JSON list of [start_ms, end_ms]
);
CREATE INDEX IF NOT EXISTS paragraphs_report ON paragraphs(report_id, number);
CREATE TABLE IF NOT EXISTS failures (
    id INTEGER PRIMARY KEY,
    input TEXT NOT NULL UNIQUE,       -- the media that failed, as given
    error TEXT NOT NULL,
    failed_at TEXT
);
CREATE TABLE IF NOT EXISTS vocabulary (
    term TEXT PRIMARY KEY,            -- a word of the archive, folded as the index folds it
    sound TEXT NOT NULL               -- its sound key, to find other spellings of names
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS vocabulary_sound ON vocabulary(sound);
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
    text, recognised, content="passages", content_rowid="id", tokenize="unicode61 remove_diacritics 2"
);
-- One row per report (its whole transcript): search ranks reports by BM25 here first, which
-- stays fast however many passages share a common word, then finds the passages in them.
-- Contentless (the text is in passages); rows are removed with FTS5's 'delete' command, which
-- SQLite versions as old as the sqlite3 shells and Pythons archivists use understand.
CREATE VIRTUAL TABLE IF NOT EXISTS reports_fts USING fts5(
    text, content="", tokenize="unicode61 remove_diacritics 2"
);
CREATE VIRTUAL TABLE IF NOT EXISTS paragraphs_fts USING fts5(
    text, content="paragraphs", content_rowid="id", tokenize="unicode61 remove_diacritics 2"
);
CREATE TRIGGER IF NOT EXISTS passages_ai AFTER INSERT ON passages BEGIN
    INSERT INTO passages_fts(rowid, text, recognised) VALUES (new.id, new.text, new.recognised);
END;
CREATE TRIGGER IF NOT EXISTS passages_ad AFTER DELETE ON passages BEGIN
    INSERT INTO passages_fts(passages_fts, rowid, text, recognised) VALUES ('delete', old.id, old.text, old.recognised);
END;
CREATE TRIGGER IF NOT EXISTS passages_au AFTER UPDATE ON passages BEGIN
    INSERT INTO passages_fts(passages_fts, rowid, text, recognised) VALUES ('delete', old.id, old.text, old.recognised);
    INSERT INTO passages_fts(rowid, text, recognised) VALUES (new.id, new.text, new.recognised);
END;
CREATE TRIGGER IF NOT EXISTS paragraphs_ai AFTER INSERT ON paragraphs BEGIN
    INSERT INTO paragraphs_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS paragraphs_ad AFTER DELETE ON paragraphs BEGIN
    INSERT INTO paragraphs_fts(paragraphs_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER IF NOT EXISTS paragraphs_au AFTER UPDATE ON paragraphs BEGIN
    INSERT INTO paragraphs_fts(paragraphs_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO paragraphs_fts(rowid, text) VALUES (new.id, new.text);
END;
"#;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("archive database {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path} is not a vidscribe archive (no archive.db)")]
    Missing { path: PathBuf },
    #[error("{path} has archive schema {found}, newer than this vidscribe reads ({SCHEMA})")]
    Newer { path: PathBuf, found: i64 },
    #[error("archive database")]
    Sql(#[from] rusqlite::Error),
}

/// Where a report lives and what made it, beside its document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// The folder name: the report's key.
    pub report: String,
    /// The folder, relative to the archive when inside it.
    pub folder: String,
    pub page: Option<String>,
    pub media: Option<String>,
    pub media_sha256: Option<String>,
    pub article_sha256: Option<String>,
    pub fingerprint: Option<String>,
}

/// An open archive database.
pub struct Store {
    conn: Connection,
    root: PathBuf,
}

/// The database file an archive argument names: a folder (its archive.db) or the file itself.
pub fn db_path(archive: &Path) -> PathBuf {
    if archive.is_dir() || archive.extension().is_none_or(|e| e != "db") {
        archive.join(DB_FILE)
    } else {
        archive.to_path_buf()
    }
}

impl Store {
    /// Opens (creating if `create`) the archive at `archive` (a folder or its archive.db).
    pub fn open(archive: &Path, create: bool) -> Result<Self, StoreError> {
        let path = db_path(archive);
        if !create && !path.is_file() {
            return Err(StoreError::Missing { path: archive.to_path_buf() });
        }
        let root = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let open_err = |source| StoreError::Open { path: path.clone(), source };
        if create {
            std::fs::create_dir_all(&root).map_err(|e| open_err(rusqlite::Error::ToSqlConversionFailure(e.into())))?;
        }
        let conn = Connection::open(&path).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", true).map_err(open_err)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(open_err)?;
        if version > SCHEMA {
            return Err(StoreError::Newer { path, found: version });
        }
        if create || version < SCHEMA {
            conn.pragma_update(None, "journal_mode", "WAL").map_err(open_err)?;
            conn.execute_batch(TABLES).map_err(open_err)?;
            conn.pragma_update(None, "user_version", SCHEMA).map_err(open_err)?;
        }
        Ok(Self { conn, root })
    }

    /// The folder the archive lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The fingerprint recorded for `report`, if it is in the archive.
    pub fn fingerprint(&self, report: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT fingerprint FROM reports WHERE report = ?1", [report], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten())
    }

    /// Adds a report or replaces the one of the same key, in one transaction.
    pub fn put(&mut self, entry: &Entry, doc: &Document) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let old: Option<i64> =
            tx.query_row("SELECT id FROM reports WHERE report = ?1", [&entry.report], |r| r.get(0)).optional()?;
        if let Some(id) = old {
            let mut stmt = tx.prepare("SELECT text, recognised FROM passages WHERE report_id = ?1 ORDER BY number")?;
            let rows: Vec<(String, Option<String>)> =
                stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
            drop(stmt);
            let whole = report_text(rows.iter().map(|(t, r)| (t.as_str(), r.as_deref())));
            tx.execute(
                "INSERT INTO reports_fts (reports_fts, rowid, text) VALUES ('delete', ?1, ?2)",
                params![id, whole],
            )?;
            tx.execute("DELETE FROM reports WHERE id = ?1", [id])?;
        }
        let passages = passages_of(doc);
        let word_count: usize = passages.iter().map(|p| p.words.len()).sum();
        let title =
            doc.meta.title.clone().or_else(|| doc.article.as_ref().and_then(|a| a.article.title().map(String::from)));
        tx.execute(
            "INSERT INTO reports (report, folder, title, date, source, url, page, media, media_path, article_path,
                duration_ms, language, model, model_sha256, media_sha256, article_sha256, fingerprint, passages, words,
                indexed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
                strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
            params![
                entry.report,
                entry.folder,
                title,
                doc.meta.date,
                doc.meta.source,
                doc.meta.url,
                entry.page,
                entry.media,
                doc.input.path,
                doc.article.as_ref().map(|a| a.path.clone()),
                doc.input.audio.duration_ms as i64,
                doc.transcript.language,
                doc.model.name,
                doc.model.sha256,
                entry.media_sha256,
                entry.article_sha256,
                entry.fingerprint,
                passages.len() as i64,
                word_count as i64,
            ],
        )?;
        let report_id = tx.last_insert_rowid();
        {
            let mut ins_passage = tx.prepare(
                "INSERT INTO passages (report_id, number, start_ms, end_ms, text, recognised, paragraph, kind)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            let mut ins_word = tx.prepare(
                "INSERT INTO words (passage_id, position, word, start_ms, end_ms, probability) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut ins_vocab = tx.prepare("INSERT OR IGNORE INTO vocabulary (term, sound) VALUES (?1, ?2)")?;
            for (n, p) in passages.iter().enumerate() {
                ins_passage.execute(params![
                    report_id,
                    n as i64 + 1,
                    p.start_ms as i64,
                    p.end_ms as i64,
                    p.text,
                    p.recognised,
                    p.paragraph.map(|x| x as i64),
                    p.kind,
                ])?;
                let passage_id = tx.last_insert_rowid();
                for (i, w) in p.words.iter().enumerate() {
                    ins_word.execute(params![
                        passage_id,
                        i as i64,
                        w.text,
                        w.start_ms as i64,
                        w.end_ms as i64,
                        w.probability as f64
                    ])?;
                }
                let recognised = p.recognised.as_deref().unwrap_or_default();
                for t in super::query::tokens(&p.text).into_iter().chain(super::query::tokens(recognised)) {
                    if t.chars().any(char::is_alphabetic) {
                        let sound = crate::text::sound_key(&t);
                        ins_vocab.execute(params![t, sound])?;
                    }
                }
            }
            let whole = report_text(passages.iter().map(|p| (p.text.as_str(), p.recognised.as_deref())));
            tx.execute("INSERT INTO reports_fts (rowid, text) VALUES (?1, ?2)", params![report_id, whole])?;
            if let Some(a) = &doc.article {
                let mut ins_para = tx.prepare(
                    "INSERT INTO paragraphs (report_id, number, kind, text, first_spoken_ms, spoken) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for b in a.article.body() {
                    if b.text.trim().is_empty() || b.kind == BlockKind::Boilerplate {
                        continue;
                    }
                    let spoken: Vec<(u64, u64)> = doc
                        .links
                        .as_ref()
                        .and_then(|l| l.paragraphs.iter().find(|p| p.paragraph == b.number))
                        .map(|p| p.spoken.iter().map(|r| (r.start_ms, r.end_ms)).collect())
                        .unwrap_or_default();
                    let kind = serde_json::to_string(&b.kind).unwrap_or_default().trim_matches('"').to_string();
                    ins_para.execute(params![
                        report_id,
                        b.number as i64,
                        kind,
                        b.text,
                        spoken.first().map(|s| s.0 as i64),
                        serde_json::to_string(&spoken).unwrap_or_default(),
                    ])?;
                }
            }
        }
        tx.execute("DELETE FROM failures WHERE input = ?1", [&doc.input.path])?;
        tx.commit()?;
        Ok(())
    }

    /// Records that `input` failed with `error` (replacing an earlier failure of it).
    pub fn fail(&mut self, input: &str, error: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO failures (input, error, failed_at) VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
             ON CONFLICT(input) DO UPDATE SET error = excluded.error, failed_at = excluded.failed_at",
            params![input, error],
        )?;
        Ok(())
    }

    /// Every row of every table in a fixed order, without row ids or timestamps: two archives
    /// of the same reports dump the same.
    pub fn dump(&self) -> Result<String, StoreError> {
        let mut out = String::new();
        let queries = [
            "SELECT report, folder, title, date, source, url, page, media, media_path, article_path, duration_ms,
                language, model, model_sha256, media_sha256, article_sha256, fingerprint, passages, words
             FROM reports ORDER BY report",
            "SELECT r.report, p.number, p.start_ms, p.end_ms, p.text, p.recognised, p.paragraph, p.kind
             FROM passages p JOIN reports r ON r.id = p.report_id ORDER BY r.report, p.number",
            "SELECT r.report, p.number, w.position, w.word, w.start_ms, w.end_ms
             FROM words w JOIN passages p ON p.id = w.passage_id JOIN reports r ON r.id = p.report_id
             ORDER BY r.report, p.number, w.position",
            "SELECT r.report, g.number, g.kind, g.text, g.first_spoken_ms, g.spoken
             FROM paragraphs g JOIN reports r ON r.id = g.report_id ORDER BY r.report, g.number",
            "SELECT input, error FROM failures ORDER BY input",
        ];
        for q in queries {
            let mut stmt = self.conn.prepare(q)?;
            let n = stmt.column_count();
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let cells: Vec<String> = (0..n)
                    .map(|i| match row.get_ref(i) {
                        Ok(v) => format!("{v:?}"),
                        Err(e) => e.to_string(),
                    })
                    .collect();
                out.push_str(&cells.join("\t"));
                out.push('\n');
            }
            out.push_str("--\n");
        }
        Ok(out)
    }
}

/// A report's whole transcript as `reports_fts` indexes it (built the same way to remove it).
fn report_text<'a>(passages: impl Iterator<Item = (&'a str, Option<&'a str>)>) -> String {
    let mut whole = String::new();
    for (text, recognised) in passages {
        whole.push_str(text);
        whole.push('\n');
        if let Some(r) = recognised {
            whole.push_str(r);
            whole.push('\n');
        }
    }
    whole
}

/// A passage as the archive stores it.
pub struct StoredPassage<'a> {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    /// As recognised, where corrections changed it.
    pub recognised: Option<String>,
    pub paragraph: Option<usize>,
    pub kind: Option<&'static str>,
    pub words: Vec<&'a crate::asr::Word>,
}

/// The passages of a document: its linked passages when it has an article, else its sentences.
pub fn passages_of(doc: &Document) -> Vec<StoredPassage<'_>> {
    let words: Vec<&crate::asr::Word> = doc.transcript.words().collect();
    let spans: Vec<(crate::article::link::WordSpan, Option<usize>, Option<&'static str>)> = match &doc.links {
        Some(l) => l.passages.iter().map(|p| (p.words, p.paragraph, Some(p.kind.name()))).collect(),
        None => sentence_spans(&doc.transcript).into_iter().map(|s| (s, None, None)).collect(),
    };
    spans
        .into_iter()
        .filter(|(s, _, _)| s.first < s.end && s.end <= words.len())
        .map(|(s, paragraph, kind)| {
            let ws: Vec<&crate::asr::Word> = words[s.first..s.end].to_vec();
            let text = ws.iter().map(|w| w.text.trim()).collect::<Vec<_>>().join(" ");
            let (start_ms, end_ms) = (ws[0].start_ms, ws[ws.len() - 1].end_ms);
            let recognised = recognised_text(doc, &text, start_ms, end_ms);
            StoredPassage { start_ms, end_ms, text, recognised, paragraph, kind, words: ws }
        })
        .collect()
}

/// The passage as recognised (the corrections made inside its time undone), where that differs.
fn recognised_text(doc: &Document, text: &str, start_ms: u64, end_ms: u64) -> Option<String> {
    let mut out = text.to_string();
    for c in doc.corrections.iter().filter(|c| c.start_ms < end_ms.max(start_ms + 1) && c.end_ms > start_ms) {
        if !c.after.is_empty()
            && let Some(at) = out.find(c.after.as_str())
        {
            out.replace_range(at..at + c.after.len(), &c.before);
        }
    }
    (out != text).then_some(out)
}
