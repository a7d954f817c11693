// The search page's script (served as /search.js: the page's policy runs no inline script).
"use strict";
const $ = (id) => document.getElementById(id);
const clock = (ms) => {
  const s = Math.floor(ms / 1000), h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, r = s % 60;
  return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(r).padStart(2, "0");
};
// Every text from the archive goes in as text, never as markup.
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
};
async function search(push) {
  const params = new URLSearchParams();
  for (const k of ["q", "since", "until", "source", "language", "speaker"]) {
    const v = $(k).value.trim();
    if (v) params.set(k, v);
  }
  if (!params.get("q")) return;
  if (push) history.replaceState(null, "", "?" + params);
  $("status").textContent = "Searching…";
  const list = $("hits");
  list.replaceChildren();
  let hits;
  try {
    const r = await fetch("/api/search?" + params);
    hits = await r.json();
    if (!r.ok) throw new Error(hits.error || r.status);
  } catch (e) {
    $("status").textContent = "Search failed: " + e.message;
    return;
  }
  $("status").textContent = hits.length ? hits.length + " passages" : "Nothing found for " + params.get("q");
  for (const h of hits) {
    const li = el("li");
    const a = el("a", "hit");
    if (h.url) a.href = h.url;
    a.append(el("div", "title", h.title || h.report));
    const meta = el("div", "meta");
    meta.append(el("span", "time", clock(h.start_ms)), [h.date, h.source].filter(Boolean).join(" · "));
    a.append(meta);
    const snip = el("div", "snippet");
    if (h.speaker) snip.append(el("span", "speaker", h.speaker + ": "));
    for (const p of h.snippet) snip.append(p.mark ? el("mark", null, p.text) : document.createTextNode(p.text));
    a.append(snip);
    if (h.paragraph_text) a.append(el("div", "paragraph", "¶" + h.paragraph + " " + h.paragraph_text));
    li.append(a);
    list.append(li);
  }
}
$("form").addEventListener("submit", (e) => { e.preventDefault(); search(true); });
const start = new URLSearchParams(location.search);
for (const k of ["q", "since", "until", "source", "language", "speaker"]) if (start.get(k)) $(k).value = start.get(k);
if (start.get("q")) search(false);
