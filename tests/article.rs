//! Article input: the body of a saved Global Voices–style page without its furniture.

mod common;

use common::*;
use vidscribe::article::{self, BlockKind};

#[test]
fn html_keeps_the_body_and_drops_the_boilerplate() {
    let bytes = std::fs::read(root().join("tests/data/article/globalvoices.html")).unwrap();
    let a = article::parse_any(&bytes).unwrap();
    let text: Vec<&str> = a.blocks.iter().map(|b| b.text.as_str()).collect();
    let all = text.join("\n");
    assert_eq!(
        a.title(),
        Some("Russian peacekeepers promise to oversee return of all Armenian prisoners held in Azerbaijan")
    );
    // Everything of the body, in order.
    let body_start = text.iter().position(|t| t.starts_with("On December 4, 2021")).expect("first paragraph");
    assert!(text[body_start + 1].starts_with("The November clashes"));
    assert!(a.blocks.iter().any(|b| b.kind == BlockKind::Heading && b.text == "Tensions at home over Armenian POWs"));
    assert!(a.blocks.iter().any(|b| b.kind == BlockKind::Caption && b.text.contains("Video report by Civilnet")));
    assert!(a.blocks.iter().any(|b| b.kind == BlockKind::Quote && b.text == "We need our children back."));
    assert!(all.contains("nothing left to trade,” Poghosyan told Eurasianet."));
    // None of the furniture.
    for junk in [
        "World",
        "Donate",
        "Share this",
        "Facebook",
        "Related",
        "Newsletter",
        "Subscribe",
        "log in",
        "moderator",
        "borderless",
        "var gv",
    ] {
        assert!(!all.contains(junk), "{junk:?} kept:\n{all}");
    }
    assert_eq!(a.embeds.len(), 1);
    assert_eq!((a.embeds[0].provider.as_str(), a.embeds[0].id.as_str()), ("youtube", "x4ZmS6QWnfc"));
    // Numbered in reading order.
    assert!(a.blocks.iter().enumerate().all(|(i, b)| b.number == i + 1));
}

#[test]
fn text_and_html_agree_on_the_story() {
    let html =
        article::parse_any(&std::fs::read(root().join("tests/data/article/globalvoices.html")).unwrap()).unwrap();
    let text = article::parse_any(&std::fs::read(sample("article.txt")).unwrap()).unwrap();
    let story = |a: &article::Article| -> Vec<String> {
        a.body().filter(|b| b.kind == BlockKind::Paragraph && b.text.len() > 120).map(|b| b.text.clone()).collect()
    };
    assert_eq!(story(&html), story(&text));
}
