//! A real PostgreSQL server for a test: Debian's postgresql package, started by
//! scripts/pg-server.sh (initdb and pg_ctl as the postgres user, data in a temporary folder,
//! listening on 127.0.0.1 only), stopped when dropped. Its absence fails the test.

use std::path::PathBuf;
use std::process::Command;

pub struct PgServer {
    dir: tempfile::TempDir,
    pub url: String,
}

impl PgServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = super::run_tool(
            Command::new(super::root().join("scripts/pg-server.sh")).arg("start").arg(dir.path().join("pg")),
            "PostgreSQL did not start (scripts/setup.sh test installs it)",
        );
        let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
        assert!(url.starts_with("postgres://vidscribe@127.0.0.1:"), "{url}");
        Self { dir, url }
    }

    /// A streaming replica of `primary` (pg_basebackup, then a hot standby), started by the
    /// same script.
    pub fn replica(primary: &PgServer) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = super::run_tool(
            Command::new(super::root().join("scripts/pg-server.sh"))
                .arg("replica")
                .arg(dir.path().join("pg"))
                .arg(primary.folder()),
            "the PostgreSQL replica did not start",
        );
        let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
        Self { dir, url }
    }

    /// A client of its own, for looking at the tables.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("connect to the test server")
    }

    pub fn folder(&self) -> PathBuf {
        self.dir.path().join("pg")
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = Command::new(super::root().join("scripts/pg-server.sh")).arg("stop").arg(self.folder()).output();
    }
}
