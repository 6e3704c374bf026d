/**
 * Fault injection for tune runs: source data changed after prepare, prepared data changed under a
 * run, a rerun with other settings, two runs on one directory, flipped checkpoint bytes, an LM that
 * gives NaN, and LM weights that are corrupt. Each ends in a clear refusal, never in a run on wrong data.
 */
import assert from 'node:assert/strict';
import { appendFile, cp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { it } from 'node:test';
import { EMBEDDED_DATASET_DIR, loadPrepared, prepareData } from '../../src/data/index.js';
import { trainServingModel } from '../../src/features/index.js';
import { CausalLm } from '../../src/lm/index.js';
import { openSafetensors, writeSafetensors } from '../../src/io/index.js';
import { DEFAULT_SLOTS, templateTokens, tuneProfiles, tuneRun, tuneSchema, type TuneOptions } from '../../src/profile/index.js';
import { testTuneOptions, TUNING_LM } from '../helpers/tuning.js';
import { tinyLm } from '../helpers/tinyLm.js';

let source: string;
const tiny = tinyLm('userip-faults-', { ...TUNING_LM, seed: 4, numLayers: 1, maxPositions: 128 }, {
  prepare: async (dir) => {
    // A copy of the dataset that the tests may change.
    source = join(dir, 'movielens');
    await cp(EMBEDDED_DATASET_DIR, source, { recursive: true });
    await prepareData({ dataset: source, out: join(dir, 'data'), threshold: 3, skipBadRows: false, maxUsers: 6 });
  },
});

const settings = (out: string, extra: Record<string, unknown> = {}) =>
  tuneSchema.parse({ data: join(tiny.dir, 'data'), out, lm: join(tiny.dir, 'lm'), behaviourTokens: 30, userSteps: 2, populationSteps: 2, emRounds: 1, batchTokens: 256, diagnosticsUsers: 0, threads: 1, ...extra });

it('a rerun with other settings is refused before it writes config.json', async () => {
  const out = join(tiny.dir, 'settings');
  await tuneRun(settings(out));
  const config = await readFile(join(out, 'config.json'), 'utf8');
  await assert.rejects(tuneRun(settings(out, { userSteps: 3, lr: 0.02 })), {
    name: 'RunRefusedError',
    message: /holds the checkpoint of a run with other settings \(lr 0\.01 → 0\.02, userSteps 2 → 3\).*delete .*checkpoint to start the run over/,
  });
  assert.equal(await readFile(join(out, 'config.json'), 'utf8'), config, 'config.json still holds the settings of the run on disk');
  // Settings that do not change the tokens may change.
  await tuneRun(settings(out, { threads: 2, checkpointEvery: 7 }));
});

it('two runs on one output directory: the second is refused, naming the holder', async () => {
  const out = join(tiny.dir, 'twice');
  const outcomes = await Promise.allSettled([tuneRun(settings(out)), tuneRun(settings(out, { userSteps: 3 }))]);
  const refused = outcomes.filter((o) => o.status === 'rejected');
  assert.equal(refused.length, 1, 'exactly one run goes ahead');
  assert.match(String((refused[0] as PromiseRejectedResult).reason), new RegExp(`DirectoryLockedError: ${out} is in use by process ${process.pid} on .*userip profile tune`));
});

it('prepared data changed under a run: resuming from its checkpoint, and ctr train on it, are refused', async () => {
  const data = join(tiny.dir, 'data-reprepared');
  await prepareData({ dataset: source, out: data, threshold: 3, skipBadRows: false, maxUsers: 6 });
  const out = join(tiny.dir, 'reprepared');
  await tuneRun(settings(out, { data }));
  await prepareData({ dataset: source, out: data, threshold: 3, skipBadRows: false, maxUsers: 3 });
  await assert.rejects(tuneRun(settings(out, { data })), { name: 'RunRefusedError', message: new RegExp(`holds the checkpoint of a run made from data ${data} \\(hash .*\\), not from ${data} as it is now`) });
  await assert.rejects(trainServingModel({ data, run: out, out: join(tiny.dir, 'ctr-other-data') }), {
    name: 'RunRefusedError',
    message: new RegExp(`the tune run ${out} was made from the prepared data ${data} \\(hash .*\\), not from ${data} \\(hash`),
  });
});

it('source data changed after prepare: every step that reads the prepared data refuses, naming the file', async () => {
  const data = join(tiny.dir, 'data-appended');
  const copy = join(tiny.dir, 'movielens-appended');
  await cp(source, copy, { recursive: true });
  await prepareData({ dataset: copy, out: data, threshold: 3, skipBadRows: false, maxUsers: 6 });
  await appendFile(join(copy, 'ratings.csv'), '999,1,5.0,1500000000\n');
  const changed = new RegExp(`the source data of ${data} changed since \`userip data prepare\`: ${join(copy, 'ratings.csv')} was \\d+ bytes .*, now \\d+`);
  await assert.rejects(loadPrepared(data), { name: 'PreparedDataChangedError', message: changed });
  await assert.rejects(tuneRun(settings(join(tiny.dir, 'appended'), { data })), { message: changed });
});

it('a relative --dataset is stored absolute, so the prepared data reads from any directory', async (t) => {
  const cwd = process.cwd();
  t.after(() => process.chdir(cwd));
  process.chdir(tiny.dir);
  await prepareData({ dataset: relative(tiny.dir, source), out: join(tiny.dir, 'data-relative'), threshold: 3, skipBadRows: false, maxUsers: 2 });
  process.chdir(tmpdir());
  const prepared = await loadPrepared(join(tiny.dir, 'data-relative'));
  assert.equal(prepared.config.dataset, source);
  assert.equal(new Set(prepared.dataset.interactions.map((i) => i.user)).size, 2);
});

const trainerOptions = (checkpointDir: string, extra: Partial<TuneOptions> = {}): TuneOptions =>
  testTuneOptions({ codebookSizes: [2, 2], populationSteps: 2, userSteps: 2, convergence: 0, emRounds: 1, checkpointDir, checkpointEvery: 1, configHash: 'faults', ...extra });

function behaviour() {
  return ['u1', 'u2', 'u3'].map((user, u) => ({ user, train: [tiny.lm.tokenizer.encode(`alpha beta ${'gamma '.repeat(u + 1)}`)], valid: [] }));
}

it('flipped checkpoint bytes: the resume is refused with a message that says how to start over', async () => {
  const template = templateTokens(tiny.lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  const checkpointDir = join(tiny.dir, 'flipped');
  await tuneProfiles(tiny.lm, template, behaviour(), { ...trainerOptions(checkpointDir), stopAfterSteps: 3 });
  const path = join(checkpointDir, 'checkpoint.safetensors');
  const bytes = await readFile(path);
  bytes[bytes.length - 50] ^= 0x40;
  await writeFile(path, bytes);
  await assert.rejects(tuneProfiles(tiny.lm, template, behaviour(), trainerOptions(checkpointDir)), {
    message: new RegExp(`cannot resume from ${path}: .*checksum mismatch.*Delete ${checkpointDir} to start the run over`),
  });
});

it('an LM that gives NaN stops the tune at its first step, naming the step and the users', async () => {
  let steps = 0;
  const diverging = Object.assign(Object.create(tiny.lm) as CausalLm, {
    lossAndGrad: async (batch: Parameters<CausalLm['lossAndGrad']>[0]) => {
      steps++;
      const result = await tiny.lm.lossAndGrad(batch);
      return { ...result, loss: NaN, grad: result.grad.fill(NaN) };
    },
  });
  const template = templateTokens(tiny.lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  await assert.rejects(tuneProfiles(diverging, template, behaviour(), trainerOptions(join(tiny.dir, 'nan-population'))), { message: /^population step 1: the loss is NaN \(batch of the population token\)/ });
  assert.equal(steps, 1);
  await assert.rejects(tuneProfiles(diverging, template, behaviour(), trainerOptions(join(tiny.dir, 'nan-users'), { populationSteps: 0 })), {
    message: /^user step 1 \(E-step 1\): the loss is NaN \(batch of users u\d(, u\d)*\)/,
  });
  assert.equal(steps, 2);
});

it('LM weights with a non-finite value, or with flipped bytes, are refused at load', async () => {
  const broken = join(tiny.dir, 'lm-broken');
  await cp(join(tiny.dir, 'lm'), broken, { recursive: true });
  const weightsPath = join(broken, 'model.safetensors');
  const reader = await openSafetensors(weightsPath);
  const tensors: Parameters<typeof writeSafetensors>[1] = {};
  for (const [name, info] of reader.tensors) tensors[name] = { dtype: 'F32', shape: info.shape, data: await reader.readFloat32(name) };
  await reader.close();
  tensors['h.0.mlp.c_fc.weight'].data[17] = NaN;
  await writeSafetensors(weightsPath, tensors);
  await assert.rejects(CausalLm.load(broken, { runtime: tiny.runtime }), { message: new RegExp(`${weightsPath}: tensor "h.0.mlp.c_fc.weight" \\[32, 128\\] holds NaN at element 17`) });

  tensors['h.0.mlp.c_fc.weight'].data[17] = 0.5;
  await writeSafetensors(weightsPath, tensors);
  const bytes = await readFile(weightsPath);
  bytes[bytes.length - 7] ^= 0x7f;
  await writeFile(weightsPath, bytes);
  await assert.rejects(CausalLm.load(broken, { runtime: tiny.runtime }), { name: 'CorruptFileError', message: /checksum mismatch/ });
});
