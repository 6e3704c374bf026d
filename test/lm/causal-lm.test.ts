/**
 * CausalLm on tiny random Hugging Face checkpoints of each architecture, against the independent
 * float64 reference forward (test/helpers/referenceLm.ts): logits with custom masks, padding and
 * position ids; the input gradient against finite differences; generation; precisions; errors.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Rng, Runtime } from '../../src/engine/index.js';
import { CausalLm, MASKED, causalMask } from '../../src/lm/causal-lm.js';
import type { ProfileLm } from '../../src/profile/index.js';
import { argmax, referenceLogits, referenceNll } from '../helpers/referenceLm.js';
import { amplifyCheckpoint, writeTinyCheckpoint, type TinyCheckpoint, type TinyCheckpointOptions } from '../helpers/tinyCheckpoint.js';

const rt = new Runtime({ threads: 1 });
let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'userip-model-'));
});
after(async () => {
  await rt.close();
  await rm(root, { recursive: true, force: true });
});
let counter = 0;
const fresh = () => join(root, `ck-${counter++}`);

/** Reference logits of row b of a batch, [T, V]. */
function referenceRow(fx: TinyCheckpoint, embeds: Float32Array, mask: Float32Array, positions: number[], b: number, T: number): Float64Array {
  const D = fx.config.hiddenSize;
  return referenceLogits(fx.config, fx.weights, {
    inputsEmbeds: embeds.subarray(b * T * D, (b + 1) * T * D),
    attentionMask: mask.subarray(b * T * T, (b + 1) * T * T),
    positionIds: positions.slice(b * T, (b + 1) * T),
  });
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * Two rows of T = 7 like the profile code builds them: token embeddings with one "soft token" (a
 * random vector at a larger scale) spliced in. Row 0 is full length with a profile-style mask (the
 * soft token at position 3 sees only itself and position 2); row 1 has length 5 (right padding,
 * pad embeddings are random junk) and positions starting at 2.
 */
function profileStyleBatch(lm: CausalLm, rng: Rng) {
  const [B, T, D] = [2, 7, lm.hiddenSize];
  const ids = lm.tokenizer.encode('the cat is the movie world');
  assert.ok(ids.length >= T, `fixture text encodes to ${ids.length} tokens`);
  const inputsEmbeds = new Float32Array(B * T * D);
  inputsEmbeds.set(lm.embedTokens(ids.slice(0, T)), 0);
  inputsEmbeds.set(lm.embedTokens(ids.slice(1, T)), T * D);
  for (let d = 0; d < D; d++) inputsEmbeds[3 * D + d] = 0.5 * rng.normal();
  for (let i = 5 * D; i < T * D; i++) inputsEmbeds[T * D + i] = rng.normal();
  const attentionMask = causalMask(T, [T, 5]);
  attentionMask[3 * T + 0] = MASKED;
  attentionMask[3 * T + 1] = MASKED;
  const positionIds = [0, 1, 2, 3, 4, 5, 6, 2, 3, 4, 5, 6, 7, 8];
  const targets = Int32Array.from([...ids.slice(1, T + 1), ...ids.slice(2, 7), 0, 0]);
  const weights = Float32Array.from([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
  return { batch: B, seq: T, inputsEmbeds, attentionMask, positionIds, targets, weights };
}

const ARCHITECTURES: [string, TinyCheckpointOptions][] = [
  ['gpt2', { architecture: 'gpt2', seed: 21 }],
  ['llama (4 query heads on 2 kv heads, untied head)', { architecture: 'llama', seed: 22, hiddenSize: 32, numHeads: 4, numKvHeads: 2, tied: false }],
  ['qwen2 (q/k/v biases, tied head, 4 query heads on 1 kv head)', { architecture: 'qwen2', seed: 23, hiddenSize: 32, numHeads: 4, numKvHeads: 1 }],
];

for (const [label, options] of ARCHITECTURES) {
  describe(`CausalLm ${label}`, () => {
    let fx: TinyCheckpoint;
    let lm: CausalLm;
    before(async () => {
      fx = await writeTinyCheckpoint(fresh(), options);
      await amplifyCheckpoint(fx, 10);
      lm = await CausalLm.load(fx.dir, { runtime: rt });
    });

    test('embedTokens reads rows of the input embedding table', () => {
      const D = fx.config.hiddenSize;
      const table = fx.weights.get(options.architecture === 'gpt2' ? 'wte.weight' : 'model.embed_tokens.weight')!;
      assert.deepEqual(lm.embedTokens([5, 0, 5]), Float32Array.from([...table.subarray(5 * D, 6 * D), ...table.subarray(0, D), ...table.subarray(5 * D, 6 * D)]));
      assert.throws(() => lm.embedTokens([fx.config.vocabSize]), /token id \d+ is outside/);
    });

    test('logits, NLL and loss match the reference with a custom mask, padding and position ids', async () => {
      const batch = profileStyleBatch(lm, new Rng(1));
      const { batch: B, seq: T } = batch;
      const V = fx.config.vocabSize;
      const { nll, logits } = await lm.score(batch, { logits: true });
      assert.ok(logits);
      let weighted = 0;
      for (let b = 0; b < B; b++) {
        const ref = referenceRow(fx, batch.inputsEmbeds, batch.attentionMask, batch.positionIds, b, T);
        const diff = maxAbsDiff(logits.subarray(b * T * V, (b + 1) * T * V), ref);
        assert.ok(diff < 1e-4, `row ${b}: max |logits - reference| = ${diff}`);
        for (let t = 0; t < T; t++) {
          const expected = referenceNll(ref, V, t, batch.targets[b * T + t]);
          assert.ok(Math.abs(nll[b * T + t] - expected) < 1e-4, `nll[${b}, ${t}] = ${nll[b * T + t]}, reference ${expected}`);
          weighted += batch.weights[b * T + t] * expected;
        }
      }
      const { loss } = await lm.lossAndGrad(batch);
      const expectedLoss = weighted / batch.weights.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(loss - expectedLoss) < 1e-5, `loss ${loss}, reference ${expectedLoss}`);
      // The custom mask matters: the plain causal mask gives other logits at the soft token.
      const plain = await lm.score({ ...batch, attentionMask: causalMask(T, [T, 5]) }, { logits: true });
      assert.ok(maxAbsDiff(plain.logits!.subarray(3 * V, 4 * V), logits.subarray(3 * V, 4 * V)) > 1e-4);
    });

    test('padding does not change the real positions, and default positions are 0..T-1', async () => {
      const batch = profileStyleBatch(lm, new Rng(2));
      const { seq: T } = batch;
      const [D, V, n] = [fx.config.hiddenSize, fx.config.vocabSize, 5];
      const padded = await lm.score(batch, { logits: true });
      const alone = await lm.score(
        {
          batch: 1,
          seq: n,
          inputsEmbeds: batch.inputsEmbeds.slice(T * D, (T + n) * D),
          attentionMask: causalMask(n),
          positionIds: batch.positionIds.slice(T, T + n),
          targets: batch.targets.slice(T, T + n),
        },
        { logits: true },
      );
      assert.ok(maxAbsDiff(padded.logits!.subarray(T * V, (T + n) * V), alone.logits!) < 1e-5);
      const { positionIds: _positions, ...withDefault } = batch;
      const defaulted = await lm.score(withDefault, { logits: true });
      const ref = referenceRow(fx, batch.inputsEmbeds, batch.attentionMask, Array.from({ length: 2 * T }, (_, i) => i % T), 1, T);
      assert.ok(maxAbsDiff(defaulted.logits!.subarray(T * V, 2 * T * V), ref) < 1e-4);
    });

    test('the gradient w.r.t. inputs_embeds matches central finite differences of the loss', async () => {
      const rng = new Rng(3);
      const batch = profileStyleBatch(lm, rng);
      // Unit-scale embeddings keep the normalizations well conditioned, so float32 differences are accurate.
      rng.fillNormal(batch.inputsEmbeds);
      const { seq: T } = batch;
      const D = fx.config.hiddenSize;
      const { loss, grad } = await lm.lossAndGrad(batch);
      assert.equal(grad.length, batch.inputsEmbeds.length);
      // Nothing flows back from positions no weighted target can see: padding, and row 1's own tail.
      for (const [b, t] of [[1, 5], [1, 6]]) {
        assert.ok(grad.subarray((b * T + t) * D, (b * T + t + 1) * D).every((g) => g === 0), `grad at padded position [${b}, ${t}] is not 0`);
      }
      const scale = Math.max(...grad.map(Math.abs));
      assert.ok(scale > 1e-3, `gradient too small to check: ${scale}`);
      const eps = 1e-2;
      const lossWith = async (i: number, delta: number) => {
        const inputsEmbeds = batch.inputsEmbeds.slice();
        inputsEmbeds[i] += delta;
        return (await lm.lossAndGrad({ ...batch, inputsEmbeds })).loss;
      };
      for (let n = 0; n < 20; n++) {
        // Elements of real positions in both rows, the soft token (row 0, position 3) among them.
        const b = n % 2;
        const t = n < 4 ? 3 : rng.int(b === 0 ? T : 5);
        const i = (b * T + t) * D + rng.int(D);
        const numeric = ((await lossWith(i, eps)) - (await lossWith(i, -eps))) / (2 * eps);
        const err = Math.abs(grad[i] - numeric);
        assert.ok(err < 2e-3 * scale + 2e-2 * Math.abs(numeric), `d loss / d inputs_embeds[${i}]: ${grad[i]} vs finite difference ${numeric} (loss ${loss})`);
      }
    });

    test('greedy generation is deterministic and follows the reference argmax', async () => {
      const D = fx.config.hiddenSize;
      const V = fx.config.vocabSize;
      const prefixIds = lm.tokenizer.encode('the cat');
      const T0 = prefixIds.length + 1;
      const prefix = new Float32Array(T0 * D);
      prefix.set(lm.embedTokens(prefixIds));
      new Rng(4).fillNormal(prefix.subarray(prefixIds.length * D), 0.5);
      // The last prefix position (a soft token) sees only itself and the token before it.
      const prefixMask = causalMask(T0);
      prefixMask.fill(MASKED, (T0 - 1) * T0, (T0 - 1) * T0 + T0 - 2);
      const got = await lm.generate(prefix, { maxNewTokens: 6, attentionMask: prefixMask });
      assert.deepEqual(await lm.generate(prefix, { maxNewTokens: 6, attentionMask: prefixMask }), got);

      const expected: number[] = [];
      let embeds = Array.from(prefix);
      while (expected.length < 6) {
        const T = embeds.length / D;
        const mask = causalMask(T);
        for (let i = 0; i < T0; i++) mask.set(prefixMask.subarray(i * T0, (i + 1) * T0), i * T);
        const logits = referenceLogits(fx.config, fx.weights, { inputsEmbeds: embeds, attentionMask: mask, positionIds: Array.from({ length: T }, (_, i) => i) });
        const next = argmax(logits, V, T - 1);
        if (next === fx.config.eosTokenId) break;
        expected.push(next);
        embeds = [...embeds, ...lm.embedTokens([next])];
      }
      assert.deepEqual(got, expected);
    });

    test('top-k sampling is seeded and draws from the k most likely tokens', async () => {
      const D = fx.config.hiddenSize;
      const V = fx.config.vocabSize;
      const prefix = lm.embedTokens(lm.tokenizer.encode('the movie'));
      const a = await lm.generate(prefix, { maxNewTokens: 6, topK: 3, seed: 1 });
      assert.deepEqual(await lm.generate(prefix, { maxNewTokens: 6, topK: 3, seed: 1 }), a);
      assert.notDeepEqual(await lm.generate(prefix, { maxNewTokens: 6, topK: 3, seed: 2 }), a);
      let embeds = Array.from(prefix);
      for (const token of a) {
        const T = embeds.length / D;
        const logits = referenceLogits(fx.config, fx.weights, { inputsEmbeds: embeds, attentionMask: causalMask(T), positionIds: Array.from({ length: T }, (_, i) => i) });
        const row = Array.from(logits.subarray((T - 1) * V, T * V));
        const rank = row.filter((x) => x > row[token]).length;
        assert.ok(rank < 3, `sampled token ${token} has rank ${rank}`);
        embeds = [...embeds, ...lm.embedTokens([token])];
      }
    });
  });
}

describe('CausalLm generation limits, precisions, ids and errors', () => {
  test('generation stops before the eos token and at the context length', async () => {
    const fx = await writeTinyCheckpoint(fresh(), { architecture: 'gpt2', seed: 31 });
    const prefix = (await CausalLm.load(fx.dir, { runtime: rt })).embedTokens([1, 2, 3]);
    const free = await (await CausalLm.load(fx.dir, { runtime: rt })).generate(prefix, { maxNewTokens: 8 });
    assert.equal(free.length, 8);
    const stopAt = free.findIndex((t, i) => i >= 1 && !free.slice(0, i).includes(t));
    assert.ok(stopAt > 0, `no new token after the first in ${free}`);
    // Make that token the model's eos: generation must end just before it.
    const config = JSON.parse(await readFile(join(fx.dir, 'config.json'), 'utf8'));
    await writeFile(join(fx.dir, 'config.json'), JSON.stringify({ ...config, eos_token_id: free[stopAt] }));
    const withEos = await CausalLm.load(fx.dir, { runtime: rt });
    assert.deepEqual(await withEos.generate(prefix, { maxNewTokens: 8 }), free.slice(0, stopAt));

    const long = withEos.embedTokens(Array.from({ length: 30 }, (_, i) => 40 + i));
    // 32 positions: steps run at lengths 30, 31 and 32.
    assert.equal((await (await CausalLm.load(fx.dir, { runtime: rt })).generate(long, { maxNewTokens: 10, topK: 2 })).length, 3);
  });

  for (const options of [
    { architecture: 'gpt2', seed: 32, dtype: 'F16' },
    { architecture: 'qwen2', seed: 33, dtype: 'BF16', sharded: true },
  ] as TinyCheckpointOptions[]) {
    test(`${options.dtype} ${options.architecture} checkpoints load and match the reference on their rounded weights`, async () => {
      const fx = await writeTinyCheckpoint(fresh(), options);
      const lm = await CausalLm.load(fx.dir, { runtime: rt });
      const T = 5;
      const inputsEmbeds = lm.embedTokens([3, 1, 4, 1, 5]);
      const positionIds = [0, 1, 2, 3, 4];
      const { logits } = await lm.score({ batch: 1, seq: T, inputsEmbeds, attentionMask: causalMask(T), targets: [1, 4, 1, 5, 9] }, { logits: true });
      const ref = referenceLogits(fx.config, fx.weights, { inputsEmbeds, attentionMask: causalMask(T), positionIds });
      assert.ok(maxAbsDiff(logits!, ref) < 1e-4);
    });
  }

  test('the model id depends on content, not on the file layout', async () => {
    const ids = await Promise.all(
      ([{ seed: 40 }, { seed: 40, sharded: true }, { seed: 40, dtype: 'F16' }, { seed: 41 }] as Partial<TinyCheckpointOptions>[]).map(async (o) => {
        const fx = await writeTinyCheckpoint(fresh(), { architecture: 'llama', seed: 0, ...o });
        return (await CausalLm.load(fx.dir, { runtime: rt })).id;
      }),
    );
    assert.match(ids[0], /^llama-[0-9a-f]{16}$/);
    assert.equal(ids[1], ids[0]);
    assert.notEqual(ids[2], ids[0]);
    assert.notEqual(ids[3], ids[0]);
  });

  test('a mis-shaped checkpoint is rejected, naming the tensor', async () => {
    const fx = await writeTinyCheckpoint(fresh(), { architecture: 'llama', seed: 50 });
    await writeFile(join(fx.dir, 'config.json'), JSON.stringify({ ...fx.rawConfig, intermediate_size: 48 }));
    await assert.rejects(CausalLm.load(fx.dir, { runtime: rt }), /"model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[40, 16\], expected \[48, 16\]/);
  });

  test('bad batches are rejected before they reach the runtime', async () => {
    const fx = await writeTinyCheckpoint(fresh(), { architecture: 'qwen2', seed: 51 });
    const lm: ProfileLm = await CausalLm.load(fx.dir, { runtime: rt });
    const T = 3;
    const ok = { batch: 1, seq: T, inputsEmbeds: lm.embedTokens([1, 2, 3]), attentionMask: causalMask(T), targets: Int32Array.of(2, 3, 4), weights: Float32Array.of(1, 1, 1) };
    assert.ok(Number.isFinite((await lm.lossAndGrad(ok)).loss));
    await assert.rejects(lm.lossAndGrad({ ...ok, inputsEmbeds: new Float32Array(5) }), /inputsEmbeds has 5 values, expected 48/);
    await assert.rejects(lm.lossAndGrad({ ...ok, attentionMask: causalMask(2) }), /attentionMask has 4 values, expected 9/);
    await assert.rejects(lm.lossAndGrad({ ...ok, targets: Int32Array.of(2, 3, fx.config.vocabSize) }), /targets\[2\] \d+ is outside/);
    await assert.rejects(lm.lossAndGrad({ ...ok, weights: new Float32Array(3) }), /every target weight is 0/);
    const long = fx.config.maxPositions + 1;
    await assert.rejects(lm.tokenNll({ ...ok, seq: long, inputsEmbeds: new Float32Array(long * 16), attentionMask: causalMask(long), targets: new Int32Array(long) }), /longer than the model's context length 32/);
  });
});
