//! Voice activity detection with Silero VAD (whisper.cpp's ggml port): where in the audio
//! someone is speaking. Captions use it to place cue starts on speech onsets and to drop text
//! recognised over silence or music.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use whisper_rs::{WhisperVadContext, WhisperVadContextParams, WhisperVadParams};

use super::model::{model_dirs, vad_name};
use crate::time::Ms;

/// The VAD model shipped in models/.
pub const VAD_MODEL_FILE: &str = "silero-v6.2.0-ggml.bin";

pub use crate::time::Span;

/// The model itself, compiled in (885 kB) so that it can never be missing; whisper.cpp loads
/// VAD models only from a file, so [`find_model`] writes it out once.
const EMBEDDED: &[u8] = include_bytes!("../../models/silero-v6.2.0-ggml.bin");

#[derive(Debug, thiserror::Error)]
pub enum VadError {
    #[error("cannot put the VAD model {VAD_MODEL_FILE} in the data folder")]
    Install(#[source] crate::home::HomeError),
    #[error("cannot write the VAD model {path}")]
    Write { path: PathBuf, source: crate::output::FileError<std::io::Error> },
    #[error("{0} is not a Silero VAD model")]
    Invalid(PathBuf),
    #[error("voice activity detection failed")]
    Failed,
}

/// The VAD model file: the one in a model directory whose bytes are the compiled-in model's,
/// else the compiled-in model written to the data folder's `models/`.
pub fn find_model() -> Result<PathBuf, VadError> {
    let dirs = model_dirs();
    let same = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.len() == EMBEDDED.len() as u64)
            && std::fs::read(p).is_ok_and(|b| b == EMBEDDED)
    };
    if let Some(found) = dirs.iter().map(|d| d.join(VAD_MODEL_FILE)).find(|p| same(p)) {
        return Ok(found);
    }
    let dir = crate::home::models_dir().map_err(VadError::Install)?;
    let path = dir.join(VAD_MODEL_FILE);
    // Whole or not at all: another vidscribe may be looking for it at the same moment.
    crate::output::write_atomically(&path, |w| w.write_all(EMBEDDED))
        .map_err(|source| VadError::Write { path: path.clone(), source })?;
    Ok(path)
}

/// A loaded VAD model.
pub struct Detector {
    ctx: WhisperVadContext,
    params: WhisperVadParams,
}

impl Detector {
    pub fn new(model: &Path, threads: usize) -> Result<Self, VadError> {
        if vad_name(model).is_none() || std::fs::metadata(model).map_or(true, |m| m.len() < 100_000) {
            return Err(VadError::Invalid(model.to_path_buf()));
        }
        let mut cp = WhisperVadContextParams::new();
        cp.set_n_threads(threads.max(1) as i32);
        cp.set_use_gpu(false);
        let ctx = WhisperVadContext::new(&model.to_string_lossy(), cp).map_err(|_| VadError::Failed)?;
        let mut params = WhisperVadParams::new();
        params.set_threshold(0.5);
        params.set_min_speech_duration(150);
        params.set_min_silence_duration(150);
        params.set_speech_pad(0);
        Ok(Self { ctx, params })
    }

    /// Adds the speech in `pcm` (16 kHz mono, starting `offset_ms` into the input, following
    /// the audio given before) to `spans`. Speech running on from the previous piece extends
    /// the last span.
    pub fn push(&mut self, pcm: &[f32], offset_ms: Ms, spans: &mut Vec<Span>) -> Result<(), VadError> {
        if pcm.len() < 16_000 / 2 {
            return Ok(());
        }
        let segs = self.ctx.segments_from_samples(self.params, pcm).map_err(|_| VadError::Failed)?;
        // whisper.cpp reports VAD segment times in centiseconds.
        for s in segs {
            let a = (s.start.max(0.0) * 10.0).round() as Ms + offset_ms;
            let b = (s.end.max(0.0) * 10.0).round() as Ms + offset_ms;
            match spans.last_mut() {
                Some(last) if a <= last.end_ms + 50 => last.end_ms = last.end_ms.max(b),
                _ if b > a => spans.push(Span { start_ms: a, end_ms: b }),
                _ => {}
            }
        }
        Ok(())
    }
}
