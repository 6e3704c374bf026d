/**
 * The profile trainer on a tiny random LM: the template mask isolates slots in the LM itself, tuning
 * lowers validation NLL, and a run stopped mid-way resumes to exactly the uninterrupted result.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { Rng, Runtime } from '../../src/engine/index.js';
import { CausalLm } from '../../src/lm/index.js';
import { assembleBatch, buildPrompt, DEFAULT_SLOTS, templateTokens, tuneProfiles, type TuneOptions, type UserBehaviour } from '../../src/profile/index.js';
import { writeTinyCheckpoint } from '../helpers/tinyCheckpoint.js';

const rt = new Runtime({ threads: 2 });
let dir: string;
let lm: CausalLm;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'userip-profile-'));
  await writeTinyCheckpoint(join(dir, 'lm'), { architecture: 'gpt2', seed: 3, hiddenSize: 32, numLayers: 2, numHeads: 4, maxPositions: 96 });
  lm = await CausalLm.load(join(dir, 'lm'), { runtime: rt });
});
after(async () => {
  await rt.close();
  await rm(dir, { recursive: true, force: true });
});

/** Gradient of the NLL predicted at `position` w.r.t. the input embedding at `wrt`. */
async function gradAt(mode: 'paper' | 'causal', table: Float32Array, position: number, wrt: number): Promise<Float32Array> {
  const template = templateTokens(lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  const prompt = buildPrompt(template, lm.tokenizer.encode('ab ba'));
  const batch = assembleBatch(lm, [prompt], [0], { data: table, slots: 2, hidden: 32 }, mode);
  batch.weights.fill(0);
  batch.weights[position] = 1;
  const { grad } = await lm.lossAndGrad(batch);
  return grad.slice(wrt * 32, (wrt + 1) * 32);
}

it('paper mask: a soft token gets the same gradient whatever the other slot holds; causal: it does not', async () => {
  const template = templateTokens(lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  const [hobby, background] = buildPrompt(template, []).softPositions;
  const rng = new Rng(1);
  const a = rng.fillNormal(new Float32Array(64));
  const b = a.slice();
  b.set(rng.fillNormal(new Float32Array(32)), 0); // change the hobby token only
  // The loss at the background token's own position depends on what that token can see.
  const paperA = await gradAt('paper', a, background, background);
  const paperB = await gradAt('paper', b, background, background);
  assert.deepEqual(paperA, paperB);
  const causalA = await gradAt('causal', a, background, background);
  const causalB = await gradAt('causal', b, background, background);
  assert.notDeepEqual(causalA, causalB);
  // Under the paper mask the hobby token has no path to the background position at all.
  const cross = await gradAt('paper', a, background, hobby);
  assert.ok(cross.every((v) => v === 0));
});

function users(n: number, seed: number): UserBehaviour[] {
  const rng = new Rng(seed);
  const words = ['alpha', 'beta', 'gamma', 'delta'];
  return Array.from({ length: n }, (_, u) => {
    const text = (len: number) => Array.from({ length: len }, () => words[(u + rng.int(2)) % 4]).join(' ');
    return { user: `u${u}`, train: lm.tokenizer.encode(text(6)), valid: lm.tokenizer.encode(text(4)) };
  });
}

const options = (checkpointDir: string): TuneOptions => ({
  mask: 'paper',
  init: 'per-user',
  lr: 0.05,
  batchSize: 4,
  epochs: 3,
  patience: 2,
  weightDecay: 0,
  seed: 5,
  checkpointDir,
  checkpointEvery: 2,
  configHash: 'test',
});

it('tuning lowers the mean validation NLL', async () => {
  const template = templateTokens(lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  const result = await tuneProfiles(lm, template, users(10, 1), options(join(dir, 'run-nll')));
  assert.ok(result.finished);
  assert.equal(result.history.length, 3);
  assert.ok(result.valNllEnd < result.valNllStart, `validation NLL ${result.valNllStart} -> ${result.valNllEnd}`);
});

it('shared init starts every user from one vector per slot; per-user init gives each their own', async () => {
  const template = templateTokens(lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  const start = async (init: TuneOptions['init']) => (await tuneProfiles(lm, template, users(3, 1), { ...options(join(dir, `init-${init}`)), init, epochs: 1, stopAfterSteps: 0 })).softTokens.data;
  const width = DEFAULT_SLOTS.length * lm.hiddenSize;
  const row = (t: Float32Array, u: number) => t.subarray(u * width, (u + 1) * width);
  const shared = await start('shared');
  assert.deepEqual(row(shared, 1), row(shared, 0));
  assert.deepEqual(row(shared, 2), row(shared, 0));
  assert.notDeepEqual(row(shared, 0).subarray(0, lm.hiddenSize), row(shared, 0).subarray(lm.hiddenSize), 'slots get different vectors');
  const perUser = await start('per-user');
  assert.notDeepEqual(row(perUser, 1), row(perUser, 0));
});

it('a run stopped mid-epoch resumes from its checkpoint to the uninterrupted result', async () => {
  const template = templateTokens(lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  const data = users(10, 2);
  const whole = await tuneProfiles(lm, template, data, options(join(dir, 'run-whole')));
  // 3 batches per epoch; stop after 4 steps (mid epoch 2, last checkpoint at step 4) and again after 1 more.
  const partial = await tuneProfiles(lm, template, data, { ...options(join(dir, 'run-resumed')), stopAfterSteps: 4 });
  assert.equal(partial.finished, false);
  const resumed = await tuneProfiles(lm, template, data, options(join(dir, 'run-resumed')));
  assert.ok(resumed.finished);
  assert.equal(resumed.steps, whole.steps);
  assert.deepEqual(resumed.softTokens.data, whole.softTokens.data);
  assert.deepEqual(resumed.history, whole.history);
});

it('refuses to resume a checkpoint made with other settings', async () => {
  const template = templateTokens(lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  const data = users(4, 3);
  await tuneProfiles(lm, template, data, { ...options(join(dir, 'run-other')), epochs: 1 });
  await assert.rejects(tuneProfiles(lm, template, data, { ...options(join(dir, 'run-other')), configHash: 'different' }), /other settings/);
});
