//! What every archive database gives the rest of the archive: the [`Backend`] trait that
//! [`super::sqlite`] and [`super::postgres`] implement, the rows it reads and writes, and the
//! fields of a report as they are stored. Nothing here knows which database it is.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::archive::query::{Filters, Query};
use crate::article::BlockKind;
use crate::article::link::sentence_spans;
use crate::formats::json::Document;

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

/// An archive database: every query the archive makes, once per backend.
pub trait Backend: Send {
    /// The SQLite connection, for an SQLite archive (tests and the search's snippets read it).
    fn sqlite(&self) -> Option<&rusqlite::Connection> {
        None
    }
    /// The folder, page and media of `report`, if it is in the archive.
    fn report_files(&mut self, report: &str) -> Result<Option<ReportFiles>, StoreError>;
    /// What the row of `report` says of it.
    fn stamp(&mut self, report: &str) -> Result<Option<RowStamp>, StoreError>;
    /// The fingerprint recorded for `report`, if it is in the archive.
    fn fingerprint(&mut self, report: &str) -> Result<Option<String>, StoreError>;
    /// Adds these reports, each replacing the one of the same key, in one transaction.
    fn put(&mut self, reports: &[(&Entry, &Document)]) -> Result<(), StoreError>;
    /// Records that `input` failed with `error` (both already free of secrets).
    fn fail(&mut self, input: &str, error: &str) -> Result<(), StoreError>;
    /// Whether `term` (folded) is a word of the archive.
    fn is_known(&mut self, term: &str) -> Result<bool, StoreError>;
    /// Words that sound like `sound`, or (at most `limit`) lie in `prefix..upper`.
    fn vocabulary_near(
        &mut self,
        sound: &str,
        prefix: &str,
        upper: &str,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError>;
    /// The reports (`among` them) whose transcript has every group of `q`, best first.
    fn matching_reports(
        &mut self,
        q: &Query,
        filters: &Filters,
        among: Among,
        offset: usize,
        count: usize,
    ) -> Result<Vec<ReportRow>, StoreError>;
    /// For each of `words` and of the archive's first [`WORDS_PER_PREFIX`] words that begin with
    /// each of `prefixes`, the reports where it weighs most, at most [`CANDIDATES_PER_TERM`]
    /// (an index range each, whatever the archive's size); `None` when the backend ranks every
    /// match instead.
    fn candidates(&mut self, words: &[String], prefixes: &[String]) -> Result<Option<WordsWeights>, StoreError>;
    /// The passages of these reports, by report, in speaking order.
    fn passages_of(&mut self, report_ids: &[i64], q: &Query) -> Result<HashMap<i64, Vec<PassageRow>>, StoreError>;
    /// The words of these passages with their times, in order, by passage.
    fn words_of(&mut self, passage_ids: &[i64]) -> Result<WordsByPassage, StoreError>;
    /// The texts of these (report id, paragraph number) article paragraphs.
    fn paragraph_texts(&mut self, wanted: &[(i64, i64)]) -> Result<HashMap<(i64, i64), String>, StoreError>;
    /// Claims `report` for `worker` for `lease` (see [`super::Store::claim`]); `gone` tells a
    /// holder that no longer runs on this machine (asked by backends that live on it).
    fn claim(
        &mut self,
        report: &str,
        worker: &str,
        lease: Duration,
        gone: &dyn Fn(&str) -> bool,
    ) -> Result<ClaimState, StoreError>;
    /// Extends `worker`'s claim on `report`; false when it no longer holds it.
    fn renew(&mut self, report: &str, worker: &str, lease: Duration) -> Result<bool, StoreError>;
    /// Gives up `worker`'s claim on `report`.
    fn release(&mut self, report: &str, worker: &str) -> Result<(), StoreError>;
    /// After many reports were written: the planner's statistics and the full-text indexes
    /// brought up to date.
    fn tidy(&mut self) -> Result<(), StoreError>;
    /// Rows of one of the dump's queries (`SELECT columns rest`), each value as text.
    fn dump_rows(&mut self, columns: &[&str], rest: &str) -> Result<Vec<Vec<Option<String>>>, StoreError>;
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
    /// Each token of the whole transcript, sorted, with its [`impact`] in this report.
    pub impacts: Vec<(String, f64)>,
}

/// BM25's term-frequency saturation and length normalisation (k1 = 1.2, b = 0.75), against a
/// fixed typical length rather than the archive's mean: a report's impacts stay as written
/// however the archive grows. They only choose candidates; ranking is the database's own.
pub(crate) fn impact(tf: usize, tokens: usize) -> f64 {
    const K1: f64 = 1.2;
    const B: f64 = 0.75;
    const TYPICAL_TOKENS: f64 = 400.0;
    let tf = tf as f64;
    tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * tokens as f64 / TYPICAL_TOKENS))
}

/// How much a word found in `with` of an archive's `reports` tells (BM25's idf, as Lucene's:
/// never negative, however common the word).
pub(crate) fn idf(reports: i64, with: i64) -> f64 {
    let (n, df) = (reports.max(with) as f64, with as f64);
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

/// Each token of a report's whole transcript ([`report_text`]), sorted, with its [`impact`].
pub(crate) fn impacts_of(whole: &str) -> Vec<(String, f64)> {
    let mut all = crate::archive::query::tokens(whole);
    all.sort();
    all.chunk_by(|a, b| a == b).map(|run| (run[0].clone(), impact(run.len(), all.len()))).collect()
}

/// The reports with the highest impacts of each term: where search looks first.
pub const CANDIDATES_PER_TERM: usize = 300;
/// Candidates looked up at a time, the weightiest first, until a page is full.
pub const CHECKED_AT_ONCE: usize = 48;
/// Words of the vocabulary a prefix's candidates are looked for under (a prefix of more words
/// ranks the reports of the others after the candidates, found all the same).
pub const WORDS_PER_PREFIX: usize = 20;

/// What a backend knows of a query's words: how many reports the archive has, and per word the
/// reports where it weighs most.
#[derive(Debug, Clone, Default)]
pub struct WordsWeights {
    pub reports: i64,
    pub words: Vec<WordWeights>,
}

/// One word's weightiest reports.
#[derive(Debug, Clone, Default)]
pub struct WordWeights {
    /// Reports that have the word (for its idf; a backend may stop counting at a bound).
    pub reports: i64,
    /// The impact no report left out of `top` exceeds, when some are left out.
    pub floor: Option<f64>,
    /// (report id, impact), at most [`CANDIDATES_PER_TERM`].
    pub top: Vec<(i64, f64)>,
}

impl WordsWeights {
    /// The candidates, weightiest first: each report's weight is the sum over the words of its
    /// impact (a word's floor where it is not among the word's weightiest) times the word's idf.
    pub fn candidates(&self) -> Vec<Candidate> {
        let mut known: HashMap<i64, Vec<(usize, f64)>> = HashMap::new();
        for (i, w) in self.words.iter().enumerate() {
            for &(id, impact) in &w.top {
                known.entry(id).or_default().push((i, impact));
            }
        }
        let idf: Vec<f64> = self.words.iter().map(|w| idf(self.reports, w.reports)).collect();
        let mut out: Vec<Candidate> = known
            .into_iter()
            .map(|(id, impacts)| {
                let weight = self
                    .words
                    .iter()
                    .enumerate()
                    .map(|(i, w)| {
                        let impact = impacts.iter().find(|(t, _)| *t == i).map(|k| k.1);
                        idf[i] * impact.or(w.floor).unwrap_or(0.0)
                    })
                    .sum();
                Candidate { id, weight }
            })
            .collect();
        out.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.id.cmp(&b.id)));
        out
    }
}

/// A report where a query's words weigh most, and how much ([`WordsWeights::candidates`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub id: i64,
    pub weight: f64,
}

/// Which of the matching reports a query reads.
#[derive(Debug, Clone, Copy)]
pub enum Among<'a> {
    All,
    /// Only these, in any order, unranked: the caller orders them by weight.
    Only(&'a [Candidate]),
    /// All but these.
    Except(&'a [Candidate]),
}

impl Among<'_> {
    /// The report ids of the candidates, sorted (`None` for all reports).
    pub fn ids(&self) -> Option<Vec<i64>> {
        match self {
            Among::All => None,
            Among::Only(c) | Among::Except(c) => {
                let mut ids: Vec<i64> = c.iter().map(|c| c.id).collect();
                ids.sort_unstable();
                Some(ids)
            }
        }
    }
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
        let impacts = impacts_of(&whole);
        let mut terms: Vec<String> =
            impacts.iter().map(|(t, _)| t.clone()).filter(|t| t.chars().any(char::is_alphabetic)).collect();
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
        Self { title, passages, word_count, whole, vocabulary, paragraphs, impacts }
    }
}

/// A report's whole transcript as `reports_fts` indexes it (built the same way to remove it):
/// folded as queries are ([`crate::archive::query::fold`]), since FTS5's tokenizer neither unifies
/// full-width letters nor ignores zero-width characters.
pub(crate) fn report_text<'a>(passages: impl Iterator<Item = (&'a str, Option<&'a str>)>) -> String {
    let mut whole = String::new();
    for (text, recognised) in passages {
        whole.push_str(&crate::archive::query::fold(text));
        whole.push('\n');
        if let Some(r) = recognised {
            whole.push_str(&crate::archive::query::fold(r));
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
