/**
 * The networked feature bank: Redis through the `redis` client (node-redis), for several servers
 * sharing one bank. Standalone Redis; keys under one prefix (default `userip:`):
 *
 *   <prefix>u:<user>  one string per user: "3,1" or "3,1;cold-start" (ids, then the source if any)
 *   <prefix>users     sorted set of every user (score 0), so count and paging are exact and ordered
 *   <prefix>version   hash { id, record }: the version id and its JSON record
 *
 * Writes commit in one Lua script, so each is atomic like an SQLite transaction; the script re-checks
 * the version id read beforehand and fails instead of mixing IDs of two versions when another writer
 * got there first. Scripts touch keys they are not passed, so the store needs standalone Redis (not
 * Cluster). Lookups are MGETs in chunks, sent in one pipeline; a server's per-request `lookup` reads the
 * user and the version in one MULTI.
 *
 * Redis down: commands fail at once (no offline queue), as a FeatureBankError naming host:port;
 * the client keeps reconnecting in the background, so lookups work again once Redis is back.
 */
import { randomBytes } from 'node:crypto';
import { createClient, type RedisClientType } from 'redis';
import {
  checkEntries,
  decodeIds,
  encodeIds,
  FeatureBankError,
  parseBankVersion,
  versionChange,
  versionId,
  type BankLookup,
  type BankVersion,
  type FeatureBank,
  type ProfileEntry,
  type ProfileSource,
  type SetVersionOptions,
} from './model.js';

export interface RedisOpenOptions {
  /** Prefix of every key the bank owns, so several banks can share one database. Default `userip:`. */
  prefix?: string;
  /** How long the first connection may take, in ms (default 2000). */
  connectTimeoutMs?: number;
}

/** Keys per MGET; chunks keep any one command small while the pipeline keeps round trips at one. */
const MGET_CHUNK = 1000;
/** Entries per HSET while staging a write. */
const STAGE_CHUNK = 1000;
/** Seconds a staged write may wait for its commit. */
const STAGING_TTL_S = 3600;
/** Users per page when iterating all users. */
const PAGE_SIZE = 1000;
/** Longest wait between reconnection attempts once connected, in ms. */
const MAX_RECONNECT_DELAY_MS = 1000;
/** Error reply of the write scripts when the stored version is not the one the caller checked against. */
const VERSION_CHANGED = 'VERSION_CHANGED';

/**
 * KEYS: version, index, staging hash (user -> value). ARGV: expected version id, user key prefix.
 * Entries travel in a staging hash first: the client cannot send one script call with 100k+ arguments.
 */
const COMMIT_SCRIPT = `
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then
  redis.call('DEL', KEYS[3])
  return redis.error_reply('${VERSION_CHANGED}')
end
local staged = redis.call('HGETALL', KEYS[3])
for i = 1, #staged, 2 do
  redis.call('SET', ARGV[2] .. staged[i], staged[i + 1])
  redis.call('ZADD', KEYS[2], 0, staged[i])
end
redis.call('DEL', KEYS[3])
return #staged / 2
`;

/**
 * KEYS: version, index. ARGV: expected current id ('' for none), 'write' or 'replace', new id, new
 * record, user key prefix. 'write' over another version is only allowed on an empty bank.
 */
const SET_VERSION_SCRIPT = `
local current = redis.call('HGET', KEYS[1], 'id') or ''
if current ~= ARGV[1] then return redis.error_reply('${VERSION_CHANGED}') end
if ARGV[2] == 'replace' then
  for _, user in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do redis.call('DEL', ARGV[5] .. user) end
  redis.call('DEL', KEYS[2])
elseif current ~= '' and redis.call('ZCARD', KEYS[2]) > 0 then
  return redis.error_reply('${VERSION_CHANGED}')
end
redis.call('HSET', KEYS[1], 'id', ARGV[3], 'record', ARGV[4])
return 1
`;

export class RedisFeatureBank implements FeatureBank {
  private readonly keys: { version: string; index: string; userPrefix: string };
  private lastRecord: { text: string; version: BankVersion } | undefined;

  private constructor(
    private readonly client: RedisClientType,
    /** host:port, for error messages. */
    readonly address: string,
    readonly prefix: string,
  ) {
    this.keys = { version: `${prefix}version`, index: `${prefix}users`, userPrefix: `${prefix}u:` };
  }

  /** Connects to `url` (e.g. `redis://127.0.0.1:6379/0`); fails with host:port named if Redis is not there. */
  static async open(url: string, options: RedisOpenOptions = {}): Promise<RedisFeatureBank> {
    const { client, address } = await connectRedis(
      url,
      {
        what: 'the Redis feature bank',
        connectTimeoutMs: options.connectTimeoutMs ?? 2000,
        baseDelayMs: 50,
        maxDelayMs: MAX_RECONNECT_DELAY_MS,
        // A lookup while Redis is down fails at once instead of waiting in a queue for a reconnect.
        offlineQueue: false,
      },
      (message, cause) => new FeatureBankError(message, { cause }),
    );
    return new RedisFeatureBank(client, address, options.prefix ?? 'userip:');
  }

  async version(): Promise<BankVersion | undefined> {
    return this.parseVersion(await this.call('read the version', () => this.client.hGet(this.keys.version, 'record')));
  }

  async lookup(user: string): Promise<BankLookup> {
    const [value, record] = (await this.call('look up users', () =>
      this.client.multi().get(this.keys.userPrefix + user).hGet(this.keys.version, 'record').exec(),
    )) as unknown as [string | null, string | null];
    return { entry: value === null ? undefined : toEntry(user, value), version: this.parseVersion(record) };
  }

  async setVersion(version: BankVersion, options: SetVersionOptions = {}): Promise<void> {
    const next = parseBankVersion(version, 'given to setVersion');
    const current = await this.version();
    const change = versionChange(current, next, await this.count(), options);
    if (change === 'keep') return;
    await this.write('set the version', SET_VERSION_SCRIPT, [this.keys.version, this.keys.index], [
      current ? versionId(current) : '',
      change,
      versionId(next),
      JSON.stringify(next),
      this.keys.userPrefix,
    ]);
  }

  async get(user: string): Promise<ProfileEntry | undefined> {
    return (await this.getMany([user]))[0];
  }

  async getMany(users: readonly string[]): Promise<(ProfileEntry | undefined)[]> {
    const chunks = await this.call('look up users', () => {
      const replies: Promise<(string | null)[]>[] = [];
      for (let start = 0; start < users.length; start += MGET_CHUNK) {
        // Issued in the same tick, so node-redis writes them as one pipeline.
        replies.push(this.client.mGet(users.slice(start, start + MGET_CHUNK).map((user) => this.keys.userPrefix + user)));
      }
      return Promise.all(replies);
    });
    const values = chunks.flat();
    return users.map((user, i) => {
      const value = values[i];
      return value === null ? undefined : toEntry(user, value);
    });
  }

  async putMany(entries: readonly ProfileEntry[]): Promise<void> {
    const version = await this.version();
    checkEntries(version, entries);
    if (entries.length === 0) return;
    const staging = `${this.prefix}staging:${randomBytes(8).toString('hex')}`;
    await this.call('stage entries', () => {
      const replies: Promise<unknown>[] = [];
      for (let start = 0; start < entries.length; start += STAGE_CHUNK) {
        const fields = entries.slice(start, start + STAGE_CHUNK).flatMap((e) => [e.user, e.source === undefined ? encodeIds(e.ids) : `${encodeIds(e.ids)};${e.source}`]);
        replies.push(this.client.hSet(staging, fields));
      }
      // An abandoned stage (writer died mid-way) removes itself.
      replies.push(this.client.expire(staging, STAGING_TTL_S));
      return Promise.all(replies);
    });
    await this.write('write entries', COMMIT_SCRIPT, [this.keys.version, this.keys.index, staging], [versionId(version), this.keys.userPrefix]);
  }

  async count(): Promise<number> {
    return this.call('count users', () => this.client.zCard(this.keys.index));
  }

  /** Pages through the user index by key, so callers may use the bank between pages. Sorted by user. */
  async *users(): AsyncGenerator<ProfileEntry> {
    let from = '-';
    for (;;) {
      const users = await this.call('list users', () =>
        this.client.zRange(this.keys.index, from, '+', { BY: 'LEX', LIMIT: { offset: 0, count: PAGE_SIZE } }),
      );
      // A user deleted between the two reads (a concurrent replace) is skipped, not yielded empty.
      for (const entry of await this.getMany(users)) if (entry) yield entry;
      if (users.length < PAGE_SIZE) return;
      from = `(${users[users.length - 1]}`;
    }
  }

  async close(): Promise<void> {
    if (!this.client.isOpen) return;
    // close() waits for replies in flight, and would wait for a reconnect that may never come.
    if (this.client.isReady) await this.client.close();
    else this.client.destroy();
  }

  /** The stored version record, parsed once per distinct record rather than on every lookup. */
  private parseVersion(record: string | null): BankVersion | undefined {
    if (record === null) return undefined;
    if (record !== this.lastRecord?.text) {
      this.lastRecord = { text: record, version: parseBankVersion(JSON.parse(record), `stored in Redis at ${this.address} (${this.keys.version})`) };
    }
    return this.lastRecord.version;
  }

  /** Runs one Redis call, turning client errors into FeatureBankErrors that name the server. */
  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw new FeatureBankError(`Redis feature bank at ${this.address}: cannot ${what}: ${(error as Error).message}`, { cause: error });
    }
  }

  private async write(what: string, script: string, keys: string[], args: string[]): Promise<void> {
    try {
      await this.client.eval(script, { keys, arguments: args });
    } catch (error) {
      if ((error as Error).message.includes(VERSION_CHANGED)) {
        throw new FeatureBankError(`Redis feature bank at ${this.address}: cannot ${what}: another writer changed the bank's version or entries meanwhile; retry`);
      }
      throw new FeatureBankError(`Redis feature bank at ${this.address}: cannot ${what}: ${(error as Error).message}`, { cause: error });
    }
  }
}

function toEntry(user: string, value: string): ProfileEntry {
  const split = value.indexOf(';');
  if (split < 0) return { user, ids: decodeIds(value) };
  return { user, ids: decodeIds(value.slice(0, split)), source: value.slice(split + 1) as ProfileSource };
}

export interface RedisConnectOptions {
  /** Names the server in errors, e.g. "the Redis feature bank". */
  what: string;
  /** How long the first connection may take. */
  connectTimeoutMs: number;
  /** Reconnection backoff once connected: base · 2^retries, capped. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Queue commands while disconnected (false: they fail at once). */
  offlineQueue: boolean;
}

/**
 * A node-redis client connected to `url`. Before the first connection it gives up (so a wrong address
 * fails at once, naming host:port); after it, it keeps reconnecting with a capped backoff. Errors are
 * made by `toError`, so that each caller throws its own class.
 */
export async function connectRedis(
  url: string,
  options: RedisConnectOptions,
  toError: (message: string, cause?: unknown) => Error,
): Promise<{ client: RedisClientType; address: string }> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw toError(`invalid Redis URL ${JSON.stringify(url)} (expected e.g. redis://127.0.0.1:6379)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw toError(`invalid Redis URL ${JSON.stringify(url)}: the scheme must be redis: or rediss:`);
  }
  const address = `${parsed.hostname}:${parsed.port || 6379}`;
  let connected = false;
  const client: RedisClientType = createClient({
    url,
    disableOfflineQueue: !options.offlineQueue,
    socket: {
      connectTimeout: options.connectTimeoutMs,
      reconnectStrategy: (retries, cause) => (connected ? Math.min(options.baseDelayMs * 2 ** Math.min(retries, 5), options.maxDelayMs) : cause),
    },
  });
  // Errors surface through the failing commands; without a listener node-redis would crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
    connected = true;
  } catch (error) {
    client.destroy();
    throw toError(`cannot connect to ${options.what} at ${address}: ${(error as Error).message}`, error);
  }
  return { client, address };
}
