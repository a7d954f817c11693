//! HTML articles (saved Global Voices / WordPress pages and the like) → the article body only:
//! title, headings, paragraphs, block quotes and figure captions, without navigation, sidebars,
//! share buttons and comment sections.
#![forbid(unsafe_code)]

use scraper::{ElementRef, Html, Selector};

use super::parse::{Article, ArticleError, Block, BlockKind, find_embeds, is_boilerplate};

/// Containers whose text is never article body.
const SKIP_TAGS: &[&str] = &["nav", "aside", "footer", "form", "script", "style", "noscript", "button", "header"];
/// Class or id fragments of page furniture (WordPress, Global Voices, common themes).
const SKIP_MARKS: &[&str] = &[
    "comment",
    "share",
    "social",
    "sidebar",
    "widget",
    "related",
    "navigation",
    "menu",
    "breadcrumb",
    "newsletter",
    "subscribe",
    "advert",
    "promo",
    "author-bio",
    "footer",
    "sharedaddy",
    "jp-relatedposts",
    "cookie",
];

fn selector(s: &str) -> Selector {
    Selector::parse(s).expect("static selector")
}

fn is_furniture(el: &ElementRef) -> bool {
    let v = el.value();
    if SKIP_TAGS.contains(&v.name()) {
        return true;
    }
    let marks = format!("{} {}", v.attr("class").unwrap_or(""), v.attr("id").unwrap_or("")).to_lowercase();
    SKIP_MARKS.iter().any(|m| marks.contains(m))
}

fn clean(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parses an HTML page and keeps the article.
pub fn parse_html(bytes: &[u8]) -> Result<Article, ArticleError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ArticleError::Encoding(e.valid_up_to()))?;
    let doc = Html::parse_document(text);
    // The article's root: the most specific container the page offers.
    let root = ["article .entry-content", ".entry-content", ".post-content", "article", "main", "[role=main]", "body"]
        .iter()
        .find_map(|s| doc.select(&selector(s)).next())
        .unwrap_or_else(|| doc.root_element());
    let mut blocks: Vec<Block> = Vec::new();
    let mut embeds = Vec::new();
    // The title usually sits outside the content container.
    let title = ["h1.entry-title", "article h1", "h1", "title"]
        .iter()
        .find_map(|s| doc.select(&selector(s)).map(|e| clean(&e.text().collect::<String>())).find(|t| !t.is_empty()));
    if let Some(t) = title {
        blocks.push(Block { number: 1, kind: BlockKind::Title, text: t });
    }
    let wanted = selector("h1, h2, h3, h4, h5, h6, p, blockquote, figcaption, li, iframe");
    for el in root.select(&wanted) {
        let name = el.value().name();
        let inside = |tags: &[&str]| {
            el.ancestors()
                .filter_map(ElementRef::wrap)
                .take_while(|a| a.id() != root.id())
                .any(|a| tags.contains(&a.value().name()))
        };
        if el.ancestors().filter_map(ElementRef::wrap).take_while(|a| a.id() != root.id()).any(|a| is_furniture(&a))
            || is_furniture(&el)
        {
            continue;
        }
        if name == "iframe" {
            if let Some(src) = el.value().attr("src") {
                embeds.extend(find_embeds(src, blocks.len().max(1)));
            }
            continue;
        }
        // Text inside a quote or caption belongs to that block; a list item holding
        // paragraphs is read through them.
        if name != "blockquote" && inside(&["blockquote", "figcaption"])
            || name == "li" && el.select(&selector("p")).next().is_some()
        {
            continue;
        }
        let text = clean(&el.text().collect::<String>());
        if text.is_empty() || blocks.last().is_some_and(|b| b.text == text) {
            continue;
        }
        let mut kind = match name {
            "blockquote" => BlockKind::Quote,
            "figcaption" => BlockKind::Caption,
            "p" | "li" => BlockKind::Paragraph,
            _ if blocks.is_empty() => BlockKind::Title,
            _ => BlockKind::Heading,
        };
        if is_boilerplate(&text) {
            kind = BlockKind::Boilerplate;
        }
        embeds.extend(find_embeds(&text, blocks.len() + 1));
        blocks.push(Block { number: blocks.len() + 1, kind, text });
    }
    if blocks.iter().all(|b| b.kind == BlockKind::Boilerplate || b.kind == BlockKind::Title) {
        return Err(ArticleError::Empty);
    }
    Ok(Article { blocks, embeds })
}
