//! HTML articles (saved Global Voices / WordPress pages and the like) → the article body only:
//! title, headings, paragraphs, block quotes and figure captions, without navigation, sidebars,
//! share buttons and comment sections.
#![forbid(unsafe_code)]

use scraper::{ElementRef, Html, Selector};

use super::parse::{
    Article, ArticleError, Block, BlockKind, Embed, MAX_ARTICLE_BYTES, MAX_BLOCKS, MAX_HTML_DEPTH, find_embeds,
    is_boilerplate, within_limits,
};

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

/// Elements that never hold others (void), or whose end tag may be left out and is implied by
/// the next one of their kind: neither deepens the tree.
const FLAT: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr", "p", "li",
    "dt", "dd", "tr", "td", "th", "option", "thead", "tbody", "tfoot", "colgroup", "rt", "rp", "optgroup",
];

/// How deep the page's elements nest, by a linear scan of its tags (an upper bound for what the
/// tree builder will see), stopping as soon as `limit` is passed.
fn nesting_exceeds(html: &str, limit: usize) -> bool {
    let b = html.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(at) = b[i..].iter().position(|&c| c == b'<') {
        i += at + 1;
        // Comments and raw text (<script>, <style>) hold no elements.
        if html[i..].starts_with("!--") {
            i = html[i..].find("-->").map_or(b.len(), |e| i + e + 3);
            continue;
        }
        let closing = b.get(i) == Some(&b'/');
        let start = if closing { i + 1 } else { i };
        let len = b[start..].iter().take_while(|c| c.is_ascii_alphanumeric()).count();
        if len == 0 {
            continue;
        }
        let name = html[start..start + len].to_ascii_lowercase();
        let end = b[start..].iter().position(|&c| c == b'>').map_or(b.len(), |e| start + e);
        let self_closing = end > 0 && b.get(end - 1) == Some(&b'/');
        if matches!(name.as_str(), "script" | "style") && !closing {
            // Raw text runs to the matching end tag, in any case.
            let close = format!("</{name}");
            let from = end.min(b.len());
            i = b[from..]
                .windows(close.len())
                .position(|w| w.eq_ignore_ascii_case(close.as_bytes()))
                .map_or(b.len(), |e| from + e);
            continue;
        }
        if FLAT.contains(&name.as_str()) || self_closing {
            i = end.min(b.len());
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else {
            depth += 1;
            if depth > limit {
                return true;
            }
        }
        i = end.min(b.len());
    }
    false
}

/// Parses an HTML page and keeps the article.
pub fn parse_html(bytes: &[u8]) -> Result<Article, ArticleError> {
    if bytes.len() > MAX_ARTICLE_BYTES {
        return Err(ArticleError::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| ArticleError::Encoding(e.valid_up_to()))?;
    if nesting_exceeds(text, MAX_HTML_DEPTH) {
        return Err(ArticleError::TooDeep);
    }
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
    let wanted = selector("h1, h2, h3, h4, h5, h6, p, blockquote, figcaption, li, iframe, video");
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
        if name == "iframe" || name == "video" {
            let src = el.value().attr("src").or_else(|| {
                (name == "video")
                    .then(|| el.select(&selector("source[src]")).find_map(|s| s.value().attr("src")))
                    .flatten()
            });
            if let Some(src) = src.map(str::trim).filter(|s| !s.is_empty()) {
                add_embed(&mut embeds, src, if name == "video" { "video" } else { "iframe" }, blocks.len().max(1));
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
        if blocks.len() > MAX_BLOCKS {
            return Err(ArticleError::TooManyBlocks);
        }
    }
    if blocks.iter().all(|b| b.kind == BlockKind::Boilerplate || b.kind == BlockKind::Title) {
        return Err(ArticleError::Empty);
    }
    within_limits(&blocks)?;
    // The page's own word for its video, after those in the story.
    let og =
        selector(r#"meta[property="og:video"], meta[property="og:video:url"], meta[property="og:video:secure_url"]"#);
    for m in doc.select(&og) {
        if let Some(url) = m.value().attr("content").map(str::trim).filter(|s| !s.is_empty()) {
            let kind = if looks_like_media(url) { "video" } else { "iframe" };
            add_embed(&mut embeds, url, kind, 0);
        }
    }
    Ok(Article { blocks, embeds })
}

/// Adds the video at `src` once: a platform player by its id, anything else by its address.
fn add_embed(embeds: &mut Vec<Embed>, src: &str, kind: &str, block: usize) {
    let found = find_embeds(src, block);
    if found.is_empty() {
        if !embeds.iter().any(|e| e.url == src) {
            embeds.push(Embed { provider: kind.into(), id: src.into(), block, url: src.into() });
        }
    } else {
        for e in found {
            if !embeds.iter().any(|x| x.id == e.id) {
                embeds.push(e);
            }
        }
    }
}

/// Whether an address names a media file by its extension.
fn looks_like_media(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit_once('.').is_some_and(|(_, ext)| crate::media::is_media_extension(ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeds_in_story_order_then_the_pages_own() {
        let page = br#"<html><head><meta property="og:video" content="https://cdn.example/v.mp4">
            <meta property="og:video:url" content="https://www.youtube.com/embed/dQw4w9WgXcQ"></head>
            <body><article><p>First paragraph of the story.</p>
            <iframe src="https://player.vimeo.com/video/123456?h=1"></iframe>
            <p>Second paragraph.</p><video controls><source src="clip.webm" type="video/webm"><source src="clip.mp4"></video>
            <iframe src="https://civilnet.am/embed/77"></iframe><video src="clip.webm"></video>
            <aside class="comments"><iframe src="https://www.youtube.com/embed/AAAAAAAAAAA"></iframe></aside>
            </article></body></html>"#;
        let a = parse_html(page).unwrap();
        let got: Vec<(&str, &str, usize)> =
            a.embeds.iter().map(|e| (e.provider.as_str(), e.url.as_str(), e.block)).collect();
        assert_eq!(
            got,
            [
                ("vimeo", "https://vimeo.com/123456", 1),
                ("video", "clip.webm", 2),
                ("iframe", "https://civilnet.am/embed/77", 2),
                ("video", "https://cdn.example/v.mp4", 0),
                ("youtube", "https://www.youtube.com/watch?v=dQw4w9WgXcQ", 0),
            ]
        );
    }
}
