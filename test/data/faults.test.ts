/**
 * Bad input that used to pass silently: ratings off the dataset's scale, extra columns, an unterminated
 * quote (which swallowed every later row when skipping bad rows), invalid UTF-8, and unknown settings.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readDataset } from '../../src/data/index.js';
import { jsonLines, tempDir, writeFixture } from './fixtures.js';

const MOVIES = 'movieId,title,genres\n1,Toy Story (1995),Animation\n2,Heat (1995),Action\n';
const HEADER = 'userId,movieId,rating,timestamp\n';

async function movieLens(t: Parameters<typeof tempDir>[0], ratings: string): Promise<string> {
  const dir = await tempDir(t);
  await writeFixture(dir, 'ratings.csv', HEADER + ratings);
  await writeFixture(dir, 'movies.csv', MOVIES);
  return dir;
}

test('ratings off the dataset\'s scale are bad rows: MovieLens 0.5 to 5, Amazon 1 to 5, a CSV\'s declared range', async (t) => {
  for (const [value, line] of [['99', 3], ['-4', 3], ['0', 3]] as const) {
    const dir = await movieLens(t, `1,1,4.5,100\n1,2,${value},101\n`);
    await assert.rejects(readDataset({ format: 'movielens', dir }), { message: `ratings.csv:${line}:rating: ${Number(value)} is outside the rating scale 0.5 to 5` });
  }
  const dir = await tempDir(t);
  const reviews = await writeFixture(dir, 'reviews.json', jsonLines([{ reviewerID: 'A', asin: 'B', overall: 0.5, unixReviewTime: 1 }]));
  await assert.rejects(readDataset({ format: 'amazon', reviews }), { message: 'reviews.json:1:overall: 0.5 is outside the rating scale 1 to 5' });

  const file = await writeFixture(dir, 'events.csv', 'u,i,r,t\na,x,7,1\n');
  const spec = { format: 'csv' as const, file, columns: { user: 'u', item: 'i', rating: 'r', timestamp: 't' } };
  assert.equal((await readDataset(spec)).dataset.interactions[0].rating, 7, 'no range declared: any number');
  await assert.rejects(readDataset({ ...spec, ratingRange: [1, 5] }), { message: 'events.csv:2:r: 7 is outside the rating scale 1 to 5' });
});

test('a row with more fields than the file has columns is a bad row', async (t) => {
  const dir = await movieLens(t, '1,1,4,100\n1,2,3,101,surprise\n');
  await assert.rejects(readDataset({ format: 'movielens', dir }), { message: 'ratings.csv:3:row: 5 fields, but the file has 4 columns' });
  const headerless = await tempDir(t);
  await writeFixture(headerless, 'u.data', '1\t2\t3\t4\n1\t2\t3\t4\t5\n');
  await assert.rejects(readDataset({ format: 'movielens-100k', dir: headerless }), { message: 'u.data:2:row: 5 fields, but the file has 4 columns' });
});

test('an unterminated quote costs only its own row when skipping bad rows', async (t) => {
  const dir = await movieLens(t, '1,1,4,100\n1,2,"3,101\n2,1,5,102\n2,2,2,103\n');
  await assert.rejects(readDataset({ format: 'movielens', dir }), { message: /^ratings\.csv:3:row: a quoted field opens here and is never closed/ });
  const { dataset, report } = await readDataset({ format: 'movielens', dir }, { skipBadRows: true });
  assert.deepEqual(dataset.interactions.map((i) => [i.user, i.item, i.rating]), [['1', '1', 4], ['2', '1', 5], ['2', '2', 2]]);
  assert.equal(report.badRows, 1);
  assert.match(report.examples[0], /^ratings\.csv:3:row: a quoted field opens here/);
});

test('invalid UTF-8 is an error naming the file and line, even when skipping bad rows', async (t) => {
  const dir = await tempDir(t);
  await writeFixture(dir, 'ratings.csv', Buffer.concat([Buffer.from(`${HEADER}1,1,4,100\n1,2,3,101\n`), Buffer.from([0x32, 0x2c, 0x31, 0x2c, 0x35, 0x2c, 0xff, 0xfe, 0x0a])]));
  await writeFixture(dir, 'movies.csv', MOVIES);
  await assert.rejects(readDataset({ format: 'movielens', dir }, { skipBadRows: true }), { message: /^ratings\.csv:4:row: not valid UTF-8/ });
  const reviews = await writeFixture(dir, 'reviews.json', Buffer.concat([Buffer.from(jsonLines([{ reviewerID: 'A', asin: 'B', overall: 5, unixReviewTime: 1 }])), Buffer.from('{"reviewerID": "\xe9"}\n', 'latin1')]));
  await assert.rejects(readDataset({ format: 'amazon', reviews }), { message: /^reviews\.json:2:row: not valid UTF-8/ });
});

test('a flag value of the wrong type is refused naming the flag', () => {
  const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  for (const [args, flag] of [
    [['profile', 'tune', '--data', 'd', '--out', 'o', '--lr', 'abc'], "option '--lr <x>' argument 'abc' is invalid"],
    [['data', 'prepare', '--out', 'o', '--threshold', 'three'], "option '--threshold <n>' argument 'three' is invalid"],
  ] as const) {
    const run = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
    assert.notEqual(run.status, 0);
    assert.ok(run.stderr.includes(flag), run.stderr);
  }
});
