/**
 * The profile pipeline end to end on a 30-user slice of MovieLens latest-small with a tiny LM:
 * data prepare -> profile tune -> bank -> export -> new users; and a `profile tune` killed with
 * SIGKILL mid-run resumes to exactly the result of an uninterrupted run.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, it } from 'node:test';
import { SqliteFeatureBank } from '../../src/bank/index.js';
import { loadPrepared, prepareData } from '../../src/data/index.js';
import { addNewUsers, exportBank, readRunProfiles, tuneRun, tuneSchema } from '../../src/profile/index.js';
import { openSafetensors } from '../../src/io/index.js';
import { writeTinyCheckpoint } from '../helpers/tinyCheckpoint.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'userip-pipeline-'));
  await writeTinyCheckpoint(join(dir, 'lm'), { architecture: 'gpt2', seed: 4, hiddenSize: 32, numLayers: 2, numHeads: 4, maxPositions: 128 });
  await prepareData({ dataset: 'embedded', out: join(dir, 'data'), threshold: 3, skipBadRows: false, maxUsers: 30 });
});
after(() => rm(dir, { recursive: true, force: true }));

const settings = (out: string, extra: Record<string, unknown> = {}) =>
  tuneSchema.parse({ data: join(dir, 'data'), out, lm: join(dir, 'lm'), behaviourTokens: 40, userSteps: 3, emRounds: 2, populationSteps: 4, batchTokens: 512, diagnosticsUsers: 4, lr: 0.05, threads: 1, ...extra });

it('tunes 30 users, lowers validation NLL, fills the bank, exports, and profiles new users', async () => {
  const out = join(dir, 'run');
  const summary = await tuneRun(settings(out));
  assert.equal(summary.users, 30);
  assert.ok(summary.val_nll_end < summary.val_nll_start, `validation NLL ${summary.val_nll_start} -> ${summary.val_nll_end}`);
  assert.deepEqual(summary.codebooks.map((c) => [c.slot, c.k, c.counts.reduce((a, b) => a + b, 0)]), [['hobby', 4, 30], ['background', 3, 30]]);

  const bank = await SqliteFeatureBank.open(summary.bank, { readonly: true });
  assert.equal(await bank.count(), 30);
  const entry = await bank.get('1');
  assert.equal(entry?.ids.length, 2);
  assert.ok(entry!.ids[0] >= 0 && entry!.ids[0] < 4 && entry!.ids[1] >= 0 && entry!.ids[1] < 3);
  assert.equal((await bank.version())?.lm_id, summary.lm);
  await bank.close();

  const exported = await exportBank(out, join(dir, 'export'));
  const csv = (await readFile(join(dir, 'export', 'profiles.csv'), 'utf8')).trim().split('\n');
  assert.equal(csv[0], 'user,hobby,background,source');
  assert.equal(csv.length, 31);
  assert.equal(exported.bank_version, summary.bank_version);

  // A user outside the slice gets IDs from the frozen codebooks, under the same bank version.
  const all = await loadPrepared(join(dir, 'data'));
  const newcomer = all.split.train.filter((i) => i.user === '1').map((i) => ({ ...i, user: 'newcomer' }));
  const added = await addNewUsers(out, new Map([['newcomer', newcomer]]), all.dataset.items);
  assert.deepEqual(added.users, ['newcomer']);
  const after = await SqliteFeatureBank.open(summary.bank, { readonly: true });
  assert.equal(await after.count(), 31);
  assert.deepEqual((await after.get('newcomer'))?.ids, added.ids[0]);
  assert.equal((await after.get('newcomer'))?.source, 'cold-start');
  await after.close();
  const tuned = await readRunProfiles(out);
  assert.equal(tuned.users.length, 30);
});

function runTune(out: string): ReturnType<typeof spawn> {
  return spawn(process.execPath, [CLI, 'profile', 'tune', '--data', join(dir, 'data'), '--out', out, '--lm', join(dir, 'lm'), '--behaviour-tokens', '40', '--user-steps', '12', '--convergence', '0', '--em-rounds', '2', '--population-steps', '6', '--batch-tokens', '256', '--diagnostics-users', '4', '--lr', '0.05', '--threads', '1', '--checkpoint-every', '1'], { stdio: 'ignore' });
}

async function softTokens(out: string): Promise<Float32Array> {
  const reader = await openSafetensors(join(out, 'profiles.safetensors'));
  try {
    return await reader.readFloat32('soft_tokens');
  } finally {
    await reader.close();
  }
}

it('a tune killed with SIGKILL mid-run resumes to the uninterrupted result', async () => {
  const whole = join(dir, 'whole');
  const killed = join(dir, 'killed');
  await new Promise((resolve) => runTune(whole).on('exit', resolve));

  const child = runTune(killed);
  const checkpoint = join(killed, 'checkpoint', 'checkpoint.safetensors');
  while (!existsSync(checkpoint)) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 150));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.on('exit', resolve));
  assert.ok(!existsSync(join(killed, 'tune.json')), 'the run must be killed before it finishes for this test to mean anything');

  const rerun = runTune(killed);
  const code = await new Promise((resolve) => rerun.on('exit', resolve));
  assert.equal(code, 0);
  assert.deepEqual(await softTokens(killed), await softTokens(whole));
  const [a, b] = await Promise.all([readFile(join(killed, 'tune.json'), 'utf8'), readFile(join(whole, 'tune.json'), 'utf8')]);
  assert.deepEqual(JSON.parse(a).history, JSON.parse(b).history);
});
