//! Where vidscribe keeps what it fetches: the user data folder (`$VIDSCRIBE_HOME`, else the
//! platform's data folder: `~/.local/share/vidscribe` on Linux), with `models/` and `cache/`
//! under it. Nothing here depends on where the binary was built.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

/// Environment variable naming the data folder (tests point it at a temporary folder).
pub const HOME_ENV: &str = "VIDSCRIBE_HOME";

#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error("no data folder: set ${HOME_ENV} (or HOME)")]
    Unknown,
    #[error("cannot create the data folder {path}; set ${HOME_ENV} to a writable folder")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}")]
    Write { path: PathBuf, source: std::io::Error },
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

/// Writes `bytes` to `path` whole or not at all: a temporary file beside it, then a rename, so a
/// reader (another vidscribe at the same moment) never sees half a file.
pub fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), HomeError> {
    let err = |source| HomeError::Write { path: path.to_path_buf(), source };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".vidscribe-").suffix(".part").tempfile_in(dir).map_err(err)?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}
