/**
 * Fault injection while serving: the bank re-tuned under the server, Redis restarted empty, the bank
 * file replaced (renamed over, or overwritten in place). Scoring and profile lookups answer 503 with a
 * reason whenever the bank no longer holds the server's version, never 200 with IDs of another
 * version, and answer again once the bank holds that version again.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { RedisFeatureBank, SqliteFeatureBank, versionId, type FeatureBank } from '../../src/bank/index.js';
import { Runtime } from '../../src/engine/index.js';
import { BANK_VERSION, BANKED, fillBank, mirrorFixtureBank, openFixtureServer, profileOf, writeServeFixture, type FixtureServer, type ServeFixture } from './fixtures.js';
import { startRedisServer } from './redisServer.js';

const runtime = new Runtime({ threads: 1 });
let dir: string;
let fx: ServeFixture;
const SERVED = versionId(BANK_VERSION);
const RETUNED = { ...BANK_VERSION, codebook_hash: 'cb-retuned' };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'userip-serve-faults-'));
  fx = await writeServeFixture(dir, runtime);
});
after(async () => {
  await runtime.close();
  await rm(dir, { recursive: true, force: true });
});

/** What a re-tune leaves in a bank: another version, every user with other IDs. */
async function retune(bank: FeatureBank): Promise<void> {
  await bank.setVersion(RETUNED, { replace: true });
  await bank.putMany(BANKED.map((user, u) => ({ user, ids: profileOf(u + 1), source: 'tuned' as const })));
}

/** A bank file of the re-tuned version at `path`. */
async function writeRetuned(path: string): Promise<void> {
  const writer = await SqliteFeatureBank.open(path);
  try {
    await retune(writer);
  } finally {
    await writer.close();
  }
}

/** A server on a read-only copy of the fixture's bank at `dir/name`, for a test to change under it. */
async function serveCopy(name: string): Promise<{ path: string; server: FixtureServer }> {
  const path = join(dir, name);
  await copyFile(fx.bankPath, path);
  return { path, server: await openFixtureServer(fx, runtime, { bank: await SqliteFeatureBank.open(path, { readonly: true }) }) };
}

async function restore(bank: FeatureBank): Promise<void> {
  await bank.setVersion(BANK_VERSION, { replace: true });
  await fillBank(bank);
}

/** Every ID-reading route refuses with 503 and a reason matching `reason`; /healthz says `status`. */
async function assertRefused(server: FixtureServer, status: string, reason: RegExp): Promise<void> {
  const scored = await server.app.inject({ method: 'POST', url: '/v1/score', payload: { user: 'u3', items: ['i1', 'i2'] } });
  assert.equal(scored.statusCode, 503, scored.body);
  assert.deepEqual(Object.keys(scored.json()), ['error', 'message']);
  assert.match(scored.json().message, reason);
  const profile = await server.app.inject({ method: 'GET', url: '/v1/users/u3/profile' });
  assert.equal(profile.statusCode, 503, profile.body);
  assert.match(profile.json().message, reason);
  const health = await server.app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(health.statusCode, 503);
  assert.equal(health.json().status, status);
}

async function assertServing(server: FixtureServer): Promise<void> {
  const scored = await server.app.inject({ method: 'POST', url: '/v1/score', payload: { user: 'u3', items: ['i1', 'i2'] } });
  assert.equal(scored.statusCode, 200, scored.body);
  assert.equal(scored.json().bankVersion, SERVED);
  assert.deepEqual(scored.json().slots.map((s: { id: number }) => s.id), profileOf(3));
  assert.equal((await server.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
}

it('re-tune while serving: 503 naming both versions until the bank holds the served version again', async () => {
  const { path, server } = await serveCopy('retuned.sqlite');
  const writer = await SqliteFeatureBank.open(path);
  try {
    await assertServing(server);
    await retune(writer);
    await assertRefused(server, 'stale', new RegExp(`version is now ${versionId(RETUNED)}; this server was started on ${SERVED}`));
    await restore(writer);
    await assertServing(server);
  } finally {
    await writer.close();
    await server.close();
  }
});

it('Redis restarted empty: 503 (no version) instead of the default profile for everyone; back once refilled', async () => {
  const redis = await startRedisServer();
  const bank = await RedisFeatureBank.open(redis.url);
  await mirrorFixtureBank(fx, bank);
  const server = await openFixtureServer(fx, runtime, { bank });
  try {
    await assertServing(server);
    await redis.stop();
    await redis.start();
    // The client reconnects in the background; until it has, the bank is unavailable (also a 503).
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && (await server.app.inject({ method: 'GET', url: '/healthz' })).json().status === 'unavailable') {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await assertRefused(server, 'stale', /the feature bank holds no version \(emptied or replaced\)/);
    await mirrorFixtureBank(fx, bank);
    await assertServing(server);
  } finally {
    await server.close();
    await redis.stop();
  }
});

it('a bank file renamed over the served one is noticed: 503 for another version, served again for the same one', async () => {
  const { path, server } = await serveCopy('renamed.sqlite');
  try {
    await assertServing(server);
    const other = join(dir, 'other.sqlite');
    await writeRetuned(other);
    await rename(other, path);
    await assertRefused(server, 'stale', new RegExp(`version is now ${versionId(RETUNED)}`));

    await copyFile(fx.bankPath, other);
    await rename(other, path);
    await assertServing(server);
  } finally {
    await server.close();
  }
});

it('a bank file overwritten in place: 503, never IDs of the other version, never a 500', async () => {
  const { path, server } = await serveCopy('overwritten.sqlite');
  try {
    await assertServing(server);
    const other = join(dir, 'other-version.sqlite');
    await writeRetuned(other);
    await copyFile(other, path); // same inode, new bytes
    for (const request of [
      { method: 'POST' as const, url: '/v1/score', payload: { user: 'u3', items: ['i1'] } },
      { method: 'GET' as const, url: '/v1/users/u3/profile' },
      { method: 'GET' as const, url: '/healthz' },
    ]) {
      const res = await server.app.inject(request);
      assert.equal(res.statusCode, 503, `${request.url}: ${res.body}`);
    }
  } finally {
    await server.close();
  }
});
