import assert from 'node:assert/strict';
import { it } from 'node:test';
import { explainCodes } from '../../src/profile/explain.js';

it('ranks attributes by lift against the whole population, with counts by hand', () => {
  // code 0: users 0,1 watch Comedy; code 1: user 2 watches Horror x3 and Comedy x1.
  const attributes = [['Comedy', 'Comedy'], ['Comedy', 'Drama'], ['Horror', 'Horror', 'Horror', 'Comedy']];
  const [c0, c1] = explainCodes([0, 0, 1], 2, attributes, { top: 3, minCount: 1 });
  assert.equal(c0.users, 2);
  assert.equal(c1.users, 1);
  // Population: 8 interactions; Comedy 4, Drama 1, Horror 3.
  // Code 0: 4 interactions; Drama share 1/4, lift (1/4)/(1/8) = 2; Comedy share 3/4, lift (3/4)/(4/8) = 1.5.
  assert.deepEqual(c0.top.map((t) => [t.attribute, t.share, t.lift]), [['Drama', 0.25, 2], ['Comedy', 0.75, 1.5]]);
  // Code 1: Horror share 3/4, lift (3/4)/(3/8) = 2; Comedy share 1/4, lift 0.5.
  assert.deepEqual(c1.top.map((t) => [t.attribute, t.lift]), [['Horror', 2], ['Comedy', 0.5]]);
});

it('drops attributes below the minimum count and handles an empty code', () => {
  const [c0, c1] = explainCodes([0, 0], 2, [['A', 'B'], ['A']], { top: 5, minCount: 2 });
  assert.deepEqual(c0.top.map((t) => t.attribute), ['A']);
  assert.deepEqual(c1, { code: 1, users: 0, top: [] });
});
