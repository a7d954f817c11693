//! The article's rare names where the recogniser heard something else and no paragraph anchors
//! the passage ("held in every my young range" for "held in Azerbaijan"; "The analyst, man, I'm
//! in Pompa City on Biles" for "The analyst Benyamin Poghosyan"): the decoder itself is asked.
//! Over the audio of each doubtful stretch it says the heard text again, and the log-probability
//! it gives each name's first token where the stretch begins picks the names worth trying; a
//! name replaces the stretch only where the decoder finds the text with it clearly likelier
//! than what it first heard ([`MARGIN`]). Spelling is never the judge: the heard words rarely
//! look like the name, and wrong names often look closer.
#![forbid(unsafe_code)]

use super::Article;
use super::wording::{block_names, name_in_place_of, names, rebuilt, replace_run};
use crate::align::Hearing;
use crate::asr::{TranscribeError, Transcript, Word};
use crate::correction::{Correction, Heard, Reason};
use crate::media::resample::TARGET_RATE;
use crate::text::{bare, is_stop_word};
use crate::time::{Ms, ms_to_samples};

/// A word the recogniser gave less than this probability is doubtful; a stretch to ask about
/// holds at least one.
const DOUBTFUL: f32 = 0.5;
/// Words under this probability (and little words) extend a doubtful stretch.
const UNSURE: f32 = 0.75;
/// Longest stretch asked about, in words.
const MAX_STRETCH_WORDS: usize = 8;
/// Doubtful little words before a stretch where a name may begin.
const LEAD_WORDS: usize = 2;
/// Most stretches asked about in one report (the least sure first): stretches near each other
/// share a decoder pass over their audio, each name tried costs one more.
pub const MAX_STRETCHES: usize = 24;
/// Names tried where a name may begin, names tried per clip, and places where each may end.
const NAMES_PER_START: usize = 2;
const TRIES_PER_CLIP: usize = 3;
const ENDS_PER_NAME: usize = 3;
/// A name is tried only where its first token is nearly as likely as the heard word's first
/// token (natural log).
const GATE: f32 = 2.5;
/// Nor where the decoder gives the name's first token less than this (natural log: 1 in 400);
/// a garbled stretch makes any word likelier than it, so a name must have been in the
/// decoder's mind there.
const FLOOR: f32 = -6.0;
/// How much likelier (natural log of the ratio) the text with the name must be than the heard
/// text. On the sample report the two names the recogniser missed gained 4.0 and 19.0; the
/// wrong names tried lost 8 to 20.
pub const MARGIN: f64 = 3.0;
/// How much less likely than the heard text (natural log) a name's first try may be before its
/// other ends are not tried (on the sample reports: right names -4 to +18, wrong ones -10 to
/// -20 at their first try).
const HOPELESS: f64 = 10.0;
/// How much less likely (natural log) a name of more words may be and still be preferred.
const FULLER: f64 = 2.0;
/// Most heard words before a name's place that the rest of a fuller name of the article may
/// stand for ("man, I'm in" for "Benyamin" before "Poghosyan").
const FULLER_LEAD_WORDS: usize = 3;
/// Words of context said before and after a stretch, and the longest audio read for one.
const BEFORE: usize = 3;
const AFTER: usize = 2;
const MAX_CLIP_MS: Ms = 12_000;
/// Audio read before the first word and after the last one of a clip.
const PAD_MS: Ms = 200;
const MIN_CLIP_MS: Ms = crate::asr::transcribe::MIN_FORCED_MS;

/// The transcript with the names the decoder preferred, and the changes.
pub struct Asked {
    pub transcript: Transcript,
    pub corrections: Vec<Correction>,
    /// Texts the decoder was asked about: the first over each clip a pass of its own, the others
    /// branches from the one before ([`crate::asr::Forcer::branches`]).
    pub passes: usize,
}

/// A name worth asking for: the article's spelling, word by word.
fn rare_names(article: &Article, hear: &Hearing) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    // Every name the tokenizer knows (some countries are one token; the recogniser still
    // mishears them).
    let rare = |w: &str| !hear.forcer.word_tokens(w).is_empty();
    for b in article.body() {
        for ph in block_names(&b.text) {
            if rare(&ph[0]) && !out.contains(&ph) {
                out.push(ph);
            }
        }
    }
    let counted = names(article);
    for n in &counted {
        let one = vec![n.text.clone()];
        if rare(&n.text) && !out.contains(&one) {
            out.push(one);
        }
    }
    // Names that begin alike are told apart by how often the article says them, then by
    // length ("Azerbaijan" before "Azerbaijani" and "Azerbaijan State Security Service").
    let count = |ph: &Vec<String>| counted.iter().find(|n| n.text == ph[0]).map_or(0, |n| n.count);
    out.sort_by(|a, b| count(b).cmp(&count(a)).then(a.len().cmp(&b.len())));
    out
}

/// Doubtful stretches of `words`: `(first, end)` word ranges, least sure first.
fn stretches(words: &[Word], is_name: &dyn Fn(&str) -> bool) -> Vec<(usize, usize)> {
    let plain = |w: &Word| plain_word(w, is_name);
    let little = little_word;
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if !(plain(&words[i]) && words[i].probability < UNSURE && !little(&words[i])) {
            i += 1;
            continue;
        }
        let mut end = i + 1;
        let mut last_doubtful = i;
        while end < words.len() && end - i < MAX_STRETCH_WORDS && plain(&words[end]) {
            let w = &words[end];
            if w.probability < UNSURE && !little(w) {
                last_doubtful = end;
            } else if !little(w) {
                break;
            }
            end += 1;
        }
        let end = last_doubtful + 1;
        if words[i..end].iter().any(|w| w.probability < DOUBTFUL) {
            out.push((i, end));
        }
        i = end;
    }
    let mean = |&(a, b): &(usize, usize)| words[a..b].iter().map(|w| w.probability).sum::<f32>() / (b - a) as f32;
    out.sort_by(|x, y| mean(x).total_cmp(&mean(y)));
    out.truncate(MAX_STRETCHES);
    out.sort();
    out
}

/// Where a name may begin for the stretch that begins at `f`: also at up to [`LEAD_WORDS`]
/// doubtful little words just before it ("ever my young" for "Azerbaijan", where "ever" and "my"
/// are too common to begin a stretch themselves).
fn lead(words: &[Word], f: usize, plain: &dyn Fn(&Word) -> bool) -> usize {
    let doubtful_little = |w: &&Word| plain(w) && w.probability < UNSURE && little_word(w);
    f - words[..f].iter().rev().take(LEAD_WORDS).take_while(doubtful_little).count()
}

/// Heard words the first words of a fuller name may stand for: plain words, the first of them
/// doubtful and not little, as where a stretch begins (a name is not read into "the", nor
/// into words the recogniser was sure of).
fn fuller_lead(run: &[Word], plain: &dyn Fn(&Word) -> bool) -> bool {
    run.iter().all(plain) && run.first().is_some_and(|w| w.probability < UNSURE && !little_word(w))
}

/// A word too common to begin a stretch ("in", "my", "ever").
fn little_word(w: &Word) -> bool {
    is_stop_word(&bare(&w.text).to_lowercase())
}

/// A word a name may take the place of: not a name itself, not a number.
fn plain_word(w: &Word, is_name: &dyn Fn(&str) -> bool) -> bool {
    let b = bare(&w.text);
    !b.is_empty() && !is_name(b) && !b.chars().any(|c| c.is_ascii_digit())
}

/// About how long a name takes to say.
fn expected_ms(name: &[String]) -> Ms {
    let letters: usize = name.iter().map(|w| w.chars().count()).sum();
    (letters as Ms * 90).max(300)
}

/// Where `name`, begun at word `first`, may end (past its last word, at most `end`): among the
/// words whose time fits it, those before a word the recogniser was sure of first ("Benyamin
/// Poghosyan" for "men are in controversy and", before "believes"), then by how well they fit;
/// at most [`ENDS_PER_NAME`].
fn name_ends(words: &[Word], first: usize, end: usize, name: &[String]) -> Vec<usize> {
    let want = expected_ms(name) as i64;
    let took = |e: usize| (words[e - 1].end_ms - words[first].start_ms) as i64;
    let mut ends: Vec<usize> = (first + 1..=end).filter(|&e| took(e) * 5 >= want * 2 && took(e) <= want * 3).collect();
    let sure_after = |e: usize| words.get(e).is_none_or(|w| w.probability >= UNSURE && !little_word(w));
    ends.sort_by_key(|&e| (!sure_after(e), (took(e) - want).abs()));
    ends.truncate(ENDS_PER_NAME);
    ends
}

/// Asks the decoder about the doubtful stretches of `transcript` (recognised with `prompt`)
/// whether the article's rare names were said there. Only a stop asked for is an error.
pub fn ask(
    transcript: &Transcript,
    article: &Article,
    prompt: &str,
    hear: &mut Hearing,
) -> Result<Asked, TranscribeError> {
    let words: Vec<Word> = transcript.words().cloned().collect();
    let candidates = rare_names(article, hear);
    let mut asked = Asked { transcript: transcript.clone(), corrections: Vec::new(), passes: 0 };
    if candidates.is_empty() || words.is_empty() {
        return Ok(asked);
    }
    let article_names = names(article);
    let is_name = |w: &str| {
        article_names.iter().any(|n| n.text.eq_ignore_ascii_case(w))
            || candidates.iter().flatten().any(|p| p.eq_ignore_ascii_case(w))
    };
    let plain = |w: &Word| plain_word(w, &is_name);
    let mut replaced: Vec<Option<Vec<Word>>> = vec![None; words.len()];
    let mut watch = crate::cpu::Watch::start();
    let all = stretches(&words, &is_name);
    // Each stretch is read in a pass of its own over a short clip: its words, those a name
    // starting in it may run over, and a few either side. (One pass over several stretches
    // was tried: the longer context hid the right name's first token, 3.9 below the heard
    // word's for "Azerbaijan", and a wrong name won a 31-word clip by 7.)
    // A name may run on past its stretch, over words that are neither names nor numbers.
    let reach = |i: usize| {
        let mut e = i + 1;
        while e < words.len() && e - i < MAX_STRETCH_WORDS && plain(&words[e]) {
            e += 1;
        }
        e
    };
    for (f, e) in all {
        if hear.cancel.is_cancelled() {
            return Err(TranscribeError::Cancelled);
        }
        let g = lead(&words, f, &plain);
        if replaced[g..e].iter().any(Option::is_some) {
            continue;
        }
        let starts: Vec<(usize, usize)> =
            (g..e).filter(|&i| words[i].probability < UNSURE).map(|i| (i, reach(i))).collect();
        let from = g.saturating_sub(BEFORE);
        let to = (starts.iter().map(|s| s.1).max().unwrap_or(e) + AFTER).min(words.len());
        let (start_ms, end_ms) = (words[from].start_ms, words[to - 1].end_ms);
        let pad = MIN_CLIP_MS.saturating_sub(end_ms - start_ms).div_ceil(2).max(PAD_MS);
        let (a, b) = (start_ms.saturating_sub(pad), end_ms + pad);
        if b - a > MAX_CLIP_MS + 2 * PAD_MS {
            continue;
        }
        let at = |ms: Ms| ms_to_samples(ms, TARGET_RATE).min(hear.pcm.len());
        let pcm = &hear.pcm[at(a)..at(b)];
        let heard: Vec<&str> = words[from..to].iter().map(|w| w.text.as_str()).collect();
        let peek: Vec<usize> = starts.iter().map(|(i, _)| i - from).collect();
        hear.forcer.set_threads(watch.threads(hear.threads));
        asked.passes += 1;
        let Some(base) = hear.forcer.likelihood(pcm, prompt, &heard, &peek, hear.cancel)? else {
            continue;
        };
        // Names whose first token the decoder found nearly as likely as the heard word's there.
        let mut tries: Vec<(f32, usize, usize, &Vec<String>)> = Vec::new();
        for (&(first, end), next) in starts.iter().zip(&base.next) {
            let lp = |w: &str| hear.forcer.word_tokens(w).first().and_then(|&t| next.get(t as usize).copied());
            let Some(heard_first) = lp(&words[first].text) else { continue };
            let mut gated: Vec<(f32, usize, usize, &Vec<String>)> = candidates
                .iter()
                .filter_map(|n| lp(&n[0]).map(|l| (l, first, end, n)))
                .filter(|(l, ..)| *l >= heard_first - GATE && *l >= FLOOR)
                .collect();
            gated.sort_by(|x, y| y.0.total_cmp(&x.0));
            gated.truncate(NAMES_PER_START);
            tries.extend(gated);
        }
        tries.sort_by(|x, y| y.0.total_cmp(&x.0));
        tries.truncate(TRIES_PER_CLIP);
        // A name that gated may be the end of a fuller one whose first words the decoder heard
        // as other doubtful words just before it: tried in their place too (their first token
        // was never likely where those words begin: " man" is, " Ben" is not).
        let mut with_fuller: Vec<(usize, usize, &Vec<String>)> = Vec::new();
        for (_, first, end, name) in tries {
            with_fuller.push((first, end, name));
            for p in candidates.iter().filter(|p| p.len() > name.len() && p.ends_with(name)) {
                for j in (1..=FULLER_LEAD_WORDS).filter(|&j| first >= from + j) {
                    let lead = first - j..first;
                    if replaced[lead.clone()].iter().all(Option::is_none) && fuller_lead(&words[lead], &plain) {
                        with_fuller.push((first - j, end, p));
                    }
                }
            }
        }
        let mut tried: Vec<(f64, usize, usize, Vec<String>, usize)> = Vec::new();
        for (first, end, name) in with_fuller {
            for e in name_ends(&words, first, end, name) {
                let texts = name_in_place_of(name, &words[first..e]);
                let said: Vec<&str> = heard[..first - from]
                    .iter()
                    .copied()
                    .chain(texts.iter().map(String::as_str))
                    .chain(heard[e - from..].iter().copied())
                    .collect();
                asked.passes += 1;
                let got = hear.forcer.likelihood(pcm, prompt, &said, &[], hear.cancel)?;
                let Some(l) = got else { continue };
                let hopeless = l.logprob < base.logprob - HOPELESS;
                tried.push((l.logprob, first, e, texts, name.len()));
                // The end that fits the name's length best is tried first; where even that is
                // far less likely than what was heard, the others are not tried.
                if hopeless {
                    break;
                }
            }
        }
        // One name per stretch, if clearly likelier than what was heard: the likeliest, or a
        // fuller name nearly as likely ("Benyamin Poghosyan" 0.9 below "Poghosyan" alone: each
        // token the decoder says costs it some probability).
        let top = tried.iter().map(|t| t.0).fold(f64::NEG_INFINITY, f64::max);
        let best = tried
            .into_iter()
            .filter(|t| t.0 >= base.logprob + MARGIN && t.0 >= top - FULLER)
            .max_by(|x, y| x.4.cmp(&y.4).then(x.0.total_cmp(&y.0)));
        let Some((logprob, first, e, texts, _)) = best else { continue };
        replace_run(&words, first, e - first, &texts, (Reason::HeardName, None), &mut replaced, &mut asked.corrections);
        if let Some(c) = asked.corrections.last_mut() {
            c.heard = Some(Heard { before: base.logprob as f32, after: logprob as f32 });
        }
    }
    if !asked.corrections.is_empty() {
        asked.transcript = rebuilt(transcript, &words, &replaced);
    }
    Ok(asked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, p: f32, at: Ms) -> Word {
        Word { text: text.into(), start_ms: at, end_ms: at + 200, probability: p, speaker: None }
    }

    #[test]
    fn doubtful_stretches_end_on_a_doubtful_word_and_skip_names_and_numbers() {
        let ws: Vec<Word> = [
            ("soldiers", 0.98),
            ("held", 0.2),
            ("in", 0.92),
            ("every", 0.29),
            ("my", 0.35),
            ("young", 0.21),
            ("range", 0.89),
            ("40", 0.2),
            ("Azerbaijan", 0.1),
            ("sure", 0.99),
        ]
        .iter()
        .enumerate()
        .map(|(i, (t, p))| word(t, *p, i as Ms * 200))
        .collect();
        let got = stretches(&ws, &|w: &str| w == "Azerbaijan");
        assert_eq!(got, vec![(1, 6)]);
    }

    #[test]
    fn a_name_may_begin_at_doubtful_little_words_before_a_stretch() {
        let ws: Vec<Word> =
            [("held", 0.92), ("in", 0.85), ("ever", 0.17), ("my", 0.32), ("young", 0.16), ("range", 0.94)]
                .iter()
                .enumerate()
                .map(|(i, (t, p))| word(t, *p, i as Ms * 200))
                .collect();
        let plain = |w: &Word| plain_word(w, &|_| false);
        let got = stretches(&ws, &|_| false);
        assert_eq!(got, vec![(4, 5)], "little words do not begin a stretch");
        // "ever" and "my" are doubtful little words; "in" is sure, so the lead stops there.
        assert_eq!(lead(&ws, 4, &plain), 2);
        // At most LEAD_WORDS back, and never past a sure word or a name.
        let sure: Vec<Word> = ws.iter().map(|w| Word { probability: 0.9, ..w.clone() }).collect();
        assert_eq!(lead(&sure, 4, &plain), 4);
        assert_eq!(lead(&ws, 4, &|w: &Word| w.text != "my"), 4);
    }

    #[test]
    fn a_name_ends_before_a_sure_word_first() {
        // What base heard on the sample report's WebM for "The analyst Benyamin Poghosyan
        // believes there may simply", from "men" on.
        let ws: Vec<Word> = [
            ("analyst", 0.17),
            ("men", 0.11),
            ("are", 0.44),
            ("in", 0.66),
            ("controversy", 0.06),
            ("and", 0.6),
            ("believes", 0.75),
            ("there", 0.73),
            ("may", 0.99),
            ("simply", 1.0),
        ]
        .iter()
        .enumerate()
        .map(|(i, (t, p))| word(t, *p, i as Ms * 250))
        .collect();
        let name = vec!["Benyamin".to_string(), "Poghosyan".to_string()];
        let ends = name_ends(&ws, 1, 9, &name);
        // The name takes "men are in controversy and": the end before "believes" comes first,
        // though ends after "believes" and "there" fit the name's length as well or better.
        assert_eq!(ends.first(), Some(&6), "{ends:?}");
        assert!(ends.len() <= ENDS_PER_NAME);
        // Without a sure word after any end, by fit alone: 17 letters, ~1.5 s.
        let unsure: Vec<Word> = ws.iter().map(|w| Word { probability: 0.3, ..w.clone() }).collect();
        let ends = name_ends(&unsure, 1, 9, &name);
        assert_eq!(ends, vec![7, 8, 6]);
    }

    #[test]
    fn at_most_max_stretches_are_asked_about_the_least_sure_first() {
        // 60 one-word stretches between sure words, each a little surer than the one before.
        let ws: Vec<Word> = (0..120)
            .map(|i| {
                if i % 2 == 0 { word("mumble", 0.01 + i as f32 * 0.003, i * 200) } else { word("sure", 0.99, i * 200) }
            })
            .collect();
        let got = stretches(&ws, &|_| false);
        assert_eq!(got.len(), MAX_STRETCHES);
        assert_eq!(got, (0..MAX_STRETCHES).map(|k| (2 * k, 2 * k + 1)).collect::<Vec<_>>());
    }

    #[test]
    fn a_stretch_is_at_most_max_stretch_words_long() {
        let ws: Vec<Word> = (0..20).map(|i| word("mumble", 0.1, i * 200)).collect();
        let got = stretches(&ws, &|_| false);
        assert!(got.iter().all(|(a, b)| b - a <= MAX_STRETCH_WORDS), "{got:?}");
        assert_eq!(got.iter().map(|(a, b)| b - a).sum::<usize>(), 20);
    }

    #[test]
    fn a_fuller_name_may_take_the_place_of_doubtful_words_before_its_end() {
        let ws = |list: &[(&str, f32)]| -> Vec<Word> {
            list.iter().enumerate().map(|(i, (t, p))| word(t, *p, i as Ms * 200)).collect()
        };
        let plain = |w: &Word| plain_word(w, &|w: &str| w == "Armenian");
        // tiny.en on "The analyst Benyamin Poghosyan": "man, I'm in" before "Pompa City".
        assert!(fuller_lead(&ws(&[("man,", 0.58), ("I'm", 0.86), ("in", 0.83)]), &plain));
        // Not from a little word, a sure word, a name or a number.
        assert!(!fuller_lead(&ws(&[("I'm", 0.86), ("in", 0.83)]), &plain));
        assert!(!fuller_lead(&ws(&[("the", 0.3)]), &plain));
        assert!(!fuller_lead(&ws(&[("analyst", 0.9)]), &plain));
        assert!(!fuller_lead(&ws(&[("men", 0.2), ("Armenian", 0.3)]), &plain));
        assert!(!fuller_lead(&ws(&[("men", 0.2), ("40", 0.3)]), &plain));
        assert!(!fuller_lead(&[], &plain));
    }
}
