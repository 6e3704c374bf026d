/**
 * CausalLm.generate's options beyond plain greedy/top-k (model.test.ts covers those): prefix position
 * ids, and the no-repeat-n-gram rule, each against the float64 reference forward.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { causalMask } from '../../src/lm/causal-lm.js';
import { referenceLogits } from '../helpers/referenceLm.js';
import { tinyLm } from '../helpers/tinyLm.js';

const tiny = tinyLm('userip-generate-', { architecture: 'gpt2', seed: 41, maxPositions: 48 }, { amplify: 5 });

/** Greedy decoding with the reference forward; `allowed(seq, t)` says whether t may come next. */
function referenceGreedy(prefix: Float32Array, positions: number[], steps: number, allowed: (seq: number[], t: number) => boolean): number[] {
  const V = tiny.checkpoint.config.vocabSize;
  const out: number[] = [];
  let embeds = Array.from(prefix);
  const pos = [...positions];
  while (out.length < steps && pos[pos.length - 1] < tiny.checkpoint.config.maxPositions) {
    const T = pos.length;
    const logits = referenceLogits(tiny.checkpoint.config, tiny.checkpoint.weights, { inputsEmbeds: embeds, attentionMask: causalMask(T), positionIds: pos });
    let best = -1;
    for (let t = 0; t < V; t++) if (allowed(out, t) && (best < 0 || logits[(T - 1) * V + t] > logits[(T - 1) * V + best])) best = t;
    if (best === tiny.checkpoint.config.eosTokenId) break;
    out.push(best);
    embeds = [...embeds, ...tiny.lm.embedTokens([best])];
    pos.push(pos[pos.length - 1] + 1);
  }
  return out;
}

/** Whether some n-gram occurs twice in `seq`, by brute force. */
function repeatsNgram(seq: readonly number[], n: number): boolean {
  const seen = new Set<string>();
  for (let i = 0; i + n <= seq.length; i++) {
    const key = seq.slice(i, i + n).join(',');
    if (seen.has(key)) return true;
    seen.add(key);
  }
  return false;
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

describe('CausalLm.generate options', () => {
  test('noRepeatNgram never repeats an n-gram and otherwise picks the reference argmax', async () => {
    const prefix = tiny.lm.embedTokens(tiny.lm.tokenizer.encode('the cat'));
    const T0 = prefix.length / tiny.checkpoint.config.hiddenSize;
    const plain = await tiny.lm.generate(prefix, { maxNewTokens: 16 });
    assert.equal(plain.length, 16);
    assert.ok(repeatsNgram(plain, 2), `plain greedy should loop on this model: ${plain}`);
    assert.deepEqual(await tiny.lm.generate(prefix, { maxNewTokens: 16, noRepeatNgram: 0 }), plain, 'off by 0 as by default');
    for (const n of [1, 2, 3]) {
      const got = await tiny.lm.generate(prefix, { maxNewTokens: 16, noRepeatNgram: n });
      assert.ok(!repeatsNgram(got, n), `n = ${n}: ${got}`);
      // The rule as stated: t is allowed unless seq + t ends with an n-gram seq already holds.
      const expected = referenceGreedy(prefix, range(T0), 16, (seq, t) => !repeatsNgram([...seq, t], n));
      assert.deepEqual(got, expected, `n = ${n}`);
    }
    await assert.rejects(tiny.lm.generate(prefix, { maxNewTokens: 4, noRepeatNgram: -1 }), /noRepeatNgram/);
  });

  test('positionIds place the prefix; generated tokens follow the last id and stop at the context length', async () => {
    const ids = tiny.lm.tokenizer.encode('the movie');
    const prefix = tiny.lm.embedTokens(ids);
    const T0 = ids.length;
    assert.deepEqual(await tiny.lm.generate(prefix, { maxNewTokens: 6, positionIds: range(T0) }), await tiny.lm.generate(prefix, { maxNewTokens: 6 }));
    const gapped = [0, ...range(T0 - 1, 20)];
    const got = await tiny.lm.generate(prefix, { maxNewTokens: 6, positionIds: gapped });
    assert.deepEqual(got, referenceGreedy(prefix, gapped, 6, () => true));
    assert.notDeepEqual(got, await tiny.lm.generate(prefix, { maxNewTokens: 6 }), 'positions matter on this model');
    // Last prefix id 46 of 48: steps run at ids 46 and 47.
    const late = range(T0, 47 - T0);
    assert.equal((await tiny.lm.generate(prefix, { maxNewTokens: 6, positionIds: late })).length, 2);
    await assert.rejects(tiny.lm.generate(prefix, { maxNewTokens: 2, positionIds: [0] }), /positionIds/);
  });
});
