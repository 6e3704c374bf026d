import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import { assign, codebookFromObject, codebookHash, codebookToObject, usage } from '../../src/quantize/index.js';
import { rowDistance } from './clusters.js';

it('assign matches a brute-force nearest centroid on random data', () => {
  const rng = new Rng(1);
  const [k, d, n] = [7, 33, 200];
  const codebook = codebookFromObject({ k, d, centroids: rng.fillNormal(new Float32Array(k * d)) });
  const vectors = rng.fillNormal(new Float32Array(n * d), 1.5);
  const { ids, sqDistances } = assign(codebook, vectors);
  for (let i = 0; i < n; i++) {
    const dist = Array.from({ length: k }, (_, j) => rowDistance(vectors, i, codebook.centroids, j, d));
    assert.equal(ids[i], dist.indexOf(Math.min(...dist)));
    assert.ok(Math.abs(sqDistances[i] - Math.min(...dist)) <= 1e-5 * Math.min(...dist));
  }
});

it('assign breaks ties towards the lowest id and gives exactly 0 on a centroid', () => {
  const codebook = codebookFromObject({ k: 4, d: 2, centroids: [9, 9, 1, 0, -1, 0, 1, 0] });
  const { ids, sqDistances } = assign(codebook, Float32Array.from([0, 5, 1, 0, 9, 9, 0.1, 0.2]));
  assert.deepEqual([...ids], [1, 1, 0, 1]); // (0,5) is equidistant from codes 1 and 2; code 3 duplicates code 1
  assert.equal(sqDistances[0], 26);
  assert.equal(sqDistances[1], 0);
  assert.equal(sqDistances[2], 0);
  assert.throws(() => assign(codebook, new Float32Array(3)), /multiple of d/);
});

it('usage: perplexity is k for uniform use, 1 for a single code, and counts dead codes', () => {
  const uniform = usage(Int32Array.from({ length: 40 }, (_, i) => i % 4), 4);
  assert.deepEqual(uniform.counts, [10, 10, 10, 10]);
  assert.ok(Math.abs(uniform.perplexity - 4) < 1e-12);
  assert.equal(uniform.deadCodes, 0);

  const single = usage([2, 2, 2], 5);
  assert.equal(single.perplexity, 1);
  assert.equal(single.deadCodes, 4);

  const skewed = usage([0, 0, 0, 1], 2);
  const entropy = -(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25));
  assert.ok(Math.abs(skewed.perplexity - Math.exp(entropy)) < 1e-12);
  assert.throws(() => usage([0, 3], 3), /outside/);
});

it('codebookHash is stable for equal codebooks and changes with any centroid value or the shape', () => {
  const base = { k: 2, d: 3, centroids: Float32Array.from([1, 2, 3, 4, 5, 6]) };
  const hash = codebookHash(codebookFromObject(base));
  assert.match(hash, /^[0-9a-f]{64}$/);
  assert.equal(codebookHash(codebookFromObject({ ...base, centroids: [1, 2, 3, 4, 5, 6] })), hash);
  const nudged = base.centroids.slice();
  nudged[4] = Math.fround(5 + 1e-6);
  assert.notEqual(codebookHash(codebookFromObject({ ...base, centroids: nudged })), hash);
  assert.notEqual(codebookHash(codebookFromObject({ k: 3, d: 2, centroids: base.centroids })), hash, 'same bytes, other shape');
});

it('(de)serialization round-trips through a plain object, copies, and validates', () => {
  const codebook = codebookFromObject({ k: 2, d: 2, centroids: [0.5, -1, 2, 3] });
  const saved = codebookToObject(codebook);
  assert.deepEqual(saved, { k: 2, d: 2, centroids: Float32Array.from([0.5, -1, 2, 3]) });
  saved.centroids[0] = 9;
  assert.equal(codebook.centroids[0], 0.5, 'the saved object does not alias the codebook');
  assert.equal(codebookHash(codebookFromObject(codebookToObject(codebook))), codebookHash(codebook));
  assert.throws(() => codebookFromObject({ k: 2, d: 2, centroids: [1, 2, 3] }), /expected k×d = 4/);
  assert.throws(() => codebookFromObject({ k: 0, d: 2, centroids: [] }), /positive integer/);
  assert.throws(() => codebookFromObject({ k: 1, d: 2, centroids: [1, Infinity] }), /non-finite/);
});
