//! Finding, checking and describing whisper.cpp model files.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ggml::{self, GgmlError, Layout};

/// The files the tools use when no model is named, in order of preference: tiny.en quantised to
/// q8_0 (what `model fetch tiny.en` makes last), else its f16 source.
pub const DEFAULT_MODEL_FILES: [&str; 2] = ["ggml-tiny.en-q8_0.bin", "ggml-tiny.en.bin"];
/// Environment variable naming the model to use by default.
pub const MODEL_ENV: &str = "VIDSCRIBE_MODEL";

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model {path} not found; run `vidscribe model fetch tiny.en`, or name one with --model or ${MODEL_ENV}")]
    NotFound { path: PathBuf },
    #[error("no model given and none found (looked for {tried}); run `vidscribe model fetch tiny.en`")]
    NoDefault { tried: String },
    #[error("cannot read model {path}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a usable whisper model")]
    Invalid { path: PathBuf, source: GgmlError },
}

/// What a model file is, as `model list` and the JSON output report it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelInfo {
    pub path: PathBuf,
    /// tiny.en, base, …
    pub name: String,
    /// f16, q8_0, q5_1, …
    pub weights: String,
    pub multilingual: bool,
    pub size_bytes: u64,
    pub sha256: String,
}

/// Directories searched for models: `./models` (a checkout of vidscribe), then `models/` in
/// the user data folder, where `vidscribe model fetch` puts them.
pub fn model_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("models")];
    if let Some(home) = crate::home::data_dir() {
        dirs.push(home.join("models"));
    }
    dirs
}

/// The model to use: the one given, else `$VIDSCRIBE_MODEL`, else the first of the default files
/// found in [`model_dirs`] (q8_0 in any of them before f16). Only says where it is; [`inspect`]
/// checks it.
pub fn resolve(given: Option<&Path>) -> Result<PathBuf, ModelError> {
    locate(given, MODEL_ENV, &DEFAULT_MODEL_FILES).map_err(|e| match e {
        Lookup::Missing(path) => ModelError::NotFound { path },
        Lookup::NoneOf(tried) => ModelError::NoDefault { tried },
    })
}

/// Why [`locate`] found no file.
pub enum Lookup {
    /// The file named (by argument or environment) is not there.
    Missing(PathBuf),
    /// None of the default files is in any model folder; the paths tried, comma-separated.
    NoneOf(String),
}

/// Where a model file is: `given`, else the file `$env` names, else the first of `files` found
/// in [`model_dirs`] (each file in every folder before the next file). Used for every kind of
/// model (Whisper, speaker).
pub fn locate(given: Option<&Path>, env: &str, files: &[&str]) -> Result<PathBuf, Lookup> {
    let chosen = given.map(Path::to_path_buf).or_else(|| std::env::var_os(env).map(PathBuf::from));
    if let Some(p) = chosen {
        return if p.is_file() { Ok(p) } else { Err(Lookup::Missing(p)) };
    }
    let dirs = model_dirs();
    let candidates: Vec<PathBuf> = files.iter().flat_map(|f| dirs.iter().map(move |d| d.join(f))).collect();
    candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        Lookup::NoneOf(candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))
    })
}

/// Validates a model file completely (header, vocabulary, every tensor present and inside the
/// file) without handing it to whisper.cpp.
pub fn check(path: &Path) -> Result<Layout, ModelError> {
    let file = File::open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ModelError::NotFound { path: path.to_path_buf() }
        } else {
            ModelError::Read { path: path.to_path_buf(), source }
        }
    })?;
    ggml::read_layout(&mut BufReader::new(file))
        .map_err(|source| ModelError::Invalid { path: path.to_path_buf(), source })
}

pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    crate::hash::sha256_file(path).map_err(|source| ModelError::Read { path: path.to_path_buf(), source })
}

/// Checks a model and describes it.
pub fn inspect(path: &Path) -> Result<(ModelInfo, Layout), ModelError> {
    let layout = check(path)?;
    let h = layout.hparams;
    let info = ModelInfo {
        path: path.to_path_buf(),
        name: h.model_name(),
        weights: h.ftype_name().to_string(),
        multilingual: h.is_multilingual(),
        size_bytes: layout.file_len,
        sha256: sha256_file(path)?,
    };
    Ok((info, layout))
}

/// Checksums of the models vidscribe makes (models/SHA256SUMS, compiled in so that an installed
/// binary knows them too): a file with one of them is known good.
const KNOWN: &str = include_str!("../../models/SHA256SUMS");

/// Whether a file with this sha256 is a model vidscribe made from its pinned sources.
pub fn is_known(sha256: &str) -> bool {
    KNOWN.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split_whitespace().next()).any(|h| h == sha256)
}

/// The pinned sha256 of a file vidscribe fetches or makes, by file name.
pub fn known_sha256(file: &str) -> Option<String> {
    KNOWN
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(char::is_whitespace))
        .find(|(_, name)| name.trim() == file)
        .map(|(h, _)| h.to_string())
}

/// [`inspect`], and for a file that is not a known model, every weight read and checked
/// ([`ggml::check_values`]) before whisper.cpp may load it.
pub fn verify(path: &Path) -> Result<(ModelInfo, Layout), ModelError> {
    let (info, layout) = inspect(path)?;
    if !is_known(&info.sha256) {
        let read_err = |source| ModelError::Read { path: path.to_path_buf(), source };
        let mut f = BufReader::new(File::open(path).map_err(read_err)?);
        ggml::check_values(&mut f, &layout)
            .map_err(|source| ModelError::Invalid { path: path.to_path_buf(), source })?;
    }
    Ok((info, layout))
}

/// Every whisper model in `dirs` (files that are not whisper models are skipped, not errors).
pub fn list(dirs: &[PathBuf]) -> Vec<Result<ModelInfo, ModelError>> {
    let mut paths: Vec<PathBuf> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    paths.sort();
    let mut seen = std::collections::HashSet::new();
    paths.retain(|p| seen.insert(p.canonicalize().unwrap_or_else(|_| p.clone())));
    paths
        .into_iter()
        .filter_map(|p| match inspect(&p) {
            Err(ModelError::Invalid { source: GgmlError::Magic(_), .. }) => None,
            Err(e @ ModelError::Invalid { .. }) => match vad_name(&p) {
                Some(name) => Some(Ok(ModelInfo {
                    name,
                    weights: "vad".into(),
                    multilingual: true,
                    size_bytes: std::fs::metadata(&p).map_or(0, |m| m.len()),
                    sha256: sha256_file(&p).unwrap_or_default(),
                    path: p,
                })),
                None => Some(Err(e)),
            },
            other => Some(other.map(|(info, _)| info)),
        })
        .collect()
}

/// whisper.cpp's VAD models share the ggml magic but continue with a length-prefixed name
/// (`silero-16k`) instead of the Whisper header.
pub fn vad_name(path: &Path) -> Option<String> {
    let mut head = [0u8; 72];
    let n = File::open(path).ok()?.read(&mut head).ok()?;
    if n < 8 || u32::from_le_bytes(head[..4].try_into().ok()?) != ggml::MAGIC {
        return None;
    }
    let len = u32::from_le_bytes(head[4..8].try_into().ok()?) as usize;
    let name = std::str::from_utf8(head.get(8..8 + len)?).ok()?;
    name.starts_with("silero").then(|| name.to_string())
}
