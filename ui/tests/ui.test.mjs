// Browser tests of the web UI: a real `mlforge server` (127.0.0.1, port 0),
// seeded through the REST API, and Debian's chromium driven headless by
// playwright-core. Fails (never skips) when chromium or the binary is missing.
//
// Env: MLFORGE_BINARY (else MLFORGE_BINARY_DEFAULT, set by CTest), MLFORGE_UI_DIR
// (the built UI), MLFORGE_CHROMIUM (default /usr/bin/chromium).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.MLFORGE_CHROMIUM || '/usr/bin/chromium';
const BINARY = process.env.MLFORGE_BINARY || process.env.MLFORGE_BINARY_DEFAULT;
const UI_DIR = process.env.MLFORGE_UI_DIR;
const TINY_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR4nGP4z8AARwzEcQCukw/x0F8jngAAAABJRU5ErkJggg==';
const RUNS = 60;
const DEMO = 'demo-churn';

let work;
let server;
let base;
let context;
let page;
const pageErrors = [];
// MLFORGE_UI_SCREENSHOTS=DIR saves a PNG of each page the phone/desktop checks visit.
const SHOTS = process.env.MLFORGE_UI_SCREENSHOTS;
const seed = {};

// ---------------------------------------------------------------- server

async function startServer() {
  if (!BINARY || !existsSync(BINARY)) throw new Error(`mlforge binary not found (MLFORGE_BINARY=${BINARY})`);
  if (!UI_DIR || !existsSync(join(UI_DIR, 'index.html'))) throw new Error(`built UI not found (MLFORGE_UI_DIR=${UI_DIR})`);
  const portFile = join(work, 'port');
  const args = ['server', '--host', '127.0.0.1', '--port', '0', '--data-dir', join(work, 'data'), '--port-file', portFile, '--ui-dir', UI_DIR];
  const proc = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => (log += d));
  proc.stderr.on('data', (d) => (log += d));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`mlforge server exited during start:\n${log}`);
    if (existsSync(portFile)) {
      const port = Number(readFileSync(portFile, 'utf8').trim());
      if (port > 0) return { proc, port, log: () => log };
    }
    await sleep(20);
  }
  proc.kill('SIGKILL');
  throw new Error(`mlforge server did not listen within 30 s:\n${log}`);
}

async function api(method, path, body, { raw = false, headers = {} } = {}) {
  const r = await fetch(base + path, {
    method,
    headers: body !== undefined && !raw ? { 'Content-Type': 'application/json', ...headers } : headers,
    body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : {} };
}

async function ok(method, path, body, opts) {
  const r = await api(method, path, body, opts);
  assert.equal(r.status, 200, `${method} ${path}: ${JSON.stringify(r.json)}`);
  return r.json;
}

const mlflow = (p) => `/api/2.0/mlflow/${p}`;
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

// ---------------------------------------------------------------- seeding

async function seedServer() {
  seed.expId = (await ok('POST', mlflow('experiments/create'), { name: 'ui-churn' })).experiment_id;
  seed.emptyExpId = (await ok('POST', mlflow('experiments/create'), { name: 'ui-empty-project' })).experiment_id;
  seed.runs = [];
  const t0 = Date.now() - 3_600_000;
  for (let i = 0; i < RUNS; i++) {
    const name = `run-${String(i).padStart(2, '0')}`;
    const run = (
      await ok('POST', mlflow('runs/create'), {
        experiment_id: seed.expId,
        run_name: name,
        start_time: t0 + i * 1000,
        tags: [{ key: 'team', value: 'forge' }],
      })
    ).run;
    const rmse = Number((0.1 + i * 0.01).toFixed(2));
    const metrics = [
      { key: 'rmse', value: rmse, timestamp: t0 + i * 1000, step: 0 },
      { key: 'accuracy', value: 0.9 - i * 0.001, timestamp: t0 + i * 1000, step: 0 },
    ];
    if (i < 2) {
      // A loss curve for the charts: 50 steps, one per second.
      for (let s = 1; s <= 50; s++) metrics.push({ key: 'loss', value: 1 / (s + i), timestamp: t0 + s * 1000, step: s });
    }
    await ok('POST', mlflow('runs/log-batch'), {
      run_id: run.info.run_id,
      metrics,
      params: [
        { key: 'lr', value: String((0.05 * ((i % 4) + 1)).toFixed(2)) },
        { key: 'model', value: i % 2 ? 'linear' : 'xgboost' },
      ],
    });
    await ok('POST', mlflow('runs/update'), { run_id: run.info.run_id, status: 'FINISHED', end_time: t0 + i * 1000 + 5000 });
    seed.runs.push({ id: run.info.run_id, name, rmse, artifactUri: run.info.artifact_uri });
  }

  // Artifacts of run-00 and run-01 (a text file, an image, an MLmodel to register).
  for (const r of seed.runs.slice(0, 2)) {
    const root = r.artifactUri.replace(/^mlflow-artifacts:/, '').replace(/^\/+/, '');
    const put = (path, body, type) =>
      ok('PUT', `/api/2.0/mlflow-artifacts/artifacts/${root}/${path}`, body, { raw: true, headers: { 'Content-Type': type } });
    await put('notes/readme.txt', `Notes of ${r.name}: trained on churn-train.\n`, 'text/plain');
    await put('plots/curve.png', Buffer.from(TINY_PNG, 'base64'), 'image/png');
    await put('model/MLmodel', 'artifact_path: model\nflavors:\n  python_function:\n    loader_module: m\n', 'text/plain');
  }

  // A dataset version (one file) through the datasets API, used by run-00.
  const file = Buffer.from('x,y\n1,2\n3,4\n');
  const fileSha = sha256(file);
  const manifest = Buffer.from(`${fileSha} ${file.length} train.csv\n`);
  seed.datasetVersionId = sha256(manifest);
  for (const [sha, bytes] of [[fileSha, file], [seed.datasetVersionId, manifest]]) {
    await ok('PUT', `/api/2.0/mlforge/datasets/objects/${sha}`, bytes, { raw: true, headers: { 'Content-Type': 'application/octet-stream' } });
  }
  await ok('POST', '/api/2.0/mlforge/datasets/versions/create', { name: 'churn-train', version_id: seed.datasetVersionId });
  await ok('POST', mlflow('runs/log-inputs'), {
    run_id: seed.runs[0].id,
    datasets: [
      {
        dataset: { name: 'churn-train', digest: seed.datasetVersionId.slice(0, 12), source_type: 'local', source: 'data/train' },
        tags: [{ key: 'mlflow.data.context', value: 'training' }],
      },
    ],
  });

  // A registered model with two versions and an alias on version 1.
  await ok('POST', mlflow('registered-models/create'), { name: 'churn-model' });
  for (const r of seed.runs.slice(0, 2)) {
    await ok('POST', mlflow('model-versions/create'), { name: 'churn-model', source: `runs:/${r.id}/model`, run_id: r.id });
  }
  await ok('POST', mlflow('registered-models/alias'), { name: 'churn-model', alias: 'champion', version: '1' });
}

// `mlforge demo` against the same server: datasets with three versions, a
// registered champion, a deployment with traffic, a monitor with a drift
// episode and its alerts (docs/demo.md). A few seconds.
async function runDemo() {
  const proc = spawn(BINARY, ['demo', '--tracking-uri', base], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const code = await new Promise((r) => proc.once('close', r));
  assert.equal(code, 0, `mlforge demo failed:\n${out}`);
}

// The value of one series of /metrics, found by its name and some labels.
function metricValue(text, name, labels) {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').at(-1));
  }
  return undefined;
}

// ---------------------------------------------------------------- browser

async function goto(path) {
  await page.goto(base + path);
}

// Rows of the runs table, read as {name, rmse}.
async function runRows() {
  await page.locator('table[aria-label="Runs"] tbody tr').first().waitFor();
  return page.$$eval('table[aria-label="Runs"] tbody tr', (rows) =>
    rows.map((r) => ({
      name: r.querySelector('td.run-name')?.textContent?.trim(),
      rmse: r.querySelector('td[data-col="metrics.rmse"]')?.textContent?.trim(),
    })),
  );
}

describe('mlforge UI', () => {
  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`chromium not found at ${CHROMIUM}: run scripts/install-deps.sh (Debian package chromium)`);
    }
    work = mkdtempSync(join(tmpdir(), 'mlforge-ui-test-'));
    server = await startServer();
    base = `http://127.0.0.1:${server.port}`;
    await seedServer();
    await runDemo();
    context = await chromium.launchPersistentContext(join(work, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 900 },
    });
    context.setDefaultTimeout(15_000);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => pageErrors.push(String(e)));
  });

  after(async () => {
    await context?.close();
    if (server) {
      server.proc.kill('SIGTERM');
      await new Promise((r) => (server.proc.exitCode !== null ? r() : server.proc.once('exit', r)));
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('serves the UI with cache headers and deep links', async () => {
    const index = await fetch(`${base}/experiments/${seed.expId}`);
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const html = await index.text();
    const asset = html.match(/\/assets\/[^"]+\.js/)?.[0];
    assert.ok(asset, html);
    const js = await fetch(base + asset);
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.match(js.headers.get('content-type'), /^text\/javascript/);
    // API paths keep their JSON errors.
    const missing = await api('GET', mlflow('no-such-route'));
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error_code, 'ENDPOINT_NOT_FOUND');
  });

  test('experiments list with search and empty state', async () => {
    await goto('/');
    await page.waitForURL(/\/experiments$/);
    const table = page.getByRole('table', { name: 'Experiments' });
    await table.getByRole('link', { name: 'ui-churn' }).waitFor();
    await table.getByRole('link', { name: 'ui-empty-project' }).waitFor();
    await page.getByLabel('Search experiments').fill('EMPTY');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/q=EMPTY/);
    await page.getByRole('link', { name: 'ui-churn' }).waitFor({ state: 'detached' });
    await table.getByRole('link', { name: 'ui-empty-project' }).waitFor();
    await goto('/experiments?q=nothing-like-this');
    await page.getByText('Nothing matches “nothing-like-this”').waitFor();
    // The empty experiment says it has no runs.
    await goto(`/experiments/${seed.emptyExpId}`);
    await page.getByText('No runs in this experiment yet.').waitFor();
  });

  test('runs table: pagination, sorting, filter, bad filter, columns', async () => {
    await goto(`/experiments/${seed.expId}`);
    await page.getByRole('heading', { name: 'ui-churn' }).waitFor();
    let rows = await runRows();
    assert.equal(rows.length, 50);
    assert.equal(rows[0].name, 'run-59'); // newest first by default
    await page.getByRole('button', { name: 'Next →' }).click();
    await page.getByText('Page 2').waitFor();
    await page.waitForFunction((n) => document.querySelectorAll('table[aria-label="Runs"] tbody tr').length === n, RUNS - 50);
    rows = await runRows();
    assert.equal(rows.length, RUNS - 50);
    assert.equal(rows.at(-1).name, 'run-00');
    await page.getByRole('button', { name: '← Previous' }).click();
    await page.getByText('Page 1').waitFor();

    // Sort by the rmse column (server-side order_by): descending first, then ascending.
    const sortRmse = page.getByRole('button', { name: 'rmse', exact: true });
    await sortRmse.click();
    await page.waitForURL(/sort=metrics.rmse&dir=desc/);
    await page.locator('th[aria-sort="descending"]', { hasText: 'rmse' }).waitFor();
    await page.waitForFunction(() => document.querySelector('table[aria-label="Runs"] tbody td.run-name')?.textContent === 'run-59');
    await sortRmse.click();
    await page.waitForURL(/dir=asc/);
    await page.waitForFunction(() => document.querySelector('table[aria-label="Runs"] tbody td.run-name')?.textContent === 'run-00');
    rows = await runRows();
    const values = rows.map((r) => Number(r.rmse));
    assert.deepEqual(values, [...values].sort((a, b) => a - b));
    assert.equal(values[0], 0.1);

    // A filter in the API's syntax.
    await page.getByLabel('Filter runs').fill("metrics.rmse < 0.135 and params.model = 'xgboost'");
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Runs"] tbody tr').length === 2);
    rows = await runRows();
    assert.deepEqual(rows.map((r) => r.name), ['run-00', 'run-02']);

    // A bad filter shows the API's own message.
    const bad = 'metrics.rmse <<< 1';
    const expected = await api('POST', mlflow('runs/search'), { experiment_ids: [seed.expId], filter: bad });
    assert.equal(expected.status, 400);
    await page.getByLabel('Filter runs').fill(bad);
    await page.getByRole('button', { name: 'Apply' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.equal((await alert.locator('.error-message').textContent()).trim(), expected.json.message);

    // Column chooser: hide lr, then show it again; the URL keeps the choice.
    await page.getByRole('button', { name: 'Clear' }).click();
    await runRows();
    await page.locator('summary', { hasText: 'Columns' }).click();
    await page.getByRole('checkbox', { name: 'param lr' }).uncheck();
    await page.waitForURL(/col=/);
    await page.getByRole('button', { name: 'lr', exact: true }).waitFor({ state: 'detached' });
    assert.equal(await page.locator('td[data-col="params.lr"]').count(), 0);
    await page.getByRole('checkbox', { name: 'param lr' }).check();
    await page.getByRole('button', { name: 'lr', exact: true }).waitFor();
  });

  test('select runs in the table and open the compare view', async () => {
    await goto(`/experiments/${seed.expId}?sort=attributes.run_name&dir=asc`);
    await runRows();
    await page.getByRole('checkbox', { name: 'Select run-00' }).check();
    await page.getByRole('checkbox', { name: 'Select run-01' }).check();
    await page.getByRole('link', { name: 'Compare 2 runs' }).click();
    await page.waitForURL(/\/compare\?runs=/);
    const table = page.getByRole('table', { name: 'Compared runs' });
    await table.getByRole('link', { name: 'run-00' }).waitFor();
    await table.getByRole('link', { name: 'run-01' }).waitFor();
    // The loss chart overlays both runs (uPlot's legend names each series).
    const loss = page.locator('[data-chart="loss"]');
    await loss.locator('canvas').waitFor();
    const legend = await loss.locator('.u-legend').textContent();
    assert.match(legend, /run-00/);
    assert.match(legend, /run-01/);
    // Params vs metrics scatter.
    await page.locator('[data-chart$=" vs lr"] canvas').waitFor();
    await page.getByLabel('Metric (y)').selectOption('rmse');
    await page.locator('[data-chart="rmse vs lr"] canvas').waitFor();
  });

  test('run page: params, metrics charts, tags, artifacts, datasets', async () => {
    const run = seed.runs[0];
    await goto(`/runs/${run.id}`);
    await page.getByRole('heading', { name: 'run-00', level: 1 }).waitFor();
    const params = page.getByRole('table', { name: 'Params' });
    await params.getByRole('rowheader', { name: 'lr' }).waitFor();
    assert.equal(await params.getByRole('row', { name: /model/ }).locator('td').textContent(), 'xgboost');
    await page.getByRole('table', { name: 'Latest metrics' }).getByRole('rowheader', { name: 'rmse' }).waitFor();
    await page.locator('[data-chart="loss"] canvas').waitFor();
    assert.match(await page.locator('figure', { has: page.locator('[data-chart="loss"]') }).textContent(), /50 points/);
    await page.getByRole('button', { name: 'By time' }).click();
    await page.waitForURL(/x=time/);
    await page.locator('[data-chart="loss"] canvas').waitFor();
    await page.getByRole('table', { name: 'Tags' }).getByRole('rowheader', { name: 'team' }).waitFor();

    // Artifacts: open a folder, preview text, preview an image, download link.
    const tree = page.getByRole('list', { name: 'Artifacts' });
    await tree.getByRole('button', { name: /notes\// }).click();
    await tree.getByRole('button', { name: /readme\.txt/ }).click();
    await page.locator('pre.artifact-text', { hasText: 'Notes of run-00' }).waitFor();
    const download = page.getByRole('link', { name: 'Download' });
    const href = await download.getAttribute('href');
    const file = await fetch(base + href);
    assert.equal(file.status, 200);
    assert.match(await file.text(), /Notes of run-00/);
    await tree.getByRole('button', { name: /plots\// }).click();
    await tree.getByRole('button', { name: /curve\.png/ }).click();
    const img = page.locator('img.artifact-image');
    await img.waitFor();
    await page.waitForFunction(() => document.querySelector('img.artifact-image')?.naturalWidth === 4);
    await page.waitForURL(/artifact=plots%2Fcurve\.png/);

    // Input datasets.
    const datasets = page.getByRole('table', { name: 'Input datasets' });
    await datasets.getByRole('cell', { name: 'churn-train' }).waitFor();
    await datasets.getByRole('cell', { name: 'training' }).waitFor();

    // A missing run shows the API's error.
    await goto('/runs/0123456789abcdef0123456789abcdef');
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').textContent(), /not found|does not exist/i);
  });

  test('run page: a 100,000-point metric is drawn as min/max buckets, and zoom shows every point', async () => {
    const N = 100_000;
    const expId = (await ok('POST', mlflow('experiments/create'), { name: 'ui-long-metric' })).experiment_id;
    const run = (await ok('POST', mlflow('runs/create'), { experiment_id: expId, run_name: 'long-loss' })).run;
    const t0 = Date.now() - N * 1000;
    for (let s = 0; s < N; s += 1000) {
      const metrics = [];
      for (let i = s; i < s + 1000; i++) metrics.push({ key: 'loss', value: 1 / (1 + i / 1000) + (i === 77_777 ? 5 : 0), timestamp: t0 + i * 1000, step: i });
      await ok('POST', mlflow('runs/log-batch'), { run_id: run.info.run_id, metrics });
    }
    await goto(`/runs/${run.info.run_id}`);
    const chart = page.locator('[data-chart="loss"]');
    await chart.locator('canvas').waitFor({ timeout: 60_000 });
    const figure = page.locator('figure', { has: chart });
    assert.equal(await figure.getAttribute('data-points'), String(N));
    const caption = await figure.locator('figcaption').textContent();
    assert.match(caption, /100,000 points/);
    assert.match(caption, /min and max of each pixel column/);
    // Bucketed: at most two points per pixel column, so far fewer than 100,000 drawn.
    const drawn = Number(await chart.getAttribute('data-drawn-points'));
    assert.ok(drawn > 500 && drawn < 5000, `drawn ${drawn}`);

    // Drag-zoom a 3 px band (~600 of 100,000 points on a ~500 px plot): few
    // enough to draw each one.
    const over = await chart.locator('.u-over').boundingBox();
    const y = over.y + over.height / 2;
    await page.mouse.move(over.x + over.width / 2, y);
    await page.mouse.down();
    await page.mouse.move(over.x + over.width / 2 + 3, y, { steps: 3 });
    await page.mouse.up();
    await page.waitForFunction(() => !/min and max/.test(document.querySelector('figure:has([data-chart="loss"]) figcaption')?.textContent ?? ''));
    const zoomed = Number(await chart.getAttribute('data-drawn-points'));
    assert.ok(zoomed > 10 && zoomed < drawn, `zoomed ${zoomed}`);
    // Double-click resets the zoom to the whole (bucketed) series.
    await page.mouse.dblclick(over.x + over.width / 2, y);
    await figure.locator('figcaption', { hasText: 'min and max' }).waitFor();
    assert.equal(Number(await chart.getAttribute('data-drawn-points')), drawn);
  });

  test('models: list, versions, move an alias and a stage from the UI', async () => {
    await goto('/models');
    await page.getByRole('table', { name: 'Registered models' }).getByRole('link', { name: 'churn-model' }).click();
    await page.waitForURL(/\/models\/churn-model$/);
    const versions = page.getByRole('table', { name: 'Model versions' });
    await versions.getByRole('link', { name: 'Version 2' }).waitFor();
    await versions.getByRole('link', { name: 'Version 1' }).waitFor();
    assert.match(await page.locator('tr[data-version="1"] td.aliases').textContent(), /@champion/);

    // Move champion to version 2.
    await page.getByLabel('Alias', { exact: true }).fill('champion');
    await page.getByLabel('Version', { exact: true }).selectOption('2');
    await page.getByRole('button', { name: 'Set alias' }).click();
    await page.getByRole('status').filter({ hasText: '@champion now points to version 2' }).waitFor();
    await page.waitForFunction(() => /@champion/.test(document.querySelector('tr[data-version="2"] td.aliases')?.textContent ?? ''));
    const alias = await ok('GET', `${mlflow('registered-models/alias')}?name=churn-model&alias=champion`);
    assert.equal(alias.model_version.version, '2');

    // Transition version 2 to Staging.
    await page.getByLabel('Stage of version 2').selectOption('Staging');
    await page.getByRole('button', { name: 'Transition version 2' }).click();
    await page.locator('tr[data-version="2"] .badge.stage-staging').waitFor();
    const v2 = await ok('GET', `${mlflow('model-versions/get')}?name=churn-model&version=2`);
    assert.equal(v2.model_version.current_stage, 'Staging');
  });

  test('lineage: model version -> run -> dataset version -> files', async () => {
    await goto('/models/churn-model/versions/1');
    const lineage = page.getByRole('list', { name: 'Lineage' });
    await lineage.getByRole('link', { name: 'run-00' }).waitFor();
    await lineage.getByText(seed.datasetVersionId).waitFor();
    await lineage.getByText('train.csv').waitFor();
    await lineage.getByText('churn-train v1').waitFor();
    await lineage.getByRole('link', { name: 'run-00' }).click();
    await page.waitForURL(new RegExp(`/runs/${seed.runs[0].id}$`));
  });

  test('deployments: routes, weights, the version each route answers, live charts', async () => {
    const alias = async (a) =>
      (await ok('GET', `${mlflow('registered-models/alias')}?name=${DEMO}&alias=${a}`)).model_version.version;
    const champion = await alias('champion');
    const challenger = await alias('challenger');
    await goto('/deployments');
    const list = page.getByRole('table', { name: 'Deployments' });
    await list.getByRole('row', { name: new RegExp(DEMO) }).getByText('READY').waitFor();
    await list.getByRole('link', { name: DEMO }).click();
    await page.waitForURL(new RegExp(`/deployments/${DEMO}$`));
    const routes = page.getByRole('table', { name: 'Routes' });
    const championRow = routes.locator(`tr[data-route="${DEMO}@champion"]`);
    const challengerRow = routes.locator(`tr[data-route="${DEMO}@challenger"]`);
    await championRow.locator('td.answered-by').getByRole('link', { name: `${DEMO} version ${champion}` }).waitFor();
    await challengerRow.locator('td.answered-by').getByRole('link', { name: `${DEMO} version ${challenger}` }).waitFor();
    assert.match(await championRow.textContent(), /primary\s*90\s*\(90%\)/);
    assert.match(await challengerRow.textContent(), /challenger\s*10\s*\(10%\)/);
    // Requests served per version are the /metrics counters.
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const served = (v) => metricValue(metrics, 'mlforge_serving_requests_total', { deployment: DEMO, version: v });
    assert.ok(served(champion) > 0 && served(challenger) > 0, metrics);
    await championRow.locator('td.served', { hasText: new RegExp(`^${served(champion)}$`) }).waitFor();
    await challengerRow.locator('td.served', { hasText: new RegExp(`^${served(challenger)}$`) }).waitFor();
    // The live charts draw once two polls of /metrics (5 s apart) give a rate.
    await page.locator('[data-chart="Requests per second"] canvas').waitFor();
    const legend = await page.locator('[data-chart="Requests per second"] .u-legend').textContent();
    assert.match(legend, new RegExp(`${DEMO}/${champion}`));
    await page.locator('[data-chart="Latency (ms)"] canvas').waitFor();
    await page.locator('[data-chart="Errors per second"] canvas').waitFor();
    // An unknown deployment shows the API's error.
    await goto('/deployments/no-such-deployment');
    const expected = await api('GET', '/api/2.0/mlforge/deployments/get?name=no-such-deployment');
    assert.equal(expected.status, 404);
    assert.equal((await page.getByRole('alert').locator('.error-message').textContent()).trim(), expected.json.message);
  });

  test('monitoring: drift over time, reference vs current, performance, alerts', async () => {
    const alerts = (await ok('GET', `/api/2.0/mlforge/alerts/list?deployment=${DEMO}`)).alerts;
    const firing = alerts.filter((a) => a.state === 'firing');
    assert.ok(firing.some((a) => a.metric === 'dataset_drift'), JSON.stringify(alerts));
    const results = (await ok('GET', `/api/2.0/mlforge/monitors/results?deployment=${DEMO}`)).results;
    assert.equal(results.length, 4);

    await goto('/monitoring');
    await page.getByRole('table', { name: 'Alerts' }).getByRole('cell', { name: `${DEMO}: dataset drift` }).waitFor();
    const monitors = page.getByRole('table', { name: 'Monitors' });
    assert.equal((await monitors.getByRole('row', { name: new RegExp(DEMO) }).locator('td').last().textContent()).trim(), String(firing.length));
    await monitors.getByRole('link', { name: DEMO }).click();
    await page.waitForURL(new RegExp(`/monitoring/${DEMO}$`));

    // The deployment's alerts, as the API lists them.
    const table = page.getByRole('table', { name: 'Alerts' });
    await table.getByRole('cell', { name: `${DEMO}: accuracy below 0.75` }).waitFor();
    assert.equal(await table.locator('tbody tr').count(), alerts.length);
    assert.equal(await table.locator('tbody tr[data-alert-state="firing"]').count(), firing.length);
    await table.locator('tr', { hasText: `${DEMO}: dataset drift` }).getByText('firing').waitFor();

    // Drift and performance over the four windows.
    for (const chart of ['Drift share', 'Drift score by feature', 'Performance']) {
      await page.locator(`[data-chart="${chart}"] canvas`).waitFor();
    }
    const windows = page.getByRole('table', { name: 'Windows' });
    assert.equal(await windows.locator('tbody tr').count(), 4);
    const last = windows.locator(`tr[data-window="${results[3].window_start}"]`);
    assert.match(await last.textContent(), /dataset drift/);
    assert.match(await last.locator('td.drifted-features').textContent(), /monthly_charges/);
    assert.equal(await last.getAttribute('aria-current'), 'true');

    // The report of the last window: monthly_charges drifted, with both distributions.
    const feature = page.locator('[data-feature="monthly_charges"]');
    await feature.locator('.badge.drifted').waitFor();
    assert.ok((await feature.locator('svg rect.bar-reference').count()) > 1);
    assert.ok((await feature.locator('svg rect.bar-current').count()) > 1);
    // Another window's report is a deep link.
    await windows.locator(`tr[data-window="${results[0].window_start}"]`).getByRole('link').click();
    await page.waitForURL(new RegExp(`window=${results[0].window_start}`));
    await page.locator(`tr[data-window="${results[0].window_start}"][aria-current="true"]`).waitFor();
    await page.locator('[data-feature="monthly_charges"] svg rect').first().waitFor();
  });

  test('datasets: versions and the diff between two', async () => {
    await goto('/datasets');
    const list = page.getByRole('table', { name: 'Datasets' });
    await list.getByRole('link', { name: 'churn-train' }).waitFor();
    await list.getByRole('link', { name: DEMO }).click();
    await page.waitForURL(new RegExp(`/datasets/${DEMO}$`));
    const versions = page.getByRole('table', { name: 'Dataset versions' });
    await versions.getByRole('link', { name: 'Version 3', exact: true }).waitFor();
    assert.equal(await versions.locator('tbody tr').count(), 3);
    assert.deepEqual(await versions.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.version)), ['3', '2', '1']);

    // Compare version 1 with version 3: COLUMNS.md added, churn.csv modified.
    await page.getByLabel('From', { exact: true }).selectOption('1');
    await page.getByLabel('To', { exact: true }).selectOption('3');
    await page.getByRole('button', { name: 'Compare' }).click();
    await page.waitForURL(new RegExp(`/datasets/${DEMO}/diff\\?a=1&b=3$`));
    const changes = page.getByRole('table', { name: 'Changed files' });
    await changes.locator('tr[data-change="added"]', { hasText: 'COLUMNS.md' }).waitFor();
    await changes.locator('tr[data-change="modified"]', { hasText: 'churn.csv' }).waitFor();
    assert.equal(await changes.locator('tbody tr').count(), 2);
    assert.match(await page.locator('.diff-summary').textContent(), /1 added, 0 removed, 1 modified, 1 unchanged/);

    // A version's files.
    await goto(`/datasets/${DEMO}/versions/3`);
    const files = page.getByRole('table', { name: 'Files' });
    await files.getByRole('cell', { name: 'COLUMNS.md' }).waitFor();
    assert.equal(await files.locator('tbody tr').count(), 3);
  });

  test('phone width and keyboard', async () => {
    const paths = [
      '/experiments',
      `/experiments/${seed.expId}`,
      `/runs/${seed.runs[0].id}?artifact=notes%2Freadme.txt`,
      `/compare?runs=${seed.runs[0].id},${seed.runs[1].id}`,
      '/models',
      '/models/churn-model',
      '/models/churn-model/versions/1',
      '/datasets',
      `/datasets/${DEMO}`,
      `/datasets/${DEMO}/diff?a=1&b=3`,
      '/deployments',
      `/deployments/${DEMO}`,
      '/monitoring',
      `/monitoring/${DEMO}`,
    ];
    const overflows = [];
    for (const [width, height] of [[1280, 900], [390, 844]]) {
      await page.setViewportSize({ width, height });
      for (const path of paths) {
        await goto(path);
        await page.locator('main h1').first().waitFor();
        await page.locator('main .state.loading').first().waitFor({ state: 'detached' });
        if (SHOTS) await page.screenshot({ path: join(SHOTS, `${width}${path.replace(/[^a-z0-9]+/gi, '_').slice(0, 60)}.png`), fullPage: true });
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        if (overflow > 1) overflows.push(`${path} overflows ${width} px by ${overflow} px`);
      }
    }
    assert.deepEqual(overflows, []);
    await page.setViewportSize({ width: 1280, height: 900 });

    // Keyboard: the first Tab reaches the skip link, then the brand and the nav links.
    await goto('/experiments');
    await page.getByRole('link', { name: 'ui-churn' }).waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Models');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/models$/);
    await page.getByRole('link', { name: 'churn-model' }).waitFor();
    // Unknown deep links get the UI's not-found page.
    await goto('/no/such/page');
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
  });

  test('no uncaught errors in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
