//! The written article a video report belongs to: its numbered paragraphs and embedded videos.
//! (Linking the transcript to it comes in `link`, still to be written.)

pub mod parse;

pub use parse::{Article, ArticleError, Block, BlockKind, Embed, parse_text};
