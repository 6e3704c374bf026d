import assert from 'node:assert/strict';
import { it } from 'node:test';
import { assign, codebookFromObject, codebookHash, fitCodebook, usage } from '../../src/quantize/index.js';
import { gaussianClusters, matchUpToPermutation, rowDistance } from './clusters.js';

it('recovers well-separated Gaussian clusters exactly (up to relabelling), centroids at the cluster means', () => {
  const d = 64;
  const data = gaussianClusters(1, 5, 60, d);
  const fit = fitCodebook(data.vectors, data.n, d, 5, { seed: 7 });
  const codeOf = matchUpToPermutation(fit.assignment.ids, data.labels);
  assert.ok(codeOf, 'every cluster maps to its own code');
  for (const [cluster, code] of codeOf) {
    // the mean of 60 points with std 0.1 per axis lies ~0.1·sqrt(64/60) from the centre
    assert.ok(Math.sqrt(rowDistance(data.centres, cluster, fit.codebook.centroids, code, d)) < 0.3);
  }
  assert.deepEqual(usage(fit.assignment.ids, 5).counts, [60, 60, 60, 60, 60]);
  assert.ok(fit.iterations < 25, 'Lloyd stops once the assignment is stable');
});

it('is deterministic under the seed', () => {
  const data = gaussianClusters(2, 4, 50, 16, 1, 1); // overlapping, so the seed matters
  const a = fitCodebook(data.vectors, data.n, 16, 6, { seed: 3 });
  const b = fitCodebook(data.vectors, data.n, 16, 6, { seed: 3 });
  assert.equal(codebookHash(a.codebook), codebookHash(b.codebook));
  assert.deepEqual(a.assignment.ids, b.assignment.ids);
  assert.equal(a.inertia, b.inertia);
});

it('k-means++ seeding alone (no Lloyd step, no re-seeding) leaves no code empty and hits every cluster', () => {
  for (let seed = 0; seed < 10; seed++) {
    const data = gaussianClusters(100 + seed, 6, 30, 8);
    const fit = fitCodebook(data.vectors, data.n, 8, 6, { seed, iterations: 0, minUsage: 0 });
    assert.equal(fit.reseeded, 0);
    assert.equal(usage(fit.assignment.ids, 6).deadCodes, 0, `seed ${seed}`);
    assert.ok(matchUpToPermutation(fit.assignment.ids, data.labels), `seed ${seed}`);
  }
});

it('re-seeds a code planted far from every point, so all clusters are found', () => {
  const d = 8;
  const data = gaussianClusters(3, 4, 40, d);
  // codes 0-2 on three cluster centres, code 3 far away: cluster 3 is served by a wrong code
  const centroids = new Float32Array(4 * d);
  centroids.set(data.centres.subarray(0, 3 * d));
  centroids.fill(1e4, 3 * d);
  const init = codebookFromObject({ k: 4, d, centroids });

  const stuck = fitCodebook(data.vectors, data.n, d, 4, { seed: 0, init, minUsage: 0 });
  assert.equal(usage(stuck.assignment.ids, 4).counts[3], 0, 'without re-seeding the far code never wins a point');
  assert.equal(stuck.codebook.centroids[3 * d], 1e4);

  const revived = fitCodebook(data.vectors, data.n, d, 4, { seed: 0, init });
  assert.ok(revived.reseeded >= 1);
  assert.ok(matchUpToPermutation(revived.assignment.ids, data.labels));
  assert.ok(revived.inertia < stuck.inertia / 100);
  assert.equal(init.centroids[3 * d], 1e4, 'init is copied, not changed');
});

it('minUsage counts members, or a fraction of n when below 1', () => {
  const d = 4;
  // 100 points near 0 and 10 near (20,0,0,0): with k = 2 the small cluster's code has 10 members
  const a = gaussianClusters(4, 1, 100, d, 0, 0.5);
  const b = gaussianClusters(5, 1, 10, d, 0, 0.5);
  const vectors = new Float32Array(110 * d);
  vectors.set(a.vectors);
  vectors.set(b.vectors, 100 * d);
  for (let i = 100; i < 110; i++) vectors[i * d] += 20;
  const reseeded = (minUsage: number) => fitCodebook(vectors, 110, d, 2, { seed: 1, minUsage }).reseeded;
  assert.equal(reseeded(10), 0);
  assert.ok(reseeded(11) > 0);
  assert.equal(reseeded(0.09), 0); // 9.9 members
  assert.ok(reseeded(0.1) > 0); // 11 members
});

it('warm-starting from the previous codebook keeps the IDs when the data moves a little', () => {
  const d = 16;
  const data = gaussianClusters(5, 4, 30, d);
  const first = fitCodebook(data.vectors, data.n, d, 4, { seed: 11 });
  const moved = data.vectors.map((v, i) => v + 0.05 * Math.sin(i));
  const again = fitCodebook(moved, data.n, d, 4, { seed: 99, init: first.codebook });
  assert.deepEqual(again.assignment.ids, first.assignment.ids);
});

it('more restarts never give a worse inertia (the first restart is the single run)', () => {
  const data = gaussianClusters(6, 8, 20, 4, 2, 1);
  const one = fitCodebook(data.vectors, data.n, 4, 8, { seed: 5 });
  const five = fitCodebook(data.vectors, data.n, 4, 8, { seed: 5, restarts: 5 });
  assert.ok(five.inertia <= one.inertia);
});

it('duplicate points: one code per distinct point, and no code is wasted on a copy', () => {
  const d = 3;
  const distinct = [
    [0, 0, 0],
    [1, 2, 3],
    [-4, 0, 4],
  ];
  const rows = Array.from({ length: 60 }, (_, i) => distinct[i % 3]);
  const vectors = Float32Array.from(rows.flat());
  const fit = fitCodebook(vectors, 60, d, 3, { seed: 0 });
  assert.equal(fit.inertia, 0);
  assert.deepEqual(usage(fit.assignment.ids, 3).counts, [20, 20, 20]);

  const more = fitCodebook(vectors, 60, d, 5, { seed: 0 });
  assert.equal(more.inertia, 0);
  assert.equal(usage(more.assignment.ids, 5).deadCodes, 2, 'only 3 distinct points: 2 codes must stay empty');
});

it('n < k: each point gets its own code; the spare codes copy placed ones and stay empty', () => {
  const d = 2;
  const vectors = Float32Array.from([0, 0, 5, 5, -5, 5]);
  const fit = fitCodebook(vectors, 3, d, 5, { seed: 2 });
  assert.equal(fit.codebook.k, 5);
  assert.deepEqual([...fit.assignment.ids].sort(), [0, 1, 2]);
  assert.deepEqual(usage(fit.assignment.ids, 5).counts, [1, 1, 1, 0, 0]);
  const c = fit.codebook.centroids;
  assert.deepEqual([...c.subarray(6, 10)], [...c.subarray(0, 4)], 'code 3 copies code 0, code 4 copies code 1');
  assert.deepEqual(assign(fit.codebook, vectors).ids, fit.assignment.ids);
});

it('handles a large d without trouble', () => {
  const d = 768;
  const data = gaussianClusters(7, 4, 250, d, 10, 1);
  const fit = fitCodebook(data.vectors, data.n, d, 4, { seed: 0 });
  assert.ok(matchUpToPermutation(fit.assignment.ids, data.labels));
});

it('rejects inconsistent arguments', () => {
  const vectors = new Float32Array(12);
  assert.throws(() => fitCodebook(vectors, 5, 3, 2, { seed: 0 }), /rows/);
  assert.throws(() => fitCodebook(vectors, 0, 3, 2, { seed: 0 }), /at least one/);
  assert.throws(() => fitCodebook(Float32Array.from([0, NaN, 0]), 1, 3, 1, { seed: 0 }), /non-finite/);
  const init = codebookFromObject({ k: 2, d: 2, centroids: [0, 0, 1, 1] });
  assert.throws(() => fitCodebook(vectors, 4, 3, 2, { seed: 0, init }), /init codebook/);
  assert.throws(() => fitCodebook(vectors, 4, 3, 2, { seed: 0, minUsage: -1 }), /minUsage/);
});
