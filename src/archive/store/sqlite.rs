//! The archive in SQLite: `archive.db` with FTS5 full-text tables beside the rows they index
//! (`passages_fts`, `paragraphs_fts`, declared `content="…"` so Datasette finds them), kept in
//! step by triggers.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::backend::{
    Among, Backend, CANDIDATES_PER_TERM, ClaimState, Entry, Holder, PassageRow, ReportFields, ReportFiles, ReportRow,
    RowStamp, StoreError, TimedWord, WORDS_PER_PREFIX, WordWeights, WordsByPassage, WordsWeights, impacts_of,
    report_text, revisions_of,
};
use crate::archive::query::{Filters, Query};
use crate::formats::json::Document;

/// The database's file name inside an archive folder.
pub const DB_FILE: &str = "archive.db";
/// Version of the tables below, kept in `PRAGMA user_version`. 3: `reports_fts` holds folded
/// text (compatibility forms, no invisible characters), rebuilt when a version 2 archive is
/// opened for writing. 4: `passages.speaker`, who speaks each passage. 5: `revisions`, the
/// edits applied to each report. 6: `impacts`, where search looks first (filled for the reports
/// already there when the archive is opened for writing).
pub const SCHEMA: i64 = 6;

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
-- Where search looks first (schema 6): for each word of the transcripts, the reports where it
-- weighs most (its impact, see backend.rs), at most 300 of them, in the order search reads them.
-- Keeping every report of a common word would write its pages for every report indexed. No
-- foreign key: deleting a report would look for its rows in the whole table; put deletes them
-- by their keys.
CREATE TABLE IF NOT EXISTS impacts (
    term TEXT NOT NULL,
    impact REAL NOT NULL,
    report_id INTEGER NOT NULL,
    PRIMARY KEY (term, impact DESC, report_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS term_stats (
    term TEXT PRIMARY KEY,
    reports INTEGER NOT NULL,         -- reports whose transcript has it (for its idf); '': all reports
    kept INTEGER NOT NULL,            -- of them in impacts
    floor REAL                        -- the lowest impact kept, once 300 are: a report under it is not
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

/// Matching reports ranked by BM25: of all, or of all but the candidates (FTS5 reads every
/// match); or, unranked, those of the candidates (FTS5 looks each up by rowid, which costs the
/// same whatever the archive's size, but recomputes BM25's statistics for each: not asked).
macro_rules! matching {
    ($rank:literal, $among:literal) => {
        concat!(
            "SELECT r.id, ",
            $rank,
            " AS rank, r.report, r.folder, r.title, r.date, r.source, coalesce(r.page, r.media)
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
const MATCHING_ALL: &str = matching!("bm25(reports_fts)", "");
const MATCHING_ONLY: &str = matching!("0.0", "AND reports_fts.rowid IN (SELECT value FROM json_each(?9))");
/// The same, FTS5 reading every match once (a prefix's words are merged again for each lookup
/// by rowid: `captiv*` over 48 candidates, 44 ms looked up, 1.4 ms read through).
const MATCHING_ONLY_READ_THROUGH: &str =
    matching!("0.0", "AND +reports_fts.rowid IN (SELECT value FROM json_each(?9))");
const MATCHING_EXCEPT: &str =
    matching!("bm25(reports_fts)", "AND reports_fts.rowid NOT IN (SELECT value FROM json_each(?9))");

/// An open SQLite archive.
pub struct Sqlite {
    conn: Connection,
    /// Whether it has `impacts` (an archive of schema 5 or older opened only to read has not:
    /// its matches are all ranked).
    impacts: bool,
}

impl Sqlite {
    /// Opens (creating if `create`) the archive database at `path`.
    pub fn open(path: &Path, create: bool) -> Result<Self, StoreError> {
        Self::of(open_sqlite(path, create)?)
    }

    /// Opens the archive database at `path` to read it only.
    pub fn open_read(path: &Path) -> Result<Self, StoreError> {
        Self::of(open_sqlite_read(path)?)
    }

    fn of(conn: Connection) -> Result<Self, StoreError> {
        let impacts = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'impacts'", [], |r| r.get::<_, i64>(0))?
            > 0;
        Ok(Sqlite { conn, impacts })
    }
}

impl Backend for Sqlite {
    fn sqlite(&self) -> Option<&Connection> {
        Some(&self.conn)
    }

    fn report_files(&mut self, report: &str) -> Result<Option<ReportFiles>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT folder, page, media FROM reports WHERE report = ?1")?
            .query_row([report], |r| Ok(ReportFiles { folder: r.get(0)?, page: r.get(1)?, media: r.get(2)? }))
            .optional()?)
    }

    fn stamp(&mut self, report: &str) -> Result<Option<RowStamp>, StoreError> {
        Ok(self
            .conn
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
            .conn
            .query_row("SELECT fingerprint FROM reports WHERE report = ?1", [report], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten())
    }

    fn put(&mut self, reports: &[(&Entry, &Document)]) -> Result<(), StoreError> {
        // Immediate: the write lock is taken (or waited for) first; a deferred transaction that
        // reads and then writes fails at once with "database is locked" when another batch
        // wrote meanwhile.
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for (entry, doc) in reports {
            put_sqlite(&tx, entry, doc)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn fail(&mut self, input: &str, error: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO failures (input, error, failed_at) VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
             ON CONFLICT(input) DO UPDATE SET error = excluded.error, failed_at = excluded.failed_at",
            params![input, error],
        )?;
        Ok(())
    }

    fn is_known(&mut self, term: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
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
            .conn
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
        let mut stmt = self.conn.prepare_cached(match among {
            Among::All => MATCHING_ALL,
            Among::Only(_) if q.candidate_words().1.is_empty() => MATCHING_ONLY,
            Among::Only(_) => MATCHING_ONLY_READ_THROUGH,
            Among::Except(_) => MATCHING_EXCEPT,
        })?;
        let mut read = |ids: Option<Vec<i64>>, count: i64, offset: i64| -> Result<Vec<ReportRow>, StoreError> {
            let ids = ids.map(|ids| serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()));
            let rows = stmt.query_map(
                params![
                    expr,
                    filters.since,
                    filters.until,
                    filters.source,
                    filters.language,
                    count,
                    offset,
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
            )?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        read(among.ids(), count as i64, offset as i64)
    }

    fn candidates(&mut self, words: &[String], prefixes: &[String]) -> Result<Option<WordsWeights>, StoreError> {
        if !self.impacts {
            return Ok(None);
        }
        let mut terms: Vec<String> = words.to_vec();
        let mut prefixed = self
            .conn
            .prepare_cached("SELECT term FROM vocabulary WHERE term >= ?1 AND term < ?2 ORDER BY term LIMIT ?3")?;
        for p in prefixes {
            let upper = format!("{p}{}", char::MAX);
            for t in prefixed.query_map(params![p, upper, WORDS_PER_PREFIX as i64], |r| r.get(0))? {
                terms.push(t?);
            }
        }
        terms.sort();
        terms.dedup();
        let mut stats = self.conn.prepare_cached("SELECT reports, kept, floor FROM term_stats WHERE term = ?1")?;
        let mut top = self
            .conn
            .prepare_cached("SELECT report_id, impact FROM impacts WHERE term = ?1 ORDER BY impact DESC LIMIT ?2")?;
        let mut out =
            WordsWeights { reports: stats.query_row([""], |r| r.get(0)).optional()?.unwrap_or(0), words: Vec::new() };
        for t in &terms {
            let Some((reports, kept, floor)) = stats
                .query_row([t], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, Option<f64>>(2)?)))
                .optional()?
            else {
                continue;
            };
            let top = top
                .query_map(params![t, CANDIDATES_PER_TERM as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            // Reports left out of a word's kept ones weigh at most its floor there.
            let floor = if kept as usize >= CANDIDATES_PER_TERM { floor } else { None };
            out.words.push(WordWeights { reports, floor, top });
        }
        Ok(Some(out))
    }

    fn passages_of(&mut self, report_ids: &[i64], _: &Query) -> Result<HashMap<i64, Vec<PassageRow>>, StoreError> {
        // An archive of schema 3 opened only to read has no speakers (writing adds the column).
        let has_speaker: bool = self
            .conn
            .prepare_cached("SELECT count(*) FROM pragma_table_info('passages') WHERE name = 'speaker'")?
            .query_row([], |r| r.get::<_, i64>(0))?
            > 0;
        let mut stmt = self.conn.prepare_cached(if has_speaker {
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
            .conn
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
        let mut stmt = self.conn.prepare_cached("SELECT text FROM paragraphs WHERE report_id = ?1 AND number = ?2")?;
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
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
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
        Ok(self.conn.execute(
            "UPDATE claims SET lease_until = ?3 WHERE report = ?1 AND worker = ?2",
            params![report, worker, unix_ms() + lease.as_millis() as i64],
        )? == 1)
    }

    fn release(&mut self, report: &str, worker: &str) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM claims WHERE report = ?1 AND worker = ?2", params![report, worker])?;
        Ok(())
    }

    fn tidy(&mut self) -> Result<(), StoreError> {
        // Statistics for the tables whose contents changed most (SQLite decides which); the
        // report index merged into one segment: looking a candidate up in it by rowid then costs
        // one b-tree descent per word (with the segments a hundred reports at a time leave,
        // 120 µs a candidate at 10,000 reports; merged, 10–20 µs).
        self.conn.execute_batch("PRAGMA optimize; INSERT INTO reports_fts (reports_fts) VALUES ('optimize')")?;
        Ok(())
    }

    fn dump_rows(&mut self, columns: &[&str], rest: &str) -> Result<Vec<Vec<Option<String>>>, StoreError> {
        let mut stmt = self.conn.prepare(&format!("SELECT {} {rest}", columns.join(", ")))?;
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
    // WAL's usual pairing: a power cut may lose the last commits, never the database (a batch
    // makes again what it finds missing); a 64 MB page cache for the writes' word counts and
    // kept impacts (2 MB by default).
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(open_err)?;
    conn.pragma_update(None, "cache_size", -65536).map_err(open_err)?;
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
                if (1..6).contains(&version) {
                    backfill_impacts(&conn)?;
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

/// Stores one report inside the caller's transaction `tx`.
fn put_sqlite(tx: &Connection, entry: &Entry, doc: &Document) -> Result<(), StoreError> {
    let old: Option<i64> =
        tx.query_row("SELECT id FROM reports WHERE report = ?1", [&entry.report], |r| r.get(0)).optional()?;
    if let Some(id) = old {
        let whole = stored_text(tx, id)?;
        tx.execute("INSERT INTO reports_fts (reports_fts, rowid, text) VALUES ('delete', ?1, ?2)", params![id, whole])?;
        remove_impacts(tx, id, &impacts_of(&whole))?;
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
        let mut ins_passage = tx.prepare_cached(
            "INSERT INTO passages (report_id, number, start_ms, end_ms, text, recognised, paragraph, kind, speaker)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        let mut ins_word = tx.prepare_cached(
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
        let mut ins_vocab = tx.prepare_cached("INSERT OR IGNORE INTO vocabulary (term, sound) VALUES (?1, ?2)")?;
        for (t, sound) in &row.vocabulary {
            ins_vocab.execute(params![t, sound])?;
        }
        tx.execute("INSERT INTO reports_fts (rowid, text) VALUES (?1, ?2)", params![report_id, row.whole])?;
        add_impacts(tx, report_id, &row.impacts)?;
        let mut ins_para = tx.prepare_cached(
            "INSERT INTO paragraphs (report_id, number, kind, text, first_spoken_ms, spoken) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for g in &row.paragraphs {
            ins_para.execute(params![report_id, g.number, g.kind, g.text, g.first_spoken_ms, g.spoken])?;
        }
    }
    {
        let mut ins_rev = tx.prepare_cached(
            "INSERT INTO revisions (report_id, number, editor, at, source, changes) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (r, changes) in revisions_of(doc) {
            ins_rev.execute(params![report_id, r.number, r.editor, r.at, r.source, changes])?;
        }
    }
    tx.execute("DELETE FROM failures WHERE input = ?1", [&doc.input.path])?;
    Ok(())
}

/// The row of the empty word (no word is empty) counts the reports: a word's idf needs it, and
/// counting them at each search reads the whole table.
const COUNT_REPORT: &str = "INSERT INTO term_stats (term, reports, kept) VALUES ('', ?1, 0)
     ON CONFLICT (term) DO UPDATE SET reports = reports + excluded.reports";

/// Counts report `id` among the reports of each of its words and keeps it among a word's
/// weightiest where it weighs more than the last kept (which then goes).
fn add_impacts(tx: &Connection, id: i64, impacts: &[(String, f64)]) -> rusqlite::Result<()> {
    let mut stats = tx.prepare_cached("SELECT reports, kept, floor FROM term_stats WHERE term = ?1")?;
    let mut insert = tx.prepare_cached("INSERT INTO impacts (term, impact, report_id) VALUES (?1, ?2, ?3)")?;
    let mut lowest = tx.prepare_cached(
        "SELECT impact, report_id FROM impacts WHERE term = ?1 ORDER BY impact ASC, report_id DESC LIMIT 1",
    )?;
    let mut delete = tx.prepare_cached("DELETE FROM impacts WHERE term = ?1 AND impact = ?2 AND report_id = ?3")?;
    let mut update =
        tx.prepare_cached("INSERT OR REPLACE INTO term_stats (term, reports, kept, floor) VALUES (?1, ?2, ?3, ?4)")?;
    let most = CANDIDATES_PER_TERM as i64;
    tx.execute(COUNT_REPORT, [1])?;
    for (term, impact) in impacts {
        let (reports, mut kept, mut floor) = stats
            .query_row([term], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, Option<f64>>(2)?)))
            .optional()?
            .unwrap_or((0, 0, None));
        if kept < most || floor.is_some_and(|f| *impact > f) {
            insert.execute(params![term, impact, id])?;
            if kept < most {
                kept += 1;
            } else {
                let (f, r): (f64, i64) = lowest.query_row([term], |r| Ok((r.get(0)?, r.get(1)?)))?;
                delete.execute(params![term, f, r])?;
            }
            floor = if kept == most { Some(lowest.query_row([term], |r| r.get(0))?) } else { None };
        }
        update.execute(params![term, reports + 1, kept, floor])?;
    }
    Ok(())
}

/// Takes report `id` (whose impacts these were) out of its words' counts and kept reports. A
/// word that had 300 kept now has 299 until another report comes: the reports left out before
/// are not brought back (they are found after the candidates, until the archive is indexed
/// again).
fn remove_impacts(tx: &Connection, id: i64, impacts: &[(String, f64)]) -> rusqlite::Result<()> {
    let mut delete = tx.prepare_cached("DELETE FROM impacts WHERE term = ?1 AND impact = ?2 AND report_id = ?3")?;
    let mut update = tx.prepare_cached(
        "UPDATE term_stats SET reports = reports - 1, kept = kept - ?2, floor = CASE WHEN ?2 = 1 THEN NULL ELSE floor END
         WHERE term = ?1",
    )?;
    tx.execute(COUNT_REPORT, [-1])?;
    for (term, impact) in impacts {
        let gone = delete.execute(params![term, impact, id])? as i64;
        update.execute(params![term, gone])?;
    }
    Ok(())
}

/// Gives every report its impacts, from its stored passages as [`put_sqlite`] would (an archive
/// of schema 5 or older had none); inside the caller's transaction.
fn backfill_impacts(tx: &Connection) -> rusqlite::Result<()> {
    tx.execute_batch("DELETE FROM impacts; DELETE FROM term_stats")?;
    for id in report_ids(tx)? {
        add_impacts(tx, id, &impacts_of(&stored_text(tx, id)?))?;
    }
    Ok(())
}

/// Every report's id.
fn report_ids(tx: &Connection) -> rusqlite::Result<Vec<i64>> {
    tx.prepare("SELECT id FROM reports")?.query_map([], |r| r.get(0))?.collect()
}

/// Report `id`'s whole transcript as its stored passages give it ([`report_text`]): what its
/// index rows and impacts were made from.
fn stored_text(tx: &Connection, id: i64) -> rusqlite::Result<String> {
    let mut stmt = tx.prepare_cached("SELECT text, recognised FROM passages WHERE report_id = ?1 ORDER BY number")?;
    let rows: Vec<(String, Option<String>)> =
        stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    Ok(report_text(rows.iter().map(|(t, r)| (t.as_str(), r.as_deref()))))
}

/// Rebuilds `reports_fts` from the passages, folded (an archive of schema 2 indexed them as
/// written); inside the caller's transaction.
fn refold_reports_index(tx: &Connection) -> rusqlite::Result<()> {
    tx.execute("INSERT INTO reports_fts (reports_fts) VALUES ('delete-all')", [])?;
    for id in report_ids(tx)? {
        tx.execute("INSERT INTO reports_fts (rowid, text) VALUES (?1, ?2)", params![id, stored_text(tx, id)?])?;
    }
    Ok(())
}
