//! Files are never left half-written: everything goes to a temporary file beside the target,
//! which is renamed into place only once complete.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum OutputError<E: std::error::Error + 'static> {
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Inner(E),
}

/// Runs `fill` on a buffered temporary file in `path`'s directory and renames it to `path` when
/// `fill` succeeds. On any error the temporary file is removed and `path` is left untouched.
pub fn write_atomically<T, E, F>(path: &Path, fill: F) -> Result<T, OutputError<E>>
where
    E: std::error::Error + 'static,
    F: FnOnce(&mut dyn Write) -> Result<T, E>,
{
    let io = |source| OutputError::Io { path: path.to_path_buf(), source };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new().prefix(".vidscribe-").suffix(".part").tempfile_in(dir).map_err(io)?;
    let mut w = BufWriter::new(tmp);
    let value = fill(&mut w).map_err(OutputError::Inner)?;
    let tmp = w.into_inner().map_err(|e| io(e.into_error()))?;
    #[cfg(unix)]
    {
        // Temporary files are private (0600); a finished output is an ordinary file.
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(io)?;
    }
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("boom")]
    struct Boom;

    #[test]
    fn failure_leaves_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        std::fs::write(&target, "old").unwrap();
        let r: Result<(), _> = write_atomically(&target, |w| {
            w.write_all(b"new but broken").unwrap();
            Err(Boom)
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        write_atomically::<_, Boom, _>(&target, |w| {
            let _: () = w.write_all(b"new").unwrap();
            Ok(())
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
    }
}
