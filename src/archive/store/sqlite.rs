//! The archive in SQLite: `archive.db` with FTS5 full-text tables beside the rows they index
//! (`passages_fts`, `paragraphs_fts`, declared `content="…"` so Datasette finds them), kept in
//! step by triggers.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::backend::{
    Among, Backend, ClaimState, Entry, Holder, PassageRow, ReportFields, ReportFiles, ReportRow, RowStamp, StoreError,
    TimedWord, WordsByPassage, report_text, revisions_of,
};
use crate::archive::query::{Filters, Query};
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

/// Matching reports ranked by BM25: of all, of the candidates (FTS5 looks each up by rowid), or
/// of all but them.
macro_rules! matching {
    ($among:literal) => {
        concat!(
            "SELECT r.id, bm25(reports_fts) AS rank, r.report, r.folder, r.title, r.date, r.source, coalesce(r.page, r.media)
             FROM reports_fts JOIN reports r ON r.id = reports_fts.rowid
             WHERE reports_fts MATCH ?1
               AND (?2 IS NULL OR r.date >= ?2) AND (?3 IS NULL OR r.date <= ?3)
               AND (?4 IS NULL OR r.source = ?4) AND (?5 IS NULL OR r.language = ?5)
               AND (?8 IS NULL OR r.report = ?8) AND (?9 IS NULL OR TRUE) ",
            $among,
            " ORDER BY rank, r.report LIMIT ?6 OFFSET ?7"
        )
    };
}
const MATCHING_ALL: &str = matching!("");
const MATCHING_ONLY: &str = matching!("AND reports_fts.rowid IN (SELECT value FROM json_each(?9))");
const MATCHING_EXCEPT: &str = matching!("AND reports_fts.rowid NOT IN (SELECT value FROM json_each(?9))");

/// An open SQLite archive.
pub struct Sqlite(pub Connection);

impl Sqlite {
    /// Opens (creating if `create`) the archive database at `path`.
    pub fn open(path: &Path, create: bool) -> Result<Self, StoreError> {
        open_sqlite(path, create).map(Sqlite)
    }

    /// Opens the archive database at `path` to read it only.
    pub fn open_read(path: &Path) -> Result<Self, StoreError> {
        open_sqlite_read(path).map(Sqlite)
    }
}

impl Backend for Sqlite {
    fn sqlite(&self) -> Option<&Connection> {
        Some(&self.0)
    }

    fn report_files(&mut self, report: &str) -> Result<Option<ReportFiles>, StoreError> {
        Ok(self
            .0
            .prepare_cached("SELECT folder, page, media FROM reports WHERE report = ?1")?
            .query_row([report], |r| Ok(ReportFiles { folder: r.get(0)?, page: r.get(1)?, media: r.get(2)? }))
            .optional()?)
    }

    fn stamp(&mut self, report: &str) -> Result<Option<RowStamp>, StoreError> {
        Ok(self
            .0
            .query_row(
                "SELECT fingerprint, title, date, source, url, media FROM reports WHERE report = ?1",
                [report],
                |r| {
                    Ok(RowStamp {
                        fingerprint: r.get(0)?,
                        title: r.get(1)?,
                        date: r.get(2)?,
                        source: r.get(3)?,
                        url: r.get(4)?,
                        media: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    fn fingerprint(&mut self, report: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .0
            .query_row("SELECT fingerprint FROM reports WHERE report = ?1", [report], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten())
    }

    fn put(&mut self, entry: &Entry, doc: &Document) -> Result<(), StoreError> {
        put_sqlite(&mut self.0, entry, doc)
    }

    fn fail(&mut self, input: &str, error: &str) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT INTO failures (input, error, failed_at) VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
             ON CONFLICT(input) DO UPDATE SET error = excluded.error, failed_at = excluded.failed_at",
            params![input, error],
        )?;
        Ok(())
    }

    fn is_known(&mut self, term: &str) -> Result<bool, StoreError> {
        Ok(self
            .0
            .prepare_cached("SELECT 1 FROM vocabulary WHERE term = ?1")?
            .query_row([term], |r| r.get::<_, i64>(0))
            .optional()?
            .is_some())
    }

    fn vocabulary_near(
        &mut self,
        sound: &str,
        prefix: &str,
        upper: &str,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT term, sound FROM vocabulary WHERE sound = ?1
                 UNION SELECT term, sound FROM vocabulary WHERE term >= ?2 AND term < ?3 LIMIT ?4",
            )?
            .query_map(params![sound, prefix, upper, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?)
    }

    fn matching_reports(
        &mut self,
        q: &Query,
        filters: &Filters,
        among: Among,
        offset: usize,
        count: usize,
    ) -> Result<Vec<ReportRow>, StoreError> {
        let Some(expr) = q.positive_fts5() else { return Ok(Vec::new()) };
        // The candidates as a JSON list: FTS5 is asked for each of them by rowid.
        let (sql, ids) = match among {
            Among::All => (MATCHING_ALL, None),
            Among::Only(ids) => (MATCHING_ONLY, Some(ids)),
            Among::Except(ids) => (MATCHING_EXCEPT, Some(ids)),
        };
        let ids = ids.map(|ids| serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()));
        let mut stmt = self.0.prepare_cached(sql)?;
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
                    filters.report,
                    ids
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

    fn candidates(&mut self, _: &[String], _: &[String]) -> Result<Option<Vec<i64>>, StoreError> {
        // FTS5 ranks every match fast (a word in all of 10,000 reports: 13 ms) but looks
        // candidates up one by one slower than that (300 of them: 78 ms): no first stage here.
        Ok(None)
    }

    fn passages_of(&mut self, report_ids: &[i64], _: &Query) -> Result<HashMap<i64, Vec<PassageRow>>, StoreError> {
        // An archive of schema 3 opened only to read has no speakers (writing adds the column).
        let has_speaker: bool = self
            .0
            .prepare_cached("SELECT count(*) FROM pragma_table_info('passages') WHERE name = 'speaker'")?
            .query_row([], |r| r.get::<_, i64>(0))?
            > 0;
        let mut stmt = self.0.prepare_cached(if has_speaker {
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

    fn words_of(&mut self, passage_ids: &[i64]) -> Result<WordsByPassage, StoreError> {
        let mut stmt = self
            .0
            .prepare_cached("SELECT word, start_ms, end_ms FROM words WHERE passage_id = ?1 ORDER BY position")?;
        let mut out = HashMap::new();
        for &id in passage_ids {
            let rows: Vec<TimedWord> =
                stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?;
            out.insert(id, rows);
        }
        Ok(out)
    }

    fn paragraph_texts(&mut self, wanted: &[(i64, i64)]) -> Result<HashMap<(i64, i64), String>, StoreError> {
        let mut stmt = self.0.prepare_cached("SELECT text FROM paragraphs WHERE report_id = ?1 AND number = ?2")?;
        let mut out = HashMap::new();
        for &(r, n) in wanted {
            if let Some(t) = stmt.query_row(params![r, n], |row| row.get::<_, String>(0)).optional()? {
                out.insert((r, n), t);
            }
        }
        Ok(out)
    }

    fn claim(
        &mut self,
        report: &str,
        worker: &str,
        lease: Duration,
        gone: &dyn Fn(&str) -> bool,
    ) -> Result<ClaimState, StoreError> {
        let tx = self.0.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let now = unix_ms();
        let held: Option<(String, i64)> = tx
            .query_row("SELECT worker, lease_until FROM claims WHERE report = ?1", [report], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let state = match held {
            Some((w, until)) if w != worker && until > now && !gone(&w) => {
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

    fn renew(&mut self, report: &str, worker: &str, lease: Duration) -> Result<bool, StoreError> {
        Ok(self.0.execute(
            "UPDATE claims SET lease_until = ?3 WHERE report = ?1 AND worker = ?2",
            params![report, worker, unix_ms() + lease.as_millis() as i64],
        )? == 1)
    }

    fn release(&mut self, report: &str, worker: &str) -> Result<(), StoreError> {
        self.0.execute("DELETE FROM claims WHERE report = ?1 AND worker = ?2", params![report, worker])?;
        Ok(())
    }

    fn tidy(&mut self) -> Result<(), StoreError> {
        // Statistics for the tables whose contents changed most (SQLite decides which).
        self.0.execute_batch("PRAGMA optimize")?;
        Ok(())
    }

    fn dump_rows(&mut self, columns: &[&str], rest: &str) -> Result<Vec<Vec<Option<String>>>, StoreError> {
        let mut stmt = self.0.prepare(&format!("SELECT {} {rest}", columns.join(", ")))?;
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
        Ok(all)
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
