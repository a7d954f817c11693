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
// One passage found: its time, who speaks, the snippet with the matches marked, its paragraph.
const hitLink = (h) => {
  const a = el("a", "hit");
  if (h.url) a.href = h.url;
  const meta = el("div", "meta");
  meta.append(el("span", "time", clock(h.start_ms)));
  a.append(meta);
  const snip = el("div", "snippet");
  if (h.speaker) snip.append(el("span", "speaker", h.speaker + ": "));
  for (const p of h.snippet) snip.append(p.mark ? el("mark", null, p.text) : document.createTextNode(p.text));
  a.append(snip);
  if (h.paragraph_text) a.append(el("div", "paragraph", "¶" + h.paragraph + " " + h.paragraph_text));
  return a;
};
async function getJSON(params) {
  const r = await fetch("/api/search?" + params);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.status);
  return body;
}
const PER_PAGE = 20;
// Each report once, with its best passages; "N more in this report" lists the others.
async function search(push, page = 1) {
  const params = new URLSearchParams();
  for (const k of ["q", "since", "until", "source", "language", "speaker"]) {
    const v = $(k).value.trim();
    if (v) params.set(k, v);
  }
  if (!params.get("q")) return;
  if (page > 1) params.set("page", page);
  if (push) history.replaceState(null, "", "?" + params);
  $("status").textContent = "Searching…";
  const list = $("hits");
  list.replaceChildren();
  const query = new URLSearchParams(params);
  query.set("group", "report");
  query.set("limit", PER_PAGE);
  let groups;
  try {
    groups = await getJSON(query);
  } catch (e) {
    $("status").textContent = "Search failed: " + e.message;
    return;
  }
  const passages = groups.reduce((n, g) => n + g.hits.length + g.more, 0);
  $("status").textContent = groups.length
    ? groups.length + (groups.length === 1 ? " report, " : " reports, ") + passages + " passages" + (page > 1 ? " (page " + page + ")" : "")
    : "Nothing found for " + params.get("q");
  for (const g of groups) {
    const li = el("li", "report");
    li.append(el("div", "title", g.title || g.report));
    const when = [g.date, g.source].filter(Boolean).join(" · ");
    if (when) li.append(el("div", "meta", when));
    for (const h of g.hits) li.append(hitLink(h));
    if (g.more) {
      const more = el("button", "more", g.more + " more in this report");
      more.type = "button";
      more.addEventListener("click", async () => {
        const all = new URLSearchParams(params);
        all.delete("page");
        all.set("report", g.report);
        all.set("limit", "1000");
        try {
          const hits = await getJSON(all);
          li.querySelectorAll("a.hit").forEach((a) => a.remove());
          more.remove();
          for (const h of hits) li.append(hitLink(h));
        } catch (e) {
          more.textContent = "Could not list them: " + e.message;
        }
      });
      li.append(more);
    }
    list.append(li);
  }
  const nav = el("li", "pages");
  if (page > 1) {
    const prev = el("button", "prev", "← previous reports");
    prev.type = "button";
    prev.addEventListener("click", () => search(true, page - 1));
    nav.append(prev);
  }
  if (groups.length === PER_PAGE) {
    const next = el("button", "next", "next reports →");
    next.type = "button";
    next.addEventListener("click", () => search(true, page + 1));
    nav.append(next);
  }
  if (nav.childNodes.length) list.append(nav);
}
$("form").addEventListener("submit", (e) => { e.preventDefault(); search(true); });
const start = new URLSearchParams(location.search);
for (const k of ["q", "since", "until", "source", "language", "speaker"]) if (start.get(k)) $(k).value = start.get(k);
if (start.get("q")) search(false, Math.max(1, Number(start.get("page")) || 1));
