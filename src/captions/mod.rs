//! Transcript → subtitle cues.

pub mod cue;
pub mod layout;

pub use cue::Cue;
pub use layout::{LayoutRules, build_cues};
