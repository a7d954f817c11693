//! Article-aware text: the article's names and rare words as a recognition prompt, the article's
//! own wording for passages it quotes, and near-miss spellings of its names corrected elsewhere.
//! Every change is recorded so an editor can review it.
#![forbid(unsafe_code)]

use std::collections::HashMap;

use super::Article;
use super::link::{LinkKind, Links};
use crate::asr::transcript::spread;
use crate::asr::{Segment, Transcript, Word};
use crate::text::{bare, ends_sentence, is_stop_word, similarity, sound_key};

pub use crate::correction::{Correction, Reason};

/// A name (or other capitalised word) of the article and how often it occurs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub text: String,
    pub count: usize,
}

/// Most article words in a row a quote's recognition may have missed.
const MAX_MISSED: usize = 4;

/// Word probability from which the recogniser is taken to be sure of a word.
const SURE: f32 = 0.75;

const QUOTES: &[char] = &['"', '“', '”', '‘', '’', '«', '»', '\''];

/// The article's proper nouns: capitalised words that are not merely sentence starts and never
/// appear in lower case, most frequent first.
pub fn names(article: &Article) -> Vec<Name> {
    let mut lower: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut counts: HashMap<String, (usize, usize, bool)> = HashMap::new(); // count, first seen, mid-sentence
    let mut order = 0;
    for block in article.body() {
        let mut sentence_start = true;
        for raw in block.text.split_whitespace() {
            let w = bare(raw);
            let starts = sentence_start || raw.starts_with(QUOTES);
            sentence_start = ends_sentence(raw) || raw.trim_end_matches(QUOTES).ends_with(':');
            if w.chars().count() < 3 || !w.chars().all(char::is_alphabetic) {
                continue;
            }
            let first_upper = w.chars().next().is_some_and(char::is_uppercase);
            if !first_upper {
                lower.insert(w.to_string());
                continue;
            }
            if is_stop_word(&w.to_lowercase()) {
                continue;
            }
            order += 1;
            let e = counts.entry(w.to_string()).or_insert((0, order, false));
            e.0 += 1;
            e.2 |= !starts;
        }
    }
    let mut names: Vec<(String, usize, usize)> = counts
        .into_iter()
        .filter(|(w, (_, _, mid))| *mid && !lower.contains(&w.to_lowercase()))
        .map(|(w, (c, o, _))| (w, c, o))
        .collect();
    names.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    names.into_iter().map(|(text, count, _)| Name { text, count }).collect()
}

/// Whisper's prompt from the article: its title, then its names, within Whisper's prompt budget
/// (half its 448-token context; about 600 characters of names is safely below it).
pub fn prompt(article: &Article) -> String {
    let mut out = String::new();
    if let Some(t) = article.title() {
        out.push_str(t.trim().trim_end_matches('.'));
        out.push_str(". ");
    }
    let mut list = Vec::new();
    let mut len = 0;
    for n in names(article) {
        if len + n.text.len() > 600 {
            break;
        }
        len += n.text.len() + 2;
        list.push(n.text);
    }
    out.push_str(&list.join(", "));
    out.push('.');
    out
}

/// The corrected transcript and the list of changes.
pub struct Corrected {
    pub transcript: Transcript,
    pub corrections: Vec<Correction>,
}

/// Applies the article's wording to passages linked `verbatim` (if `wording`) and corrects
/// near-miss names elsewhere (if `fix_names`).
pub fn correct(transcript: &Transcript, article: &Article, links: &Links, wording: bool, fix_names: bool) -> Corrected {
    correct_with(transcript, article, links, wording, fix_names, &|_| true)
}

/// [`correct`], told which lower-case words are `ordinary` words of the language (a word heard
/// in lower case that only the article's names spell is given their capitals: "civilnet" for
/// "Civilnet"; "armed forces" may be any forces).
pub fn correct_with(
    transcript: &Transcript,
    article: &Article,
    links: &Links,
    wording: bool,
    fix_names: bool,
    ordinary: &dyn Fn(&str) -> bool,
) -> Corrected {
    let words: Vec<Word> = transcript.words().cloned().collect();
    // For each original word: its replacement (possibly several words, possibly none).
    let mut replaced: Vec<Option<Vec<Word>>> = vec![None; words.len()];
    // Words inside a quote taken from the article: name fixing leaves them alone.
    let mut quoted = vec![false; words.len()];
    let mut corrections = Vec::new();
    if wording {
        for p in links.passages.iter().filter(|p| p.kind == LinkKind::Verbatim) {
            let Some(block) = p.paragraph.and_then(|n| article.blocks.iter().find(|b| b.number == n)) else {
                continue;
            };
            let article_words: Vec<&str> = block.text.split_whitespace().collect();
            apply_wording(&words, &article_words, p, block.number, &mut replaced, &mut corrections);
            quoted[p.matched_words.first..p.matched_words.end].iter_mut().for_each(|q| *q = true);
        }
    }
    if fix_names {
        let free = |i: usize, n: usize, replaced: &[Option<Vec<Word>>]| {
            i + n <= words.len() && (i..i + n).all(|k| replaced[k].is_none() && !quoted[k])
        };
        // 1. Names of several words keep the article's capitals ("European court").
        let phrases = name_phrases(article);
        for i in 0..words.len() {
            for ph in &phrases {
                let n = ph.len();
                if !free(i, n, &replaced) || bare(&words[i].text) != ph[0] {
                    continue;
                }
                let same = (1..n).all(|k| bare(&words[i + k].text).eq_ignore_ascii_case(&ph[k]));
                let differs = (1..n).any(|k| bare(&words[i + k].text) != ph[k]);
                if same && differs {
                    let texts: Vec<String> = (0..n).map(|k| respell(&words[i + k].text, &ph[k])).collect();
                    replace_run(&words, i, n, &texts, (Reason::ProperNoun, None), &mut replaced, &mut corrections);
                }
            }
        }
        // 2. In a passage taken from a paragraph, an unfamiliar capitalised run where that
        // paragraph names someone the passage does not name: recognisers mangle unfamiliar names
        // past any spelling distance ("Zorahayk Savakin" for "Siranuysh Sahakyan").
        for p in links.passages.iter().filter(|p| p.kind.is_source()) {
            let Some(number) = p.paragraph else { continue };
            let Some(block) = article.blocks.iter().find(|b| b.number == number) else { continue };
            let passage_text: Vec<&str> = words[p.words.first..p.words.end].iter().map(|w| bare(&w.text)).collect();
            let block_words: Vec<&str> = block.text.split_whitespace().map(bare).collect();
            let candidates: Vec<Vec<String>> = block_names(&block.text)
                .into_iter()
                .filter(|nm| !nm.iter().any(|part| passage_text.contains(&part.as_str())))
                .collect();
            for i in p.words.first..p.words.end {
                for n in (1..=3).rev() {
                    if i + n > p.words.end || !free(i, n, &replaced) {
                        continue;
                    }
                    let run = &words[i..i + n];
                    let unfamiliar = run.iter().all(|w| {
                        let b = bare(&w.text);
                        b.chars().next().is_some_and(char::is_uppercase) && !block_words.contains(&b)
                    }) && run.iter().map(|w| w.probability).sum::<f32>() / (n as f32) < SURE;
                    if !unfamiliar || i == p.words.first {
                        continue;
                    }
                    let joined: String = run.iter().map(|w| bare(&w.text).to_lowercase()).collect();
                    let best = candidates
                        .iter()
                        .map(|nm| (similarity(&joined, &nm.concat().to_lowercase()), nm))
                        .filter(|(sim, nm)| *sim >= if nm.len() > 1 { 0.45 } else { 0.6 })
                        .max_by(|a, b| a.0.total_cmp(&b.0));
                    if let Some((_, nm)) = best {
                        let texts = name_in_place_of(nm, run);
                        replace_run(
                            &words,
                            i,
                            n,
                            &texts,
                            (Reason::ProperNoun, Some(number)),
                            &mut replaced,
                            &mut corrections,
                        );
                        break;
                    }
                }
            }
        }
        // 3. Where a passage matches its paragraph on both sides of a name and the recogniser
        // heard, unsure, something else in between ("held in every my young range" for "held
        // in Azerbaijan range"): the name. Not where it heard a name of the article (the
        // speaker may have said another) or a word of the paragraph.
        let article_names = names(article);
        let is_article_name =
            |w: &str| article_names.iter().any(|nm| nm.text.eq_ignore_ascii_case(w)) || name_phrases_has(&phrases, w);
        for p in links.passages.iter().filter(|p| p.kind.is_source()) {
            let Some(number) = p.paragraph else { continue };
            let Some(block) = article.blocks.iter().find(|b| b.number == number) else { continue };
            let article_words: Vec<&str> = block.text.split_whitespace().collect();
            let block_lower: Vec<String> = article_words.iter().map(|w| bare(w).to_lowercase()).collect();
            let in_block = block_names(&block.text);
            let heard: Vec<String> =
                words[p.words.first..p.words.end].iter().map(|w| bare(&w.text).to_lowercase()).collect();
            let pairs: Vec<(usize, usize)> =
                same_words(&heard, &block_lower).into_iter().map(|(i, j)| (p.words.first + i, j)).collect();
            for pair in pairs.windows(2) {
                let ((i0, j0), (i1, j1)) = (pair[0], pair[1]);
                if i1 <= i0 + 1 || j1 <= j0 + 1 || j1 > article_words.len() {
                    continue;
                }
                let gap: Vec<String> = article_words[j0 + 1..j1].iter().map(|w| bare(w).to_string()).collect();
                // The name alone, or the name and one word of the paragraph beside it that was
                // misheard with it ("Valery Gerasimov, discussed" heard as "may leverage her as
                // in on"): the name takes the run, the word stays unheard.
                let Some(name) = in_block.iter().find(|nm| {
                    **nm == gap
                        || (gap.len() == nm.len() + 1
                            && (gap.starts_with(nm) || gap.ends_with(nm))
                            && !is_article_name(if gap.starts_with(nm) { &gap[nm.len()] } else { &gap[0] }))
                }) else {
                    continue;
                };
                let extra = gap.len() - name.len();
                let (i, n) = (i0 + 1, i1 - i0 - 1);
                if n > 3 * name.len() + 1 + 2 * extra || !free(i, n, &replaced) {
                    continue;
                }
                let run = &words[i..i + n];
                // Unsure of every word it heard there but little ones ("may leverage her as in on
                // the" for "Valery Gerasimov": only "leverage", at 0.48).
                let content: Vec<&Word> = run.iter().filter(|w| !is_stop_word(&bare(&w.text).to_lowercase())).collect();
                let unsure = !content.is_empty() && content.iter().all(|w| w.probability < SURE);
                let heard_else = run.iter().any(|w| {
                    let b = bare(&w.text);
                    is_article_name(b) || (!is_stop_word(&b.to_lowercase()) && block_lower.contains(&b.to_lowercase()))
                });
                if !unsure || heard_else {
                    continue;
                }
                let texts = name_in_place_of(name, run);
                replace_run(&words, i, n, &texts, (Reason::ProperNoun, Some(number)), &mut replaced, &mut corrections);
            }
        }
        // 4. Near-miss spellings of the article's names anywhere else.
        let names = article_names;
        let mut i = 0;
        while i < words.len() {
            if replaced[i].is_some() || quoted[i] {
                i += 1;
                continue;
            }
            match name_fix(&words, i, &names, &replaced, &quoted, ordinary) {
                Some((n, word)) => {
                    let texts = [word.text];
                    replace_run(&words, i, n, &texts, (Reason::ProperNoun, None), &mut replaced, &mut corrections);
                    i += n;
                }
                None => i += 1,
            }
        }
    }
    corrections.sort_by_key(|c| c.start_ms);

    Corrected { transcript: rebuilt(transcript, &words, &replaced), corrections }
}

/// `transcript` with each of its words (`words`, in order) replaced where `replaced` says (by
/// several words, or none: a segment left without words goes).
pub(crate) fn rebuilt(transcript: &Transcript, words: &[Word], replaced: &[Option<Vec<Word>>]) -> Transcript {
    let mut segments = Vec::new();
    let mut k = 0;
    for s in &transcript.segments {
        let mut new_words = Vec::new();
        for _ in 0..s.words.len() {
            match &replaced[k] {
                Some(ws) => new_words.extend(ws.iter().cloned()),
                None => new_words.push(words[k].clone()),
            }
            k += 1;
        }
        let text = if new_words == s.words {
            s.text.clone()
        } else {
            new_words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ")
        };
        if new_words.is_empty() && !s.words.is_empty() {
            continue;
        }
        segments.push(Segment { text, words: new_words, ..s.clone() });
    }
    Transcript { language: transcript.language.clone(), segments }
}

/// Most rounds of [`correct_settled`]: each round can only act on passages that the one before
/// brought closer to their paragraphs; on the sample reports the second is the last that
/// changes anything.
pub const CORRECTION_ROUNDS: usize = 3;

/// [`correct`], then links again, and again corrects the passages that the corrections brought
/// close enough to their paragraphs to be linked verbatim only then ("The chief on the general
/// staff …" once "Valery Gerasimov" is back), until a round changes nothing or
/// [`CORRECTION_ROUNDS`] have run: every passage the final links call verbatim has had the
/// article's wording. Returns the corrected transcript (made safe for the writers: the article's
/// words are input like any other) with every round's corrections, and its links. `ordinary`
/// as in [`correct_with`].
pub fn correct_settled(
    transcript: &Transcript,
    article: &Article,
    links: Links,
    wording: bool,
    fix_names: bool,
    ordinary: &dyn Fn(&str) -> bool,
) -> (Corrected, Links) {
    let mut done = Corrected { transcript: transcript.clone(), corrections: Vec::new() };
    let mut links = links;
    for _ in 0..CORRECTION_ROUNDS {
        let mut c = correct_with(&done.transcript, article, &links, wording, fix_names, ordinary);
        c.transcript.make_safe();
        links = super::link::link(&c.transcript, article);
        done.transcript = c.transcript;
        let settled = c.corrections.is_empty();
        done.corrections.extend(c.corrections);
        if settled {
            break;
        }
    }
    done.corrections.sort_by_key(|c| c.start_ms);
    (done, links)
}

/// Replaces words `i..i + n` by `texts`, spread over their time and said by the run's first
/// speaker, and records why (and from which paragraph).
pub(crate) fn replace_run(
    words: &[Word],
    i: usize,
    n: usize,
    texts: &[String],
    (reason, paragraph): (Reason, Option<usize>),
    replaced: &mut [Option<Vec<Word>>],
    corrections: &mut Vec<Correction>,
) {
    let run = &words[i..i + n];
    let (start, end) = (run[0].start_ms, run[n - 1].end_ms);
    let probability = run.iter().map(|w| w.probability).fold(1.0, f32::min);
    corrections.push(Correction {
        before: run.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" "),
        after: texts.join(" "),
        start_ms: start,
        end_ms: end,
        reason,
        paragraph,
        edit: None,
        heard: None,
    });
    let mut said = spread(texts, start, end, probability);
    said.iter_mut().for_each(|w| w.speaker = run[0].speaker);
    replaced[i] = Some(said);
    for r in &mut replaced[i + 1..i + n] {
        *r = Some(Vec::new());
    }
}

/// The words of `name` in place of the heard `run`: the run's opening punctuation before the
/// first, its closing punctuation after the last.
pub(crate) fn name_in_place_of(name: &[String], run: &[Word]) -> Vec<String> {
    let mut texts = name.to_vec();
    if let (Some(last), Some(heard)) = (texts.last_mut(), run.last()) {
        *last = respell(&heard.text, last);
    }
    if let (Some(first), Some(heard)) = (texts.first_mut(), run.first()) {
        let lead: String = heard.text.chars().take_while(|c| !c.is_alphanumeric()).collect();
        *first = format!("{lead}{first}");
    }
    texts
}

/// `name` in place of the bare word of `word`, keeping its punctuation and possessive.
fn respell(word: &str, name: &str) -> String {
    let b = bare(word);
    match word.find(b) {
        Some(at) if !b.is_empty() => format!("{}{name}{}", &word[..at], &word[at + b.len()..]),
        _ => name.to_string(),
    }
}

/// Most cells (passage words × paragraph words) [`same_words`] fills: a passage of 100 words
/// against a paragraph of 20,000. Past that it finds nothing (names are left as heard).
const MAX_ALIGNED_CELLS: usize = 2_000_000;

/// The longest run of equal words `a` and `b` share in order (their longest common
/// subsequence), as index pairs; none when the table would exceed [`MAX_ALIGNED_CELLS`].
fn same_words(a: &[String], b: &[String]) -> Vec<(usize, usize)> {
    let (n, m) = (a.len(), b.len());
    if (n + 1).saturating_mul(m + 1) > MAX_ALIGNED_CELLS {
        return Vec::new();
    }
    // l[i][j]: length of the longest common subsequence of a[i..] and b[j..].
    let mut l = vec![vec![0u16; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            l[i][j] = if !a[i].is_empty() && a[i] == b[j] { l[i + 1][j + 1] + 1 } else { l[i + 1][j].max(l[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n && j < m {
        if !a[i].is_empty() && a[i] == b[j] {
            out.push((i, j));
            i += 1;
            j += 1;
        } else if l[i + 1][j] >= l[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Whether `w` is a word of one of the article's names of several words.
fn name_phrases_has(phrases: &[Vec<String>], w: &str) -> bool {
    phrases.iter().flatten().any(|part| part.eq_ignore_ascii_case(w))
}

/// Runs of two or more capitalised words in the article ("European Court", "Valery Gerasimov").
pub fn name_phrases(article: &Article) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for b in article.body() {
        for ph in block_names(&b.text) {
            if ph.len() > 1 && !out.contains(&ph) {
                out.push(ph);
            }
        }
    }
    out
}

/// The names in one block of text: runs of capitalised words, not counting a sentence's first
/// word when it is a common one ("The", "In").
pub(crate) fn block_names(text: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut run: Vec<String> = Vec::new();
    let flush = |run: &mut Vec<String>, out: &mut Vec<Vec<String>>| {
        if !run.is_empty() && !out.contains(run) {
            out.push(std::mem::take(run));
        }
        run.clear();
    };
    for raw in text.split_whitespace() {
        let w = bare(raw);
        let capital = w.chars().next().is_some_and(char::is_uppercase)
            && w.chars().count() >= 3
            && w.chars().all(|c| c.is_alphabetic() || c == '-')
            && !is_stop_word(&w.to_lowercase());
        if capital && !raw.starts_with(['(', '[']) {
            if raw.starts_with(QUOTES) {
                flush(&mut run, &mut out);
            }
            run.push(w.to_string());
            if raw.trim_end_matches(QUOTES).ends_with(|c: char| !c.is_alphanumeric()) {
                flush(&mut run, &mut out);
            }
        } else {
            flush(&mut run, &mut out);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Whether an article word is an editor's insertion that is never spoken: "(POW)", "[Armenian]".
fn is_unspoken(word: &str) -> bool {
    word.starts_with(['(', '[']) || word.ends_with([')', ']'])
}

/// The article word as subtitle text: without the article's quotation marks.
fn spoken_form(word: &str) -> String {
    word.trim_start_matches(QUOTES).trim_end_matches(['"', '“', '”', '«', '»']).to_string()
}

/// Replaces the words of one verbatim passage with the article's, keeping times: words aligned
/// to each other share times; a run of recognised words between two aligned pairs gives its
/// time to the article's words in that place.
fn apply_wording(
    words: &[Word],
    article: &[&str],
    passage: &super::link::Passage,
    paragraph: usize,
    replaced: &mut [Option<Vec<Word>>],
    corrections: &mut Vec<Correction>,
) {
    let pairs = &passage.pairs;
    if pairs.is_empty() {
        return;
    }
    // Groups of aligned words: (transcript range, article range), in order, covering the matched
    // part; runs between two groups become groups of their own when both sides have words.
    let mut groups: Vec<((usize, usize), (usize, usize))> = Vec::new();
    for &(i, j) in pairs {
        match groups.last_mut() {
            Some(((_, te), (_, ae))) if i < *te || j < *ae => {
                *te = (*te).max(i + 1);
                *ae = (*ae).max(j + 1);
            }
            Some(((_, te), (_, ae))) if i == *te && j == *ae => {
                groups.push(((i, i + 1), (j, j + 1)));
            }
            Some(((_, te), (_, ae))) => {
                let gap = ((*te, i), (*ae, j));
                groups.push(gap);
                groups.push(((i, i + 1), (j, j + 1)));
            }
            None => groups.push(((i, i + 1), (j, j + 1))),
        }
    }
    // Unmatched recognised words at the passage's edges stand for the article's words there,
    // when the article's sentence starts or ends within that many words.
    let (first_t, last_t) = (groups[0].0.0, groups[groups.len() - 1].0.1);
    let (first_a, last_a) = (groups[0].1.0, groups[groups.len() - 1].1.1);
    let lead = first_t - passage.words.first;
    if lead > 0 {
        // Words from the start of the article's sentence (or of the quotation) to the match.
        let mut start = 0;
        for j in (0..first_a).rev() {
            if ends_sentence(article[j]) || article[j].ends_with(':') {
                break;
            }
            start += 1;
            if article[j].starts_with(['“', '"', '‘', '«']) {
                break;
            }
        }
        if start > 0 && start <= lead + MAX_MISSED && lead <= start + 2 {
            groups.insert(0, ((passage.words.first, first_t), (first_a - start, first_a)));
        }
    }
    let trail = passage.words.end - last_t;
    if trail > 0 {
        let n = (last_a..article.len()).take_while(|&j| !ends_sentence(article[j - 1])).count();
        if n > 0 && n <= trail + MAX_MISSED && trail <= n + 2 {
            groups.push(((last_t, passage.words.end), (last_a, last_a + n)));
        }
    }

    let sentence_start = passage.words.first == 0 || ends_sentence(&words[passage.words.first - 1].text);
    let last_word = &words[passage.words.end - 1].text;
    let final_punct: Option<char> = last_word.trim_end_matches(QUOTES).chars().last().filter(|c| ".?!".contains(*c));
    for ((ts, te), (a_s, a_e)) in groups {
        let spoken: Vec<&str> = article[a_s..a_e].iter().copied().filter(|w| ts == te || !is_unspoken(w)).collect();
        if ts == te {
            // Article words the recogniser did not hear: short runs are taken as missed, longer
            // ones as skipped by the speaker; editors' insertions are never spoken.
            if spoken.len() > MAX_MISSED || spoken.iter().any(|w| is_unspoken(w)) {
                continue;
            }
            let Some(prev) = ts.checked_sub(1) else { continue };
            // They share the previous word's time.
            let host = replaced[prev].clone().unwrap_or_else(|| vec![words[prev].clone()]);
            let mut texts: Vec<String> = host.iter().map(|w| w.text.clone()).collect();
            texts.extend(spoken.iter().map(|w| spoken_form(w)));
            replace_run(words, prev, 1, &texts, (Reason::ArticleWording, Some(paragraph)), replaced, corrections);
            continue;
        }
        let mut texts: Vec<String> = spoken.iter().map(|w| spoken_form(w)).collect();
        if ts == passage.words.first
            && sentence_start
            && let Some(first) = texts.first_mut()
        {
            *first = capitalise(first);
        }
        if te == passage.words.end
            && let (Some(p), Some(last)) = (final_punct, texts.last_mut())
        {
            let trimmed = last.trim_end_matches([',', ';', ':', '.', '?', '!']).to_string();
            *last = format!("{trimmed}{p}");
        }
        let before: Vec<&str> = words[ts..te].iter().map(|w| w.text.as_str()).collect();
        if before == texts.iter().map(String::as_str).collect::<Vec<_>>() {
            continue;
        }
        replace_run(words, ts, te - ts, &texts, (Reason::ArticleWording, Some(paragraph)), replaced, corrections);
    }
}

fn capitalise(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A near-miss of an article name at word `i` (alone, or run together with the next one or
/// two words, as recognisers split unfamiliar names): how many words it replaces and the new word.
fn name_fix(
    words: &[Word],
    i: usize,
    names: &[Name],
    replaced: &[Option<Vec<Word>>],
    quoted: &[bool],
    ordinary: &dyn Fn(&str) -> bool,
) -> Option<(usize, Word)> {
    let mut best: Option<(f64, usize, &Name)> = None;
    for n in 1..=3usize {
        if i + n > words.len() || replaced[i..i + n].iter().any(Option::is_some) || quoted[i..i + n].contains(&true) {
            break;
        }
        // A name run together from pieces has no small words in it ("in November" is two words).
        if n > 1 && words[i..i + n].iter().any(|w| is_stop_word(&bare(&w.text).to_lowercase())) {
            break;
        }
        // Only the last word of a run may carry punctuation.
        if words[i..i + n - 1].iter().any(|w| bare(&w.text) != w.text.trim_matches(|c: char| !c.is_alphanumeric())) {
            break;
        }
        let joined: String = words[i..i + n].iter().map(|w| bare(&w.text)).collect::<Vec<_>>().join("");
        let cand = joined.replace('-', "");
        if cand.chars().count() < 4 || !cand.chars().all(char::is_alphabetic) {
            continue;
        }
        let lower = cand.to_lowercase();
        // Case alone is not corrected where the word is an ordinary one ("armed forces" may be
        // any forces); a word only a name of the article spells takes its capitals.
        if n == 1 && is_stop_word(&lower) {
            return None;
        }
        if n == 1
            && let Some(name) = names.iter().find(|nm| nm.text.to_lowercase() == lower)
        {
            if cand == name.text || ordinary(&lower) {
                return None;
            }
            best = Some((1.0, 1, name));
            break;
        }
        // The recogniser was sure of these words: only a near-identical spelling is changed
        // ("remember" is not a garbled "December").
        let sure = words[i..i + n].iter().all(|w| w.probability >= SURE);
        for name in names {
            let target = name.text.to_lowercase();
            if target.chars().count() < 4 {
                continue;
            }
            let sim = similarity(&lower, &target);
            let sounds = sound_key(&lower) == sound_key(&target);
            let good = if sure { sim >= 0.9 } else { sim >= 0.75 || (sounds && sim >= 0.5) };
            if good && best.is_none_or(|b| sim > b.0) {
                best = Some((sim, n, name));
            }
        }
    }
    let (_, n, name) = best?;
    let first = &words[i];
    let last = &words[i + n - 1];
    // Keep the recognised word's possessive and punctuation around the corrected core.
    let last_core = bare(&last.text);
    let tail_start = last.text.rfind(last_core).map_or(last.text.len(), |p| p + last_core.len());
    let tail = &last.text[tail_start..];
    let head_end = first.text.find(|c: char| c.is_alphanumeric()).unwrap_or(0);
    let head = &first.text[..head_end];
    let text = format!("{head}{}{tail}", name.text);
    if words[i..i + n].iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ") == text {
        return None;
    }
    Some((
        n,
        Word {
            text,
            start_ms: first.start_ms,
            end_ms: last.end_ms,
            probability: words[i..i + n].iter().map(|w| w.probability).fold(1.0, f32::min),
            speaker: first.speaker,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::{link, parse_text};

    fn transcript(text: &str) -> Transcript {
        // The recogniser is unsure of capitalised words (names), sure of the rest.
        crate::asr::transcript::spoken(
            text,
            |w| if w.chars().next().is_some_and(char::is_uppercase) { 0.4 } else { 0.9 },
        )
    }

    const ARTICLE: &str = "Returning prisoners\n\n\
        “As a military man, I understand. I remember the first flight, when we left Baku, and the faces of those servicemen when they flew to Yerevan, to the Erebuni airfield. Tearful, they could not believe it,” said Muradov.\n\n\
        On December 4, 2021, Azerbaijan returned ten Armenian prisoners of war (POW) captured in November.\n\n\
        The lawyer Siranuysh Sahakyan represents the prisoners. Sahakyan spoke to Eurasianet.\n";

    #[test]
    fn names_are_capitalised_mid_sentence_words() {
        let article = parse_text(ARTICLE.as_bytes()).unwrap();
        let n: Vec<String> = names(&article).into_iter().map(|n| n.text).collect();
        for want in ["Sahakyan", "Yerevan", "Erebuni", "Baku", "Muradov", "Eurasianet", "Siranuysh", "December"] {
            assert!(n.contains(&want.to_string()), "{want} missing from {n:?}");
        }
        for not in ["The", "Tearful", "Returning", "As"] {
            assert!(!n.contains(&not.to_string()), "{not} in {n:?}");
        }
        assert_eq!(n[0], "Sahakyan", "most frequent first");
        let p = prompt(&article);
        assert!(p.starts_with("Returning prisoners. Sahakyan, "), "{p}");
    }

    #[test]
    fn verbatim_passages_take_the_article_wording_with_times() {
        let article = parse_text(ARTICLE.as_bytes()).unwrap();
        let t = transcript(
            "I remember the first flight when we left Bakku and the faces of those service men when they flew to Yerevan to the Airbooney airfield.",
        );
        let links = link(&t, &article);
        assert_eq!(links.passages[0].kind, LinkKind::Verbatim);
        let c = correct(&t, &article, &links, true, false);
        assert_eq!(
            c.transcript.text(),
            "I remember the first flight, when we left Baku, and the faces of those servicemen when they flew to Yerevan, to the Erebuni airfield."
        );
        assert!(c.corrections.iter().all(|c| c.reason == Reason::ArticleWording && c.paragraph == Some(2)));
        assert!(c.corrections.iter().any(|c| c.before == "Airbooney" && c.after == "Erebuni"), "{:?}", c.corrections);
        // Times stay in order and inside the original span.
        let w: Vec<&Word> = c.transcript.words().collect();
        assert!(w.windows(2).all(|p| p[0].end_ms <= p[1].start_ms + 1 && p[0].start_ms <= p[1].start_ms));
        assert_eq!(w[0].start_ms, 0);
        assert_eq!(w.last().unwrap().end_ms, t.segments[0].words.last().unwrap().end_ms);
    }

    #[test]
    fn unspoken_parentheses_are_not_inserted() {
        let article = parse_text(ARTICLE.as_bytes()).unwrap();
        let t =
            transcript("On December 4th 2021 Azerbaijan returned 10 Armenian prisoners of war captured in November.");
        let links = link(&t, &article);
        let c = correct(&t, &article, &links, true, false);
        assert_eq!(
            c.transcript.text(),
            "On December 4, 2021, Azerbaijan returned ten Armenian prisoners of war captured in November."
        );
    }

    #[test]
    fn near_miss_names_are_corrected_elsewhere() {
        let article = parse_text(ARTICLE.as_bytes()).unwrap();
        let t = transcript(
            "The lawyer Siranush Sahak Ian says Sahakian's case is strong, not Ever-Van, in December, remember.",
        );
        let links = link(&t, &article);
        let c = correct(&t, &article, &links, false, true);
        assert_eq!(
            c.transcript.text(),
            "The lawyer Siranuysh Sahakyan says Sahakyan's case is strong, not Ever-Van, in December, remember."
        );
        assert_eq!(c.corrections.len(), 3, "{:?}", c.corrections);
        assert!(c.corrections.iter().all(|c| c.reason == Reason::ProperNoun));
        assert_eq!(c.corrections[1].before, "Sahak Ian");
    }

    #[test]
    fn a_word_only_the_articles_names_spell_takes_their_capitals() {
        let article = parse_text(
            "Title\n\nA report by Civilnet on the Russian Armed Forces and the talks.\n\nCivilnet spoke to the families.\n"
                .as_bytes(),
        )
        .unwrap();
        let t = transcript("This is a civilnet report: the armed forces say civilnet's reporters left.");
        let links = link(&t, &article);
        // Told which words are ordinary ones (the decoder's tokenizer says one token each).
        let ordinary = |w: &str| ["armed", "forces", "report"].contains(&w);
        let c = correct_with(&t, &article, &links, false, true, &ordinary);
        assert_eq!(c.transcript.text(), "This is a Civilnet report: the armed forces say Civilnet's reporters left.");
        assert_eq!(c.corrections.len(), 2, "{:?}", c.corrections);
        assert!(c.corrections.iter().all(|c| c.reason == Reason::ProperNoun && c.before.starts_with("civilnet")));
        // Not told (no tokenizer at hand), case alone is never corrected.
        let c = correct(&t, &article, &links, false, true);
        assert_eq!(c.transcript.text(), t.text(), "{:?}", c.corrections);
    }

    #[test]
    fn multi_word_names_keep_their_capitals_and_mangled_names_are_found_in_context() {
        let article = parse_text(
            "Title\n\nIn an interview, Siranuysh Sahakyan, a human rights activist at the European Court of Human Rights, said the return of prisoners is not subject to negotiation.\n".as_bytes(),
        )
        .unwrap();
        assert_eq!(
            name_phrases(&article),
            vec![
                vec!["Siranuysh".to_string(), "Sahakyan".into()],
                vec!["European".into(), "Court".into()],
                vec!["Human".into(), "Rights".into()]
            ]
        );
        let t = transcript(
            "The human rights lawyer Zorahayk Savakin, who represents prisoners at the European court, says their return is not subject to negotiation.",
        );
        let links = link(&t, &article);
        assert!(links.passages[0].kind.is_source(), "{:?}", links.passages[0]);
        let c = correct(&t, &article, &links, false, true);
        assert_eq!(
            c.transcript.text(),
            "The human rights lawyer Siranuysh Sahakyan, who represents prisoners at the European Court, says their return is not subject to negotiation."
        );
        // Without the link there is no context: the mangled name stays.
        let unrelated =
            parse_text(b"Title\n\nSiranuysh Sahakyan spoke about the weather in the mountains yesterday.\n").unwrap();
        let t2 = transcript("The lawyer Zorahayk Savakin says the return of prisoners cannot wait.");
        let c = correct(&t2, &unrelated, &link(&t2, &unrelated), false, true);
        assert!(c.transcript.text().contains("Zorahayk Savakin"), "{}", c.transcript.text());
    }

    #[test]
    fn a_name_between_two_words_of_its_paragraph_replaces_what_was_heard_unsure() {
        let article = parse_text(
            "Title\n\nThe Chief of the General Staff of the Russian Armed Forces, Valery Gerasimov, discussed the issue on December 9, saying that the military is now focused on repatriating the prisoners.\n\n“We are waiting,” said Muradov.\n".as_bytes(),
        )
        .unwrap();
        let heard = "The chief on the general staff on the Russian armed forces, may leverage her as in on the discussed the issue on December 9.";
        let unsure_of = |unsure: &'static [&'static str]| {
            crate::asr::transcript::spoken(heard, move |w| if unsure.contains(&bare(w)) { 0.48 } else { 0.9 })
        };
        let t = unsure_of(&["leverage"]);
        let links = link(&t, &article);
        assert!(links.passages[0].kind.is_source(), "{:?}", links.passages[0]);
        let c = correct(&t, &article, &links, false, true);
        assert!(
            c.transcript.text().contains("Forces, Valery Gerasimov discussed the issue"),
            "{}",
            c.transcript.text()
        );
        let fix = c.corrections.iter().find(|c| c.after == "Valery Gerasimov").expect("the correction is recorded");
        assert_eq!((fix.before.as_str(), fix.paragraph), ("may leverage her as in on the", Some(2)));
        // Sure of what it heard there: nothing changes.
        let sure = unsure_of(&[]);
        let c = correct(&sure, &article, &link(&sure, &article), false, true);
        assert!(c.corrections.iter().all(|c| !c.after.contains("Gerasimov")), "{:?}", c.corrections);
        // Another of the article's names heard there: the speaker may have said it.
        let other = crate::asr::transcript::spoken(
            "The chief on the general staff on the Russian armed forces, Muradov discussed the issue on December 9.",
            |_| 0.4,
        );
        let c = correct(&other, &article, &link(&other, &article), false, true);
        assert!(c.transcript.text().contains("Muradov discussed"), "{}", c.transcript.text());
    }

    #[test]
    fn a_name_misheard_with_the_word_beside_it_is_put_back_without_that_word() {
        let article = parse_text(
            "Title\n\nThe Chief of the General Staff of the Russian Armed Forces, Valery Gerasimov, discussed the issue on December 9, saying that the military is now focused on repatriating the prisoners.\n".as_bytes(),
        )
        .unwrap();
        let heard = "The chief on the general staff on the Russian armed forces, may leverage her as in on the first little on December 9.";
        let t = crate::asr::transcript::spoken(heard, |w| if bare(w) == "leverage" { 0.48 } else { 0.9 });
        let c = correct(&t, &article, &link(&t, &article), false, true);
        let fix = c.corrections.iter().find(|c| c.after == "Valery Gerasimov").expect("the name is put back");
        assert_eq!(fix.before, "may leverage her as in on", "{:?}", c.corrections);
        // "discussed" is not written where "first" was heard: outside a verbatim passage, only names.
        assert!(c.transcript.text().contains("Gerasimov the first little"), "{}", c.transcript.text());
        // Sure of every word it heard there: nothing.
        let sure = crate::asr::transcript::spoken(heard, |_| 0.9);
        let c = correct(&sure, &article, &link(&sure, &article), false, true);
        assert!(c.corrections.iter().all(|c| !c.after.contains("Gerasimov")), "{:?}", c.corrections);
    }

    #[test]
    fn a_passage_linked_verbatim_once_its_name_is_back_takes_the_article_wording() {
        let article = parse_text(
            "Title\n\nThe Chief of the General Staff of the Russian Armed Forces, Valery Gerasimov, discussed the issue on December 9, saying that the military is now focused on repatriating the prisoners.\n\n“We are waiting,” said Muradov.\n".as_bytes(),
        )
        .unwrap();
        let t = crate::asr::transcript::spoken(
            "The chief on the general staff on the Russian armed forces, may leverage her as in on the discussed little shoe on December 9.",
            |w| if bare(w) == "leverage" { 0.48 } else { 0.9 },
        );
        let links = link(&t, &article);
        assert_ne!(links.passages[0].kind, LinkKind::Verbatim, "{:?}", links.passages[0]);
        // One round puts the name back, and no more.
        let once = correct(&t, &article, &links, true, true);
        assert!(once.transcript.text().contains("chief on the general staff"), "{}", once.transcript.text());
        let (c, after) = correct_settled(&t, &article, links, true, true, &|_| true);
        assert_eq!(after.passages[0].kind, LinkKind::Verbatim, "{:?}", after.passages[0]);
        assert!(
            c.transcript
                .text()
                .contains("The Chief of the General Staff of the Russian Armed Forces, Valery Gerasimov, discussed the issue on December 9."),
            "{}",
            c.transcript.text()
        );
        // Every change of every round is listed once, in time order.
        assert!(c.corrections.iter().any(|c| c.after == "Valery Gerasimov"), "{:?}", c.corrections);
        assert!(c.corrections.iter().any(|c| c.reason == Reason::ArticleWording), "{:?}", c.corrections);
        assert!(c.corrections.windows(2).all(|w| w[0].start_ms <= w[1].start_ms));
        // Settled: another pass changes nothing.
        let again = correct(&c.transcript, &article, &after, true, true);
        assert!(again.corrections.is_empty(), "{:?}", again.corrections);
    }

    #[test]
    fn words_in_common_are_found_in_order_within_a_bound() {
        let w = |t: &str| t.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(
            same_words(&w("held in every my young range"), &w("still held in Azerbaijan range from")),
            [(0, 1), (1, 2), (5, 4)]
        );
        assert!(same_words(&w(""), &w("a b")).is_empty());
        // A paragraph too long to align against: nothing, at once.
        let long: Vec<String> = (0..MAX_ALIGNED_CELLS).map(|i| format!("w{i}")).collect();
        assert!(same_words(&w("w1 w2"), &long).is_empty());
    }
}
