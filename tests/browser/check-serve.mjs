// Uses `vidscribe serve` in Debian's headless Chromium as a person would: types a query, reads
// the hits, clicks the first, and reports where the report page's video is; then types a query
// full of HTML. Prints JSON for the Rust test (tests/serve.rs) to judge.
//
//   node tests/browser/check-serve.mjs http://127.0.0.1:PORT/ "query"
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [base, query] = process.argv.slice(2);
if (!base || !query) {
  console.error('usage: check-serve.mjs BASE_URL QUERY');
  process.exit(2);
}
const profile = mkdtempSync(join(tmpdir(), 'vidscribe-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--no-first-run', '--disable-sync'],
});
const result = { console_errors: [], page_errors: [], dialogs: 0, media_statuses: [] };
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') result.console_errors.push(m.text()); });
  page.on('pageerror', (e) => result.page_errors.push(String(e)));
  page.on('dialog', async (d) => { result.dialogs += 1; await d.dismiss(); });
  page.on('response', (r) => {
    if (/\.(mp4|webm|m4a|wav|flac|ogg|mp3|mkv)(\?|$)/.test(new URL(r.url()).pathname)) result.media_statuses.push(r.status());
  });
  await page.goto(base, { waitUntil: 'load' });
  await page.fill('#q', query);
  await page.press('#q', 'Enter');
  await page.waitForFunction(() => /passages|Nothing found|failed/.test(document.getElementById('status').textContent));
  result.status = await page.textContent('#status');
  // Each report once (a list item), its best passages as links.
  const passagesShown = () => page.$$eval('#hits li.report a.hit', (as) => as.map((a) => ({
    href: a.getAttribute('href'),
    title: a.closest('li').querySelector('.title').textContent,
    marks: [...a.querySelectorAll('mark')].map((m) => m.textContent),
  })));
  const reportsShown = () => page.$$eval('#hits li.report', (lis) => lis.map((li) => li.querySelector('.title').textContent));
  result.hits = await passagesShown();
  result.reports = await reportsShown();
  // "N more in this report" lists the report's other passages in place.
  const item = await page.$('#hits li.report:has(button.more)');
  if (item) {
    const more = await item.$('button.more');
    const label = await more.textContent();
    const before = (await item.$$('a.hit')).length;
    await more.click();
    await page.waitForFunction((li) => !li.querySelector('button.more'), item);
    result.expanded = { label, before, after: (await item.$$('a.hit')).length };
  }
  // The next page: other reports.
  const next = page.locator('#hits button.next');
  if (await next.count()) {
    await next.click();
    await page.waitForFunction(() => /page 2/.test(document.getElementById('status').textContent));
    result.next_reports = await reportsShown();
    await page.goto(base, { waitUntil: 'load' });
    await page.fill('#q', query);
    await page.press('#q', 'Enter');
    await page.waitForFunction(() => /passages|Nothing found|failed/.test(document.getElementById('status').textContent));
  }
  if (result.hits.length && result.hits[0].href) {
    await Promise.all([page.waitForURL(/report\.html#t=/), page.click('#hits li.report a.hit')]);
    result.opened = page.url();
    result.video = await page.evaluate(() => new Promise((done) => {
      const v = document.getElementById('video');
      const t0 = Date.now();
      const check = () => {
        if ((v.readyState >= 1 && !v.seeking && v.currentTime > 0) || Date.now() - t0 > 15000) {
          done({ ready_state: v.readyState, current_time: v.currentTime, error: v.error && v.error.code });
        } else setTimeout(check, 100);
      };
      check();
    }));
    await page.goBack();
  }
  // A query that is HTML must come back as text.
  const evil = '<img src=x onerror=alert(1)><b>bold</b>';
  await page.goto(base, { waitUntil: 'load' });
  await page.fill('#q', evil);
  await page.press('#q', 'Enter');
  await page.waitForFunction(() => /passages|Nothing found|failed/.test(document.getElementById('status').textContent));
  result.evil_status = await page.textContent('#status');
  result.evil_elements = await page.$$eval('#status img, #status b, #hits img', (es) => es.length);
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
