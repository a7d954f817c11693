//! A known script laid over the recognition (`--script`): where the speech follows it, the
//! captions use the script's words, spelling and punctuation at the recognised times; speech
//! the script lacks stays recognised text, reported; script text not heard is reported, not
//! captioned.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

use super::edit::{EditError, Edited, Mode, lay, regroup};
use super::force::Hearing;
use crate::asr::Transcript;
use crate::correction::Correction;
use crate::time::Ms;

/// Largest script read.
pub const MAX_SCRIPT_BYTES: u64 = 16 << 20;

/// What following the script found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScriptReport {
    /// The script as given on the command line.
    pub path: String,
    /// Words of the script, and how many of them were heard (and captioned).
    pub words: usize,
    pub spoken: usize,
    /// Script text not heard: reported here, not captioned.
    pub unspoken: Vec<Unspoken>,
    /// Speech the script does not have: captioned as recognised.
    pub unscripted: Vec<Unscripted>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unspoken {
    pub text: String,
    /// The script's line it starts on (from 1, blank lines not counted).
    pub line: usize,
    /// Where in the speech it would have come.
    pub near_ms: Ms,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unscripted {
    pub text: String,
    pub start_ms: Ms,
    pub end_ms: Ms,
}

/// The transcript following `script` (its text), what changed, and what did not fit; `hear`,
/// the audio, times the script's words where recognition heard others.
pub fn follow(
    t: &Transcript,
    script: &str,
    path: &str,
    hear: Option<&mut Hearing>,
) -> Result<(Transcript, Vec<Correction>, ScriptReport), EditError> {
    let edited = Edited::from_text(script);
    let (mut laid, new) = lay(t, &edited, Mode::Script, 0)?;
    laid.time_from(hear)?;
    // Each non-blank line of the script, numbered from 1.
    let mut lines: Vec<(usize, usize)> = new.iter().map(|(_, c, l)| (*c, *l)).collect();
    lines.dedup();
    let line_of = |i: usize| lines.iter().position(|&cl| cl == (new[i].1, new[i].2)).map_or(0, |k| k + 1);
    let unspoken_words: usize = laid.unspoken.iter().map(|(text, _, _)| text.split_whitespace().count()).sum();
    let report = ScriptReport {
        path: path.to_string(),
        words: new.len(),
        spoken: new.len() - unspoken_words,
        unspoken: laid
            .unspoken
            .into_iter()
            .map(|(text, first, near_ms)| Unspoken { text, line: line_of(first), near_ms })
            .collect(),
        unscripted: laid
            .unscripted
            .into_iter()
            .map(|(text, start_ms, end_ms)| Unscripted { text, start_ms, end_ms })
            .collect(),
    };
    Ok((regroup(t, &laid.out), laid.corrections, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(text: &str) -> Transcript {
        crate::asr::transcript::spoken(text, |_| 0.8)
    }

    #[test]
    fn the_script_spells_what_was_said_and_reports_what_was_not() {
        let heard = transcript(
            "Estimat Sun every my John range from around forty. We met the families today. \
             Prisoners came home in December and their families were waiting.",
        );
        let script = "Estimates on Azerbaijan range from around forty.\n\n\
                      The ministry has not answered our questions about the exchange or the talks.\n\n\
                      Prisoners came home in December, and their families were waiting.";
        let (t, corrections, report) = follow(&heard, script, "script.txt", None).unwrap();
        let text: Vec<&str> = t.words().map(|w| w.text.as_str()).collect();
        assert_eq!(
            text.join(" "),
            "Estimates on Azerbaijan range from around forty. We met the families today. \
             Prisoners came home in December, and their families were waiting."
        );
        assert_eq!(report.unspoken.len(), 1, "{report:?}");
        assert_eq!(report.unspoken[0].line, 2);
        assert!(report.unspoken[0].text.starts_with("The ministry"));
        assert_eq!(report.unscripted.len(), 1, "{report:?}");
        assert_eq!(report.unscripted[0].text, "We met the families today.");
        assert!(corrections.iter().all(|c| c.reason == crate::correction::Reason::Script));
        // Unchanged words keep their times.
        let range = t.words().find(|w| w.text == "range").unwrap();
        assert_eq!((range.start_ms, range.end_ms), (5 * 400, 5 * 400 + 350));
        assert!(matches!(
            follow(&heard, "Nothing of the kind was ever said here by anyone at all.", "x", None),
            Err(EditError::Unrelated { .. })
        ));
    }
}
