/**
 * The factored DCN forward (plain TypeScript, per-field tables of the first layers' products)
 * against the model's own ORT scores, with random weights in every table and parameter (biases too,
 * which start at zero), seen, unseen and out-of-range ids.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CtrModel, sigmoid, type CtrConfigInput } from '../../src/ctr/index.js';
import { FactoredDcn } from '../../src/ctr/factored.js';
import { Rng, Runtime } from '../../src/engine/index.js';
import { synthetic, syntheticSchema } from './synthetic.js';

const rt = new Runtime({ threads: 1 });
after(() => rt.close());

function randomModel(config: CtrConfigInput, seed: number, withDense = false): CtrModel {
  const m = new CtrModel({ embeddingSize: 6, seed, ...config }, syntheticSchema(withDense), { runtime: rt });
  const rng = new Rng(seed + 100);
  for (const tables of m.weights.tables.values()) for (const t of tables) rng.fillNormal(t, 0.5);
  for (const p of m.weights.params.values()) rng.fillNormal(p, 0.5);
  // Rows of the first half of each vocabulary are trained on; the rest score as unknown.
  m.markSeen(synthetic(seed, { rows: 30, denseWeight: withDense ? 1 : 0 }));
  return m;
}

function largestDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('the factored DCN scores as the model does through ORT, to 1e-6', () => {
  const shapes: [string, CtrConfigInput][] = [
    ['2 cross layers, MLP 12-8', { model: 'dcn', mlp: [12, 8], crossLayers: 2 }],
    ['3 cross layers, MLP 16', { model: 'dcn', mlp: [16], crossLayers: 3 }],
    ['cross network only', { model: 'dcn', mlp: [], crossLayers: 2 }],
    ['MLP only', { model: 'dcn', mlp: [8, 8], crossLayers: 0 }],
    // Wider than the kernel's block of 16 outputs, and not a multiple of it.
    ['1 cross layer, MLP 40-24-3', { model: 'dcn', mlp: [40, 24, 3], crossLayers: 1 }],
  ];
  for (const [name, config] of shapes) {
    it(name, async () => {
      const m = randomModel(config, 5);
      const rows = synthetic(6, { rows: 100 });
      rows.sparse.a[3] = 999;
      rows.sparse.b[4] = -1;
      const reference = await m.predict(rows);
      const factored = FactoredDcn.of(m);
      assert.ok(factored);
      const encoded = m.encode(rows);
      const scores = sigmoid(factored.logits(encoded.rows, encoded.n));
      assert.equal(scores.length, reference.length);
      const worst = largestDifference(reference, scores);
      assert.ok(worst <= 1e-6, `largest difference ${worst}`);
      assert.ok(Math.max(...reference) - Math.min(...reference) > 0.1, 'scores barely differ');
    });
  }
});

it('scores requests larger than any before them (the kernel memory grows) as ORT does', async () => {
  const m = randomModel({ model: 'dcn', mlp: [12, 8], crossLayers: 2 }, 9);
  const factored = FactoredDcn.of(m)!;
  for (const rows of [synthetic(10, { rows: 20 }), synthetic(11, { rows: 3000 }), synthetic(12, { rows: 50 })]) {
    const reference = await m.predict(rows);
    const encoded = m.encode(rows);
    const scores = sigmoid(factored.logits(encoded.rows, encoded.n));
    const worst = largestDifference(reference, scores);
    assert.ok(worst <= 1e-6, `${reference.length} rows: largest difference ${worst}`);
  }
});

it('only a DCN (v1) on sparse fields is factored', () => {
  assert.equal(FactoredDcn.of(randomModel({ model: 'dcnv2', mlp: [8], crossLayers: 2 }, 1)), undefined);
  assert.equal(FactoredDcn.of(randomModel({ model: 'deepfm', mlp: [8] }, 1)), undefined);
  assert.equal(FactoredDcn.of(randomModel({ model: 'dcn', mlp: [8], crossLayers: 2 }, 1, true)), undefined);
});

it('refuses rows of another field count', () => {
  const factored = FactoredDcn.of(randomModel({ model: 'dcn', mlp: [8], crossLayers: 1 }, 2))!;
  assert.throws(() => factored.logits(new Int32Array(7), 2), /expected 2 rows of 3 fields/);
});
