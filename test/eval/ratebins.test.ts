/** The generosity baseline: quantile bins of each user's share of positive train labels. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { rateBins, type LabelRows } from '../../src/eval/baselines.js';

/** Rows from per-user label lists. */
const rows = (byUser: Record<number, number[]>): LabelRows => {
  const user: number[] = [];
  const labels: number[] = [];
  for (const [u, ls] of Object.entries(byUser)) for (const y of ls) (user.push(Number(u)), labels.push(y));
  return { user, labels };
};

it('bins fitted users by the quantiles of their rates, folds new users into those bins, -1 without rows', () => {
  // Rates 0, 0.25, 0.5, 1 for users 0..3; user 4 is new with rate 0.4; user 5 has no rows.
  const fit = rows({ 0: [0, 0], 1: [1, 0, 0, 0], 2: [1, 0], 3: [1] });
  const foldIn = rows({ 4: [1, 1, 0, 0, 0], 2: [1, 1, 1] });
  const [two, four] = rateBins(fit, foldIn, 6, [2, 4]);
  assert.deepEqual([...four], [0, 1, 2, 3, 2, -1]);
  assert.deepEqual([...two], [0, 0, 1, 1, 1, -1]);
});

it('tied rates share a bin', () => {
  const [bins] = rateBins(rows({ 0: [1, 0], 1: [0, 1], 2: [1, 1, 0, 0] }), rows({}), 3, [4]);
  assert.deepEqual([...bins], [2, 2, 2]);
});
