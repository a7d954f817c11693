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
    #[error("the input sent nothing for {0} s (--input-timeout)")]
    InputTimeout(u64),
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
    #[error("no audio could be decoded ({skipped} damaged packets{})", first.as_ref().map(|f| format!("; the first: {f}")).unwrap_or_default())]
    NothingDecoded { skipped: u64, first: Option<String> },
    #[error("damaged input, refused by --strict: {0}")]
    Refused(String),
    #[error("cancelled")]
    Cancelled,
}

/// Which track to decode.
#[derive(Debug, Clone, Default)]
pub struct DecodeOptions {
    /// Index into the container's track list (0-based, as `vidscribe probe` and ffprobe number
    /// them). `None` picks the first audio track that has a decoder.
    pub track: Option<usize>,
    /// How long an input that is not a regular file (stdin, a FIFO) may send nothing before it
    /// counts as failed; `None` waits.
    pub input_timeout: Option<std::time::Duration>,
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
    /// Stretches lost to damage (decode errors, missing packets, a cut-off end), in the decoded
    /// timeline; since schema 3.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub damaged: Vec<Damage>,
}

/// A stretch of the input that could not be heard.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Damage {
    pub start_ms: Ms,
    pub end_ms: Ms,
    pub cause: DamageCause,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DamageCause {
    /// Packets the decoder refused (a failed checksum, bad data): silence of their length.
    Undecodable,
    /// Packets missing from the timeline (their timestamps jump): silence of the gap.
    Missing,
    /// Data the container reader could not parse; it re-synchronised after it.
    Unreadable,
    /// The file ends before the length its container declares.
    Truncated,
}

impl DamageCause {
    pub fn describe(self) -> &'static str {
        match self {
            DamageCause::Undecodable => "undecodable packets",
            DamageCause::Missing => "missing packets",
            DamageCause::Unreadable => "unreadable data",
            DamageCause::Truncated => "cut off",
        }
    }
}

/// Damage as one line for people: `lost 0:12.3–0:12.5 (undecodable packets), …`.
pub fn describe_damage(damaged: &[Damage]) -> String {
    let t = |ms: Ms| format!("{}.{}", crate::time::short_clock(ms), ms % 1000 / 100);
    let parts: Vec<String> =
        damaged.iter().map(|d| format!("{}–{} ({})", t(d.start_ms), t(d.end_ms), d.cause.describe())).collect();
    let total: Ms = damaged.iter().map(|d| d.end_ms - d.start_ms).sum();
    format!("{} ms of audio lost: {}", total, parts.join(", "))
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

/// A source read only front to back (no length, no seeking).
struct SeekLess<R>(R);

impl<R: std::io::Read> std::io::Read for SeekLess<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: std::io::Seek> std::io::Seek for SeekLess<R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.0.seek(pos)
    }
}

impl<R: std::io::Read + std::io::Seek + Send + Sync> MediaSource for SeekLess<R> {
    fn is_seekable(&self) -> bool {
        false
    }
    fn byte_len(&self) -> Option<u64> {
        None
    }
}

trait ReadSeek: std::io::Read + std::io::Seek + Send + Sync {}
impl<T: std::io::Read + std::io::Seek + Send + Sync> ReadSeek for T {}

/// Opens the input again from its start (to read an index, or to re-synchronise after damage).
type Reopen = Arc<dyn Fn() -> Option<Box<dyn ReadSeek>> + Send + Sync>;

/// Where a damaged Matroska file is read again from (see [`super::matroska`]).
struct Resync {
    reopen: Reopen,
    /// Bytes before the first Cluster.
    header_len: u64,
    /// The next Cluster is looked for from here (past every Cluster resumed at before).
    from: u64,
    /// The packet after a re-synchronisation may jump any distance: the gap is the damage.
    jumped: bool,
    /// Packets after a re-synchronisation that only prime the decoder: the first one's output
    /// overlaps with audio from before the damage, and the second's length depends on the
    /// first's block (Vorbis); the gap then covers both.
    priming: u8,
}

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

/// Whether a RIFF/WAVE header carries the placeholder sizes of a writer that could not seek back
/// (0 or 0xFFFFFFFF in the RIFF or the data chunk).
fn streaming_wav_header(head: &[u8]) -> bool {
    let le = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    if head.len() < 12 || &head[..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return false;
    }
    let placeholder = |v: u32| v == 0 || v == u32::MAX;
    if placeholder(le(&head[4..8])) {
        return true;
    }
    let mut at = 12;
    while at + 8 <= head.len() {
        let size = le(&head[at + 4..at + 8]);
        if &head[at..at + 4] == b"data" {
            return placeholder(size);
        }
        at += 8 + size as usize + (size as usize & 1);
    }
    false
}

/// Frames the container declares for the track, if it says.
fn declared_frames(track: &Track, rate: u32) -> Option<u64> {
    if let Some(n) = track.num_frames {
        return Some(n);
    }
    Some(ticks_to_frames(track.duration?.get(), Some(track.time_base?), rate))
}

/// `ticks` of a time base as frames at `rate` (without a time base, ticks are frames): the one
/// conversion from container time to samples.
fn ticks_to_frames(ticks: u64, tb: Option<symphonia::core::units::TimeBase>, rate: u32) -> u64 {
    match tb {
        Some(tb) => (ticks as u128 * tb.numer.get() as u128 * rate as u128 / tb.denom.get() as u128) as u64,
        None => ticks,
    }
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
    /// The track's time base (packet timestamps and durations are in its ticks).
    time_base: Option<symphonia::core::units::TimeBase>,
    /// The first packet's timestamp and the last one's (ticks), to find gaps and repeats.
    first_pts: Option<i64>,
    last_pts: i64,
    /// Frames decoded or put in as silence, before priming is trimmed: the timeline's length.
    raw_frames: u64,
    /// Timestamps ahead of output (frames) once the stream has settled.
    offset: Option<i64>,
    /// How far packet timestamps are trusted to find gaps and repeats (see [`Self::packet`]).
    timestamps: Timestamps,
    /// Frames of the last good packet (the length of a lost one whose duration is unknown).
    last_frames: usize,
    /// Container read errors in a row (the reader is re-synchronising).
    errors_in_row: u32,
    first_error: Option<String>,
    damaged: Vec<Damage>,
    /// For a streamed input with a timeout: set when it sent nothing in time.
    timed_out: Option<(Arc<std::sync::atomic::AtomicBool>, u64)>,
    /// A Matroska file's way back in after damage.
    resync: Option<Resync>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timestamps {
    Checksummed,
    /// Gaps up to 100 ms only; no repeats dropped.
    ShortGaps,
    Unchecked,
}

/// Container read errors in a row after which the rest of the file counts as lost.
const MAX_ERRORS_IN_ROW: u32 = 200;

impl Stream {
    /// Opens a file on disk and chooses its track. A FIFO or device is read as a stream.
    pub fn open_path(path: &Path, opts: &DecodeOptions) -> Result<Self, DecodeError> {
        let meta = std::fs::metadata(path).map_err(DecodeError::Open)?;
        if !meta.is_file() && !meta.is_dir() {
            return Self::open_stream(super::spool::Origin::Path(path.to_path_buf()), opts);
        }
        let file = File::open(path).map_err(DecodeError::Open)?;
        let len = file.metadata().map_err(DecodeError::Open)?.len();
        if len == 0 {
            return Err(DecodeError::Empty);
        }
        let path = path.to_path_buf();
        Self::open(
            Box::new(file),
            Arc::new(move || File::open(&path).ok().map(|f| Box::new(f) as Box<dyn ReadSeek>)),
            opts,
        )
    }

    /// Opens media that arrives as a stream (stdin, a FIFO): spooled to a temporary file as it
    /// is read, so memory stays bounded and every container works as from a file.
    pub fn open_stream(origin: super::spool::Origin, opts: &DecodeOptions) -> Result<Self, DecodeError> {
        use std::io::{Read, Seek};
        let secs = opts.input_timeout.map_or(0, |t| t.as_secs());
        let mut spool = super::spool::Spool::start(origin, opts.input_timeout).map_err(DecodeError::Open)?;
        let timed_out = spool.timed_out_flag();
        // Wait for the first byte, as `cat` would (or up to the timeout).
        let mut first = [0u8; 1];
        match spool.read(&mut first) {
            Ok(0) => return Err(DecodeError::Empty),
            Ok(_) => {}
            Err(_) if timed_out.load(std::sync::atomic::Ordering::SeqCst) => {
                return Err(DecodeError::InputTimeout(secs));
            }
            Err(e) => return Err(DecodeError::Open(e)),
        }
        spool.seek(std::io::SeekFrom::Start(0)).map_err(DecodeError::Open)?;
        let path = spool.path().to_path_buf();
        let reopen: Reopen = Arc::new(move || File::open(&path).ok().map(|f| Box::new(f) as Box<dyn ReadSeek>));
        let mut stream = Self::open(Box::new(spool), reopen, opts).map_err(|e| {
            if timed_out.load(std::sync::atomic::Ordering::SeqCst) { DecodeError::InputTimeout(secs) } else { e }
        })?;
        stream.timed_out = Some((timed_out, secs));
        Ok(stream)
    }

    /// Opens media held in memory.
    pub fn open_bytes(bytes: Arc<[u8]>, opts: &DecodeOptions) -> Result<Self, DecodeError> {
        if bytes.is_empty() {
            return Err(DecodeError::Empty);
        }
        let again = bytes.clone();
        Self::open(
            Box::new(Cursor::new(bytes)),
            Arc::new(move || Some(Box::new(Cursor::new(again.clone())) as Box<dyn ReadSeek>)),
            opts,
        )
    }

    fn open(source: Box<dyn MediaSource>, reopen: Reopen, opts: &DecodeOptions) -> Result<Self, DecodeError> {
        let mut source = source;
        let mut magic = [0u8; 8];
        let mut n = 0;
        while n < magic.len() {
            match std::io::Read::read(&mut source, &mut magic[n..]).map_err(DecodeError::Open)? {
                0 => break,
                got => n += got,
            }
        }
        std::io::Seek::seek(&mut source, std::io::SeekFrom::Start(0)).map_err(DecodeError::Open)?;
        // Matroska/WebM is read front to back, as a stream: symphonia's reader otherwise checks
        // element sizes against the file's length and follows the index to the end, and so
        // refuses a file cut short (or with a stretch duplicated) before reading a packet.
        // An MP4 whose index comes first likewise: symphonia's reader otherwise walks every
        // top-level box to the end of the file first, and finds no packet in a file cut short.
        // (The box walk is only for files that are MP4: `ftyp` first.)
        let ebml = n >= 4 && magic[..4] == [0x1A, 0x45, 0xDF, 0xA3];
        let mp4 = n == 8 && &magic[4..8] == b"ftyp";
        let front_to_back = ebml || mp4 && reopen().is_some_and(|mut r| mp4::moov_first(&mut r));
        let source: Box<dyn MediaSource> = if front_to_back { Box::new(SeekLess(source)) } else { source };
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
        let timestamps = match container.as_str() {
            "ogg" | "flac" => Timestamps::Checksummed,
            "matroska" => Timestamps::ShortGaps,
            _ => Timestamps::Unchecked,
        };
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
        // A WAV written as a stream (ffmpeg to a pipe) declares sizes of 0 or 0xFFFFFFFF: it
        // declares no length, and its data runs to the end.
        let streamed_wav = container == "wave"
            && reopen().is_some_and(|mut r| {
                let mut head = [0u8; 4096];
                let n = std::io::Read::read(&mut r, &mut head).unwrap_or(0);
                streaming_wav_header(&head[..n])
            });
        let time_base = track.time_base;
        let resync = (container == "matroska")
            .then(|| {
                let header_len = super::matroska::first_cluster(&mut reopen()?)?;
                Some(Resync { reopen: reopen.clone(), header_len, from: header_len, jumped: false, priming: 0 })
            })
            .flatten();
        let declared = if streamed_wav {
            None
        } else {
            declared_frames(&track, rate.max(1)).or_else(|| {
                // Matroska declares the length of the whole segment only.
                let m = format.media_info();
                Some(ticks_to_frames(m.duration?.get(), Some(m.time_base?), rate.max(1)))
            })
        };
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
            time_base,
            first_pts: None,
            last_pts: i64::MIN,
            raw_frames: 0,
            offset: None,
            timestamps,
            last_frames: 0,
            errors_in_row: 0,
            first_error: None,
            damaged: Vec::new(),
            timed_out: None,
            resync,
        })
    }

    /// Whether the reader stopped before the length the container declares (or one is unknown).
    fn early_end(&self) -> bool {
        self.declared.is_none_or(|d| self.decoded_frames + self.rate.max(1) as u64 / 10 < d)
    }

    /// Gives the Matroska reader the file again from the next intact Cluster after what it has
    /// read (see [`super::matroska`]); false when there is none.
    fn resynchronise(&mut self) -> bool {
        let Some(r) = self.resync.as_mut() else { return false };
        let after = if self.first_pts.is_some() { self.last_pts } else { -1 };
        let Some(mut file) = (r.reopen)() else { return false };
        let Some((at, _)) = super::matroska::next_cluster(&mut file, r.from, after) else { return false };
        r.from = at + 1;
        let Ok(spliced) = super::matroska::Spliced::new(file, r.header_len, at) else { return false };
        let mss = MediaSourceStream::new(Box::new(SeekLess(spliced)), Default::default());
        let Ok(format) = symphonia::default::get_probe().probe(
            &Hint::new(),
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        ) else {
            return false;
        };
        if !format.tracks().iter().any(|t| t.id == self.track.id) {
            return false;
        }
        // The decoder goes on as it is; its first packet from here only primes it (see
        // `Resync::priming`).
        self.format = format;
        r.jumped = true;
        r.priming = 2;
        self.errors_in_row = 0;
        true
    }

    /// Frames at the source rate in `ticks` of the track's time base.
    fn frames_of(&self, ticks: u64) -> u64 {
        ticks_to_frames(ticks, self.time_base, self.rate.max(1))
    }

    /// Records `frames` of silence put in the timeline for damage, from the current position.
    fn note_damage(&mut self, frames: u64, cause: DamageCause) {
        let rate = self.rate.max(1);
        let start_ms = samples_to_ms(self.decoded_frames, rate);
        let end_ms = samples_to_ms(self.decoded_frames + frames, rate);
        if end_ms <= start_ms {
            return;
        }
        match self.damaged.last_mut() {
            Some(last) if last.cause == cause && start_ms <= last.end_ms + 50 => last.end_ms = last.end_ms.max(end_ms),
            _ => self.damaged.push(Damage { start_ms, end_ms, cause }),
        }
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
    /// notes what the container declared but did not deliver.
    ///
    /// The decoding contract: every packet that decodes is used; a packet the decoder refuses
    /// becomes silence of its duration (converted from the track's time base); packets missing
    /// from the timeline (a jump in timestamps) become silence of the gap; packets that repeat
    /// stretches already decoded are dropped; data the container reader cannot parse is
    /// skipped while it re-synchronises; a file that ends early ends the audio there. Each is
    /// recorded in [`SourceInfo::damaged`]. Only a file with no decodable packet is refused.
    fn packet(&mut self, out: &mut Vec<f32>) -> Result<(), DecodeError> {
        let packet = match self.format.next_packet() {
            Ok(Some(p)) => {
                self.errors_in_row = 0;
                p
            }
            Err(_) if self.timed_out.as_ref().is_some_and(|(f, _)| f.load(std::sync::atomic::Ordering::SeqCst)) => {
                return Err(DecodeError::InputTimeout(self.timed_out.as_ref().map_or(0, |(_, s)| *s)));
            }
            Ok(None) | Err(SymError::IoError(_))
                if self.resync.is_some() && self.early_end() && self.resynchronise() =>
            {
                return Ok(());
            }
            Ok(None) | Err(SymError::ResetRequired) => return self.end(out),
            Err(SymError::IoError(e)) if e.kind() == ErrorKind::UnexpectedEof => return self.end(out),
            Err(e) if self.resync.is_some() => {
                // Matroska's reader does not find its feet by itself: it is given the file again
                // from the next intact Cluster, or the rest counts as lost.
                self.first_error.get_or_insert_with(|| e.to_string());
                if !self.resynchronise() {
                    return self.end(out);
                }
                return Ok(());
            }
            Err(e) => {
                // The reader may find its feet again further on (Ogg pages, MP3 and FLAC frames).
                self.errors_in_row += 1;
                self.first_error.get_or_insert_with(|| e.to_string());
                if self.errors_in_row >= MAX_ERRORS_IN_ROW {
                    return self.end(out);
                }
                return Ok(());
            }
        };
        if packet.track_id != self.track.id {
            return Ok(());
        }
        if let Some(r) = self.resync.as_mut().filter(|r| r.priming > 0) {
            r.priming -= 1;
            let _ = self.decoder.decode(&packet);
            return Ok(());
        }
        self.mono.clear();
        let pts = packet.pts.get();
        let dur = packet.dur.get();
        // Where this packet belongs, against how much the decoder has produced: the timestamps
        // say where audio should be, the decoded frames where it is. Timestamps a checksum
        // protects (Ogg granule positions, FLAC frame numbers) are trusted: a jump is lost audio,
        // a step back a repeat. Matroska's are not protected: a damaged block header loses its
        // block (a short jump, filled), but a damaged cluster timecode moves every timestamp of
        // the cluster without losing anything, so long jumps and steps back are left alone.
        // MP4 delivers every packet through its index.
        match self.first_pts {
            _ if self.timestamps == Timestamps::Unchecked => {}
            None => self.first_pts = Some(pts),
            Some(first) => {
                if pts < self.last_pts && self.timestamps == Timestamps::Checksummed {
                    // Earlier than the packet before it: a repeated stretch (a duplicated chunk).
                    return Ok(());
                }
                // Codecs whose first packets decode short (Vorbis) start with a constant offset
                // between timestamps and output: it is measured on the third good packet, and
                // only a jump beyond it (half a packet, at least 5 ms) is a gap.
                let offset = self.frames_of((pts - first).max(0) as u64) as i64 - self.raw_frames as i64;
                match self.offset {
                    None if self.good_packets >= 2 => self.offset = Some(offset),
                    Some(base) => {
                        let slack = (self.rate.max(1) as i64 / 200).max(self.last_frames as i64 / 2);
                        let jumped = self.resync.as_mut().is_some_and(|r| std::mem::take(&mut r.jumped));
                        let most = match self.timestamps {
                            _ if jumped => i64::MAX,
                            Timestamps::Checksummed => i64::MAX,
                            _ => self.rate.max(1) as i64 / 10,
                        };
                        let cause = if jumped { DamageCause::Unreadable } else { DamageCause::Missing };
                        if offset - base > slack && offset - base <= most {
                            self.insert_silence((offset - base) as u64, cause, out)?;
                        }
                    }
                    None => {}
                }
            }
        }
        self.last_pts = pts;
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
                self.last_frames = self.mono.len();
            }
            Err(e) => {
                // Whatever the decoder says (a failed check, "unsupported feature" from garbage
                // bits), a packet it refuses after the track opened is damage, not a property
                // of the file: silence of its length keeps the timeline.
                self.skipped += 1;
                self.first_error.get_or_insert_with(|| e.to_string());
                let frames = if dur > 0 { self.frames_of(dur) as usize } else { self.last_frames };
                self.mono.resize(frames, 0.0);
                self.note_damage(frames as u64, DamageCause::Undecodable);
            }
        }
        self.push_mono(out)
    }

    /// Puts `frames` of silence (at the source rate) in the timeline for damage of `cause`.
    fn insert_silence(&mut self, frames: u64, cause: DamageCause, out: &mut Vec<f32>) -> Result<(), DecodeError> {
        // More than an hour of silence from one jump is a corrupt timestamp, not lost audio.
        let frames = frames.min(self.rate.max(1) as u64 * 3600);
        self.note_damage(frames, cause);
        self.mono.clear();
        self.mono.resize(frames as usize, 0.0);
        let pushed = self.push_mono(out);
        self.mono.clear();
        pushed
    }

    /// Trims priming from `self.mono` and resamples it into `out`.
    fn push_mono(&mut self, out: &mut Vec<f32>) -> Result<(), DecodeError> {
        self.raw_frames += self.mono.len() as u64;
        let trim = (self.to_trim as usize).min(self.mono.len());
        self.to_trim -= trim as u64;
        self.decoded_frames += (self.mono.len() - trim) as u64;
        if self.resampler.is_none() {
            if self.rate == 0 {
                return Ok(());
            }
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
        if self.good_packets == 0 {
            return Err(DecodeError::NothingDecoded { skipped: self.skipped, first: self.first_error.clone() });
        }
        // A container that promises more audio than it delivers has lost its end: the audio
        // stops where the data does, and the lost stretch is reported.
        let cause = if self.errors_in_row > 0 { DamageCause::Unreadable } else { DamageCause::Truncated };
        if let Some(want) = self.declared
            && self.decoded_frames + self.priming_frames + self.rate as u64 / 25 < want
        {
            let missing = want - self.decoded_frames - self.priming_frames;
            let rate = self.rate.max(1);
            let start_ms = samples_to_ms(self.decoded_frames, rate);
            self.damaged.push(Damage { start_ms, end_ms: start_ms + samples_to_ms(missing, rate), cause });
        } else if self.errors_in_row > 0 {
            let at = samples_to_ms(self.decoded_frames, self.rate.max(1));
            self.damaged.push(Damage { start_ms: at, end_ms: at, cause: DamageCause::Unreadable });
        }
        if let Some(r) = self.resampler.as_mut() {
            r.finish(out);
        }
        Ok(())
    }

    /// What has been lost to damage so far.
    pub fn damaged(&self) -> &[Damage] {
        &self.damaged
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
            damaged: self.damaged.clone(),
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
