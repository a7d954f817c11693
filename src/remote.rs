//! Inputs given as web addresses: an article page, and the video it embeds. Both are fetched
//! once and kept in the data folder's `cache/web/`, keyed by address, so a second run works
//! from the cache (and offline).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::article::{Article, Embed};
use crate::home::{self, HomeError};
use crate::net::{self, NetError};
use crate::progress::{Cancel, Progress};

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(transparent)]
    Home(#[from] HomeError),
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("{0}: not a web address the page's own address can complete")]
    BadUrl(String),
    #[error("the article has no embedded video; give one with --video FILE|URL")]
    NoEmbed,
    #[error("--embed {given}: the article embeds {count} video(s)")]
    NoSuchEmbed { given: usize, count: usize },
    #[error(transparent)]
    YtDlp(#[from] crate::ytdlp::YtDlpError),
    #[error("article {url}")]
    Article { url: String, source: crate::article::ArticleError },
    #[error("cannot write the cache entry {path}")]
    Cache { path: PathBuf, source: std::io::Error },
}

/// A fetched address, as kept in the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fetched {
    /// The address asked for.
    pub url: String,
    /// Where the content came from, after redirects.
    pub final_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// When it was fetched, UTC, RFC 3339.
    pub fetched_at: String,
    /// The file name to give a copy (players: from what yt-dlp delivered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The tool that fetched it, when not vidscribe itself (`yt-dlp 2026.10.26`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// The content, in the cache.
    #[serde(skip)]
    pub path: PathBuf,
}

/// Fetches through the cache.
pub struct Remote {
    client: net::Client,
    cache: PathBuf,
    timeout: std::time::Duration,
}

impl Remote {
    pub fn new(limits: net::Limits) -> Result<Self, RemoteError> {
        let cache = home::cache_dir()?.join("web");
        std::fs::create_dir_all(&cache).map_err(|source| HomeError::Create { path: cache.clone(), source })?;
        Ok(Self { client: net::Client::new(limits), cache, timeout: limits.timeout })
    }

    /// The article page at `url`, fetched or from the cache.
    pub fn page(&self, url: &str, cancel: &Cancel) -> Result<Fetched, RemoteError> {
        self.cached(url, |body| {
            let got = self.client.get(url, cancel)?;
            std::fs::write(body, &got.bytes)
                .map_err(|source| RemoteError::Cache { path: body.to_path_buf(), source })?;
            Ok(Fetched::now(url, got.url, got.content_type, None, None))
        })
    }

    /// The media file at `url`, downloaded (with progress) or from the cache.
    pub fn media(&self, url: &str, progress: &dyn Progress, cancel: &Cancel) -> Result<Fetched, RemoteError> {
        self.cached(url, |body| {
            let (final_url, content_type) = self.client.download(url, body, progress, cancel)?;
            let name = media_file_name(&final_url, content_type.as_deref());
            Ok(Fetched::now(url, final_url, content_type, Some(name), None))
        })
    }

    /// The media behind a player page (`embed`), fetched with yt-dlp or from the cache.
    pub fn player(
        &self,
        url: &str,
        embed: &Embed,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<Fetched, RemoteError> {
        self.cached(url, |body| {
            let dir = body.parent().unwrap_or(Path::new("."));
            let got = crate::ytdlp::download(url, &embed.provider, dir, self.timeout, progress, cancel)?;
            std::fs::rename(&got.file, body).map_err(|source| RemoteError::Cache { path: got.file.clone(), source })?;
            let ext = got.file.extension().map_or("media".into(), |e| e.to_string_lossy().into_owned());
            let stem: String = match embed.provider.as_str() {
                "youtube" | "vimeo" => {
                    embed.id.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')).collect()
                }
                _ => "video".into(),
            };
            Ok(Fetched::now(url, got.page, None, Some(format!("{stem}.{ext}")), Some(got.via)))
        })
    }

    /// The cache entry of `url` (`meta.json` and `body`), or one made by `fill`, which writes the
    /// body into a temporary folder that becomes the entry whole once it is complete.
    fn cached(
        &self,
        url: &str,
        fill: impl FnOnce(&Path) -> Result<Fetched, RemoteError>,
    ) -> Result<Fetched, RemoteError> {
        let entry = self.entry(url);
        if let Some(hit) = read_entry(&entry) {
            return Ok(hit);
        }
        let err = |source| RemoteError::Cache { path: entry.clone(), source };
        let tmp = tempfile::Builder::new().prefix(".vidscribe-").tempdir_in(&self.cache).map_err(err)?;
        let body = tmp.path().join("body");
        let fetched = fill(&body)?;
        // Readable like any downloaded file (its copy beside report.html may be served).
        set_readable(&body).map_err(err)?;
        // The record keeps no credentials (the cache is keyed by the whole address's hash).
        let record = Fetched {
            url: crate::secret::address(&fetched.url),
            final_url: crate::secret::address(&fetched.final_url),
            ..fetched.clone()
        };
        let meta = serde_json::to_vec_pretty(&record).map_err(|e| err(e.into()))?;
        std::fs::write(tmp.path().join("meta.json"), meta).map_err(err)?;
        let _ = std::fs::remove_dir_all(&entry);
        std::fs::rename(tmp.keep(), &entry).map_err(err)?;
        Ok(Fetched { path: entry.join("body"), ..fetched })
    }

    /// The cache folder of an address: the first 20 hex digits of its sha256.
    fn entry(&self, url: &str) -> PathBuf {
        self.cache.join(&crate::hash::sha256(url.as_bytes())[..20])
    }
}

/// A complete cache entry (`meta.json` and `body`), or nothing.
fn read_entry(entry: &Path) -> Option<Fetched> {
    let meta = std::fs::read(entry.join("meta.json")).ok()?;
    let mut f: Fetched = serde_json::from_slice(&meta).ok()?;
    f.path = entry.join("body");
    f.path.is_file().then_some(f)
}

/// The embed to use (its index in the page's list): number `n` (1-based), else the first in the
/// story body, else the first at all (the page's `og:video`).
pub fn pick_embed(article: &Article, n: Option<usize>) -> Result<usize, RemoteError> {
    if article.embeds.is_empty() {
        return Err(RemoteError::NoEmbed);
    }
    match n {
        Some(n) if (1..=article.embeds.len()).contains(&n) => Ok(n - 1),
        Some(n) => Err(RemoteError::NoSuchEmbed { given: n, count: article.embeds.len() }),
        None => Ok(article.embeds.iter().position(|e| e.block > 0).unwrap_or(0)),
    }
}

/// `href` completed against the page's address (`<video src="clip.mp4">` on
/// `https://site/news/story.html` is `https://site/news/clip.mp4`).
pub fn resolve(base: &str, href: &str) -> Result<String, RemoteError> {
    let base = url::Url::parse(base).map_err(|_| RemoteError::BadUrl(base.into()))?;
    let joined = base.join(href).map_err(|_| RemoteError::BadUrl(href.into()))?;
    match joined.scheme() {
        "http" | "https" => Ok(joined.to_string()),
        _ => Err(RemoteError::BadUrl(href.into())),
    }
}

/// A file name for fetched media: the last part of its address when it looks like one, with the
/// extension its content type implies otherwise.
pub fn media_file_name(url: &str, content_type: Option<&str>) -> String {
    let last = url::Url::parse(url)
        .ok()
        .and_then(|u| u.path_segments().and_then(|mut s| s.next_back().map(str::to_string)))
        .unwrap_or_default();
    let safe: String =
        last.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).take(80).collect();
    let safe = safe.trim_start_matches('.').to_string();
    if safe.contains('.') {
        return safe;
    }
    let ext = content_type.and_then(crate::media::extension_for).unwrap_or("mp4");
    format!("{}.{ext}", if safe.is_empty() { "video" } else { &safe })
}

/// Whether an embed names a media file vidscribe can fetch itself (not a platform player).
pub fn is_media(embed: &Embed) -> bool {
    embed.provider == "video"
}

/// What `run` was given that may be on the web.
#[derive(Debug, Clone, Default)]
pub struct WebInputs {
    /// The article page's address.
    pub page: Option<String>,
    /// The video: a file, or an address (`--video`); else the page's embed.
    pub video: Option<String>,
    /// Which of the page's embeds (1-based), `--embed`.
    pub embed: Option<usize>,
}

/// The inputs, local and ready.
#[derive(Debug, Clone)]
pub struct Gathered {
    /// The article page, in the cache, and where it came from.
    pub article: Option<(PathBuf, WebSource)>,
    /// The media file (in the cache when fetched).
    pub media: PathBuf,
    /// For fetched media: the name to give its copy beside the outputs, and where it came from.
    pub fetched_media: Option<(String, WebSource)>,
    /// The page's embeds, for listing, and which of them was used (none with `--video`).
    pub embeds: Vec<Embed>,
    pub used: Option<usize>,
}

pub use crate::formats::json::WebSource;

impl Fetched {
    /// Fetched just now.
    fn now(
        url: &str,
        final_url: String,
        content_type: Option<String>,
        name: Option<String>,
        via: Option<String>,
    ) -> Self {
        Fetched {
            url: url.into(),
            final_url,
            content_type,
            fetched_at: crate::time::utc_now(),
            name,
            via,
            path: PathBuf::new(),
        }
    }

    /// The name for the copy beside the outputs.
    pub fn file_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| media_file_name(&self.final_url, self.content_type.as_deref()))
    }

    fn source(&self) -> WebSource {
        WebSource {
            url: crate::secret::address(&self.url),
            final_url: crate::secret::address(&self.final_url),
            fetched_at: self.fetched_at.clone(),
            via: self.via.clone(),
        }
    }
}

/// Fetches what needs fetching: the page, then the video it embeds (or the one given).
pub fn gather(
    w: &WebInputs,
    limits: net::Limits,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Gathered, RemoteError> {
    let remote = Remote::new(limits)?;
    let mut got =
        Gathered { article: None, media: PathBuf::new(), fetched_media: None, embeds: Vec::new(), used: None };
    let mut page_url = None;
    if let Some(url) = &w.page {
        let page = remote.page(url, cancel)?;
        let bytes =
            std::fs::read(&page.path).map_err(|source| RemoteError::Cache { path: page.path.clone(), source })?;
        let parsed =
            crate::article::parse_any(&bytes).map_err(|source| RemoteError::Article { url: url.clone(), source })?;
        if w.video.is_none() {
            got.used = Some(pick_embed(&parsed, w.embed)?);
        }
        got.embeds = parsed.embeds;
        page_url = Some(page.final_url.clone());
        got.article = Some((page.path.clone(), page.source()));
    }
    // The video: the embed chosen, or the one given (a file needs no fetching).
    let (address, player) = match (&w.video, got.used) {
        (Some(video), _) if !net::is_url(video) => {
            got.media = PathBuf::from(video);
            return Ok(got);
        }
        (Some(video), _) => {
            let address = match &page_url {
                Some(base) => resolve(base, video)?,
                None => video.clone(),
            };
            // A platform's watch page goes to yt-dlp; any other address is a media file.
            let player = crate::article::parse::find_embeds(&address, 0).into_iter().next();
            (address, player)
        }
        (None, Some(i)) => {
            let e = &got.embeds[i];
            let base = page_url.as_deref().unwrap_or_default();
            (resolve(base, &e.url)?, (!is_media(e)).then(|| e.clone()))
        }
        (None, None) => return Err(RemoteError::NoEmbed),
    };
    let media = match &player {
        Some(p) => remote.player(&address, p, progress, cancel)?,
        None => remote.media(&address, progress, cancel)?,
    };
    got.media = media.path.clone();
    got.fetched_media = Some((media.file_name(), media.source()));
    Ok(got)
}

#[cfg(unix)]
fn set_readable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_readable(_: &Path) -> std::io::Result<()> {
    Ok(())
}
