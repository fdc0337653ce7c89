// The bn-lab report in a real browser (Debian's chromium, headless, driven by playwright-core):
// the page loads with no console error and no request but itself, every chart has rendered (a
// screenshot of it is not blank), nothing is wider than a phone's screen, and each experiment's
// table of numbers equals the --json line of the same run.
// Run: node report_browser.js INDEX_HTML NUMBERS_JSONL NAME... (NODE_PATH: tools/browser/node_modules)
const { chromium } = require('playwright-core');
const { PNG } = require('pngjs');
const fs = require('fs');
const path = require('path');

const [indexHtml, numbersFile, ...names] = process.argv.slice(2);
const failures = [];
const fail = (what) => failures.push(what);

// Every number of a JSON value as dotted key -> value, as the report's table lists them.
function flatten(value, key, out) {
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) flatten(v, key === '' ? k : `${key}.${k}`, out);
  } else {
    out.set(key, value);
  }
  return out;
}

// The share of a PNG's pixels that are not near-white.
function inkShare(buffer) {
  const png = PNG.sync.read(buffer);
  let ink = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    if (png.data[i] < 200 || png.data[i + 1] < 200 || png.data[i + 2] < 200) ink++;
  }
  return ink / (png.width * png.height);
}

async function check(browser, viewport) {
  const page = await browser.newPage({ viewport });
  const url = 'file://' + path.resolve(indexHtml);
  page.on('console', (m) => { if (m.type() === 'error') fail(`${viewport.width}px: console error: ${m.text()}`); });
  page.on('pageerror', (e) => fail(`${viewport.width}px: page error: ${e.message}`));
  page.on('request', (r) => { if (r.url() !== url) fail(`${viewport.width}px: the page requested ${r.url()}`); });
  await page.goto(url, { waitUntil: 'load' });

  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 0) fail(`${viewport.width}px: the page is ${overflow}px wider than the screen`);

  const sections = await page.$$eval('section.experiment', (s) => s.map((e) => e.id));
  if (JSON.stringify(sections) !== JSON.stringify(names)) fail(`sections ${sections} instead of ${names}`);

  const charts = await page.$$('.chart svg');
  for (const [i, chart] of charts.entries()) {
    const box = await chart.boundingBox();
    if (!box || box.width < 100 || box.height < 100) {
      fail(`${viewport.width}px: chart ${i + 1} has no size (${JSON.stringify(box)})`);
      continue;
    }
    const ink = inkShare(await chart.screenshot());
    if (ink < 0.01) fail(`${viewport.width}px: chart ${i + 1} looks blank (${(100 * ink).toFixed(2)}% ink)`);
  }
  await page.close();
  return { page, charts: charts.length };
}

async function numbersMatch(browser) {
  const page = await browser.newPage();
  await page.goto('file://' + path.resolve(indexHtml), { waitUntil: 'load' });
  const lines = fs.readFileSync(numbersFile, 'utf8').split('\n').filter((l) => l.startsWith('{'));
  if (lines.length !== names.length) fail(`${lines.length} --json lines for ${names.length} experiments`);
  let compared = 0;
  for (const [i, name] of names.entries()) {
    const want = flatten(JSON.parse(lines[i] || '{}'), '', new Map());
    const rows = await page.$$eval(`section#${name} table.numbers tr`, (trs) =>
      trs.map((tr) => [tr.querySelector('.key').textContent, tr.querySelector('.value').textContent]));
    if (rows.length !== want.size) fail(`${name}: ${rows.length} numbers on the page, ${want.size} in --json`);
    for (const [key, text] of rows) {
      const got = JSON.parse(text);
      if (!want.has(key)) fail(`${name}: ${key} is on the page but not in --json`);
      else if (got !== want.get(key)) fail(`${name}: ${key} is ${text} on the page, ${want.get(key)} in --json`);
      compared++;
    }
  }
  await page.close();
  return compared;
}

(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const desktop = await check(browser, { width: 1280, height: 900 });
    await check(browser, { width: 390, height: 844 });  // a phone
    const compared = await numbersMatch(browser);
    if (desktop.charts === 0) fail('no chart on the page');
    console.log(`report_browser: ${names.length} experiments, ${desktop.charts} charts, ${compared} numbers compared`);
  } finally {
    await browser.close();
  }
  for (const f of failures) console.error(`FAIL: ${f}`);
  process.exit(failures.length ? 1 : 0);
})().catch((e) => { console.error(`FAIL: ${e.stack || e}`); process.exit(1); });
