//! A subtitle cue: what every subtitle format writes.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

use crate::time::Ms;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cue {
    pub start_ms: Ms,
    pub end_ms: Ms,
    /// One to a few lines of text, none empty.
    pub lines: Vec<String>,
    /// Who speaks each line (speaker ids of the document), when speakers were told apart;
    /// empty otherwise. Two speakers in one cue have a line each, each opened by a dash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub speakers: Vec<u32>,
}

impl Cue {
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}
