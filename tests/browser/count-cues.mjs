// Counts the cues Debian's headless Chromium parses from each WebVTT file given, as JSON
// {file: count}: what a player shows, for tests/formats.rs to compare `vidscribe check` with.
//
//   node tests/browser/count-cues.mjs FILE.vtt...
import { chromium } from 'playwright-core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

const files = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const profile = mkdtempSync(join(tmpdir(), 'vidscribe-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const counts = {};
try {
  const page = await browser.newPage();
  await page.setContent('<video id="v"></video>');
  for (const f of files) {
    const data = readFileSync(f).toString('base64');
    counts[basename(f)] = await page.evaluate((src) => new Promise((done) => {
      const v = document.getElementById('v');
      v.replaceChildren();
      const el = document.createElement('track');
      el.kind = 'subtitles';
      el.src = src;
      el.default = true;
      v.append(el);
      el.track.mode = 'hidden';
      const report = () => done(el.track.cues ? el.track.cues.length : -1);
      el.addEventListener('load', report, { once: true });
      el.addEventListener('error', () => done(0), { once: true });
      setTimeout(() => done(-2), 10000);
    }), `data:text/vtt;base64,${data}`);
  }
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(counts));
