/** Whole-history windows and the diagnostics' statistics. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { adjustedRandIndex, etaSquared, packWindows } from '../../src/profile/index.js';

it('packs lines oldest first into windows within the budget, joined by the separator', () => {
  const lines = [[1, 2], [3, 4, 5], [6], [7, 8, 9, 10]];
  assert.deepEqual(packWindows(lines, [0], 6), [[1, 2, 0, 3, 4, 5], [6, 0, 7, 8, 9, 10]]);
  assert.deepEqual(packWindows(lines, [0], 100), [[1, 2, 0, 3, 4, 5, 0, 6, 0, 7, 8, 9, 10]]);
  // A line longer than the budget gets its own window, cut to the budget; nothing is dropped otherwise.
  assert.deepEqual(packWindows([[1], [2, 3, 4, 5, 6], [7]], [0], 3), [[1], [2, 3, 4], [7]]);
  assert.deepEqual(packWindows([], [0], 3), []);
});

it('adjusted Rand index: 1 for the same partition under any labels, about 0 for unrelated ones', () => {
  assert.equal(adjustedRandIndex([0, 0, 1, 1, 2, 2], [5, 5, 3, 3, 9, 9]), 1);
  assert.ok(adjustedRandIndex([0, 0, 0, 1, 1, 1], [0, 1, 0, 1, 0, 1]) < 0);
  // Contingency [[2,0],[1,2]]: index 2, row pairs 4, column pairs 4, expected 1.6, max 4 -> 0.4/2.4.
  assert.ok(Math.abs(adjustedRandIndex([0, 0, 1, 1, 1], [0, 0, 1, 1, 0]) - 0.1666666667) < 1e-6);
});

it('eta squared: the share of variance the groups explain', () => {
  assert.equal(etaSquared([1, 1, 5, 5], [0, 0, 1, 1]), 1);
  assert.equal(etaSquared([1, 5, 1, 5], [0, 0, 1, 1]), 0);
  assert.equal(etaSquared([1, 5, NaN], [0, 1, 1]), 1);
});
