//! Text ↔ timed words: a person's corrections (an edited caption or text file) laid over a
//! transcript so that what did not change keeps its times from the audio. Used by `apply`, by
//! re-runs that keep earlier edits, and by serve's editing; and a known script laid over the
//! recognition (`--script`).
#![forbid(unsafe_code)]

pub mod edit;
pub mod force;
pub mod script;

pub use edit::{Applied, EditError, Edited, EditedCue, apply};
pub use force::Hearing;
