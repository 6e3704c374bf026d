import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { detectFormat, readDataset } from '../../src/data/index.js';
import { jsonLines, tempDir, writeFixture } from './fixtures.js';

test('MovieLens latest: ratings, movies (quoted titles, years, genres) and tags as review text', async (t) => {
  const dir = await tempDir(t);
  await writeFixture(dir, 'ratings.csv', 'userId,movieId,rating,timestamp\r\n1,11,4.5,964982703\r\n1,2,3.0,964981247\r\n2,11,1,964982000\r\n');
  await writeFixture(
    dir,
    'movies.csv',
    'movieId,title,genres\n' +
      '11,"American President, The (1995)",Comedy|Drama|Romance\n' +
      '2,Death Note: Desu nôto (2006–2007),(no genres listed)\n' +
      '3,Black Mirror,Sci-Fi\n',
  );
  await writeFixture(dir, 'tags.csv', 'userId,movieId,tag,timestamp\n1,11,politics,1\n1,11,"funny, clever",2\n2,3,orphan tag,3\n');

  const { dataset, report } = await readDataset({ format: 'movielens', dir, tags: true });
  assert.deepEqual(report, { badRows: 0, examples: [] });
  assert.deepEqual(dataset.interactions, [
    { user: '1', item: '11', rating: 4.5, timestamp: 964982703, review: 'politics, funny, clever' },
    { user: '1', item: '2', rating: 3, timestamp: 964981247 },
    { user: '2', item: '11', rating: 1, timestamp: 964982000 },
  ]);
  assert.deepEqual(dataset.items.get('11'), {
    item: '11',
    title: 'The American President',
    year: 1995,
    genres: ['Comedy', 'Drama', 'Romance'],
  });
  assert.deepEqual(dataset.items.get('2'), { item: '2', title: 'Death Note: Desu nôto', year: 2006 });
  assert.deepEqual(dataset.items.get('3'), { item: '3', title: 'Black Mirror', genres: ['Sci-Fi'] });
  assert.equal(dataset.users, undefined);
  assert.equal(dataset.name, dir.split('/').pop());

  const untagged = await readDataset({ format: 'movielens', dir, name: 'ml' });
  assert.equal(untagged.dataset.name, 'ml');
  assert.equal(untagged.dataset.interactions[0].review, undefined);
});

test('MovieLens 100K: tab-separated u.data, Latin-1 u.item with 19 genre flags, u.user attributes', async (t) => {
  const dir = await tempDir(t);
  const flags = (on: number[]) => Array.from({ length: 19 }, (_, i) => (on.includes(i) ? 1 : 0)).join('|');
  await writeFixture(dir, 'u.data', '196\t242\t3\t881250949\n186\t302\t3\t891717742\n');
  await writeFixture(
    dir,
    'u.item',
    Buffer.from(
      `242|Kolya (1996)|24-Jan-1997||http://us.imdb.com/M/title-exact?Kolya%20(1996)|${flags([5])}\n` +
        `302|Misérables, Les|01-Jan-1995||http://x|${flags([8, 14])}\n`,
      'latin1',
    ),
  );
  await writeFixture(dir, 'u.user', '196|49|M|writer|55105\n186|39|F|executive|00000\n');

  const { dataset } = await readDataset({ format: 'movielens-100k', dir });
  assert.deepEqual(dataset.interactions[1], { user: '186', item: '302', rating: 3, timestamp: 891717742 });
  assert.deepEqual(dataset.items.get('242'), { item: '242', title: 'Kolya', year: 1996, genres: ['Comedy'] });
  // No "(year)" in the title: the year comes from the release date; Latin-1 é decoded.
  assert.deepEqual(dataset.items.get('302'), { item: '302', title: 'Les Misérables', genres: ['Drama', 'Romance'], year: 1995 });
  assert.deepEqual(dataset.users?.get('186'), { age: '39', gender: 'F', occupation: 'executive', zip: '00000' });
});

test('MovieLens 1M: "::"-separated Latin-1 .dat files, quotes kept as text', async (t) => {
  const dir = await tempDir(t);
  await writeFixture(dir, 'ratings.dat', '1::1193::5::978300760\n2::3::4::978300761\n');
  await writeFixture(
    dir,
    'movies.dat',
    Buffer.from('1193::One Flew Over the Cuckoo\'s Nest (1975)::Drama\n3::"Café" Society (1996)::Comedy|Romance\n', 'latin1'),
  );
  await writeFixture(dir, 'users.dat', '1::F::1::10::48067\n2::M::56::16::70072\n');

  const { dataset } = await readDataset({ format: 'movielens-1m', dir });
  assert.deepEqual(dataset.interactions, [
    { user: '1', item: '1193', rating: 5, timestamp: 978300760 },
    { user: '2', item: '3', rating: 4, timestamp: 978300761 },
  ]);
  assert.deepEqual(dataset.items.get('3'), { item: '3', title: '"Café" Society', year: 1996, genres: ['Comedy', 'Romance'] });
  assert.deepEqual(dataset.users?.get('2'), { gender: 'M', age: '56', occupation: '16', zip: '70072' });
});

test('Amazon 2014: gzipped JSON reviews, Python-literal metadata (reviewed products only)', async (t) => {
  const dir = await tempDir(t);
  const reviews = await writeFixture(
    dir,
    'reviews_Toys_5.json.gz',
    jsonLines([
      { reviewerID: 'A1', asin: '0000031852', reviewerName: 'x', helpful: [0, 0], reviewText: 'Cute.', overall: 5.0, summary: 'Nice', unixReviewTime: 1393545600, reviewTime: '02 28, 2014' },
      { reviewerID: 'A2', asin: 'B00004', reviewText: '', overall: 2.0, summary: 'Meh', unixReviewTime: 1363392000 },
    ]),
    true,
  );
  const meta = await writeFixture(
    dir,
    'meta_Toys.json',
    [
      `{'asin': '0000031852', 'title': "Girls' Ballet Tutu \\xe2\\x80\\x99Zebra\\xe2\\x80\\x99", 'price': 3.17, 'salesRank': {'Toys & Games': 211836}, 'brand': 'Coxlists', 'categories': [['Sports & Outdoors', 'Dance'], ['Toys', 'Dance']], 'related': {'also_bought': ('B1', 'B2',)}, 'description': 'A tutu.\\nPink.', 'gift': True, 'discontinued': None}`,
      `{'asin': 'UNREVIEWED', 'title': 'Not in any review'}`,
      `{'asin': 'B00004', 'categories': [['Toys']]}`,
    ].join('\n'),
  );

  const { dataset } = await readDataset({ format: 'amazon', reviews, meta });
  assert.equal(dataset.name, 'reviews_Toys_5');
  assert.deepEqual(dataset.interactions, [
    { user: 'A1', item: '0000031852', rating: 5, timestamp: 1393545600, review: 'Cute.', summary: 'Nice' },
    { user: 'A2', item: 'B00004', rating: 2, timestamp: 1363392000, summary: 'Meh' },
  ]);
  assert.deepEqual(dataset.items.get('0000031852'), {
    item: '0000031852',
    title: "Girls' Ballet Tutu \u2019Zebra\u2019",
    brand: 'Coxlists',
    categories: ['Sports & Outdoors', 'Dance', 'Toys'],
    price: 3.17,
    description: 'A tutu.\nPink.',
  });
  assert.deepEqual(dataset.items.get('B00004'), { item: 'B00004', categories: ['Toys'] });
  assert.equal(dataset.items.has('UNREVIEWED'), false);
});

test('Amazon 2018: style/vote/verified ignored, "$12.99" prices, description lists; gzip found by magic bytes', async (t) => {
  const dir = await tempDir(t);
  // Named .gz but plain, and named .json but gzipped: the bytes decide.
  const reviews = await writeFixture(
    dir,
    'Books_5.json.gz',
    jsonLines([
      { overall: 4.0, vote: '1,234', verified: true, reviewTime: '08 4, 2014', reviewerID: 'U1', asin: 'B1', style: { 'Format:': ' Paperback' }, reviewerName: 'n', reviewText: 'Good read', summary: 'Four Stars', unixReviewTime: 1407110400 },
    ]),
  );
  const meta = await writeFixture(
    dir,
    'meta_Books.json',
    jsonLines([
      { category: ['Books', 'Literature & Fiction'], description: ['First part.', 'Second part.'], title: 'A Book', brand: 'Visit Amazon', price: '$1,012.99', asin: 'B1', also_buy: [] },
    ]),
    true,
  );
  const { dataset } = await readDataset({ format: 'amazon', reviews, meta });
  assert.deepEqual(dataset.interactions, [
    { user: 'U1', item: 'B1', rating: 4, timestamp: 1407110400, review: 'Good read', summary: 'Four Stars' },
  ]);
  assert.deepEqual(dataset.items.get('B1'), {
    item: 'B1',
    title: 'A Book',
    brand: 'Visit Amazon',
    categories: ['Books', 'Literature & Fiction'],
    price: 1012.99,
    description: 'First part. Second part.',
  });

  // Page fragments where a price should be read as an unknown price, not a bad row.
  await writeFixture(dir, 'meta_Books.json', jsonLines([{ asin: 'B1', price: '.a-box-inner{background-color:#fff}' }]));
  const junk = await readDataset({ format: 'amazon', reviews, meta });
  assert.deepEqual(junk.dataset.items.get('B1'), { item: 'B1' });
});

test('Yelp: review dates read as UTC, business categories and price level', async (t) => {
  const dir = await tempDir(t);
  const reviews = await writeFixture(
    dir,
    'yelp_academic_dataset_review.json',
    jsonLines([
      { review_id: 'r1', user_id: 'u1', business_id: 'b1', stars: 4.0, useful: 0, text: 'Great tacos.', date: '2016-03-09 00:44:35' },
      { review_id: 'r2', user_id: 'u2', business_id: 'b2', stars: 1, text: 'No.', date: '2018-01-01' },
    ]),
  );
  const business = await writeFixture(
    dir,
    'yelp_academic_dataset_business.json',
    jsonLines([
      { business_id: 'b1', name: 'Taco Place', categories: 'Mexican, Restaurants', attributes: { RestaurantsPriceRange2: '2' } },
      { business_id: 'b2', name: 'Dentist', categories: null, attributes: { RestaurantsPriceRange2: 'None' } },
      { business_id: 'b3', name: 'Nowhere', categories: ['Bars', 'Pubs'], attributes: null },
    ]),
  );
  const { dataset } = await readDataset({ format: 'yelp', reviews, business });
  assert.deepEqual(dataset.interactions, [
    { user: 'u1', item: 'b1', rating: 4, timestamp: Date.UTC(2016, 2, 9, 0, 44, 35) / 1000, review: 'Great tacos.' },
    { user: 'u2', item: 'b2', rating: 1, timestamp: Date.UTC(2018, 0, 1) / 1000, review: 'No.' },
  ]);
  assert.deepEqual(dataset.items.get('b1'), { item: 'b1', title: 'Taco Place', categories: ['Mexican', 'Restaurants'], price: 2 });
  assert.deepEqual(dataset.items.get('b2'), { item: 'b2', title: 'Dentist' });
  assert.deepEqual(dataset.items.get('b3'), { item: 'b3', title: 'Nowhere', categories: ['Bars', 'Pubs'] });
});

test('generic CSV with a column mapping, ISO timestamps, and an item file', async (t) => {
  const dir = await tempDir(t);
  const file = await writeFixture(
    dir,
    'events.tsv',
    'who\twhat\tstars\twhen\tcomment\nann\tx1\t5\t2020-01-02T03:04:05Z\t"Loved it, really"\nbob\tx2\t2\t1577934245\t\n',
  );
  const items = await writeFixture(dir, 'things.csv', 'id,name,tags,cost,made\nx1,Lamp,home;light,9.5,2001\nx2,Chair,,,\n');
  const { dataset } = await readDataset({
    format: 'csv',
    file,
    delimiter: '\t',
    columns: { user: 'who', item: 'what', rating: 'stars', timestamp: 'when', review: 'comment' },
    itemFile: {
      file: items,
      columns: { item: 'id', title: 'name', categories: 'tags', price: 'cost', year: 'made' },
      listSeparator: ';',
    },
  });
  assert.equal(dataset.name, 'events');
  assert.deepEqual(dataset.interactions, [
    { user: 'ann', item: 'x1', rating: 5, timestamp: 1577934245, review: 'Loved it, really' },
    { user: 'bob', item: 'x2', rating: 2, timestamp: 1577934245 },
  ]);
  assert.deepEqual(dataset.items.get('x1'), { item: 'x1', title: 'Lamp', categories: ['home', 'light'], price: 9.5, year: 2001 });
  assert.deepEqual(dataset.items.get('x2'), { item: 'x2', title: 'Chair' });
});

test('generic JSON lines: numeric ids become text, dotted keys reach nested values, gzip', async (t) => {
  const dir = await tempDir(t);
  const file = await writeFixture(
    dir,
    'log.jsonl',
    jsonLines([{ u: 7, i: 42, r: '3.5', t: '2021-06-01T12:00:00+02:00', meta: { text: 'ok' } }]),
    true,
  );
  const { dataset } = await readDataset({
    format: 'jsonl',
    file,
    columns: { user: 'u', item: 'i', rating: 'r', timestamp: 't', review: 'meta.text' },
  });
  assert.deepEqual(dataset.interactions, [
    { user: '7', item: '42', rating: 3.5, timestamp: Date.UTC(2021, 5, 1, 10) / 1000, review: 'ok' },
  ]);
});

test('an invalid spec is rejected with the offending path', async () => {
  await assert.rejects(readDataset({ format: 'csv', file: 'x.csv' } as never), /invalid dataset spec[\s\S]*columns/);
  await assert.rejects(readDataset({ format: 'parquet', file: 'x' } as never), /invalid dataset spec[\s\S]*format/);
  await assert.rejects(
    readDataset({ format: 'movielens', dir: '.', extra: 1 } as never),
    /invalid dataset spec[\s\S]*extra/,
  );
});

test('detectFormat recognises MovieLens folders and Amazon/Yelp review files', async (t) => {
  const dir = await tempDir(t);
  const folder = async (name: string, files: readonly string[]) => {
    await mkdir(join(dir, name));
    for (const file of files) await writeFixture(join(dir, name), file, '');
    return join(dir, name);
  };
  const ml = await folder('ml', ['ratings.csv', 'movies.csv', 'links.csv']);
  assert.deepEqual(await detectFormat(ml), { format: 'movielens', dir: ml, tags: false });
  const ml100k = await folder('ml-100k', ['u.data', 'u.item', 'u.user']);
  assert.deepEqual(await detectFormat(ml100k), { format: 'movielens-100k', dir: ml100k });
  const ml1m = await folder('ml-1m', ['ratings.dat', 'movies.dat', 'users.dat']);
  assert.deepEqual(await detectFormat(ml1m), { format: 'movielens-1m', dir: ml1m });

  const amazon = await folder('amazon', ['README.md']);
  const reviews = await writeFixture(amazon, 'reviews_X_5.json.gz', jsonLines([{ reviewerID: 'A', asin: 'B', overall: 5 }]), true);
  const meta = await writeFixture(amazon, 'meta_X.json.gz', "{'asin': 'B'}\n", true);
  assert.deepEqual(await detectFormat(amazon), { format: 'amazon', reviews, meta });
  const yelp = await writeFixture(dir, 'reviews.json', jsonLines([{ user_id: 'u', business_id: 'b', stars: 1 }]));
  assert.deepEqual(await detectFormat(yelp), { format: 'yelp', reviews: yelp });
  const other = await writeFixture(dir, 'other.json', jsonLines([{ a: 1 }]));
  await assert.rejects(detectFormat(other), /column mapping/);
});
