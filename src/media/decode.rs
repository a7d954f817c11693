//! Opens any supported container, picks the audio track, decodes it with symphonia (plus libopus
//! for Opus) and hands back 16 kHz mono PCM.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{Cursor, ErrorKind};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::codecs::registry::CodecRegistry;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, Track};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use super::mp4;
use super::resample::{MonoResampler, TARGET_RATE, downmix_into};
use crate::progress::{Cancel, Progress};
use crate::time::{Ms, samples_to_ms};

/// What can go wrong while decoding. Damaged packets are not errors: they are replaced by
/// silence of the same length and counted in [`SourceInfo::skipped_packets`].
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("cannot read the file")]
    Open(#[source] std::io::Error),
    #[error("the file is empty (0 bytes)")]
    Empty,
    #[error("not a recognised audio or video file ({0})")]
    UnknownFormat(String),
    #[error("the file is damaged or truncated ({0})")]
    Damaged(String),
    #[error("the file has no audio track")]
    NoAudioTrack,
    #[error("no decoder for the audio codec {codec} of track {track}")]
    UnsupportedCodec { codec: String, track: usize },
    #[error("track {asked} is not a decodable audio track (audio tracks: {available})")]
    BadTrack { asked: usize, available: String },
    #[error("the file is truncated or damaged: audio stops at {at_ms} ms ({detail})")]
    Truncated { at_ms: Ms, detail: String },
    #[error("no audio could be decoded ({skipped} damaged packets)")]
    NothingDecoded { skipped: u64 },
    #[error("cancelled")]
    Cancelled,
}

/// Which track to decode.
#[derive(Debug, Clone, Default)]
pub struct DecodeOptions {
    /// Index into the container's track list (0-based, as `vidscribe probe` and ffprobe number
    /// them). `None` picks the first audio track that has a decoder.
    pub track: Option<usize>,
}

/// Facts about the decoded source, kept in the JSON output.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceInfo {
    pub container: String,
    pub codec: String,
    pub track: usize,
    pub sample_rate: u32,
    pub channels: usize,
    /// Length of the decoded audio after priming was removed.
    pub duration_ms: Ms,
    /// Encoder priming frames removed from the start (AAC in MP4, Opus pre-skip).
    pub priming_frames: u64,
    /// Packets that failed to decode and were replaced by silence.
    pub skipped_packets: u64,
}

/// 16 kHz mono PCM with where it came from.
#[derive(Debug, Clone)]
pub struct Audio {
    pub samples: Vec<f32>,
    pub source: SourceInfo,
}

impl Audio {
    pub fn duration_ms(&self) -> Ms {
        samples_to_ms(self.samples.len() as u64, TARGET_RATE)
    }
}

fn codecs() -> &'static CodecRegistry {
    static REG: OnceLock<CodecRegistry> = OnceLock::new();
    REG.get_or_init(|| {
        let mut reg = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut reg);
        reg.register_audio_decoder::<symphonia_adapter_libopus::OpusDecoder>();
        reg
    })
}

fn codec_name(params: &AudioCodecParameters) -> String {
    codecs()
        .get_audio_decoder(params.codec)
        .map(|d| d.codec.info.short_name.to_string())
        .unwrap_or_else(|| format!("id {}", params.codec))
}

/// Decodes a whole file on disk into memory.
pub fn decode_path(
    path: &Path,
    opts: &DecodeOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Audio, DecodeError> {
    Stream::open_path(path, opts)?.read_all(progress, cancel)
}

/// Decodes media held in memory (e.g. read from stdin).
pub fn decode_bytes(
    bytes: Arc<[u8]>,
    opts: &DecodeOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Audio, DecodeError> {
    Stream::open_bytes(bytes, opts)?.read_all(progress, cancel)
}

trait ReadSeek: std::io::Read + std::io::Seek {}
impl<T: std::io::Read + std::io::Seek> ReadSeek for T {}

fn is_audio(t: &Track) -> Option<&AudioCodecParameters> {
    match t.codec_params.as_ref()? {
        CodecParameters::Audio(a) => Some(a),
        _ => None,
    }
}

/// Chooses the track and makes its decoder.
fn choose_track(
    format: &dyn FormatReader,
    opts: &DecodeOptions,
) -> Result<(usize, Track, Box<dyn AudioDecoder>), DecodeError> {
    let tracks = format.tracks();
    let dec_opts = AudioDecoderOptions::default();
    let audio: Vec<usize> = tracks.iter().enumerate().filter(|(_, t)| is_audio(t).is_some()).map(|(i, _)| i).collect();
    if let Some(asked) = opts.track {
        let bad = || DecodeError::BadTrack {
            asked,
            available: if audio.is_empty() {
                "none".into()
            } else {
                audio.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
            },
        };
        let track = tracks.get(asked).ok_or_else(bad)?;
        let params = is_audio(track).ok_or_else(bad)?;
        let dec = codecs()
            .make_audio_decoder(params, &dec_opts)
            .map_err(|_| DecodeError::UnsupportedCodec { codec: codec_name(params), track: asked })?;
        return Ok((asked, track.clone(), dec));
    }
    let mut first_unsupported = None;
    for &i in &audio {
        let params = is_audio(&tracks[i]).expect("filtered to audio tracks");
        match codecs().make_audio_decoder(params, &dec_opts) {
            Ok(dec) => return Ok((i, tracks[i].clone(), dec)),
            Err(_) => {
                first_unsupported.get_or_insert(DecodeError::UnsupportedCodec { codec: codec_name(params), track: i });
            }
        }
    }
    Err(first_unsupported.unwrap_or(DecodeError::NoAudioTrack))
}

/// Frames the container declares for the track, if it says.
fn declared_frames(track: &Track, rate: u32) -> Option<u64> {
    if let Some(n) = track.num_frames {
        return Some(n);
    }
    let (tb, dur) = (track.time_base?, track.duration?);
    let num = dur.get() as u128 * tb.numer.get() as u128 * rate as u128;
    Some((num / tb.denom.get() as u128) as u64)
}

/// An open audio track, decoded and resampled piece by piece: memory stays the same whatever
/// the length of the input.
pub struct Stream {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track: Track,
    index: usize,
    container: String,
    codec: String,
    rate: u32,
    channels: usize,
    to_trim: u64,
    priming_frames: u64,
    declared: Option<u64>,
    leading: usize,
    resampler: Option<MonoResampler>,
    interleaved: Vec<f32>,
    mono: Vec<f32>,
    skipped: u64,
    good_packets: u64,
    decoded_frames: u64,
    produced: u64,
    ended: bool,
}

impl Stream {
    /// Opens a file on disk and chooses its track.
    pub fn open_path(path: &Path, opts: &DecodeOptions) -> Result<Self, DecodeError> {
        let file = File::open(path).map_err(DecodeError::Open)?;
        let len = file.metadata().map_err(DecodeError::Open)?.len();
        if len == 0 {
            return Err(DecodeError::Empty);
        }
        let reopen = || File::open(path).ok();
        Self::open(Box::new(file), &mut || reopen().map(|f| Box::new(f) as Box<dyn ReadSeek>), opts)
    }

    /// Opens media held in memory.
    pub fn open_bytes(bytes: Arc<[u8]>, opts: &DecodeOptions) -> Result<Self, DecodeError> {
        if bytes.is_empty() {
            return Err(DecodeError::Empty);
        }
        let again = bytes.clone();
        Self::open(
            Box::new(Cursor::new(bytes)),
            &mut || Some(Box::new(Cursor::new(again.clone())) as Box<dyn ReadSeek>),
            opts,
        )
    }

    fn open(
        source: Box<dyn MediaSource>,
        reopen: &mut dyn FnMut() -> Option<Box<dyn ReadSeek>>,
        opts: &DecodeOptions,
    ) -> Result<Self, DecodeError> {
        let mss = MediaSourceStream::new(source, Default::default());
        let format = symphonia::default::get_probe()
            .probe(&Hint::new(), mss, FormatOptions::default(), MetadataOptions::default())
            .map_err(|e| match e {
                SymError::IoError(e) if e.kind() == ErrorKind::UnexpectedEof => {
                    DecodeError::Damaged("it ends before its header does".into())
                }
                // A reader other than the prober's own recognised the container but could not use it.
                SymError::Unsupported(what) if !what.starts_with("core") => DecodeError::Damaged(what.to_string()),
                other => DecodeError::UnknownFormat(other.to_string()),
            })?;
        let container = format.format_info().short_name.to_string();
        let (index, track, decoder) = choose_track(format.as_ref(), opts)?;
        let params = is_audio(&track).expect("chosen track is audio").clone();
        let codec = codec_name(&params);
        let rate = params.sample_rate.unwrap_or(0);
        let channels = params.channels.as_ref().map_or(0, |c| c.count());

        // symphonia's MP4 reader ignores the edit list, where AAC priming is declared.
        let edit = if container == "isomp4" {
            reopen().and_then(|mut r| mp4::edit_timing(&mut r, track.id, rate.max(1)))
        } else {
            None
        };
        let priming_frames = edit.map_or(0, |e| e.priming_frames);
        let declared = declared_frames(&track, rate.max(1));
        Ok(Self {
            format,
            decoder,
            track,
            index,
            container,
            codec,
            rate,
            channels,
            to_trim: priming_frames,
            priming_frames,
            declared,
            leading: edit.map_or(0, |e| (e.leading_ms * TARGET_RATE as u64 / 1000) as usize),
            resampler: None,
            interleaved: Vec::new(),
            mono: Vec::new(),
            skipped: 0,
            good_packets: 0,
            decoded_frames: 0,
            produced: 0,
            ended: false,
        })
    }

    /// Length of the audio as the container declares it, if it does.
    pub fn declared_ms(&self) -> Option<Ms> {
        self.declared.filter(|_| self.rate > 0).map(|f| samples_to_ms(f, self.rate))
    }

    /// Media time decoded so far.
    pub fn decoded_ms(&self) -> Ms {
        samples_to_ms(self.decoded_frames, self.rate.max(1))
    }

    /// Appends at least `want` samples of 16 kHz mono PCM to `out`, fewer only at the end of
    /// the track. Returns false once the track has ended (everything has been appended).
    pub fn read(&mut self, out: &mut Vec<f32>, want: usize) -> Result<bool, DecodeError> {
        let goal = out.len() + want;
        if self.leading > 0 {
            out.resize(out.len() + self.leading, 0.0);
            self.produced += self.leading as u64;
            self.leading = 0;
        }
        while out.len() < goal {
            if self.ended {
                return Ok(false);
            }
            let before = out.len();
            self.packet(out)?;
            self.produced += (out.len() - before) as u64;
        }
        Ok(!self.ended)
    }

    /// Decodes one packet into `out`; at the end of the track, flushes the resampler and
    /// checks that the track was whole.
    fn packet(&mut self, out: &mut Vec<f32>) -> Result<(), DecodeError> {
        let truncated = |s: &Self, detail: String| DecodeError::Truncated {
            at_ms: samples_to_ms(s.decoded_frames, s.rate.max(1)),
            detail,
        };
        let packet = match self.format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) | Err(SymError::ResetRequired) => return self.end(out),
            Err(SymError::IoError(e)) if e.kind() == ErrorKind::UnexpectedEof => {
                return Err(truncated(self, "the data ends mid-packet".into()));
            }
            Err(e) => return Err(truncated(self, e.to_string())),
        };
        if packet.track_id != self.track.id {
            return Ok(());
        }
        self.mono.clear();
        match self.decoder.decode(&packet) {
            Ok(buf) => {
                if buf.frames() == 0 {
                    return Ok(());
                }
                self.good_packets += 1;
                let spec = buf.spec();
                if self.rate == 0 || self.resampler.is_none() {
                    self.rate = spec.rate();
                }
                self.channels = spec.channels().count().max(1);
                self.interleaved.resize(buf.samples_interleaved(), 0.0);
                buf.copy_to_slice_interleaved(&mut self.interleaved[..]);
                downmix_into(&self.interleaved, self.channels, &mut self.mono);
            }
            Err(SymError::DecodeError(_)) | Err(SymError::IoError(_)) => {
                // Keep the timeline: a lost packet becomes silence of its length.
                self.skipped += 1;
                self.mono.resize(packet.dur.get() as usize, 0.0);
            }
            Err(e) => {
                return Err(DecodeError::UnsupportedCodec {
                    codec: format!("{} ({e})", self.codec),
                    track: self.index,
                });
            }
        }
        let trim = (self.to_trim as usize).min(self.mono.len());
        self.to_trim -= trim as u64;
        self.decoded_frames += (self.mono.len() - trim) as u64;
        if self.resampler.is_none() {
            let r = MonoResampler::new(self.rate).map_err(|e| DecodeError::UnsupportedCodec {
                codec: format!("{} at {} Hz ({e})", self.codec, self.rate),
                track: self.index,
            })?;
            self.resampler = Some(r);
        }
        if let Some(r) = self.resampler.as_mut() {
            r.push(&self.mono[trim..], out);
        }
        Ok(())
    }

    fn end(&mut self, out: &mut Vec<f32>) -> Result<(), DecodeError> {
        self.ended = true;
        if let Some(r) = self.resampler.as_mut() {
            r.finish(out);
        }
        if self.good_packets == 0 {
            return Err(DecodeError::NothingDecoded { skipped: self.skipped });
        }
        // A container that promises more audio than it delivers has lost its end.
        if let Some(want) = self.declared
            && self.decoded_frames + self.priming_frames + self.rate as u64 / 10 < want
        {
            return Err(DecodeError::Truncated {
                at_ms: self.decoded_ms(),
                detail: format!("the container declares {} ms", samples_to_ms(want, self.rate.max(1))),
            });
        }
        Ok(())
    }

    /// Facts about the source; the duration is that of the PCM handed out so far (all of it,
    /// once [`read`](Self::read) has returned false).
    pub fn info(&self) -> SourceInfo {
        SourceInfo {
            container: self.container.clone(),
            codec: self.codec.clone(),
            track: self.index,
            sample_rate: self.rate,
            channels: self.channels,
            duration_ms: samples_to_ms(self.produced, TARGET_RATE),
            priming_frames: self.priming_frames,
            skipped_packets: self.skipped,
        }
    }

    /// Decodes everything that is left into memory.
    pub fn read_all(mut self, progress: &dyn Progress, cancel: &Cancel) -> Result<Audio, DecodeError> {
        progress.begin("decoding", self.declared_ms());
        let mut pcm = Vec::new();
        let result = loop {
            if cancel.is_cancelled() {
                break Err(DecodeError::Cancelled);
            }
            match self.read(&mut pcm, TARGET_RATE as usize) {
                Ok(true) => progress.at(self.decoded_ms()),
                Ok(false) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        progress.end();
        result?;
        pcm.shrink_to_fit();
        Ok(Audio { samples: pcm, source: self.info() })
    }
}
