//! Media in, 16 kHz mono PCM out: container probing, track choice, decoding, resampling.
#![forbid(unsafe_code)]

pub mod decode;
mod mp4;
pub mod resample;
pub mod spool;

pub use decode::{Audio, DecodeError, DecodeOptions, SourceInfo, Stream, decode_bytes, decode_path};
