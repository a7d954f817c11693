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
        let cue =
            |s| crate::captions::Cue { start_ms: s, end_ms: s + 500, lines: vec!["x".into()], speakers: Vec::new() };
        assert_eq!(cue_start_errors(&[cue(120), cue(1400)], &t), vec![20, 100]);
        assert_eq!((percentile(&[1, 2, 3, 4], 0.5), percentile(&[1, 2, 3, 4], 0.95)), (2, 4));
    }
}

/// Diarization error, as NIST's md-eval counts it on 10 ms frames: missed speech, false alarm
/// and speaker confusion over the reference's speech, under the best one-to-one mapping of
/// hypothesis speakers to reference speakers. Frames within `collar_ms` of a reference turn's
/// start or end are not scored.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpeakerErrors {
    /// Scored reference speech, in frames (one per speaker speaking).
    pub speech: u64,
    pub missed: u64,
    pub false_alarm: u64,
    pub confusion: u64,
}

impl SpeakerErrors {
    pub fn rate(&self) -> f64 {
        if self.speech == 0 {
            0.0
        } else {
            (self.missed + self.false_alarm + self.confusion) as f64 / self.speech as f64
        }
    }
}

/// A turn for scoring: start, end (ms) and a speaker label.
pub type LabelledTurn = (u64, u64, String);

/// Speakers present in each 10 ms frame up to `frames`.
fn frame_speakers(turns: &[LabelledTurn], names: &[String], frames: usize) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); frames];
    for (s, e, who) in turns {
        let k = names.iter().position(|n| n == who).unwrap_or(0);
        for f in out.iter_mut().take(((*e / 10) as usize).min(frames)).skip((*s / 10) as usize) {
            if !f.contains(&k) {
                f.push(k);
            }
        }
    }
    out
}

/// Turns from NIST RTTM text (`SPEAKER file 1 START DURATION <NA> <NA> NAME <NA> <NA>`, seconds);
/// `None` if a SPEAKER line cannot be read.
pub fn read_rttm(text: &str) -> Option<Vec<LabelledTurn>> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("SPEAKER")) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (start, dur): (f64, f64) = (f.get(3)?.parse().ok()?, f.get(4)?.parse().ok()?);
        if !(start >= 0.0 && dur >= 0.0 && start.is_finite() && dur.is_finite()) {
            return None;
        }
        let s = (start * 1000.0).round() as u64;
        out.push((s, s + (dur * 1000.0).round() as u64, f.get(7)?.to_string()));
    }
    Some(out)
}

/// [`SpeakerErrors`] of `hyp` against `reference`.
pub fn speaker_errors(reference: &[LabelledTurn], hyp: &[LabelledTurn], collar_ms: u64) -> SpeakerErrors {
    let uniq = |t: &[LabelledTurn]| {
        let mut v: Vec<String> = Vec::new();
        for (_, _, n) in t {
            if !v.contains(n) {
                v.push(n.clone());
            }
        }
        v
    };
    let (rn, hn) = (uniq(reference), uniq(hyp));
    let end = reference.iter().chain(hyp).map(|t| t.1).max().unwrap_or(0);
    let frames = (end / 10 + 1) as usize;
    let (rf, hf) = (frame_speakers(reference, &rn, frames), frame_speakers(hyp, &hn, frames));
    let mut scored = vec![true; frames];
    for (s, e, _) in reference {
        for edge in [*s, *e] {
            let (a, b) = (edge.saturating_sub(collar_ms) / 10, (edge + collar_ms) / 10);
            for f in scored.iter_mut().take((b as usize).min(frames)).skip(a as usize) {
                *f = false;
            }
        }
    }
    // Co-occurrence of reference and hypothesis speakers over scored frames.
    let mut co = vec![vec![0u64; hn.len()]; rn.len()];
    let mut e = SpeakerErrors::default();
    for f in (0..frames).filter(|&f| scored[f]) {
        let (r, h) = (&rf[f], &hf[f]);
        e.speech += r.len() as u64;
        e.missed += r.len().saturating_sub(h.len()) as u64;
        e.false_alarm += h.len().saturating_sub(r.len()) as u64;
        for &a in r {
            for &b in h {
                co[a][b] += 1;
            }
        }
    }
    // Best one-to-one mapping (exhaustive up to 8 speakers a side, else greedy).
    let matched = best_matching(&co);
    let mut correct = 0u64;
    for f in (0..frames).filter(|&f| scored[f]) {
        let (r, h) = (&rf[f], &hf[f]);
        correct += r.iter().filter(|&&a| matched[a].is_some_and(|b| h.contains(&b))).count() as u64;
        e.confusion += r.len().min(h.len()) as u64;
    }
    e.confusion = e.confusion.saturating_sub(correct);
    e
}

/// For each row, the column it is paired with, maximising the total of `m` over pairs.
fn best_matching(m: &[Vec<u64>]) -> Vec<Option<usize>> {
    let (rows, cols) = (m.len(), m.first().map_or(0, Vec::len));
    let mut best = (0u64, vec![None; rows]);
    if rows <= 8 && cols <= 8 {
        fn go(
            m: &[Vec<u64>],
            r: usize,
            used: &mut Vec<bool>,
            cur: &mut Vec<Option<usize>>,
            score: u64,
            best: &mut (u64, Vec<Option<usize>>),
        ) {
            if r == m.len() {
                if score >= best.0 {
                    *best = (score, cur.clone());
                }
                return;
            }
            go(m, r + 1, used, cur, score, best);
            for c in 0..used.len() {
                if !used[c] {
                    used[c] = true;
                    cur[r] = Some(c);
                    go(m, r + 1, used, cur, score + m[r][c], best);
                    cur[r] = None;
                    used[c] = false;
                }
            }
        }
        go(m, 0, &mut vec![false; cols], &mut vec![None; rows], 0, &mut best);
        return best.1;
    }
    let mut pairs: Vec<(u64, usize, usize)> = (0..rows).flat_map(|r| (0..cols).map(move |c| (m[r][c], r, c))).collect();
    pairs.sort_by_key(|p| std::cmp::Reverse(p.0));
    let (mut used_r, mut used_c) = (vec![false; rows], vec![false; cols]);
    for (_, r, c) in pairs {
        if !used_r[r] && !used_c[c] {
            used_r[r] = true;
            used_c[c] = true;
            best.1[r] = Some(c);
        }
    }
    best.1
}

#[cfg(test)]
mod speaker_tests {
    use super::*;

    fn t(s: u64, e: u64, w: &str) -> LabelledTurn {
        (s, e, w.to_string())
    }

    #[test]
    fn perfect_relabelled_hypothesis_scores_zero_and_errors_add_up() {
        let r = vec![t(0, 5000, "A"), t(5000, 10000, "B")];
        let h = vec![t(0, 5000, "2"), t(5000, 10000, "1")];
        assert_eq!(speaker_errors(&r, &h, 0).rate(), 0.0);
        // One second given to the wrong speaker, one second missed, one second extra.
        let h = vec![t(0, 4000, "2"), t(4000, 5000, "1"), t(5000, 9000, "1"), t(10000, 11000, "1")];
        let e = speaker_errors(&r, &h, 0);
        assert_eq!((e.speech, e.confusion, e.missed, e.false_alarm), (1000, 100, 100, 100));
        // The collar hides errors near reference boundaries.
        let h = vec![t(0, 5200, "x"), t(5200, 10000, "y")];
        assert!(speaker_errors(&r, &h, 0).rate() > 0.0);
        assert_eq!(speaker_errors(&r, &h, 250).rate(), 0.0);
        // Everything to one speaker: half confused.
        let h = vec![t(0, 10000, "x")];
        assert!((speaker_errors(&r, &h, 0).rate() - 0.5).abs() < 1e-9);
    }
}
