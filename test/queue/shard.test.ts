/**
 * The trainer cut into population, per-shard E-steps and M-steps (what the queue distributes), run
 * in-process on a tiny random LM: it gives exactly the soft tokens and codes, and the round records, of one
 * `tuneProfiles` call, whatever the shard size and the order shards are tuned in; and a user's window
 * order must be seeded by its index in the run, not in its shard.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { DEFAULT_SLOTS, fitRound, roundRecord, templateTokens, tunePopulation, tuneProfiles, tuneResultOf, tuneShardRound, type RoundInput, type ShardRoundResult, type TuneOptions, type TuneResult, type UserBehaviour } from '../../src/profile/index.js';
import { testTuneOptions, testUsers, TUNING_LM } from '../helpers/tuning.js';
import { tinyLm } from '../helpers/tinyLm.js';

const tiny = tinyLm('userip-shard-', { ...TUNING_LM, seed: 3 });

// 1 to 4 windows, 2 per step: users with 3 or 4 cycle through them in their seeded order.
const users = (n: number, seed: number): UserBehaviour[] => testUsers(tiny.lm.tokenizer, n, seed, 4);

const defaults = testTuneOptions();

/** The run as the queue does it, in-process: shards of `size`, tuned last shard first. */
async function sharded(data: UserBehaviour[], size: number, runSeeds = true, options = defaults): Promise<TuneResult> {
  const template = templateTokens(tiny.lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  const S = DEFAULT_SLOTS.length;
  const D = tiny.lm.hiddenSize;
  const pop = await tunePopulation(tiny.lm, template, data, options);
  let input: RoundInput = { population: pop.population, codebooks: [], deltaCentroids: [] };
  const deltas = new Float32Array(data.length * S * D);
  const steps = new Array<number>(data.length).fill(0);
  const history = [];
  const firsts = Array.from({ length: Math.ceil(data.length / size) }, (_, s) => s * size).reverse();
  for (let round = 0; round < options.emRounds; round++) {
    const shards: { first: number; result: ShardRoundResult }[] = [];
    for (const first of firsts) {
      const part = data.slice(first, first + size);
      const seeds = part.map((_, i) => (runSeeds ? first + i : i));
      const start = { deltas: deltas.slice(first * S * D, (first + part.length) * S * D), steps: steps.slice(first, first + part.length) };
      shards.push({ first, result: await tuneShardRound(tiny.lm, template, part, seeds, round, input, start, options) });
    }
    for (const { first, result } of shards) {
      deltas.set(result.deltas, first * S * D);
      result.steps.forEach((s, i) => (steps[first + i] = s));
    }
    history.push(roundRecord(round + 1, data, shards.sort((a, b) => a.first - b.first)));
    input = fitRound(input.population, deltas, data, S, D, options);
  }
  return tuneResultOf(data, input, deltas, S, D, { valNllStart: pop.valNllStart, history, userSteps: steps, batches: 0, tokens: 0, seconds: 0 });
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

it('shards of 3 and of 5, tuned in reverse order, give one process its soft tokens, codes and records', async () => {
  const data = users(11, 2);
  const template = templateTokens(tiny.lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  const single = await tuneProfiles(tiny.lm, template, data, defaults);
  for (const size of [3, 5]) {
    const spread = await sharded(data, size);
    assert.ok(maxDiff(spread.population, single.population) === 0, 'the population phase is the same computation');
    // Each E-step batch is one user's step, so not even float rounding differs.
    assert.deepEqual(spread.softTokens.data, single.softTokens.data, `shards of ${size}: soft tokens differ by ${maxDiff(spread.softTokens.data, single.softTokens.data)}`);
    assert.deepEqual(spread.ids, single.ids);
    assert.deepEqual(spread.userSteps, single.userSteps);
    assert.equal(spread.valNllStart, single.valNllStart);
    spread.history.forEach((h, r) => {
      assert.ok(Math.abs(h.valNll - single.history[r].valNll) < 1e-5, `round ${r + 1} validation NLL ${h.valNll} vs ${single.history[r].valNll}`);
      assert.deepEqual(h.steps, single.history[r].steps);
    });
  }
});

it('the gradient user optimizer and whole-history steps shard just as exactly', async () => {
  const data = users(9, 3);
  const template = templateTokens(tiny.lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  const options: TuneOptions = { ...defaults, userOptimizer: 'gradient', windowsPerStep: 'auto', userSteps: 2 };
  const single = await tuneProfiles(tiny.lm, template, data, options);
  const spread = await sharded(data, 4, true, options);
  assert.deepEqual(spread.softTokens.data, single.softTokens.data);
  assert.deepEqual(spread.ids, single.ids);
});

it('seeding window order by the index in the shard instead of the run changes users with more windows than a step takes', async () => {
  const data = users(8, 2);
  const template = templateTokens(tiny.lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  const single = await tuneProfiles(tiny.lm, template, data, defaults);
  const wrong = await sharded(data, 4, false);
  assert.ok(maxDiff(wrong.softTokens.data, single.softTokens.data) > 1e-3);
});
