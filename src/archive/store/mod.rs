//! The archive database: `archive.db` (SQLite with FTS5) in the archive folder, or a shared
//! PostgreSQL database ([`postgres`], `--db postgres://…`) with the same tables. One row per report, per spoken
//! passage with its times and link, per word with its times, per article paragraph with the
//! times it is spoken, and per failed input. Full-text tables sit beside the rows they index
//! (`passages_fts`, `paragraphs_fts`, declared `content="…"` so Datasette finds them) and are
//! kept in step by triggers. Everything is read from finished JSON documents: the archive never
//! reaches back into recognition.

mod backend;
mod postgres;
mod sqlite;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use backend::{
    Among, Backend, CANDIDATES_PER_TERM, CHECKED_AT_ONCE, ClaimState, Entry, Holder, PassageRow, ReportFiles,
    ReportRow, RowStamp, StoreError, StoredPassage, TimedWord, WordsByPassage, passages_of,
};
pub use sqlite::{APPLICATION_ID, DB_FILE, SCHEMA};

use super::query::{Filters, Query};
use crate::formats::json::Document;

/// Where an archive's database is: `archive.db` in (or named by) a path, or a PostgreSQL server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Db {
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` connection URL.
    Postgres(String),
}

impl Db {
    /// Connections that store a collection being indexed at once: SQLite has one writer;
    /// PostgreSQL's server process per connection was busy two thirds of the time, waiting on
    /// its client the rest (10,000 reports on 2 cores: 57.2 s with one, 29.1 s with two).
    pub fn writers(&self) -> usize {
        match self {
            Db::Sqlite(_) => 1,
            Db::Postgres(_) => 2,
        }
    }

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
/// An open archive database.
pub struct Store {
    backend: Box<dyn Backend>,
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
        let (backend, root): (Box<dyn Backend>, PathBuf) = match db {
            Db::Sqlite(path) => {
                (Box::new(sqlite::Sqlite::open(path, create)?), crate::job::folder_of(path).to_path_buf())
            }
            Db::Postgres(url) => {
                let (client, root) = postgres::Postgres::connect(url, root, create)?;
                (Box::new(client), root)
            }
        };
        Ok(Self { backend, root, db: db.clone() })
    }

    /// Opens an archive to read it only (search, serve): SQLite read-only, so an archive that
    /// another user owns, or on a read-only disk, can be searched; nothing is created or changed.
    pub fn open_read(db: &Db, root: Option<&Path>) -> Result<Self, StoreError> {
        match db {
            Db::Sqlite(path) => Ok(Self {
                backend: Box::new(sqlite::Sqlite::open_read(path)?),
                root: crate::job::folder_of(path).to_path_buf(),
                db: db.clone(),
            }),
            Db::Postgres(_) => Self::connect(db, root, false),
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
    pub fn sqlite(&self) -> Option<&rusqlite::Connection> {
        self.backend.sqlite()
    }

    /// The folder, page and media of `report`, if it is in the archive.
    pub fn report_files(&mut self, report: &str) -> Result<Option<ReportFiles>, StoreError> {
        self.backend.report_files(report)
    }

    /// What the database row of `report` says of it, to compare with [`RowStamp::of`] the
    /// document: a report whose row disagrees with its files is not "unchanged".
    pub fn stamp(&mut self, report: &str) -> Result<Option<RowStamp>, StoreError> {
        self.backend.stamp(report)
    }

    /// The fingerprint recorded for `report`, if it is in the archive.
    pub fn fingerprint(&mut self, report: &str) -> Result<Option<String>, StoreError> {
        self.backend.fingerprint(report)
    }

    /// Adds a report or replaces the one of the same key, in one transaction.
    pub fn put(&mut self, entry: &Entry, doc: &Document) -> Result<(), StoreError> {
        self.backend.put(&[(entry, doc)])
    }

    /// Adds these reports (a collection being indexed), each replacing the one of the same key,
    /// in one transaction: a word's place in the indexes is written once for all of them, not
    /// once each. If that fails they are stored one at a time, so that every report before the
    /// one at fault is kept; its error is returned.
    pub fn put_all(&mut self, reports: &[(Entry, Document)]) -> Result<(), StoreError> {
        let all: Vec<(&Entry, &Document)> = reports.iter().map(|(e, d)| (e, d)).collect();
        if self.backend.put(&all).is_ok() {
            return Ok(());
        }
        for one in all {
            self.backend.put(&[one])?;
        }
        Ok(())
    }

    /// Records that `input` failed with `error` (replacing an earlier failure of it).
    pub fn fail(&mut self, input: &str, error: &str) -> Result<(), StoreError> {
        self.backend.fail(&crate::secret::in_text(input), &crate::secret::in_text(error))
    }

    /// Whether `term` (folded) is a word of the archive.
    pub fn is_known(&mut self, term: &str) -> Result<bool, StoreError> {
        self.backend.is_known(term)
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
        self.backend.vocabulary_near(sound, prefix, &upper, limit)
    }

    /// The reports whose whole transcript has every group of `q` (exclusions and phrases are
    /// judged per passage by the caller), best first: `count` of them from `offset`.
    ///
    /// Ranking every report that has a common word costs in proportion to the archive, so the
    /// candidates come first — the reports where the query's words weigh most
    /// ([`CANDIDATES_PER_TERM`] per word, read from an index in that order), ranked by their
    /// weight ([`WordsWeights::candidates`]) and looked up a few dozen at a time until the page
    /// is full; the other matching reports follow, ranked by the database (BM25, cover density),
    /// read only when a page reaches past the candidates. Every matching report comes once.
    pub fn matching_reports(
        &mut self,
        q: &Query,
        filters: &Filters,
        offset: usize,
        count: usize,
    ) -> Result<Vec<ReportRow>, StoreError> {
        let (words, prefixes) = q.candidate_words();
        let candidates = if (words.is_empty() && prefixes.is_empty()) || filters.report.is_some() {
            None
        } else {
            self.backend.candidates(&words, &prefixes)?
        };
        let Some(weights) = candidates else {
            return self.backend.matching_reports(q, filters, Among::All, offset, count);
        };
        let candidates = weights.candidates();
        // The candidates that match, weightiest first, a few dozen looked up at a time until
        // the page is full (ranking them all by the database's own measure read every one).
        let mut first = Vec::new();
        for chunk in candidates.chunks(CHECKED_AT_ONCE) {
            let mut found: HashMap<i64, ReportRow> = self
                .backend
                .matching_reports(q, filters, Among::Only(chunk), 0, chunk.len())?
                .into_iter()
                .map(|r| (r.id, r))
                .collect();
            for c in chunk {
                if let Some(mut row) = found.remove(&c.id) {
                    row.rank = -c.weight;
                    first.push(row);
                }
            }
            if first.len() >= offset + count {
                break;
            }
        }
        let mut out: Vec<ReportRow> = first.iter().skip(offset).take(count).cloned().collect();
        // Fewer than asked for: `first` is every matching candidate, and the page goes on past them.
        if out.len() < count {
            let skip = offset.saturating_sub(first.len());
            out.extend(self.backend.matching_reports(
                q,
                filters,
                Among::Except(&candidates),
                skip,
                count - out.len(),
            )?);
        }
        Ok(out)
    }

    /// The passages of these reports, by report, in speaking order: all of them, or (where the
    /// backend can tell cheaply) those that may match `q`.
    pub fn passages_of(&mut self, report_ids: &[i64], q: &Query) -> Result<HashMap<i64, Vec<PassageRow>>, StoreError> {
        self.backend.passages_of(report_ids, q)
    }

    /// The words of these passages with their times, in order, by passage.
    pub fn words_of(&mut self, passage_ids: &[i64]) -> Result<WordsByPassage, StoreError> {
        self.backend.words_of(passage_ids)
    }

    /// The texts of these (report id, paragraph number) article paragraphs.
    pub fn paragraph_texts(&mut self, wanted: &[(i64, i64)]) -> Result<HashMap<(i64, i64), String>, StoreError> {
        self.backend.paragraph_texts(wanted)
    }

    /// Claims `report` for `worker` for `lease`: free, or held by a worker whose lease ran out,
    /// it is this worker's; else it says who holds it. PostgreSQL judges the lease by the
    /// server's clock (machines' clocks may differ), SQLite by this machine's — and there a
    /// holder that `gone` says no longer runs on this machine has lost it already.
    pub fn claim(
        &mut self,
        report: &str,
        worker: &str,
        lease: Duration,
        gone: &dyn Fn(&str) -> bool,
    ) -> Result<ClaimState, StoreError> {
        self.backend.claim(report, worker, lease, gone)
    }

    /// Extends `worker`'s claim on `report`; false when it no longer holds it.
    pub fn renew(&mut self, report: &str, worker: &str, lease: Duration) -> Result<bool, StoreError> {
        self.backend.renew(report, worker, lease)
    }

    /// Gives up `worker`'s claim on `report` (nothing if it no longer holds it).
    pub fn release(&mut self, report: &str, worker: &str) -> Result<(), StoreError> {
        self.backend.release(report, worker)
    }

    /// After many reports were written (a batch, an index of a collection): the planner's
    /// statistics and the full-text indexes brought up to date for the searches that follow.
    pub fn tidy(&mut self) -> Result<(), StoreError> {
        self.backend.tidy()
    }

    /// Every row of every table in a fixed order, without row ids or timestamps, each value as
    /// text: two archives of the same reports dump the same, whichever their backends.
    pub fn dump(&mut self) -> Result<String, StoreError> {
        let mut out = String::new();
        for (columns, rest) in DUMP {
            for cells in self.backend.dump_rows(columns, rest)? {
                let cells: Vec<String> = cells.iter().map(|c| format!("{c:?}")).collect();
                out.push_str(&cells.join("\t"));
                out.push('\n');
            }
            out.push_str("--\n");
        }
        Ok(out)
    }
}
