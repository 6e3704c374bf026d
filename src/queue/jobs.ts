/**
 * Names shared by the coordinator, the workers and `queue status`: queues, job ids, job payloads, and
 * the BullMQ connections (node-redis clients, the same client library as the Redis feature bank).
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { createClient, type RedisClientType } from 'redis';

/** Every run's shard jobs: any worker on any machine takes them. */
export const TUNE_QUEUE = 'userip-tune';

/** A run's M-step jobs, the parents of its shard jobs: only that run's coordinator takes them (it owns the run's files and bank). */
export function fitQueue(run: string): string {
  return `userip-fit-${run}`;
}

/** Deterministic ids, so that adding a round again (a rerun) finds the jobs already there instead of doubling them. */
export function shardJobId(run: string, round: number, shard: number): string {
  return `${run}-r${round}-s${shard}`;
}

export function fitJobId(run: string, round: number): string {
  return `${run}-fit${round}`;
}

export interface ShardJobData {
  run: string;
  round: number;
  shard: number;
}

export interface FitJobData {
  run: string;
  round: number;
}

/** What a worker reports while it tunes a shard (BullMQ job progress). */
export interface ShardProgress {
  /** User steps taken so far in this E-step, and the shard's budget (users × steps per user). */
  steps: number;
  budget: number;
  worker: string;
}

/** Attempts of a shard job that fails with an error (a stalled job is recovered separately, up to maxStalledCount times). */
export const SHARD_ATTEMPTS = 3;

/**
 * A run's id: the same settings, LM, users, shard size and output directory give the same id, so that
 * rerunning the command resumes it; another --out is another run (its files and bank are written there).
 */
export function runIdOf(configHash: string, shardUsers: number, users: readonly string[], out: string): string {
  return createHash('sha256').update(JSON.stringify({ configHash, shardUsers, users, out: resolve(out) })).digest('hex').slice(0, 16);
}

/**
 * node-redis clients handed to BullMQ objects (it connects them and duplicates them as it needs). BullMQ
 * does not close a client it was given, so whoever made them closes them after the BullMQ objects.
 */
export class BullConnections {
  private readonly clients: RedisClientType[] = [];

  constructor(private readonly url: string) {}

  next(): RedisClientType {
    const client: RedisClientType = createClient({ url: this.url });
    // BullMQ reports connection trouble through its own 'error' events; without a listener node-redis would crash.
    client.on('error', () => undefined);
    this.clients.push(client);
    return client;
  }

  close(): void {
    for (const client of this.clients.splice(0)) if (client.isOpen) client.destroy();
  }
}
