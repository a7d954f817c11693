//! The written article a video report belongs to: its numbered paragraphs and embedded videos,
//! and how a transcript links to them.
#![forbid(unsafe_code)]

pub mod attribution;
pub mod heard;
pub mod html;
pub mod link;
pub mod parse;
pub mod wording;

pub use html::parse_html;
pub use link::{LinkKind, Links, link};
pub use parse::{Article, ArticleError, Block, BlockKind, Embed, parse_text};

/// Reads an article in any supported form: HTML when it looks like markup, else text/Markdown.
pub fn parse_any(bytes: &[u8]) -> Result<Article, ArticleError> {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(2048)]).to_lowercase();
    if head.contains("<html") || head.contains("<!doctype html") || head.contains("<body") || head.contains("<article")
    {
        parse_html(bytes)
    } else {
        parse_text(bytes)
    }
}
