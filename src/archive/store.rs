//! The archive database: `archive.db` (SQLite with FTS5) in the archive folder, or a shared
//! PostgreSQL database ([`super::postgres`], `--db postgres://…`) with the same tables. One row per report, per spoken
//! passage with its times and link, per word with its times, per article paragraph with the
//! times it is spoken, and per failed input. Full-text tables sit beside the rows they index
//! (`passages_fts`, `paragraphs_fts`, declared `content="…"` so Datasette finds them) and are
//! kept in step by triggers. Everything is read from finished JSON documents: the archive never
//! reaches back into recognition.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::query::Query;
use super::search::Filters;

use crate::article::BlockKind;
use crate::article::link::sentence_spans;
use crate::formats::json::Document;

/// The database's file name inside an archive folder.
pub const DB_FILE: &str = "archive.db";
/// Version of the tables below, kept in `PRAGMA user_version`. 3: `reports_fts` holds folded
/// text (compatibility forms, no invisible characters), rebuilt when a version 2 archive is
/// opened for writing. 4: `passages.speaker`, who speaks each passage. 5: `revisions`, the
/// edits applied to each report.
pub const SCHEMA: i64 = 5;

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
    kind TEXT,                        -- verbatim, paraphrase, topical, none (NULL: no article)
    speaker TEXT                      -- who speaks most of it: a name or "Speaker N" (NULL: not asked)
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
-- The edits applied to each report (vidscribe apply, serve --edit), oldest first (schema 5).
CREATE TABLE IF NOT EXISTS revisions (
    report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,          -- 1, 2, … in the order applied
    editor TEXT NOT NULL,
    at TEXT NOT NULL,                 -- UTC, RFC 3339
    source TEXT,                      -- the edited file's name, or serve
    changes TEXT NOT NULL,            -- JSON list of its corrections: before, after, times, kind
    PRIMARY KEY (report_id, number)
) WITHOUT ROWID;
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
-- Reports being made: a batch claims one before making it and renews its lease as it works;
-- another batch leaves it alone until the lease runs out (schema 2).
CREATE TABLE IF NOT EXISTS claims (
    report TEXT PRIMARY KEY,
    worker TEXT NOT NULL,             -- host:pid:tag of the batch that holds it
    lease_until INTEGER NOT NULL      -- milliseconds since 1970
) WITHOUT ROWID;
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
    #[error("{path} is an SQLite database but not a vidscribe archive: refused, left untouched")]
    Foreign { path: PathBuf },
    #[error("{path} has archive schema {found}, newer than this vidscribe reads ({reads})")]
    Newer { path: PathBuf, found: i64, reads: i64 },
    #[error("archive database")]
    Sql(#[from] rusqlite::Error),
    #[error("PostgreSQL archive {url}")]
    Connect {
        url: String,
        #[source]
        source: postgres::Error,
    },
    #[error("{url} did not answer within {seconds} s: is a PostgreSQL server listening there?")]
    NoAnswer { url: String, seconds: u64 },
    #[error("PostgreSQL archive {url} has no reports yet (fill it with batch or index)")]
    Empty { url: String },
    #[error("{url} does not say where its reports' folders are: give the archive folder too")]
    NoFolder { url: String },
    #[error("PostgreSQL archive")]
    Postgres(#[from] postgres::Error),
}

/// Where an archive's database is: `archive.db` in (or named by) a path, or a PostgreSQL server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Db {
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` connection URL.
    Postgres(String),
}

impl Db {
    /// A `--db` argument: a PostgreSQL URL, else an SQLite file (or a folder holding archive.db).
    pub fn parse(arg: &str) -> Self {
        if arg.starts_with("postgres://") || arg.starts_with("postgresql://") {
            Db::Postgres(arg.to_string())
        } else {
            Db::Sqlite(db_path(Path::new(arg)))
        }
    }

    /// The database of an archive folder, unless `db` names another.
    pub fn of(archive: &Path, db: Option<&str>) -> Self {
        db.map_or_else(|| Db::Sqlite(db_path(archive)), Db::parse)
    }

    /// The database and folder of `search` and `serve`: ARCHIVE (a folder, its archive.db, or a
    /// PostgreSQL URL) and `--db` (which makes ARCHIVE the folder of the reports, if given).
    pub fn locate(archive: Option<&Path>, db: Option<&str>) -> Option<(Self, Option<PathBuf>)> {
        match (archive, db) {
            (a, Some(db)) => Some((Db::parse(db), a.map(Path::to_path_buf))),
            (Some(a), None) => match Db::parse(&a.to_string_lossy()) {
                Db::Postgres(url) => Some((Db::Postgres(url), None)),
                sqlite => Some((sqlite, Some(a.to_path_buf()))),
            },
            (None, None) => None,
        }
    }

    /// For messages: the file, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Db::Sqlite(p) => p.display().to_string(),
            Db::Postgres(url) => crate::secret::address(url),
        }
    }
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

/// A report whose transcript matches a query, best first.
#[derive(Debug, Clone)]
pub struct ReportRow {
    pub id: i64,
    /// Lower is better: SQLite's BM25, or PostgreSQL's cover density negated.
    pub rank: f64,
    pub report: String,
    pub folder: String,
    pub title: Option<String>,
    pub date: Option<String>,
    pub source: Option<String>,
    /// The page, else the media.
    pub target: Option<String>,
}

/// The fields of a report's row that a batch compares before it skips the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowStamp {
    pub fingerprint: Option<String>,
    pub title: Option<String>,
    pub date: Option<String>,
    pub source: Option<String>,
    pub url: Option<String>,
    pub media: Option<String>,
}

impl RowStamp {
    /// The row that `put(entry, doc)` writes.
    pub fn of(entry: &Entry, doc: &Document) -> Self {
        Self {
            fingerprint: entry.fingerprint.clone(),
            title: row_title(doc),
            date: doc.meta.date.clone(),
            source: doc.meta.source.clone(),
            url: doc.meta.url.clone(),
            media: entry.media.clone(),
        }
    }
}

/// A report's title: the manifest's, else the article's.
fn row_title(doc: &Document) -> Option<String> {
    doc.meta.title.clone().or_else(|| doc.article.as_ref().and_then(|a| a.article.title().map(String::from)))
}

/// Where a report's files are: what `serve` may hand out of its folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFiles {
    /// The folder, relative to the archive when inside it.
    pub folder: String,
    pub page: Option<String>,
    pub media: Option<String>,
}

/// A passage of a report.
#[derive(Debug, Clone)]
pub struct PassageRow {
    pub id: i64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
    pub recognised: Option<String>,
    pub paragraph: Option<i64>,
    pub kind: Option<String>,
    pub speaker: Option<String>,
}

/// A word as shown, with its start and end (ms).
pub type TimedWord = (String, i64, i64);
/// Passages' words, by passage id.
pub type WordsByPassage = HashMap<i64, Vec<TimedWord>>;

/// Who holds a report being made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimState {
    /// This worker has it (new, or taken over from a worker whose lease ran out).
    Claimed { taken_over: Option<String> },
    /// Another worker has it.
    Held(Holder),
}

/// The worker that holds a report, and how long its lease still runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub worker: String,
    pub seconds: u64,
}

enum Backend {
    Sqlite(Connection),
    Postgres(Box<postgres::Client>),
}

/// An open archive database.
pub struct Store {
    backend: Backend,
    root: PathBuf,
    db: Db,
}

/// The database file an archive argument names: a folder (its archive.db) or the file itself.
pub fn db_path(archive: &Path) -> PathBuf {
    if archive.is_dir() || archive.extension().is_none_or(|e| e != "db") {
        archive.join(DB_FILE)
    } else {
        archive.to_path_buf()
    }
}

/// Dumped in a fixed order by [`Store::dump`]: (columns, the rest of the query).
const DUMP: [(&[&str], &str); 6] = [
    (
        &[
            "report",
            "folder",
            "title",
            "date",
            "source",
            "url",
            "page",
            "media",
            "media_path",
            "article_path",
            "duration_ms",
            "language",
            "model",
            "model_sha256",
            "media_sha256",
            "article_sha256",
            "fingerprint",
            "passages",
            "words",
        ],
        "FROM reports ORDER BY report",
    ),
    (
        &[
            "r.report",
            "p.number",
            "p.start_ms",
            "p.end_ms",
            "p.text",
            "p.recognised",
            "p.paragraph",
            "p.kind",
            "p.speaker",
        ],
        "FROM passages p JOIN reports r ON r.id = p.report_id ORDER BY r.report, p.number",
    ),
    (
        &["r.report", "p.number", "w.position", "w.word", "w.start_ms", "w.end_ms"],
        "FROM words w JOIN passages p ON p.id = w.passage_id JOIN reports r ON r.id = p.report_id
         ORDER BY r.report, p.number, w.position",
    ),
    (
        &["r.report", "g.number", "g.kind", "g.text", "g.first_spoken_ms", "g.spoken"],
        "FROM paragraphs g JOIN reports r ON r.id = g.report_id ORDER BY r.report, g.number",
    ),
    (&["input", "error"], "FROM failures ORDER BY input"),
    (
        &["r.report", "v.number", "v.editor", "v.at", "v.source"],
        "FROM revisions v JOIN reports r ON r.id = v.report_id ORDER BY r.report, v.number",
    ),
];

impl Store {
    /// Opens (creating if `create`) the SQLite archive at `archive` (a folder or its archive.db).
    pub fn open(archive: &Path, create: bool) -> Result<Self, StoreError> {
        Self::connect(&Db::Sqlite(db_path(archive)), None, create)
    }

    /// Opens (creating the tables if `create`) the database `db`. `root` is the archive folder
    /// (the reports' folders are relative to it): for SQLite the database's own folder, for
    /// PostgreSQL the one given, else the one recorded by the first batch or index.
    pub fn connect(db: &Db, root: Option<&Path>, create: bool) -> Result<Self, StoreError> {
        match db {
            Db::Sqlite(path) => {
                let conn = open_sqlite(path, create)?;
                let root = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
                let root = if root.as_os_str().is_empty() { PathBuf::from(".") } else { root };
                Ok(Self { backend: Backend::Sqlite(conn), root, db: db.clone() })
            }
            Db::Postgres(url) => {
                let (client, root) = super::postgres::connect(url, root, create)?;
                Ok(Self { backend: Backend::Postgres(Box::new(client)), root, db: db.clone() })
            }
        }
    }

    /// The folder the archive lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the database is.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The SQLite connection, for an SQLite archive.
    pub fn sqlite(&self) -> Option<&Connection> {
        match &self.backend {
            Backend::Sqlite(c) => Some(c),
            Backend::Postgres(_) => None,
        }
    }

    /// Opens an archive to read it only (search, serve): SQLite read-only, so an archive that
    /// another user owns, or on a read-only disk, can be searched; nothing is created or changed.
    pub fn open_read(db: &Db, root: Option<&Path>) -> Result<Self, StoreError> {
        match db {
            Db::Sqlite(path) => {
                let conn = open_sqlite_read(path)?;
                let root = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
                let root = if root.as_os_str().is_empty() { PathBuf::from(".") } else { root };
                Ok(Self { backend: Backend::Sqlite(conn), root, db: db.clone() })
            }
            Db::Postgres(_) => Self::connect(db, root, false),
        }
    }

    /// The folder, page and media of `report`, if it is in the archive.
    pub fn report_files(&mut self, report: &str) -> Result<Option<ReportFiles>, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(c) => Ok(c
                .prepare_cached("SELECT folder, page, media FROM reports WHERE report = ?1")?
                .query_row([report], |r| Ok(ReportFiles { folder: r.get(0)?, page: r.get(1)?, media: r.get(2)? }))
                .optional()?),
            Backend::Postgres(c) => super::postgres::report_files(c, report),
        }
    }

    /// What the database row of `report` says of it, to compare with [`RowStamp::of`] the
    /// document: a report whose row disagrees with its files is not "unchanged".
    pub fn stamp(&mut self, report: &str) -> Result<Option<RowStamp>, StoreError> {
        const Q: &str = "SELECT fingerprint, title, date, source, url, media FROM reports WHERE report = ";
        match &mut self.backend {
            Backend::Sqlite(c) => Ok(c
                .query_row(&format!("{Q}?1"), [report], |r| {
                    Ok(RowStamp {
                        fingerprint: r.get(0)?,
                        title: r.get(1)?,
                        date: r.get(2)?,
                        source: r.get(3)?,
                        url: r.get(4)?,
                        media: r.get(5)?,
                    })
                })
                .optional()?),
            Backend::Postgres(c) => Ok(c.query_opt(&format!("{Q}$1"), &[&report])?.map(|r| RowStamp {
                fingerprint: r.get(0),
                title: r.get(1),
                date: r.get(2),
                source: r.get(3),
                url: r.get(4),
                media: r.get(5),
            })),
        }
    }

    /// The fingerprint recorded for `report`, if it is in the archive.
    pub fn fingerprint(&mut self, report: &str) -> Result<Option<String>, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(c) => Ok(c
                .query_row("SELECT fingerprint FROM reports WHERE report = ?1", [report], |r| {
                    r.get::<_, Option<String>>(0)
                })
                .optional()?
                .flatten()),
            Backend::Postgres(c) => super::postgres::fingerprint(c, report),
        }
    }

    /// Adds a report or replaces the one of the same key, in one transaction.
    pub fn put(&mut self, entry: &Entry, doc: &Document) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(c) => put_sqlite(c, entry, doc),
            Backend::Postgres(c) => super::postgres::put(c, entry, doc),
        }
    }

    /// Records that `input` failed with `error` (replacing an earlier failure of it).
    pub fn fail(&mut self, input: &str, error: &str) -> Result<(), StoreError> {
        let (input, error) = (&crate::secret::in_text(input), &crate::secret::in_text(error));
        match &mut self.backend {
            Backend::Sqlite(c) => {
                c.execute(
                    "INSERT INTO failures (input, error, failed_at) VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
                     ON CONFLICT(input) DO UPDATE SET error = excluded.error, failed_at = excluded.failed_at",
                    params![input, error],
                )?;
                Ok(())
            }
            Backend::Postgres(c) => super::postgres::fail(c, input, error),
        }
    }

    /// Whether `term` (folded) is a word of the archive.
    pub fn is_known(&mut self, term: &str) -> Result<bool, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(c) => Ok(c
                .prepare_cached("SELECT 1 FROM vocabulary WHERE term = ?1")?
                .query_row([term], |r| r.get::<_, i64>(0))
                .optional()?
                .is_some()),
            Backend::Postgres(c) => super::postgres::is_known(c, term),
        }
    }

    /// Words of the archive (with their sound keys) that sound like `sound` or begin with
    /// `prefix`, at most `limit` of the latter.
    pub fn vocabulary_near(
        &mut self,
        sound: &str,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut upper = prefix.to_string();
        upper.push(char::MAX);
        match &mut self.backend {
            Backend::Sqlite(c) => Ok(c
                .prepare_cached(
                    "SELECT term, sound FROM vocabulary WHERE sound = ?1
                     UNION SELECT term, sound FROM vocabulary WHERE term >= ?2 AND term < ?3 LIMIT ?4",
                )?
                .query_map(params![sound, prefix, upper, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?),
            Backend::Postgres(c) => super::postgres::vocabulary_near(c, sound, prefix, &upper, limit),
        }
    }

    /// The reports whose whole transcript has every group of `q` (exclusions and phrases are
    /// judged per passage by the caller), best first: `count` of them from `offset`.
    pub fn matching_reports(
        &mut self,
        q: &Query,
        filters: &Filters,
        offset: usize,
        count: usize,
    ) -> Result<Vec<ReportRow>, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(c) => {
                let Some(expr) = q.positive_fts5() else { return Ok(Vec::new()) };
                let mut stmt = c.prepare_cached(
                    "SELECT r.id, bm25(reports_fts) AS rank, r.report, r.folder, r.title, r.date, r.source, coalesce(r.page, r.media)
                     FROM reports_fts JOIN reports r ON r.id = reports_fts.rowid
                     WHERE reports_fts MATCH ?1
                       AND (?2 IS NULL OR r.date >= ?2) AND (?3 IS NULL OR r.date <= ?3)
                       AND (?4 IS NULL OR r.source = ?4) AND (?5 IS NULL OR r.language = ?5)
                       AND (?8 IS NULL OR r.report = ?8)
                     ORDER BY rank, r.report LIMIT ?6 OFFSET ?7",
                )?;
                let rows = stmt
                    .query_map(
                        params![
                            expr,
                            filters.since,
                            filters.until,
                            filters.source,
                            filters.language,
                            count as i64,
                            offset as i64,
                            filters.report
                        ],
                        |r| {
                            Ok(ReportRow {
                                id: r.get(0)?,
                                rank: r.get(1)?,
                                report: r.get(2)?,
                                folder: r.get(3)?,
                                title: r.get(4)?,
                                date: r.get(5)?,
                                source: r.get(6)?,
                                target: r.get(7)?,
                            })
                        },
                    )?
                    .collect::<Result<_, _>>()?;
                Ok(rows)
            }
            Backend::Postgres(c) => super::postgres::matching_reports(c, q, filters, offset, count),
        }
    }

    /// The passages of these reports, by report, in speaking order: all of them, or (where the
    /// backend can tell cheaply) those that may match `q`.
    pub fn passages_of(&mut self, report_ids: &[i64], q: &Query) -> Result<HashMap<i64, Vec<PassageRow>>, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(c) => {
                // An archive of schema 3 opened only to read has no speakers (writing adds the column).
                let has_speaker: bool = c
                    .prepare_cached("SELECT count(*) FROM pragma_table_info('passages') WHERE name = 'speaker'")?
                    .query_row([], |r| r.get::<_, i64>(0))?
                    > 0;
                let mut stmt = c.prepare_cached(if has_speaker {
                    "SELECT id, start_ms, end_ms, text, recognised, paragraph, kind, speaker FROM passages WHERE report_id = ?1 ORDER BY number"
                } else {
                    "SELECT id, start_ms, end_ms, text, recognised, paragraph, kind, NULL FROM passages WHERE report_id = ?1 ORDER BY number"
                })?;
                let mut out = HashMap::new();
                for &id in report_ids {
                    let rows: Vec<PassageRow> = stmt
                        .query_map([id], |p| {
                            Ok(PassageRow {
                                id: p.get(0)?,
                                start_ms: p.get(1)?,
                                end_ms: p.get(2)?,
                                text: p.get(3)?,
                                recognised: p.get(4)?,
                                paragraph: p.get(5)?,
                                kind: p.get(6)?,
                                speaker: p.get(7)?,
                            })
                        })?
                        .collect::<Result<_, _>>()?;
                    out.insert(id, rows);
                }
                Ok(out)
            }
            Backend::Postgres(c) => super::postgres::passages_of(c, report_ids, q),
        }
    }

    /// The words of these passages with their times, in order, by passage.
    pub fn words_of(&mut self, passage_ids: &[i64]) -> Result<WordsByPassage, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(c) => {
                let mut stmt = c.prepare_cached(
                    "SELECT word, start_ms, end_ms FROM words WHERE passage_id = ?1 ORDER BY position",
                )?;
                let mut out = HashMap::new();
                for &id in passage_ids {
                    let rows: Vec<TimedWord> =
                        stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?;
                    out.insert(id, rows);
                }
                Ok(out)
            }
            Backend::Postgres(c) => super::postgres::words_of(c, passage_ids),
        }
    }

    /// The texts of these (report id, paragraph number) article paragraphs.
    pub fn paragraph_texts(&mut self, wanted: &[(i64, i64)]) -> Result<HashMap<(i64, i64), String>, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(c) => {
                let mut stmt = c.prepare_cached("SELECT text FROM paragraphs WHERE report_id = ?1 AND number = ?2")?;
                let mut out = HashMap::new();
                for &(r, n) in wanted {
                    if let Some(t) = stmt.query_row(params![r, n], |row| row.get::<_, String>(0)).optional()? {
                        out.insert((r, n), t);
                    }
                }
                Ok(out)
            }
            Backend::Postgres(c) => super::postgres::paragraph_texts(c, wanted),
        }
    }

    /// Claims `report` for `worker` for `lease`: free, or held by a worker whose lease ran out,
    /// it is this worker's; else it says who holds it. PostgreSQL judges the lease by the
    /// server's clock (machines' clocks may differ), SQLite by this machine's — and there a
    /// holder that is no longer running on this machine has lost it already.
    pub fn claim(&mut self, report: &str, worker: &str, lease: Duration) -> Result<ClaimState, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(c) => {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let now = unix_ms();
                let held: Option<(String, i64)> = tx
                    .query_row("SELECT worker, lease_until FROM claims WHERE report = ?1", [report], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                let state = match held {
                    Some((w, until)) if w != worker && until > now && !super::claim::is_gone_from_here(&w) => {
                        ClaimState::Held(Holder { worker: w, seconds: ((until - now) as u64).div_ceil(1000) })
                    }
                    other => {
                        tx.execute(
                            "INSERT INTO claims (report, worker, lease_until) VALUES (?1, ?2, ?3)
                             ON CONFLICT(report) DO UPDATE SET worker = excluded.worker, lease_until = excluded.lease_until",
                            params![report, worker, now + lease.as_millis() as i64],
                        )?;
                        ClaimState::Claimed { taken_over: other.map(|(w, _)| w).filter(|w| w != worker) }
                    }
                };
                tx.commit()?;
                Ok(state)
            }
            Backend::Postgres(c) => super::postgres::claim(c, report, worker, lease),
        }
    }

    /// Extends `worker`'s claim on `report`; false when it no longer holds it.
    pub fn renew(&mut self, report: &str, worker: &str, lease: Duration) -> Result<bool, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(c) => Ok(c.execute(
                "UPDATE claims SET lease_until = ?3 WHERE report = ?1 AND worker = ?2",
                params![report, worker, unix_ms() + lease.as_millis() as i64],
            )? == 1),
            Backend::Postgres(c) => super::postgres::renew(c, report, worker, lease),
        }
    }

    /// Gives up `worker`'s claim on `report` (nothing if it no longer holds it).
    pub fn release(&mut self, report: &str, worker: &str) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(c) => {
                c.execute("DELETE FROM claims WHERE report = ?1 AND worker = ?2", params![report, worker])?;
                Ok(())
            }
            Backend::Postgres(c) => super::postgres::release(c, report, worker),
        }
    }

    /// Every row of every table in a fixed order, without row ids or timestamps, each value as
    /// text: two archives of the same reports dump the same, whichever their backends.
    pub fn dump(&mut self) -> Result<String, StoreError> {
        let mut out = String::new();
        for (columns, rest) in DUMP {
            let rows: Vec<Vec<Option<String>>> = match &mut self.backend {
                Backend::Sqlite(c) => {
                    let mut stmt = c.prepare(&format!("SELECT {} {rest}", columns.join(", ")))?;
                    let mut rows = stmt.query([])?;
                    let mut all = Vec::new();
                    while let Some(row) = rows.next()? {
                        let cells = (0..columns.len())
                            .map(|i| {
                                row.get_ref(i).map(|v| match v {
                                    rusqlite::types::ValueRef::Null => None,
                                    rusqlite::types::ValueRef::Integer(n) => Some(n.to_string()),
                                    rusqlite::types::ValueRef::Real(f) => Some(f.to_string()),
                                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                                        Some(String::from_utf8_lossy(t).into_owned())
                                    }
                                })
                            })
                            .collect::<Result<_, _>>()?;
                        all.push(cells);
                    }
                    all
                }
                Backend::Postgres(c) => super::postgres::dump_rows(c, columns, rest)?,
            };
            for cells in rows {
                let cells: Vec<String> = cells.iter().map(|c| format!("{c:?}")).collect();
                out.push_str(&cells.join("\t"));
                out.push('\n');
            }
            out.push_str("--\n");
        }
        Ok(out)
    }
}

/// Milliseconds since 1970 on this machine's clock.
fn unix_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn open_sqlite(path: &Path, create: bool) -> Result<Connection, StoreError> {
    if !create && !path.is_file() {
        return Err(missing(path));
    }
    let open_err = |source| StoreError::Open { path: path.to_path_buf(), source };
    if create && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| open_err(rusqlite::Error::ToSqlConversionFailure(e.into())))?;
    }
    let conn = Connection::open(path).map_err(open_err)?;
    conn.busy_timeout(BUSY_WAIT).map_err(open_err)?;
    // Nothing is written to a database that is not an archive, not even a pragma.
    let version = match kind_of(&conn).map_err(open_err)? {
        Kind::Archive(v) => v,
        Kind::Empty if create => 0,
        Kind::Empty => return Err(missing(path)),
        Kind::Foreign => return Err(StoreError::Foreign { path: path.to_path_buf() }),
    };
    if version > SCHEMA {
        return Err(StoreError::Newer { path: path.to_path_buf(), found: version, reads: SCHEMA });
    }
    conn.pragma_update(None, "foreign_keys", true).map_err(open_err)?;
    let stamped: i64 = conn.pragma_query_value(None, "application_id", |r| r.get(0)).map_err(open_err)?;
    if create || version < SCHEMA || stamped != APPLICATION_ID {
        // Several batches may create it at once: switching to WAL takes the whole file, and
        // SQLite does not wait for that by itself.
        let started = std::time::Instant::now();
        // Tables, index rebuild and stamps in one transaction: another batch opening the file
        // meanwhile sees an empty file or a whole archive, never tables without the stamp
        // (which it would refuse as foreign).
        let setup = || -> rusqlite::Result<()> {
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let work = || -> rusqlite::Result<()> {
                conn.execute_batch(TABLES)?;
                let has_speaker: i64 = conn.query_row(
                    "SELECT count(*) FROM pragma_table_info('passages') WHERE name = 'speaker'",
                    [],
                    |r| r.get(0),
                )?;
                if has_speaker == 0 {
                    // Schema 1–3: reports indexed before speakers were stored have none until
                    // indexed again.
                    conn.execute_batch("ALTER TABLE passages ADD COLUMN speaker TEXT")?;
                }
                if (1..3).contains(&version) {
                    refold_reports_index(&conn)?;
                }
                conn.pragma_update(None, "application_id", APPLICATION_ID)?;
                conn.pragma_update(None, "user_version", SCHEMA)
            };
            match work() {
                Ok(()) => conn.execute_batch("COMMIT"),
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    Err(e)
                }
            }
        };
        loop {
            match setup() {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                        && started.elapsed() < BUSY_WAIT =>
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
                other => break other.map_err(open_err)?,
            }
        }
    }
    Ok(conn)
}

/// How long a statement waits for another process's write lock before giving up.
const BUSY_WAIT: Duration = Duration::from_secs(60);

/// Marks a database as a vidscribe archive in its header ("VIDS"); archives made before it was
/// set are known by their tables and get it the next time they are written.
pub const APPLICATION_ID: i64 = 0x5649_4453;

/// What an SQLite file holds.
enum Kind {
    /// A vidscribe archive of this schema version.
    Archive(i64),
    /// No tables at all (a new or zero-length file).
    Empty,
    /// Anything else: refused, untouched.
    Foreign,
}

fn kind_of(conn: &Connection) -> rusqlite::Result<Kind> {
    // One snapshot: a batch creating the archive meanwhile is seen before or after, never half.
    conn.execute_batch("BEGIN")?;
    let kind = kind_in_snapshot(conn);
    let _ = conn.execute_batch("COMMIT");
    kind
}

fn kind_in_snapshot(conn: &Connection) -> rusqlite::Result<Kind> {
    let app: i64 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if app == APPLICATION_ID {
        return Ok(Kind::Archive(version));
    }
    if app != 0 {
        return Ok(Kind::Foreign);
    }
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    if tables == 0 && version == 0 {
        return Ok(Kind::Empty);
    }
    // An archive from before the application id: its own tables and columns.
    let ours: i64 = conn.query_row(
        "SELECT count(*) FROM pragma_table_info('reports') WHERE name IN ('report', 'folder', 'fingerprint', 'media_sha256')",
        [],
        |r| r.get(0),
    )?;
    let passages: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('passages', 'words', 'paragraphs')",
        [],
        |r| r.get(0),
    )?;
    Ok(if version >= 1 && ours == 4 && passages == 3 { Kind::Archive(version) } else { Kind::Foreign })
}

fn missing(path: &Path) -> StoreError {
    let shown = if path.file_name().is_some_and(|n| n == DB_FILE) { path.parent().unwrap_or(path) } else { path };
    StoreError::Missing { path: shown.to_path_buf() }
}

/// Opens an archive read-only. Where SQLite cannot keep its shared-memory file beside the
/// database (another user's folder, a read-only disk) and no writer has left a journal, the
/// file is opened as immutable: nobody can be changing it.
fn open_sqlite_read(path: &Path) -> Result<Connection, StoreError> {
    use rusqlite::OpenFlags;
    if !path.is_file() {
        return Err(missing(path));
    }
    let open_err = |source| StoreError::Open { path: path.to_path_buf(), source };
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let check = |conn: Connection| -> rusqlite::Result<Result<Connection, StoreError>> {
        conn.busy_timeout(BUSY_WAIT)?;
        Ok(match kind_of(&conn)? {
            Kind::Archive(v) if v > SCHEMA => {
                Err(StoreError::Newer { path: path.to_path_buf(), found: v, reads: SCHEMA })
            }
            Kind::Archive(_) => Ok(conn),
            Kind::Empty => Err(missing(path)),
            Kind::Foreign => Err(StoreError::Foreign { path: path.to_path_buf() }),
        })
    };
    let first = Connection::open_with_flags(path, flags).and_then(check);
    match first {
        Ok(result) => result,
        Err(rusqlite::Error::SqliteFailure(e, _))
            if matches!(e.code, rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly)
                && !has_journal(path) =>
        {
            let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
            let uri = url::Url::from_file_path(&abs).map_or_else(|_| format!("file:{}", abs.display()), String::from);
            let uri = format!("{uri}?immutable=1");
            Connection::open_with_flags(uri, flags).and_then(check).map_err(open_err)?
        }
        Err(e) => Err(open_err(e)),
    }
}

/// Whether a writer left a write-ahead log with content beside the database.
fn has_journal(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(PathBuf::from(wal)).is_ok_and(|m| m.len() > 0)
}

/// Each revision of a report with its corrections as JSON, as both backends store them.
pub(crate) fn revisions_of(doc: &Document) -> Vec<(&crate::correction::Revision, String)> {
    doc.revisions
        .iter()
        .map(|r| {
            let made: Vec<&crate::correction::Correction> =
                doc.corrections.iter().filter(|c| c.edit.as_ref().is_some_and(|e| e.revision == r.number)).collect();
            (r, serde_json::to_string(&made).unwrap_or_else(|_| "[]".into()))
        })
        .collect()
}

fn put_sqlite(conn: &mut Connection, entry: &Entry, doc: &Document) -> Result<(), StoreError> {
    // Immediate: the write lock is taken (or waited for) first; a deferred transaction that reads
    // and then writes fails at once with "database is locked" when another batch wrote meanwhile.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let old: Option<i64> =
        tx.query_row("SELECT id FROM reports WHERE report = ?1", [&entry.report], |r| r.get(0)).optional()?;
    if let Some(id) = old {
        let mut stmt = tx.prepare("SELECT text, recognised FROM passages WHERE report_id = ?1 ORDER BY number")?;
        let rows: Vec<(String, Option<String>)> =
            stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        drop(stmt);
        let whole = report_text(rows.iter().map(|(t, r)| (t.as_str(), r.as_deref())));
        tx.execute("INSERT INTO reports_fts (reports_fts, rowid, text) VALUES ('delete', ?1, ?2)", params![id, whole])?;
        tx.execute("DELETE FROM reports WHERE id = ?1", [id])?;
    }
    let row = ReportFields::of(doc);
    let passages = &row.passages;
    tx.execute(
        "INSERT INTO reports (report, folder, title, date, source, url, page, media, media_path, article_path,
            duration_ms, language, model, model_sha256, media_sha256, article_sha256, fingerprint, passages, words,
            indexed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
            strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
        params![
            entry.report,
            entry.folder,
            row.title,
            doc.meta.date,
            doc.meta.source,
            doc.meta.url,
            entry.page,
            entry.media,
            crate::secret::address(&doc.input.path),
            doc.article.as_ref().map(|a| crate::secret::address(&a.path)),
            doc.input.audio.duration_ms as i64,
            doc.transcript.language,
            doc.model.name,
            doc.model.sha256,
            entry.media_sha256,
            entry.article_sha256,
            entry.fingerprint,
            passages.len() as i64,
            row.word_count as i64,
        ],
    )?;
    let report_id = tx.last_insert_rowid();
    {
        let mut ins_passage = tx.prepare(
            "INSERT INTO passages (report_id, number, start_ms, end_ms, text, recognised, paragraph, kind, speaker)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        let mut ins_word = tx.prepare(
            "INSERT INTO words (passage_id, position, word, start_ms, end_ms, probability) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
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
                p.speaker,
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
        }
        let mut ins_vocab = tx.prepare("INSERT OR IGNORE INTO vocabulary (term, sound) VALUES (?1, ?2)")?;
        for (t, sound) in &row.vocabulary {
            ins_vocab.execute(params![t, sound])?;
        }
        tx.execute("INSERT INTO reports_fts (rowid, text) VALUES (?1, ?2)", params![report_id, row.whole])?;
        let mut ins_para = tx.prepare(
            "INSERT INTO paragraphs (report_id, number, kind, text, first_spoken_ms, spoken) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for g in &row.paragraphs {
            ins_para.execute(params![report_id, g.number, g.kind, g.text, g.first_spoken_ms, g.spoken])?;
        }
    }
    {
        let mut ins_rev = tx.prepare(
            "INSERT INTO revisions (report_id, number, editor, at, source, changes) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (r, changes) in revisions_of(doc) {
            ins_rev.execute(params![report_id, r.number, r.editor, r.at, r.source, changes])?;
        }
    }
    tx.execute("DELETE FROM failures WHERE input = ?1", [&doc.input.path])?;
    tx.commit()?;
    Ok(())
}

/// What a report puts in the database besides its entry, worked out once for both backends.
pub(crate) struct ReportFields<'a> {
    pub title: Option<String>,
    pub passages: Vec<StoredPassage<'a>>,
    pub word_count: usize,
    /// The whole transcript as the report-level index reads it.
    pub whole: String,
    /// New words for the vocabulary (folded, with sound keys), sorted, each once.
    pub vocabulary: Vec<(String, String)>,
    pub paragraphs: Vec<StoredParagraph>,
}

/// An article paragraph as the archive stores it.
pub(crate) struct StoredParagraph {
    pub number: i64,
    pub kind: String,
    pub text: String,
    pub first_spoken_ms: Option<i64>,
    /// JSON list of [start_ms, end_ms].
    pub spoken: String,
}

impl<'a> ReportFields<'a> {
    pub fn of(doc: &'a Document) -> Self {
        let passages = passages_of(doc);
        let word_count = passages.iter().map(|p| p.words.len()).sum();
        let title = row_title(doc);
        let whole = report_text(passages.iter().map(|p| (p.text.as_str(), p.recognised.as_deref())));
        let mut terms: Vec<String> =
            super::query::tokens(&whole).into_iter().filter(|t| t.chars().any(char::is_alphabetic)).collect();
        terms.sort();
        terms.dedup();
        let vocabulary = terms
            .into_iter()
            .map(|t| {
                let sound = crate::text::sound_key(&t);
                (t, sound)
            })
            .collect();
        let mut paragraphs = Vec::new();
        if let Some(a) = &doc.article {
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
                paragraphs.push(StoredParagraph {
                    number: b.number as i64,
                    kind: serde_json::to_string(&b.kind).unwrap_or_default().trim_matches('"').to_string(),
                    text: b.text.clone(),
                    first_spoken_ms: spoken.first().map(|s| s.0 as i64),
                    spoken: serde_json::to_string(&spoken).unwrap_or_default(),
                });
            }
        }
        Self { title, passages, word_count, whole, vocabulary, paragraphs }
    }
}

/// A report's whole transcript as `reports_fts` indexes it (built the same way to remove it):
/// folded as queries are ([`super::query::fold`]), since FTS5's tokenizer neither unifies
/// full-width letters nor ignores zero-width characters.
fn report_text<'a>(passages: impl Iterator<Item = (&'a str, Option<&'a str>)>) -> String {
    let mut whole = String::new();
    for (text, recognised) in passages {
        whole.push_str(&super::query::fold(text));
        whole.push('\n');
        if let Some(r) = recognised {
            whole.push_str(&super::query::fold(r));
            whole.push('\n');
        }
    }
    whole
}

/// Rebuilds `reports_fts` from the passages, folded (an archive of schema 2 indexed them as
/// written); inside the caller's transaction.
fn refold_reports_index(tx: &Connection) -> rusqlite::Result<()> {
    tx.execute("INSERT INTO reports_fts (reports_fts) VALUES ('delete-all')", [])?;
    let ids: Vec<i64> = tx.prepare("SELECT id FROM reports")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let mut passages = tx.prepare("SELECT text, recognised FROM passages WHERE report_id = ?1 ORDER BY number")?;
    for id in ids {
        let rows: Vec<(String, Option<String>)> =
            passages.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        let whole = report_text(rows.iter().map(|(t, r)| (t.as_str(), r.as_deref())));
        tx.execute("INSERT INTO reports_fts (rowid, text) VALUES (?1, ?2)", params![id, whole])?;
    }
    Ok(())
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
    /// Who speaks most of it, as the document names them ("Speaker N" when unnamed).
    pub speaker: Option<String>,
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
            let speaker = crate::speakers::names::main_speaker(words[s.first..s.end].iter().copied())
                .and_then(|id| doc.speakers.iter().find(|sp| sp.id == id))
                .map(|sp| sp.label());
            StoredPassage { start_ms, end_ms, text, recognised, paragraph, kind, speaker, words: ws }
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
