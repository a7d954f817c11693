//! Speech recognition: Whisper models (finding, checking, importing, quantising) and transcription.

mod ct2;
pub mod fetch;
pub mod ggml;
pub mod import;
mod mel;
pub mod model;
pub mod quantize;
pub mod transcribe;
pub mod transcript;
pub mod vad;
pub mod window;

pub use model::{ModelError, ModelInfo};
pub use transcribe::{
    Context, Forcer, LOOP_RATIO, Likelihood, Model, Recognizer, TranscribeError, TranscribeOptions, transcribe,
};
pub use transcript::{Segment, Transcript, Word};
