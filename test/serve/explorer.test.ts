/**
 * The profile explorer in a real headless browser: `userip serve` (its own process) on a tiny run laid
 * out like the demo's, /ui/ opened with playwright-core driving Debian's `chromium` (`.ci/run`
 * installs it). Every code of every slot must show, a searched user's codes must match
 * /v1/users/:id/profile, each view must draw, and the console must stay free of errors. A screenshot
 * of each view goes to $USERIP_TEST_ARTIFACTS (default: the test's temporary directory).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { summarize, type CompareReport, type RunRecord } from '../../src/eval/report.js';
import { writeJson } from '../../src/io/files.js';
import { explainRun } from '../../src/profile/index.js';
import { SqliteFeatureBank } from '../../src/bank/index.js';
import { createExplorerServer, Explorer } from '../../src/serve/explorer/index.js';
import { writeDemoLikeRun } from './demoFixture.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

let dir: string;
let artifacts: string;
let server: ChildProcess;
let base: string;
let browser: Browser;
let slots: { name: string; k: number }[];

/** A report.json as `eval compare` writes it, from made-up runs of two feature sets under both protocols. */
function fixtureReport(): CompareReport {
  const runs: RunRecord[] = [];
  for (const protocol of ['warm', 'cold'] as const) {
    for (const [f, features] of (['id', 'id+userip'] as const).entries()) {
      for (const seed of [0, 1, 2]) {
        const auc = 0.7 + 0.01 * f + 0.002 * seed;
        const bucket = { users: 5, rows: 20, auc, gauc: auc };
        runs.push({ model: 'dcn', features, protocol, seed, auc, logloss: 0.6, gauc: auc, buckets: { '<=10': bucket, '11-50': bucket, '>50': bucket }, best_epoch: 2, epochs: 3, seconds: 1, valid_auc: [0.65, auc - 0.01, auc], train_loss: [0.7, 0.65, 0.6] });
      }
    }
  }
  return { dataset: 'fixture', lm: { id: 'tiny', spec: 'tiny' }, settings: {}, users: { total: 20, cold: 2, with_userip_profile: 20, cold_with_cold_start_profile: 2 }, rows: {}, ctr: summarize(runs), runs, seconds: 1 };
}

/** Starts `userip serve` on a free port and waits for its listening line. */
async function startServe(): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--model', join(dir, 'serve-model'), '--bank', join(dir, 'profile', 'bank.sqlite'), '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const match = /listening on (http:\/\/\S+)/.exec(line);
    if (match) return { child, base: match[1] };
  }
  throw new Error(`userip serve exited without listening: ${stderr}`);
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  dir = await mkdtemp(join(tmpdir(), 'userip-explorer-'));
  artifacts = process.env.USERIP_TEST_ARTIFACTS ?? join(dir, 'screenshots');
  await mkdir(artifacts, { recursive: true });
  await writeDemoLikeRun(dir, { users: 20 });
  await explainRun(join(dir, 'profile'), { top: 3, minCount: 1, tokens: 4 });
  await writeJson(join(dir, 'report.json'), fixtureReport());
  slots = (JSON.parse(await readFile(join(dir, 'profile', 'config.json'), 'utf8')) as { slots: { name: string; k: number }[] }).slots;
  ({ child: server, base } = await startServe());
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A page that records console errors and uncaught exceptions. */
async function openPage(errors: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`page: ${error.message}`));
  page.on('requestfailed', (request) => errors.push(`request: ${request.url()} ${request.failure()?.errorText}`));
  return page;
}

const ready = (page: Page, view: string) => page.waitForSelector(`#view-${view}[data-state="ready"]`, { timeout: 20_000 });

it('the JSON endpoints: codebooks per slot, a user, the report, and 404 with a JSON body for an unknown id', async () => {
  const codebooks = (await (await fetch(`${base}/v1/codebooks`)).json()) as { explained: boolean; slots: { slot: string; k: number; codes: { users: number; continuation: string | null }[] }[] };
  assert.deepEqual(codebooks.slots.map((s) => [s.slot, s.k, s.codes.length]), slots.map((s) => [s.name, s.k, s.k]));
  assert.equal(codebooks.explained, true);
  for (const s of codebooks.slots) assert.equal(s.codes.reduce((sum, c) => sum + c.users, 0), 20, 'every banked user holds one code per slot');
  assert.ok(codebooks.slots[0].codes.every((c) => typeof c.continuation === 'string'));

  const user = (await (await fetch(`${base}/v1/users/1`)).json()) as { slots: { id: number }[]; behaviour: unknown[]; neighbours: { user: string }[]; top_items: unknown[] };
  const profile = (await (await fetch(`${base}/v1/users/1/profile`)).json()) as { slots: { id: number }[] };
  assert.deepEqual(user.slots, profile.slots);
  assert.equal(user.behaviour.length, 10);
  assert.equal(user.neighbours.length, 5);
  assert.ok(!user.neighbours.some((n) => n.user === '1'));
  assert.equal(user.top_items.length, 10);

  const missing = await fetch(`${base}/v1/users/no-such-user`);
  assert.equal(missing.status, 404);
  assert.match(((await missing.json()) as { message: string }).message, /no-such-user/);

  const report = (await (await fetch(`${base}/v1/report`)).json()) as { comparison: { report: CompareReport }; tuning: { tune: { history: unknown[] } } };
  assert.equal(report.comparison.report.ctr.length, 4);
  assert.ok(report.tuning.tune.history.length > 0);
});

it('in Chromium: every code shows, a searched user\'s codes match /v1/users/:id/profile, all four views draw, no console errors', async () => {
  const errors: string[] = [];
  const page = await openPage(errors);
  await page.goto(`${base}/ui/`);
  await ready(page, 'codebooks');
  for (const slot of slots) {
    const shown = await page.locator(`[data-testid="code"][data-slot="${slot.name}"]`).evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-code'))));
    assert.deepEqual(shown, Array.from({ length: slot.k }, (_, c) => c), `slot ${slot.name}`);
  }
  assert.ok((await page.locator('#view-codebooks .chart svg').count()) > 0, 'the usage chart is drawn');
  await page.screenshot({ path: join(artifacts, 'explorer-codebooks.png'), fullPage: true });

  for (const user of ['1', '7']) {
    await page.click('nav button[data-view="user"]');
    await page.fill('#user-id', user);
    await page.press('#user-id', 'Enter');
    await page.waitForFunction((id) => location.hash === `#user/${id}` && document.querySelector('#view-user')?.getAttribute('data-state') === 'ready', user);
    const codes = await page.locator('#user-codes .code').evaluateAll((spans) => spans.map((s) => ({ name: s.getAttribute('data-slot'), id: Number(s.textContent) })));
    const profile = (await (await fetch(`${base}/v1/users/${user}/profile`)).json()) as { slots: { name: string; id: number }[] };
    assert.deepEqual(codes, profile.slots, `user ${user}`);
  }
  await page.screenshot({ path: join(artifacts, 'explorer-user.png'), fullPage: true });

  await page.click('nav button[data-view="report"]');
  await ready(page, 'report');
  assert.equal(await page.locator('#view-report .chart svg').count(), 2, 'AUC and training curves');
  await page.screenshot({ path: join(artifacts, 'explorer-report.png'), fullPage: true });

  await page.click('nav button[data-view="tuning"]');
  await ready(page, 'tuning');
  assert.equal(await page.locator('#view-tuning .chart svg').count(), 1, 'validation NLL per EM round');
  await page.screenshot({ path: join(artifacts, 'explorer-tuning.png'), fullPage: true });

  for (const name of ['codebooks', 'user', 'report', 'tuning']) assert.ok((await stat(join(artifacts, `explorer-${name}.png`))).size > 5000, `${name} screenshot`);
  assert.deepEqual(errors, []);
  await page.close();
});

it('`userip explore` (no CTR model): the same views without top items; the page and its scripts are served, other files 404', async () => {
  const bank = await SqliteFeatureBank.open(join(dir, 'profile', 'bank.sqlite'), { readonly: true });
  try {
    const explorer = await Explorer.open({ run: join(dir, 'profile'), bank });
    assert.ok(explorer.notes.some((n) => /no CTR model/.test(n)));
    const app = createExplorerServer(explorer);
    const user = await app.inject('/v1/users/1');
    assert.equal(user.statusCode, 200);
    assert.equal(user.json().top_items, null);
    assert.equal(user.json().behaviour.length, 10);
    for (const url of ['/ui/', '/ui/serve/explorer/page.js', '/ui/charts/options.js', '/ui/echarts.min.js']) assert.equal((await app.inject(url)).statusCode, 200, url);
    const other = await app.inject('/ui/../package.json');
    assert.equal(other.statusCode, 404);
    assert.equal((await app.inject('/v1/users/nobody')).json().error, 'Not Found');
    assert.equal((await app.inject('/v1/report')).json().comparison.path, join(dir, 'report.json'), 'found in the run\'s parent directory');
    await app.close();
  } finally {
    await bank.close();
  }
});
