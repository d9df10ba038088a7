// bench/ui: time from navigation to a metric chart drawn on the run page,
// beside the floor measured in the same browser on the same server: a bare
// page that fetches the same history in one request, parses it and draws it
// with uPlot (bench/ui/baseline.html, no app code). Prints medians and ratios.
//
// Usage: node bench/ui/ui_bench.mjs --binary BIN --ui-dir DIST [--loads 7] [--sizes 1000,10000,100000]
//          [--compare-ui-dir OTHER_DIST]
// (bench/ui/ui_bench.sh passes the build's binary and UI.) --compare-ui-dir
// also times another build of the UI (e.g. an older commit's) on a second
// server seeded alike, its loads alternating with the others.
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const uiRoot = join(here, '../../ui');
// playwright-core and uPlot come from the UI's own node_modules (npm ci in ui/).
const requireUi = createRequire(join(uiRoot, 'package.json'));
const { chromium } = requireUi('playwright-core');

const { values: args } = parseArgs({
  options: {
    binary: { type: 'string' },
    'ui-dir': { type: 'string' },
    chromium: { type: 'string', default: process.env.MLFORGE_CHROMIUM || '/usr/bin/chromium' },
    loads: { type: 'string', default: '7' },
    sizes: { type: 'string', default: '1000,10000,100000' },
    'compare-ui-dir': { type: 'string' },
  },
});
const LOADS = Number(args.loads);
const SIZES = args.sizes.split(',').map(Number);
if (!args.binary || !existsSync(args.binary)) throw new Error(`--binary: mlforge not found (${args.binary})`);
if (!args['ui-dir'] || !existsSync(join(args['ui-dir'], 'index.html'))) throw new Error(`--ui-dir: no built UI (${args['ui-dir']})`);

const work = mkdtempSync(join(tmpdir(), 'mlforge-ui-bench-'));
// The built UI plus the baseline page and uPlot's own bundle, served by the same server.
const uiDir = join(work, 'ui');
cpSync(args['ui-dir'], uiDir, { recursive: true });
copyFileSync(join(here, 'baseline.html'), join(uiDir, 'bench-baseline.html'));
const uplotDist = dirname(requireUi.resolve('uplot/dist/uPlot.iife.min.js'));
copyFileSync(join(uplotDist, 'uPlot.iife.min.js'), join(uiDir, 'bench-uPlot.iife.min.js'));
copyFileSync(join(uplotDist, 'uPlot.min.css'), join(uiDir, 'bench-uPlot.min.css'));

const servers = [];
let browser;

// A server on its own data dir serving uiDir; returns its base URL.
async function startServer(name, dir) {
  const portFile = join(work, `${name}.port`);
  const proc = spawn(args.binary, ['server', '--host', '127.0.0.1', '--port', '0', '--port-file', portFile,
    '--data-dir', join(work, `${name}-data`), '--ui-dir', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  servers.push(proc);
  for (let i = 0; i < 600 && !existsSync(portFile); i++) await sleep(50);
  return `http://127.0.0.1:${readFileSync(portFile, 'utf8').trim()}`;
}

// One run per size with one metric "loss" of that many points, through log-batch.
async function seed(base) {
  const post = async (path, body) => {
    const r = await fetch(`${base}/api/2.0/mlflow/${path}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    const json = await r.json();
    if (!r.ok) throw new Error(`${path}: ${JSON.stringify(json)}`);
    return json;
  };
  const exp = (await post('experiments/create', { name: 'ui-bench' })).experiment_id;
  const runs = {};
  for (const n of SIZES) {
    const run = (await post('runs/create', { experiment_id: exp, run_name: `loss-${n}` })).run.info.run_id;
    const t0 = Date.now() - n * 1000;
    // A noisy decaying loss with a spike every 9,973 steps (min/max must keep them).
    for (let s = 0; s < n; s += 1000) {
      const metrics = [];
      for (let i = s; i < Math.min(n, s + 1000); i++) {
        const spike = i % 9973 === 5000 ? 3 : 0;
        metrics.push({ key: 'loss', value: 1 / (1 + i / 1000) + 0.05 * Math.sin(i * 0.7) + spike, timestamp: t0 + i * 1000, step: i });
      }
      await post('runs/log-batch', { run_id: run, metrics });
    }
    runs[n] = run;
  }
  return runs;
}

async function main() {
  const base = await startServer('main', uiDir);
  const runs = await seed(base);
  let other;
  if (args['compare-ui-dir']) {
    const otherBase = await startServer('other', args['compare-ui-dir']);
    other = { base: otherBase, runs: await seed(otherBase) };
  }

  browser = await chromium.launch({
    executablePath: args.chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // The first animation frame after a chart's canvas is in the page: uPlot
  // draws in a microtask after it builds the canvas, so the frame shows it.
  await context.addInitScript(() => {
    window.__drawn = new Promise((resolve) => {
      const seen = () => {
        if (!document.querySelector('[data-chart] canvas')) return false;
        requestAnimationFrame(() => resolve(performance.now()));
        return true;
      };
      new MutationObserver((_m, obs) => seen() && obs.disconnect()).observe(document, { childList: true, subtree: true });
    });
  });

  // One load: ms from navigation start to the chart drawn, and to the last
  // history response (the part the server and network take).
  async function load(url) {
    const page = await context.newPage();
    try {
      await page.goto(url, { waitUntil: 'commit' });
      const drawn = await page.evaluate(() => window.__drawn);
      const fetched = await page.evaluate(() =>
        Math.max(0, ...performance.getEntriesByType('resource')
          .filter((e) => e.name.includes('metrics/get-history')).map((e) => e.responseEnd)));
      return { drawn, fetched };
    } finally {
      await page.close();
    }
  }
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };

  const rows = [];
  for (const n of SIZES) {
    const app = [];
    const floor = [];
    const otherApp = [];
    const appUrl = `${base}/runs/${runs[n]}`;
    const floorUrl = `${base}/bench-baseline.html?run_id=${runs[n]}&key=loss`;
    const otherUrl = other && `${other.base}/runs/${other.runs[n]}`;
    await load(appUrl); // warm: the app bundle in the HTTP cache, the history in SQLite's page cache
    await load(floorUrl);
    if (other) await load(otherUrl);
    for (let i = 0; i < LOADS; i++) {
      // Alternate, so drift in the machine's load hits all alike.
      app.push(await load(appUrl));
      floor.push(await load(floorUrl));
      if (other) otherApp.push(await load(otherUrl));
    }
    rows.push({
      n,
      app: median(app.map((r) => r.drawn)),
      appFetched: median(app.map((r) => r.fetched)),
      floor: median(floor.map((r) => r.drawn)),
      floorFetched: median(floor.map((r) => r.fetched)),
      other: other && median(otherApp.map((r) => r.drawn)),
      otherFetched: other && median(otherApp.map((r) => r.fetched)),
    });
  }

  const f = (ms) => Math.round(ms).toLocaleString('en-US');
  console.log(`# chromium ${browser.version()}, headless, 1280x900; medians of ${LOADS} loads (after one warm-up load each)`);
  console.log('');
  console.log('| points | run page: chart drawn (ms) | of which history fetched (ms) | floor: chart drawn (ms) | of which history fetched (ms) | run page / floor |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(`| ${r.n.toLocaleString('en-US')} | ${f(r.app)} | ${f(r.appFetched)} | ${f(r.floor)} | ${f(r.floorFetched)} | ${(r.app / r.floor).toFixed(2)} |`);
  }
  if (other) {
    console.log('');
    console.log(`| points | other UI (--compare-ui-dir): chart drawn (ms) | of which history fetched (ms) | other UI / floor |`);
    console.log('| --- | --- | --- | --- |');
    for (const r of rows) {
      console.log(`| ${r.n.toLocaleString('en-US')} | ${f(r.other)} | ${f(r.otherFetched)} | ${(r.other / r.floor).toFixed(2)} |`);
    }
  }
}

try {
  await main();
} finally {
  await browser?.close();
  for (const server of servers) {
    server.kill('SIGTERM');
    if (server.exitCode === null) await new Promise((r) => server.once('exit', r));
  }
  rmSync(work, { recursive: true, force: true });
}
