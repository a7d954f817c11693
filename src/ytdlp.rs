//! Fetching a video from a player page (YouTube, Vimeo, a news site's own player) with yt-dlp,
//! driven through its machine interfaces: `--print after_move:` for the file and what it is,
//! `--progress-template` for the bar, the exit code and its `ERROR:` line for failures. Audio is
//! preferred (`-f ba/b`), so no ffmpeg is needed to merge streams.
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::progress::{Cancel, Progress};

/// The yt-dlp version vidscribe is tested with (`scripts/setup.sh web` installs it).
pub const PINNED: &str = "2026.10.26";
/// Environment variable naming the yt-dlp executable to use.
pub const YTDLP_ENV: &str = "VIDSCRIBE_YTDLP";

#[derive(Debug, thiserror::Error)]
pub enum YtDlpError {
    #[error(
        "{url} is a {provider} player, which needs yt-dlp: run scripts/setup.sh web, put yt-dlp {PINNED} on PATH \
         or name it with ${YTDLP_ENV}; or download the video and give it with --video"
    )]
    Missing { url: String, provider: String },
    #[error("cannot run yt-dlp ({exe})")]
    Start { exe: PathBuf, source: std::io::Error },
    #[error("yt-dlp could not fetch {url}: {message}")]
    Failed { url: String, message: String },
    #[error("cancelled")]
    Cancelled,
}

/// What yt-dlp delivered.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub file: PathBuf,
    /// The extractor that understood the page (`youtube`, `generic`, `html5`…).
    pub extractor: String,
    /// The page's own address, as yt-dlp names it.
    pub page: String,
    /// `yt-dlp VERSION`.
    pub via: String,
}

/// The yt-dlp to use: `$VIDSCRIBE_YTDLP`, else the data folder's managed one, else PATH's.
pub fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(YTDLP_ENV).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let managed = crate::home::data_dir().map(|d| d.join("yt-dlp/bin/yt-dlp"));
    if let Some(m) = managed.filter(|m| m.is_file()) {
        return Some(m);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("yt-dlp"))
        .find(|p| p.is_file())
}

/// Downloads the media of the player page `url` into `dir` (`media.EXT`).
pub fn download(
    url: &str,
    provider: &str,
    dir: &Path,
    timeout: Duration,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Delivered, YtDlpError> {
    let exe = find().ok_or_else(|| YtDlpError::Missing { url: url.into(), provider: provider.into() })?;
    let version = Command::new(&exe)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|source| YtDlpError::Start { exe: exe.clone(), source })?;
    let via = format!("yt-dlp {}", String::from_utf8_lossy(&version.stdout).trim());
    let mut child = Command::new(&exe)
        .args(["--ignore-config", "--no-playlist", "--no-cache-dir", "-f", "ba/b", "--no-part", "-o"])
        .arg(dir.join("media.%(ext)s"))
        .args(["--print", "after_move:vidscribe-file %(filepath)s"])
        .args(["--print", "after_move:vidscribe-info %(extractor)s %(webpage_url)s"])
        .args(["--progress", "--newline", "--progress-template"])
        .arg("download:vidscribe-progress %(progress.downloaded_bytes)s %(progress.total_bytes)s %(progress.total_bytes_estimate)s")
        .arg("--socket-timeout")
        .arg(timeout.as_secs().max(1).to_string())
        .arg("--")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| YtDlpError::Start { exe: exe.clone(), source })?;
    let (tx, rx) = mpsc::channel::<(bool, String)>();
    for (is_err, stream) in [
        (false, child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>)),
        (true, child.stderr.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>)),
    ] {
        let tx = tx.clone();
        if let Some(s) = stream {
            std::thread::spawn(move || {
                for line in BufReader::new(s).lines().map_while(Result::ok) {
                    if tx.send((is_err, line)).is_err() {
                        break;
                    }
                }
            });
        }
    }
    drop(tx);
    let (mut file, mut info, mut error) = (None, None, None);
    let mut began = false;
    loop {
        if cancel.is_cancelled() {
            let _ = child.kill();
            let _ = child.wait();
            if began {
                progress.end();
            }
            return Err(YtDlpError::Cancelled);
        }
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok((_, line)) if line.starts_with("vidscribe-progress ") => {
                let f: Vec<Option<u64>> = line.split_whitespace().skip(1).map(|x| x.parse().ok()).collect();
                let done = f.first().copied().flatten().unwrap_or(0);
                if !began {
                    progress.begin_bytes("downloading", f.get(1).copied().flatten().or(f.get(2).copied().flatten()));
                    began = true;
                }
                progress.at(done);
            }
            Ok((_, line)) if line.starts_with("vidscribe-file ") => file = Some(PathBuf::from(&line[15..])),
            Ok((_, line)) if line.starts_with("vidscribe-info ") => info = Some(line[15..].to_string()),
            Ok((true, line)) if line.starts_with("ERROR:") => {
                error = Some(line.trim_start_matches("ERROR:").trim().to_string());
            }
            Ok(_) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if began {
        progress.end();
    }
    let status = child.wait().map_err(|source| YtDlpError::Start { exe: exe.clone(), source })?;
    let failed = |message: String| YtDlpError::Failed { url: url.into(), message };
    if !status.success() {
        return Err(failed(error.unwrap_or_else(|| match status.code() {
            Some(code) => format!("it exited with code {code}"),
            None => "it was stopped by a signal".into(),
        })));
    }
    let file = file.filter(|f| f.is_file()).ok_or_else(|| failed("it reported no file".into()))?;
    let (extractor, page) = info
        .as_deref()
        .and_then(|i| i.split_once(' '))
        .map_or((String::new(), url.to_string()), |(e, p)| (e.to_string(), p.to_string()));
    Ok(Delivered { file, extractor, page, via })
}
