// How long the Timeline page takes to open in Debian's chromium (bench/run-ui-bench.sh): from
// navigation to the page saying it is done (main[aria-busy=false]: the aggregate fetched and
// drawn; the page records performance.now() then in data-ready-ms). Usage: node page_time.mjs TOKEN_URL RUNS   (TWIN_UI_BROWSER_DIR: node_modules)
import {createRequire} from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.TWIN_UI_BROWSER_DIR, 'package.json'));
const {chromium} = require('playwright-core');
const [tokenUrl, runs] = process.argv.slice(2);
const origin = new URL(tokenUrl).origin;
const browser = await chromium.launch({executablePath: '/usr/lib/chromium/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu']});
const page = await browser.newPage({viewport: {width: 1280, height: 860}});
await page.goto(tokenUrl);
await page.waitForSelector('main[aria-busy="false"]', {timeout: 60000});
const times = [], ready = [];
for (let i = 0; i < Number(runs || 5); i++) {
  await page.goto('about:blank');
  const t0 = Date.now();
  await page.goto(origin + '/#/timeline');
  await page.waitForSelector('main[aria-busy="false"]', {timeout: 60000});
  times.push(Date.now() - t0);
  ready.push(Number(await page.getAttribute('main', 'data-ready-ms')));
}
const total = await page.locator('#tl-summary').getAttribute('data-total');
const stat = (v) => { v.sort((a, b) => a - b); return `median ${v[Math.floor(v.length / 2)]} ms, min ${v[0]}, max ${v[v.length - 1]}`; };
console.log(`Timeline page, whole log (${total} events) in chromium, ${times.length} runs:`);
console.log(`  navigation start to drawn (the page's own clock): ${stat(ready)}`);
console.log(`  as playwright sees it (goto + wait for the selector): ${stat(times)}`);
await browser.close();
