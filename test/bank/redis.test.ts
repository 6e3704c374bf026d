/** The Redis store against a real redis-server: the shared contract, its key layout, and Redis going away. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createClient } from 'redis';
import { FeatureBankError, RedisFeatureBank } from '../../src/bank/index.js';
import { startRedisServer, type RedisServer } from '../serve/redisServer.js';
import { entryFor, featureBankContract, VERSION } from './contract.js';

let redis: RedisServer;
let banks = 0;
before(async () => {
  redis = await startRedisServer();
});
after(() => redis.stop());

// Each bank gets its own prefix on the shared server, so every bank starts empty.
const freshBank = () => RedisFeatureBank.open(redis.url, { prefix: `test${banks++}:` });
featureBankContract('Redis', freshBank);

test('one plain string key per user, a sorted user index and a version hash, all under the prefix', async (t) => {
  const bank = await RedisFeatureBank.open(redis.url, { prefix: 'layout:' });
  t.after(() => bank.close());
  await bank.setVersion(VERSION);
  await bank.putMany([
    { user: 'alice', ids: [3, 2], source: 'tuned' },
    { user: 'bob', ids: [0, 1] },
  ]);
  const raw = createClient({ url: redis.url });
  await raw.connect();
  t.after(() => raw.close());
  assert.equal(await raw.get('layout:u:alice'), '3,2;tuned');
  assert.equal(await raw.get('layout:u:bob'), '0,1');
  assert.deepEqual(await raw.zRange('layout:users', 0, -1), ['alice', 'bob']);
  assert.deepEqual(JSON.parse((await raw.hGet('layout:version', 'record'))!), VERSION);
  assert.deepEqual((await raw.keys('layout:*')).sort(), ['layout:u:alice', 'layout:u:bob', 'layout:users', 'layout:version']);
});

test('banks under different prefixes do not see each other', async (t) => {
  const a = await RedisFeatureBank.open(redis.url, { prefix: 'a:' });
  const b = await RedisFeatureBank.open(redis.url, { prefix: 'b:' });
  t.after(async () => {
    await a.close();
    await b.close();
  });
  await a.setVersion(VERSION);
  await a.putMany([entryFor(1)]);
  assert.equal(await b.version(), undefined);
  assert.equal(await b.get('u1'), undefined);
  assert.equal(await b.count(), 0);
});

test('no Redis at the address: opening fails at once, naming host and port', async () => {
  const down = await startRedisServer();
  await down.stop();
  const started = Date.now();
  await assert.rejects(RedisFeatureBank.open(down.url), (error: Error) => {
    assert.ok(error instanceof FeatureBankError);
    assert.match(error.message, new RegExp(`cannot connect to the Redis feature bank at 127\\.0\\.0\\.1:${down.port}: .*ECONNREFUSED`));
    return true;
  });
  assert.ok(Date.now() - started < 3000, 'no retry loop before the first connection');
  await assert.rejects(RedisFeatureBank.open('localhost:6379'), { name: 'FeatureBankError', message: /scheme must be redis: or rediss:/ });
  await assert.rejects(RedisFeatureBank.open('not a url'), { name: 'FeatureBankError', message: /invalid Redis URL/ });
});

test('Redis going away: lookups fail at once naming host and port, and work again once it is back', async (t) => {
  const own = await startRedisServer();
  t.after(() => own.stop());
  const bank = await RedisFeatureBank.open(own.url);
  t.after(() => bank.close());
  await bank.setVersion(VERSION);
  await bank.putMany([entryFor(1)]);
  assert.deepEqual(await bank.get('u1'), entryFor(1));

  await own.stop();
  const started = Date.now();
  for (const call of [() => bank.getMany(['u1', 'u2']), () => bank.version(), () => bank.count(), () => bank.putMany([entryFor(2)])]) {
    await assert.rejects(call(), (error: Error) => {
      assert.ok(error instanceof FeatureBankError, String(error));
      assert.match(error.message, new RegExp(`Redis feature bank at 127\\.0\\.0\\.1:${own.port}: cannot `));
      return true;
    });
  }
  assert.ok(Date.now() - started < 1000, `failing took ${Date.now() - started} ms; lookups must not wait for a reconnect`);

  // Back, but empty (no persistence): the bank answers again, with what the new server holds.
  await own.start();
  const deadline = Date.now() + 5000;
  let answer: unknown;
  while (Date.now() < deadline) {
    try {
      answer = await bank.getMany(['u1']);
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  assert.deepEqual(answer, [undefined]);
  assert.equal(await bank.version(), undefined);
});
