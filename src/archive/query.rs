//! The archive's query grammar, one definition for every backend:
//!
//! - `word word` — every word must occur in the passage (any order);
//! - `"several words"` — a phrase, its words next to each other in that order;
//! - `prefix*` — any word beginning with `prefix` (at least two letters);
//! - `a OR b` — either (upper-case `OR` between two terms; `or` is an ordinary word);
//! - `-word`, `-"a phrase"` — passages containing it are left out.
//!
//! Words are compared as the index stores them: lower case, accents removed, compatibility
//! forms unified (full-width letters), invisible characters dropped, split at anything
//! that is not a letter or a digit (so `Sahakyan's` is the phrase `sahakyan s`). Nothing a user
//! types is an error: an unbalanced quote or a stray operator is taken literally.
#![forbid(unsafe_code)]

use unicode_normalization::UnicodeNormalization;

/// Longest query taken (characters); more is cut off.
pub const MAX_QUERY_CHARS: usize = 1_000;
/// Most terms in one query; more are ignored.
pub const MAX_TERMS: usize = 32;

/// One thing to look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Word(String),
    Prefix(String),
    Phrase(Vec<String>),
}

/// Terms of which at least one must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub terms: Vec<Term>,
    /// Single words of the group as the user wrote them: any that looks like a name
    /// (capitalised, or not in the archive) has other spellings added by the searcher.
    pub words: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// All must match.
    pub groups: Vec<Group>,
    /// None may match.
    pub excluded: Vec<Term>,
}

/// Which reports to search.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Earliest date, YYYY-MM-DD (inclusive).
    pub since: Option<String>,
    /// Latest date, YYYY-MM-DD (inclusive).
    pub until: Option<String>,
    pub source: Option<String>,
    pub language: Option<String>,
    /// Only passages this speaker speaks: their name or any whole words of it ("Muradov" for
    /// "Rustam Muradov", "speaker 2"), case and accents aside.
    pub speaker: Option<String>,
    /// Only this report (its key, as hits give it): "N more in this report" expanded.
    pub report: Option<String>,
}

impl Filters {
    /// Whether a passage spoken by `speaker` (as stored) passes the speaker filter.
    pub fn speaker_matches(&self, speaker: Option<&str>) -> bool {
        let Some(want) = self.speaker.as_deref() else { return true };
        let want = tokens(want);
        let Some(have) = speaker.map(tokens) else { return false };
        !want.is_empty() && have.windows(want.len()).any(|w| w == want.as_slice())
    }
}

/// Lower-cases, removes accents and splits at anything that is not a letter or digit: the
/// tokens of the full-text index.
pub fn tokens(text: &str) -> Vec<String> {
    fold(text).split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).map(String::from).collect()
}

/// Lower case without accents, in compatibility form (full-width `ｗａｒ` is `war`, the
/// ligature `ﬁ` is `fi`) and without invisible characters (a zero-width space inside a word
/// does not split it): what the index stores and what a query is compared as.
pub fn fold(text: &str) -> String {
    text.nfkd()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c) && !crate::text::ignorable(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// A raw piece of the query before it is turned into terms.
enum Piece {
    Word { text: String, negated: bool },
    Phrase { text: String, negated: bool },
    Or,
}

fn pieces(q: &str) -> Vec<Piece> {
    let chars: Vec<char> = q.chars().take(MAX_QUERY_CHARS).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let negated = chars[i] == '-' && i + 1 < chars.len() && !chars[i + 1].is_whitespace();
        let start = if negated { i + 1 } else { i };
        if chars[start] == '"'
            && let Some(len) = chars[start + 1..].iter().position(|&c| c == '"')
        {
            let text: String = chars[start + 1..start + 1 + len].iter().collect();
            out.push(Piece::Phrase { text, negated });
            i = start + len + 2;
            continue;
        }
        // A word runs to the next space; an unbalanced quote in it is only punctuation.
        let end = chars[start..].iter().position(|c| c.is_whitespace()).map_or(chars.len(), |n| start + n);
        let text: String = chars[start..end].iter().collect();
        if text == "OR" && !negated {
            out.push(Piece::Or);
        } else {
            out.push(Piece::Word { text, negated });
        }
        i = end;
    }
    out
}

/// The term a word or phrase stands for (`None` when it has no letters or digits).
fn term(text: &str, phrase: bool) -> Option<(Term, Option<String>)> {
    let t = tokens(text);
    if t.is_empty() {
        return None;
    }
    if phrase || t.len() > 1 {
        return Some((if t.len() == 1 { Term::Word(t[0].clone()) } else { Term::Phrase(t) }, None));
    }
    let word = t[0].clone();
    let trimmed = text.trim_matches(|c: char| !c.is_alphanumeric() && c != '*');
    if trimmed.ends_with('*') && word.chars().count() >= 2 {
        return Some((Term::Prefix(word), None));
    }
    let original = text.trim_matches(|c: char| !c.is_alphanumeric()).to_string();
    Some((Term::Word(word), Some(original)))
}

/// Parses a query; never fails.
pub fn parse(q: &str) -> Query {
    let mut query = Query::default();
    let mut join_next = false;
    let mut count = 0;
    for p in pieces(q) {
        if count >= MAX_TERMS {
            break;
        }
        let (text, negated, phrase) = match p {
            Piece::Or => {
                // `OR` between two terms; at the start, or doubled, it joins nothing.
                join_next = !query.groups.is_empty();
                continue;
            }
            Piece::Word { text, negated } => (text, negated, false),
            Piece::Phrase { text, negated } => (text, negated, true),
        };
        let Some((t, name)) = term(&text, phrase) else { continue };
        count += 1;
        if negated {
            query.excluded.push(t);
        } else {
            match (join_next, query.groups.last_mut()) {
                (true, Some(g)) => {
                    g.terms.push(t);
                    g.words.extend(name);
                }
                _ => query.groups.push(Group { terms: vec![t], words: name.into_iter().collect() }),
            }
        }
        join_next = false;
    }
    query
}

impl Term {
    /// The term in SQLite FTS5's query syntax (tokens are letters and digits only, so quoting
    /// them is enough to make any input safe).
    pub fn fts5(&self) -> String {
        match self {
            Term::Word(w) => format!("\"{w}\""),
            Term::Prefix(p) => format!("\"{p}\" *"),
            Term::Phrase(ws) => format!("\"{}\"", ws.join(" ")),
        }
    }

    /// The term in PostgreSQL's tsquery syntax, as a superset: a phrase asks only for its words
    /// (positions are capped in a tsvector; the passages are then judged by [`Term::find`]).
    pub fn tsquery(&self) -> String {
        match self {
            Term::Word(w) => format!("'{w}'"),
            Term::Prefix(p) => format!("'{p}':*"),
            Term::Phrase(ws) => format!("({})", ws.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" & ")),
        }
    }

    /// Where this term matches in `toks` (a passage's tokens): (first, last) token positions.
    pub fn find(&self, toks: &[String]) -> Vec<(usize, usize)> {
        match self {
            Term::Word(w) => toks.iter().enumerate().filter(|(_, t)| *t == w).map(|(i, _)| (i, i)).collect(),
            Term::Prefix(p) => {
                toks.iter().enumerate().filter(|(_, t)| t.starts_with(p.as_str())).map(|(i, _)| (i, i)).collect()
            }
            Term::Phrase(ws) => {
                if ws.is_empty() || toks.len() < ws.len() {
                    return Vec::new();
                }
                (0..=toks.len() - ws.len())
                    .filter(|&i| toks[i..i + ws.len()] == ws[..])
                    .map(|i| (i, i + ws.len() - 1))
                    .collect()
            }
        }
    }
}

impl Query {
    /// True when nothing positive is asked for (an empty query, or only exclusions).
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// What must be present, as an FTS5 MATCH expression (`None` when nothing is asked for).
    pub fn positive_fts5(&self) -> Option<String> {
        self.positive(Term::fts5, " OR ", " AND ")
    }

    /// The words whose weightiest reports are a search's candidates — those of its words and
    /// phrases — and its prefixes (whose words the archive's vocabulary knows).
    pub fn candidate_words(&self) -> (Vec<String>, Vec<String>) {
        let (mut words, mut prefixes) = (Vec::new(), Vec::new());
        for t in self.groups.iter().flat_map(|g| &g.terms) {
            match t {
                Term::Word(w) => words.push(w.clone()),
                Term::Phrase(ws) => words.extend(ws.iter().cloned()),
                Term::Prefix(p) => prefixes.push(p.clone()),
            }
        }
        words.sort();
        words.dedup();
        (words, prefixes)
    }

    /// What must be present, as a PostgreSQL tsquery (`None` when nothing is asked for).
    pub fn positive_tsquery(&self) -> Option<String> {
        self.positive(Term::tsquery, " | ", " & ")
    }

    /// The groups, each an `or` of its terms in a backend's syntax, joined by `and`.
    fn positive(&self, term: fn(&Term) -> String, or: &str, and: &str) -> Option<String> {
        if self.groups.is_empty() {
            return None;
        }
        let groups: Vec<String> = self
            .groups
            .iter()
            .map(|g| format!("({})", g.terms.iter().map(term).collect::<Vec<_>>().join(or)))
            .collect();
        Some(groups.join(and))
    }

    /// Whether a passage with these tokens matches: every group has a term in it, and no
    /// excluded term is.
    pub fn matches(&self, toks: &[String]) -> bool {
        !self.groups.is_empty()
            && self.groups.iter().all(|g| g.terms.iter().any(|t| !t.find(toks).is_empty()))
            && self.excluded.iter().all(|t| t.find(toks).is_empty())
    }

    /// The query as an FTS5 MATCH expression (`None` when it cannot match anything).
    pub fn fts5(&self) -> Option<String> {
        let mut e = self.positive_fts5()?;
        if !self.excluded.is_empty() {
            e = format!("({e}) NOT ({})", self.excluded.iter().map(Term::fts5).collect::<Vec<_>>().join(" OR "));
        }
        Some(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Term {
        Term::Word(s.into())
    }

    #[test]
    fn folding_unifies_what_looks_the_same() {
        assert_eq!(fold("Ｗａｒ"), "war");
        assert_eq!(fold("Sahakyan\u{2019}s"), "sahakyan\u{2019}s");
        assert_eq!(tokens("pri\u{200b}soners of\u{00ad}fice \u{fb01}ne Éçà"), ["prisoners", "office", "fine", "eca"]);
        assert_eq!(tokens("war\u{feff}\u{2060}time"), ["wartime"]);
        // Visible separators still separate.
        assert_eq!(tokens("war\u{3000}time"), ["war", "time"]);
        assert_eq!(parse("ｐｒｉｓｏｎｅｒｓ").groups[0].terms, [w("prisoners")]);
    }

    #[test]
    fn grammar() {
        let q = parse("Gerasimov \"prisoners of war\" pash* -Moscow a OR b");
        assert_eq!(q.groups.len(), 4);
        assert_eq!(q.groups[0].terms, [w("gerasimov")]);
        assert_eq!(q.groups[0].words, ["Gerasimov"]);
        assert_eq!(q.groups[1].terms, [Term::Phrase(vec!["prisoners".into(), "of".into(), "war".into()])]);
        assert_eq!(q.groups[2].terms, [Term::Prefix("pash".into())]);
        assert_eq!(q.groups[3].terms, [w("a"), w("b")]);
        assert_eq!(q.excluded, [w("moscow")]);
        assert_eq!(
            q.fts5().unwrap(),
            r#"(("gerasimov") AND ("prisoners of war") AND ("pash" *) AND ("a" OR "b")) NOT ("moscow")"#
        );
        assert_eq!(
            q.positive_tsquery().unwrap(),
            "('gerasimov') & (('prisoners' & 'of' & 'war')) & ('pash':*) & ('a' | 'b')"
        );
    }

    #[test]
    fn anything_typed_is_taken_literally() {
        for q in ["\"unbalanced quote", "NEAR(a b)", "a AND", "OR", "-", "\"", "col:value", "a^b", "* OR *", "((("] {
            let parsed = parse(q);
            if let Some(e) = parsed.fts5() {
                assert!(!e.contains("NEAR(") && !e.contains(':') && !e.contains('^'), "{q}: {e}");
            }
        }
        assert_eq!(parse("\"unbalanced quote").groups.len(), 2);
        assert_eq!(parse("Sahakyan's").groups[0].terms, [Term::Phrase(vec!["sahakyan".into(), "s".into()])]);
        assert!(parse("-only").is_empty());
        assert_eq!(parse("Ærø Ünal").groups[1].terms, [w("unal")]);
        assert_eq!(parse(&"x ".repeat(100)).groups.len(), MAX_TERMS);
    }

    #[test]
    fn finds_terms_in_tokens() {
        let toks = tokens("The prisoners of war, said Gerasimov's aide.");
        assert_eq!(Term::Phrase(vec!["of".into(), "war".into()]).find(&toks), [(2, 3)]);
        assert_eq!(Term::Prefix("ger".into()).find(&toks), [(5, 5)]);
        assert_eq!(w("aide").find(&toks), [(7, 7)]);
        assert!(parse("\"of war\" aide -moscow").matches(&toks));
        assert!(!parse("\"war of\" aide").matches(&toks));
        assert!(!parse("aide -gerasimov").matches(&toks));
        assert!(parse("zzz OR ger*").matches(&toks));
    }
}
