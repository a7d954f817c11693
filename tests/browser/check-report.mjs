// Opens a vidscribe report.html in Debian's headless Chromium and prints, as JSON, what a user
// would see: console errors, the subtitle cues the browser parsed, and where the video is after
// clicking timestamps and searching. The Rust test (tests/report.rs) judges the result.
//
//   node tests/browser/check-report.mjs OUT/report.html [search words] [deep-link seconds]
import { launch } from './launch.mjs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [page_path, query = '', deep = '30.25'] = process.argv.slice(2);
if (!page_path) {
  console.error('usage: check-report.mjs REPORT.html [search words]');
  process.exit(2);
}
const { browser, close } = await launch();
const result = { console_errors: [], page_errors: [], failed_requests: [] };
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') result.console_errors.push(m.text()); });
  page.on('pageerror', (e) => result.page_errors.push(String(e)));
  page.on('requestfailed', (r) => result.failed_requests.push(`${r.url().slice(0, 80)}: ${r.failure()?.errorText}`));
  await page.goto(pathToFileURL(resolve(page_path)).href, { waitUntil: 'load' });

  // The video's metadata and the subtitle track, as the browser parsed them.
  result.video = await page.evaluate(() => new Promise((done) => {
    const v = document.getElementById('video');
    const report = () => done({ ready_state: v.readyState, duration: v.duration, error: v.error && v.error.code });
    if (v.readyState >= 1) report();
    else { v.addEventListener('loadedmetadata', report, { once: true }); v.addEventListener('error', report, { once: true }); setTimeout(report, 10000); }
  }));
  result.track = await page.evaluate(() => new Promise((done) => {
    const el = document.getElementById('subtitles');
    const t = el.track;
    if (t.mode === 'disabled') t.mode = 'hidden';
    const report = () => done({
      ready_state: el.readyState,
      cues: t.cues ? t.cues.length : 0,
      first: t.cues && t.cues.length ? { start: t.cues[0].startTime, end: t.cues[0].endTime, text: t.cues[0].text } : null,
      last: t.cues && t.cues.length ? { start: t.cues[t.cues.length - 1].startTime, end: t.cues[t.cues.length - 1].endTime } : null,
      // Each cue as the browser renders it: its text, and the voices (WebVTT <v> spans become
      // spans titled with the speaker).
      rendered: t.cues ? Array.from(t.cues).map((c) => {
        const f = c.getCueAsHTML();
        return { start: c.startTime, text: f.textContent, voices: Array.from(f.querySelectorAll('span[title]')).map((s) => s.title) };
      }) : [],
    });
    if (el.readyState === 2) report();
    else { el.addEventListener('load', report, { once: true }); el.addEventListener('error', report, { once: true }); setTimeout(report, 10000); }
  }));

  // Clicking each paragraph's first timestamp moves the video there.
  const seekTo = async (locator) => {
    const target = Number(await locator.getAttribute('data-t')) / 1000;
    await locator.click();
    const at = await page.evaluate((t) => new Promise((done) => {
      const v = document.getElementById('video');
      const check = () => Math.abs(v.currentTime - t) < 0.05;
      if (check() && !v.seeking) return done(v.currentTime);
      v.addEventListener('seeked', () => done(v.currentTime), { once: true });
      setTimeout(() => done(v.currentTime), 5000);
    }), target);
    return { target, current_time: at };
  };
  result.paragraph_seeks = [];
  const blocks = page.locator('.block .times');
  for (let i = 0; i < await blocks.count(); i++) {
    const block = blocks.nth(i).locator('xpath=..');
    const id = await block.getAttribute('id');
    const seek = await seekTo(blocks.nth(i).locator('button.seek').first());
    result.paragraph_seeks.push({ paragraph: id, ...seek });
  }
  // Who speaks each passage, and where a name that the article gave leads.
  result.passage_speakers = await page.$$eval('.passage', (ps) => ps.map((p) => {
    const w = p.querySelector('.who');
    return w ? { text: w.textContent, href: w.getAttribute('href') } : null;
  }));
  const named = page.locator('.passage a.who').first();
  if (await named.count()) {
    await named.click();
    result.speaker_link = await page.evaluate(() => ({
      hash: location.hash,
      target: location.hash ? document.querySelector(location.hash)?.querySelector('.num')?.textContent ?? null : null,
    }));
  }
  result.passages = await page.locator('.passage').count();
  result.linked_passages = await page.locator('.passage a.kind').count();

  // Searching and pressing Enter jumps to the first passage found.
  if (query) {
    await page.fill('#q', query);
    const hits = await page.locator('#hits li').count();
    await page.press('#q', 'Enter');
    const first = page.locator('#hits li button.seek').first();
    const target = hits ? Number(await first.getAttribute('data-t')) / 1000 : null;
    const current = await page.evaluate(() => new Promise((done) => {
      const v = document.getElementById('video');
      if (!v.seeking) return done(v.currentTime);
      v.addEventListener('seeked', () => done(v.currentTime), { once: true });
      setTimeout(() => done(v.currentTime), 5000);
    }));
    result.search = { query, hits, target, current_time: current };
  }

  // A deep link (as the archive's search gives) opens the page at that second.
  const linked = await browser.newPage();
  linked.on('pageerror', (e) => result.page_errors.push(String(e)));
  await linked.goto(`${pathToFileURL(resolve(page_path)).href}#t=${deep}`, { waitUntil: 'load' });
  const at = await linked.evaluate((t) => new Promise((done) => {
    const v = document.getElementById('video');
    const check = () => v.readyState >= 1 && Math.abs(v.currentTime - t) < 0.05 && !v.seeking;
    if (check()) return done(v.currentTime);
    const poll = setInterval(() => { if (check()) { clearInterval(poll); done(v.currentTime); } }, 50);
    setTimeout(() => { clearInterval(poll); done(v.currentTime); }, 10000);
  }), Number(deep));
  result.deep_link = { target: Number(deep), current_time: at };
} finally {
  await close();
}
console.log(JSON.stringify(result, null, 2));
