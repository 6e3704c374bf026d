import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { detectFormat, embeddedDatasetSpec, readDataset, splitByTime } from '../../src/data/index.js';
import { REPO_ROOT } from './fixtures.js';

test('the embedded MovieLens latest-small reads with its published counts', async (t) => {
  const start = performance.now();
  const { dataset, report } = await readDataset(embeddedDatasetSpec());
  t.diagnostic(`read in ${(performance.now() - start).toFixed(0)} ms`);
  assert.deepEqual(report, { badRows: 0, examples: [] });
  assert.equal(dataset.interactions.length, 100836);
  assert.equal(new Set(dataset.interactions.map((i) => i.user)).size, 610);
  assert.equal(dataset.items.size, 9742);
  assert.deepEqual(dataset.interactions[0], { user: '1', item: '1', rating: 4, timestamp: 964982703 });
  assert.deepEqual(dataset.items.get('1'), {
    item: '1',
    title: 'Toy Story',
    year: 1995,
    genres: ['Adventure', 'Animation', 'Children', 'Comedy', 'Fantasy'],
  });
  // README: click label rating > 3 gives 61,716 positives.
  assert.equal(dataset.interactions.filter((i) => i.rating > 3).length, 61716);
  // Every user has at least 20 ratings, so everyone has validation and test rows.
  const split = splitByTime(dataset.interactions);
  assert.equal(new Set(split.valid.map((i) => i.user)).size, 610);
  assert.equal(split.train.length + split.valid.length + split.test.length, 100836);
  assert.ok(existsSync(join(REPO_ROOT, 'data/movielens-latest-small/README.txt')), 'the GroupLens licence ships with the data');
});

const AMAZON = join(REPO_ROOT, '../shared/data/amazon-musical-instruments-5core-2014');

test('Amazon Musical Instruments 2014 5-core from shared data', { skip: !existsSync(AMAZON) && `${AMAZON} is absent` }, async (t) => {
  const start = performance.now();
  const { dataset, report } = await readDataset(await detectFormat(AMAZON));
  t.diagnostic(`read in ${(performance.now() - start).toFixed(0)} ms`);
  assert.equal(report.badRows, 0);
  assert.equal(dataset.interactions.length, 10261);
  assert.equal(new Set(dataset.interactions.map((i) => i.user)).size, 1429);
  assert.equal(new Set(dataset.interactions.map((i) => i.item)).size, 900);
  assert.deepEqual(dataset.interactions[0], {
    user: 'A2IBPI20UZIR0U',
    item: '1384719342',
    rating: 5,
    timestamp: 1393545600,
    review: dataset.interactions[0].review,
    summary: 'good',
  });
  assert.match(dataset.interactions[0].review!, /^Not much to write about here/);
  // README: 9,022 reviews with overall > 3; 7 with empty text.
  assert.equal(dataset.interactions.filter((i) => i.rating > 3).length, 9022);
  assert.equal(dataset.interactions.filter((i) => i.review === undefined).length, 7);
});
