// Drives serve --edit's page in Debian's headless Chromium as an editor would: change a cue's
// text, save, reload; then a page of another site tries to post an edit (a form and a fetch).
// Prints, as JSON, what the editor saw; the Rust test (tests/apply.rs) judges it.
//
//   node tests/browser/check-edit.mjs http://127.0.0.1:PORT REPORT_ID NEW_FIRST_WORD
import { launch } from './launch.mjs';
import { createServer } from 'node:http';

const [base, id, word] = process.argv.slice(2);
if (!base || !id || !word) {
  console.error('usage: check-edit.mjs BASE_URL REPORT_ID WORD');
  process.exit(2);
}
const { browser, close } = await launch();
// Another site, on loopback: its page posts to the archive as a forger would.
const target = `${base}/api/edit/${encodeURIComponent(id)}`;
const evil = createServer((req, res) => {
  res.setHeader('Content-Type', 'text/html');
  res.end(`<!doctype html><form id="f" method="POST" action="${target}" enctype="text/plain">
<input name='{"cue":0,"before":[],"after":["forged"],"x":"' value='"}'></form>
<script>
fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' },
  body: JSON.stringify({ cue: 0, before: [], after: ['forged'] }) })
  .then(() => { document.title = 'fetch sent'; }, () => { document.title = 'fetch failed'; })
  .finally(() => document.getElementById('f').submit());
</script>`);
});
await new Promise((done) => evil.listen(0, '127.0.0.1', done));
const result = { console_errors: [], page_errors: [] };
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') result.console_errors.push(m.text()); });
  page.on('pageerror', (e) => result.page_errors.push(String(e)));
  const url = `${base}/edit/${encodeURIComponent(id)}`;
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('body[data-ready]', { timeout: 15000 });
  const box = page.locator('li.cue textarea').first();
  result.before = await box.inputValue();
  const changed = result.before.replace(/^\S+/, word);
  await box.fill(changed);
  await page.locator('li.cue button.save').first().click();
  await page.waitForFunction(() => /saved as revision|not saved|changed since/.test(document.getElementById('status').textContent), null, { timeout: 30000 });
  result.status = await page.locator('#status').textContent();
  await page.reload({ waitUntil: 'load' });
  await page.waitForSelector('body[data-ready]', { timeout: 15000 });
  result.after_reload = await page.locator('li.cue textarea').first().inputValue();
  result.revisions = await page.locator('#revisions li').allTextContents();
  // The captions the player uses, as the browser parsed them.
  result.track = await page.evaluate(() => new Promise((done) => {
    const el = document.querySelector('#video track');
    if (!el) return done([]);
    const t = el.track;
    t.mode = 'hidden';
    const report = () => done(t.cues ? Array.from(t.cues).map((c) => c.text) : []);
    if (el.readyState === 2) report();
    else { el.addEventListener('load', report, { once: true }); el.addEventListener('error', () => done(['track error']), { once: true }); setTimeout(report, 10000); }
  }));
  // The forger's page.
  const forger = await browser.newPage();
  const port = evil.address().port;
  await forger.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'load' });
  await forger.waitForTimeout(2000);
  result.forger_landed = forger.url().slice(0, 120);
  result.forger_body = (await forger.content()).slice(0, 300);
} catch (e) {
  result.error = String(e);
} finally {
  await close();
  evil.close();
}
console.log(JSON.stringify(result));
