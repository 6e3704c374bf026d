/**
 * What a distributed tune run keeps in Redis besides BullMQ's own job records, through the `redis`
 * client (node-redis), under `userip:tune:<run>:`:
 *
 *   spec                       the run: its settings, LM content id, config hash, users and shards
 *   windows:<shard>            the shard's users and their behaviour windows (token ids)
 *   input:<round>              θ̄ and the codebooks an E-step starts from (round 0: after the population phase)
 *   record:<round>             the round's record once its M-step is done
 *   shard:<round>:<shard>:<lm>:<config>   a shard's E-step result: its users' δ_u, steps, validation NLL
 *   summary, bank-writes       the finished run's summary, and how many times its bank was written
 *
 * Every value is one string written with one SET, so a reader sees either nothing or the whole value:
 * a worker killed while storing leaves no half-written shard. Float arrays travel as base64 of their
 * little-endian bytes.
 */
import type { RedisClientType } from 'redis';
import { connectRedis } from '../bank/index.js';
import type { Codebook } from '../quantize/index.js';
import type { RoundInput, RoundRecord, ShardRoundResult, TuneConfig, TuneSummary, UserBehaviour } from '../profile/index.js';

const PREFIX = 'userip:tune:';

/** One distributed tune run, as the coordinator created it. */
export interface RunSpec {
  run: string;
  config: TuneConfig;
  /** Content id of the LM every worker must load. */
  lmId: string;
  configHash: string;
  users: number;
  /** Each shard's first user (index in the run) and size. */
  shards: { first: number; count: number }[];
  rounds: number;
  createdAt: string;
}

/** An E-step's starting point, plus what the population phase measured (round 0 only). */
export interface StoredInput extends RoundInput {
  valNllStart?: number;
  batches?: number;
  tokens?: number;
}

/** A round's record once its M-step is done, with what its shards cost. */
export interface StoredRecord extends RoundRecord {
  batches: number;
  tokens: number;
}

export class QueueStoreError extends Error {}

export class TuneStore {
  private constructor(
    readonly client: RedisClientType,
    readonly address: string,
  ) {}

  static async open(url: string): Promise<TuneStore> {
    const { client, address } = await connectRedis(
      url,
      { what: 'Redis', connectTimeoutMs: 5000, baseDelayMs: 100, maxDelayMs: 2000, offlineQueue: true },
      (message, cause) => new QueueStoreError(message, { cause }),
    );
    return new TuneStore(client, address);
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  async spec(run: string): Promise<RunSpec | undefined> {
    const raw = await this.client.get(key(run, 'spec'));
    return raw === null ? undefined : (JSON.parse(raw) as RunSpec);
  }

  /** The spec of a run that must exist (workers, status). */
  async requireSpec(run: string): Promise<RunSpec> {
    const spec = await this.spec(run);
    if (!spec) throw new QueueStoreError(`no tune run ${run} in Redis at ${this.address} (the coordinator creates it: \`userip profile tune ... --queue\`)`);
    return spec;
  }

  async putSpec(spec: RunSpec): Promise<void> {
    await this.client.set(key(spec.run, 'spec'), JSON.stringify(spec));
  }

  async windows(run: string, shard: number): Promise<UserBehaviour[]> {
    const raw = await this.client.get(key(run, `windows:${shard}`));
    if (raw === null) throw new QueueStoreError(`tune run ${run} has no windows for shard ${shard} in Redis at ${this.address}`);
    return JSON.parse(raw) as UserBehaviour[];
  }

  async putWindows(run: string, shard: number, users: readonly UserBehaviour[]): Promise<void> {
    await this.client.set(key(run, `windows:${shard}`), JSON.stringify(users));
  }

  async input(run: string, round: number): Promise<StoredInput | undefined> {
    const raw = await this.client.get(key(run, `input:${round}`));
    if (raw === null) return undefined;
    const v = JSON.parse(raw) as { population: string; codebooks: { k: number; d: number; centroids: string }[]; deltaCentroids: string[] } & Omit<StoredInput, 'population' | 'codebooks' | 'deltaCentroids'>;
    return {
      ...v,
      population: decode(v.population),
      codebooks: v.codebooks.map((c): Codebook => ({ k: c.k, d: c.d, centroids: decode(c.centroids) })),
      deltaCentroids: v.deltaCentroids.map(decode),
    };
  }

  async putInput(run: string, round: number, input: StoredInput): Promise<void> {
    const value = {
      ...input,
      population: encode(input.population),
      codebooks: input.codebooks.map((c) => ({ k: c.k, d: c.d, centroids: encode(c.centroids) })),
      deltaCentroids: input.deltaCentroids.map(encode),
    };
    await this.client.set(key(run, `input:${round}`), JSON.stringify(value));
  }

  async hasInput(run: string, round: number): Promise<boolean> {
    return (await this.client.exists(key(run, `input:${round}`))) === 1;
  }

  async record(run: string, round: number): Promise<StoredRecord | undefined> {
    const raw = await this.client.get(key(run, `record:${round}`));
    return raw === null ? undefined : (JSON.parse(raw) as StoredRecord);
  }

  async putRecord(run: string, round: number, record: StoredRecord): Promise<void> {
    await this.client.set(key(run, `record:${round}`), JSON.stringify(record));
  }

  async shardResult(spec: RunSpec, round: number, shard: number): Promise<ShardRoundResult | undefined> {
    const raw = await this.client.get(shardKey(spec, round, shard));
    if (raw === null) return undefined;
    const v = JSON.parse(raw) as Omit<ShardRoundResult, 'deltas' | 'valNll'> & { deltas: string; valNll: (number | null)[] };
    return { ...v, deltas: decode(v.deltas), valNll: v.valNll.map((x) => x ?? NaN) };
  }

  async putShardResult(spec: RunSpec, round: number, shard: number, result: ShardRoundResult): Promise<void> {
    // JSON has no NaN: a user without validation text is stored as null.
    const value = { ...result, deltas: encode(result.deltas), valNll: result.valNll.map((x) => (Number.isNaN(x) ? null : x)) };
    await this.client.set(shardKey(spec, round, shard), JSON.stringify(value));
  }

  /** Per shard of the round, whether its result is stored. */
  async shardsDone(spec: RunSpec, round: number): Promise<boolean[]> {
    if (spec.shards.length === 0) return [];
    const multi = this.client.multi();
    spec.shards.forEach((_, s) => multi.exists(shardKey(spec, round, s)));
    return ((await multi.exec()) as unknown as number[]).map((v) => Number(v) === 1);
  }

  async summary(run: string): Promise<TuneSummary | undefined> {
    const raw = await this.client.get(key(run, 'summary'));
    return raw === null ? undefined : (JSON.parse(raw) as TuneSummary);
  }

  /** Stores the finished run's summary and counts one more write of its bank. */
  async putSummary(run: string, summary: TuneSummary): Promise<void> {
    await this.client.multi().set(key(run, 'summary'), JSON.stringify(summary)).incr(key(run, 'bank-writes')).exec();
  }

  async bankWrites(run: string): Promise<number> {
    return Number((await this.client.get(key(run, 'bank-writes'))) ?? 0);
  }
}

function key(run: string, what: string): string {
  return `${PREFIX}${run}:${what}`;
}

/** A shard's E-step result is keyed by the LM and settings it was tuned under, not only by position. */
function shardKey(spec: RunSpec, round: number, shard: number): string {
  return key(spec.run, `shard:${round}:${shard}:${spec.lmId.slice(0, 16)}:${spec.configHash.slice(0, 16)}`);
}

function encode(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

function decode(s: string): Float32Array {
  const bytes = Buffer.from(s, 'base64');
  // Copied out: Buffer's pool offset need not be 4-byte aligned.
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}
