/** Serving from Redis: the bank copied in from SQLite answers the same, and Redis going down gives 503s naming it. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { RedisFeatureBank } from '../../src/bank/index.js';
import { Runtime } from '../../src/engine/index.js';
import { mirrorFixtureBank, openFixtureServer, serveFromOwnRedis, untilReconnected, writeServeFixture, type ServeFixture } from './fixtures.js';
import { startRedisServer, type RedisServer } from './redisServer.js';

const runtime = new Runtime({ threads: 1 });
let dir: string;
let fx: ServeFixture;
let redis: RedisServer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'userip-serve-redis-'));
  fx = await writeServeFixture(dir, runtime);
  redis = await startRedisServer();
});
after(async () => {
  await redis.stop();
  await runtime.close();
  await rm(dir, { recursive: true, force: true });
});

it('a bank copied into Redis serves exactly what the SQLite bank serves; a second copy is skipped', async () => {
  const bank = await RedisFeatureBank.open(redis.url, { prefix: 'same:' });
  assert.equal(await mirrorFixtureBank(fx, bank), 36);
  assert.equal(await mirrorFixtureBank(fx, bank), 0);
  const fromRedis = await openFixtureServer(fx, runtime, { bank });
  const fromSqlite = await openFixtureServer(fx, runtime);
  try {
    const requests = [
      { method: 'GET' as const, url: '/v1/users/u7/profile' },
      { method: 'GET' as const, url: '/v1/users/stranger/profile' },
      { method: 'POST' as const, url: '/v1/score', payload: { user: 'u7', items: ['i1', 'i9', 'i33'] } },
      { method: 'POST' as const, url: '/v1/score', payload: { user: 'newcomer', items: ['i2', 'i2'] } },
      { method: 'GET' as const, url: '/healthz' },
    ];
    for (const request of requests) {
      const [a, b] = [await fromRedis.app.inject(request), await fromSqlite.app.inject(request)];
      assert.equal(a.statusCode, 200, a.body);
      assert.deepEqual(a.json(), b.json(), request.url);
    }
  } finally {
    await fromRedis.close();
    await fromSqlite.close();
  }
});

it('Redis down: 503 naming host:port on every bank-backed route, counted in the metrics; back to 200 once Redis is back and filled', async () => {
  const warnings: string[] = [];
  const errors: string[] = [];
  const log = { warn: (_fields: object, message: string) => warnings.push(message), error: (_fields: object, message: string) => errors.push(message) };
  const { redis: own, bank, server } = await serveFromOwnRedis(fx, runtime, { log });
  try {
    const score = () => server.app.inject({ method: 'POST', url: '/v1/score', payload: { user: 'u1', items: ['i1'] } });
    assert.equal((await score()).statusCode, 200);

    await own.stop();
    const unavailable = new RegExp(`feature bank is unavailable: Redis feature bank at 127\\.0\\.0\\.1:${own.port}: cannot look up users`);
    const down = await score();
    assert.equal(down.statusCode, 503);
    assert.deepEqual(Object.keys(down.json()), ['error', 'message']);
    assert.match(down.json().message, unavailable);
    const profile = await server.app.inject({ method: 'GET', url: '/v1/users/u1/profile' });
    assert.equal(profile.statusCode, 503);
    assert.match(profile.json().message, unavailable);
    const health = await server.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(health.statusCode, 503);
    assert.equal(health.json().status, 'unavailable');
    assert.match(health.json().message, new RegExp(`127\\.0\\.0\\.1:${own.port}`));
    // Bad input is still the client's error, whatever the bank's state.
    assert.equal((await server.app.inject({ method: 'POST', url: '/v1/score', payload: { user: 'u1', items: 'i1' } })).statusCode, 400);
    const metrics = (await server.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /userip_http_requests_total\{method="POST",route="\/v1\/score",status="503"\} 1\n/);
    // The score and the profile requests; /healthz answers its 503 without the error handler.
    assert.deepEqual(warnings, ['feature bank unavailable', 'feature bank unavailable']);
    assert.deepEqual(errors, []);

    await own.start();
    await untilReconnected(server);
    await mirrorFixtureBank(fx, bank);
    const back = await score();
    assert.equal(back.statusCode, 200);
    assert.equal(back.json().unknown_user, false);
  } finally {
    await server.close();
    await own.stop();
  }
});
