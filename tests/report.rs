//! `run` end to end with the real model: every scripted passage linked to its true paragraph,
//! quotes in the article's own words, names spelled as the article spells them, and report.html
//! opened in Debian's headless Chromium. Plus golden files for the linked JSON and the page.

mod common;

use common::*;

use vidscribe::article::{self, LinkKind, wording};
use vidscribe::eval::{names_spelled, normalize, predicted_link, spoken_within};
use vidscribe::formats::json::Document;
use vidscribe::text::bare;

fn read_doc(path: &std::path::Path) -> Document {
    vidscribe::formats::json::read(std::fs::File::open(path).expect("json output")).expect("valid json")
}

#[test]
fn run_links_quotes_names_and_a_page_that_works_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .arg("run")
        .arg(sample("report.webm"))
        .arg("--article")
        .arg(sample("article.txt"))
        .arg("-o")
        .arg(dir.path())
        .args(["-q", "-m"])
        .arg(model())
        .output()
        .unwrap();
    assert!(out.status.success(), "run failed: {}", String::from_utf8_lossy(&out.stderr));
    for f in ["report.srt", "report.vtt", "report.json", "report.txt", "report.html"] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    let doc = read_doc(&dir.path().join("report.json"));
    let links = doc.links.as_ref().expect("links recorded");
    let captions = doc.captions.as_ref().expect("cues");
    let article = article::parse_any(&std::fs::read(sample("article.txt")).unwrap()).unwrap();

    // Links: each scripted segment against the passages spoken within it.
    let mut quotes_as_paraphrase = Vec::new();
    for row in script() {
        let got = predicted_link(&row, &links.passages);
        match row.kind.as_str() {
            "verbatim" => {
                assert_eq!(got.map(|g| g.0), Some(row.paragraph), "{row:?}");
                if got != Some((row.paragraph, "verbatim")) {
                    quotes_as_paraphrase.push(row.clone());
                }
            }
            "paraphrase" => assert_eq!(got.map(|g| g.0), Some(row.paragraph), "{row:?}"),
            _ => assert_eq!(got, None, "not in the article, yet linked: {row:?}"),
        }
        if row.kind != "none" {
            let times = links.paragraphs.iter().find(|p| p.paragraph == row.paragraph).expect("paragraph times");
            assert!(
                times.spoken.iter().any(|r| r.start_ms < row.end_ms && r.end_ms > row.start_ms),
                "paragraph {} not spoken at {row:?}: {times:?}",
                row.paragraph
            );
        }
    }
    // tiny.en garbles one or another quote past recognition as a quote ("Valery Gerasimov,
    // discussed the issue" heard as "may leverage her as in on the first little"), depending on
    // how the windows fall; it is still linked to its paragraph, as a paraphrase.
    assert!(quotes_as_paraphrase.len() <= 1, "quotes not linked as quotes: {quotes_as_paraphrase:?}");
    assert_eq!(links.cues.len(), captions.cues.len());
    assert_eq!(links.segments.len(), doc.transcript.segments.len());

    // Quotes read exactly as the article: the words the script says, each spelled as the
    // paragraph spells it.
    for row in script().iter().filter(|r| r.kind == "verbatim" && !quotes_as_paraphrase.contains(r)) {
        let quoted: Vec<&str> = links
            .passages
            .iter()
            .filter(|p| p.kind == LinkKind::Verbatim && spoken_within(row, p.start_ms, p.end_ms))
            .map(|p| p.text.as_str())
            .collect();
        let text = quoted.join(" ");
        assert_eq!(normalize(&text), normalize(&row.text), "quote differs from the article:\n{text}\n{}", row.text);
        let block = article.blocks.iter().find(|b| b.number == row.paragraph).unwrap();
        let written: Vec<&str> = block.text.split_whitespace().map(bare).collect();
        for w in text.split_whitespace().map(bare) {
            let capitalised_start = written.iter().any(|a| a.to_lowercase() == w.to_lowercase());
            assert!(written.contains(&w) || capitalised_start, "{w:?} is not the article's spelling ({text})");
        }
    }

    // Names, as spoken in the script, spelled as in the article in the subtitles. tiny.en with
    // the article's help: 31 of 32 on this WebM on AMD EPYC with AVX-512, 27 of 32 on AMD EPYC
    // with AVX2 only (plain: 37.5 %); see README for base. Which words tiny.en mishears moves
    // with the CPU's rounding, so the floor is the lowest seen.
    let names: Vec<String> = wording::names(&article).into_iter().map(|n| n.text).collect();
    let said: Vec<String> = script().iter().map(|r| r.text.clone()).collect();
    let subtitles: Vec<String> = captions.cues.iter().map(|c| c.lines.join(" ")).collect();
    let n = names_spelled(&names, &said.join(" "), &subtitles.join(" "));
    eprintln!("names spelled as in the article: {}/{} ({:?} missed)", n.right, n.spoken, n.missed);
    assert!(n.right >= 27, "only {} of {} names spelled right; missed {:?}", n.right, n.spoken, n.missed);

    // Every change is listed, with its time.
    assert!(!doc.corrections.is_empty());
    for c in &doc.corrections {
        assert_ne!(c.before, c.after);
        assert!(c.start_ms <= c.end_ms && c.end_ms <= doc.input.audio.duration_ms + 10, "{c:?}");
    }
    // No name put in makes a right word wrong: every word a name correction writes is a word
    // the script says there — those the decoder was asked about too, each with the
    // likelihoods that decided it.
    for c in doc.corrections.iter().filter(|c| c.reason == wording::Reason::HeardName) {
        let h = c.heard.expect("a name the decoder was asked about records its likelihoods");
        assert!(h.after as f64 >= h.before as f64 + vidscribe::article::heard::MARGIN - 1e-3, "{c:?}");
    }
    for c in
        doc.corrections.iter().filter(|c| matches!(c.reason, wording::Reason::ProperNoun | wording::Reason::HeardName))
    {
        let said: Vec<String> = script()
            .iter()
            .filter(|r| spoken_within(r, c.start_ms, c.end_ms))
            .flat_map(|r| r.text.split_whitespace().map(|w| bare(w).to_lowercase()).collect::<Vec<_>>())
            .collect();
        for w in c.after.split_whitespace().map(|w| bare(w).to_lowercase()) {
            assert!(said.contains(&w), "{w:?} is not said there: {c:?}");
        }
    }

    // The page, in a real browser.
    let page = browser_check(&dir.path().join("report.html"), "children back", "30.25");
    assert_eq!(page["console_errors"], serde_json::json!([]), "{page:#}");
    assert_eq!(page["page_errors"], serde_json::json!([]), "{page:#}");
    assert!(page["video"]["ready_state"].as_u64().unwrap() >= 1, "video did not load: {page:#}");
    let duration = page["video"]["duration"].as_f64().unwrap();
    assert!((duration - doc.input.audio.duration_ms as f64 / 1000.0).abs() < 1.5, "{duration}");
    assert_eq!(page["track"]["cues"].as_u64().unwrap() as usize, captions.cues.len(), "{page:#}");
    let first = &captions.cues[0];
    assert!((page["track"]["first"]["start"].as_f64().unwrap() - first.start_ms as f64 / 1000.0).abs() < 0.002);
    let seeks = page["paragraph_seeks"].as_array().unwrap();
    assert_eq!(seeks.len(), links.paragraphs.len(), "one timestamp per spoken paragraph: {page:#}");
    for s in seeks {
        let (target, now) = (s["target"].as_f64().unwrap(), s["current_time"].as_f64().unwrap());
        assert!((target - now).abs() < 0.05, "clicking {s} left the video at {now}");
    }
    assert_eq!(page["passages"].as_u64().unwrap() as usize, links.passages.len());
    let deep = &page["deep_link"];
    let (want, got) = (deep["target"].as_f64().unwrap(), deep["current_time"].as_f64().unwrap());
    assert!((want - got).abs() < 0.05, "report.html#t={want} opened at {got}");
    let search = &page["search"];
    assert!(search["hits"].as_u64().unwrap() >= 1, "{search}");
    assert!((search["target"].as_f64().unwrap() - search["current_time"].as_f64().unwrap()).abs() < 0.1, "{search}");
}

/// Links, corrections and the page rebuilt from the committed transcript match golden files.
#[test]
fn linked_json_and_report_page_match_golden_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .current_dir(root())
        .args(["subtitle", "tests/golden/report.json", "--article", "samples/article.txt"])
        .args(["--article-wording", "--fix-names", "-f", "json,html", "-q", "-o"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    let mut html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    // The video's path is relative to wherever the page was written.
    let at = html.find(r#"preload="metadata" src=""#).expect("video element") + r#"preload="metadata" src=""#.len();
    let end = at + html[at..].find('"').unwrap();
    assert!(html[at..end].ends_with("samples/report.mp4"), "{}", &html[at..end]);
    html.replace_range(at..end, "VIDEO");
    for (name, got) in [("report.linked.json", &json), ("report.html", &html)] {
        let golden = root().join("tests/golden").join(name);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&golden, got).unwrap();
        }
        let want = std::fs::read_to_string(&golden).unwrap();
        if *got != want {
            let line = got.lines().zip(want.lines()).position(|(a, b)| a != b).unwrap_or(0);
            panic!(
                "{} differs at line {}: got {:?}, want {:?} (UPDATE_GOLDEN=1 to accept)",
                golden.display(),
                line + 1,
                got.lines().nth(line),
                want.lines().nth(line)
            );
        }
    }
}

#[test]
fn run_refuses_what_it_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let no_article = bin().arg("run").arg(sample("report.mp4")).arg("-o").arg(dir.path()).output().unwrap();
    assert!(assert_clean_failure(&no_article, "run without article").contains("--article"));
    let cases: [(&str, &[u8], &str); 2] = [("bad.txt", b"\xff\xfe not text", "UTF-8"), ("empty.txt", b"  \n", "empty")];
    for (name, bytes, says) in cases {
        let article = dir.path().join(name);
        std::fs::write(&article, bytes).unwrap();
        let out = bin()
            .arg("run")
            .arg(sample("report.mp4"))
            .arg("--article")
            .arg(&article)
            .arg("-o")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(assert_clean_failure(&out, name).contains(says));
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().all(|e| e.unwrap().path().extension().is_none_or(|x| x == "txt")));
}
