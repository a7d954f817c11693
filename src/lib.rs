//! vidscribe: news video in, accurate subtitles and an article-linked transcript out, offline.
//!
//! Data flows one way: [`media`] (file → 16 kHz PCM) → [`asr`] (PCM → transcript) →
//! [`captions`] (transcript → cues) → [`formats`] (cues → files); [`job`] runs the whole of it.
//! Only the binary knows about terminals, progress bars and exit codes.
//!
//! Unsafe code is denied crate-wide and forbidden in every module but the two that call
//! whisper.cpp and ggml directly, `asr::transcribe` and `asr::quantize`, and the bounds-checked
//! wrapper of the speaker model's matrix product, `speakers::gemm`.
#![deny(unsafe_code)]

pub mod align;
pub mod archive;
pub mod article;
pub mod asr;
pub mod captions;
pub mod correction;
pub mod cpu;
pub mod eval;
pub mod formats;
pub mod hash;
pub mod home;
pub mod job;
pub mod media;
pub mod net;
pub mod output;
pub mod pipeline;
pub mod progress;
pub mod remote;
pub mod report;
pub mod revise;
pub mod secret;
pub mod speakers;
pub mod text;
pub mod time;
pub mod ytdlp;
