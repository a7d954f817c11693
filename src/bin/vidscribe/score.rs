//! `vidscribe score`: WER, timing and speaker error against references.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use vidscribe::article::wording;
use vidscribe::formats::{self, json};
use vidscribe::job::{self};

/// The words of a transcript file, whatever its format.
pub(crate) fn transcript_text(path: &Path) -> Result<String> {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    if ext == "srt" || ext == "vtt" {
        // The subtitle readers: cue text only (no NOTEs, numbers, timings or tags).
        let (parsed, _) = formats::read::subtitle_file(path)?;
        return Ok(parsed.cues.iter().map(|c| c.lines.join(" ")).collect::<Vec<_>>().join(" "));
    }
    let raw = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(if ext == "json" {
        json::read(&raw[..])
            .with_context(|| format!("{} is not a vidscribe transcript", path.display()))?
            .transcript
            .text()
    } else {
        String::from_utf8_lossy(&raw).into_owned()
    })
}

/// `score REF.rttm doc.json`: diarization error of the document's speaker turns.
pub(crate) fn score_speakers(reference: &Path, rttm: &str, hypothesis: &Path) -> Result<ExitCode> {
    use vidscribe::eval::{LabelledTurn, read_rttm, speaker_errors};
    let truth = read_rttm(rttm).with_context(|| format!("{}: not RTTM", reference.display()))?;
    let raw = std::fs::read(hypothesis).with_context(|| format!("cannot read {}", hypothesis.display()))?;
    let doc =
        json::read(&raw[..]).with_context(|| format!("{} is not a vidscribe JSON transcript", hypothesis.display()))?;
    let hyp: Vec<LabelledTurn> =
        doc.speaker_turns.iter().map(|t| (t.start_ms, t.end_ms, t.speaker.to_string())).collect();
    let count = |t: &[LabelledTurn]| t.iter().map(|x| &x.2).collect::<std::collections::BTreeSet<_>>().len();
    let (collar, none) = (speaker_errors(&truth, &hyp, 250), speaker_errors(&truth, &hyp, 0));
    outln!(
        "DER {:.2}% with a 0.25 s collar ({:.2}% missed, {:.2}% false alarm, {:.2}% confusion), {:.2}% without; {} speakers found, {} in the reference",
        collar.rate() * 100.0,
        collar.missed as f64 * 100.0 / collar.speech.max(1) as f64,
        collar.false_alarm as f64 * 100.0 / collar.speech.max(1) as f64,
        collar.confusion as f64 * 100.0 / collar.speech.max(1) as f64,
        none.rate() * 100.0,
        count(&hyp),
        count(&truth)
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn score(
    reference: &Path,
    hypothesis: &Path,
    times: Option<&Path>,
    article_path: Option<&Path>,
) -> Result<ExitCode> {
    let r = std::fs::read_to_string(reference).with_context(|| format!("cannot read {}", reference.display()))?;
    if reference.extension().is_some_and(|e| e.eq_ignore_ascii_case("rttm")) {
        return score_speakers(reference, &r, hypothesis);
    }
    let e = vidscribe::eval::word_errors(&r, &transcript_text(hypothesis)?);
    outln!(
        "WER {:.2}% ({} substitutions, {} deletions, {} insertions, {} reference words)",
        e.rate() * 100.0,
        e.substitutions,
        e.deletions,
        e.insertions,
        e.reference_words
    );
    if let Some(times) = times {
        let tsv = std::fs::read_to_string(times).with_context(|| format!("cannot read {}", times.display()))?;
        let script = vidscribe::eval::read_script(&tsv)
            .with_context(|| format!("{}: no start_ms/end_ms columns", times.display()))?;
        let truth: Vec<(u64, u64)> = script.iter().map(|r| (r.start_ms, r.end_ms)).collect();
        let raw = std::fs::read(hypothesis).with_context(|| format!("cannot read {}", hypothesis.display()))?;
        let doc = json::read(&raw[..])
            .with_context(|| format!("{} is not a vidscribe JSON transcript", hypothesis.display()))?;
        let captions = doc.captions.context("the transcript has no cues")?;
        let errors = vidscribe::eval::cue_start_errors(&captions.cues, &truth);
        outln!(
            "cue start error: median {} ms, 95th percentile {} ms, max {} ms over {} segments; {} rule violations under {}",
            vidscribe::eval::percentile(&errors, 0.5),
            vidscribe::eval::percentile(&errors, 0.95),
            errors.last().copied().unwrap_or(0),
            errors.len(),
            captions.violations.len(),
            captions.profile.name
        );
        if let Some(links) = &doc.links
            && script.iter().any(|r| !r.kind.is_empty())
        {
            let l = vidscribe::eval::link_score(&script, &links.passages);
            outln!(
                "links: precision {:.1}%, recall {:.1}% ({} right, {} wrong or extra, {} missed; kind right for {} of {} from the article)",
                l.precision() * 100.0,
                l.recall() * 100.0,
                l.true_positives,
                l.false_positives,
                l.false_negatives,
                l.kind_right,
                l.from_article
            );
        }
        if let Some(path) = article_path {
            let a = job::read_article(path)?;
            let names: Vec<String> = wording::names(&a).into_iter().map(|n| n.text).collect();
            let said: Vec<&str> = script.iter().map(|r| r.text.as_str()).collect();
            let cue_text: Vec<String> = captions.cues.iter().map(|c| c.lines.join(" ")).collect();
            let n = vidscribe::eval::names_spelled(&names, &said.join(" "), &cue_text.join(" "));
            outln!(
                "names: {} of {} spoken ({:.1}%) spelled as in the article in the subtitles; {} of {} distinct names; missed: {}",
                n.right,
                n.spoken,
                n.rate() * 100.0,
                n.distinct_right,
                n.distinct_spoken,
                if n.missed.is_empty() { "none".to_string() } else { n.missed.join(", ") }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
