/**
 * The experiment runner end to end on a 40-user slice of MovieLens latest-small: data prepare ->
 * profile tune with a tiny random LM -> eval compare (2 models, 2 seeds, 2 epochs, both protocols) and eval
 * attributes. Checks the report's shape and ranges, the cold-start path's inputs, that the tune run is
 * left untouched, and that the plots are well-formed SVG.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { SqliteFeatureBank } from '../../src/bank/index.js';
import { loadPrepared, prepareData, type Interaction } from '../../src/data/index.js';
import { addNewUsers, tuneRun, tuneSchema } from '../../src/profile/index.js';
import { evalAttributes } from '../../src/eval/attributes.js';
import { compareFeatureSets, type ColdStartProfiles } from '../../src/eval/compare.js';
import { ACTIVITY_BUCKETS, FEATURE_SETS, PROTOCOLS, type CompareReport } from '../../src/eval/report.js';
import { writeTinyCheckpoint } from '../helpers/tinyCheckpoint.js';
import { assertWellFormedSvg } from '../charts/svgcheck.js';

let dir: string;
const data = () => join(dir, 'data');
const run = () => join(dir, 'run');

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'userip-compare-'));
  await writeTinyCheckpoint(join(dir, 'lm'), { architecture: 'gpt2', seed: 4, hiddenSize: 32, numLayers: 2, numHeads: 4, maxPositions: 128 });
  await prepareData({ dataset: 'embedded', out: data(), threshold: 3, skipBadRows: false, maxUsers: 40 });
  await tuneRun(tuneSchema.parse({ data: data(), out: run(), lm: join(dir, 'lm'), behaviourTokens: 40, userSteps: 2, emRounds: 2, populationSteps: 4, batchTokens: 512, diagnosticsUsers: 4, lr: 0.05, threads: 1 }));
});
after(() => rm(dir, { recursive: true, force: true }));

it('compares every feature set under both protocols, with a report, plots and an untouched tune run', async () => {
  const out = join(dir, 'compare');
  const prepared = await loadPrepared(data());
  const seen: Map<string, Interaction[]>[] = [];
  const coldStart: ColdStartProfiles = async (scratch, byUser, items) => {
    seen.push(byUser);
    return addNewUsers(scratch, byUser, items);
  };
  const lines: string[] = [];
  const report: CompareReport = await compareFeatureSets(
    { data: data(), run: run(), out, models: ['dcn', 'lr'], seeds: [0, 1], ctr: { epochs: 2, patience: 2, batchSize: 128, userIdDropout: 0.2 }, bootstrap: { resamples: 200 }, threads: 1 },
    { coldStart, log: (line) => lines.push(line) },
  );

  // Every (model, features, protocol) row, with statistics over both seeds in range.
  const models = ['dcn', 'lr'];
  assert.deepEqual(report.ctr.map((r) => `${r.model}/${r.features}/${r.protocol}`).sort(), models.flatMap((m) => PROTOCOLS.flatMap((p) => FEATURE_SETS.map((f) => `${m}/${f}/${p}`))).sort());
  for (const r of report.ctr) {
    assert.equal(r.seeds, 2);
    assert.deepEqual(r.seed_list, [0, 1]);
    for (const x of [r.auc_mean, r.gauc_mean]) assert.ok(x > 0 && x < 1, `${r.features}/${r.protocol}: ${x}`);
    assert.ok(r.logloss_mean > 0 && r.logloss_mean < 2);
    for (const s of [r.auc_std, r.logloss_std, r.gauc_std]) assert.ok(s >= 0);
    assert.deepEqual(Object.keys(r.buckets), ACTIVITY_BUCKETS.map((b) => b.name));
    if (r.features === 'id') assert.equal(r.vs_id, null);
    else {
      assert.ok(r.vs_id && r.vs_id.auc.n === 2 && r.vs_id.auc.p_value >= 0 && r.vs_id.auc.p_value <= 1);
      assert.ok(['exceeds seed noise', 'within seed noise'].includes(r.vs_id.auc.verdict));
      const [lo, hi] = r.vs_id.delta_auc_ci95 ?? [NaN, NaN];
      assert.ok(lo <= hi && lo > -1 && hi < 1, `${r.model}/${r.features}/${r.protocol}: bootstrap interval [${lo}, ${hi}]`);
    }
  }
  assert.ok(report.ctr.find((r) => r.features === 'id+userip')?.vs_mfkmeans?.delta_auc_ci95);
  const runs = models.length * PROTOCOLS.length * FEATURE_SETS.length * 2;
  assert.equal(report.runs.length, runs);
  for (const m of models) assert.equal(report.runs.filter((r) => r.model === m).length, runs / 2);
  assert.equal(lines.filter((l) => new RegExp(`^\\[\\d+/${runs}\\] (dcn|lr) .* ETA `).test(l)).length, runs);

  // Cold start: 20% of the users with held-out rows, profiled from their train-split rows only.
  const held = new Set([...prepared.split.valid, ...prepared.split.test].map((i) => i.user));
  assert.equal(report.users.cold, Math.round(0.2 * held.size));
  assert.equal(seen.length, 1);
  const coldUsers = [...seen[0].keys()];
  assert.equal(coldUsers.length, report.users.cold);
  assert.equal(report.users.cold_with_cold_start_profile, report.users.cold);
  const key = (i: Interaction) => `${i.user}\t${i.item}\t${i.timestamp}`;
  const trainRows = new Set(prepared.split.train.map(key));
  const passed = [...seen[0].values()].flat();
  for (const i of passed) assert.ok(trainRows.has(key(i)), 'the cold-start path saw a validation or test interaction');
  assert.equal(passed.length, prepared.split.train.filter((i) => seen[0].has(i.user)).length, 'every train-split interaction of a cold user');
  const cold = new Set(coldUsers);
  assert.equal(report.rows.cold?.train, prepared.split.train.filter((i) => !cold.has(i.user)).length);
  assert.equal(report.rows.cold?.test, [...prepared.split.valid, ...prepared.split.test].filter((i) => cold.has(i.user)).length);

  // The tune run's bank still holds exactly its tuned users.
  const bank = await SqliteFeatureBank.open(join(run(), 'bank.sqlite'), { readonly: true });
  try {
    assert.equal(await bank.count(), 40);
    for await (const entry of bank.users()) assert.equal(entry.source, 'tuned');
  } finally {
    await bank.close();
  }

  const json = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as CompareReport;
  assert.equal(json.ctr.length, report.ctr.length);
  assert.deepEqual((json.settings as { models: string[] }).models, models);
  const md = await readFile(join(out, 'report.md'), 'utf8');
  for (const m of ['DCN', 'LR']) {
    assert.match(md, new RegExp(`^## ${m}$`, 'm'));
    assert.match(md, new RegExp(`^### Warm: .* \\(${m}\\)$`, 'm'));
    assert.match(md, new RegExp(`^### Cold start: .* \\(${m}\\)$`, 'm'));
  }
  assert.match(md, /\| id\+ratebins \|/);
  assert.match(md, /ΔAUC bootstrap 95% \(users\)/);
  for (const name of ['auc.svg', 'curves.svg', 'codebook-usage.svg']) assertWellFormedSvg(await readFile(join(out, name), 'utf8'), name);

  // Runs trained concurrently (the default here, 2 cores) equal runs trained one at a time.
  const serial = await compareFeatureSets(
    { data: data(), run: run(), out: join(dir, 'compare-serial'), models: ['dcn'], seeds: [0, 1], features: ['id', 'id+random', 'id+softtokens'], protocols: ['warm'], ctr: { epochs: 2, patience: 2, batchSize: 128, userIdDropout: 0.2 }, bootstrap: { resamples: 200 }, threads: 1, concurrency: 1 },
    { log: () => {} },
  );
  assert.equal((report.settings as { concurrency: number }).concurrency, availableParallelism());
  for (const r of serial.runs) {
    const same = report.runs.find((c) => c.model === r.model && c.features === r.features && c.protocol === r.protocol && c.seed === r.seed)!;
    assert.deepEqual([r.auc, r.logloss, r.valid_auc], [same.auc, same.logloss, same.valid_auc], `${r.features} seed ${r.seed}`);
  }
});

it('eval attributes: a planted attribute has NMI 1 with its slot, a coin flip stays near chance', async () => {
  const bank = await SqliteFeatureBank.open(join(run(), 'bank.sqlite'), { readonly: true });
  const rows = ['user,hobby_code,coin'];
  let i = 0;
  for await (const entry of bank.users()) rows.push(`${entry.user},code${entry.ids[0]},${i++ % 2 ? 'heads' : 'tails'}`);
  await bank.close();
  await writeFile(join(dir, 'users.csv'), `${rows.join('\n')}\n`);

  const out = join(dir, 'attributes');
  const report = await evalAttributes({ data: data(), run: run(), attributes: join(dir, 'users.csv'), out, folds: 4, probe: { iterations: 60 } }, () => {});
  assert.deepEqual(report.attributes.map((a) => a.attribute), ['hobby_code', 'coin']);
  const [planted, coin] = report.attributes;
  assert.equal(planted.userip.nmi.hobby, 1);
  assert.equal(planted.users, 40);
  for (const a of report.attributes) {
    for (const r of [a.userip, a.mfkmeans, a.chance]) {
      assert.ok(r.probe_accuracy >= 0 && r.probe_accuracy <= 1);
      for (const v of Object.values(r.nmi)) assert.ok(v >= 0 && v <= 1);
    }
  }
  // Balanced classes: the training folds' majority is the test fold's minority, so chance is at most 1/2.
  assert.ok(coin.chance.probe_accuracy <= 0.5);
  assert.ok(coin.userip.nmi.hobby < 0.3, `coin NMI ${coin.userip.nmi.hobby}`);
  const json = JSON.parse(await readFile(join(out, 'attributes.json'), 'utf8'));
  assert.equal(json.attributes.length, 2);
  assert.match(await readFile(join(out, 'attributes.md'), 'utf8'), /## hobby_code/);
});

