//! Runs whisper.cpp (through whisper-rs) over 16 kHz mono PCM and returns a [`Transcript`].

use std::ffi::{c_int, c_void};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use whisper_rs::whisper_rs_sys;
use whisper_rs::{
    DtwMode, DtwModelPreset, DtwParameters, FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters,
};

use super::model::{self, ModelError, ModelInfo};
use super::transcript::{Segment, Token, Transcript, words_from_tokens};
use crate::media::resample::TARGET_RATE;
use crate::progress::{Cancel, Progress};
use crate::time::{Ms, centis_to_ms, samples_to_ms};

#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("whisper.cpp could not load {path}")]
    Load { path: std::path::PathBuf },
    #[error(
        "{model} is an English-only model; it cannot transcribe or translate language {language:?} (use a multilingual model such as base)"
    )]
    EnglishOnly { model: String, language: String },
    #[error("unknown language {0:?} (use a code such as en, fr, hy, ru, or auto)")]
    UnknownLanguage(String),
    #[error("no DTW alignment heads are known for model {0}")]
    NoDtw(String),
    #[error("whisper.cpp failed: {0}")]
    Whisper(String),
    #[error("cancelled")]
    Cancelled,
}

/// Recognition options; recorded in the JSON output.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TranscribeOptions {
    /// Language code, or `None` to detect it (multilingual models only).
    pub language: Option<String>,
    /// Translate into English instead of transcribing.
    pub translate: bool,
    pub threads: usize,
    /// Text to condition the first window on (names, spelling, style).
    pub prompt: Option<String>,
    /// 1 is greedy decoding; more is beam search with that many beams.
    pub beam: usize,
    /// Word times from whisper.cpp's DTW alignment of cross-attention instead of its timestamp
    /// tokens (needs a model with known alignment heads).
    #[serde(default)]
    pub dtw: bool,
}

impl Default for TranscribeOptions {
    fn default() -> Self {
        Self { language: None, translate: false, threads: default_threads(), prompt: None, beam: 1, dtw: true }
    }
}

/// One thread per core: ggml's threads spin while waiting, so more than the cores is slower.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

static VERBOSE: AtomicBool = AtomicBool::new(false);

unsafe extern "C" fn log_sink(_level: whisper_rs_sys::ggml_log_level, text: *const std::ffi::c_char, _: *mut c_void) {
    if VERBOSE.load(Ordering::Relaxed) && !text.is_null() {
        // SAFETY: whisper.cpp passes a NUL-terminated string that lives for the call.
        let s = unsafe { std::ffi::CStr::from_ptr(text) };
        eprint!("{}", s.to_string_lossy());
    }
}

/// whisper.cpp and ggml log to stderr on their own; route them through a sink that prints only
/// when `verbose` is set.
pub fn set_library_logging(verbose: bool) {
    VERBOSE.store(verbose, Ordering::Relaxed);
    // SAFETY: installing a plain function pointer with no user data.
    unsafe {
        whisper_rs_sys::whisper_log_set(Some(log_sink), std::ptr::null_mut());
        whisper_rs_sys::ggml_log_set(Some(log_sink), std::ptr::null_mut());
    }
}

/// A loaded model.
pub struct Model {
    ctx: WhisperContext,
    pub info: ModelInfo,
    dtw: bool,
}

/// whisper.cpp's alignment-head preset for a model, by name.
fn dtw_preset(name: &str) -> Option<DtwModelPreset> {
    Some(match name {
        "tiny.en" => DtwModelPreset::TinyEn,
        "tiny" => DtwModelPreset::Tiny,
        "base.en" => DtwModelPreset::BaseEn,
        "base" => DtwModelPreset::Base,
        "small.en" => DtwModelPreset::SmallEn,
        "small" => DtwModelPreset::Small,
        "medium.en" => DtwModelPreset::MediumEn,
        "medium" => DtwModelPreset::Medium,
        _ => return None,
    })
}

impl Model {
    /// Whether word times come from DTW alignment.
    pub fn uses_dtw(&self) -> bool {
        self.dtw
    }

    /// Checks the file fully, then loads it into whisper.cpp.
    pub fn load(path: &Path) -> Result<Self, TranscribeError> {
        Self::load_with(path, false)
    }

    /// As [`load`](Self::load); `dtw` prepares DTW word timing.
    pub fn load_with(path: &Path, dtw: bool) -> Result<Self, TranscribeError> {
        // whisper.cpp logs to stderr unless told otherwise: quiet unless a caller asked for it.
        static SINK: std::sync::Once = std::sync::Once::new();
        SINK.call_once(|| {
            if !VERBOSE.load(Ordering::Relaxed) {
                set_library_logging(false);
            }
        });
        let (info, _) = model::inspect(path)?;
        // Flash attention stays off: on this project's AVX2 machines whisper.cpp's CPU flash
        // attention made the tiny.en encoder 1.7x slower (3.5 s instead of 2.1 s per 30 s
        // window), and DTW needs it off anyway.
        let mut params = WhisperContextParameters { use_gpu: false, flash_attn: false, ..Default::default() };
        // Models without known alignment heads fall back to timestamp tokens.
        let dtw = dtw && dtw_preset(&info.name).is_some();
        if dtw {
            let preset = dtw_preset(&info.name).ok_or_else(|| TranscribeError::NoDtw(info.name.clone()))?;
            params.dtw_parameters =
                DtwParameters { mode: DtwMode::ModelPreset { model_preset: preset }, ..Default::default() };
        }
        let ctx = WhisperContext::new_with_params(path, params)
            .map_err(|_| TranscribeError::Load { path: path.to_path_buf() })?;
        Ok(Self { ctx, info, dtw })
    }
}

/// What the C callbacks see; lives on the stack for the duration of `full`.
struct CallbackData<'a> {
    progress: &'a dyn Progress,
    total_ms: Ms,
    cancel: &'a Cancel,
}

unsafe extern "C" fn on_progress(
    _: *mut whisper_rs_sys::whisper_context,
    _: *mut whisper_rs_sys::whisper_state,
    percent: c_int,
    user: *mut c_void,
) {
    // SAFETY: `user` points at the CallbackData that outlives the whisper_full call.
    let data = unsafe { &*(user as *const CallbackData) };
    data.progress.at(data.total_ms * percent.clamp(0, 100) as u64 / 100);
}

unsafe extern "C" fn on_abort(user: *mut c_void) -> bool {
    // SAFETY: as above.
    let data = unsafe { &*(user as *const CallbackData) };
    data.cancel.is_cancelled()
}

/// Transcribes `pcm` (16 kHz mono).
pub fn transcribe(
    model: &Model,
    pcm: &[f32],
    opts: &TranscribeOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Transcript, TranscribeError> {
    let multilingual = model.info.multilingual;
    let language = match opts.language.as_deref() {
        None | Some("auto") if multilingual => "auto".to_string(),
        None | Some("auto") => "en".to_string(),
        Some(l) => {
            let l = l.to_ascii_lowercase();
            if whisper_rs::get_lang_id(&l).is_none() {
                return Err(TranscribeError::UnknownLanguage(l));
            }
            if !multilingual && l != "en" {
                return Err(TranscribeError::EnglishOnly { model: model.info.name.clone(), language: l });
            }
            l
        }
    };
    let strategy = if opts.beam > 1 {
        SamplingStrategy::BeamSearch { beam_size: opts.beam as c_int, patience: -1.0 }
    } else {
        SamplingStrategy::Greedy { best_of: 1 }
    };
    let mut params = FullParams::new(strategy);
    params.set_n_threads(opts.threads.max(1) as c_int);
    params.set_language(Some(&language));
    params.set_translate(opts.translate && multilingual);
    params.set_token_timestamps(true);
    params.set_print_progress(false);
    params.set_print_realtime(false);
    params.set_print_special(false);
    params.set_print_timestamps(false);
    if let Some(p) = opts.prompt.as_deref() {
        params.set_initial_prompt(p);
    }
    let total_ms = samples_to_ms(pcm.len() as u64, TARGET_RATE);
    let data = CallbackData { progress, total_ms, cancel };
    let user = &data as *const CallbackData as *mut c_void;
    // SAFETY: `data` outlives `state.full` below, which is the only time the callbacks run.
    // (whisper-rs's own set_abort_callback_safe is broken in 0.16, hence the raw callbacks.)
    unsafe {
        params.set_progress_callback(Some(on_progress));
        params.set_progress_callback_user_data(user);
        params.set_abort_callback(Some(on_abort));
        params.set_abort_callback_user_data(user);
    }
    let mut state = model.ctx.create_state().map_err(|e| TranscribeError::Whisper(e.to_string()))?;
    progress.begin("transcribing", Some(total_ms));
    let result = state.full(params, pcm);
    progress.end();
    if cancel.is_cancelled() {
        return Err(TranscribeError::Cancelled);
    }
    result.map_err(|e| TranscribeError::Whisper(e.to_string()))?;

    let eot = model.ctx.token_eot();
    let mut segments = Vec::new();
    for seg in state.as_iter() {
        let mut tokens: Vec<Token> = Vec::new();
        for i in 0..seg.n_tokens() {
            let Some(tok) = seg.get_token(i) else { continue };
            let d = tok.token_data();
            let dtw_at = (model.dtw && d.t_dtw >= 0).then(|| centis_to_ms(d.t_dtw));
            if let (Some(at), Some(prev)) = (dtw_at, tokens.last_mut()) {
                // DTW gives each token one instant: its start, and the end of the token before.
                prev.end_ms = at.max(prev.start_ms);
            }
            if tok.token_id() >= eot {
                continue;
            }
            let (start_ms, end_ms) = match dtw_at {
                Some(at) => (at, at.max(centis_to_ms(d.t1))),
                None => (centis_to_ms(d.t0), centis_to_ms(d.t1)),
            };
            tokens.push(Token {
                bytes: tok.to_bytes().map(<[u8]>::to_vec).unwrap_or_default(),
                start_ms,
                end_ms,
                probability: d.p,
            });
        }
        let text = seg.to_str_lossy().map(|t| t.trim().to_string()).unwrap_or_default();
        if text.is_empty() {
            continue;
        }
        segments.push(Segment {
            start_ms: centis_to_ms(seg.start_timestamp()),
            end_ms: centis_to_ms(seg.end_timestamp()),
            text,
            no_speech_probability: seg.no_speech_probability(),
            words: words_from_tokens(&tokens),
        });
    }
    let language = if language == "auto" {
        whisper_rs::get_lang_str(state.full_lang_id_from_state()).unwrap_or("unknown").to_string()
    } else {
        language
    };
    Ok(Transcript { language, segments })
}
