/**
 * `userip worker`: takes shard jobs (one E-step of a shard of users) from the `userip-tune` queue, of
 * any run, on any machine that reaches the Redis server.
 *
 * The LM is loaded once per process (from --lm, or the run's own LM setting) and its content id must be
 * the run's, or the job fails at once without retries: tokens tuned against another LM are worthless.
 * The shard's result goes to Redis in one SET under a key naming the run, round, shard, LM and
 * settings; a job whose result is already there returns at once, so a job run twice (a worker thought
 * dead that was not) gives the same stored result. A killed worker's job stays active until its lock
 * expires (lockDuration), and then BullMQ's stalled-job check, run by any live worker, puts it back in
 * the queue for another.
 */
import { Job, UnrecoverableError, Worker } from 'bullmq';
import { hostname } from 'node:os';
import { Runtime } from '../engine/index.js';
import { loadLm, type CausalLm } from '../lm/index.js';
import { templateTokens, trainerOptions, tuneShardRound } from '../profile/index.js';
import { BullConnections, TUNE_QUEUE, type ShardJobData, type ShardProgress } from './jobs.js';
import { TuneStore } from './store.js';

export interface TuneWorkerOptions {
  redis: string;
  /** Shard jobs at once in this process (they share the LM and its ONNX sessions). */
  concurrency: number;
  /** ORT threads of this process. */
  threads?: number;
  /** The LM to load (a Hugging Face directory or "house"); default: the LM setting of each job's run. */
  lm?: string;
  /** How long a job's lock lives without renewal: a killed worker's job is taken up again after about this long. */
  lockMs: number;
  /** How many times a job may be recovered from a stalled worker before it fails. */
  maxStalled: number;
  onEvent?: (event: WorkerEvent) => void;
}

export type WorkerEvent =
  | { kind: 'ready'; name: string }
  | { kind: 'lm'; id: string; spec: string }
  | { kind: 'start'; job: string; users: number }
  | { kind: 'cached'; job: string }
  | { kind: 'done'; job: string; users: number; seconds: number }
  | { kind: 'failed'; job: string; error: string };

export interface TuneWorker {
  name: string;
  /** Stops taking jobs; waits for the running ones unless `force` (they are then recovered by another worker). */
  close(force?: boolean): Promise<void>;
}

export async function startTuneWorker(opts: TuneWorkerOptions): Promise<TuneWorker> {
  const name = `${hostname()}:${process.pid}`;
  const store = await TuneStore.open(opts.redis);
  const runtime = new Runtime({ threads: opts.threads });
  const lms = new Map<string, Promise<CausalLm>>();
  const lmFor = (spec: string): Promise<CausalLm> => {
    let lm = lms.get(spec);
    if (!lm) {
      lm = loadLm(spec, runtime);
      lms.set(spec, lm);
      lm.then((m) => opts.onEvent?.({ kind: 'lm', id: m.id, spec }), () => lms.delete(spec));
    }
    return lm;
  };
  if (opts.lm) await lmFor(opts.lm);

  const connections = new BullConnections(opts.redis);
  const worker = new Worker<ShardJobData>(TUNE_QUEUE, (job) => tuneShard(job), {
    connection: connections.next(),
    name,
    concurrency: opts.concurrency,
    lockDuration: opts.lockMs,
    stalledInterval: opts.lockMs,
    maxStalledCount: opts.maxStalled,
  });
  worker.on('failed', (job, error) => job && opts.onEvent?.({ kind: 'failed', job: job.id!, error: error.message }));
  await worker.waitUntilReady();
  opts.onEvent?.({ kind: 'ready', name });

  return {
    name,
    async close(force = false) {
      await worker.close(force);
      connections.close();
      await store.close();
      await runtime.close();
    },
  };

  async function tuneShard(job: Job<ShardJobData>): Promise<{ users: number; cached: boolean }> {
    const { run, round, shard } = job.data;
    const spec = await store.requireSpec(run);
    const part = spec.shards[shard];
    if (!part) throw new UnrecoverableError(`tune run ${run} has ${spec.shards.length} shards, no shard ${shard}`);
    if (await store.shardResult(spec, round, shard).then((r) => r !== undefined)) {
      opts.onEvent?.({ kind: 'cached', job: job.id! });
      return { users: part.count, cached: true };
    }
    const lm = await lmFor(opts.lm ?? spec.config.lm);
    if (lm.id !== spec.lmId) {
      throw new UnrecoverableError(`this worker's LM (${opts.lm ?? spec.config.lm}, content id ${lm.id.slice(0, 12)}) is not the LM of tune run ${run} (${spec.lmId.slice(0, 12)}): start the worker with --lm pointing at a copy of the run's LM`);
    }
    const trainer = trainerOptions(spec.config, lm.id, undefined);
    if (trainer.configHash !== spec.configHash) {
      throw new UnrecoverableError(`this worker reads tune run ${run}'s settings as config ${trainer.configHash.slice(0, 12)}, the coordinator as ${spec.configHash.slice(0, 12)}: run the same userip version on the coordinator and the workers`);
    }
    const users = await store.windows(run, shard);
    const input = await store.input(run, round);
    if (!input) throw new Error(`tune run ${run} has no input for E-step ${round + 1} yet`);
    const S = spec.config.slots.length;
    const D = lm.hiddenSize;
    let start: { deltas: Float32Array; steps: readonly number[] } = { deltas: new Float32Array(users.length * S * D), steps: new Array<number>(users.length).fill(0) };
    if (round > 0) {
      const previous = await store.shardResult(spec, round - 1, shard);
      if (!previous) throw new Error(`tune run ${run}: shard ${shard} has no stored result of E-step ${round}`);
      start = { deltas: previous.deltas, steps: previous.steps };
    }
    opts.onEvent?.({ kind: 'start', job: job.id!, users: users.length });
    const began = Date.now();

    // Progress in user steps: the trainer reports its position in the current pass over active users.
    const budget = users.length * spec.config.userSteps;
    let steps = 0;
    let inPass = 0;
    let reported = 0;
    const template = templateTokens(lm.tokenizer, spec.config.slots, spec.config.behaviourPrefix);
    const result = await tuneShardRound(lm, template, users, users.map((_, i) => part.first + i), round, input, start, trainer, (p) => {
      steps += p.done > inPass ? p.done - inPass : p.done;
      inPass = p.done;
      if (reported === 0 || Date.now() - reported > 1000) {
        reported = Date.now();
        const progress: ShardProgress = { steps, budget, worker: name };
        job.updateProgress(progress).catch(() => undefined);
      }
    });
    await store.putShardResult(spec, round, shard, result);
    opts.onEvent?.({ kind: 'done', job: job.id!, users: users.length, seconds: (Date.now() - began) / 1000 });
    return { users: users.length, cached: false };
  }
}
