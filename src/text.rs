//! Text shared by scoring and article linking: normalisation (case, punctuation, numbers as
//! words), word similarity, stems and stop words.
#![forbid(unsafe_code)]

use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];

/// Cardinal number in words ("140" → "one hundred forty"), without "and".
fn number_words(mut n: u64) -> String {
    fn below_thousand(n: u64, out: &mut Vec<String>) {
        if n >= 100 {
            out.push(ONES[(n / 100) as usize].into());
            out.push("hundred".into());
        }
        let r = n % 100;
        if r >= 20 {
            out.push(TENS[(r / 10) as usize].into());
            if !r.is_multiple_of(10) {
                out.push(ONES[(r % 10) as usize].into());
            }
        } else if r > 0 || n == 0 {
            out.push(ONES[r as usize].into());
        }
    }
    if n == 0 {
        return "zero".into();
    }
    let mut out = Vec::new();
    for (scale, name) in [(1_000_000_000, "billion"), (1_000_000, "million"), (1_000, "thousand")] {
        if n >= scale {
            below_thousand(n / scale, &mut out);
            out.push(name.into());
            n %= scale;
        }
    }
    if n > 0 {
        below_thousand(n, &mut out);
    }
    out.join(" ")
}

fn ordinal(words: &str) -> String {
    let (head, last) = words.rsplit_once(' ').map_or(("", words), |(h, l)| (h, l));
    let last = match last {
        "one" => "first".to_string(),
        "two" => "second".to_string(),
        "three" => "third".to_string(),
        "five" => "fifth".to_string(),
        "eight" => "eighth".to_string(),
        "nine" => "ninth".to_string(),
        "twelve" => "twelfth".to_string(),
        l if l.ends_with('y') => format!("{}ieth", &l[..l.len() - 1]),
        l => format!("{l}th"),
    };
    if head.is_empty() { last } else { format!("{head} {last}") }
}

/// Whether `w` is part of a number written in words.
fn is_number_word(w: &str) -> bool {
    ONES.contains(&w) || TENS[2..].contains(&w) || ["hundred", "thousand", "million", "billion"].contains(&w)
}

/// Lower case, no punctuation, hyphens as spaces, numbers as words, a few spoken abbreviations
/// expanded — applied to both sides before scoring.
pub fn normalize(text: &str) -> Vec<String> {
    normalize_words(text.split_whitespace()).words
}

/// Normalised words with, for each, the index of the written word it came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Normalized {
    pub words: Vec<String>,
    pub origin: Vec<usize>,
}

/// [`normalize`] word by word, keeping track of where each normalised word came from
/// ("4," gives "four"; "2021" gives four words, all from the same written word).
pub fn normalize_words<'a>(written: impl IntoIterator<Item = &'a str>) -> Normalized {
    let mut all = Normalized::default();
    for (i, w) in written.into_iter().enumerate() {
        for part in normalize_token(w) {
            all.words.push(part);
            all.origin.push(i);
        }
    }
    // "one hundred and forty" is "one hundred forty".
    let mut out = Normalized::default();
    for i in 0..all.words.len() {
        let w = &all.words;
        let is_and_in_number =
            w[i] == "and" && i > 0 && is_number_word(&w[i - 1]) && w.get(i + 1).is_some_and(|n| is_number_word(n));
        if !is_and_in_number {
            out.words.push(all.words[i].clone());
            out.origin.push(all.origin[i]);
        }
    }
    out
}

/// One written word (or a few run together) → its normalised words.
fn normalize_token(text: &str) -> Vec<String> {
    let mut spaced = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '-' | '–' | '—' | '/' => spaced.push(' '),
            '%' => spaced.push_str(" percent "),
            '&' => spaced.push_str(" and "),
            '’' | '\'' => {}
            c if c.is_alphanumeric() || c.is_whitespace() => spaced.extend(c.to_lowercase()),
            // Thousands separators inside numbers ("1,000") vanish; other punctuation is a break.
            ',' | '.' => spaced.push('\u{1}'),
            _ => spaced.push(' '),
        }
    }
    // Resolve the markers: between digits they join, elsewhere they separate.
    let chars: Vec<char> = spaced.chars().collect();
    let mut clean = String::with_capacity(chars.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == '\u{1}' {
            let digit_before = i > 0 && chars[i - 1].is_ascii_digit();
            let digit_after = chars.get(i + 1).is_some_and(|d| d.is_ascii_digit());
            if !(digit_before && digit_after) {
                clean.push(' ');
            }
        } else {
            clean.push(c);
        }
    }
    let mut out: Vec<String> = Vec::new();
    for tok in clean.split_whitespace() {
        let digits_end = tok.find(|c: char| !c.is_ascii_digit()).unwrap_or(tok.len());
        if digits_end > 0 {
            let (num, suffix) = tok.split_at(digits_end);
            let Ok(n) = num.parse::<u64>() else {
                out.push(tok.to_string());
                continue;
            };
            let words = number_words(n);
            match suffix {
                "st" | "nd" | "rd" | "th" => out.extend(ordinal(&words).split(' ').map(String::from)),
                "" => out.extend(words.split(' ').map(String::from)),
                s => {
                    out.extend(words.split(' ').map(String::from));
                    out.push(s.to_string());
                }
            }
            continue;
        }
        let expanded = match tok {
            "mr" => "mister",
            "mrs" => "missus",
            "dr" => "doctor",
            "st" => "saint",
            "ok" => "okay",
            t => t,
        };
        out.push(expanded.to_string());
    }
    out
}

/// The word without surrounding punctuation or a possessive ending ("“Armenia's," → "Armenia").
pub fn bare(word: &str) -> &str {
    let w = word.trim_matches(|c: char| !c.is_alphanumeric());
    w.strip_suffix("'s").or_else(|| w.strip_suffix("’s")).unwrap_or(w)
}

/// Closing quotes and brackets that may follow a sentence's final punctuation.
const CLOSERS: &[char] = &['"', '\'', '”', '’', ')', ']', '»'];

/// Whether a written word ends a sentence: final punctuation (`.`, `?`, `!`, `…`), perhaps
/// followed by closing quotes or brackets, on a word that is not an abbreviation ("Mr.", "Dr.",
/// "Gen.", an initial "J."). The one sentence rule for passages, cues and article wording.
pub fn ends_sentence(word: &str) -> bool {
    let w = word.trim_end_matches(CLOSERS);
    if w.ends_with(['?', '!', '…']) {
        return true;
    }
    if w.ends_with("...") {
        return true;
    }
    if !w.ends_with('.') {
        return false;
    }
    let stem = w.trim_start_matches(['"', '“', '‘', '«', '(', '[']).trim_end_matches('.');
    let abbreviation = matches!(
        stem,
        "Mr" | "Mrs"
            | "Ms"
            | "Dr"
            | "St"
            | "Gen"
            | "Col"
            | "Lt"
            | "Sgt"
            | "Prof"
            | "Rev"
            | "Sen"
            | "Rep"
            | "Gov"
            | "Jr"
            | "Sr"
            | "vs"
            | "etc"
            | "No"
            | "Capt"
            | "Maj"
            | "Cpt"
    ) || (stem.chars().count() == 1 && stem.chars().all(char::is_uppercase));
    !abbreviation
}

/// Unicode's default-ignorable code points (DerivedCoreProperties.txt): invisible characters —
/// zero-width spaces and joiners, soft hyphens, word joiners, bidirectional marks, variation
/// selectors, tags — that split or disguise a word without showing. Search drops them from
/// queries and indexed text alike.
pub fn ignorable(c: char) -> bool {
    matches!(c,
        '\u{00ad}' | '\u{034f}' | '\u{061c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}'
        | '\u{180b}'..='\u{180f}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}' | '\u{3164}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}' | '\u{ffa0}'
        | '\u{fff0}'..='\u{fff8}' | '\u{1bca0}'..='\u{1bca3}' | '\u{1d173}'..='\u{1d17a}'
        | '\u{e0000}'..='\u{e0fff}')
}

/// `text` for a terminal: control characters (escape sequences, C1 controls, bidirectional
/// overrides, line breaks) shown as visible escapes (`\u{1b}`), so nothing an archive holds can
/// move the cursor, recolour or rewrite the screen of whoever searches it.
pub fn visible(text: &str) -> String {
    let hidden = |c: char| {
        c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(hidden) {
        return text.to_string();
    }
    text.chars().map(|c| if hidden(c) { c.escape_unicode().to_string() } else { c.to_string() }).collect()
}

/// The one rule that makes text safe for every writer (SRT, WebVTT cues and NOTEs, TXT, JSON,
/// HTML): one line — every run of whitespace and control characters (line and paragraph
/// separators, NUL, tabs, byte-order marks) becomes one space, ends trimmed — and no cue timing
/// arrow (`-->` becomes `→`). Without a line break or an arrow, no text can end a cue or start
/// a new one in any subtitle format, whatever a recogniser, an article or an edited JSON put in.
pub fn safe_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() || c == '\u{feff}' {
            gap = !out.is_empty();
            continue;
        }
        if gap {
            out.push(' ');
            gap = false;
        }
        out.push(c);
    }
    // "→" has neither '-' nor '>', so the replacement cannot make a new arrow.
    if out.contains("-->") { out.replace("-->", "→") } else { out }
}

/// Similarity of two words, 0–1: one minus their edit distance over the longer length.
pub fn similarity(a: &str, b: &str) -> f64 {
    strsim::normalized_levenshtein(a, b)
}

static STEMMER: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// English (Porter 2) stem of a normalised word: "prisoners", "prisoner" → "prison".
pub fn stem(word: &str) -> String {
    STEMMER.stem(word).into_owned()
}

/// A rough sound key: the word's consonant skeleton with letters that sound alike merged and
/// vowels kept only at the start ("Sahakyan" and "Sahakian" share it).
pub fn sound_key(word: &str) -> String {
    let mut key = String::new();
    let mut last = '\0';
    for (i, c) in word.chars().flat_map(char::to_lowercase).filter(|c| c.is_alphabetic()).enumerate() {
        let k = match c {
            'a' | 'e' | 'i' | 'o' | 'u' | 'y' | 'h' | 'w' if i > 0 => '\0',
            'a' | 'e' | 'i' | 'o' | 'u' | 'y' | 'h' | 'w' => 'a',
            'c' | 'k' | 'q' | 'g' | 'x' => 'k',
            's' | 'z' => 's',
            'j' => 'j',
            'b' | 'p' => 'p',
            'd' | 't' => 't',
            'f' | 'v' => 'f',
            'm' | 'n' => 'n',
            'l' | 'r' => 'r',
            c => c,
        };
        if k != '\0' && k != last {
            key.push(k);
        }
        if k != '\0' || i > 0 {
            last = k;
        }
    }
    key
}

/// English words too common to tell one paragraph from another.
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

// Sorted (checked by a test).
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "even",
    "ever",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "many",
    "may",
    "me",
    "might",
    "more",
    "most",
    "much",
    "must",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "said",
    "same",
    "say",
    "says",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "us",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentence_ends() {
        for w in ["war.", "war?", "now!", "said.”", "(it was).", "end…", "wait...", "Azerbaijan.\""] {
            assert!(ends_sentence(w), "{w}");
        }
        for w in ["Mr.", "Dr.", "J.", "Gen.", "“Mr.", "war,", "war", "U.S", "etc"] {
            assert!(!ends_sentence(w), "{w}");
        }
    }

    #[test]
    fn controls_are_made_visible() {
        assert_eq!(visible("plain — text"), "plain — text");
        assert_eq!(visible("\u{1b}[31mred\u{1b}[0m"), "\\u{1b}[31mred\\u{1b}[0m");
        assert_eq!(visible("a\u{9b}2Jb\nc\u{202e}d"), "a\\u{9b}2Jb\\u{a}c\\u{202e}d");
    }

    #[test]
    fn safe_lines() {
        assert_eq!(safe_line("  a\n\n00:00:01,000 --> 00:00:02,000\r\nb "), "a 00:00:01,000 → 00:00:02,000 b");
        assert_eq!(safe_line("--->"), "-→");
        assert_eq!(safe_line("x\u{0}\u{b}\u{c}\u{2028}\u{2029}\u{feff}y\t"), "x y");
        assert_eq!(safe_line("\n\n"), "");
        assert_eq!(safe_line("Tom & <b>Jerry</b>"), "Tom & <b>Jerry</b>", "markup is each writer's to escape");
    }

    #[test]
    fn numbers_hyphens_case_and_punctuation() {
        assert_eq!(
            normalize("On December 4th, 2021: the 44-day war!"),
            normalize("on december fourth two thousand and twenty one the forty four day war")
        );
        assert_eq!(normalize("from 40 to 140"), normalize("from forty to one hundred and forty"));
        assert_eq!(normalize("Armenia's second-largest city"), vec!["armenias", "second", "largest", "city"]);
        assert_eq!(normalize("Mr. Crow paid 1,000."), vec!["mister", "crow", "paid", "one", "thousand"]);
        assert_eq!(normalize("rock and roll"), vec!["rock", "and", "roll"]);
    }

    #[test]
    fn normalized_words_remember_where_they_came_from() {
        let n = normalize_words("On December 4, 2021, one hundred and forty".split(' '));
        assert_eq!(n.words, ["on", "december", "four", "two", "thousand", "twenty", "one", "one", "hundred", "forty"]);
        assert_eq!(n.origin, [0, 1, 2, 3, 3, 3, 3, 4, 5, 7]);
    }

    #[test]
    fn stems_sounds_and_stop_words() {
        assert_eq!(stem("prisoners"), stem("prisoner"));
        assert_eq!(stem("represents"), stem("representing"));
        assert_eq!(sound_key("Sahakyan"), sound_key("Sahakian"));
        assert_eq!(sound_key("Gerasimov"), sound_key("Guerassimoff"));
        assert_ne!(sound_key("Yerevan"), sound_key("Gyumri"));
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_stop_word("the") && !is_stop_word("prisoners"));
        assert!(similarity("Muradov", "Muradof") > 0.8);
        assert_eq!((bare("“Armenia's,"), bare("(POW)"), bare("well-known.")), ("Armenia", "POW", "well-known"));
    }
}
