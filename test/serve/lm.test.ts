/**
 * The LM-in-the-loop baseline on a tiny random LM: profiles inferred at request time by a fixed
 * number of EM steps against frozen codebooks, then scored exactly as the bank path scores.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { Rng, Runtime } from '../../src/engine/index.js';
import { CausalLm } from '../../src/lm/index.js';
import { LmProfiles, templateTokens, type LmProfilesOptions, type ProfileLm, type TuneOptions } from '../../src/profile/index.js';
import type { Codebook } from '../../src/quantize/index.js';
import { writeTinyCheckpoint } from '../helpers/tinyCheckpoint.js';
import { directScores, openFixtureServer, servedProbabilities, SLOTS, writeServeFixture, type FixtureServer, type ServeFixture } from './fixtures.js';

const HIDDEN = 16;
const runtime = new Runtime({ threads: 1 });
let dir: string;
let lm: CausalLm;
let options: LmProfilesOptions;
let server: FixtureServer;
let fx: ServeFixture;
/** Users with behaviour text; the LM path knows nobody else. */
const TEXTS: Record<string, string> = {
  u0: 'the cat is in the movie',
  u3: 'the world movie is on',
  u4: 'a cat, a cat, a movie',
  u9: 'the movie world at the end',
  u36: 'the world is the world',
  newcomer: 'in the world of the cat',
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'userip-serve-lm-'));
  await writeTinyCheckpoint(join(dir, 'lm'), { architecture: 'gpt2', seed: 5, hiddenSize: HIDDEN, numLayers: 2, numHeads: 4, maxPositions: 96 });
  lm = await CausalLm.load(join(dir, 'lm'), { runtime });
  const rng = new Rng(3);
  const codebooks = SLOTS.map((s) => {
    const centroids = new Float32Array(s.k * HIDDEN);
    rng.fillNormal(centroids, 0.05);
    return { k: s.k, d: HIDDEN, centroids };
  });
  const slots = [
    { name: 'hobby', text: 'hobby:', k: 4 },
    { name: 'background', text: 'background:', k: 3 },
  ];
  options = {
    lm,
    template: templateTokens(lm.tokenizer, slots, 'watched:'),
    behaviour: new Map(Object.entries(TEXTS).map(([user, text]) => [user, { tokens: [lm.tokenizer.encode(text)] }])),
    trainer: trainer(codebooks, 2),
  };
  fx = await writeServeFixture(dir, runtime);
  server = await openFixtureServer(fx, runtime, { profiles: new LmProfiles(options) });
});
after(async () => {
  await server.close();
  await runtime.close();
  await rm(dir, { recursive: true, force: true });
});

/** New-user settings with frozen codebooks (δ-space centroids at 0) and exactly `steps` steps per user. */
function trainer(codebooks: Codebook[], steps: number): TuneOptions {
  return {
    mask: 'paper',
    lr: 0.05,
    populationLr: 0.05,
    userOptimizer: 'adamw',
    codebookSizes: codebooks.map((c) => c.k),
    batchTokens: 512,
    lmBatchTokens: 512,
    windowsPerStep: 4,
    populationSteps: 0,
    userSteps: steps,
    convergence: 0,
    prior: 0.01,
    emRounds: 1,
    commitment: 0.1,
    seed: 0,
    frozen: { population: new Float32Array(2 * HIDDEN).fill(0.01), codebooks, deltaCentroids: codebooks.map((c) => new Float32Array(c.k * HIDDEN)) },
    checkpointEvery: Number.MAX_SAFE_INTEGER,
    configHash: 'serve',
  };
}

/** The tiny LM, with `before` run ahead of every gradient pass. */
function watchedLm(before: () => Promise<void> | void): ProfileLm {
  return {
    id: lm.id,
    hiddenSize: lm.hiddenSize,
    embedTokens: (ids) => lm.embedTokens(ids),
    lossAndGrad: async (batch) => {
      await before();
      return lm.lossAndGrad(batch);
    },
    tokenNll: (batch) => lm.tokenNll(batch),
  };
}

it('infers a profile with exactly `steps` LM gradient passes, the same on every request, within the codebooks', async () => {
  let passes = 0;
  const profiles = new LmProfiles({ ...options, lm: watchedLm(() => void passes++), trainer: trainer(options.trainer.frozen!.codebooks, 3) });
  const { found: first } = await profiles.lookup('u3');
  assert.equal(passes, 3);
  assert.deepEqual((await profiles.lookup('u3')).found, first);
  assert.equal(first?.source, 'lm');
  first!.ids.forEach((id, j) => assert.ok(Number.isInteger(id) && id >= 0 && id < SLOTS[j].k, `slot ${j} id ${id}`));
  assert.equal((await profiles.lookup('u1')).found, undefined, 'no behaviour text, no profile');
  assert.equal(passes, 6);
});

it('refuses codebooks that do not fit the template or the LM', () => {
  const codebooks = options.trainer.frozen!.codebooks;
  assert.throws(() => new LmProfiles({ ...options, trainer: trainer(codebooks.slice(1), 2) }), /1 codebooks for 2 template slots/);
  const wide = codebooks.map((c) => ({ ...c, d: HIDDEN + 1 }));
  assert.throws(() => new LmProfiles({ ...options, trainer: trainer(wide, 2) }), /codebook has width 17, the LM's hidden size is 16/);
});

it('scores with the inferred profile exactly as the bank path would with those IDs', async () => {
  const expected = (await new LmProfiles(options).lookup('u3')).found!.ids;
  const items = [4, 8, 15, 16, 23, 42];
  const res = await server.app.inject({ method: 'POST', url: '/v1/score', payload: { user: 'u3', items: items.map((i) => `i${i}`) } });
  assert.equal(res.statusCode, 200);
  const body = res.json();
  assert.equal(body.mode, 'lm');
  assert.equal(body.source, 'lm');
  assert.equal(body.unknown_user, false);
  assert.deepEqual(body.slots, [{ name: 'hobby', id: expected[0] }, { name: 'background', id: expected[1] }]);
  assert.deepEqual(servedProbabilities(body), await directScores(server.model, 3, expected, items));

  const unknown = (await server.app.inject({ method: 'POST', url: '/v1/score', payload: { user: 'u1', items: ['i1'] } })).json();
  assert.equal(unknown.unknown_user, true);
  assert.equal(unknown.source, 'default');
  const health = (await server.app.inject({ method: 'GET', url: '/healthz' })).json();
  assert.equal(health.mode, 'lm');
});

it('concurrent LM-path requests for different users each get their own profile', async () => {
  const users = Object.keys(TEXTS);
  const alone: unknown[] = [];
  for (const user of users) alone.push((await server.app.inject({ method: 'GET', url: `/v1/users/${user}/profile` })).json());
  const together = await Promise.all([...users, ...users].map((user) => server.app.inject({ method: 'GET', url: `/v1/users/${user}/profile` })));
  together.forEach((res, i) => assert.deepEqual(res.json(), alone[i % users.length], users[i % users.length]));
});

it('closing the server waits for LM work a request started, so the runtime is not released under it', async () => {
  let passes = 0;
  const slow = watchedLm(async () => {
    await new Promise((resolve) => setTimeout(resolve, 150));
    passes++;
  });
  const own = await openFixtureServer(fx, runtime, { profiles: new LmProfiles({ ...options, lm: slow, trainer: trainer(options.trainer.frozen!.codebooks, 2) }) });
  const answer = own.app.inject({ method: 'GET', url: '/v1/users/u4/profile' });
  await new Promise((resolve) => setTimeout(resolve, 50));
  await own.close();
  assert.equal(passes, 2, 'both passes ran before close returned');
  assert.equal((await answer).statusCode, 200);
});
