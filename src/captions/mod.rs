//! Transcript → subtitle cues that follow professional caption rules.
#![forbid(unsafe_code)]

pub mod cue;
pub mod guard;
pub mod language;
pub mod layout;
pub mod profile;
pub mod rules;

pub use cue::Cue;
pub use layout::{Layout, build_cues, build_cues_named};
pub use profile::Profile;
pub use rules::{Rule, Violation};
