/**
 * `userip demo` end to end on a fixture, in seconds: the demo's pipeline (src/eval/demo.ts) with a tiny
 * random LM, the first 20 MovieLens users, one CTR seed and one epoch.
 */
import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FEATURE_SETS, PROTOCOLS, runDemo, type DemoConfig, type DemoListener } from '../../src/eval/index.js';
import { writeTinyCheckpoint } from '../helpers/tinyCheckpoint.js';

test('the demo runs every stage on a fixture and writes what it reports', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'userip-demo-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const lm = join(dir, 'lm');
  await writeTinyCheckpoint(lm, { architecture: 'gpt2', seed: 4, hiddenSize: 32, numLayers: 2, numHeads: 4, maxPositions: 128 });
  const config: DemoConfig = {
    tune: { behaviourTokens: 40, userSteps: 2, populationSteps: 4, batchTokens: 512, diagnosticsUsers: 4, lr: 0.05, threads: 1 },
    seeds: 1,
    compare: { ctr: { epochs: 1, batchSize: 128 }, bootstrap: { resamples: 100 }, threads: 1 },
  };
  const out = join(dir, 'demo');
  const stages: string[] = [];
  const reported: Record<string, unknown> = {};
  const listener: DemoListener = {
    stage: (title, seconds) => {
      assert.ok(seconds >= 0);
      stages.push(title.split(':')[0]);
    },
    prepared: (s) => (reported.prepared = s),
    tuned: (s) => (reported.tuned = s),
    explained: (s) => (reported.explained = s),
    exported: (s) => (reported.exported = s),
    compared: (s) => (reported.compared = s),
    served: (s) => (reported.served = s),
  };

  const summary = await runDemo({ out, config, lm, maxUsers: 20 }, listener);

  assert.deepEqual(stages, ['data prepare', 'profile tune', 'profile explain', 'bank export', 'eval compare', 'ctr train']);
  assert.equal(summary.data.users, 20);
  assert.equal(summary.tune.users, 20);
  assert.equal(summary.export.rows, 20);
  assert.equal(summary.explain.length, summary.tune.codebooks.length);
  assert.deepEqual(summary.compare.ctr.map((r) => `${r.features}/${r.protocol}`).sort(), PROTOCOLS.flatMap((p) => FEATURE_SETS.map((f) => `${f}/${p}`)).sort());
  for (const row of summary.compare.ctr) assert.ok(row.seeds === 1 && row.auc_mean > 0 && row.auc_mean < 1, JSON.stringify(row));
  assert.ok(summary.serving.test_auc > 0 && summary.serving.test_auc < 1);
  assert.deepEqual(reported, { prepared: summary.data, tuned: summary.tune, explained: summary.explain, exported: summary.export, compared: reported.compared, served: summary.serving });

  // The files the demo's last line points at, and the settings saved next to them.
  assert.deepEqual(JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')), JSON.parse(JSON.stringify(summary)));
  assert.deepEqual(JSON.parse(await readFile(join(out, 'config.json'), 'utf8')), config);
  for (const file of ['report.md', 'report.json', 'auc.svg', 'profile/bank.sqlite', 'export/profiles.csv', 'export/soft_tokens.safetensors', 'serve-model/model.json']) await access(join(out, file));
});
