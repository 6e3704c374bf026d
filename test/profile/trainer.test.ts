/**
 * The profile trainer on a tiny random LM: the template mask isolates slots in the LM itself, tuning
 * lowers validation NLL, and a run stopped mid-way resumes to exactly the uninterrupted result.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { Rng } from '../../src/engine/index.js';
import { assembleBatch, buildPrompt, DEFAULT_SLOTS, promptWeight, templateTokens, tuneProfiles, type TuneOptions, type UserBehaviour } from '../../src/profile/index.js';
import { testTuneOptions, testUsers, TUNING_LM } from '../helpers/tuning.js';
import { tinyLm } from '../helpers/tinyLm.js';

const tiny = tinyLm('userip-profile-', { ...TUNING_LM, seed: 3 }, { threads: 2 });

/** Gradient of the NLL predicted at `position` w.r.t. the input embedding at `wrt`. */
async function gradAt(mode: 'paper' | 'causal', table: Float32Array, position: number, wrt: number): Promise<Float32Array> {
  const template = templateTokens(tiny.lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  const prompt = buildPrompt(template, tiny.lm.tokenizer.encode('ab ba'));
  const batch = assembleBatch(tiny.lm, [prompt], [0], { data: table, slots: 2, hidden: 32 }, mode);
  batch.weights.fill(0);
  batch.weights[position] = 1;
  const { grad } = await tiny.lm.lossAndGrad(batch);
  return grad.slice(wrt * 32, (wrt + 1) * 32);
}

it('paper mask: a soft token gets the same gradient whatever the other slot holds; causal: it does not', async () => {
  const template = templateTokens(tiny.lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
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

it('behaviour weights become the batch\'s target weights, and the loss is their weighted mean', async () => {
  const template = templateTokens(tiny.lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  const behaviour = tiny.lm.tokenizer.encode('ab ba ab');
  const weights = behaviour.map((_, i) => (i === 1 ? 3 : i === 2 ? 1 : 0));
  const prompt = buildPrompt(template, behaviour, weights);
  assert.equal(promptWeight(prompt), 4);
  assert.equal(promptWeight(buildPrompt(template, behaviour)), behaviour.length);
  const table = { data: new Rng(2).fillNormal(new Float32Array(64)), slots: 2, hidden: 32 };
  const batch = assembleBatch(tiny.lm, [prompt], [0], table, 'paper');
  assert.deepEqual([...batch.weights.subarray(prompt.behaviourStart - 1, batch.seq - 1)], weights);
  const nll = await tiny.lm.tokenNll(batch);
  const at = (i: number) => nll[prompt.behaviourStart - 1 + i];
  const { loss } = await tiny.lm.lossAndGrad(batch);
  assert.ok(Math.abs(loss - (3 * at(1) + at(2)) / 4) < 1e-4, `${loss}`);
});

// Users have 1 to 3 windows; every third user has no validation text.
const users = (n: number, seed: number): UserBehaviour[] => testUsers(tiny.lm.tokenizer, n, seed, 3);

const options = (checkpointDir: string): TuneOptions => testTuneOptions({ checkpointDir, checkpointEvery: 2 });

it('tuning lowers the mean validation NLL, with one record per EM round and a code per user and slot', async () => {
  const template = templateTokens(tiny.lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  const result = await tuneProfiles(tiny.lm, template, users(10, 1), options(join(tiny.dir, 'run-nll')));
  assert.ok(result.finished);
  assert.equal(result.history.length, 2);
  assert.ok(result.valNllEnd < result.valNllStart, `validation NLL ${result.valNllStart} -> ${result.valNllEnd}`);
  assert.deepEqual(result.ids.map((ids) => ids.length), [10, 10]);
  result.ids.forEach((ids, j) => ids.forEach((id) => assert.ok(id >= 0 && id < [3, 2][j])));
  // Every user took between 1 and 2 x userSteps steps over the two rounds.
  result.userSteps.forEach((steps) => assert.ok(steps >= 2 && steps <= 6, `steps ${steps}`));
});

it('gradient steps: a user\'s first step is lr along its gradient, and the users\' validation NLL falls below the population token\'s', async () => {
  const template = templateTokens(tiny.lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  const base = { ...options(join(tiny.dir, 'run-gradient')), userOptimizer: 'gradient' as const, populationSteps: 0, convergence: 0 };
  const one = await tuneProfiles(tiny.lm, template, users(4, 2), { ...base, checkpointDir: undefined, emRounds: 1, userSteps: 1 });
  for (let u = 0; u < 4; u++) {
    const delta = one.deltas.subarray(u * 64, (u + 1) * 64);
    assert.ok(Math.abs(Math.hypot(...delta) - base.lr) < 1e-5, `user ${u}: |δ| ${Math.hypot(...delta)}`);
  }
  const run = await tuneProfiles(tiny.lm, template, users(10, 1), base);
  assert.ok(run.valNllEnd < run.valNllStart, `validation NLL ${run.valNllStart} -> ${run.valNllEnd}`);
});

it('every user starts at the population token: θ_u = θ̄ + δ_u with δ_u = 0', async () => {
  const template = templateTokens(tiny.lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  const start = await tuneProfiles(tiny.lm, template, users(3, 1), { ...options(join(tiny.dir, 'init')), stopAfterSteps: 0 });
  const width = DEFAULT_SLOTS.length * tiny.lm.hiddenSize;
  for (let u = 0; u < 3; u++) assert.deepEqual(start.softTokens.data.subarray(u * width, (u + 1) * width), start.population);
  assert.ok(start.deltas.every((v) => v === 0));
  assert.notDeepEqual(start.population.subarray(0, tiny.lm.hiddenSize), start.population.subarray(tiny.lm.hiddenSize), 'slots get different vectors');
});

it('frozen profiles: new users move only their own offsets, against the given population token and codebooks', async () => {
  const template = templateTokens(tiny.lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  const run = await tuneProfiles(tiny.lm, template, users(6, 4), options(join(tiny.dir, 'run-frozen')));
  const frozen = { population: run.population, codebooks: run.codebooks, deltaCentroids: run.deltaCentroids };
  const fresh = await tuneProfiles(tiny.lm, template, users(2, 9), { ...options(join(tiny.dir, 'new-users')), frozen });
  assert.deepEqual(fresh.population, run.population);
  assert.equal(fresh.codebooks, run.codebooks);
  // The same E-steps as the run's users: one record per round, no codebook refit.
  assert.equal(fresh.history.length, run.history.length);
  assert.deepEqual(fresh.history.map((h) => h.steps.max), run.history.map((h) => h.steps.max));
  assert.ok(fresh.deltas.some((v) => v !== 0));
});

it('a run stopped mid-epoch resumes from its checkpoint to the uninterrupted result', async () => {
  const template = templateTokens(tiny.lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  const data = users(10, 2);
  const whole = await tuneProfiles(tiny.lm, template, data, options(join(tiny.dir, 'run-whole')));
  // Stop after 5 LM batches: mid E-step 1, last checkpoint at batch 4.
  const partial = await tuneProfiles(tiny.lm, template, data, { ...options(join(tiny.dir, 'run-resumed')), stopAfterSteps: 5 });
  assert.equal(partial.finished, false);
  const resumed = await tuneProfiles(tiny.lm, template, data, options(join(tiny.dir, 'run-resumed')));
  assert.ok(resumed.finished);
  assert.equal(resumed.steps, whole.steps);
  assert.deepEqual(resumed.softTokens.data, whole.softTokens.data);
  assert.deepEqual(resumed.history, whole.history);
  assert.deepEqual(resumed.ids, whole.ids);
});

it('refuses to resume a checkpoint made with other settings', async () => {
  const template = templateTokens(tiny.lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  const data = users(4, 3);
  await tuneProfiles(tiny.lm, template, data, { ...options(join(tiny.dir, 'run-other')), emRounds: 1 });
  await assert.rejects(tuneProfiles(tiny.lm, template, data, { ...options(join(tiny.dir, 'run-other')), configHash: 'different' }), /other settings/);
});
