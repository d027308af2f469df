// Drives Debian's chromium (headless, through playwright-core) against `twin-replay ui` and a
// `twin-replay report` file, for tests/ui/browser_test.cc (which captured the log and passes
// what it did in TWIN_* variables). Exits non-zero with a message on the first failed check.
import {createRequire} from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(path.join(process.env.TWIN_UI_BROWSER_DIR, 'package.json'));
const {chromium} = require('playwright-core');

const env = (k) => { const v = process.env[k]; if (!v) throw new Error('missing ' + k); return v; };
const tokenUrl = new URL(env('TWIN_UI_URL'));
const origin = tokenUrl.origin;
const shots = env('TWIN_UI_SCREENSHOTS');
fs.mkdirSync(shots, {recursive: true});
const STORM = Number(env('TWIN_STORM_COUNT'));
const stormMarker = env('TWIN_STORM_MARKER'), lifeMarker = env('TWIN_LIFE_MARKER'), hostileMarker = env('TWIN_HOSTILE_MARKER');
const S = BigInt(1e9);

let failures = 0;
function check(cond, what) {
  console.log((cond ? 'ok   ' : 'FAIL ') + what);
  if (!cond) failures++;
}

// 1. Without the token: 401 for pages and API, with a wrong one too.
for (const p of ['/', '/app.js', '/api/info', '/api/state?at=now', '/?token=' + '0'.repeat(64)]) {
  const r = await fetch(origin + p, {redirect: 'manual'});
  check(r.status === 401, `401 without the token: GET ${p} -> ${r.status}`);
}
const bearer = await fetch(origin + '/api/info', {headers: {Authorization: 'Bearer ' + tokenUrl.searchParams.get('token')}});
check(bearer.status === 200, 'Authorization: Bearer works for scripts: ' + bearer.status);

const browser = await chromium.launch({executablePath: '/usr/lib/chromium/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run']});
const dialogs = [], outside = [], cspErrors = [], pageErrors = [];
function watch(page, allowed) {
  page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
  page.on('console', (m) => { if (/Content.Security.Policy|Refused to/i.test(m.text())) cspErrors.push(m.text()); });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('request', (r) => { if (!allowed(r.url())) outside.push(r.url()); });
}
const context = await browser.newContext({viewport: {width: 1280, height: 900}});
await context.route('**/*', (route) => (route.request().url().startsWith(origin + '/') ? route.continue() : route.abort()));
const page = await context.newPage();
watch(page, (u) => u.startsWith(origin + '/'));
const idle = () => page.waitForSelector('main[aria-busy="false"]', {timeout: 20000});

// 2. The token URL trades the token for an HttpOnly cookie and leaves the address bar.
await page.goto(tokenUrl.href);
await idle();
check(!page.url().includes('token='), 'the token is gone from the address bar: ' + page.url());
check(!(await page.evaluate(() => document.cookie)).includes(tokenUrl.searchParams.get('token')), 'the cookie is HttpOnly (not in document.cookie)');
const headers = (await (await page.request.get(origin + '/')).headersArray());
const csp = headers.find((h) => h.name.toLowerCase() === 'content-security-policy');
check(csp && csp.value.startsWith("default-src 'none'; script-src 'self'"), 'strict CSP header: ' + (csp && csp.value));

// 3. Timeline over the storm: the exec bars hold the storm, each storm exec listed once.
const since = BigInt(env('TWIN_STORM_SINCE')) - S / 2n, until = BigInt(env('TWIN_STORM_UNTIL')) + S / 2n;
await page.goto(`${origin}/#/timeline?since=${since}&until=${until}`);
await idle();
const execTotal = Number(await page.locator('table.totals tr[data-kind="exec"] td.num').textContent());
check(execTotal >= STORM, `timeline: ${execTotal} execs in the storm window (>= ${STORM}; the host runs other things too)`);
await page.screenshot({path: path.join(shots, 'timeline.png'), fullPage: true});
// A bucket holding more events than one list shows (a busy host) is narrowed the way a user
// narrows it: the timeline over that bucket alone, and its finer buckets clicked in turn.
async function listStorm(from, to, depth) {
  await page.goto(`${origin}/#/timeline?since=${from}&until=${to}`);
  await idle();
  // The chart of this range, not the one drawn before the address changed.
  await page.waitForSelector(`svg.timeline[data-since-ns="${from}"][data-until-ns="${to}"]`, {timeout: 20000});
  let n = 0;
  const bs = await page.locator('g.bucket').evaluateAll((gs) => gs.map((g) => [g.getAttribute('data-i'), Number(g.getAttribute('data-count')), g.getAttribute('data-t')]));
  const narrower = [];
  for (const [i, count] of bs) {
    if (!count) continue;
    await page.locator(`g.bucket[data-i="${i}"] rect.hit`).click({force: true});
    await page.waitForSelector('#bucket-events table.events');
    const note = await page.locator('#bucket-events p.note').last().textContent();
    if (note.includes('there are more') && depth < 4) {
      narrower.push(i);
      continue;
    }
    n += await page.locator('#bucket-events td.detail', {hasText: stormMarker}).count();
  }
  if (narrower.length) {
    const width = BigInt(await page.locator('svg.timeline').getAttribute('data-bucket-ns'));
    for (const i of narrower) {
      const t0 = BigInt(bs.find((b) => b[0] === i)[2]);
      const lo = t0 > from ? t0 : from, hi = t0 + width < to ? t0 + width : to;
      n += await listStorm(lo, hi, depth + 1);
    }
  }
  return n;
}
const listed = await listStorm(since, until, 0);
check(listed === STORM, `clicking the bars lists the storm's ${STORM} execs: ${listed}`);

// 3b. A real gap (twind killed and started again): a band on the timeline, a note under it, and
// the state inside it says it is uncertain.
const gapFrom = BigInt(env('TWIN_GAP_FROM')), gapMid = env('TWIN_GAP_MID'), gapTo = BigInt(env('TWIN_GAP_TO'));
await page.goto(`${origin}/#/timeline?since=${gapFrom - 3n * S}&until=${gapTo + 3n * S}`);
await idle();
check((await page.locator('svg.timeline rect.gap').count()) > 0, 'timeline over the downtime: a gap band is drawn');
const notes = (await page.locator('li.gapnote').allTextContents()).join(' | ');
check(/events were lost|daemon down/.test(notes), 'timeline over the downtime: the gap is named: ' + notes);
await page.screenshot({path: path.join(shots, 'timeline-gap.png'), fullPage: true});
await page.goto(`${origin}/#/state?at=${gapMid}`);
await idle();
await page.waitForSelector('#proc-tree');
const banner = (await page.locator('#uncertain').count()) ? await page.locator('#uncertain').textContent() : '';
check(banner.startsWith('UNCERTAIN'), 'state inside the downtime is marked uncertain: ' + banner);

// 4. State at T: the slider across the lifetime of a process makes it appear and disappear.
const before = env('TWIN_LIFE_BEFORE'), mid = env('TWIN_LIFE_MID'), after = env('TWIN_LIFE_AFTER');
await page.goto(`${origin}/#/state?at=${mid}`);
await idle();
await page.waitForSelector('#proc-tree');
const lifeNode = () => page.locator('#proc-tree li', {hasText: lifeMarker}).count();
check((await lifeNode()) > 0, 'state at its middle shows the process');
async function slide(ns) {
  const prev = await page.getAttribute('main', 'data-state-at');
  await page.locator('#slider').evaluate((el, t) => {
    const lo = BigInt(el.dataset.lo), hi = BigInt(el.dataset.hi);
    el.value = String(Number((BigInt(t) - lo) * 1000n / (hi - lo)));
    el.dispatchEvent(new Event('input', {bubbles: true}));
  }, ns);
  await page.waitForFunction((p) => document.querySelector('main').getAttribute('data-state-at') !== p, prev, {timeout: 20000});
}
await slide(before);
check((await lifeNode()) === 0, 'slider before its start: the process is not there');
await slide(mid);
check((await lifeNode()) > 0, 'slider inside its lifetime: it appears');
// The argv span of the process itself (an ancestor's <li> holds its text too).
const hostileArgv = page.locator('#proc-tree span.argv', {hasText: hostileMarker}).first();
const hostileText = await hostileArgv.textContent();
const hostileLi = hostileArgv.locator('xpath=..');
check(hostileText.includes('<script>alert(1)</script>') && hostileText.includes('"><img src=x onerror=alert(2)>') &&
      hostileText.includes('javascript:alert(3)'), 'hostile argv shown as text: ' + hostileText);
check(hostileText.includes('\\u{202E}') && !hostileText.includes('\u202e'), 'the bidi override is shown escaped, not applied');
const hostileId = await hostileLi.getAttribute('data-id');
await page.screenshot({path: path.join(shots, 'state.png'), fullPage: true});
await slide(after);
check((await lifeNode()) === 0, 'slider after its exit: it is gone');

// 5. Diff, Process, Twin, Integrity.
await page.goto(`${origin}/#/diff?t1=${before}&t2=${mid}`);
await idle();
check((await page.locator('tr.added', {hasText: lifeMarker}).count()) > 0, 'diff lists the process as added');
await page.screenshot({path: path.join(shots, 'diff.png'), fullPage: true});
await page.goto(`${origin}/#/process?id=${encodeURIComponent(hostileId)}`);
await idle();
const title = await page.locator('#proc-title').textContent();
check(title.includes('<script>alert(1)</script>'), 'process page title shows the argv as text');
check((await page.locator('main table.events tr[data-kind="exec"]').count()) > 0, 'process page lists its exec');
await page.screenshot({path: path.join(shots, 'process.png'), fullPage: true});
await page.goto(`${origin}/#/twin`);
await idle();
await page.screenshot({path: path.join(shots, 'twin.png'), fullPage: true});
await page.goto(`${origin}/#/integrity`);
await idle();
check((await page.locator('#verify-status').textContent()).startsWith('OK'), 'integrity: verify --quick is OK');
await page.screenshot({path: path.join(shots, 'integrity.png'), fullPage: true});
check((await page.locator('img, [onerror], iframe, object, embed').count()) === 0, 'no element made from host data');

// 6. The report, from disk, offline.
const rctx = await browser.newContext({viewport: {width: 1280, height: 900}, offline: true});
const reportUrl = 'file://' + env('TWIN_UI_REPORT');
await rctx.route('**/*', (route) => (route.request().url().split('#')[0] === reportUrl ? route.continue() : route.abort()));
const rpage = await rctx.newPage();
watch(rpage, (u) => u.split('#')[0] === reportUrl);
await rpage.goto(reportUrl);
await rpage.waitForSelector('main[aria-busy="false"]');
check((await rpage.locator('#tl-summary').count()) === 1, 'report: the timeline renders offline');
let found = '';
const rb = await rpage.locator('g.bucket').evaluateAll((gs) => gs.map((g) => [g.getAttribute('data-i'), Number(g.getAttribute('data-count'))]));
for (const [i, n] of rb) {
  if (!n || found) continue;
  await rpage.locator(`g.bucket[data-i="${i}"] rect.hit`).click({force: true});
  await rpage.waitForSelector('#bucket-events table.events');
  const cell = rpage.locator('#bucket-events td.detail', {hasText: hostileMarker});
  if (await cell.count()) found = await cell.first().textContent();
}
check(found.includes('<script>alert(1)</script>'), 'report: hostile argv listed as text: ' + found);
await rpage.screenshot({path: path.join(shots, 'report.png'), fullPage: true});

check(dialogs.length === 0, 'no dialog opened: ' + JSON.stringify(dialogs));
check(outside.length === 0, 'no request left the origin: ' + JSON.stringify(outside));
check(cspErrors.length === 0, 'no CSP violation: ' + JSON.stringify(cspErrors));
check(pageErrors.length === 0, 'no script error: ' + JSON.stringify(pageErrors));
await browser.close();
console.log(failures ? `${failures} checks failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
