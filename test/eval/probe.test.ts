import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Rng } from '../../src/engine/index.js';
import { DEFAULT_PROBE, probeAccuracy } from '../../src/eval/probe.js';

/** Three Gaussian blobs in 6 dimensions, 2 of them loud noise; classes unbalanced 60/30/30. */
function blobs(seed: number) {
  const rng = new Rng(seed);
  const centres = [[4, 0, 0, 0], [0, 4, 0, 0], [0, 0, 4, 0]];
  const labels: number[] = [];
  const x: number[] = [];
  for (const [c, n] of [[0, 60], [1, 30], [2, 30]]) {
    for (let i = 0; i < n; i++) {
      labels.push(c);
      x.push(...centres[c].map((v) => v + 0.5 * rng.normal()), 100 * rng.normal(), 100 * rng.normal());
    }
  }
  return { x: Float32Array.from(x), labels: Int32Array.from(labels) };
}

it('the linear probe learns a separable toy problem; majority class is chance', () => {
  const { x, labels } = blobs(1);
  const result = probeAccuracy(x, 6, labels, 3);
  assert.ok(result.accuracy > 0.97, `probe accuracy ${result.accuracy}`);
  assert.ok(Math.abs(result.majority - 0.5) < 1e-9, `majority ${result.majority}`);
  assert.equal(result.folds, 5);
  assert.equal(result.l2.length, 5);
});

it('on noise with as many dimensions as examples, the chosen penalty keeps the probe near chance', () => {
  const rng = new Rng(2);
  const [n, d] = [150, 100];
  const x = rng.fillNormal(new Float32Array(n * d));
  const labels = Int32Array.from({ length: n }, () => (rng.next() < 0.7 ? 0 : 1));
  const chosen = probeAccuracy(x, d, labels, 2, { ...DEFAULT_PROBE, iterations: 100 });
  assert.ok(Math.abs(chosen.accuracy - chosen.majority) < 0.08, `probe ${chosen.accuracy} vs majority ${chosen.majority}`);
  // What the penalty choice protects against: a weak fixed penalty fits the noise and falls below chance.
  const weak = probeAccuracy(x, d, labels, 2, { ...DEFAULT_PROBE, iterations: 100, l2Grid: [1e-3] });
  assert.ok(weak.accuracy < chosen.majority - 0.05, `weak-penalty probe ${weak.accuracy}`);
});
