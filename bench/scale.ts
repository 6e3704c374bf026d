/**
 * `npm run bench -- scale [--users N] [--shard-users N]`: distributed profile tuning on this machine, with
 * the shipped house LM and the demo's tune settings on the first N users of MovieLens latest-small, against
 * a redis-server started here on loopback.
 *
 *  1. One process, no queue (`profile tune`): the reference tokens and codes.
 *  2. The queue with 1 worker × 2 ORT threads, then with 2 workers × 1 thread: users/s through all the
 *     E-steps (the part that spreads over workers; the population token and the M-steps are a fixed cost
 *     in the coordinator), from the last E-step's time, after the workers' warm-up; and whether the tokens
 *     and codes equal the reference (within 1e-5).
 *  3. 2 workers × 1 thread again, one SIGKILLed as soon as it reports progress on a shard: the run must
 *     complete, the shard must have been taken back by BullMQ's stalled-job check, and the result must
 *     still equal the reference.
 *  4. From the best layout: users/s per core, and the hours 10 M users would take on K machines like this.
 *
 * The machine is shared: numbers are what this run measured, under whatever else was running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Job, Queue, QueueEvents } from 'bullmq';
import { createClient, type RedisClientType } from 'redis';
import { SqliteFeatureBank } from '../src/bank/index.js';
import { prepareData } from '../src/data/index.js';
import { readDemoConfig } from '../src/eval/index.js';
import { readRunProfiles, tuneRun, tuneSchema, type TuneConfig } from '../src/profile/index.js';
import { TUNE_QUEUE, tuneOnQueue } from '../src/queue/index.js';
import { startRedisServer } from '../test/serve/redisServer.js';
import { emit, round } from './util.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const TARGET_USERS = 10_000_000;
const MACHINES = [1, 2, 4, 8, 16, 32, 64, 128];

export async function scaleBench(args: string[]): Promise<void> {
  const users = intArg(args, '--users', 48);
  const shardUsers = intArg(args, '--shard-users', 6);
  const dir = await mkdtemp(join(tmpdir(), 'userip-bench-scale-'));
  const redis = await startRedisServer();
  const children: ChildProcess[] = [];
  const clients: RedisClientType[] = [];
  try {
    await prepareData({ dataset: 'embedded', out: join(dir, 'data'), threshold: 3, skipBadRows: false, maxUsers: users });
    const demo = await readDemoConfig();
    const config = (out: string): TuneConfig => tuneSchema.parse({ ...demo.tune, data: join(dir, 'data'), out: join(dir, out), lm: 'house', threads: 2, diagnosticsUsers: 0 });

    const single = await tuneRun(config('single'));
    emit({ bench: 'scale', event: 'single-process', users: single.users, threads: 2, seconds: round(single.seconds), users_per_s: round(single.users_per_s) });

    const client = (): RedisClientType => {
      const c: RedisClientType = createClient({ url: redis.url });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    };
    const startWorkers = async (count: number, threads: number, lockMs = 30_000) => {
      const started = Array.from({ length: count }, () => {
        const child = spawn(process.execPath, [CLI, 'worker', '--redis', redis.url, '--threads', String(threads), '--lm', 'house', '--lock-ms', String(lockMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
        children.push(child);
        const ready = new Promise<void>((resolve, reject) => {
          child.stdout!.setEncoding('utf8');
          child.stdout!.on('data', (chunk: string) => chunk.includes('waiting for') && resolve());
          child.once('exit', (code) => reject(new Error(`worker exited with code ${code} before it was ready`)));
        });
        return { child, ready };
      });
      await Promise.all(started.map((w) => w.ready));
      return started.map((w) => w.child);
    };
    const stopWorkers = async (workers: ChildProcess[]) => {
      await Promise.all(workers.filter((w) => w.exitCode === null && w.signalCode === null).map((w) => new Promise((resolve) => {
        w.once('exit', resolve);
        w.kill('SIGTERM');
      })));
    };

    const layouts: { workers: number; threads: number; users_per_s: number; equal: boolean }[] = [];
    for (const [workers, threads] of [[1, 2], [2, 1]]) {
      const procs = await startWorkers(workers, threads);
      const out = `queue-${workers}x${threads}`;
      const run = await tuneOnQueue(config(out), { redis: redis.url, shardUsers });
      await stopWorkers(procs);
      // Users tuned through every E-step per second, from the last E-step (the first includes each
      // worker's ONNX session warm-up).
      const usersPerS = run.users / (run.timings.eSteps.at(-1)! * run.timings.eSteps.length);
      const same = await sameAsSingle(join(dir, out), join(dir, 'single'));
      layouts.push({ workers, threads, users_per_s: usersPerS, equal: same.equal });
      emit({
        bench: 'scale',
        event: 'queue',
        workers,
        threads_per_worker: threads,
        users: run.users,
        shards: Math.ceil(run.users / shardUsers),
        population_s: round(run.timings.population),
        e_step_s: run.timings.eSteps.map((s) => round(s)),
        m_step_s: run.timings.mSteps.map((s) => round(s)),
        users_per_s: round(usersPerS),
        users_per_s_with_warm_up: round(run.users / run.timings.eSteps.reduce((a, b) => a + b, 0)),
        end_to_end_users_per_s: round(run.users_per_s),
        max_token_diff: same.maxDiff,
        same_codes: same.sameCodes,
      });
    }

    // A worker SIGKILLed mid-shard: its job must come back through the stalled-job check.
    const procs = await startWorkers(2, 1, 3000);
    const events = new QueueEvents(TUNE_QUEUE, { connection: client() });
    await events.waitUntilReady();
    let killed: string | undefined;
    events.on('progress', ({ jobId, data }) => {
      // The first worker to report progress on a shard is killed right then, mid-shard.
      const victim = procs.find((p) => (data as { worker: string }).worker.endsWith(`:${p.pid}`));
      if (killed || !victim) return;
      killed = jobId;
      victim.kill('SIGKILL');
    });
    const killRun = await tuneOnQueue(config('queue-killed'), { redis: redis.url, shardUsers });
    await events.close();
    const queue = new Queue(TUNE_QUEUE, { connection: client() });
    const stalled: string[] = [];
    for (let r = 0; r < killRun.history.length; r++) {
      for (let s = 0; s * shardUsers < killRun.users; s++) {
        const job = await Job.fromId(queue, `${killRun.run}-r${r}-s${s}`);
        if (job && job.stalledCounter > 0 && (await job.getState()) === 'completed') stalled.push(job.id!);
      }
    }
    await queue.close();
    await stopWorkers(procs);
    const killedSame = await sameAsSingle(join(dir, 'queue-killed'), join(dir, 'single'));
    const recovered = killed !== undefined && stalled.length > 0;
    emit({ bench: 'scale', event: 'worker-killed', killed_while: killed, recovered_jobs: stalled, max_token_diff: killedSame.maxDiff, same_codes: killedSame.sameCodes });

    const cores = availableParallelism();
    const best = layouts.reduce((a, b) => (b.users_per_s > a.users_per_s ? b : a));
    const perCore = best.users_per_s / cores;
    const hours = Object.fromEntries(MACHINES.map((k) => [k, round(TARGET_USERS / (perCore * cores * k) / 3600, 1)]));
    emit({ bench: 'scale', event: 'projection', cores_per_machine: cores, users_per_s_per_core: round(perCore, 3), target_users: TARGET_USERS, hours_by_machines: hours, note: 'all E-steps of every user; the population token and the M-steps (k-means over every user, in one process) are extra' });
    const twoWorkers = layouts.find((l) => l.workers === 2)!;
    emit({
      bench: 'scale',
      workers: twoWorkers.workers,
      users_per_s: round(twoWorkers.users_per_s),
      users_per_s_1_worker_2_threads: round(layouts.find((l) => l.workers === 1)!.users_per_s),
      users_per_s_per_core: round(perCore, 3),
      hours_10m_users_by_machines: hours,
      equal_to_single: layouts.every((l) => l.equal) && killedSame.equal,
      recovered_after_kill: recovered && killedSame.equal,
    });
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const c of clients) if (c.isOpen) c.destroy();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Whether a queued run's soft tokens are the single-process run's within 1e-5, with the same codes in its bank. */
async function sameAsSingle(run: string, single: string): Promise<{ equal: boolean; maxDiff: number; sameCodes: boolean }> {
  const [a, b] = await Promise.all([readRunProfiles(run), readRunProfiles(single)]);
  if (JSON.stringify(a.users) !== JSON.stringify(b.users)) return { equal: false, maxDiff: Infinity, sameCodes: false };
  let maxDiff = 0;
  for (let i = 0; i < a.softTokens.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.softTokens[i] - b.softTokens[i]));
  const [ba, bb] = await Promise.all([SqliteFeatureBank.open(join(run, 'bank.sqlite'), { readonly: true }), SqliteFeatureBank.open(join(single, 'bank.sqlite'), { readonly: true })]);
  let sameCodes = (await ba.count()) === a.users.length;
  for (const user of a.users) sameCodes &&= JSON.stringify((await ba.get(user))?.ids) === JSON.stringify((await bb.get(user))?.ids);
  await ba.close();
  await bb.close();
  return { equal: maxDiff < 1e-5 && sameCodes, maxDiff, sameCodes };
}

function intArg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} needs a positive integer, got ${args[i + 1]}`);
  return v;
}
