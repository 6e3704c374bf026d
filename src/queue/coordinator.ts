/**
 * `userip profile tune --queue`: the coordinator of a distributed tune run.
 *
 * It reads the data and cuts every user's behaviour into windows as the local run does, stores them in
 * Redis shard by shard, and tunes the population token itself (one phase that couples every user).
 * Then, per EM round, it adds one BullMQ flow: a child job per shard (the E-step, on the `userip-tune`
 * queue, taken by `userip worker`s anywhere) under a parent job (the M-step, on this run's own queue,
 * taken by this process). BullMQ runs the parent once every child is done; it fits the codebooks on
 * every user's token and stores them for the next round; the last round's parent also writes the run's
 * files and its feature bank, once.
 *
 * Everything is keyed by the run id (settings, LM, users, shard size), and job ids are deterministic: a
 * rerun of the same command skips what is stored, reattaches to jobs still queued, retries failed ones,
 * and finished shards are not tuned again.
 */
import { FlowProducer, Job, Queue, QueueEvents, Worker } from 'bullmq';
import { loadPrepared } from '../data/index.js';
import { Runtime } from '../engine/index.js';
import { saveConfig } from '../io/files.js';
import { loadLm } from '../lm/index.js';
import {
  behaviourWindows,
  fitRound,
  roundRecord,
  writeRunOutputs,
  templateTokens,
  trainerOptions,
  tunePopulation,
  tuneResultOf,
  type ShardRoundResult,
  type TuneConfig,
  type TuneSummary,
} from '../profile/index.js';
import { BullConnections, fitJobId, fitQueue, runIdOf, SHARD_ATTEMPTS, shardJobId, TUNE_QUEUE, type FitJobData, type ShardJobData, type ShardProgress } from './jobs.js';
import { TuneStore, type RunSpec } from './store.js';

export interface QueueTuneOptions {
  /** redis://HOST:PORT of the queue (and of the run's intermediate results). */
  redis: string;
  /** Users per shard job. */
  shardUsers: number;
  onEvent?: (event: CoordinatorEvent) => void;
}

/** What the coordinator reports; the CLI draws it (domain code never prints). */
export type CoordinatorEvent =
  | { kind: 'run'; run: string; users: number; shards: number; resumed: boolean }
  | { kind: 'population'; done: number; total: number; loss: number }
  | { kind: 'round'; round: number; rounds: number; steps: number; budget: number; shardsDone: number; shards: number }
  | { kind: 'fit'; round: number; rounds: number }
  /** Workers connected to the shard queue when a round starts (its jobs wait until one is). */
  | { kind: 'workers'; count: number };

/** Wall-clock seconds of this process's phases (a resumed run counts only what it did itself). */
export interface QueueTimings {
  population: number;
  /** Per E-step run here: from adding its flow until its last shard was done, then its M-step. */
  eSteps: number[];
  mSteps: number[];
}

/** Lock of an M-step job (see the fit worker). */
const FIT_LOCK_MS = 5 * 60_000;

export async function tuneOnQueue(config: TuneConfig, opts: QueueTuneOptions): Promise<TuneSummary & { run: string; timings: QueueTimings }> {
  if (!Number.isInteger(opts.shardUsers) || opts.shardUsers < 1) throw new Error(`--shard-users must be a positive integer, got ${opts.shardUsers}`);
  await saveConfig(config.out, config);
  const runtime = new Runtime({ threads: config.threads });
  const store = await TuneStore.open(opts.redis);
  const connections = new BullConnections(opts.redis);
  const closers: (() => Promise<unknown>)[] = [];
  try {
    const lm = await loadLm(config.lm, runtime);
    const prepared = await loadPrepared(config.data);
    const users = behaviourWindows(prepared, lm, config);
    if (users.length === 0) throw new Error(`${config.data} has no user with train interactions to tune`);
    const trainer = trainerOptions(config, lm.id, undefined);
    const template = templateTokens(lm.tokenizer, config.slots, config.behaviourPrefix);
    const S = config.slots.length;
    const D = lm.hiddenSize;
    const rounds = config.emRounds;
    const run = runIdOf(trainer.configHash, opts.shardUsers, users.map((u) => u.user), config.out);

    let spec = await store.spec(run);
    const resumed = spec !== undefined;
    if (!spec) {
      const shards = Array.from({ length: Math.ceil(users.length / opts.shardUsers) }, (_, s) => ({ first: s * opts.shardUsers, count: Math.min(opts.shardUsers, users.length - s * opts.shardUsers) }));
      for (const [s, { first, count }] of shards.entries()) await store.putWindows(run, s, users.slice(first, first + count));
      // The spec last: a run whose spec is stored has all its windows.
      spec = { run, config, lmId: lm.id, configHash: trainer.configHash, users: users.length, shards, rounds, createdAt: new Date().toISOString() };
      await store.putSpec(spec);
    }
    const theSpec: RunSpec = spec;
    opts.onEvent?.({ kind: 'run', run, users: users.length, shards: theSpec.shards.length, resumed });

    const timings: QueueTimings = { population: 0, eSteps: [], mSteps: [] };
    const finished = await store.summary(run);
    if (finished) return { ...finished, run, timings };

    // 1. The population token, here: it samples every user's windows.
    if (!(await store.hasInput(run, 0))) {
      const began = Date.now();
      const pop = await tunePopulation(lm, template, users, { ...trainer, onProgress: (p) => opts.onEvent?.({ kind: 'population', done: p.done, total: p.total, loss: p.loss }) });
      await store.putInput(run, 0, { population: pop.population, codebooks: [], deltaCentroids: [], valNllStart: pop.valNllStart, batches: pop.batches, tokens: pop.tokens });
      timings.population = (Date.now() - began) / 1000;
    }

    // 2. The M-steps: this process takes its run's parent jobs.
    const fitWorker = new Worker<FitJobData>(fitQueue(run), (job) => fit(job.data.round), {
      connection: connections.next(),
      concurrency: 1,
      // k-means runs on this thread and may hold it longer than a lock renewal period; only this run's
      // coordinator takes these jobs, so a long lock costs only a rerun's wait after a coordinator died mid-M-step.
      lockDuration: FIT_LOCK_MS,
      maxStalledCount: 10,
    });
    closers.push(() => fitWorker.close());
    const fitEvents = new QueueEvents(fitQueue(run), { connection: connections.next() });
    closers.push(() => fitEvents.close());
    const shardEvents = new QueueEvents(TUNE_QUEUE, { connection: connections.next() });
    closers.push(() => shardEvents.close());
    const flows = new FlowProducer({ connection: connections.next() });
    closers.push(() => flows.close());
    const shardQueue = new Queue<ShardJobData>(TUNE_QUEUE, { connection: connections.next() });
    closers.push(() => shardQueue.close());
    const fitJobs = new Queue<FitJobData>(fitQueue(run), { connection: connections.next() });
    closers.push(() => fitJobs.close());
    await Promise.all([fitEvents.waitUntilReady(), shardEvents.waitUntilReady()]);

    // 3. The EM rounds, one flow each.
    for (let round = 0; round < rounds; round++) {
      const last = round === rounds - 1;
      if (last ? await store.summary(run) : await store.hasInput(run, round + 1)) continue;
      await runRound(round);
    }
    const summary = await store.summary(run);
    if (!summary) throw new Error(`tune run ${run}: the last M-step finished without storing the run's summary`);
    return { ...summary, run, timings };

    async function runRound(round: number): Promise<void> {
      const shards = theSpec.shards;
      const budget = shards.map((s) => s.count * config.userSteps);
      const steps = new Array<number>(shards.length).fill(0);
      const done = await store.shardsDone(theSpec, round);
      const report = () =>
        opts.onEvent?.({ kind: 'round', round, rounds, steps: steps.reduce((a, b) => a + b, 0), budget: budget.reduce((a, b) => a + b, 0), shardsDone: done.filter(Boolean).length, shards: shards.length });
      done.forEach((d, s) => d && (steps[s] = budget[s]));
      if (!done.every(Boolean)) opts.onEvent?.({ kind: 'workers', count: await shardQueue.getWorkersCount() });
      report();
      const began = Date.now();
      let shardsFinished = Date.now();
      const shardOf = (jobId: string): number | undefined => {
        const prefix = `${run}-r${round}-s`;
        return jobId.startsWith(prefix) ? Number(jobId.slice(prefix.length)) : undefined;
      };
      const onProgress = ({ jobId, data }: { jobId: string; data: unknown }) => {
        const s = shardOf(jobId);
        if (s === undefined || done[s]) return;
        steps[s] = Math.min(budget[s], (data as ShardProgress).steps);
        report();
      };
      const onCompleted = ({ jobId }: { jobId: string }) => {
        const s = shardOf(jobId);
        if (s === undefined) return;
        done[s] = true;
        steps[s] = budget[s];
        shardsFinished = Date.now();
        report();
      };
      let failed: (error: Error) => void = () => undefined;
      const failure = new Promise<never>((_, reject) => (failed = reject));
      failure.catch(() => undefined);
      const onFailedAsync = async ({ jobId, failedReason }: { jobId: string; failedReason: string }) => {
        const s = shardOf(jobId);
        if (s === undefined) return;
        // 'failed' is also sent for an attempt that will be retried: only a job in the failed set stops the run.
        const job = await Job.fromId(shardQueue, jobId);
        if ((await job?.getState()) === 'failed') {
          failed(new Error(`tune run ${run}: shard ${s} of E-step ${round + 1} failed after ${job!.attemptsMade} attempt(s): ${failedReason}; fix it and rerun the same command to retry the shard`));
        }
      };
      // The listener's own Redis reads can fail (a connection closing as the run stops): that error is
      // the run's failure, not an unhandled rejection.
      const onFailed = (event: { jobId: string; failedReason: string }) => void onFailedAsync(event).catch(failed);
      shardEvents.on('progress', onProgress);
      shardEvents.on('completed', onCompleted);
      shardEvents.on('failed', onFailed);
      try {
        // A rerun retries what failed last time; what is queued or running is left to its worker.
        for (let s = 0; s < shards.length; s++) {
          if (done[s]) continue;
          const job = await Job.fromId(shardQueue, shardJobId(run, round, s));
          if (job && (await job.getState()) === 'failed') await job.retry('failed');
        }
        const parent = await Job.fromId(fitJobs, fitJobId(run, round));
        if (parent && (await parent.getState()) === 'failed') await parent.retry('failed');
        const tree = await flows.add({
          name: `fit ${round}`,
          queueName: fitQueue(run),
          data: { run, round },
          opts: { jobId: fitJobId(run, round) },
          children: shards.map((_, s) => ({
            name: `shard ${s}`,
            queueName: TUNE_QUEUE,
            data: { run, round, shard: s },
            opts: { jobId: shardJobId(run, round, s), attempts: SHARD_ATTEMPTS, backoff: { type: 'exponential', delay: 2000 } },
          })),
        });
        await Promise.race([tree.job.waitUntilFinished(fitEvents), failure]);
        timings.eSteps.push((shardsFinished - began) / 1000);
        timings.mSteps.push((Date.now() - shardsFinished) / 1000);
      } finally {
        shardEvents.off('progress', onProgress);
        shardEvents.off('completed', onCompleted);
        shardEvents.off('failed', onFailed);
      }
    }

    /** The parent job of a round: the M-step over every shard's result; the last one writes the run's files and bank. */
    async function fit(round: number): Promise<{ round: number }> {
      opts.onEvent?.({ kind: 'fit', round, rounds });
      const input = await store.input(run, round);
      if (!input) throw new Error(`tune run ${run}: E-step ${round + 1} has no stored input`);
      const deltas = new Float32Array(users.length * S * D);
      const userSteps = new Array<number>(users.length).fill(0);
      const shards: { first: number; result: ShardRoundResult }[] = [];
      for (const [s, { first, count }] of theSpec.shards.entries()) {
        const result = await store.shardResult(theSpec, round, s);
        if (!result) throw new Error(`tune run ${run}: shard ${s} of E-step ${round + 1} has no stored result`);
        if (result.deltas.length !== count * S * D) throw new Error(`tune run ${run}: shard ${s} of E-step ${round + 1} holds ${result.deltas.length} values, not ${count} users × ${S} slots × ${D}`);
        deltas.set(result.deltas, first * S * D);
        result.steps.forEach((v, i) => (userSteps[first + i] = v));
        shards.push({ first, result });
      }
      const record = { ...roundRecord(round + 1, users, shards), batches: shards.reduce((a, s) => a + s.result.batches, 0), tokens: shards.reduce((a, s) => a + s.result.tokens, 0) };
      const fitted = fitRound(input.population, deltas, users, S, D, trainer);
      await store.putRecord(run, round, record);
      await store.putInput(run, round + 1, fitted);
      if (round === rounds - 1) {
        const start = (await store.input(run, 0))!;
        const records = await Promise.all(Array.from({ length: rounds }, async (_, r) => (await store.record(run, r))!));
        const history = records.map(({ round, valNll, trainLoss, steps }) => ({ round, valNll, trainLoss, steps }));
        const result = tuneResultOf(users, fitted, deltas, S, D, {
          valNllStart: start.valNllStart!,
          history,
          userSteps,
          batches: start.batches! + records.reduce((a, r) => a + r.batches, 0),
          tokens: start.tokens! + records.reduce((a, r) => a + r.tokens, 0),
          seconds: (Date.now() - Date.parse(theSpec.createdAt)) / 1000,
        });
        const summary = await writeRunOutputs(lm, prepared, users, result, config);
        await store.putSummary(run, summary);
      }
      return { round };
    }
  } finally {
    for (const close of closers.reverse()) await close();
    connections.close();
    await store.close();
    await runtime.close();
  }
}
