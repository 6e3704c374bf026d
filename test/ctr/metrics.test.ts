/** AUC, Logloss and gAUC against cases computed by hand, and AUC against a brute-force pair count. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auc, gauc, logloss } from '../../src/ctr/index.js';
import { Rng } from '../../src/engine/index.js';

/** The definition itself: the share of (positive, negative) pairs ordered right, ties counting ½. */
function pairwiseAuc(labels: number[], scores: number[]): number {
  let wins = 0;
  let pairs = 0;
  labels.forEach((yi, i) => {
    if (yi !== 1) return;
    labels.forEach((yj, j) => {
      if (yj !== 0) return;
      pairs++;
      wins += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    });
  });
  return wins / pairs;
}

describe('auc', () => {
  it('matches a hand count without ties', () => {
    // Pairs (pos, neg): (0.35, 0.1) right, (0.35, 0.4) wrong, (0.8, 0.1) right, (0.8, 0.4) right: 3/4.
    assert.equal(auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 0.75);
  });

  it('counts a tied positive-negative pair as one half', () => {
    // Pairs: (0.5, 0.5) tie ½, (0.5, 0.2) 1, (0.9, 0.5) 1, (0.9, 0.2) 1: 3.5/4.
    assert.equal(auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]), 0.875);
    assert.equal(auc([1, 0, 1, 0, 0], [3, 3, 3, 3, 3]), 0.5);
  });

  it('is 1 for a perfect ranking and 0 for a reversed one', () => {
    assert.equal(auc([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8]), 1);
    assert.equal(auc([0, 1, 0, 1], [0.9, 0.1, 0.8, 0.2]), 0);
  });

  it('is NaN when one class is absent', () => {
    assert.ok(Number.isNaN(auc([1, 1, 1], [0.2, 0.5, 0.9])));
    assert.ok(Number.isNaN(auc([0, 0], [0.2, 0.5])));
    assert.ok(Number.isNaN(auc([], [])));
  });

  it('equals the pairwise definition on random scores with many ties', () => {
    const rng = new Rng(3);
    const labels = Array.from({ length: 300 }, () => (rng.next() < 0.3 ? 1 : 0));
    const scores = Array.from({ length: 300 }, () => rng.int(12) / 12);
    const expected = pairwiseAuc(labels, scores);
    assert.ok(Math.abs(auc(labels, Float32Array.from(scores)) - expected) < 1e-12);
  });

  it('rejects labels other than 0 and 1, NaN scores and length mismatches', () => {
    assert.throws(() => auc([0, 2], [0.1, 0.2]), /labels must be 0 or 1, found 2/);
    assert.throws(() => auc([0, 1], [0.1, NaN]), /NaN/);
    assert.throws(() => auc([0, 1], [0.1]), /2 labels but 1 values/);
  });
});

describe('logloss', () => {
  it('matches a hand computation', () => {
    // -(ln 0.8 + ln 0.6) / 2 = (0.2231435513 + 0.5108256238) / 2
    assert.ok(Math.abs(logloss([1, 0], [0.8, 0.4]) - 0.3669845875) < 1e-9);
  });

  it('clips probabilities so a confident miss stays finite', () => {
    assert.ok(Math.abs(logloss([1, 0], [0, 1]) - -Math.log(1e-7)) < 1e-6);
    assert.ok(Math.abs(logloss([1], [0], 1e-3) - -Math.log(1e-3)) < 1e-12);
  });
});

describe('gauc', () => {
  it('weights per-user AUC by impressions and skips one-class users', () => {
    const users = [1, 1, 1, 2, 2, 3, 3];
    const labels = [1, 0, 1, 0, 1, 1, 1];
    const scores = [0.9, 0.3, 0.2, 0.6, 0.7, 0.1, 0.5];
    // user 1: (0.9 > 0.3) right, (0.2 < 0.3) wrong -> 0.5 over 3 rows; user 2: 1 over 2 rows;
    // user 3 has positives only -> skipped. (0.5·3 + 1·2) / 5 = 0.7.
    assert.ok(Math.abs(gauc(labels, scores, users) - 0.7) < 1e-12);
  });

  it('is NaN when no user has both classes', () => {
    assert.ok(Number.isNaN(gauc([1, 0], [0.2, 0.4], [1, 2])));
  });
});
