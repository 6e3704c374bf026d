import assert from 'node:assert/strict';
import { it } from 'node:test';
import { assign, codebookFromObject, codebookHash, createVqState, usage, vqUpdate } from '../../src/quantize/index.js';
import { gaussianClusters } from './clusters.js';

/** Two codes at (0,0) and (10,10); batch points near (1,1) and (9,8). */
function twoCodes() {
  const codebook = codebookFromObject({ k: 2, d: 2, centroids: [0, 0, 10, 10] });
  const batch = Float32Array.from([1, 1, 1.5, 0.5, 0.5, 1.5, 9, 8, 9.5, 8, 8.5, 8]);
  return { codebook, batch, means: [1, 1, 9, 8] };
}

it('vqUpdate moves each code towards its members’ batch mean by the EMA rule', () => {
  const { codebook, batch, means } = twoCodes();
  const state = createVqState(codebook, { seed: 0 });
  const result = vqUpdate(state, batch, { decay: 0.5 });
  assert.deepEqual([...result.ids], [0, 0, 0, 1, 1, 1], 'the IDs the batch was quantized to');
  assert.deepEqual(result.reseeded, []);
  // prior: each code served its fair share n/k = 3 at its old place; then 3 members each
  // c = (0.5·3·c_old + 0.5·3·mean) / (0.5·3 + 0.5·3) = midpoint
  const expected = [0.5, 0.5, 9.5, 9];
  codebook.centroids.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6));
  for (let step = 0; step < 40; step++) vqUpdate(state, batch, { decay: 0.5 });
  codebook.centroids.forEach((v, i) => assert.ok(Math.abs(v - means[i]) < 1e-5));
});

it('decay 0 puts each used code on its batch mean at once', () => {
  const { codebook, batch, means } = twoCodes();
  vqUpdate(createVqState(codebook, { seed: 0 }), batch, { decay: 0 });
  codebook.centroids.forEach((v, i) => assert.ok(Math.abs(v - means[i]) < 1e-6));
});

it('a code that wins no points is re-seeded from the batch and then serves a cluster', () => {
  const d = 6;
  const data = gaussianClusters(1, 3, 20, d);
  const centroids = new Float32Array(3 * d);
  centroids.set(data.centres.subarray(0, 2 * d));
  centroids.fill(1e4, 2 * d); // code 2 planted far from everything
  const codebook = codebookFromObject({ k: 3, d, centroids });
  const state = createVqState(codebook, { seed: 4 });
  const reseeded: number[] = [];
  for (let step = 0; step < 50 && !reseeded.length; step++) reseeded.push(...vqUpdate(state, data.vectors, { decay: 0.9 }).reseeded);
  assert.deepEqual(reseeded, [2]);
  for (let step = 0; step < 10; step++) vqUpdate(state, data.vectors, { decay: 0.9 });
  const after = usage(assign(codebook, data.vectors).ids, 3);
  assert.deepEqual(after.counts, [20, 20, 20]);
});

it('online updates are deterministic under the seed', () => {
  const data = gaussianClusters(2, 4, 25, 5, 1, 1);
  const run = () => {
    const state = createVqState(codebookFromObject({ k: 6, d: 5, centroids: data.vectors.slice(0, 30) }), { seed: 9 });
    for (let b = 0; b < 10; b++) vqUpdate(state, data.vectors.subarray(b * 10 * 5, (b + 1) * 10 * 5), { decay: 0.8, minUsage: 0.15 });
    return codebookHash(state.codebook);
  };
  assert.equal(run(), run());
});

it('rejects a decay outside [0, 1) and an empty batch', () => {
  const { codebook, batch } = twoCodes();
  assert.throws(() => vqUpdate(createVqState(codebook, { seed: 0 }), batch, { decay: 1 }), /decay/);
  assert.throws(() => vqUpdate(createVqState(codebook, { seed: 0 }), new Float32Array(0)), /empty/);
});
