import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Rng } from '../../src/engine/index.js';
import { foldInUsers, predictMf, trainMf, type Rating } from '../../src/eval/mf.js';

/** Ratings from a planted rank-2 model plus noise; some cells held out. */
function planted(users: number, items: number, seed: number) {
  const rng = new Rng(seed);
  const u = Array.from({ length: users }, () => [rng.normal(), rng.normal()]);
  const v = Array.from({ length: items }, () => [rng.normal(), rng.normal()]);
  const truth = (a: number, b: number) => 3 + u[a][0] * v[b][0] + u[a][1] * v[b][1];
  const train: Rating[] = [];
  const test: Rating[] = [];
  for (let a = 0; a < users; a++) {
    for (let b = 0; b < items; b++) {
      const r = { user: a, item: b, value: truth(a, b) + 0.05 * rng.normal() };
      (rng.next() < 0.6 ? train : test).push(r);
    }
  }
  return { train, test, truth };
}

const rmse = (pred: (r: Rating) => number, rows: Rating[]) => Math.sqrt(rows.reduce((s, r) => s + (pred(r) - r.value) ** 2, 0) / rows.length);

it('ALS recovers a planted low-rank rating matrix on held-out cells', () => {
  const { train, test } = planted(40, 30, 1);
  const model = trainMf(train, 40, 30, { factors: 4, iterations: 15, lambda: 0.1, seed: 0 });
  const mean = train.reduce((s, r) => s + r.value, 0) / train.length;
  const baseline = rmse(() => mean, test);
  const fitted = rmse((r) => predictMf(model, r.user, r.item), test);
  assert.ok(fitted < 0.25 * baseline, `MF rmse ${fitted} vs global-mean rmse ${baseline}`);
});

it('folding in a new user with fixed item factors predicts that user as well as training on it', () => {
  const { train, test } = planted(41, 30, 2);
  const known = train.filter((r) => r.user < 40);
  const model = trainMf(known, 40, 30, { factors: 4, iterations: 15, lambda: 0.1, seed: 0 });
  const newUser = train.filter((r) => r.user === 40).map((r) => ({ ...r, user: 0 }));
  const vectors = foldInUsers(model, newUser, 1);
  const folded = { ...model, userVectors: vectors };
  const heldOut = test.filter((r) => r.user === 40);
  const err = rmse((r) => predictMf(folded, 0, r.item), heldOut);
  const mean = known.reduce((s, r) => s + r.value, 0) / known.length;
  assert.ok(err < 0.5 * rmse(() => mean, heldOut), `fold-in rmse ${err}`);
});

it('is deterministic under the seed', () => {
  const { train } = planted(10, 8, 3);
  const a = trainMf(train, 10, 8, { factors: 3, iterations: 3, lambda: 1, seed: 7 });
  const b = trainMf(train, 10, 8, { factors: 3, iterations: 3, lambda: 1, seed: 7 });
  assert.deepEqual(a.userVectors, b.userVectors);
});
