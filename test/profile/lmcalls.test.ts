/**
 * Splitting the trainer's steps into LM calls (`lmBatchTokens`) is for speed and memory only: the
 * tuned tokens and validation NLL match an unsplit run up to float rounding, and every call stays
 * within its padded-token budget.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Rng } from '../../src/engine/index.js';
import { buildPrompt, DEFAULT_SLOTS, templateTokens, tuneProfiles, type UserBehaviour } from '../../src/profile/index.js';
import { lmCalls } from '../../src/profile/trainer.js';
import { testTuneOptions, TUNING_LM } from '../helpers/tuning.js';
import { tinyLm } from '../helpers/tinyLm.js';

const tiny = tinyLm('userip-lmcalls-', { ...TUNING_LM, seed: 4 });

it('lmCalls: consecutive ranges that cover every prompt once, each within the padded budget unless it holds one prompt', () => {
  const template = templateTokens(tiny.lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  const rng = new Rng(3);
  const prompts = Array.from({ length: 40 }, () => buildPrompt(template, Array.from({ length: 1 + rng.int(60) }, () => 5)));
  for (const budget of [1, 50, 100, 400, 100_000]) {
    const ranges = lmCalls(prompts, budget);
    assert.equal(ranges[0][0], 0);
    assert.equal(ranges.at(-1)![1], prompts.length);
    ranges.forEach(([from, to], i) => {
      assert.ok(to > from);
      if (i > 0) assert.equal(from, ranges[i - 1][1]);
      const padded = (to - from) * Math.max(...prompts.slice(from, to).map((p) => p.tokens.length));
      assert.ok(to - from === 1 || padded <= budget, `range ${from}-${to}: ${padded} > ${budget}`);
    });
    if (budget === 100_000) assert.equal(ranges.length, 1);
    if (budget === 1) assert.equal(ranges.length, prompts.length);
  }
});

it('a run split into small LM calls tunes the same tokens as one call per step, up to float rounding', async () => {
  const template = templateTokens(tiny.lm.tokenizer, DEFAULT_SLOTS, 'Recently:');
  const rng = new Rng(7);
  const words = ['alpha', 'beta', 'gamma', 'delta'];
  const text = (u: number, len: number) => tiny.lm.tokenizer.encode(Array.from({ length: len }, () => words[(u + rng.int(2)) % 4]).join(' '));
  // 2 to 5 windows per user of different lengths: user steps and population steps span several calls.
  const users: UserBehaviour[] = Array.from({ length: 6 }, (_, u) => ({ user: `u${u}`, train: Array.from({ length: 2 + (u % 4) }, (_, w) => text(u, 2 + w)), valid: [text(u, 4)] }));
  const options = testTuneOptions({ codebookSizes: [2, 2], batchTokens: 200, lmBatchTokens: 100_000, windowsPerStep: 'auto', userSteps: 2, convergence: 0, seed: 1, configHash: 'lmcalls' });
  const whole = await tuneProfiles(tiny.lm, template, users, options);
  const split = await tuneProfiles(tiny.lm, template, users, { ...options, lmBatchTokens: 40 });
  assert.ok(split.steps === whole.steps && split.tokens === whole.tokens);
  let largest = 0;
  for (let i = 0; i < whole.softTokens.data.length; i++) largest = Math.max(largest, Math.abs(whole.softTokens.data[i] - split.softTokens.data[i]));
  assert.ok(largest < 1e-4, `largest token difference ${largest}`);
  assert.ok(Math.abs(whole.valNllEnd - split.valNllEnd) < 1e-4, `${whole.valNllEnd} vs ${split.valNllEnd}`);
  // The tokens moved: the comparison is not between two untouched tables.
  assert.ok(whole.valNllEnd < whole.valNllStart);
});
