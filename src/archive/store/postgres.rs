//! The archive in PostgreSQL (`--db postgres://…`): the tables of the SQLite archive, shared by
//! a team. Several batches on different machines fill it at once, each claiming a report before
//! making it (`FOR UPDATE SKIP LOCKED`, with a lease the worker renews).
//!
//! Full text: each report's whole transcript (with a GIN index), and each passage, is a
//! `tsvector`. The vectors and queries are built here from the tokens of
//! [`crate::archive::query::tokens`], not by PostgreSQL's parser and dictionaries, so both
//! backends split, fold and match words exactly alike (whatever the server's locale and
//! text-search configuration) and a query finds the same passages in either. Search looks first
//! at the reports where the query's words weigh most (`impacts`); the others are ranked by
//! `ts_rank_cd` when a page reaches past those.
#![forbid(unsafe_code)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Client, Statement};

use super::backend::{
    Among, Backend, CANDIDATES_PER_TERM, ClaimState, Entry, Holder, PassageRow, ReportFields, ReportFiles, ReportRow,
    RowStamp, StoreError, WORDS_PER_PREFIX, WordWeights, WordsByPassage, WordsWeights, impacts_of, report_text,
    revisions_of,
};
use crate::archive::query::{Filters, Query};
use crate::formats::json::Document;

/// Version of the tables below, kept in `settings`.
/// 2: `passages.speaker`. 3: `revisions`, the edits applied to each report. 4: `impacts`, where
/// search looks first. 5: one index on `impacts` in search's order holds the report too (no
/// primary key: one fewer random insert per word of a report); no foreign keys on `words` and
/// `impacts` (deleted with their report by [`Backend::put`]). 6: no GIN index on the passages'
/// vectors (passages are read by report: it was only written, for every passage indexed).
/// 7: a passage's words are arrays of the passage (`words` is a view of them).
pub const SCHEMA: i64 = 7;
/// Waited for a server that does not answer, unless the URL says (`connect_timeout=`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Serialises the creation of the tables when several batches start at once.
const SCHEMA_LOCK: i64 = 0x7669_6473_6372;

const TABLES: &str = r#"
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
    id BIGSERIAL PRIMARY KEY,
    report TEXT COLLATE "C" NOT NULL UNIQUE,
    folder TEXT NOT NULL,
    title TEXT,
    date TEXT,
    source TEXT,
    url TEXT,
    page TEXT,
    media TEXT,
    media_path TEXT,
    article_path TEXT,
    duration_ms BIGINT,
    language TEXT,
    model TEXT,
    model_sha256 TEXT,
    media_sha256 TEXT,
    article_sha256 TEXT,
    fingerprint TEXT,
    passages BIGINT,
    words BIGINT,
    indexed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    tsv TSVECTOR NOT NULL              -- the whole transcript, as shown and as recognised
);
CREATE INDEX IF NOT EXISTS reports_tsv ON reports USING GIN (tsv);
CREATE TABLE IF NOT EXISTS passages (
    id BIGSERIAL PRIMARY KEY,
    report_id BIGINT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    number BIGINT NOT NULL,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT NOT NULL,
    text TEXT NOT NULL,
    recognised TEXT,
    paragraph BIGINT,
    kind TEXT,
    tsv TSVECTOR NOT NULL,
    speaker TEXT,
    -- The passage's words, timed (a row per word, with its index entry, was a third of an
    -- index's time): read whole, by passage; `words` shows them a row per word.
    word_texts TEXT[] NOT NULL DEFAULT '{}',
    word_starts BIGINT[] NOT NULL DEFAULT '{}',
    word_ends BIGINT[] NOT NULL DEFAULT '{}',
    word_probabilities REAL[] NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS passages_report ON passages (report_id, number);
CREATE TABLE IF NOT EXISTS paragraphs (
    id BIGSERIAL PRIMARY KEY,
    report_id BIGINT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    number BIGINT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    first_spoken_ms BIGINT,
    spoken TEXT
);
CREATE INDEX IF NOT EXISTS paragraphs_report ON paragraphs (report_id, number);
CREATE TABLE IF NOT EXISTS failures (
    id BIGSERIAL PRIMARY KEY,
    input TEXT COLLATE "C" NOT NULL UNIQUE,
    error TEXT NOT NULL,
    failed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS vocabulary (
    term TEXT COLLATE "C" PRIMARY KEY,
    sound TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS vocabulary_sound ON vocabulary (sound);
-- impacts holds no foreign key: checking one per row was a quarter of an index's time (a
-- report's 220 impacts); put deletes them with their report.
CREATE TABLE IF NOT EXISTS impacts (
    term TEXT COLLATE "C" NOT NULL,
    report_id BIGINT NOT NULL,
    impact REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS impacts_top ON impacts (term, impact DESC, report_id);
CREATE INDEX IF NOT EXISTS impacts_report ON impacts (report_id);
CREATE TABLE IF NOT EXISTS revisions (
    report_id BIGINT NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    editor TEXT NOT NULL,
    at TEXT NOT NULL,
    source TEXT,
    changes JSONB NOT NULL,
    PRIMARY KEY (report_id, number)
);
CREATE TABLE IF NOT EXISTS claims (
    report TEXT COLLATE "C" PRIMARY KEY,
    worker TEXT NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_until TIMESTAMPTZ NOT NULL
);
"#;

/// The passages' words a row per word, as archive.db keeps them (the dump and other readers
/// see one table in both); made once the table of schema 6 and before is gone.
const WORDS_VIEW: &str = r#"
DO $$ BEGIN
    IF to_regclass('words') IS NULL THEN
        CREATE VIEW words AS
            SELECT p.id AS passage_id, w.position - 1 AS position, w.word, w.start_ms, w.end_ms, w.probability
            FROM passages p,
                 unnest(p.word_texts, p.word_starts, p.word_ends, p.word_probabilities)
                     WITH ORDINALITY AS w(word, start_ms, end_ms, probability, position);
    END IF;
END $$;
"#;

/// Matching reports ranked by cover density: of all, or of all but the candidates; or,
/// unranked, those of the candidates (ranking them read every candidate's vector: 15–33 ms a
/// query at 100,000 reports).
macro_rules! matching {
    ($rank:literal, $among:literal) => {
        concat!(
            "SELECT r.id, ",
            $rank,
            " AS rank, r.report, r.folder, r.title, r.date, r.source,
                    coalesce(r.page, r.media)
             FROM reports r, CAST($1::text AS tsquery) q
             WHERE r.tsv @@ q
               AND ($2::text IS NULL OR r.date >= $2) AND ($3::text IS NULL OR r.date <= $3)
               AND ($4::text IS NULL OR r.source = $4) AND ($5::text IS NULL OR r.language = $5)
               AND ($8::text IS NULL OR r.report = $8) AND ($9::bigint[] IS NULL OR TRUE) ",
            $among,
            " ORDER BY rank DESC, r.report LIMIT $6 OFFSET $7"
        )
    };
}
const MATCHING_ALL: &str = matching!("ts_rank_cd(r.tsv, q)::float8", "");
const MATCHING_ONLY: &str = matching!("0::float8", "AND r.id = ANY($9)");
const MATCHING_EXCEPT: &str = matching!("ts_rank_cd(r.tsv, q)::float8", "AND NOT (r.id = ANY($9))");
/// Reports a word is counted in, at most, for its idf: a word in more is common either way
/// (counting all of a word in every one of 100,000 reports reads 100,000 index entries).
const COUNTED_AT_MOST: i64 = 1_000;

/// An open PostgreSQL archive: a connection, and the search's statements prepared on it.
pub struct Postgres {
    client: Client,
    /// Statements prepared on this connection, by their text.
    statements: HashMap<&'static str, Statement>,
    /// Words this connection has seen committed to the vocabulary (never removed from it):
    /// a collection's reports share most of their words, which are then not sent again.
    known_terms: HashSet<String>,
}

impl Postgres {
    /// Connects (creating the tables if `create`); returns the archive and its folder.
    pub fn connect(url: &str, root: Option<&Path>, create: bool) -> Result<(Self, PathBuf), StoreError> {
        connect(url, root, create)
            .map(|(client, root)| (Postgres { client, statements: HashMap::new(), known_terms: HashSet::new() }, root))
    }

    /// The connection and `sql` prepared on it, once per connection: each of a search's
    /// queries is then one round trip to the server, not two (parse, then execute).
    fn prepared(&mut self, sql: &'static str) -> Result<(&mut Client, Statement), StoreError> {
        let statement = match self.statements.get(sql) {
            Some(s) => s.clone(),
            None => {
                let s = self.client.prepare(sql)?;
                self.statements.insert(sql, s.clone());
                s
            }
        };
        Ok((&mut self.client, statement))
    }
}

fn connect(url: &str, root: Option<&Path>, create: bool) -> Result<(Client, PathBuf), StoreError> {
    let shown = crate::secret::address(url);
    let err = |source| StoreError::Connect { url: shown.clone(), source };
    let mut config: postgres::Config = url.parse().map_err(err)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("vidscribe");
    }
    // A server that stops answering is noticed: TCP keepalives after 30 s of silence, unsent
    // data given up after a minute, a statement stopped by the server after five.
    config.keepalives_idle(Duration::from_secs(30));
    config.tcp_user_timeout(Duration::from_secs(60));
    // The driver's connect timeout covers reaching the address, not the server's answer: a
    // service that accepts and says nothing would hold the connection for ever.
    let wait = config.get_connect_timeout().copied().unwrap_or(CONNECT_TIMEOUT) + Duration::from_secs(5);
    let (tx, rx) = std::sync::mpsc::channel();
    let attempt = config.clone();
    std::thread::spawn(move || {
        let _ = tx.send(attempt.connect(postgres::NoTls));
    });
    let mut client = match rx.recv_timeout(wait) {
        Ok(r) => r.map_err(err)?,
        Err(_) => return Err(StoreError::NoAnswer { url: shown, seconds: wait.as_secs() }),
    };
    client.batch_execute("SET statement_timeout = '5min'")?;
    // Prepared statements are planned for their parameters each time, as unprepared ones
    // were: only the parsing round trip is saved (servers before 12 lack the setting).
    let _ = client.batch_execute("SET plan_cache_mode = force_custom_plan");
    if create {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
        tx.batch_execute(TABLES)?;
        tx.batch_execute(WORDS_VIEW)?;
        tx.execute(
            "INSERT INTO settings (key, value) VALUES ('schema', $1) ON CONFLICT (key) DO NOTHING",
            &[&SCHEMA.to_string()],
        )?;
        // Search reads every matching report's vector to rank it: lz4 (where the server has it)
        // decompresses several times faster than the default pglz (measured: 10,000 reports,
        // a word in all of them, 67 ms to rank with pglz, 39 ms with lz4).
        let compression: Option<i8> = tx
            .query_one(
                "SELECT attcompression FROM pg_attribute WHERE attrelid = 'reports'::regclass AND attname = 'tsv'",
                &[],
            )
            .ok()
            .map(|r| r.get(0));
        if compression != Some(b'l' as i8) {
            let mut sp = tx.savepoint("lz4")?;
            if sp.batch_execute("ALTER TABLE reports ALTER COLUMN tsv SET COMPRESSION lz4").is_ok() {
                sp.commit()?;
            }
        }
        if let Some(r) = root {
            let r = std::path::absolute(r).unwrap_or_else(|_| r.to_path_buf());
            tx.execute(
                "INSERT INTO settings (key, value) VALUES ('root', $1) ON CONFLICT (key) DO NOTHING",
                &[&r.to_string_lossy().into_owned()],
            )?;
        }
        tx.commit()?;
    }
    let has_tables: Option<String> = client.query_one("SELECT to_regclass('settings')::text", &[])?.get(0);
    if has_tables.is_none() {
        return Err(StoreError::Empty { url: shown });
    }
    let setting = |c: &mut Client, key: &str| -> Result<Option<String>, StoreError> {
        Ok(c.query_opt("SELECT value FROM settings WHERE key = $1", &[&key])?.map(|r| r.get(0)))
    };
    let found: i64 = setting(&mut client, "schema")?.and_then(|s| s.parse().ok()).unwrap_or(0);
    if found > SCHEMA {
        return Err(StoreError::Newer { path: PathBuf::from(shown), found, reads: SCHEMA });
    }
    if found < SCHEMA {
        // Schema 1 had no speakers: the column is added (reports indexed before have none).
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
        tx.batch_execute("ALTER TABLE passages ADD COLUMN IF NOT EXISTS speaker TEXT")?;
        // Schema 4's impacts had two indexes by term and a foreign key (words had one too: its
        // table goes below).
        tx.batch_execute(
            "ALTER TABLE IF EXISTS impacts DROP CONSTRAINT IF EXISTS impacts_pkey;
             ALTER TABLE IF EXISTS impacts DROP CONSTRAINT IF EXISTS impacts_report_id_fkey;
             DROP INDEX IF EXISTS impacts_order;
             DROP INDEX IF EXISTS passages_tsv",
        )?;
        // Schema 2 had no revisions table, schema 3 no impacts.
        tx.batch_execute(TABLES)?;
        if found < 4 {
            backfill_impacts(&mut tx)?;
        }
        words_into_passages(&mut tx)?;
        tx.execute("UPDATE settings SET value = $1 WHERE key = 'schema'", &[&SCHEMA.to_string()])?;
        tx.commit()?;
    }
    let root = match root {
        Some(r) => r.to_path_buf(),
        None => setting(&mut client, "root")?.map(PathBuf::from).ok_or(StoreError::NoFolder { url: shown })?,
    };
    Ok((client, root))
}

/// Moves the words of schema 6 and before, a row each, into their passages' arrays, and shows
/// them through the view that replaces their table.
fn words_into_passages(tx: &mut postgres::Transaction) -> Result<(), StoreError> {
    tx.batch_execute(
        "ALTER TABLE passages ADD COLUMN IF NOT EXISTS word_texts TEXT[] NOT NULL DEFAULT '{}',
             ADD COLUMN IF NOT EXISTS word_starts BIGINT[] NOT NULL DEFAULT '{}',
             ADD COLUMN IF NOT EXISTS word_ends BIGINT[] NOT NULL DEFAULT '{}',
             ADD COLUMN IF NOT EXISTS word_probabilities REAL[] NOT NULL DEFAULT '{}'",
    )?;
    let table = tx.query_opt("SELECT 1 FROM pg_class WHERE oid = to_regclass('words') AND relkind = 'r'", &[])?;
    if table.is_some() {
        tx.batch_execute(
            "UPDATE passages p SET word_texts = w.t, word_starts = w.s, word_ends = w.e, word_probabilities = w.pr
             FROM (SELECT passage_id, array_agg(word ORDER BY position) AS t, array_agg(start_ms ORDER BY position) AS s,
                          array_agg(end_ms ORDER BY position) AS e, array_agg(probability ORDER BY position) AS pr
                   FROM words GROUP BY passage_id) AS w
             WHERE p.id = w.passage_id;
             DROP TABLE words",
        )?;
    }
    tx.batch_execute(WORDS_VIEW)?;
    Ok(())
}

/// Gives the reports indexed before schema 4 their impacts, from their stored passages as
/// [`Backend::put`] would: without them they are found only after the candidates.
fn backfill_impacts(tx: &mut postgres::Transaction) -> Result<(), StoreError> {
    let ids: Vec<i64> = tx
        .query("SELECT id FROM reports r WHERE NOT EXISTS (SELECT 1 FROM impacts i WHERE i.report_id = r.id)", &[])?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let passages = tx.prepare("SELECT text, recognised FROM passages WHERE report_id = $1 ORDER BY number")?;
    let insert = tx.prepare(
        "INSERT INTO impacts (term, report_id, impact) SELECT u.t, $1, u.w FROM unnest($2::text[], $3::real[]) AS u(t, w)",
    )?;
    for id in ids {
        let rows: Vec<(String, Option<String>)> =
            tx.query(&passages, &[&id])?.into_iter().map(|r| (r.get(0), r.get(1))).collect();
        let whole = report_text(rows.iter().map(|(t, r)| (t.as_str(), r.as_deref())));
        let (terms, impacts): (Vec<String>, Vec<f32>) =
            impacts_of(&whole).into_iter().map(|(t, w)| (t, w as f32)).unzip();
        tx.execute(&insert, &[&id, &terms, &impacts])?;
    }
    Ok(())
}

/// A tsvector literal of `text`'s tokens with their positions (PostgreSQL keeps positions up to
/// 16,383 and 256 per word; the report-level vector only chooses reports, passages are judged
/// by their own tokens, so nothing is missed beyond them).
fn tsvector(text: &str) -> String {
    let mut at: std::collections::BTreeMap<String, Vec<usize>> = std::collections::BTreeMap::new();
    for (i, t) in crate::archive::query::tokens(text).into_iter().enumerate() {
        // Tokens are letters and digits only; PostgreSQL refuses a word over 2,047 bytes.
        if t.len() < 2_000 {
            let p = at.entry(t).or_default();
            if p.len() < 256 {
                p.push((i + 1).min(16_383));
            }
        }
    }
    let mut out = String::new();
    for (t, positions) in at {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&format!("'{t}':{}", positions.iter().map(usize::to_string).collect::<Vec<_>>().join(",")));
    }
    out
}

impl Backend for Postgres {
    fn fingerprint(&mut self, report: &str) -> Result<Option<String>, StoreError> {
        let c = &mut self.client;
        Ok(c.query_opt("SELECT fingerprint FROM reports WHERE report = $1", &[&report])?.and_then(|r| r.get(0)))
    }

    fn report_files(&mut self, report: &str) -> Result<Option<ReportFiles>, StoreError> {
        let c = &mut self.client;
        Ok(c.query_opt("SELECT folder, page, media FROM reports WHERE report = $1", &[&report])?.map(|r| ReportFiles {
            folder: r.get(0),
            page: r.get(1),
            media: r.get(2),
        }))
    }

    fn put(&mut self, reports: &[(&Entry, &Document)]) -> Result<(), StoreError> {
        // Prepared once per connection and planned once: generic plans suit these inserts.
        // The report's impacts first (no foreign key deletes them), then the report (its
        // passages, paragraphs and revisions go with it).
        let delete_report = self
            .prepared(
                "WITH old AS (SELECT id FROM reports WHERE report = $1),
                      i AS (DELETE FROM impacts WHERE report_id IN (SELECT id FROM old))
                 DELETE FROM reports WHERE id IN (SELECT id FROM old)",
            )?
            .1;
        let insert_report = self
            .prepared(
                "INSERT INTO reports (report, folder, title, date, source, url, page, media, media_path, article_path,
                    duration_ms, language, model, model_sha256, media_sha256, article_sha256, fingerprint, passages,
                    words, tsv)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                    $20::text::tsvector)
                 RETURNING id",
            )?
            .1;
        // The words of all passages in one array each, a passage's slice given by its bounds.
        let insert_passages = self.prepared("INSERT INTO passages (report_id, number, start_ms, end_ms, text, recognised, paragraph, kind, tsv, speaker,
                 word_texts, word_starts, word_ends, word_probabilities)
             SELECT $1, u.n, u.s, u.e, u.t, u.r, u.p, u.k, u.v::tsvector, u.w,
                 coalesce(($13::text[])[u.a:u.b], '{}'), coalesce(($14::bigint[])[u.a:u.b], '{}'),
                 coalesce(($15::bigint[])[u.a:u.b], '{}'), coalesce(($16::real[])[u.a:u.b], '{}')
             FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::text[],
                         $9::text[], $10::text[], $11::int[], $12::int[]) AS u(n, s, e, t, r, p, k, v, w, a, b)")?.1;
        let insert_vocabulary = self.prepared("INSERT INTO vocabulary (term, sound) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (term) DO NOTHING")?.1;
        let insert_impacts = self.prepared("INSERT INTO impacts (term, report_id, impact) SELECT u.t, $1, u.w FROM unnest($2::text[], $3::real[]) AS u(t, w)")?.1;
        let insert_paragraphs = self
            .prepared(
                "INSERT INTO paragraphs (report_id, number, kind, text, first_spoken_ms, spoken)
             SELECT $1, u.* FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[]) AS u",
            )?
            .1;
        let insert_revision = self.prepared("INSERT INTO revisions (report_id, number, editor, at, source, changes) VALUES ($1, $2, $3, $4, $5, $6::text::jsonb)")?.1;
        let delete_failure = self.prepared("DELETE FROM failures WHERE input = $1")?.1;
        let mut tx = self.client.transaction()?;
        tx.batch_execute("SET LOCAL plan_cache_mode = auto")?;
        // Words new to this connection, stored once for all the reports just before the commit
        // and in order: writers adding the same new words (two of one index, several batches)
        // wait for one another, never in a circle; known once the transaction commits.
        let mut added: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
        for (entry, doc) in reports {
            let row = ReportFields::of(doc);
            tx.execute(&delete_report, &[&entry.report])?;
            let article_path = doc.article.as_ref().map(|a| crate::secret::address(&a.path));
            let media_path = crate::secret::address(&doc.input.path);
            let duration = doc.input.audio.duration_ms as i64;
            let (n_passages, n_words) = (row.passages.len() as i64, row.word_count as i64);
            let tsv = tsvector(&row.whole);
            let params: [&(dyn ToSql + Sync); 20] = [
                &entry.report,
                &entry.folder,
                &row.title,
                &doc.meta.date,
                &doc.meta.source,
                &doc.meta.url,
                &entry.page,
                &entry.media,
                &media_path,
                &article_path,
                &duration,
                &doc.transcript.language,
                &doc.model.name,
                &doc.model.sha256,
                &entry.media_sha256,
                &entry.article_sha256,
                &entry.fingerprint,
                &n_passages,
                &n_words,
                &tsv,
            ];
            let report_id: i64 = tx.query_one(&insert_report, &params)?.get(0);
            let ps = &row.passages;
            let numbers: Vec<i64> = (1..=ps.len() as i64).collect();
            let starts: Vec<i64> = ps.iter().map(|p| p.start_ms as i64).collect();
            let ends: Vec<i64> = ps.iter().map(|p| p.end_ms as i64).collect();
            let texts: Vec<&str> = ps.iter().map(|p| p.text.as_str()).collect();
            let heard: Vec<Option<&str>> = ps.iter().map(|p| p.recognised.as_deref()).collect();
            let paragraphs: Vec<Option<i64>> = ps.iter().map(|p| p.paragraph.map(|n| n as i64)).collect();
            let kinds: Vec<Option<&str>> = ps.iter().map(|p| p.kind).collect();
            let speakers: Vec<Option<&str>> = ps.iter().map(|p| p.speaker.as_deref()).collect();
            let vectors: Vec<String> = ps
                .iter()
                .map(|p| tsvector(&format!("{}\n{}", p.text, p.recognised.as_deref().unwrap_or_default())))
                .collect();
            let (mut firsts, mut lasts) = (Vec::new(), Vec::new());
            let (mut w_text, mut w_start, mut w_end, mut w_prob) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for p in ps {
                // Bounds of the passage's slice, inclusive and from 1 (an empty slice: last < first).
                firsts.push(w_text.len() as i32 + 1);
                for w in &p.words {
                    w_text.push(w.text.as_str());
                    w_start.push(w.start_ms as i64);
                    w_end.push(w.end_ms as i64);
                    w_prob.push(w.probability);
                }
                lasts.push(w_text.len() as i32);
            }
            tx.execute(
                &insert_passages,
                &[
                    &report_id,
                    &numbers,
                    &starts,
                    &ends,
                    &texts,
                    &heard,
                    &paragraphs,
                    &kinds,
                    &vectors,
                    &speakers,
                    &firsts,
                    &lasts,
                    &w_text,
                    &w_start,
                    &w_end,
                    &w_prob,
                ],
            )?;
            for (t, sound) in &row.vocabulary {
                if !self.known_terms.contains(t) && !added.contains_key(t) {
                    added.insert(t.clone(), sound.clone());
                }
            }
            let (terms, impacts): (Vec<&str>, Vec<f32>) =
                row.impacts.iter().map(|(t, w)| (t.as_str(), *w as f32)).unzip();
            tx.execute(&insert_impacts, &[&report_id, &terms, &impacts])?;
            let g = &row.paragraphs;
            let g_number: Vec<i64> = g.iter().map(|p| p.number).collect();
            let g_kind: Vec<&str> = g.iter().map(|p| p.kind.as_str()).collect();
            let g_text: Vec<&str> = g.iter().map(|p| p.text.as_str()).collect();
            let g_first: Vec<Option<i64>> = g.iter().map(|p| p.first_spoken_ms).collect();
            let g_spoken: Vec<&str> = g.iter().map(|p| p.spoken.as_str()).collect();
            tx.execute(&insert_paragraphs, &[&report_id, &g_number, &g_kind, &g_text, &g_first, &g_spoken])?;
            for (r, changes) in revisions_of(doc) {
                tx.execute(&insert_revision, &[&report_id, &(r.number as i32), &r.editor, &r.at, &r.source, &changes])?;
            }
            tx.execute(&delete_failure, &[&doc.input.path])?;
        }
        if !added.is_empty() {
            let (terms, sounds): (Vec<&str>, Vec<&str>) = added.iter().map(|(t, s)| (t.as_str(), s.as_str())).unzip();
            tx.execute(&insert_vocabulary, &[&terms, &sounds])?;
        }
        tx.commit()?;
        self.known_terms.extend(added.into_keys());
        Ok(())
    }

    fn fail(&mut self, input: &str, error: &str) -> Result<(), StoreError> {
        let c = &mut self.client;
        c.execute(
            "INSERT INTO failures (input, error) VALUES ($1, $2)
             ON CONFLICT (input) DO UPDATE SET error = excluded.error, failed_at = now()",
            &[&input, &error],
        )?;
        Ok(())
    }

    fn is_known(&mut self, term: &str) -> Result<bool, StoreError> {
        let (c, st) = self.prepared("SELECT 1 FROM vocabulary WHERE term = $1")?;
        Ok(c.query_opt(&st, &[&term])?.is_some())
    }

    fn vocabulary_near(
        &mut self,
        sound: &str,
        prefix: &str,
        upper: &str,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let (c, st) = self.prepared(
            "SELECT term, sound FROM vocabulary WHERE sound = $1
             UNION SELECT term, sound FROM vocabulary WHERE term >= $2 AND term < $3 LIMIT $4",
        )?;
        let limit = limit as i64;
        Ok(c.query(&st, &[&sound, &prefix, &upper, &limit])?.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn matching_reports(
        &mut self,
        q: &Query,
        f: &Filters,
        among: Among,
        offset: usize,
        count: usize,
    ) -> Result<Vec<ReportRow>, StoreError> {
        let Some(tsquery) = q.positive_tsquery() else { return Ok(Vec::new()) };
        let (offset, count) = (offset as i64, count as i64);
        let sql = match among {
            Among::All => MATCHING_ALL,
            Among::Only(_) => MATCHING_ONLY,
            Among::Except(_) => MATCHING_EXCEPT,
        };
        let ids = among.ids();
        let (c, st) = self.prepared(sql)?;
        let rows =
            c.query(&st, &[&tsquery, &f.since, &f.until, &f.source, &f.language, &count, &offset, &f.report, &ids])?;
        Ok(rows
            .into_iter()
            .map(|r| ReportRow {
                id: r.get(0),
                rank: -r.get::<_, f64>(1),
                report: r.get(2),
                folder: r.get(3),
                title: r.get(4),
                date: r.get(5),
                source: r.get(6),
                target: r.get(7),
            })
            .collect())
    }

    fn candidates(&mut self, words: &[String], prefixes: &[String]) -> Result<Option<WordsWeights>, StoreError> {
        // The words and the first words of each prefix (connecting made the table: it is
        // there), then each word's count of reports (to a bound) and weightiest reports: index
        // ranges, one round trip; the archive's size from the planner's statistics.
        let (c, st) = self.prepared(
            "WITH t AS (
                 SELECT unnest($1::text[]) AS term
                 UNION SELECT v.term FROM unnest($2::text[]) AS p(prefix),
                     LATERAL (SELECT term FROM vocabulary WHERE term >= p.prefix AND term < p.prefix || chr(1114111)
                              ORDER BY term LIMIT $3) AS v),
                  counted AS MATERIALIZED (
                     SELECT t.term, (SELECT count(*) FROM (SELECT 1 FROM impacts WHERE term = t.term LIMIT $5) AS c) AS n
                     FROM t),
                  archive AS MATERIALIZED (
                     SELECT greatest(reltuples::bigint, 0) AS n FROM pg_class WHERE oid = 'reports'::regclass)
             SELECT w.term, w.n, i.report_id, i.impact::float8, archive.n
             FROM counted w CROSS JOIN archive,
                  LATERAL (SELECT report_id, impact FROM impacts WHERE term = w.term ORDER BY impact DESC LIMIT $4) AS i
             ORDER BY w.term",
        )?;
        let (words, prefixes) = (words.to_vec(), prefixes.to_vec());
        let (per_prefix, per_term) = (WORDS_PER_PREFIX as i64, CANDIDATES_PER_TERM as i64);
        let mut out = WordsWeights::default();
        let mut last: Option<String> = None;
        for r in c.query(&st, &[&words, &prefixes, &per_prefix, &per_term, &COUNTED_AT_MOST])? {
            let term: String = r.get(0);
            if last.as_ref() != Some(&term) {
                out.words.push(WordWeights { reports: r.get(1), ..Default::default() });
                last = Some(term);
            }
            out.reports = out.reports.max(r.get(4));
            if let Some(w) = out.words.last_mut() {
                w.top.push((r.get(2), r.get(3)));
            }
        }
        for w in &mut out.words {
            // Every report of the word is there (impacts keeps them all) unless it has more.
            if w.top.len() >= CANDIDATES_PER_TERM {
                w.floor = w.top.iter().map(|t| t.1).reduce(f64::min);
            }
            out.reports = out.reports.max(w.reports);
        }
        Ok(Some(out))
    }

    fn passages_of(&mut self, report_ids: &[i64], q: &Query) -> Result<HashMap<i64, Vec<PassageRow>>, StoreError> {
        let mut out: HashMap<i64, Vec<PassageRow>> = HashMap::new();
        let Some(tsquery) = q.positive_tsquery() else { return Ok(out) };
        let ids = report_ids.to_vec();
        let (c, st) = self.prepared(
            "SELECT report_id, id, start_ms, end_ms, text, recognised, paragraph, kind, speaker FROM passages
             WHERE report_id = ANY($1) AND tsv @@ CAST($2::text AS tsquery) ORDER BY report_id, number",
        )?;
        for p in c.query(&st, &[&ids, &tsquery])? {
            out.entry(p.get(0)).or_default().push(PassageRow {
                id: p.get(1),
                start_ms: p.get(2),
                end_ms: p.get(3),
                text: p.get(4),
                recognised: p.get(5),
                paragraph: p.get(6),
                kind: p.get(7),
                speaker: p.get(8),
            });
        }
        Ok(out)
    }

    fn words_of(&mut self, passage_ids: &[i64]) -> Result<WordsByPassage, StoreError> {
        let mut out = WordsByPassage::new();
        let ids = passage_ids.to_vec();
        let (c, st) =
            self.prepared("SELECT id, word_texts, word_starts, word_ends FROM passages WHERE id = ANY($1)")?;
        for r in c.query(&st, &[&ids])? {
            let (texts, starts, ends): (Vec<String>, Vec<i64>, Vec<i64>) = (r.get(1), r.get(2), r.get(3));
            let words = texts.into_iter().zip(starts).zip(ends).map(|((t, s), e)| (t, s, e)).collect();
            out.insert(r.get(0), words);
        }
        Ok(out)
    }

    fn paragraph_texts(&mut self, wanted: &[(i64, i64)]) -> Result<HashMap<(i64, i64), String>, StoreError> {
        let (reports, numbers): (Vec<i64>, Vec<i64>) = wanted.iter().copied().unzip();
        let (c, st) = self.prepared(
            "SELECT g.report_id, g.number, g.text FROM paragraphs g
             JOIN unnest($1::bigint[], $2::bigint[]) AS w(r, n) ON g.report_id = w.r AND g.number = w.n",
        )?;
        Ok(c.query(&st, &[&reports, &numbers])?.into_iter().map(|r| ((r.get(0), r.get(1)), r.get(2))).collect())
    }

    fn claim(
        &mut self,
        report: &str,
        worker: &str,
        lease: Duration,
        _: &dyn Fn(&str) -> bool,
    ) -> Result<ClaimState, StoreError> {
        let c = &mut self.client;
        let ms = lease.as_millis() as f64;
        let mut tx = c.transaction()?;
        let inserted = tx.execute(
            "INSERT INTO claims (report, worker, lease_until) VALUES ($1, $2, now() + $3::float8 * interval '1 millisecond')
             ON CONFLICT (report) DO NOTHING",
            &[&report, &worker, &ms],
        )?;
        if inserted == 1 {
            tx.commit()?;
            return Ok(ClaimState::Claimed { taken_over: None });
        }
        // Held: locked here unless another worker is deciding about it at this very moment.
        let row = tx.query_opt(
            "SELECT worker, extract(epoch FROM lease_until - now())::float8 FROM claims WHERE report = $1
             FOR UPDATE SKIP LOCKED",
            &[&report],
        )?;
        let state = match row.map(|r| (r.get::<_, String>(0), r.get::<_, f64>(1))) {
            None => ClaimState::Held(Holder { worker: "another worker".into(), seconds: lease.as_secs().max(1) }),
            Some((holder, left)) if holder != worker && left > 0.0 => {
                ClaimState::Held(Holder { worker: holder, seconds: left.ceil() as u64 })
            }
            Some((holder, _)) => {
                tx.execute(
                    "UPDATE claims SET worker = $2, claimed_at = now(), lease_until = now() + $3::float8 * interval '1 millisecond'
                     WHERE report = $1",
                    &[&report, &worker, &ms],
                )?;
                ClaimState::Claimed { taken_over: (holder != worker).then_some(holder) }
            }
        };
        tx.commit()?;
        Ok(state)
    }

    fn renew(&mut self, report: &str, worker: &str, lease: Duration) -> Result<bool, StoreError> {
        let c = &mut self.client;
        let ms = lease.as_millis() as f64;
        Ok(c.execute(
            "UPDATE claims SET lease_until = now() + $3::float8 * interval '1 millisecond' WHERE report = $1 AND worker = $2",
            &[&report, &worker, &ms],
        )? == 1)
    }

    fn release(&mut self, report: &str, worker: &str) -> Result<(), StoreError> {
        let c = &mut self.client;
        c.execute("DELETE FROM claims WHERE report = $1 AND worker = $2", &[&report, &worker])?;
        Ok(())
    }

    fn dump_rows(&mut self, columns: &[&str], rest: &str) -> Result<Vec<Vec<Option<String>>>, StoreError> {
        let c = &mut self.client;
        let cols: Vec<String> = columns.iter().map(|c| format!("({c})::text")).collect();
        let rows = c.query(&format!("SELECT {} {rest}", cols.join(", ")), &[])?;
        Ok(rows.into_iter().map(|r| (0..columns.len()).map(|i| r.get(i)).collect()).collect())
    }

    fn tidy(&mut self) -> Result<(), StoreError> {
        // Dead rows of replaced reports cleared, the GIN indexes' pending entries merged (a
        // search reads those one by one), and the planner's statistics brought up to date.
        self.client.batch_execute("VACUUM (ANALYZE) reports, passages, paragraphs, vocabulary, impacts")?;
        Ok(())
    }

    fn stamp(&mut self, report: &str) -> Result<Option<RowStamp>, StoreError> {
        Ok(self
            .client
            .query_opt(
                "SELECT fingerprint, title, date, source, url, media FROM reports WHERE report = $1",
                &[&report],
            )?
            .map(|r| RowStamp {
                fingerprint: r.get(0),
                title: r.get(1),
                date: r.get(2),
                source: r.get(3),
                url: r.get(4),
                media: r.get(5),
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_hold_folded_tokens_with_positions() {
        assert_eq!(tsvector("Sahakyan's war, the WAR"), "'s':2 'sahakyan':1 'the':4 'war':3,5");
        assert_eq!(tsvector(""), "");
    }
}
