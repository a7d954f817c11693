//! Measuring quality: text normalisation and word error rate against a reference transcript.
#![forbid(unsafe_code)]

pub use crate::text::normalize;

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

/// One segment of a scripted recording: when it is spoken, what it says, and where it comes from
/// in the article (`kind` verbatim / paraphrase / none, `paragraph` 0 for none).
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptRow {
    pub start_ms: u64,
    pub end_ms: u64,
    pub kind: String,
    pub paragraph: usize,
    pub text: String,
}

/// Reads a script TSV (`start_ms`, `end_ms`, and optionally `kind`, `paragraph`, `text` columns).
pub fn read_script(tsv: &str) -> Option<Vec<ScriptRow>> {
    let mut lines = tsv.lines();
    let header: Vec<&str> = lines.next()?.split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (s, e) = (col("start_ms")?, col("end_ms")?);
    let (k, p, t) = (col("kind"), col("paragraph"), col("text"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let text_of = |c: Option<usize>| c.and_then(|c| f.get(c)).map_or(String::new(), |s| s.to_string());
            Some(ScriptRow {
                start_ms: f.get(s)?.parse().ok()?,
                end_ms: f.get(e)?.parse().ok()?,
                kind: text_of(k),
                paragraph: p.and_then(|p| f.get(p)).map_or(Some(0), |v| v.parse().ok())?,
                text: text_of(t),
            })
        })
        .collect()
}

/// Link quality against a script: a script segment taken from the article (verbatim or
/// paraphrase) should be linked to its paragraph; one that is not should not be linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkScore {
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    /// Script segments from the article whose predicted kind is their true kind.
    pub kind_right: usize,
    pub from_article: usize,
}

impl LinkScore {
    pub fn precision(&self) -> f64 {
        self.true_positives as f64 / (self.true_positives + self.false_positives).max(1) as f64
    }
    pub fn recall(&self) -> f64 {
        self.true_positives as f64 / (self.true_positives + self.false_negatives).max(1) as f64
    }
}

/// Whether a passage from `start` to `end` belongs to the script segment: its middle falls
/// within it, give or take 300 ms (word times are that good; see tests/accuracy.rs).
pub fn spoken_within(row: &ScriptRow, start: u64, end: u64) -> bool {
    let mid = (start + end) / 2;
    mid + 300 >= row.start_ms && mid <= row.end_ms + 300
}

/// The link predicted for a script segment: the paragraph most of the words of its passages
/// (those whose middle falls within it) are linked to as verbatim or paraphrase, and their kind.
pub fn predicted_link(row: &ScriptRow, passages: &[crate::article::link::Passage]) -> Option<(usize, &'static str)> {
    let mut votes: std::collections::BTreeMap<(usize, &'static str), usize> = std::collections::BTreeMap::new();
    let mut total = 0;
    for p in passages.iter().filter(|p| spoken_within(row, p.start_ms, p.end_ms)) {
        let n = p.words.end - p.words.first;
        total += n;
        if let (Some(par), true) = (p.paragraph, p.kind.is_source()) {
            *votes.entry((par, p.kind.name())).or_default() += n;
        }
    }
    let (&best, &n) = votes.iter().max_by_key(|(_, n)| **n)?;
    (2 * n >= total).then_some(best)
}

/// Scores `passages` against the script.
pub fn link_score(script: &[ScriptRow], passages: &[crate::article::link::Passage]) -> LinkScore {
    let mut s = LinkScore::default();
    for row in script {
        let truth = matches!(row.kind.as_str(), "verbatim" | "paraphrase").then_some(row.paragraph);
        let predicted = predicted_link(row, passages);
        s.from_article += usize::from(truth.is_some());
        match (truth, predicted) {
            (Some(t), Some((p, kind))) if t == p => {
                s.true_positives += 1;
                s.kind_right += usize::from(kind == row.kind);
            }
            (Some(_), Some(_)) => {
                s.false_positives += 1;
                s.false_negatives += 1;
            }
            (Some(_), None) => s.false_negatives += 1,
            (None, Some(_)) => s.false_positives += 1,
            (None, None) => {}
        }
    }
    s
}

/// How many of the article's names, as spoken in the script, the hypothesis spells as the
/// article does (occurrences, and distinct names).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NameScore {
    pub spoken: usize,
    pub right: usize,
    pub distinct_spoken: usize,
    pub distinct_right: usize,
    /// Names spelled right fewer times than spoken.
    pub missed: Vec<String>,
}

impl NameScore {
    pub fn rate(&self) -> f64 {
        self.right as f64 / self.spoken.max(1) as f64
    }
}

pub fn names_spelled(names: &[String], script: &str, hypothesis: &str) -> NameScore {
    use crate::text::bare;
    let said: Vec<String> = script.split_whitespace().map(|w| bare(w).to_lowercase()).collect();
    let written: Vec<&str> = hypothesis.split_whitespace().map(bare).collect();
    let mut s = NameScore::default();
    for name in names {
        let spoken = said.iter().filter(|w| **w == name.to_lowercase()).count();
        if spoken == 0 {
            continue;
        }
        let right = written.iter().filter(|w| **w == name).count().min(spoken);
        s.spoken += spoken;
        s.right += right;
        s.distinct_spoken += 1;
        s.distinct_right += usize::from(right > 0);
        if right < spoken {
            s.missed.push(name.clone());
        }
    }
    s
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
    fn names_are_counted_as_spoken_and_as_spelled() {
        let names = vec!["Yerevan".to_string(), "Civilnet".to_string(), "Baku".to_string()];
        let s =
            names_spelled(&names, "CivilNet in Yerevan. Yerevan's airfield.", "Civilnet in Yerevan, yerevan airfield.");
        assert_eq!((s.spoken, s.right, s.distinct_spoken, s.distinct_right), (3, 2, 2, 2));
        assert_eq!(s.missed, vec!["Yerevan".to_string()]);
    }

    #[test]
    fn script_rows_with_and_without_article_columns() {
        let rows = read_script("segment\tstart_ms\tend_ms\tkind\tparagraph\ttext\n1\t0\t900\tverbatim\t4\tHi there.\n")
            .unwrap();
        assert_eq!(
            rows[0],
            ScriptRow { start_ms: 0, end_ms: 900, kind: "verbatim".into(), paragraph: 4, text: "Hi there.".into() }
        );
        assert_eq!(read_script("start_ms\tend_ms\n5\t9\n").unwrap()[0].paragraph, 0);
    }

    #[test]
    fn script_times_and_percentiles() {
        let rows = read_script("segment\tstart_ms\tend_ms\n1\t100\t900\n2\t1500\t2000\n").unwrap();
        let t: Vec<(u64, u64)> = rows.iter().map(|r| (r.start_ms, r.end_ms)).collect();
        assert_eq!(t, vec![(100, 900), (1500, 2000)]);
        let cue = |s| crate::captions::Cue { start_ms: s, end_ms: s + 500, lines: vec!["x".into()] };
        assert_eq!(cue_start_errors(&[cue(120), cue(1400)], &t), vec![20, 100]);
        assert_eq!((percentile(&[1, 2, 3, 4], 0.5), percentile(&[1, 2, 3, 4], 0.95)), (2, 4));
    }
}
