import assert from 'node:assert/strict';
import { it } from 'node:test';
import { mutualInformation, nmi } from '../../src/eval/nmi.js';

it('NMI is 1 for the same partition under other names, 0 for independent ones', () => {
  assert.equal(nmi([0, 0, 1, 1, 2, 2], ['a', 'a', 'b', 'b', 'c', 'c']), 1);
  assert.equal(nmi([2, 2, 0, 0, 1, 1], [0, 0, 1, 1, 2, 2]), 1);
  assert.equal(nmi([0, 0, 1, 1], [0, 1, 0, 1]), 0);
});

it('NMI on a hand-computed case', () => {
  // a = [0,0,1,1], b = [0,0,0,1]: joint cells (0,0) x2, (1,0), (1,1).
  const ha = Math.log(2);
  const hb = -(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25));
  const mi = 0.5 * Math.log(4 / 3) + 0.25 * Math.log(2 / 3) + 0.25 * Math.log(2);
  assert.ok(Math.abs(mutualInformation([0, 0, 1, 1], [0, 0, 0, 1]) - mi) < 1e-12);
  assert.ok(Math.abs(nmi([0, 0, 1, 1], [0, 0, 0, 1]) - mi / ((ha + hb) / 2)) < 1e-12);
  assert.ok(Math.abs(nmi([0, 0, 1, 1], [0, 0, 0, 1]) - 0.343712) < 1e-6);
});

it('single-class labelings: both constant is 1, one constant is 0', () => {
  assert.equal(nmi([3, 3, 3], ['x', 'x', 'x']), 1);
  assert.equal(nmi([3, 3, 3], [0, 1, 2]), 0);
  assert.throws(() => nmi([0, 1], [0]), /2 vs 1/);
});
