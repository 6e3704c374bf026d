import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataError, readDataset } from '../../src/data/index.js';
import { jsonLines, tempDir, writeFixture } from './fixtures.js';

const MOVIES = 'movieId,title,genres\n1,Toy Story (1995),Animation\n';

async function movieLens(t: Parameters<typeof tempDir>[0], ratings: string, movies = MOVIES): Promise<string> {
  const dir = await tempDir(t);
  await writeFixture(dir, 'ratings.csv', ratings);
  await writeFixture(dir, 'movies.csv', movies);
  return dir;
}

test('a bad value names file:line:field and why', async (t) => {
  const dir = await movieLens(t, 'userId,movieId,rating,timestamp\n1,1,4,100\n1,2,abc,101\n');
  await assert.rejects(readDataset({ format: 'movielens', dir }), (error: unknown) => {
    assert.ok(error instanceof DataError);
    assert.equal(error.message, 'ratings.csv:3:rating: "abc" is not a number');
    assert.deepEqual([error.line, error.field], [3, 'rating']);
    return true;
  });
});

test('line numbers count the header, blank lines and multi-line quoted fields', async (t) => {
  const movies = 'movieId,title,genres\n\n1,"Two\nLines (1995)",Drama\n\n2,Bad (1996),Comedy\n,Nameless (1997),Drama\n';
  const dir = await movieLens(t, 'userId,movieId,rating,timestamp\n1,1,4,100\n', movies);
  await assert.rejects(readDataset({ format: 'movielens', dir }), { message: 'movies.csv:7:movieId: missing' });
});

test('short rows, bad timestamps, bad JSON and wrong JSON types are located too', async (t) => {
  const dir = await tempDir(t);
  await writeFixture(dir, 'u.data', '1\t2\t3\t4\n1\t2\t3\n');
  await assert.rejects(readDataset({ format: 'movielens-100k', dir }), { message: 'u.data:2:timestamp: missing' });

  const reviews = await writeFixture(dir, 'reviews.json', jsonLines([{ reviewerID: 'A', asin: 'B', overall: 5, unixReviewTime: 'yesterday' }]));
  await assert.rejects(readDataset({ format: 'amazon', reviews }), {
    message: 'reviews.json:1:unixReviewTime: "yesterday" is not a unix time or ISO date',
  });
  await writeFixture(dir, 'reviews.json', `${jsonLines([{ reviewerID: 'A', asin: 'B', overall: 5, unixReviewTime: 1 }])}{"reviewerID": "A",\n`);
  await assert.rejects(readDataset({ format: 'amazon', reviews }), /^DataError: reviews\.json:2:row: not JSON \(.*\) nor a Python literal$/);
  await writeFixture(dir, 'reviews.json', '[1, 2]\n');
  await assert.rejects(readDataset({ format: 'amazon', reviews }), { message: 'reviews.json:1:row: expected a JSON object, got [1,2]' });
  await writeFixture(dir, 'reviews.json', jsonLines([{ reviewerID: ['A'], asin: 'B', overall: 5, unixReviewTime: 1 }]));
  await assert.rejects(readDataset({ format: 'amazon', reviews }), { message: 'reviews.json:1:reviewerID: expected text, got ["A"]' });
});

test('a malformed CSV record is a bad row at its line', async (t) => {
  const dir = await movieLens(t, 'userId,movieId,rating,timestamp\n1,1,4,100\n1,1,"4"x,100\n');
  await assert.rejects(readDataset({ format: 'movielens', dir }), /^DataError: ratings\.csv:3:row: Invalid Closing Quote/);
});

test('skipBadRows counts bad rows, keeps the first 10 messages and the good rows', async (t) => {
  const rows = ['userId,movieId,rating,timestamp'];
  for (let i = 0; i < 30; i++) rows.push(i % 2 === 0 ? `u${i},1,4,${i}` : `u${i},1,bad${i},${i}`);
  rows.push('u99,1,4'); // short row
  const dir = await movieLens(t, rows.join('\n') + '\n');
  const { dataset, report } = await readDataset({ format: 'movielens', dir }, { skipBadRows: true });
  assert.equal(dataset.interactions.length, 15);
  assert.equal(report.badRows, 16);
  assert.equal(report.examples.length, 10);
  assert.equal(report.examples[0], 'ratings.csv:3:rating: "bad1" is not a number');
  assert.equal(report.examples[9], 'ratings.csv:21:rating: "bad19" is not a number');
});

test('a missing column fails the whole file even when skipping bad rows', async (t) => {
  const dir = await movieLens(t, 'userId,movieId,score,timestamp\n1,1,4,100\n');
  await assert.rejects(readDataset({ format: 'movielens', dir }, { skipBadRows: true }), {
    message: 'ratings.csv:1:rating: no such column (columns: userId, movieId, score, timestamp)',
  });
});
