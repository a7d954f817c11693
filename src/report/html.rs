//! report.html: one self-contained page (no network) with the video and its subtitles, the
//! article with the times each paragraph is spoken, and the transcript linked back to the article.
//! Clicking a time seeks the video; a search box finds words in the transcript.
#![forbid(unsafe_code)]

use std::io::{self, Write};

use base64::Engine;

use crate::article::BlockKind;
use crate::article::link::LinkKind;
use crate::asr::Word;
use crate::formats::json::Document;
use crate::speakers::names::main_speaker;
use crate::time::{clock, short_clock};

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn seek_button(ms: u64) -> String {
    format!(r#"<button type="button" class="seek" data-t="{ms}">{}</button>"#, short_clock(ms))
}

const STYLE: &str = r#"
:root { color-scheme: light dark; --accent: #0b6bcb; --muted: #6b7280; --verbatim: #15803d; --paraphrase: #b45309; --topical: #6b7280; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, sans-serif; }
header { padding: 1rem 1.5rem; border-bottom: 1px solid #8884; }
header h1 { margin: 0; font-size: 1.35rem; }
.meta { margin: .25rem 0 0; color: var(--muted); font-size: .9rem; }
main { display: grid; grid-template-columns: minmax(320px, 1fr) 1fr; gap: 1.5rem; padding: 1rem 1.5rem; }
#player { grid-column: 1 / -1; display: grid; grid-template-columns: minmax(320px, 2fr) 1fr; gap: 1rem; align-items: start; position: sticky; top: 0; background: Canvas; padding-bottom: .5rem; z-index: 1; }
video { width: 100%; max-height: 50vh; background: #000; }
#search input { width: 100%; padding: .4rem .6rem; font: inherit; }
#hits { list-style: none; padding: 0; margin: .5rem 0; max-height: 40vh; overflow: auto; }
#hits li { margin: .2rem 0; }
h2 { font-size: 1.1rem; margin: .5rem 0; }
.block { display: grid; grid-template-columns: 2.5rem 1fr; gap: .5rem; margin: .6rem 0; padding: .3rem .4rem; border-radius: 6px; }
.block .num { color: var(--muted); font-variant-numeric: tabular-nums; text-align: right; }
.block p { margin: 0; }
.block.title p { font-weight: 700; } .block.heading p { font-weight: 600; } .block.quote p { font-style: italic; }
.block .times { grid-column: 2; }
.block:target, .passage:target { outline: 2px solid var(--accent); }
.passage { margin: .5rem 0; padding: .3rem .4rem; border-left: 4px solid transparent; border-radius: 4px; }
.passage.verbatim { border-left-color: var(--verbatim); } .passage.paraphrase { border-left-color: var(--paraphrase); }
.passage.topical { border-left-color: var(--topical); }
.passage.now { background: #0b6bcb22; }
.kind { font-size: .8rem; padding: 0 .4rem; border-radius: 1rem; border: 1px solid currentColor; text-decoration: none; white-space: nowrap; }
.kind.verbatim { color: var(--verbatim); } .kind.paraphrase { color: var(--paraphrase); } .kind.topical, .kind.none { color: var(--topical); }
button.seek { font: inherit; font-size: .85rem; font-variant-numeric: tabular-nums; color: var(--accent); background: none; border: 1px solid #8886; border-radius: 4px; cursor: pointer; padding: 0 .35rem; margin-right: .3rem; }
button.seek:hover, button.seek:focus { background: #0b6bcb22; }
mark { background: #facc15aa; color: inherit; }
.who { font-size: .85rem; font-weight: 600; margin-right: .4rem; } a.who { color: var(--accent); }
table { border-collapse: collapse; font-size: .9rem; } td, th { padding: .2rem .5rem; border-bottom: 1px solid #8884; text-align: left; }
#corrections { grid-column: 1 / -1; }
@media (max-width: 800px) { main, #player { grid-template-columns: 1fr; } #player { position: static; } }
"#;

const SCRIPT: &str = r#"
(() => {
  const video = document.getElementById('video');
  const seek = (ms) => {
    video.currentTime = ms / 1000;
    video.focus();
  };
  document.addEventListener('click', (e) => {
    const b = e.target.closest('[data-t]');
    if (b) { e.preventDefault(); seek(Number(b.dataset.t)); }
  });
  // Search: every passage containing all the words typed, in order of time.
  const passages = [...document.querySelectorAll('.passage')];
  const fold = (s) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
  const texts = passages.map((p) => fold(p.querySelector('.text').textContent));
  const q = document.getElementById('q');
  const hits = document.getElementById('hits');
  const search = () => {
    const terms = fold(q.value).split(/\s+/).filter(Boolean);
    hits.replaceChildren();
    if (!terms.length) return [];
    const found = passages.filter((p, i) => terms.every((t) => texts[i].includes(t)));
    for (const p of found) {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button'; b.className = 'seek'; b.dataset.t = p.dataset.start;
      b.textContent = p.querySelector('.seek').textContent;
      li.append(b, ' ', p.querySelector('.text').textContent);
      hits.append(li);
    }
    return found;
  };
  q.addEventListener('input', search);
  q.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter') return;
    const found = search();
    if (found.length) { seek(Number(found[0].dataset.start)); found[0].scrollIntoView({ block: 'nearest' }); }
  });
  // A deep link (report.html#t=12.5, from the archive's search) opens the page at that second.
  const fromHash = () => {
    const m = /^#t=(\d+(?:\.\d+)?)$/.exec(location.hash);
    if (!m) return;
    const ms = Number(m[1]) * 1000;
    const go = () => {
      seek(ms);
      const p = passages.find((x) => ms >= Number(x.dataset.start) && ms < Number(x.dataset.end) + 1000);
      if (p) p.scrollIntoView({ block: 'center' });
    };
    if (video.readyState >= 1) go(); else video.addEventListener('loadedmetadata', go, { once: true });
  };
  fromHash();
  window.addEventListener('hashchange', fromHash);
  // The passage being spoken is highlighted.
  video.addEventListener('timeupdate', () => {
    const t = video.currentTime * 1000;
    for (const p of passages) p.classList.toggle('now', t >= Number(p.dataset.start) && t < Number(p.dataset.end));
  });
})();
"#;

/// A Content-Security-Policy under which the page runs its own style and script and nothing
/// else: both by their sha256, the video from its own site, the subtitles from their data URL.
pub fn content_security_policy() -> String {
    use sha2::Digest as _;
    let hash = |s: &str| base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(s.as_bytes()));
    format!(
        "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; media-src 'self' data:; \
         img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        hash(SCRIPT),
        hash(STYLE)
    )
}

/// Who speaks, for a passage: the name (a link to the paragraph that gave it, when the article
/// did) or "Speaker N".
fn speaker_label(doc: &Document, id: u32) -> String {
    let Some(s) = doc.speakers.iter().find(|s| s.id == id) else { return String::new() };
    match s.name_source.as_ref().filter(|n| n.kind == "article").and_then(|n| n.paragraph.map(|p| (p, n))) {
        Some((n, src)) => format!(
            r##"<a class="who" href="#p{n}" title="named by ¶{n} ({})">{}</a>"##,
            escape(src.pattern.as_deref().unwrap_or("")),
            escape(&s.label())
        ),
        None => format!(r#"<span class="who">{}</span>"#, escape(&s.label())),
    }
}

/// Writes the page. `video` is the video's path relative to the page; `vtt` the WebVTT text of
/// its subtitles (embedded, so the page works when opened from disk).
pub fn write<W: Write + ?Sized>(w: &mut W, doc: &Document, video: &str, vtt: &str) -> io::Result<()> {
    let article = doc.article.as_ref();
    let links = doc.links.as_ref();
    let title = article.and_then(|a| a.article.title()).unwrap_or(&doc.input.path);
    let lang = &doc.transcript.language;
    let cues = doc.captions.as_ref().map_or(0, |c| c.cues.len());
    writeln!(w, "<!DOCTYPE html>")?;
    writeln!(w, r#"<html lang="{}">"#, escape(lang))?;
    writeln!(w, r#"<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">"#)?;
    writeln!(w, "<title>{} — vidscribe</title>", escape(title))?;
    writeln!(w, "<style>{STYLE}</style></head>\n<body>")?;
    writeln!(w, "<header><h1>{}</h1>", escape(title))?;
    writeln!(
        w,
        r#"<p class="meta">{} · {} · model {} · {} cues · {} corrections · made by vidscribe {}</p>{}"#,
        escape(&doc.input.path),
        clock(doc.input.audio.duration_ms, '.'),
        escape(&doc.model.name),
        cues,
        doc.corrections.len(),
        escape(&doc.tool.version),
        if doc.speakers.is_empty() { "</header>" } else { "" }
    )?;
    if !doc.speakers.is_empty() {
        let list: Vec<String> = doc
            .speakers
            .iter()
            .map(|s| format!("{} ({})", speaker_label(doc, s.id), short_clock(s.speech_ms)))
            .collect();
        writeln!(w, r#"<p class="meta" id="speakers">Speakers: {}</p></header>"#, list.join(", "))?;
    }
    writeln!(w, "<main>\n<section id=\"player\">")?;
    let track = base64::engine::general_purpose::STANDARD.encode(vtt.as_bytes());
    writeln!(
        w,
        r#"<video id="video" controls preload="metadata" src="{}"><track id="subtitles" kind="subtitles" srclang="{}" label="Subtitles ({})" default src="data:text/vtt;base64,{track}"></video>"#,
        escape(video),
        escape(lang),
        escape(lang)
    )?;
    writeln!(
        w,
        r#"<div id="search"><label for="q">Search the transcript</label><input id="q" type="search" placeholder="a word or a name, Enter to jump" autocomplete="off"><ol id="hits" aria-live="polite"></ol></div>"#
    )?;
    writeln!(w, "</section>")?;

    // The article, each paragraph with the times it is spoken.
    if let Some(a) = article {
        writeln!(w, "<section id=\"article\"><h2>Article</h2>")?;
        for b in a.article.body() {
            let class = match b.kind {
                BlockKind::Title => "title",
                BlockKind::Heading => "heading",
                BlockKind::Quote => "quote",
                BlockKind::Caption => "caption",
                _ => "paragraph",
            };
            let times: Vec<String> = links
                .and_then(|l| l.paragraphs.iter().find(|p| p.paragraph == b.number))
                .map(|p| p.spoken.iter().map(|r| seek_button(r.start_ms)).collect())
                .unwrap_or_default();
            writeln!(
                w,
                r#"<div class="block {class}" id="p{n}"><span class="num">{n}</span><p>{}</p>{}</div>"#,
                escape(&b.text),
                if times.is_empty() {
                    String::new()
                } else {
                    format!(r#"<div class="times" aria-label="spoken at">{}</div>"#, times.join(""))
                },
                n = b.number,
            )?;
        }
        writeln!(w, "</section>")?;
    }

    // The transcript, passage by passage, linked back to the article.
    writeln!(w, "<section id=\"transcript\"><h2>Transcript</h2>")?;
    match links {
        Some(l) => {
            let words: Vec<Word> = doc.transcript.words().cloned().collect();
            for (i, p) in l.passages.iter().enumerate() {
                let link = match (p.paragraph, p.kind) {
                    (Some(n), kind) if kind != LinkKind::None => format!(
                        r##" <a class="kind {k}" href="#p{n}" title="score {:.2}">¶{n} {k}</a>"##,
                        p.score,
                        k = kind.name()
                    ),
                    _ => r#" <span class="kind none">not in the article</span>"#.to_string(),
                };
                let who = main_speaker(&words[p.words.first.min(words.len())..p.words.end.min(words.len())])
                    .map(|id| speaker_label(doc, id))
                    .unwrap_or_default();
                writeln!(
                    w,
                    r#"<p class="passage {}" id="s{i}" data-start="{}" data-end="{}">{}{who}<span class="text">{}</span>{link}</p>"#,
                    p.kind.name(),
                    p.start_ms,
                    p.end_ms,
                    seek_button(p.start_ms),
                    escape(&p.text)
                )?;
            }
        }
        None => {
            for (i, s) in doc.transcript.segments.iter().enumerate() {
                let who = s.speaker.map(|id| speaker_label(doc, id)).unwrap_or_default();
                writeln!(
                    w,
                    r#"<p class="passage none" id="s{i}" data-start="{}" data-end="{}">{}{who}<span class="text">{}</span></p>"#,
                    s.start_ms,
                    s.end_ms,
                    seek_button(s.start_ms),
                    escape(&s.text)
                )?;
            }
        }
    }
    writeln!(w, "</section>")?;

    if !doc.corrections.is_empty() {
        writeln!(w, "<section id=\"corrections\"><h2>Corrections</h2><table>")?;
        writeln!(w, "<tr><th>time</th><th>recognised</th><th>now</th><th>why</th></tr>")?;
        for c in &doc.corrections {
            let why = serde_json::to_string(&c.reason).unwrap_or_default();
            let from = c.paragraph.map_or(String::new(), |n| format!(r##" (<a href="#p{n}">¶{n}</a>)"##));
            writeln!(
                w,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}{from}</td></tr>",
                seek_button(c.start_ms),
                escape(&c.before),
                escape(&c.after),
                escape(why.trim_matches('"'))
            )?;
        }
        writeln!(w, "</table></section>")?;
    }
    writeln!(w, "</main>\n<script>{SCRIPT}</script>\n</body>\n</html>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    #[test]
    fn seek_buttons_show_short_clock_times() {
        assert_eq!(seek_button(8_594), r#"<button type="button" class="seek" data-t="8594">0:08</button>"#);
    }
}
