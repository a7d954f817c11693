//! Names from the article: a speaker whose passage is linked verbatim to a quote the article
//! attributes to a named person takes that name, as the article spells it, for all their turns.
//! Nothing else names anyone: a speaker whose quotes the article gives to different people (or
//! to a named person and to someone it leaves unnamed) stays "Speaker N", and a name two speakers
//! could claim goes to the one who speaks more of that person's quotes.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use super::{NameSource, Speaker};
use crate::article::attribution::Attribution;
use crate::article::link::{LinkKind, Passage};
use crate::asr::Word;

/// Share of a passage's aligned article words that must lie inside one quote.
const INSIDE_QUOTE: f64 = 0.75;
/// Fewest aligned words for a passage to speak for a quote.
const MIN_PAIRS: usize = 3;
/// Share of a passage's words that must be one speaker's.
const ONE_SPEAKER: f64 = 0.8;

/// One passage's evidence: this speaker spoke (a stretch of) this attributed quote.
struct Claim<'a> {
    speaker: u32,
    quote: &'a Attribution,
    words: usize,
}

/// Names `speakers` from the article's `quotes` through the verbatim `passages` (with their
/// word pairs) over the transcript's `words` (with their speakers). An editor's names are kept.
pub fn name_from_article(speakers: &mut [Speaker], words: &[Word], passages: &[Passage], quotes: &[Attribution]) {
    // Linking again (another article, corrected words) names afresh.
    for sp in speakers.iter_mut() {
        if sp.name_source.as_ref().is_some_and(|n| n.kind == "article") {
            sp.name = None;
            sp.name_source = None;
        }
    }
    let mut claims: Vec<Claim> = Vec::new();
    for p in passages.iter().filter(|p| p.kind == LinkKind::Verbatim) {
        let (Some(block), true) = (p.paragraph, p.pairs.len() >= MIN_PAIRS) else { continue };
        let Some(speaker) = speaker_of(&words[p.words.first.min(words.len())..p.words.end.min(words.len())]) else {
            continue;
        };
        for q in quotes.iter().filter(|q| q.block == block) {
            let inside = p.pairs.iter().filter(|(_, a)| (q.words.first..q.words.end).contains(a)).count();
            if inside as f64 >= INSIDE_QUOTE * p.pairs.len() as f64 {
                claims.push(Claim { speaker, quote: q, words: inside });
            }
        }
    }
    // Per speaker: the one name all their quotes agree on (an unnamed attribution disagrees).
    let mut by_speaker: BTreeMap<u32, Vec<&Claim>> = BTreeMap::new();
    for c in &claims {
        by_speaker.entry(c.speaker).or_default().push(c);
    }
    let mut chosen: BTreeMap<u32, (&Attribution, usize)> = BTreeMap::new();
    for (speaker, cs) in by_speaker {
        let first = cs[0].quote;
        if first.name.is_some() && cs.iter().all(|c| c.quote.name == first.name) {
            chosen.insert(speaker, (first, cs.iter().map(|c| c.words).sum()));
        }
    }
    // A name claimed by two speakers: the one who speaks more of the quotes.
    let winners: Vec<(u32, &Attribution)> = chosen
        .iter()
        .filter(|(s, (q, n))| {
            !chosen.iter().any(|(t, (r, m))| t != *s && r.name == q.name && (m > n || (m == n && t < *s)))
        })
        .map(|(s, (q, _))| (*s, *q))
        .collect();
    for (id, q) in winners {
        let Some(sp) = speakers.iter_mut().find(|s| s.id == id) else { continue };
        // An editor's name wins, and no two speakers share a name.
        if sp.name.is_some() {
            continue;
        }
        sp.name = q.name.clone();
        sp.name_source =
            Some(NameSource { kind: "article".into(), paragraph: Some(q.block), pattern: Some(q.pattern.to_string()) });
    }
    // An editor may have given the same name to someone else: then the article's naming yields.
    let editor: Vec<String> = speakers
        .iter()
        .filter(|s| s.name_source.as_ref().is_some_and(|n| n.kind == "editor"))
        .filter_map(|s| s.name.clone())
        .collect();
    for sp in speakers.iter_mut() {
        if sp.name_source.as_ref().is_some_and(|n| n.kind == "article")
            && sp.name.as_ref().is_some_and(|n| editor.contains(n))
        {
            sp.name = None;
            sp.name_source = None;
        }
    }
}

/// The speaker of most of `words`, if they speak at least [`ONE_SPEAKER`] of them.
fn speaker_of(words: &[Word]) -> Option<u32> {
    speaker_with_share(words, ONE_SPEAKER)
}

/// The speaker of a stretch of words (a passage, a search hit): whoever speaks most of them.
pub fn main_speaker<'a>(words: impl IntoIterator<Item = &'a Word>) -> Option<u32> {
    speaker_with_share(words, 0.0)
}

fn speaker_with_share<'a>(words: impl IntoIterator<Item = &'a Word>, share: f64) -> Option<u32> {
    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    let mut total = 0;
    for w in words {
        total += 1;
        if let Some(s) = w.speaker {
            *counts.entry(s).or_default() += 1;
        }
    }
    let (&s, &n) = counts.iter().max_by_key(|(s, n)| (**n, std::cmp::Reverse(**s)))?;
    (n as f64 >= share * total as f64).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::link::WordSpan;

    fn quote(block: usize, first: usize, end: usize, name: Option<&str>) -> Attribution {
        Attribution { block, words: WordSpan { first, end }, name: name.map(String::from), pattern: "said X" }
    }

    /// Transcript words 0..n, spoken by `who[i]`.
    fn words(who: &[u32]) -> Vec<Word> {
        who.iter()
            .enumerate()
            .map(|(i, &s)| Word {
                text: format!("w{i}"),
                start_ms: i as u64 * 300,
                end_ms: i as u64 * 300 + 250,
                probability: 0.9,
                speaker: Some(s),
            })
            .collect()
    }

    /// A verbatim passage over transcript words `first..end`, aligned to paragraph words from `at`.
    fn passage(block: usize, first: usize, end: usize, at: usize) -> Passage {
        Passage {
            start_ms: first as u64 * 300,
            end_ms: end as u64 * 300,
            words: WordSpan { first, end },
            text: String::new(),
            paragraph: Some(block),
            kind: LinkKind::Verbatim,
            score: 1.0,
            matched_words: WordSpan { first, end },
            article_words: None,
            article_text: None,
            pairs: (first..end).map(|i| (i, at + i - first)).collect(),
        }
    }

    fn speakers(n: u32) -> Vec<Speaker> {
        (1..=n).map(|id| Speaker { id, name: None, name_source: None, speech_ms: 1000 }).collect()
    }

    #[test]
    fn a_quoted_speaker_is_named_and_the_others_stay_anonymous() {
        let ws = words(&[1, 1, 1, 1, 2, 2, 2, 2, 2, 1, 1, 1]);
        let quotes = [quote(6, 10, 20, Some("Rustam Muradov")), quote(9, 0, 8, None)];
        let mut sp = speakers(2);
        name_from_article(&mut sp, &ws, &[passage(6, 4, 9, 11), passage(9, 9, 12, 2)], &quotes);
        assert_eq!(sp[1].name.as_deref(), Some("Rustam Muradov"));
        let src = sp[1].name_source.as_ref().unwrap();
        assert_eq!((src.kind.as_str(), src.paragraph, src.pattern.as_deref()), ("article", Some(6), Some("said X")));
        // Speaker 1 spoke the unnamed quote: no name.
        assert_eq!(sp[0].name, None);
    }

    #[test]
    fn disagreement_mixed_speakers_and_editors_leave_names_alone() {
        let ws = words(&[2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1]);
        let a = [quote(6, 0, 10, Some("Rustam Muradov")), quote(8, 0, 10, Some("Valery Gerasimov"))];
        // Speaker 2 speaks two people's quotes: neither name.
        let mut sp = speakers(2);
        name_from_article(&mut sp, &ws, &[passage(6, 0, 4, 0), passage(8, 4, 8, 0)], &a);
        assert!(sp.iter().all(|s| s.name.is_none()), "{sp:?}");
        // A named quote and an unnamed one: no name either.
        let b = [quote(6, 0, 10, Some("Rustam Muradov")), quote(8, 0, 10, None)];
        name_from_article(&mut sp, &ws, &[passage(6, 0, 4, 0), passage(8, 4, 8, 0)], &b);
        assert!(sp.iter().all(|s| s.name.is_none()), "{sp:?}");
        // A passage spoken half by each speaker names no one.
        let mixed = words(&[1, 2, 1, 2, 1, 2, 1, 2]);
        name_from_article(&mut sp, &mixed, &[passage(6, 0, 8, 0)], &a);
        assert!(sp.iter().all(|s| s.name.is_none()), "{sp:?}");
        // Words aligned outside the quote (the narrator paraphrasing around it) name no one.
        name_from_article(&mut sp, &ws, &[passage(6, 0, 8, 8)], &a);
        assert!(sp.iter().all(|s| s.name.is_none()), "{sp:?}");
        // An editor's name stays, and the article does not give it to a second speaker.
        let mut sp = speakers(2);
        sp[0].name = Some("Rustam Muradov".into());
        sp[0].name_source = Some(NameSource { kind: "editor".into(), paragraph: None, pattern: None });
        name_from_article(&mut sp, &ws, &[passage(6, 0, 4, 0)], &a);
        assert_eq!(sp[0].name.as_deref(), Some("Rustam Muradov"));
        assert_eq!(sp[1].name, None, "{sp:?}");
    }

    #[test]
    fn one_name_two_speakers_goes_to_the_one_who_speaks_more_of_it() {
        let ws = words(&[1, 1, 1, 2, 2, 2, 2, 2, 2]);
        let a = [quote(6, 0, 20, Some("Rustam Muradov"))];
        let mut sp = speakers(2);
        name_from_article(&mut sp, &ws, &[passage(6, 0, 3, 0), passage(6, 3, 9, 3)], &a);
        assert_eq!((sp[0].name.as_deref(), sp[1].name.as_deref()), (None, Some("Rustam Muradov")));
    }
}
