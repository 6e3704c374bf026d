/** Whole-history windows and the diagnostics' statistics. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Interaction, ItemInfo } from '../../src/data/index.js';
import { loadTokenizer } from '../../src/lm/index.js';
import { adjustedRandIndex, etaSquared, packWindows, userWindows } from '../../src/profile/index.js';

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

it('weighs exactly the rating tokens of each line, across windows, when a rating weight is given', async () => {
  const tokenizer = await loadTokenizer('models/house-lm');
  const items = new Map<string, ItemInfo>([
    ['1', { item: '1', title: 'Heat', year: 1995, genres: ['Crime', 'Action'] }],
    ['2', { item: '2', title: 'Up', year: 2009, genres: ['Animation'] }],
  ]);
  const rows: Interaction[] = [
    { user: 'a', item: '1', rating: 4.5, timestamp: 1 },
    { user: 'a', item: '2', rating: 2, timestamp: 2 },
    { user: 'a', item: '1', rating: 5, timestamp: 3 },
  ];
  const options = { countTokens: (s: string) => tokenizer.encode(s).length, maxTokens: 20, ratings: true, itemFields: ['title', 'genres'] as const };
  const plain = userWindows(rows, items, tokenizer, options).get('a')!;
  assert.equal(plain.weights, undefined);
  const weighted = userWindows(rows, items, tokenizer, options, 8).get('a')!;
  assert.deepEqual(weighted.tokens, plain.tokens, 'weights do not change the tokens');
  assert.ok(weighted.tokens.length >= 2, 'the budget splits the history into several windows');
  const heavy = weighted.tokens.map((w, i) => tokenizer.decode(w.filter((_, t) => weighted.weights![i][t] === 8)));
  const light = weighted.tokens.map((w, i) => tokenizer.decode(w.filter((_, t) => weighted.weights![i][t] === 1)));
  assert.deepEqual(heavy.join('|').replace(/\s+/g, ' ').match(/[\d.]+/g), ['4.5', '2', '5']);
  assert.ok(heavy.every((text) => /^\s*rated [\d.]+(\s*rated [\d.]+)*\s*$/.test(text.replace(/\n/g, ' '))), heavy.join(' | '));
  assert.ok(light.join(' ').includes('Heat') && !light.join(' ').includes('rated'));
});
