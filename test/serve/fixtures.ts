/**
 * A tiny serving setup with a known answer: 40 users, 60 items in 5 genres, two profile slots. A
 * user's click odds depend on whether the item's genre matches the user's hobby ID, so the profile
 * fields matter to the trained DCN. The bank holds users u0..u34 plus `newcomer` (a user the model
 * never saw, with a cold-start profile); u35..u39 are known to the model but have no profile.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { RedisFeatureBank, SqliteFeatureBank, versionId, type BankVersion, type FeatureBank, type ProfileEntry } from '../../src/bank/index.js';
import { CtrModel, loadCtrModel, saveCtrModel, sigmoid, trainCtr } from '../../src/ctr/index.js';
import { Rng, type Runtime } from '../../src/engine/index.js';
import { buildFeatureMap, loadFeatureMap, saveFeatureMap } from '../../src/features/index.js';
import { createServer, mirrorBank, type ServeOptions } from '../../src/serve/index.js';
import { startRedisServer, type RedisServer } from './redisServer.js';

export const SLOTS = [
  { name: 'hobby', k: 4 },
  { name: 'background', k: 3 },
];
export const BANK_VERSION: BankVersion = { lm_id: 'tiny-lm', config_hash: 'serve-fixture', codebook_hash: 'cb1', slots: SLOTS, created_at: '2024-01-01T00:00:00.000Z' };
export const USERS = Array.from({ length: 40 }, (_, u) => `u${u}`);
export const ITEMS = Array.from({ length: 60 }, (_, i) => `i${i}`);
export const GENRES = ['g0', 'g1', 'g2', 'g3', 'g4'];
export const genreOf = (item: number) => item % GENRES.length;
/** The profile the bank holds for user index u. */
export const profileOf = (u: number): number[] => [u % 4, (u * 7) % 3];
export const BANKED = USERS.slice(0, 35);

export interface ServeFixture {
  modelDir: string;
  bankPath: string;
}

/** Trains the DCN, saves it with its feature map under `dir/model`, and writes the bank to `dir/bank.sqlite`. */
export async function writeServeFixture(dir: string, runtime: Runtime): Promise<ServeFixture> {
  const rng = new Rng(7);
  const n = 3000;
  const user = new Int32Array(n);
  const item = new Int32Array(n);
  const labels = new Float32Array(n);
  const itemEffect = Float32Array.from(ITEMS, () => rng.normal() * 0.5);
  for (let r = 0; r < n; r++) {
    user[r] = rng.int(USERS.length);
    item[r] = rng.int(ITEMS.length);
    const match = genreOf(item[r]) % 4 === profileOf(user[r])[0];
    labels[r] = (match ? 1.5 : -1) + itemEffect[item[r]] + 0.3 * rng.normal() > 0 ? 1 : 0;
  }
  const sparse = {
    user,
    item,
    genre: Int32Array.from(item, genreOf),
    userip_hobby: Int32Array.from(user, (u) => profileOf(u)[0]),
    userip_background: Int32Array.from(user, (u) => profileOf(u)[1]),
  };
  const schema = {
    sparse: [
      { name: 'user', vocabSize: USERS.length },
      { name: 'item', vocabSize: ITEMS.length },
      { name: 'genre', vocabSize: GENRES.length },
      { name: 'userip_hobby', vocabSize: 4 },
      { name: 'userip_background', vocabSize: 3 },
    ],
  };
  const model = new CtrModel({ model: 'dcn', embeddingSize: 8, mlp: [16], crossLayers: 2, dropout: 0, lr: 0.01, batchSize: 128, epochs: 4 }, schema, { runtime });
  await trainCtr(model, { sparse, labels });

  const modelDir = join(dir, 'model');
  await saveCtrModel(model, modelDir, { bankVersion: versionId(BANK_VERSION) });
  const index = (ids: string[]) => new Map(ids.map((id, i) => [id, i]));
  const vocab = { users: index(USERS), items: index(ITEMS), attributes: index(GENRES), itemAttribute: Int32Array.from(ITEMS, (_, i) => genreOf(i)) };
  await saveFeatureMap(modelDir, buildFeatureMap(vocab, SLOTS));

  const bankPath = join(dir, 'bank.sqlite');
  const bank = await SqliteFeatureBank.open(bankPath);
  await fillBank(bank);
  await bank.close();
  return { modelDir, bankPath };
}

export async function fillBank(bank: FeatureBank): Promise<void> {
  await bank.setVersion(BANK_VERSION);
  const entries: ProfileEntry[] = BANKED.map((user, u) => ({ user, ids: profileOf(u), source: 'tuned' }));
  entries.push({ user: 'newcomer', ids: [2, 2], source: 'cold-start' });
  await bank.putMany(entries);
}

export interface FixtureServer {
  app: FastifyInstance;
  model: CtrModel;
  bank: FeatureBank;
  close(): Promise<void>;
}

/** A server (not listening) on the fixture; the bank is the fixture's SQLite file unless given. */
export async function openFixtureServer(fx: ServeFixture, runtime: Runtime, options: Partial<ServeOptions> = {}): Promise<FixtureServer> {
  const { model, bankVersion } = await loadCtrModel(fx.modelDir, { runtime });
  const bank = options.bank ?? (await SqliteFeatureBank.open(fx.bankPath, { readonly: true }));
  const app = await createServer({ model, modelBankVersion: bankVersion, features: await loadFeatureMap(fx.modelDir), bank, ...options });
  return {
    app,
    model,
    bank,
    async close() {
      await app.close();
      await bank.close();
    },
  };
}

/**
 * The probabilities of a `/v1/score` answer as the float32s the model computed: the server prints
 * each with the 9 significant digits that identify a float32.
 */
export function servedProbabilities(body: { scores: { probability: number }[] }): number[] {
  return body.scores.map((s) => Math.fround(s.probability));
}

/**
 * What the model says for a user index (-1: unknown) with profile `ids` on the given item indices,
 * built column by column here rather than through the server's Scorer. The server scores with the
 * model frozen for serving (for a DCN, the factored forward); the model's own scoring graph must
 * agree to 1e-6.
 */
export async function directScores(model: CtrModel, userIndex: number, ids: readonly number[], items: readonly number[]): Promise<number[]> {
  const n = items.length;
  const rows = {
    sparse: {
      user: new Int32Array(n).fill(userIndex),
      item: Int32Array.from(items),
      genre: Int32Array.from(items, genreOf),
      userip_hobby: new Int32Array(n).fill(ids[0]),
      userip_background: new Int32Array(n).fill(ids[1]),
    },
  };
  const probabilities = sigmoid(await model.serving().score(model.encode(rows)));
  const reference = await model.predict(rows);
  reference.forEach((p, i) => assert.ok(Math.abs(p - probabilities[i]) <= 1e-6, `row ${i}: scoring graph ${p}, serving graph ${probabilities[i]}`));
  return Array.from(probabilities);
}

/** Copies the fixture's SQLite bank into `bank` (a Redis bank); the number of entries copied (0 when it already held them). */
export async function mirrorFixtureBank(fx: ServeFixture, bank: FeatureBank): Promise<number> {
  const source = await SqliteFeatureBank.open(fx.bankPath, { readonly: true });
  try {
    return await mirrorBank(source, bank);
  } finally {
    await source.close();
  }
}

/** A server on the fixture's bank copied into a Redis of its own, for a test that stops or restarts that Redis. */
export async function serveFromOwnRedis(fx: ServeFixture, runtime: Runtime, options: Partial<ServeOptions> = {}): Promise<{ redis: RedisServer; bank: FeatureBank; server: FixtureServer }> {
  const redis = await startRedisServer();
  const bank = await RedisFeatureBank.open(redis.url);
  await mirrorFixtureBank(fx, bank);
  return { redis, bank, server: await openFixtureServer(fx, runtime, { ...options, bank }) };
}

/**
 * Waits (at most 5 s) for the server's Redis client to reconnect after a restart: until then the
 * bank is unavailable (a 503 of its own), after it the restarted Redis answers, empty.
 */
export async function untilReconnected(server: FixtureServer): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && (await server.app.inject({ method: 'GET', url: '/healthz' })).json().status === 'unavailable') {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
