//! Search over the archive: the query grammar of [`super::query`], names matched by sound and
//! spelling against the archive's vocabulary, hits ranked by BM25, each placed at the time of
//! its first matched word with a highlighted snippet, its article paragraph and a deep link.
#![forbid(unsafe_code)]

use serde::Serialize;

use super::query::{self, Filters, Query, Term, tokens};
use super::store::{PassageRow, ReportRow, Store, StoreError, TimedWord};
use crate::text::{is_stop_word, similarity, sound_key};

/// Most hits returned by one search.
pub const MAX_LIMIT: usize = 1_000;
/// Other spellings added for one name at most.
const MAX_SPELLINGS: usize = 8;
/// A word of the same sound key is another spelling of a name from this spelling similarity on
/// ("sahakian" for "sahakyan" 0.88, "gerasimoff" for "gerasimov" 0.8; not "zohakoian", 0.67).
const SAME_SOUND_SIMILARITY: f64 = 0.7;
/// Any word this similar in spelling is one too.
const SPELLING_SIMILARITY: f64 = 0.85;
/// Words of a long passage shown on either side of the match.
const SNIPPET_CONTEXT: usize = 12;

/// A piece of a snippet, highlighted where the query matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Piece {
    pub text: String,
    pub mark: bool,
}

/// One passage found.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// The report's folder name.
    pub report: String,
    pub title: Option<String>,
    pub date: Option<String>,
    pub source: Option<String>,
    /// Start of the first matched word, end of the last (the passage's when the match is only in
    /// the recognised text).
    pub start_ms: u64,
    pub end_ms: u64,
    /// The whole passage as shown.
    pub text: String,
    /// The passage around the match, matched words marked.
    pub snippet: Vec<Piece>,
    pub paragraph: Option<usize>,
    pub paragraph_text: Option<String>,
    pub kind: Option<String>,
    /// Who speaks the passage, when the report has speakers.
    pub speaker: Option<String>,
    /// The report's folder (relative to the archive when inside it).
    pub folder: String,
    /// The page to open (report.html), or the media when the report has no page.
    pub target: Option<String>,
    /// The spellings that matched (differing from the query's where a name was matched by sound).
    pub matched: Vec<String>,
    /// The report's BM25 over its whole transcript (lower is better, as SQLite reports it).
    pub rank: f64,
}

impl Hit {
    /// The page (or media) at this hit's second, relative to the archive: `folder/report.html#t=12.34`.
    /// Its path is URL-encoded (a folder may hold spaces), the fragment is the media time.
    pub fn link(&self) -> Option<String> {
        self.target.as_ref().map(|t| {
            let folder = self.folder.trim_end_matches('/');
            let base = if folder.is_empty() || folder == "." { t.clone() } else { format!("{folder}/{t}") };
            format!("{}#t={}", crate::job::url_path(&base), seconds(self.start_ms))
        })
    }

    /// The hit as `search --json` prints it and `serve`'s `/api/search` returns it; `url` opens
    /// it at its second.
    pub fn to_json(&self, url: Option<String>) -> serde_json::Value {
        serde_json::json!({
            "report": self.report,
            "title": self.title,
            "date": self.date,
            "source": self.source,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "text": self.text,
            "snippet": self.snippet,
            "paragraph": self.paragraph,
            "paragraph_text": self.paragraph_text,
            "kind": self.kind,
            "speaker": self.speaker,
            "url": url,
            "matched": self.matched,
            "rank": self.rank,
        })
    }
}

/// Milliseconds as seconds for a media fragment (`12.34`, `7`).
pub fn seconds(ms: u64) -> String {
    let s = format!("{}.{:03}", ms / 1000, ms % 1000);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Whether `word` (as typed) should also be matched by other spellings: names are capitalised,
/// and a word the archive has never heard may be a name misspelled either way.
fn looks_like_name(store: &mut Store, typed: &str, folded: &str) -> Result<bool, StoreError> {
    if folded.chars().count() < 4 || is_stop_word(folded) || !folded.chars().all(char::is_alphabetic) {
        return Ok(false);
    }
    if typed.chars().next().is_some_and(char::is_uppercase) {
        return Ok(true);
    }
    Ok(!store.is_known(folded)?)
}

/// Other spellings of `folded` in the archive: the same sound and a similar spelling, or a very
/// similar spelling.
fn spellings(store: &mut Store, folded: &str) -> Result<Vec<String>, StoreError> {
    let key = sound_key(folded);
    let first: String = folded.chars().take(2).collect();
    let mut found: Vec<(f64, String)> = store
        .vocabulary_near(&key, &first, 20_000)?
        .into_iter()
        .filter(|(t, _)| t != folded)
        .filter_map(|(t, s)| {
            let sim = similarity(folded, &t);
            ((s == key && sim >= SAME_SOUND_SIMILARITY) || sim >= SPELLING_SIMILARITY).then_some((sim, t))
        })
        .collect();
    found.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    Ok(found.into_iter().take(MAX_SPELLINGS).map(|(_, t)| t).collect())
}

/// Adds other spellings of the query's names to their groups.
fn expand_names(store: &mut Store, q: &mut Query) -> Result<(), StoreError> {
    for g in &mut q.groups {
        for typed in g.words.clone() {
            let t = tokens(&typed);
            let [folded] = t.as_slice() else { continue };
            if looks_like_name(store, &typed, folded)? {
                for s in spellings(store, folded)? {
                    let term = Term::Word(s);
                    if !g.terms.contains(&term) {
                        g.terms.push(term);
                    }
                }
            }
        }
    }
    Ok(())
}

/// The query as it will be run: parsed, names expanded (here, for every backend).
pub fn prepare(store: &mut Store, text: &str) -> Result<Query, StoreError> {
    let mut q = query::parse(text);
    expand_names(store, &mut q)?;
    Ok(q)
}

/// Runs `text` against the archive: at most `limit` hits. The database chooses and ranks the
/// reports whose whole transcript has the query's words (SQLite: BM25 in FTS5; PostgreSQL:
/// `ts_rank_cd` over a GIN-indexed tsvector), so the cost does not grow with the number of
/// passages that share a common word; within a report, its passages are judged here, for both
/// backends alike, and come in speaking order.
pub fn search(store: &mut Store, text: &str, filters: &Filters, limit: usize) -> Result<Vec<Hit>, StoreError> {
    let q = prepare(store, text)?;
    let limit = limit.clamp(1, MAX_LIMIT);
    // Reports a page at a time (most searches need one), their passages in one query, then the
    // words and paragraphs of the hits in one query each: a few round trips to a database
    // server, whatever the number of hits.
    let mut found: Vec<(ReportRow, PassageRow, bool)> = Vec::new();
    each_matching_report(store, &q, filters, limit.max(20), |report, matching| {
        for (p, shown, _) in matching {
            found.push((report.clone(), p, shown));
            if found.len() >= limit {
                return false;
            }
        }
        true
    })?;
    hits_of(store, &q, found)
}

/// Each report that `q` matches under `filters`, in the database's ranking, with its passages
/// that match — (passage, matched in the text as shown, how many of the query's groups it
/// matches), in speaking order — until `each` returns false. Reports come `page` at a time
/// (most searches need one), their passages in one query: a few round trips to a database
/// server, whatever the number of hits.
fn each_matching_report(
    store: &mut Store,
    q: &Query,
    filters: &Filters,
    page: usize,
    mut each: impl FnMut(&ReportRow, Vec<(PassageRow, bool, usize)>) -> bool,
) -> Result<(), StoreError> {
    let mut offset = 0;
    loop {
        let reports = store.matching_reports(q, filters, offset, page)?;
        let ids: Vec<i64> = reports.iter().map(|r| r.id).collect();
        let mut passages = store.passages_of(&ids, q)?;
        for report in &reports {
            let mut matching = Vec::new();
            for p in passages.remove(&report.id).unwrap_or_default() {
                if !filters.speaker_matches(p.speaker.as_deref()) {
                    continue;
                }
                let toks = tokens(&p.text);
                let shown = q.matches(&toks);
                let heard = p.recognised.as_deref().map(tokens).filter(|t| !shown && q.matches(t));
                if shown || heard.is_some() {
                    let strength = strength(q, heard.as_deref().unwrap_or(&toks));
                    matching.push((p, shown, strength));
                }
            }
            if !matching.is_empty() && !each(report, matching) {
                return Ok(());
            }
        }
        if reports.len() < page {
            return Ok(());
        }
        offset += page;
    }
}

/// The hits of passages found (report, passage, matched in the text as shown): their words
/// and paragraphs in one query each.
fn hits_of(store: &mut Store, q: &Query, found: Vec<(ReportRow, PassageRow, bool)>) -> Result<Vec<Hit>, StoreError> {
    let shown_ids: Vec<i64> = found.iter().filter(|f| f.2).map(|f| f.1.id).collect();
    let mut words = store.words_of(&shown_ids)?;
    let wanted: Vec<(i64, i64)> = found.iter().filter_map(|(r, p, _)| p.paragraph.map(|n| (r.id, n))).collect();
    let paragraphs = store.paragraph_texts(&wanted)?;
    Ok(found
        .into_iter()
        .map(|(report, p, shown)| {
            let w = if shown { words.remove(&p.id).unwrap_or_default() } else { Vec::new() };
            let paragraph_text = p.paragraph.and_then(|n| paragraphs.get(&(report.id, n)).cloned());
            hit(q, &report, p, shown, w, paragraph_text)
        })
        .collect())
}

/// Passages shown per report when hits are grouped by report.
pub const PER_REPORT: usize = 3;
/// Most reports on one page of grouped results.
pub const MAX_REPORTS: usize = 1_000;

/// A report found, with its best passages.
#[derive(Debug, Clone, Serialize)]
pub struct ReportHits {
    /// Its best [`PER_REPORT`] passages (most of the query's words, then the text as shown
    /// rather than as recognised, then the earliest), in speaking order.
    pub hits: Vec<Hit>,
    /// Its other passages that match.
    pub more: usize,
}

impl ReportHits {
    /// The report as `search --json` prints it and `/api/search?group=report` returns it: its
    /// fields, its hits (each opened by `url`) and how many more it has.
    pub fn to_json(&self, url: impl Fn(&Hit) -> Option<String>) -> Option<serde_json::Value> {
        let first = self.hits.first()?;
        Some(serde_json::json!({
            "report": first.report,
            "title": first.title,
            "date": first.date,
            "source": first.source,
            "rank": first.rank,
            "hits": self.hits.iter().map(|h| h.to_json(url(h))).collect::<Vec<_>>(),
            "more": self.more,
        }))
    }
}

/// How many of the query's groups a passage's tokens match: the better passages of a report.
fn strength(q: &Query, toks: &[String]) -> usize {
    q.groups.iter().filter(|g| g.terms.iter().any(|t| !t.find(toks).is_empty())).count()
}

/// Runs `text` as [`search`] does, but gives each report once, with its best passages: page
/// `page` (from 0) of `per_page` reports, in the database's ranking. An archivist scanning a
/// common word sees twenty reports, not twenty passages of one.
pub fn search_grouped(
    store: &mut Store,
    text: &str,
    filters: &Filters,
    per_page: usize,
    page: usize,
) -> Result<Vec<ReportHits>, StoreError> {
    let q = prepare(store, text)?;
    let per_page = per_page.clamp(1, MAX_REPORTS);
    let skip = page.saturating_mul(per_page);
    // (report, its best passages with whether each matched as shown, how many more)
    type Chosen = (ReportRow, Vec<(PassageRow, bool)>, usize);
    let mut chosen: Vec<Chosen> = Vec::new();
    let mut seen = 0usize;
    each_matching_report(store, &q, filters, per_page.max(20), |report, matching| {
        seen += 1;
        if seen <= skip {
            return true;
        }
        let mut order: Vec<usize> = (0..matching.len()).collect();
        order.sort_by_key(|&i| (std::cmp::Reverse(matching[i].2), !matching[i].1, i));
        let mut best: Vec<usize> = order.into_iter().take(PER_REPORT).collect();
        best.sort_unstable();
        let more = matching.len() - best.len();
        let keep =
            matching.into_iter().enumerate().filter(|(i, _)| best.contains(i)).map(|(_, (p, shown, _))| (p, shown));
        chosen.push((report.clone(), keep.collect(), more));
        chosen.len() < per_page
    })?;
    let found: Vec<(ReportRow, PassageRow, bool)> =
        chosen.iter().flat_map(|(r, ps, _)| ps.iter().map(|(p, shown)| (r.clone(), p.clone(), *shown))).collect();
    let mut hits = hits_of(store, &q, found)?.into_iter();
    Ok(chosen
        .into_iter()
        .map(|(_, ps, more)| ReportHits { hits: hits.by_ref().take(ps.len()).collect(), more })
        .collect())
}

/// Places a passage's match in its words and builds the hit. `shown`: the match is in the text as
/// shown (`words`, with their times); else only in the recognised text (the passage's times).
fn hit(
    q: &Query,
    report: &ReportRow,
    p: PassageRow,
    shown: bool,
    words: Vec<TimedWord>,
    paragraph_text: Option<String>,
) -> Hit {
    let words: Vec<TimedWord> = if shown {
        words
    } else {
        let heard = p.recognised.as_deref().unwrap_or_default();
        heard.split_whitespace().map(|w| (w.to_string(), p.start_ms, p.end_ms)).collect()
    };
    // Tokens of the passage, each with the word it came from.
    let mut toks = Vec::new();
    let mut owner = Vec::new();
    for (i, (w, _, _)) in words.iter().enumerate() {
        for t in tokens(w) {
            toks.push(t);
            owner.push(i);
        }
    }
    let mut marked = vec![false; words.len()];
    let mut matched: Vec<String> = Vec::new();
    for g in &q.groups {
        for term in &g.terms {
            for (a, b) in term.find(&toks) {
                for k in a..=b {
                    marked[owner[k]] = true;
                }
                let spelled = toks[a..=b].join(" ");
                if !matched.contains(&spelled) {
                    matched.push(spelled);
                }
            }
        }
    }
    let first = marked.iter().position(|&m| m);
    let last = marked.iter().rposition(|&m| m);
    let (start_ms, end_ms) = match (first, last) {
        (Some(a), Some(b)) if shown => (words[a].1, words[b].2),
        _ => (p.start_ms, p.end_ms),
    };
    let (from, to) = match (first, last) {
        (Some(a), Some(b)) if words.len() > 3 * SNIPPET_CONTEXT => {
            (a.saturating_sub(SNIPPET_CONTEXT), (b + SNIPPET_CONTEXT + 1).min(words.len()))
        }
        _ => (0, words.len()),
    };
    let mut snippet: Vec<Piece> = Vec::new();
    let mut push = |text: &str, mark: bool| match snippet.last_mut() {
        Some(p) if !p.mark && !mark => p.text.push_str(text),
        _ => snippet.push(Piece { text: text.to_string(), mark }),
    };
    if from > 0 {
        push("… ", false);
    }
    for i in from..to {
        if i > from {
            push(" ", false);
        }
        push(words[i].0.trim(), marked[i]);
    }
    if to < words.len() {
        push(" …", false);
    }
    Hit {
        report: report.report.clone(),
        title: report.title.clone(),
        date: report.date.clone(),
        source: report.source.clone(),
        start_ms: start_ms.max(0) as u64,
        end_ms: end_ms.max(0) as u64,
        text: p.text,
        snippet,
        paragraph: p.paragraph.map(|n| n as usize),
        paragraph_text,
        kind: p.kind,
        speaker: p.speaker,
        folder: report.folder.clone(),
        target: report.target.clone(),
        matched,
        rank: report.rank,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_spellings_of_names() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), true).unwrap();
        for t in ["sahakian", "zohakoian", "gerasimoff", "garrison", "gerasimov"] {
            store
                .sqlite()
                .unwrap()
                .execute("INSERT INTO vocabulary (term, sound) VALUES (?1, ?2)", [t, &sound_key(t)])
                .unwrap();
        }
        let store = &mut store;
        assert_eq!(spellings(store, "sahakyan").unwrap(), ["sahakian"]);
        assert_eq!(spellings(store, "gerasimov").unwrap(), ["gerasimoff"]);
        assert_eq!(spellings(store, "kerasimoff").unwrap(), ["gerasimoff", "gerasimov"]);
        assert!(looks_like_name(store, "Gerasimov", "gerasimov").unwrap());
        assert!(looks_like_name(store, "pashinyan", "pashinyan").unwrap(), "never heard: may be a name");
        assert!(!looks_like_name(store, "garrison", "garrison").unwrap(), "a known lower-case word");
        assert!(!looks_like_name(store, "The", "the").unwrap());
    }

    #[test]
    fn the_speaker_filter_takes_whole_words_of_a_name() {
        let f = |s: &str| Filters { speaker: Some(s.into()), ..Default::default() };
        assert!(Filters::default().speaker_matches(None));
        assert!(f("Muradov").speaker_matches(Some("Rustam Muradov")));
        assert!(f("rustam  MURADOV").speaker_matches(Some("Rustam Muradov")));
        assert!(f("Speaker 2").speaker_matches(Some("Speaker 2")));
        assert!(!f("Speaker 2").speaker_matches(Some("Speaker 12")));
        assert!(!f("Murad").speaker_matches(Some("Rustam Muradov")));
        assert!(!f("Muradov").speaker_matches(None), "a passage without a speaker is no one's");
        assert!(f("Sahakyán").speaker_matches(Some("Siranuysh Sahakyan")), "accents aside");
    }

    #[test]
    fn links_are_url_paths_with_the_second() {
        let hit = Hit {
            report: "r".into(),
            title: None,
            date: None,
            source: None,
            start_ms: 2_500,
            end_ms: 3_000,
            text: String::new(),
            snippet: Vec::new(),
            paragraph: None,
            paragraph_text: None,
            kind: None,
            speaker: None,
            folder: "r 1".into(),
            target: Some("report.html".into()),
            matched: Vec::new(),
            rank: 0.0,
        };
        assert_eq!(hit.link().unwrap(), "r%201/report.html#t=2.5");
    }

    #[test]
    fn fragment_seconds() {
        assert_eq!(seconds(12_340), "12.34");
        assert_eq!(seconds(7_000), "7");
        assert_eq!(seconds(5), "0.005");
    }
}
