/**
 * `userip serve` on a run laid out like the demo's (20 MovieLens users, tiny LM): bank mode from
 * SQLite and from Redis, lm mode from the tune run, version refusal, and the command's own process;
 * and `userip ctr train`, which makes the serving model.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SqliteFeatureBank, versionId } from '../../src/bank/index.js';
import { openServer, serveSchema, type OpenedServer, type ServeConfig } from '../../src/serve/index.js';
import { writeDemoLikeRun } from './demoFixture.js';
import { startRedisServer } from './redisServer.js';

let dir: string;
let items: string[];
let settings: (extra?: Partial<ServeConfig>) => ServeConfig;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'userip-serve-cli-'));
  await writeDemoLikeRun(dir, { users: 20 });
  items = JSON.parse(await readFile(join(dir, 'serve-model', 'features.json'), 'utf8')).items.slice(0, 100);
  settings = (extra = {}) => serveSchema.parse({ model: join(dir, 'serve-model'), bank: join(dir, 'profile', 'bank.sqlite'), port: 0, ...extra });
});
after(() => rm(dir, { recursive: true, force: true }));

async function withServer<T>(config: ServeConfig, use: (base: string, opened: OpenedServer) => Promise<T>): Promise<T> {
  const opened = await openServer(config);
  try {
    return await use(await opened.app.listen({ host: '127.0.0.1', port: 0 }), opened);
  } finally {
    await opened.close();
  }
}

interface ProfileAnswer {
  mode: string;
  source: string;
  unknown_user: boolean;
  slots: { name: string; id: number }[];
}
interface ScoreAnswer extends ProfileAnswer {
  scores: { item: string; probability: number }[];
}

const score = async (base: string, user: string): Promise<ScoreAnswer> =>
  (await fetch(`${base}/v1/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, items }) })).json() as Promise<ScoreAnswer>;

it('bank mode on SQLite: the bank\'s IDs, and 100 candidates scored', async () => {
  const bank = await SqliteFeatureBank.open(join(dir, 'profile', 'bank.sqlite'), { readonly: true });
  const entry = (await bank.get('1'))!;
  await bank.close();
  await withServer(settings(), async (base, opened) => {
    assert.equal(opened.info.mode, 'bank');
    assert.equal(opened.info.users, 20);
    const profile = (await (await fetch(`${base}/v1/users/1/profile`)).json()) as ProfileAnswer;
    assert.deepEqual(profile.slots.map((s) => s.id), entry.ids);
    assert.deepEqual(profile.slots.map((s) => s.name), ['hobby', 'background']);
    const scored = await score(base, '1');
    assert.equal(scored.scores.length, 100);
    for (const s of scored.scores) assert.ok(s.probability > 0 && s.probability < 1);
  });
});

it('lm mode infers the profile from the tune run\'s LM, codebooks and behaviour text', async () => {
  await withServer(settings({ profileMode: 'lm', lmSteps: 1 }), async (base, opened) => {
    assert.equal(opened.info.mode, 'lm');
    const first = await score(base, '1');
    assert.equal(first.mode, 'lm');
    assert.equal(first.source, 'lm');
    assert.equal(first.scores.length, 100);
    assert.deepEqual(await score(base, '1'), first);
    assert.equal((await score(base, 'not-a-user')).unknown_user, true);
  });
});

it('redis mode copies the SQLite bank in once, then serves the same answers', async () => {
  const redis = await startRedisServer();
  try {
    const sqliteAnswer = await withServer(settings(), (base) => score(base, '2'));
    await withServer(settings({ redis: redis.url }), async (base, opened) => {
      assert.equal(opened.info.mirrored, 20);
      assert.match(opened.info.bank, new RegExp(`redis 127\\.0\\.0\\.1:${redis.port}`));
      assert.deepEqual(await score(base, '2'), sqliteAnswer);
    });
    await withServer(settings({ redis: redis.url }), async (_base, opened) => assert.equal(opened.info.mirrored, 0));
    // Redis alone, already filled.
    await withServer(settings({ redis: redis.url, bank: undefined }), async (base) => assert.deepEqual(await score(base, '2'), sqliteAnswer));
  } finally {
    await redis.stop();
  }
  await assert.rejects(openServer(settings({ redis: redis.url })), new RegExp(`cannot connect to the Redis feature bank at 127\\.0\\.0\\.1:${redis.port}`));
});

it('refuses a model trained on another bank version, naming both', async () => {
  const model = join(dir, 'other-model');
  await cp(join(dir, 'serve-model'), model, { recursive: true });
  const json = JSON.parse(await readFile(join(model, 'model.json'), 'utf8'));
  await writeFile(join(model, 'model.json'), JSON.stringify({ ...json, bank_version: '0123456789abcdef' }));
  await assert.rejects(openServer(settings({ model })), /the feature bank has version [0-9a-f]{16} .*but the CTR model was trained on bank version 0123456789abcdef/);
  assert.throws(() => serveSchema.parse({ model }), /give --bank, --redis, or both/);
});

it('`userip serve` listens, answers, and exits cleanly on SIGTERM', async () => {
  const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const child = spawn(process.execPath, [cli, 'serve', '--model', join(dir, 'serve-model'), '--bank', join(dir, 'profile', 'bank.sqlite'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`serve exited with ${code} before listening`)));
    });
    const base = /listening on (http:\/\/\S+)/.exec(line)?.[1];
    assert.ok(base, line);
    assert.match(line, /bank version [0-9a-f]{16}, 20 users/);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await score(base!, '3')).scores.length, 100);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
});

it('`userip ctr train` merges config-file and flag CTR settings, records the bank version, and is deterministic', async () => {
  const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const config = join(dir, 'ctr-train.json');
  await writeFile(config, JSON.stringify({ ctr: { mlp: [8], epochs: 5 }, threads: 1 }));
  const train = (out: string) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [cli, 'ctr', 'train', '--config', config, '--data', join(dir, 'data'), '--run', join(dir, 'profile'), '--out', out, '--epochs', '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let stdout = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.on('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`ctr train exited with ${code}`))));
    });
  const [a, b] = [join(dir, 'ctr-a'), join(dir, 'ctr-b')];
  const summary = JSON.parse(await train(a));
  await train(b);
  const saved = JSON.parse(await readFile(join(a, 'train.json'), 'utf8'));
  assert.deepEqual(saved.config.ctr.mlp, [8]);
  assert.equal(saved.config.ctr.epochs, 1);
  assert.equal(summary.epochs, 1);
  const bank = await SqliteFeatureBank.open(join(dir, 'profile', 'bank.sqlite'), { readonly: true });
  const version = versionId((await bank.version())!);
  await bank.close();
  assert.equal(summary.bank_version, version);
  assert.ok(summary.test_auc > 0 && summary.test_auc < 1);
  const weights = async (d: string) => readFile(join(d, JSON.parse(await readFile(join(d, 'model.json'), 'utf8')).weights));
  assert.deepEqual(await weights(a), await weights(b));
});
