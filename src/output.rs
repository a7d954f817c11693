//! Output sets: every file of a job is rendered to a temporary file beside its target first and
//! renamed into place only when all of them are complete, so a folder holds either the old set
//! or the whole new one. A lock on the folder keeps two runs from interleaving their sets, and no
//! output may replace one of the job's inputs.
//!
//! Temporary files (`.vidscribe-*.part`) exist only while their writer holds the folder's lock,
//! so any found by a writer that holds it were left by a process that was killed: they are
//! removed.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use tempfile::NamedTempFile;

use crate::progress::Cancel;

const TEMP_PREFIX: &str = ".vidscribe-";
const TEMP_SUFFIX: &str = ".part";

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create output directory {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot lock output directory {path}")]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("refusing to write {path}: it is one of the inputs (choose another output directory)")]
    WouldReplaceInput { path: PathBuf },
    #[error("{path} would be written twice in one output set")]
    Twice { path: PathBuf },
    #[error("interrupted before the outputs were written")]
    Cancelled,
}

/// Sets being renamed into place right now (a signal handler waits for them rather than exit).
static COMMITTING: AtomicUsize = AtomicUsize::new(0);

/// True while some output set is being renamed into place: a process that exits now would leave
/// a mixed set, so a signal handler should let it finish.
pub fn committing() -> bool {
    COMMITTING.load(Ordering::SeqCst) > 0
}

/// Identity of an existing file (device and inode on Unix, the canonical path elsewhere).
fn identity(path: &Path) -> Option<(u64, u64, PathBuf)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some((m.dev(), m.ino(), PathBuf::new()))
    }
    #[cfg(not(unix))]
    {
        Some((0, 0, path.canonicalize().ok()?))
    }
}

/// Fails if any of `targets` is the same file as one of `inputs` (checked before a long job, and
/// again when the set is renamed into place).
pub fn refuse_inputs(targets: &[PathBuf], inputs: &[PathBuf]) -> Result<(), OutputError> {
    let ids: Vec<_> = inputs.iter().filter_map(|p| identity(p)).collect();
    for t in targets {
        if let Some(id) = identity(t)
            && ids.contains(&id)
        {
            return Err(OutputError::WouldReplaceInput { path: t.clone() });
        }
    }
    Ok(())
}

/// Files rendered into one directory, renamed into place together by [`OutputSet::commit`].
/// Dropping a set without committing removes its temporary files and leaves the old files.
pub struct OutputSet {
    dir: PathBuf,
    inputs: Vec<PathBuf>,
    staged: Vec<(NamedTempFile, PathBuf)>,
    _lock: File,
    /// The set made its folder, and leaves none behind, empty, when it is not committed.
    created: bool,
    committed: bool,
}

impl Drop for OutputSet {
    fn drop(&mut self) {
        if self.created && !self.committed {
            // Only an empty folder is removed (remove_dir refuses any other).
            self.staged.clear();
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

impl OutputSet {
    /// Creates `dir` if needed, waits for the lock of any other writer into it, and removes
    /// temporary files left there by killed runs. `inputs` are never overwritten.
    pub fn begin(dir: &Path, inputs: &[PathBuf]) -> Result<Self, OutputError> {
        let created = !dir.exists();
        std::fs::create_dir_all(dir).map_err(|source| OutputError::CreateDir { path: dir.to_path_buf(), source })?;
        let lock_err = |source| OutputError::Lock { path: dir.to_path_buf(), source };
        let lock = File::open(dir).map_err(lock_err)?;
        lock.lock().map_err(lock_err)?;
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            inputs: inputs.to_vec(),
            staged: Vec::new(),
            _lock: lock,
            created,
            committed: false,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn temp(&self, target: &Path) -> Result<NamedTempFile, OutputError> {
        if self.staged.iter().any(|(_, t)| t == target) {
            return Err(OutputError::Twice { path: target.to_path_buf() });
        }
        refuse_inputs(&[target.to_path_buf()], &self.inputs)?;
        tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .suffix(TEMP_SUFFIX)
            .tempfile_in(&self.dir)
            .map_err(|source| OutputError::Io { path: target.to_path_buf(), source })
    }

    /// Renders `name` (a file name inside the directory) with `fill`. Errors from `fill` are
    /// reported as failures to write that file.
    pub fn add<F>(&mut self, name: &str, fill: F) -> Result<PathBuf, OutputError>
    where
        F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
    {
        let target = self.dir.join(name);
        let io = |source| OutputError::Io { path: target.clone(), source };
        let tmp = self.temp(&target)?;
        let mut w = BufWriter::new(tmp);
        fill(&mut w).map_err(io)?;
        let tmp = w.into_inner().map_err(|e| io(e.into_error()))?;
        #[cfg(unix)]
        {
            // Temporary files are private (0600); a finished output is an ordinary file.
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(io)?;
        }
        tmp.as_file().sync_all().map_err(io)?;
        self.staged.push((tmp, target.clone()));
        Ok(target)
    }

    /// Puts a copy of `source` into the set as `name`. Always a copy of the bytes (the kernel
    /// shares extents where the file system can, as a reflink), never a hard link: a link
    /// would follow the source when it is rewritten in place, and the archived copy would no
    /// longer be the media its transcript was made from.
    pub fn add_copy(&mut self, name: &str, source: &Path) -> Result<PathBuf, OutputError> {
        let target = self.dir.join(name);
        let tmp = self.temp(&target)?;
        let io = |e| OutputError::Io { path: target.clone(), source: e };
        std::fs::copy(source, tmp.path()).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        self.staged.push((tmp, target.clone()));
        Ok(target)
    }

    /// Renames every file into place, unless `cancel` was set before the first rename (then
    /// nothing is written). Once renaming has begun it runs to the end.
    pub fn commit(mut self, cancel: &Cancel) -> Result<Vec<PathBuf>, OutputError> {
        if cancel.is_cancelled() {
            return Err(OutputError::Cancelled);
        }
        let targets: Vec<PathBuf> = self.staged.iter().map(|(_, t)| t.clone()).collect();
        refuse_inputs(&targets, &self.inputs)?;
        self.committed = true;
        let staged = std::mem::take(&mut self.staged);
        COMMITTING.fetch_add(1, Ordering::SeqCst);
        let result = (|| {
            for (tmp, target) in staged {
                tmp.persist(&target).map_err(|e| OutputError::Io { path: target.clone(), source: e.error })?;
            }
            if let Ok(d) = File::open(&self.dir) {
                let _ = d.sync_all();
            }
            Ok(targets)
        })();
        COMMITTING.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

/// A single file written through an [`OutputSet`], for producers whose errors are their own
/// (model import, quantisation).
#[derive(Debug, thiserror::Error)]
pub enum FileError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Inner(E),
}

/// Runs `fill` on a temporary file beside `path` and renames it to `path` when `fill` succeeds.
/// On any error `path` is left untouched.
pub fn write_atomically<T, E, F>(path: &Path, fill: F) -> Result<T, FileError<E>>
where
    E: std::error::Error + 'static,
    F: FnOnce(&mut dyn Write) -> Result<T, E>,
{
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut set = OutputSet::begin(dir, &[])?;
    let mut outcome = None;
    let staged = set.add(&name, |w| match fill(w) {
        Ok(v) => {
            outcome = Some(Ok(v));
            Ok(())
        }
        Err(e) => {
            outcome = Some(Err(e));
            Err(std::io::Error::other("not written"))
        }
    });
    match (outcome, staged) {
        (Some(Err(e)), _) => Err(FileError::Inner(e)),
        (_, Err(e)) => Err(e.into()),
        (Some(Ok(v)), Ok(_)) => {
            set.commit(&Cancel::new())?;
            Ok(v)
        }
        (None, Ok(p)) => Err(OutputError::Io { path: p, source: std::io::Error::other("nothing was rendered") }.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn failure_leaves_old_files_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "old a").unwrap();
        let mut set = OutputSet::begin(dir.path(), &[]).unwrap();
        set.add("a.txt", |w| w.write_all(b"new a")).unwrap();
        let err = set.add("b.txt", |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(matches!(err, Err(OutputError::Io { .. })));
        drop(set);
        assert_eq!(names(dir.path()), ["a.txt"]);
        assert_eq!(std::fs::read_to_string(dir.path().join("a.txt")).unwrap(), "old a");
    }

    #[test]
    fn commit_writes_all_and_cancel_writes_none() {
        let dir = tempfile::tempdir().unwrap();
        let cancel = Cancel::new();
        let mut set = OutputSet::begin(dir.path(), &[]).unwrap();
        set.add("a.txt", |w| w.write_all(b"a")).unwrap();
        set.add("b.txt", |w| w.write_all(b"b")).unwrap();
        cancel.cancel();
        assert!(matches!(set.commit(&cancel), Err(OutputError::Cancelled)));
        assert!(names(dir.path()).is_empty());
        let cancel = Cancel::new();
        let mut set = OutputSet::begin(dir.path(), &[]).unwrap();
        set.add("a.txt", |w| w.write_all(b"a")).unwrap();
        set.add("b.txt", |w| w.write_all(b"b")).unwrap();
        set.commit(&cancel).unwrap();
        assert_eq!(names(dir.path()), ["a.txt", "b.txt"]);
    }

    #[test]
    fn stale_temporaries_are_removed_and_inputs_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".vidscribe-abc.part"), "left by a killed run").unwrap();
        let input = dir.path().join("clip.json");
        std::fs::write(&input, "the input").unwrap();
        let mut set = OutputSet::begin(dir.path(), std::slice::from_ref(&input)).unwrap();
        assert_eq!(names(dir.path()), ["clip.json"]);
        let err = set.add("clip.json", |w| w.write_all(b"x")).unwrap_err();
        assert!(err.to_string().contains("one of the inputs"), "{err}");
        assert!(matches!(
            set.add("x.txt", |_| Ok(())).and_then(|_| set.add("x.txt", |_| Ok(()))),
            Err(OutputError::Twice { .. })
        ));
        assert_eq!(std::fs::read_to_string(&input).unwrap(), "the input");
    }

    #[test]
    fn copies_are_copies_not_links() {
        use std::io::{Seek, Write as _};
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.bin");
        std::fs::write(&src, b"media").unwrap();
        let out = dir.path().join("out");
        let mut set = OutputSet::begin(&out, &[]).unwrap();
        set.add_copy("media.bin", &src).unwrap();
        set.commit(&Cancel::new()).unwrap();
        assert_eq!(std::fs::read(out.join("media.bin")).unwrap(), b"media");
        assert_ne!(identity(&src), identity(&out.join("media.bin")));
        // Rewritten in place (as `ffmpeg -y` does): the archived copy stays what it was.
        let mut f = std::fs::OpenOptions::new().write(true).open(&src).unwrap();
        f.rewind().unwrap();
        f.write_all(b"MEDIA").unwrap();
        drop(f);
        assert_eq!(std::fs::read(out.join("media.bin")).unwrap(), b"media");
    }

    #[test]
    fn a_set_that_fails_leaves_no_empty_folder() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("new");
        let mut set = OutputSet::begin(&out, &[]).unwrap();
        set.add("a.txt", |w| w.write_all(b"a")).unwrap();
        drop(set);
        assert!(!out.exists());
        // A folder that was there before stays.
        std::fs::create_dir(&out).unwrap();
        drop(OutputSet::begin(&out, &[]).unwrap());
        assert!(out.is_dir());
    }
}
