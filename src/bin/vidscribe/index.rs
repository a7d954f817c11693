//! `vidscribe index`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;

use vidscribe::archive::Db;

pub(crate) fn index(dirs: &[PathBuf], output: &Path, db: Option<&str>, lines: bool) -> Result<ExitCode> {
    let db = Db::of(output, db);
    let done = vidscribe::archive::batch::index(dirs, output, &db)?;
    if lines {
        for (path, why) in &done.skipped {
            eprintln!("vidscribe: skipped {path}: {why}");
        }
        eprintln!("vidscribe: indexed {} reports into {}", done.reports, db.describe());
    }
    Ok(ExitCode::SUCCESS)
}
