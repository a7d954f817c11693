//! `vidscribe serve`: the archive in a browser.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};

use vidscribe::archive::Db;

use crate::CANCEL;
use crate::cli::ServeArgs;

pub(crate) fn serve(args: &ServeArgs) -> Result<ExitCode> {
    let (db, folder) = Db::locate(args.archive.as_deref(), args.db.as_deref()).context("give the archive")?;
    let idle = std::time::Duration::from_secs(u64::from(args.idle_timeout));
    let options = vidscribe::archive::serve::Options {
        bind: args.bind.clone(),
        port: args.port,
        hosts: args.hosts.clone(),
        max_connections: args.max_connections as usize,
        header_timeout: idle.min(std::time::Duration::from_secs(10)),
        idle_timeout: idle,
        edit: args.edit.then(|| args.editor.clone().unwrap_or_else(vidscribe::job::os_user)),
        read_db: args.read_db.as_deref().map(Db::parse),
    };
    let server = vidscribe::archive::serve::Server::bind(folder.as_deref(), &db, options)?;
    // The address first, on stdout, so scripts and tests can wait for it.
    outln!("listening on http://{}/", server.addr());
    if args.edit {
        // On stderr: stdout's first line is the one scripts wait for, and may be all they read.
        eprintln!("vidscribe: editing at http://{}/edit/REPORT (a report's id, as search gives it)", server.addr());
    }
    std::io::stdout().flush().context("writing to stdout")?;
    server.run(&CANCEL)?;
    Ok(ExitCode::SUCCESS)
}
