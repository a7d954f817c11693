//! Where vidscribe keeps what it fetches: the user data folder (`$VIDSCRIBE_HOME`, else the
//! platform's data folder: `~/.local/share/vidscribe` on Linux), with `models/` and `cache/`
//! under it. Nothing here depends on where the binary was built.
#![forbid(unsafe_code)]

use std::path::PathBuf;

/// Environment variable naming the data folder (tests point it at a temporary folder).
pub const HOME_ENV: &str = "VIDSCRIBE_HOME";

#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error("no data folder: set ${HOME_ENV} (or HOME)")]
    Unknown,
    #[error("cannot create the data folder {path}; set ${HOME_ENV} to a writable folder")]
    Create { path: PathBuf, source: std::io::Error },
}

/// The data folder, whether or not it exists yet.
pub fn data_dir() -> Option<PathBuf> {
    match std::env::var_os(HOME_ENV) {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => dirs::data_dir().map(|d| d.join("vidscribe")),
    }
}

/// `DATA/name`, created when missing.
fn sub_dir(name: &str) -> Result<PathBuf, HomeError> {
    let dir = data_dir().ok_or(HomeError::Unknown)?.join(name);
    std::fs::create_dir_all(&dir).map_err(|source| HomeError::Create { path: dir.clone(), source })?;
    Ok(dir)
}

/// Where fetched models go.
pub fn models_dir() -> Result<PathBuf, HomeError> {
    sub_dir("models")
}

/// Where downloads are kept so that a second run does not fetch them again.
pub fn cache_dir() -> Result<PathBuf, HomeError> {
    sub_dir("cache")
}
