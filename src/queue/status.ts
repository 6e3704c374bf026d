/** `userip queue status`: where a distributed tune run stands, from its stored results and its BullMQ jobs. */
import { Job, Queue } from 'bullmq';
import { BullConnections, fitJobId, fitQueue, shardJobId, TUNE_QUEUE, type ShardProgress } from './jobs.js';
import { TuneStore } from './store.js';

export interface RoundStatus {
  round: number;
  shards_done: number;
  /** The M-step's codebooks are stored. */
  fitted: boolean;
  val_nll?: number;
}

export interface ShardJobStatus {
  shard: number;
  state: string;
  worker?: string;
  /** User steps so far / budget, while active. */
  progress?: string;
  /** Attempts that failed, and times the job was taken back from a worker that stopped renewing its lock. */
  attempts_made: number;
  stalled: number;
  failed_reason?: string;
}

export interface RunStatus {
  run: string;
  lm_id: string;
  data: string;
  out: string;
  created_at: string;
  users: number;
  shards: number;
  rounds: number;
  population_done: boolean;
  per_round: RoundStatus[];
  /** The first round not yet fitted, and its shard jobs (none once the run is finished). */
  current_round?: number;
  jobs: ShardJobStatus[];
  /** Workers connected to the shard queue now (any run's). */
  workers: number;
  finished: boolean;
  bank_writes: number;
  bank?: string;
  bank_version?: string;
}

export async function queueStatus(redis: string, run: string): Promise<RunStatus> {
  const store = await TuneStore.open(redis);
  try {
    const spec = await store.requireSpec(run);
    const perRound: RoundStatus[] = [];
    for (let round = 0; round < spec.rounds; round++) {
      const done = await store.shardsDone(spec, round);
      const record = await store.record(run, round);
      perRound.push({ round: round + 1, shards_done: done.filter(Boolean).length, fitted: record !== undefined, val_nll: record?.valNll });
    }
    const summary = await store.summary(run);
    const current = perRound.findIndex((r) => !r.fitted);
    const jobs: ShardJobStatus[] = [];
    const connections = new BullConnections(redis);
    const queue = new Queue(TUNE_QUEUE, { connection: connections.next() });
    const fits = new Queue(fitQueue(run), { connection: connections.next() });
    let workers: number;
    try {
      workers = await queue.getWorkersCount();
      if (current >= 0) {
        for (let s = 0; s < spec.shards.length; s++) {
          const job = await Job.fromId(queue, shardJobId(run, current, s));
          if (!job) {
            jobs.push({ shard: s, state: 'not queued', attempts_made: 0, stalled: 0 });
            continue;
          }
          const state = await job.getState();
          const p = job.progress as ShardProgress | number;
          jobs.push({
            shard: s,
            state,
            worker: job.processedBy,
            progress: state === 'active' && typeof p === 'object' ? `${p.steps}/${p.budget}` : undefined,
            attempts_made: job.attemptsMade,
            stalled: job.stalledCounter,
            failed_reason: job.failedReason || undefined,
          });
        }
        const parent = await Job.fromId(fits, fitJobId(run, current));
        if (parent) jobs.push({ shard: -1, state: await parent.getState(), attempts_made: parent.attemptsMade, stalled: parent.stalledCounter, failed_reason: parent.failedReason || undefined });
      }
    } finally {
      await queue.close();
      await fits.close();
      connections.close();
    }
    return {
      run,
      lm_id: spec.lmId,
      data: spec.config.data,
      out: spec.config.out,
      created_at: spec.createdAt,
      users: spec.users,
      shards: spec.shards.length,
      rounds: spec.rounds,
      population_done: await store.hasInput(run, 0),
      per_round: perRound,
      current_round: current >= 0 ? current + 1 : undefined,
      jobs,
      workers,
      finished: summary !== undefined,
      bank_writes: await store.bankWrites(run),
      bank: summary?.bank,
      bank_version: summary?.bank_version,
    };
  } finally {
    await store.close();
  }
}
