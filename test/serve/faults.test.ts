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
import { SqliteFeatureBank, versionId, type FeatureBank } from '../../src/bank/index.js';
import { Runtime } from '../../src/engine/index.js';
import { BANK_VERSION, BANKED, fillBank, mirrorFixtureBank, openFixtureServer, profileOf, serveFromOwnRedis, untilReconnected, writeServeFixture, type FixtureServer, type ServeFixture } from './fixtures.js';

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

/** A bank file of the re-tuned version at `dir/name`; its path. */
async function writeRetuned(name: string): Promise<string> {
  const path = join(dir, name);
  const writer = await SqliteFeatureBank.open(path);
  try {
    await retune(writer);
  } finally {
    await writer.close();
  }
  return path;
}

/** Serves a read-only copy of the fixture's bank at `dir/name` (serving as it should) while `change` alters that file. */
async function whileServingCopy(name: string, change: (path: string, server: FixtureServer) => Promise<void>): Promise<void> {
  const path = join(dir, name);
  await copyFile(fx.bankPath, path);
  // Checked for changes in every turn (not only 10 ms after the last check): these tests are of what a change does, not of when it is seen.
  const server = await openFixtureServer(fx, runtime, { bank: await SqliteFeatureBank.open(path, { readonly: true, recheckMs: 0 }) });
  try {
    await assertServing(server);
    await change(path, server);
  } finally {
    await server.close();
  }
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
  assert.equal(scored.json().bank_version, SERVED);
  assert.deepEqual(scored.json().slots.map((s: { id: number }) => s.id), profileOf(3));
  assert.equal((await server.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
}

it('re-tune while serving: 503 naming both versions until the bank holds the served version again', async () => {
  await whileServingCopy('retuned.sqlite', async (path, server) => {
    const writer = await SqliteFeatureBank.open(path);
    try {
      await retune(writer);
      await assertRefused(server, 'stale', new RegExp(`version is now ${versionId(RETUNED)}; this server was started on ${SERVED}`));
      await restore(writer);
      await assertServing(server);
    } finally {
      await writer.close();
    }
  });
});

it('Redis restarted empty: 503 (no version) instead of the default profile for everyone; back once refilled', async () => {
  const { redis, bank, server } = await serveFromOwnRedis(fx, runtime);
  try {
    await assertServing(server);
    await redis.stop();
    await redis.start();
    await untilReconnected(server);
    await assertRefused(server, 'stale', /the feature bank holds no version \(emptied or replaced\)/);
    await mirrorFixtureBank(fx, bank);
    await assertServing(server);
  } finally {
    await server.close();
    await redis.stop();
  }
});

it('a bank file renamed over the served one is noticed: 503 for another version, served again for the same one', async () => {
  await whileServingCopy('renamed.sqlite', async (path, server) => {
    const other = await writeRetuned('other.sqlite');
    await rename(other, path);
    await assertRefused(server, 'stale', new RegExp(`version is now ${versionId(RETUNED)}`));

    await copyFile(fx.bankPath, other);
    await rename(other, path);
    await assertServing(server);
  });
});

it('a bank file overwritten in place: 503, never IDs of the other version, never a 500', async () => {
  await whileServingCopy('overwritten.sqlite', async (path, server) => {
    await copyFile(await writeRetuned('other-version.sqlite'), path); // same inode, new bytes
    for (const request of [
      { method: 'POST' as const, url: '/v1/score', payload: { user: 'u3', items: ['i1'] } },
      { method: 'GET' as const, url: '/v1/users/u3/profile' },
      { method: 'GET' as const, url: '/healthz' },
    ]) {
      const res = await server.app.inject(request);
      assert.equal(res.statusCode, 503, `${request.url}: ${res.body}`);
    }
  });
});
