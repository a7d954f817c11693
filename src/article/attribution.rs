//! Who the article says said what: its quotations and the people it attributes them to
//! (`“…,” said Muradov`, `Gerasimov said`, `according to X`, `X told …:`, `X: “…”`, and an
//! appositive `X, the head of …, said`). The speaker-naming step gives a speaker the name of the
//! quote their passage is linked to verbatim; nothing here guesses: a quote whose speaker the
//! sentence does not name stays unnamed, and "one woman said" is recorded as someone unnamed.
#![forbid(unsafe_code)]

use super::link::WordSpan;
use super::parse::{Article, BlockKind};
use crate::text::{bare, ends_sentence};

/// A quotation in the article and who it is attributed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    /// Block number (1-based) of the paragraph that holds the quote.
    pub block: usize,
    /// The quote's words in the paragraph (its whitespace-separated words), quote marks included.
    pub words: WordSpan,
    /// The person, as the article spells them at their fullest ("Muradov" → "Rustam Muradov");
    /// `None` for someone the article leaves unnamed ("one woman said").
    pub name: Option<String>,
    /// The pattern that matched: `said X`, `X said`, `according to X`, `X told`, `X:`,
    /// `X, …, said` (an appositive), or `someone said`.
    pub pattern: &'static str,
}

/// Verbs that attribute speech, in the forms news writing uses.
const VERBS: &[&str] = &[
    "said",
    "says",
    "told",
    "tells",
    "added",
    "adds",
    "explained",
    "stated",
    "noted",
    "recalled",
    "continued",
    "insisted",
    "stressed",
    "wrote",
    "asked",
    "replied",
    "answered",
    "commented",
    "declared",
    "argued",
    "warned",
    "claimed",
    "announced",
    "emphasised",
    "emphasized",
];

/// Words that may stand between a speaker and the verb ("Sahakyan also said").
const BETWEEN: &[&str] = &["also", "later", "then", "reportedly", "once", "further", "has", "had", "earlier", "again"];

/// Capitalised words that never belong to a person's name: pronouns, determiners and the words
/// of institutions, places and media ("the European Court of Human Rights, said").
/// Titles ("Deputy Commander", "President") are not part of the name either.
const NOT_NAMES: &[&str] = &[
    "A",
    "An",
    "According",
    "Agency",
    "Ambassador",
    "Army",
    "Assembly",
    "Association",
    "Bank",
    "Board",
    "Bureau",
    "Captain",
    "Center",
    "Centre",
    "Channel",
    "Chief",
    "Colonel",
    "Commander",
    "Committee",
    "Commission",
    "Council",
    "Court",
    "Department",
    "Deputy",
    "Director",
    "Dr",
    "Forces",
    "General",
    "Government",
    "Governor",
    "He",
    "Her",
    "His",
    "I",
    "In",
    "Institute",
    "It",
    "Its",
    "Lieutenant",
    "Major",
    "Mayor",
    "Minister",
    "Ministry",
    "Mr",
    "Mrs",
    "Ms",
    "My",
    "News",
    "Office",
    "One",
    "Our",
    "Parliament",
    "Party",
    "Police",
    "President",
    "Press",
    "Prime",
    "Professor",
    "Radio",
    "Rights",
    "Secretary",
    "Senator",
    "Service",
    "She",
    "Spokesman",
    "Spokeswoman",
    "Staff",
    "Studies",
    "That",
    "The",
    "Their",
    "These",
    "They",
    "This",
    "Those",
    "TV",
    "Times",
    "University",
    "We",
    "You",
];

/// Lower-case words that may sit inside a name ("Ursula von der Leyen", "Hassan al Bashir").
const PARTICLES: &[&str] = &["al", "bin", "da", "de", "del", "der", "di", "du", "la", "le", "van", "von"];

/// Lower-case words that, right before a capitalised run, make it part of a longer phrase
/// rather than a person ("the head of Eurasianet", "for Political … Studies").
const CONNECTORS: &[&str] =
    &["and", "at", "by", "for", "from", "in", "of", "on", "the", "to", "with", "a", "an", "into", "than"];

/// Words starting a subject that is someone unnamed ("one woman", "a resident").
const INDEFINITE: &[&str] = &["one", "a", "an", "another", "some", "several", "many", "two", "three"];

/// Most words in a name.
const MAX_NAME_WORDS: usize = 4;
/// Most words between a quote and the verb that attributes it ("one of the parents told").
const MAX_SUBJECT_WORDS: usize = 5;

const OPENERS: &[char] = &['“', '«', '„'];
const CLOSERS: &[char] = &['”', '»'];

/// Every attributed quotation in the article's body, in reading order.
pub fn attributions(article: &Article) -> Vec<Attribution> {
    let mut out = Vec::new();
    for block in article.body().filter(|b| matches!(b.kind, BlockKind::Paragraph | BlockKind::Quote)) {
        let words: Vec<&str> = block.text.split_whitespace().collect();
        for q in quotes(&words) {
            if let Some((name, pattern)) = after(&words, q).or_else(|| before(&words, q)) {
                out.push(Attribution { block: block.number, words: q, name, pattern });
            }
        }
    }
    // Names at their fullest: "Muradov" is the article's "Rustam Muradov" when it is the only
    // longer name that ends so.
    let full: Vec<String> = out.iter().filter_map(|a| a.name.clone()).collect();
    for a in &mut out {
        if let Some(name) = &a.name {
            a.name = Some(fullest(article, name, &full));
        }
    }
    out
}

/// The quotations of a paragraph's words: curly or angle quotes, or straight double quotes in
/// pairs; a quote left open runs to the paragraph's end (news style for a quote continued in the
/// next paragraph).
fn quotes(words: &[&str]) -> Vec<WordSpan> {
    let mut out = Vec::new();
    let mut open: Option<usize> = None;
    for (i, w) in words.iter().enumerate() {
        for c in w.chars() {
            match (open, c) {
                (None, c) if OPENERS.contains(&c) || c == '"' => open = Some(i),
                (Some(first), c) if CLOSERS.contains(&c) || c == '"' => {
                    out.push(WordSpan { first, end: i + 1 });
                    open = None;
                }
                _ => {}
            }
        }
    }
    if let Some(first) = open {
        out.push(WordSpan { first, end: words.len() });
    }
    out
}

fn lower(w: &str) -> String {
    bare(w).to_lowercase()
}

fn is_verb(w: &str) -> bool {
    VERBS.contains(&lower(w).as_str())
}

/// Whether a written word may be part of a name: capitalised, or an initial ("F."), and not a
/// word that names no person.
fn name_word(w: &str) -> bool {
    let b = bare(w);
    let Some(first) = b.chars().next() else { return false };
    first.is_uppercase()
        && b.chars().all(|c| c.is_alphabetic() || c == '-' || c == '\'' || c == '’')
        && !NOT_NAMES.contains(&b)
}

/// Whether a word carries punctuation that closes the phrase it ends (an initial's period does
/// not).
fn closes(w: &str) -> bool {
    let b = bare(w);
    let initial = b.chars().count() == 1 && w.trim_end_matches(['”', '»', '"']).ends_with('.');
    !initial && w.trim_end().ends_with(|c: char| !c.is_alphanumeric())
}

/// A name that starts at `words[i]` and reads forward ("said Rustam Muradov."), with how many
/// words it takes.
fn name_from(words: &[&str], i: usize) -> Option<(String, usize)> {
    let mut parts: Vec<&str> = Vec::new();
    let mut k = i;
    while k < words.len() && parts.len() < MAX_NAME_WORDS {
        let w = words[k];
        if name_word(w) || (!parts.is_empty() && PARTICLES.contains(&w)) {
            parts.push(w);
            k += 1;
            if closes(w) {
                break;
            }
        } else {
            break;
        }
    }
    // The name ends in a capitalised word, not a particle; "of" after it means an institution.
    while parts.last().is_some_and(|w| PARTICLES.contains(w)) {
        parts.pop();
    }
    if parts.is_empty() || words.get(i + parts.len()).is_some_and(|w| lower(w) == "of") {
        return None;
    }
    Some((join(&parts), parts.len()))
}

/// A name that ends at `words[end - 1]` and reads backward ("Rustam Muradov, said"); `None` if
/// it is part of a longer phrase.
fn name_before(words: &[&str], end: usize) -> Option<String> {
    let first = run_before(words, end)?;
    // "the head of the Yerevan think tank Center …": a capitalised run right after a lower-case
    // connector, or longer than a name, is not a person.
    if first > 0 {
        let prev = words[first - 1];
        if !closes(prev) && (CONNECTORS.contains(&prev) || name_word(prev)) {
            return None;
        }
    }
    Some(join(&words[first..end]))
}

/// Where the run of name words (and particles inside it) that ends at `words[end - 1]` starts.
fn run_before(words: &[&str], end: usize) -> Option<usize> {
    let mut first = end;
    while first > 0 && end - first < MAX_NAME_WORDS {
        let w = words[first - 1];
        // Punctuation closes the name at its last word only.
        if first < end && closes(w) {
            break;
        }
        if name_word(w) || (first < end && PARTICLES.contains(&w)) {
            first -= 1;
        } else {
            break;
        }
    }
    while first < end && PARTICLES.contains(&words[first]) {
        first += 1;
    }
    (first < end).then_some(first)
}

/// The name's words without their punctuation, but an initial's period kept ("John F. Kennedy").
fn join(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|w| {
            let b = bare(w);
            if b.chars().count() == 1 && w.contains(&format!("{b}.")) { format!("{b}.") } else { b.to_string() }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The attribution after a quote, in its sentence: `“…,” said X`, `“…,” X said`,
/// `“…,” according to X`, `“…,” one woman said`.
fn after(words: &[&str], q: WordSpan) -> Option<(Option<String>, &'static str)> {
    let last = words[q.end - 1];
    // A quote that ends its sentence (`.”`) is attributed before it, if at all; `?”` and `!”`
    // may still be followed by "she asked".
    if q.end >= words.len() || last.trim_end_matches(CLOSERS).trim_end_matches('"').ends_with('.') {
        return None;
    }
    let rest = &words[q.end..];
    let next = rest[0];
    if lower(next) == "according" && rest.get(1).is_some_and(|w| lower(w) == "to") {
        return name_from(rest, 2).map(|(n, _)| (Some(n), "according to X"));
    }
    if is_verb(next) {
        return name_from(rest, 1).map(|(n, _)| (Some(n), "said X"));
    }
    // A subject, then (perhaps "also") the verb, before the sentence ends.
    for (k, w) in rest.iter().enumerate().take(MAX_SUBJECT_WORDS + BETWEEN.len()) {
        if is_verb(w) {
            let mut end = k;
            while end > 0 && BETWEEN.contains(&lower(rest[end - 1]).as_str()) {
                end -= 1;
            }
            if end == 0 || end > MAX_SUBJECT_WORDS {
                return None;
            }
            if let Some((name, len)) = name_from(rest, 0)
                && len == end
            {
                return Some((Some(name), "X said"));
            }
            return INDEFINITE.contains(&lower(rest[0]).as_str()).then_some((None, "someone said"));
        }
        if ends_sentence(w) || closes(w) {
            return None;
        }
    }
    None
}

/// The attribution before a quote, in its sentence: `X: “…”`, `X said, “…”`,
/// `X, the head of …, said, “…”`, `according to X, “…”`, `X told Y that … “…”`.
fn before(words: &[&str], q: WordSpan) -> Option<(Option<String>, &'static str)> {
    // The sentence's start, not crossing another quote.
    let mut start = q.first;
    while start > 0 && !ends_sentence(words[start - 1]) && !words[start - 1].contains(CLOSERS) {
        start -= 1;
    }
    let lead = &words[start..q.first];
    let &last = lead.last()?;
    if last.ends_with(':') && !lead.iter().any(|w| is_verb(w)) {
        return name_before(lead, lead.len()).map(|n| (Some(n), "X:"));
    }
    // "according to X, “…”"
    if let Some(k) = lead.windows(2).position(|p| lower(p[0]) == "according" && lower(p[1]) == "to")
        && let Some((n, len)) = name_from(lead, k + 2)
        && k + 2 + len == lead.len()
    {
        return Some((Some(n), "according to X"));
    }
    // The last attributing verb before the quote, and its subject.
    let v = lead.iter().rposition(|w| is_verb(w))?;
    let mut end = v;
    while end > 0 && BETWEEN.contains(&lower(lead[end - 1]).as_str()) {
        end -= 1;
    }
    if end == 0 {
        return None;
    }
    let pattern = if lower(lead[v]) == "told" { "X told" } else { "X said" };
    if let Some(n) = name_before(lead, end) {
        return Some((Some(n), pattern));
    }
    // An appositive: "X, a lawyer who …, said" — the name before the first comma of the stretch
    // that a determiner follows.
    if lead[end - 1].ends_with(',') {
        for k in 1..end {
            if lead[k - 1].ends_with(',') && matches!(lower(lead[k]).as_str(), "a" | "an" | "the") {
                return name_before(lead, k).map(|n| (Some(n), "X, …, said"));
            }
        }
    }
    INDEFINITE.contains(&lower(lead[0]).as_str()).then_some((None, "someone said"))
}

/// `name` at its fullest in the article: the one longer name among `known` or the article's
/// capitalised runs that ends with it; else as given.
fn fullest(article: &Article, name: &str, known: &[String]) -> String {
    let suffix = format!(" {name}");
    let mut longer: Vec<String> = known.iter().filter(|k| k.ends_with(&suffix)).cloned().collect();
    for block in article.body() {
        let words: Vec<&str> = block.text.split_whitespace().collect();
        for end in 1..=words.len() {
            if bare(words[end - 1]) == name.rsplit(' ').next().unwrap_or(name)
                && let Some(first) = run_before(&words, end)
            {
                let n = join(&words[first..end]);
                if n.ends_with(&suffix) {
                    longer.push(n);
                }
            }
        }
    }
    longer.sort();
    longer.dedup();
    match longer.as_slice() {
        [one] => one.clone(),
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::parse_text;

    fn found(text: &str) -> Vec<(Option<String>, &'static str, String)> {
        let a = parse_text(text.as_bytes()).unwrap();
        attributions(&a)
            .into_iter()
            .map(|x| {
                let b = a.blocks.iter().find(|b| b.number == x.block).unwrap();
                let words: Vec<&str> = b.text.split_whitespace().collect();
                (x.name, x.pattern, words[x.words.first..x.words.end].join(" "))
            })
            .collect()
    }

    fn names(text: &str) -> Vec<(Option<String>, &'static str)> {
        found(text).into_iter().map(|(n, p, _)| (n, p)).collect()
    }

    #[test]
    fn the_founding_article_names_its_quotes_and_no_one_else() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/samples/article.txt")).unwrap();
        let got = found(&text);
        let named: Vec<(String, &str, &str)> = got
            .iter()
            .filter_map(|(n, p, q)| n.as_ref().map(|n| (n.clone(), *p, q.split(' ').next().unwrap())))
            .collect();
        assert_eq!(
            named,
            vec![
                ("Rustam Muradov".to_string(), "X said", "“the"),
                ("Rustam Muradov".to_string(), "said X", "“As"),
                ("Valery Gerasimov".to_string(), "X said", "“The"),
                ("Siranuysh Sahakyan".to_string(), "X, …, said", "“Our"),
                ("Siranuysh Sahakyan".to_string(), "X said", "“created"),
                ("Benyamin Poghosyan".to_string(), "X, …, said", "“public"),
                ("Benyamin Poghosyan".to_string(), "X said", "“They"),
            ],
            "{got:#?}"
        );
        // The mothers and fathers quoted are no one by name; "the Russian general also said"
        // and scare quotes ("saboteurs") attribute nothing.
        let unnamed: Vec<&str> = got.iter().filter(|(n, ..)| n.is_none()).map(|(_, _, q)| q.as_str()).collect();
        assert_eq!(unnamed.len(), 2, "{unnamed:?}");
        assert!(unnamed[0].starts_with("“Alen Simonyan needs"), "{unnamed:?}");
        assert!(unnamed[1].starts_with("“We need our children back."), "{unnamed:?}");
        assert!(!got.iter().any(|(_, _, q)| q.contains("civil duty") || q.contains("saboteurs")));
    }

    #[test]
    fn each_pattern_and_what_is_not_a_name() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("“We will rebuild,” said Ana de la Cruz.", Some("Ana de la Cruz"), "said X"),
            ("“It is over,” Petrov told reporters.", Some("Petrov"), "X said"),
            ("“It is over,” according to John F. Kennedy.", Some("John F. Kennedy"), "according to X"),
            ("The minister, Lena Markova: “No comment.”", Some("Lena Markova"), "X:"),
            ("Asked about it, Petrov told Reuters: “No comment.”", Some("Petrov"), "X told"),
            ("“It is over,” the spokesman said.", None, ""),
            ("“It is over,” a resident said.", None, "someone said"),
            ("A spokesperson for the Ministry of Defence said, “It is over.”", None, "someone said"),
            ("Prime Minister Nikol Pashinyan said: “It is over.”", Some("Nikol Pashinyan"), "X said"),
            ("The Ministry of Defence said, “It is over.”", None, ""),
            ("Officers of the Border Guard Service said, “It is over.”", None, ""),
            ("He said, “It is over.”", None, ""),
            ("They called it “a disaster” and left.", None, ""),
        ];
        for &(text, name, pattern) in cases {
            let got = names(&format!("A title\n\n{text}"));
            match name {
                Some(n) => assert_eq!(got, vec![(Some(n.to_string()), pattern)], "{text}"),
                None if pattern.is_empty() => assert!(got.is_empty(), "{text}: {got:?}"),
                None => assert_eq!(got, vec![(None, pattern)], "{text}"),
            }
        }
    }

    #[test]
    fn a_short_name_is_unified_only_when_one_longer_name_ends_so() {
        let one = "Rustam Muradov visited.\n\n“We are ready,” Muradov said.";
        assert_eq!(names(one), vec![(Some("Rustam Muradov".into()), "X said")]);
        let two = "Rustam Muradov and Ilham Muradov visited.\n\n“We are ready,” Muradov said.";
        assert_eq!(names(two), vec![(Some("Muradov".into()), "X said")]);
    }
}
