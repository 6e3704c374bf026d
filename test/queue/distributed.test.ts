/**
 * Distributed tuning against a real redis-server on loopback, with `userip worker` processes, on a
 * 30-user slice of MovieLens latest-small and a tiny LM:
 *  - two workers, one SIGKILLed mid-shard: BullMQ's stalled-job check gives its shard to the other, the
 *    run completes, and its soft tokens and codes are the single-process run's; the bank is written once;
 *  - a coordinator SIGKILLed mid-run: the same command resumes, and no finished shard is tuned again;
 *  - a worker with another LM fails the shard at once, and the coordinator says which and why.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, it } from 'node:test';
import { Job, Queue, QueueEvents } from 'bullmq';
import { createClient, type RedisClientType } from 'redis';
import { SqliteFeatureBank } from '../../src/bank/index.js';
import { prepareData } from '../../src/data/index.js';
import { readRunProfiles, tuneRun, tuneSchema, type TuneConfig } from '../../src/profile/index.js';
import { queueStatus, TUNE_QUEUE, tuneOnQueue, TuneStore } from '../../src/queue/index.js';
import { startRedisServer, type RedisServer } from '../serve/redisServer.js';
import { writeTinyCheckpoint } from '../helpers/tinyCheckpoint.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
let dir: string;
let redis: RedisServer;
const children: ChildProcess[] = [];
const clients: RedisClientType[] = [];

/** A client for the test's own BullMQ objects (BullMQ leaves closing a client it was given to its owner). */
function client(): RedisClientType {
  const c: RedisClientType = createClient({ url: redis.url });
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'userip-queue-'));
  redis = await startRedisServer();
  await writeTinyCheckpoint(join(dir, 'lm'), { architecture: 'gpt2', seed: 4, hiddenSize: 32, numLayers: 2, numHeads: 4, maxPositions: 128 });
  await writeTinyCheckpoint(join(dir, 'other-lm'), { architecture: 'gpt2', seed: 5, hiddenSize: 32, numLayers: 2, numHeads: 4, maxPositions: 128 });
  await prepareData({ dataset: 'embedded', out: join(dir, 'data'), threshold: 3, skipBadRows: false, maxUsers: 30 });
});
after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const c of clients) if (c.isOpen) c.destroy();
  await redis.stop();
  await rm(dir, { recursive: true, force: true });
});

const flags = ['--behaviour-tokens', '40', '--user-steps', '6', '--convergence', '0', '--em-rounds', '2', '--population-steps', '4', '--batch-tokens', '256', '--diagnostics-users', '4', '--lr', '0.05', '--threads', '1'];
const settings = (out: string, seed = 0): TuneConfig =>
  tuneSchema.parse({ data: join(dir, 'data'), out, lm: join(dir, 'lm'), behaviourTokens: 40, userSteps: 6, convergence: 0, emRounds: 2, populationSteps: 4, batchTokens: 256, diagnosticsUsers: 4, lr: 0.05, threads: 1, seed });

interface Spawned {
  child: ChildProcess;
  pid: number;
  log: string[];
  ready: Promise<void>;
  exited: Promise<number | null>;
}

function spawnCli(args: string[], readyLine?: RegExp): Spawned {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const log: string[] = [];
  let ready: () => void = () => undefined;
  const readyPromise = new Promise<void>((resolve) => (ready = resolve));
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      log.push(...chunk.split('\n').filter(Boolean));
      if (readyLine && log.some((l) => readyLine.test(l))) ready();
    });
  }
  // 'close', not 'exit': the output is all read by then.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, pid: child.pid!, log, ready: readyPromise, exited };
}

const startWorker = (...extra: string[]) => spawnCli(['worker', '--redis', redis.url, '--threads', '1', '--lock-ms', '1500', ...extra], /waiting for userip-tune jobs/);

async function maxTokenDiff(a: string, b: string): Promise<{ diff: number; sameIds: boolean }> {
  const [x, y] = await Promise.all([readRunProfiles(a), readRunProfiles(b)]);
  assert.deepEqual(x.users, y.users);
  let diff = 0;
  for (let i = 0; i < x.softTokens.length; i++) diff = Math.max(diff, Math.abs(x.softTokens[i] - y.softTokens[i]));
  const [bx, by] = await Promise.all([SqliteFeatureBank.open(join(a, 'bank.sqlite'), { readonly: true }), SqliteFeatureBank.open(join(b, 'bank.sqlite'), { readonly: true })]);
  try {
    let sameIds = (await bx.count()) === x.users.length && (await by.count()) === y.users.length;
    for (const user of x.users) sameIds &&= JSON.stringify((await bx.get(user))?.ids) === JSON.stringify((await by.get(user))?.ids);
    return { diff, sameIds };
  } finally {
    await bx.close();
    await by.close();
  }
}

it('two workers, one SIGKILLed mid-shard: the run completes with the single-process tokens and codes, and writes the bank once', async () => {
  const single = join(dir, 'single');
  await tuneRun(settings(single));

  const workers = [startWorker(), startWorker()];
  await Promise.all(workers.map((w) => w.ready));
  // The first worker to report progress on a shard is killed right then, mid-shard.
  const events = new QueueEvents(TUNE_QUEUE, { connection: client() });
  await events.waitUntilReady();
  let killed: { pid: number; job: string } | undefined;
  events.on('progress', ({ jobId, data }) => {
    const victim = workers.find((w) => (data as { worker: string }).worker.endsWith(`:${w.pid}`));
    if (killed || !victim) return;
    killed = { pid: victim.pid, job: jobId };
    victim.child.kill('SIGKILL');
  });

  const out = join(dir, 'queued');
  const summary = await tuneOnQueue(settings(out), { redis: redis.url, shardUsers: 8 });
  await events.close();
  assert.ok(killed, 'a worker was killed');

  // The killed worker's job was taken back by BullMQ's stalled-job check and finished by the other.
  const queue = new Queue(TUNE_QUEUE, { connection: client() });
  const job = await Job.fromId(queue, killed.job);
  assert.equal(await job!.getState(), 'completed');
  assert.ok(job!.stalledCounter >= 1, `job ${killed.job} was recovered from the dead worker (stalled ${job!.stalledCounter}x)`);
  const survivor = workers.find((w) => w.pid !== killed!.pid)!;
  assert.ok(job!.processedBy?.endsWith(`:${survivor.pid}`), `job ${killed.job} finished by ${job!.processedBy}`);
  await queue.close();
  assert.ok(survivor.log.some((l) => l.includes(`${killed!.job}: tuning`)), 'the survivor tuned the dead worker\'s shard again');

  const { diff, sameIds } = await maxTokenDiff(out, single);
  assert.ok(diff < 1e-5, `soft tokens differ from the single-process run's by ${diff}`);
  assert.ok(sameIds, 'every user has the single-process run\'s codes in the bank');
  assert.equal(summary.users, 30);
  const status = await queueStatus(redis.url, summary.run);
  assert.equal(status.finished, true);
  assert.equal(status.bank_writes, 1);
  assert.deepEqual(status.per_round.map((r) => r.shards_done), [4, 4]);
  const printed = spawnCli(['queue', 'status', '--redis', redis.url, '--run', summary.run]);
  assert.equal(await printed.exited, 0);
  assert.match(printed.log.join('\n'), new RegExp(`run ${summary.run}: 30 users in 4 shards, 2 E-steps[\\s\\S]*E-step 2: 4/4 shards, M-step done[\\s\\S]*finished: bank .*bank.sqlite .* written 1x`));

  // SIGTERM: the surviving worker finishes (nothing is running) and exits cleanly.
  survivor.child.kill('SIGTERM');
  assert.equal(await survivor.exited, 0);
});

it('a coordinator killed mid-run: rerunning the command resumes, no finished shard is tuned again, same result', async () => {
  const single = join(dir, 'single-seed1');
  await tuneRun(settings(single, 1));
  const worker = startWorker('--concurrency', '2', '--lm', join(dir, 'lm'));
  await worker.ready;
  const out = join(dir, 'resumed');
  const args = ['profile', 'tune', '--data', join(dir, 'data'), '--out', out, '--lm', join(dir, 'lm'), ...flags, '--seed', '1', '--queue', redis.url, '--shard-users', '8'];

  const first = spawnCli(args);
  // Kill the coordinator once the first E-step's M-step job is done, before the run ends.
  const store = await TuneStore.open(redis.url);
  let run: string | undefined;
  while (!run) {
    run = first.log.map((l) => /^run ([0-9a-f]{16}):/.exec(l)?.[1]).find(Boolean);
    await new Promise((r) => setTimeout(r, 20));
  }
  const fits = new Queue(`userip-fit-${run}`, { connection: client() });
  while ((await (await Job.fromId(fits, `${run}-fit0`))?.getState()) !== 'completed') await new Promise((r) => setTimeout(r, 20));
  await fits.close();
  first.child.kill('SIGKILL');
  await first.exited;
  assert.equal(await store.summary(run), undefined, 'the coordinator must be killed before the run ends for this test to mean anything');
  await store.close();

  const second = spawnCli(args);
  assert.equal(await second.exited, 0, second.log.join('\n'));
  assert.ok(second.log.some((l) => l.includes(`run ${run}:`) && l.includes('(resumed)')));
  // Each shard of each E-step was tuned exactly once.
  const tuned = worker.log.flatMap((l) => /(\S+-r\d+-s\d+): tuning/.exec(l)?.[1] ?? []);
  assert.equal(tuned.length, 8, tuned.join(' '));
  assert.equal(new Set(tuned).size, 8);

  const { diff, sameIds } = await maxTokenDiff(out, single);
  assert.ok(diff < 1e-5, `soft tokens differ from the single-process run's by ${diff}`);
  assert.ok(sameIds);
  worker.child.kill('SIGTERM');
  assert.equal(await worker.exited, 0);
});

it('a worker with another LM fails the shard at once, and the coordinator names the shard and the LM mismatch', async () => {
  const worker = startWorker('--lm', join(dir, 'other-lm'));
  await worker.ready;
  await assert.rejects(tuneOnQueue(settings(join(dir, 'wrong-lm'), 2), { redis: redis.url, shardUsers: 15 }), /shard \d of E-step 1 failed after 1 attempt\(s\): this worker's LM .* is not the LM of tune run/);
  worker.child.kill('SIGTERM');
  assert.equal(await worker.exited, 0);
});
