//! Measuring quality: text normalisation and word error rate against a reference transcript.

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
    // "one hundred and forty" is "one hundred forty".
    let mut result = Vec::with_capacity(out.len());
    for i in 0..out.len() {
        let is_and_in_number = out[i] == "and"
            && i > 0
            && is_number_word(&out[i - 1])
            && out.get(i + 1).is_some_and(|n| is_number_word(n));
        if !is_and_in_number {
            result.push(out[i].clone());
        }
    }
    result
}

/// Word-level edit counts of `hyp` against `reference`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WordErrors {
    pub substitutions: usize,
    pub deletions: usize,
    pub insertions: usize,
    pub reference_words: usize,
}

impl WordErrors {
    /// Word error rate, 0.0 – (can exceed 1.0 with many insertions).
    pub fn rate(&self) -> f64 {
        (self.substitutions + self.deletions + self.insertions) as f64 / self.reference_words.max(1) as f64
    }
}

/// Levenshtein alignment over normalised words.
pub fn word_errors(reference: &str, hyp: &str) -> WordErrors {
    let (r, h) = (normalize(reference), normalize(hyp));
    // dp[j] = (cost, subs, dels, ins) for r[..i] vs h[..j]
    let mut prev: Vec<(usize, usize, usize, usize)> = (0..=h.len()).map(|j| (j, 0, 0, j)).collect();
    for i in 1..=r.len() {
        let mut cur = vec![(i, 0, i, 0); h.len() + 1];
        for j in 1..=h.len() {
            let sub = prev[j - 1];
            let same = r[i - 1] == h[j - 1];
            let diag = (sub.0 + usize::from(!same), sub.1 + usize::from(!same), sub.2, sub.3);
            let del = (prev[j].0 + 1, prev[j].1, prev[j].2 + 1, prev[j].3);
            let ins = (cur[j - 1].0 + 1, cur[j - 1].1, cur[j - 1].2, cur[j - 1].3 + 1);
            cur[j] = *[diag, del, ins].iter().min_by_key(|x| x.0).unwrap_or(&diag);
        }
        prev = cur;
    }
    let (_, s, d, ins) = prev[h.len()];
    WordErrors { substitutions: s, deletions: d, insertions: ins, reference_words: r.len() }
}

/// True speech times of a scripted recording (as `scripts/make-samples.sh` writes them: a TSV
/// with `start_ms` and `end_ms` columns).
pub fn read_script_times(tsv: &str) -> Option<Vec<(u64, u64)>> {
    let mut lines = tsv.lines();
    let header: Vec<&str> = lines.next()?.split('\t').collect();
    let (s, e) = (header.iter().position(|h| *h == "start_ms")?, header.iter().position(|h| *h == "end_ms")?);
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Some((f.get(s)?.parse().ok()?, f.get(e)?.parse().ok()?))
        })
        .collect()
}

/// For each true speech segment `(start, end)`, |start of the nearest cue starting before its
/// end − its start|, sorted ascending.
pub fn cue_start_errors(cues: &[crate::captions::Cue], truth: &[(u64, u64)]) -> Vec<u64> {
    let mut errors: Vec<u64> = truth
        .iter()
        .map(|&(start, end)| {
            cues.iter().filter(|c| c.start_ms < end).map(|c| c.start_ms.abs_diff(start)).min().unwrap_or(u64::MAX)
        })
        .collect();
    errors.sort_unstable();
    errors
}

/// Nearest-rank percentile (`q` in 0–1) of ascending values.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn word_error_rate_counts_edits() {
        let e = word_errors("the cat sat on the mat", "the cat sat on mat today");
        assert_eq!(e.substitutions + e.deletions + e.insertions, 2);
        assert_eq!(e.reference_words, 6);
        let e = word_errors("a b c d", "a x c");
        assert_eq!((e.substitutions, e.deletions, e.insertions), (1, 1, 0));
        assert!((e.rate() - 0.5).abs() < 1e-9);
        assert_eq!(word_errors("A b, c.", "a B c").rate(), 0.0);
    }

    #[test]
    fn script_times_and_percentiles() {
        let t = read_script_times("segment\tstart_ms\tend_ms\n1\t100\t900\n2\t1500\t2000\n").unwrap();
        assert_eq!(t, vec![(100, 900), (1500, 2000)]);
        let cue = |s| crate::captions::Cue { start_ms: s, end_ms: s + 500, lines: vec!["x".into()] };
        assert_eq!(cue_start_errors(&[cue(120), cue(1400)], &t), vec![20, 100]);
        assert_eq!((percentile(&[1, 2, 3, 4], 0.5), percentile(&[1, 2, 3, 4], 0.95)), (2, 4));
    }
}
