// The screenshots in docs/ui/ (scripts/ui-screenshots.sh): every page of `twin-replay ui` on a
// synthetic day (no real host's processes end up in the docs), and the report.
// Usage: node screenshots.mjs TOKEN_URL REPORT_FILE OUT_DIR   (TWIN_UI_BROWSER_DIR: node_modules)
import {createRequire} from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.TWIN_UI_BROWSER_DIR, 'package.json'));
const {chromium} = require('playwright-core');
const [tokenUrl, report, out] = process.argv.slice(2);
const origin = new URL(tokenUrl).origin;
const browser = await chromium.launch({executablePath: '/usr/lib/chromium/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu']});
const page = await browser.newPage({viewport: {width: 1280, height: 860}});
const errors = [];
page.on('pageerror', (e) => errors.push(String(e)));
page.on('dialog', (d) => { errors.push('dialog ' + d.message()); d.dismiss(); });
await page.goto(tokenUrl);
async function shot(hash, name, prepare) {
  await page.goto(origin + '/' + hash);
  await page.waitForSelector('main[aria-busy="false"]', {timeout: 60000});
  if (prepare) await prepare();
  await page.screenshot({path: path.join(out, name + '.png')});
  console.log('wrote', path.join(out, name + '.png'));
}
await shot('#/timeline', 'timeline', async () => {
  const bars = page.locator('g.bucket rect.hit');
  await bars.nth(Math.floor((await bars.count()) * 0.8)).click({force: true});
  await page.waitForSelector('#bucket-events table.events');
});
const hostile = await (await fetch(origin + '/api/events?kind=exec&pid=31337', {headers: {Cookie: (await page.context().cookies()).map((c) => c.name + '=' + c.value).join('; ')}})).text();
const h = JSON.parse(hostile.split('\n')[0]);
await shot('#/state?at=' + (BigInt(h.ts_ns) + 1000000000n), 'state', async () => {
  await page.locator('#proc-tree span.argv', {hasText: 'alert(1)'}).first().scrollIntoViewIfNeeded();
});
await shot('#/diff?t1=-2h&t2=-1h', 'diff');
await shot('#/process?id=' + encodeURIComponent(h.process_id), 'process');
await shot('#/twin', 'twin');
await shot('#/integrity', 'integrity');
await page.goto('file://' + report);
await page.waitForSelector('main[aria-busy="false"]');
await page.screenshot({path: path.join(out, 'report.png')});
console.log('wrote', path.join(out, 'report.png'));
await browser.close();
if (errors.length) { console.error('errors:', errors); process.exit(1); }
