//! Plain text and Markdown articles → numbered blocks (title, headings, paragraphs, quotes),
//! with page boilerplate (comment sections, log-in prompts) recognised and marked, and embedded
//! YouTube/Vimeo videos found.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

/// Largest article read (bytes): a saved page with its inline styles and scripts is well under.
pub const MAX_ARTICLE_BYTES: usize = 16 << 20;
/// Most blocks (paragraphs, headings…) in one article.
pub const MAX_BLOCKS: usize = 5_000;
/// Most words in one block: linking aligns every passage with every paragraph.
pub const MAX_BLOCK_WORDS: usize = 10_000;
/// Deepest nesting of HTML elements read (checked before the tree is built, where deep
/// nesting costs quadratic time).
pub const MAX_HTML_DEPTH: usize = 512;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ArticleError {
    #[error("the article is not UTF-8 text (first bad byte at offset {0})")]
    Encoding(usize),
    #[error("the article is empty")]
    Empty,
    #[error("the article is over {} MB", MAX_ARTICLE_BYTES >> 20)]
    TooLarge,
    #[error("the article has more than {MAX_BLOCKS} paragraphs")]
    TooManyBlocks,
    #[error("paragraph {block} of the article has more than {MAX_BLOCK_WORDS} words")]
    BlockTooLong { block: usize },
    #[error("the article's HTML nests elements more than {MAX_HTML_DEPTH} deep")]
    TooDeep,
}

/// Applies the block limits to a parsed article.
pub(crate) fn within_limits(blocks: &[Block]) -> Result<(), ArticleError> {
    if blocks.len() > MAX_BLOCKS {
        return Err(ArticleError::TooManyBlocks);
    }
    match blocks.iter().find(|b| b.text.split_whitespace().nth(MAX_BLOCK_WORDS).is_some()) {
        Some(b) => Err(ArticleError::BlockTooLong { block: b.number }),
        None => Ok(()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlockKind {
    Title,
    Heading,
    Paragraph,
    Quote,
    Caption,
    /// Navigation, sharing, comment sections: kept for reference, never linked.
    Boilerplate,
}

/// One numbered block of the article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Block {
    /// 1-based, in reading order, boilerplate included.
    pub number: usize,
    pub kind: BlockKind,
    pub text: String,
}

/// A video embedded in the article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Embed {
    /// `youtube` or `vimeo` (a platform player), `iframe` (another player page) or `video` (a
    /// media file, from `<video>`/`<source>` or `og:video`).
    pub provider: String,
    pub id: String,
    /// The block it appears in or after (0: the page's metadata, `og:video`).
    pub block: usize,
    /// Where to fetch it, as the page wrote it (relative to the page for `<video src>`); since
    /// schema 3.
    #[serde(default)]
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Article {
    pub blocks: Vec<Block>,
    pub embeds: Vec<Embed>,
}

impl Article {
    pub fn title(&self) -> Option<&str> {
        self.blocks.iter().find(|b| b.kind == BlockKind::Title).map(|b| b.text.as_str())
    }

    /// Blocks that carry the story (not boilerplate).
    pub fn body(&self) -> impl Iterator<Item = &Block> {
        self.blocks.iter().filter(|b| b.kind != BlockKind::Boilerplate)
    }
}

/// Phrases of comment sections, log-in prompts and sharing widgets (Global Voices, WordPress).
const BOILERPLATE: &[&str] = &[
    "start the conversation",
    "please log in",
    "log in to comment",
    "all comments are reviewed",
    "comments containing hate speech",
    "do not submit your comment more than once",
    "please treat others with respect",
    "leave a comment",
    "share this",
    "share on facebook",
    "share on twitter",
    "subscribe to our newsletter",
    "read more:",
    "related posts",
    "cancel reply",
];

pub(crate) fn is_boilerplate(text: &str) -> bool {
    let t = text.to_lowercase();
    BOILERPLATE.iter().any(|p| t.contains(p))
}

/// For each position, the position of the next `c` at or after it (linear time, so a line of a
/// million `[` is no harder than any other).
fn next_of(chars: &[char], c: char) -> Vec<Option<usize>> {
    let mut next = vec![None; chars.len() + 1];
    for i in (0..chars.len()).rev() {
        next[i] = if chars[i] == c { Some(i) } else { next[i + 1] };
    }
    next
}

/// Markdown inline syntax removed: links keep their text, emphasis marks go.
fn strip_inline_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    let (close_bracket, close_paren) = (next_of(&chars, ']'), next_of(&chars, ')'));
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '!' && chars.get(i + 1) == Some(&'[') {
            i += 1;
            continue;
        }
        // [text](url) keeps its text.
        let close = if c == '[' { close_bracket[i] } else { None };
        let end = close.filter(|&cl| chars.get(cl + 1) == Some(&'(')).and_then(|cl| close_paren[cl]);
        if let (Some(cl), Some(end)) = (close, end) {
            out.extend(&chars[i + 1..cl]);
            i = end + 1;
            continue;
        }
        if (c == '*' || c == '_') && (chars.get(i + 1) == Some(&c) || i == 0 || !chars[i - 1].is_alphanumeric()) {
            // Emphasis markers, not an underscore inside a word.
            i += 1;
            continue;
        }
        if c == '*' || c == '`' {
            i += 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Video ids in a piece of text or markup.
pub fn find_embeds(text: &str, block: usize) -> Vec<Embed> {
    let mut out = Vec::new();
    let patterns: [(&str, &str); 6] = [
        ("youtube", "youtube.com/watch?v="),
        ("youtube", "youtube.com/embed/"),
        ("youtube", "youtube-nocookie.com/embed/"),
        ("youtube", "youtu.be/"),
        ("vimeo", "player.vimeo.com/video/"),
        ("vimeo", "vimeo.com/"),
    ];
    for (provider, pat) in patterns {
        let mut rest = text;
        while let Some(at) = rest.find(pat) {
            let tail = &rest[at + pat.len()..];
            let id: String = tail.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
            let valid = match provider {
                "youtube" => id.len() == 11,
                _ => !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()),
            };
            if valid && !out.iter().any(|e: &Embed| e.id == id) {
                let url = match provider {
                    "youtube" => format!("https://www.youtube.com/watch?v={id}"),
                    _ => format!("https://vimeo.com/{id}"),
                };
                out.push(Embed { provider: provider.into(), id, block, url });
            }
            rest = &tail[tail.len().min(1)..];
        }
    }
    out
}

/// Parses a plain-text or Markdown article.
pub fn parse_text(bytes: &[u8]) -> Result<Article, ArticleError> {
    if bytes.len() > MAX_ARTICLE_BYTES {
        return Err(ArticleError::TooLarge);
    }
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|e| ArticleError::Encoding(e.valid_up_to()))?;
    let text = text.replace("\r\n", "\n");
    let mut blocks: Vec<Block> = Vec::new();
    let mut embeds = Vec::new();
    for raw in text.split("\n\n").map(str::trim).filter(|b| !b.is_empty()) {
        // A block of bullet lines (comment rules, lists) is split into its items.
        let items: Vec<&str> =
            if raw.lines().all(|l| l.trim_start().starts_with(['•', '-', '*'])) && raw.lines().count() > 1 {
                raw.lines().collect()
            } else {
                vec![raw]
            };
        for item in items {
            let number = blocks.len() + 1;
            embeds.extend(find_embeds(item, number));
            let mut line = item.trim().trim_start_matches(['•', '-']).trim().to_string();
            let mut kind = BlockKind::Paragraph;
            if let Some(h) = line.strip_prefix('#') {
                line = h.trim_start_matches('#').trim().to_string();
                kind = if blocks.is_empty() { BlockKind::Title } else { BlockKind::Heading };
            } else if line.starts_with('>') {
                line = line.lines().map(|l| l.trim_start_matches('>').trim()).collect::<Vec<_>>().join(" ");
                kind = BlockKind::Quote;
            }
            // All whitespace (no-break spaces included) as single spaces, as in HTML.
            let joined = strip_inline_markdown(&line).split_whitespace().collect::<Vec<_>>().join(" ");
            if joined.is_empty() || joined.starts_with("http") && !joined.contains(' ') {
                continue;
            }
            if kind == BlockKind::Paragraph {
                let words = joined.split_whitespace().count();
                let ends_like_prose = joined.trim_end_matches(['”', '"', ')']).ends_with(['.', '?', '!', ':', '»']);
                if blocks.is_empty() {
                    kind = BlockKind::Title;
                } else if words <= 12 && !ends_like_prose {
                    kind = BlockKind::Heading;
                } else if joined.starts_with(['“', '"']) && joined.trim_end().ends_with(['”', '"']) {
                    kind = BlockKind::Quote;
                }
            }
            if is_boilerplate(&joined) {
                kind = BlockKind::Boilerplate;
            }
            blocks.push(Block { number: blocks.len() + 1, kind, text: joined });
            if blocks.len() > MAX_BLOCKS {
                return Err(ArticleError::TooManyBlocks);
            }
        }
    }
    if blocks.iter().all(|b| b.kind == BlockKind::Boilerplate) {
        return Err(ArticleError::Empty);
    }
    within_limits(&blocks)?;
    Ok(Article { blocks, embeds })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_founding_article_is_numbered_and_its_comment_section_marked() {
        let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/samples/article.txt")).unwrap();
        let a = parse_text(&bytes).unwrap();
        assert_eq!(
            a.title(),
            Some("Russian peacekeepers promise to oversee return of all Armenian prisoners held in Azerbaijan")
        );
        let kinds: Vec<(usize, BlockKind)> = a.blocks.iter().map(|b| (b.number, b.kind)).collect();
        assert_eq!(kinds[12], (13, BlockKind::Heading), "\"Tensions at home over Armenian POWs\"");
        assert!(a.blocks[3].text.starts_with("On December 4, 2021, Azerbaijan returned ten"));
        let boiler: Vec<usize> =
            a.blocks.iter().filter(|b| b.kind == BlockKind::Boilerplate).map(|b| b.number).collect();
        assert_eq!(boiler, vec![20, 21, 22, 23], "{:#?}", &a.blocks[19..]);
        assert_eq!(a.body().count(), 19);
    }

    #[test]
    fn markdown_embeds_and_errors() {
        let md = "# Title here\n\nSome *emphasis* and a [link](https://x.org).\n\n> A quoted\n> passage.\n\n\
                  https://www.youtube.com/watch?v=dQw4w9WgXcQ\n\n<iframe src=\"https://player.vimeo.com/video/76979871\"></iframe>\n";
        let a = parse_text(md.as_bytes()).unwrap();
        assert_eq!(a.blocks[0], Block { number: 1, kind: BlockKind::Title, text: "Title here".into() });
        assert_eq!(a.blocks[1].text, "Some emphasis and a link.");
        assert_eq!(a.blocks[2], Block { number: 3, kind: BlockKind::Quote, text: "A quoted passage.".into() });
        let ids: Vec<(&str, &str)> = a.embeds.iter().map(|e| (e.provider.as_str(), e.id.as_str())).collect();
        assert_eq!(ids, [("youtube", "dQw4w9WgXcQ"), ("vimeo", "76979871")]);
        assert_eq!(parse_text(b"\n\n  \n"), Err(ArticleError::Empty));
        assert_eq!(parse_text(b"Caf\xe9"), Err(ArticleError::Encoding(3)));
    }
}
