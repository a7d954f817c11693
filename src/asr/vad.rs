//! Voice activity detection with Silero VAD (whisper.cpp's ggml port): where in the audio
//! someone is speaking. Captions use it to place cue starts on speech onsets and to drop text
//! recognised over silence or music.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use whisper_rs::{WhisperVadContext, WhisperVadContextParams, WhisperVadParams};

use super::model::{model_dirs, vad_name};
use crate::progress::Cancel;
use crate::time::Ms;

/// The VAD model shipped in models/.
pub const VAD_MODEL_FILE: &str = "silero-v6.2.0-ggml.bin";

/// A stretch of speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub start_ms: Ms,
    pub end_ms: Ms,
}

#[derive(Debug, thiserror::Error)]
pub enum VadError {
    #[error("VAD model {VAD_MODEL_FILE} not found in {0}")]
    NotFound(String),
    #[error("{0} is not a Silero VAD model")]
    Invalid(PathBuf),
    #[error("voice activity detection failed")]
    Failed,
    #[error("cancelled")]
    Cancelled,
}

/// Audio is examined in pieces of this many samples (2 minutes) so that a cancel request is
/// honoured within a second or two, whatever the length of the input.
const PIECE: usize = 16_000 * 120;

/// Finds the VAD model in the model directories.
pub fn find_model() -> Result<PathBuf, VadError> {
    let dirs = model_dirs();
    dirs.iter()
        .map(|d| d.join(VAD_MODEL_FILE))
        .find(|p| p.is_file())
        .ok_or_else(|| VadError::NotFound(dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")))
}

/// Speech spans of 16 kHz mono `pcm`.
pub fn speech_spans(model: &Path, pcm: &[f32], threads: usize, cancel: &Cancel) -> Result<Vec<Span>, VadError> {
    if vad_name(model).is_none() || std::fs::metadata(model).map_or(true, |m| m.len() < 100_000) {
        return Err(VadError::Invalid(model.to_path_buf()));
    }
    let mut cp = WhisperVadContextParams::new();
    cp.set_n_threads(threads.max(1) as i32);
    cp.set_use_gpu(false);
    let mut ctx = WhisperVadContext::new(&model.to_string_lossy(), cp).map_err(|_| VadError::Failed)?;
    let mut p = WhisperVadParams::new();
    p.set_threshold(0.5);
    p.set_min_speech_duration(150);
    p.set_min_silence_duration(150);
    p.set_speech_pad(0);
    let mut spans: Vec<Span> = Vec::new();
    for (k, piece) in pcm.chunks(PIECE).enumerate() {
        if cancel.is_cancelled() {
            return Err(VadError::Cancelled);
        }
        if piece.len() < 16_000 / 2 {
            continue;
        }
        let offset = (k * PIECE) as Ms / 16;
        let segs = ctx.segments_from_samples(p, piece).map_err(|_| VadError::Failed)?;
        // whisper.cpp reports VAD segment times in centiseconds.
        for s in segs {
            let a = (s.start.max(0.0) * 10.0).round() as Ms + offset;
            let b = (s.end.max(0.0) * 10.0).round() as Ms + offset;
            match spans.last_mut() {
                // Speech running across a piece boundary is one span.
                Some(last) if a <= last.end_ms + 50 => last.end_ms = last.end_ms.max(b),
                _ if b > a => spans.push(Span { start_ms: a, end_ms: b }),
                _ => {}
            }
        }
    }
    Ok(spans)
}
