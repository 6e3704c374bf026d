/**
 * Concurrent requests over real HTTP: every response must be exactly the response the same request
 * gets alone, so nothing is lost, duplicated or mixed up between requests in flight together.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { SqliteFeatureBank, type FeatureBank } from '../../src/bank/index.js';
import { Rng, Runtime } from '../../src/engine/index.js';
import { ITEMS, openFixtureServer, writeServeFixture, type FixtureServer, type ServeFixture } from './fixtures.js';

const runtime = new Runtime({ threads: 1 });
let dir: string;
let fx: ServeFixture;
let server: FixtureServer;
let base: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'userip-serve-load-'));
  fx = await writeServeFixture(dir, runtime);
  server = await openFixtureServer(fx, runtime);
  base = await server.app.listen({ port: 0, host: '127.0.0.1' });
});
after(async () => {
  await server.close();
  await runtime.close();
  await rm(dir, { recursive: true, force: true });
});

async function post(body: object): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}/v1/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

/** Runs `tasks` with at most `concurrency` in flight. */
async function pool<T>(tasks: (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

it('600 requests, 32 in flight, each answered exactly as when sent alone', async () => {
  const rng = new Rng(11);
  // Banked users, a user with an index but no profile, a profile-only user, an unknown user; each
  // with its own candidate list (1 to 100 items, repeats allowed).
  const users = ['u0', 'u1', 'u2', 'u3', 'u5', 'u8', 'u13', 'u21', 'u34', 'u37', 'newcomer', 'stranger'];
  const bodies = users.map((user) => ({ user, items: Array.from({ length: 1 + rng.int(100) }, () => ITEMS[rng.int(ITEMS.length)]) }));
  const alone: unknown[] = [];
  for (const body of bodies) {
    const res = await post(body);
    assert.equal(res.status, 200);
    alone.push(res.json);
  }

  const order = rng.shuffle(Array.from({ length: 600 }, (_, i) => i % bodies.length));
  const together = await pool(order.map((b) => () => post(bodies[b])), 32);
  together.forEach((res, i) => {
    assert.equal(res.status, 200, `request ${i}`);
    assert.deepEqual(res.json, alone[order[i]], `request ${i} (user ${bodies[order[i]].user}) differs from its answer alone`);
  });

  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, new RegExp(`userip_http_requests_total\\{method="POST",route="/v1/score",status="200"\\} ${bodies.length + order.length}\\n`));
});

it('requests whose bank lookups wait (as on Redis) overlap inside the server and are still answered exactly as alone', async () => {
  // Each request holds its scoring buffers across the lookup's wait, so requests in flight together
  // must not share them.
  const rng = new Rng(12);
  const real = await SqliteFeatureBank.open(fx.bankPath, { readonly: true });
  const slow: FeatureBank = Object.create(real);
  slow.lookup = async (user) => {
    await new Promise((resolve) => setTimeout(resolve, rng.int(4)));
    return real.lookup(user);
  };
  const overlapping = await openFixtureServer(fx, runtime, { bank: slow });
  try {
    const bodies = ['u0', 'u3', 'u8', 'u21', 'stranger'].map((user) => ({ user, items: Array.from({ length: 1 + rng.int(100) }, () => ITEMS[rng.int(ITEMS.length)]) }));
    const alone = await Promise.all(bodies.map(async (body) => (await post(body)).json));
    const order = Array.from({ length: 200 }, (_, i) => i % bodies.length);
    const together = await Promise.all(order.map((b) => overlapping.app.inject({ method: 'POST', url: '/v1/score', payload: bodies[b] })));
    together.forEach((res, i) => {
      assert.equal(res.statusCode, 200, `request ${i}`);
      assert.deepEqual(res.json(), alone[order[i]], `request ${i} (user ${bodies[order[i]].user}) differs from its answer alone`);
    });
  } finally {
    await overlapping.close();
  }
});
