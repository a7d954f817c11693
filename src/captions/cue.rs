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
}

impl Cue {
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}
