//! Per-language knowledge for line breaking: words that must stay with the word after them.
#![forbid(unsafe_code)]

/// Word classes that bind to the next word ("the | prisoners" must not be split).
#[derive(Debug)]
pub struct Grammar {
    /// Articles, determiners and possessives: bind to their noun.
    pub determiners: &'static [&'static str],
    /// Prepositions: bind to their object; a good place to break *before*.
    pub prepositions: &'static [&'static str],
    /// Auxiliaries and modals: bind to their verb (and to a following negation).
    pub auxiliaries: &'static [&'static str],
    /// Subject pronouns: bind to their verb.
    pub pronouns: &'static [&'static str],
    /// Negations, bound to the word before them.
    pub negations: &'static [&'static str],
    /// Coordinating conjunctions: break before them, never after.
    pub conjunctions: &'static [&'static str],
    /// Words a number stays with ("December | 4").
    pub months: &'static [&'static str],
}

const EMPTY: &[&str] = &[];

pub static ENGLISH: Grammar = Grammar {
    determiners: &[
        "a", "an", "the", "this", "that", "these", "those", "my", "your", "his", "her", "its", "our", "their", "some",
        "any", "every", "each", "no", "another", "such", "whose", "which",
    ],
    prepositions: &[
        "of", "in", "on", "at", "to", "for", "with", "from", "by", "about", "into", "onto", "over", "after", "before",
        "under", "between", "through", "during", "without", "against", "among", "across", "within", "towards",
        "toward", "since", "until", "upon", "via", "per",
    ],
    auxiliaries: &[
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "will",
        "would",
        "shall",
        "should",
        "can",
        "could",
        "may",
        "might",
        "must",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "hasn't",
        "haven't",
        "hadn't",
        "don't",
        "doesn't",
        "didn't",
        "won't",
        "wouldn't",
        "can't",
        "couldn't",
        "shouldn't",
        "mustn't",
    ],
    pronouns: &[
        "i", "you", "he", "she", "it", "we", "they", "i'm", "you're", "he's", "she's", "it's", "we're", "they're",
        "there",
    ],
    negations: &["not", "never"],
    conjunctions: &[
        "and", "but", "or", "nor", "so", "yet", "because", "although", "while", "whereas", "if", "when", "that",
    ],
    months: &[
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ],
};

pub static NONE: Grammar = Grammar {
    determiners: EMPTY,
    prepositions: EMPTY,
    auxiliaries: EMPTY,
    pronouns: EMPTY,
    negations: EMPTY,
    conjunctions: EMPTY,
    months: EMPTY,
};

/// The grammar for an ISO 639-1 code; languages without a table get only the
/// language-independent rules (punctuation, names, numbers).
pub fn grammar(language: &str) -> &'static Grammar {
    match language {
        "en" => &ENGLISH,
        _ => &NONE,
    }
}
