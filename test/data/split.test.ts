import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { Rng } from '../../src/engine/random.js';
import { clickLabel, indexIds, sortByTime, splitByTime, writeSplitCsv, type Interaction } from '../../src/data/index.js';
import { tempDir } from './fixtures.js';

/** User `u<n>` with n interactions at times 1..n on items `<n>-<t>`, shuffled so that input order is not time order. */
function userWith(n: number, rng: Rng): Interaction[] {
  const list = Array.from({ length: n }, (_, k) => ({ user: `u${n}`, item: `${n}-${k + 1}`, rating: 1 + (k % 5), timestamp: k + 1 }));
  return rng.shuffle(list);
}

const times = (list: Interaction[], user: string) =>
  list.filter((i) => i.user === user).map((i) => i.timestamp).sort((a, b) => a - b);

test('the split rule: n_test = n_valid = max(1, floor(0.1 n)); short users all in train', () => {
  const rng = new Rng(7);
  const all = rng.shuffle([1, 2, 3, 10, 25].flatMap((n) => userWith(n, rng)));
  const { train, valid, test: held } = splitByTime(all);
  const expected: Record<number, [number[], number[]]> = {
    1: [[], []],
    2: [[], []],
    3: [[2], [3]],
    10: [[9], [10]],
    25: [[22, 23], [24, 25]],
  };
  for (const [n, [validTimes, testTimes]] of Object.entries(expected)) {
    const user = `u${n}`;
    assert.deepEqual(times(valid, user), validTimes, `valid of ${user}`);
    assert.deepEqual(times(held, user), testTimes, `test of ${user}`);
    assert.equal(times(train, user).length, Number(n) - validTimes.length - testTimes.length, `train of ${user}`);
  }
  // Each part keeps the input order.
  for (const part of [train, valid, held]) {
    const positions = part.map((interaction) => all.indexOf(interaction));
    assert.deepEqual(positions, [...positions].sort((a, b) => a - b));
  }
  assert.equal(train.length + valid.length + held.length, all.length);
});

test('timestamp ties are broken by item id: numerically when all ids are integers, else as strings', () => {
  const at = (item: string, timestamp = 5): Interaction => ({ user: 'u', item, rating: 4, timestamp });
  const numeric = [at('10'), at('9'), at('100', 1)];
  assert.deepEqual(sortByTime(numeric).map((i) => i.item), ['100', '9', '10']);
  const mixed = [at('10'), at('9'), at('B1')];
  assert.deepEqual(sortByTime(mixed).map((i) => i.item), ['10', '9', 'B1']);

  // Three interactions at one time: item '9' is first, so train; '10' valid; '11' test.
  const { train, valid, test: held } = splitByTime([at('11'), at('10'), at('9')]);
  assert.deepEqual([train, valid, held].map((part) => part.map((i) => i.item)), [['9'], ['10'], ['11']]);
  // Another user's non-integer item makes the whole dataset compare ids as strings: '10' < '11' < '9'.
  const withAsin = splitByTime([at('11'), at('10'), at('9'), { ...at('B1'), user: 'v' }]);
  assert.deepEqual([withAsin.train, withAsin.valid, withAsin.test].map((part) => part.map((i) => i.item)), [['10', 'B1'], ['11'], ['9']]);
});

test('writeSplitCsv writes every row with its label and part, atomically', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'split.csv');
  const interactions: Interaction[] = [
    { user: 'a,b', item: 'say "hi"', rating: 3, timestamp: 1 },
    { user: 'a,b', item: 'x', rating: 3.5, timestamp: 2 },
    { user: 'a,b', item: 'y', rating: 5, timestamp: 3 },
    { user: 'c', item: 'x', rating: 1, timestamp: 4 },
  ];
  await writeSplitCsv(path, splitByTime(interactions));
  const rows = parse(await readFile(path, 'utf8'), { columns: true }) as Record<string, string>[];
  assert.deepEqual(rows, [
    { user: 'a,b', item: 'say "hi"', rating: '3', timestamp: '1', label: '0', split: 'train' },
    { user: 'c', item: 'x', rating: '1', timestamp: '4', label: '0', split: 'train' },
    { user: 'a,b', item: 'x', rating: '3.5', timestamp: '2', label: '1', split: 'valid' },
    { user: 'a,b', item: 'y', rating: '5', timestamp: '3', label: '1', split: 'test' },
  ]);
  assert.deepEqual(await readdir(dir), ['split.csv'], 'no temporary file is left behind');

  // A failed write leaves no partial file and no temporary file.
  await assert.rejects(writeSplitCsv(join(dir, 'missing-folder', 'split.csv'), splitByTime(interactions)));
  assert.deepEqual(await readdir(dir), ['split.csv']);
});

test('labels and dense ids', () => {
  assert.deepEqual([1, 3, 3.5, 4, 5].map((r) => clickLabel(r)), [false, false, true, true, true]);
  assert.deepEqual([4, 4.5, 5].map((r) => clickLabel(r, 4)), [false, true, true]);
  assert.deepEqual([...indexIds(['b', 'a', 'b', 'c', 'a'])], [['b', 0], ['a', 1], ['c', 2]]);
});
