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

/// Hostile articles finish quickly (linear-time parsing) or are refused by a stated limit, and
/// an accepted one links in no time too.
#[test]
fn hostile_articles_finish_or_are_refused_by_a_limit() {
    use vidscribe::article::{ArticleError, link, parse_any};
    let transcript =
        vidscribe::formats::json::read(std::fs::File::open(common::root().join("tests/golden/report.json")).unwrap())
            .unwrap()
            .transcript;
    let html = |body: String| format!("<!DOCTYPE html><html><body><h1>Title</h1>{body}</body></html>").into_bytes();
    let cases: Vec<(&str, Vec<u8>, Option<ArticleError>)> = vec![
        ("1 MB of [", format!("Title\n\n{}", "[".repeat(1 << 20)).into_bytes(), None),
        ("200k [a](", format!("Title\n\nSome words here. {}", "[a](".repeat(200_000)).into_bytes(), None),
        ("100k nested blockquotes", html("<blockquote>".repeat(100_000)), Some(ArticleError::TooDeep)),
        ("100k nested divs", html(format!("{}<p>text</p>", "<div>".repeat(100_000))), Some(ArticleError::TooDeep)),
        ("10k unclosed paragraphs", html("<p>Some words of a paragraph.".repeat(4_000)), None),
        ("10k scripts", html("<script>if (a < b) { x = '<div>'; }</script><p>text.</p>".repeat(2_000)), None),
        (
            "50 MB paragraph",
            format!("Title\n\n{}", "word ".repeat(10 << 20)).into_bytes(),
            Some(ArticleError::TooLarge),
        ),
        (
            "20k-word paragraph",
            format!("Title\n\n{}", "word ".repeat(20_000)).into_bytes(),
            Some(ArticleError::BlockTooLong { block: 2 }),
        ),
        (
            "6000 paragraphs",
            format!("Title\n\n{}", "A short paragraph here.\n\n".repeat(6_000)).into_bytes(),
            Some(ArticleError::TooManyBlocks),
        ),
    ];
    for (name, bytes, want) in cases {
        let started = std::time::Instant::now();
        let got = parse_any(&bytes);
        match (&got, &want) {
            (Ok(a), None) => {
                link(&transcript, a);
            }
            (Err(e), Some(w)) => assert_eq!(e, w, "{name}"),
            _ => panic!("{name}: got {:?}, want {want:?}", got.as_ref().map(|a| a.blocks.len())),
        }
        // A hang detector, not a benchmark: each takes milliseconds.
        assert!(started.elapsed() < std::time::Duration::from_secs(3), "{name}: {:?}", started.elapsed());
    }
}

#[test]
fn a_refused_article_is_one_line_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("deep.html");
    std::fs::write(&deep, format!("<html><body>{}", "<div>".repeat(100_000))).unwrap();
    let out = bin()
        .arg("run")
        .arg(sample("formats/clip.wav"))
        .arg("--article")
        .arg(&deep)
        .arg("-o")
        .arg(dir.path().join("out"))
        .arg("-m")
        .arg(model())
        .output()
        .unwrap();
    let err = assert_clean_failure(&out, "deep article");
    assert!(err.contains("nests elements more than 512 deep"), "{err}");
    assert!(!dir.path().join("out").exists());
}
