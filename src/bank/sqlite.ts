/**
 * The embedded feature bank: one SQLite file (better-sqlite3), WAL mode so a serving process can read
 * while a refresh job writes cold-start users. A read-only bank (the server's) notices a file renamed
 * over its path, or rewritten in place, and opens it again; a file caught half-written reads as an
 * error (FeatureBankError), not as IDs.
 *
 * Lookups (`lookup`, `version`) answer from memory while the file is unchanged: what they read is kept
 * until SQLite's `data_version` says another connection committed (or this one writes, or the file is
 * replaced), so a server's request costs no query once its user has been read.
 *
 * That check (a stat of the path, and a read transaction for `data_version`: four system calls) runs
 * at most once per event-loop turn and at most once per `recheckMs` (10 ms by default), and again
 * after any commit through a bank of this process. Once per request it was the largest cost of a
 * request after the model (some 20 µs of 120); once per turn, still 2.4 system calls per request
 * at 1,000 requests/s (strace -c), where most turns carry one request. A commit by another process
 * is therefore seen from the first turn after it that starts `recheckMs` or more after the last check:
 * for a bank that refresh jobs update, a delay no client can tell from the commit's own.
 */
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
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

/** Bumped when the table layout changes; stored in `PRAGMA user_version`. */
const SCHEMA_VERSION = 1;
/** Largest IN-list per lookup query; far below SQLite's 32766 bound parameters. */
const MAX_LOOKUP = 512;
/** Rows per page when iterating all users. */
const PAGE_SIZE = 1000;
/** Users the lookup cache holds at most; when full it starts over, and the users asked for fill it again. */
const CACHE_USERS = 1 << 20;

const SCHEMA = `
  CREATE TABLE bank_version (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    version_id TEXT NOT NULL,
    record TEXT NOT NULL
  );
  CREATE TABLE profile_entries (
    user TEXT PRIMARY KEY,
    ids TEXT NOT NULL,
    source TEXT
  ) WITHOUT ROWID;
`;

interface EntryRow {
  user: string;
  ids: string;
  source: string | null;
}

export interface SqliteOpenOptions {
  /** Open an existing bank for lookups only (e.g. the server); writes are refused. */
  readonly?: boolean;
  /** Lookups check for commits by other processes at most this often (milliseconds; see the file's comment). */
  recheckMs?: number;
}

const DEFAULT_RECHECK_MS = 10;

/** An open database file and the statements prepared on it. */
class Connection {
  readonly selectVersion: Database.Statement<[], { record: string }>;
  readonly writeVersion: Database.Statement<[string, string]>;
  readonly selectEntry: Database.Statement<[string], EntryRow>;
  readonly writeEntry: Database.Statement<[string, string, string | null]>;
  readonly clearEntries: Database.Statement<[]>;
  readonly countEntries: Database.Statement<[], { n: number }>;
  readonly selectPage: Database.Statement<[string, number], EntryRow>;
  /** Changes when another connection commits to the file. */
  readonly dataVersion: Database.Statement<[], number>;
  /** IN-list lookups by list length; lengths are rounded up to powers of two, so at most ten exist. */
  private readonly lookups = new Map<number, Database.Statement<(string | null)[], EntryRow>>();

  constructor(readonly db: Database.Database) {
    this.selectVersion = db.prepare('SELECT record FROM bank_version');
    this.writeVersion = db.prepare('INSERT OR REPLACE INTO bank_version (singleton, version_id, record) VALUES (1, ?, ?)');
    this.selectEntry = db.prepare('SELECT user, ids, source FROM profile_entries WHERE user = ?');
    this.writeEntry = db.prepare('INSERT OR REPLACE INTO profile_entries (user, ids, source) VALUES (?, ?, ?)');
    this.clearEntries = db.prepare('DELETE FROM profile_entries');
    this.countEntries = db.prepare('SELECT COUNT(*) AS n FROM profile_entries');
    // Users are non-empty, so the first page starts after ''.
    this.selectPage = db.prepare('SELECT user, ids, source FROM profile_entries WHERE user > ? ORDER BY user LIMIT ?');
    this.dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  }

  lookup(size: number): Database.Statement<(string | null)[], EntryRow> {
    let statement = this.lookups.get(size);
    if (!statement) {
      statement = this.db.prepare<(string | null)[], EntryRow>(`SELECT user, ids, source FROM profile_entries WHERE user IN (${Array(size).fill('?').join(',')})`);
      this.lookups.set(size, statement);
    }
    return statement;
  }
}

/**
 * Which file a path named, and how it looked, when it was opened: a file renamed over the path has
 * another inode; one overwritten in place, another modification time or size. SQLite's page cache does
 * not see bytes written around it, so either change means opening the file again.
 */
interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

/** Event-loop turns, counted while lookups run: each check schedules the turn's end. */
let turn = 0;
let turnEnding = false;
function currentTurn(): number {
  if (!turnEnding) {
    turnEnding = true;
    setImmediate(() => {
      turn++;
      turnEnding = false;
    }).unref();
  }
  return turn;
}

/** Commits begun through any bank of this process: lookups check their file again after each. */
let commits = 0;

/** What lookups read at one `data_version` of one connection: one state of the file. */
interface LookupCache {
  dataVersion: number;
  /** Set once the version has been read; its record is undefined for a bank without one. */
  version?: { record: BankVersion | undefined };
  /** Users read, with null for users the bank does not hold. */
  entries: Map<string, ProfileEntry | null>;
}

export class SqliteFeatureBank implements FeatureBank {
  /** What lookups have read; in a holder, so that everything sharing this bank (a wrapper made with Object.create, say) shares it. */
  private readonly lookups: { cache?: LookupCache; checked?: { turn: number; at: number; commits: number } } = {};

  private constructor(
    private connection: Connection,
    private readonly path: string,
    private readonly readonly: boolean,
    /** Of a read-only file bank: the file opened, so that a file replaced or rewritten at `path` is noticed and opened again. */
    private identity: FileIdentity | undefined,
    private readonly recheckMs: number,
  ) {}

  /** Opens (creating when writable and missing) the bank at `path`; `:memory:` gives a private in-memory bank. */
  static async open(path: string, options: SqliteOpenOptions = {}): Promise<SqliteFeatureBank> {
    const readonly = options.readonly ?? false;
    const connection = openConnection(path, readonly);
    try {
      return new SqliteFeatureBank(connection, path, readonly, readonly ? fileIdentity(path) : undefined, options.recheckMs ?? DEFAULT_RECHECK_MS);
    } catch (error) {
      connection.db.close();
      throw error;
    }
  }

  /**
   * The stored version. A read-only bank (as for lookups: at most once per event-loop turn and per
   * `recheckMs`, and after a commit through this process) first checks that `path` still names the
   * file it opened, unchanged; a file put or written there since (a re-tuned bank copied into place)
   * is opened again, and its version returned.
   */
  async version(): Promise<BankVersion | undefined> {
    return this.cached(undefined).version;
  }

  async setVersion(version: BankVersion, options: SetVersionOptions = {}): Promise<void> {
    this.beginWrite();
    const next = parseBankVersion(version, 'given to setVersion');
    const c = this.connection;
    c.db
      .transaction(() => {
        const change = versionChange(this.readVersion(), next, c.countEntries.get()!.n, options);
        if (change === 'keep') return;
        if (change === 'replace') c.clearEntries.run();
        c.writeVersion.run(versionId(next), JSON.stringify(next));
      })
      .immediate();
  }

  async get(user: string): Promise<ProfileEntry | undefined> {
    this.followReplacement();
    const row = this.reading(() => this.connection.selectEntry.get(user));
    return row && toEntry(row);
  }

  lookup(user: string): BankLookup {
    return this.cached(user);
  }

  async getMany(users: readonly string[]): Promise<(ProfileEntry | undefined)[]> {
    this.followReplacement();
    const found = new Map<string, ProfileEntry>();
    const c = this.connection;
    // One read transaction, so every chunk sees the same snapshot.
    this.reading(() =>
      c.db.transaction(() => {
        for (let start = 0; start < users.length; start += MAX_LOOKUP) {
          const chunk: (string | null)[] = users.slice(start, start + MAX_LOOKUP);
          const size = lookupSize(chunk.length);
          // NULL never matches in an IN-list, so padding lets one statement serve every length up to `size`.
          while (chunk.length < size) chunk.push(null);
          for (const row of c.lookup(size).all(...chunk)) found.set(row.user, toEntry(row));
        }
      })(),
    );
    return users.map((user) => found.get(user));
  }

  async putMany(entries: readonly ProfileEntry[]): Promise<void> {
    this.beginWrite();
    const c = this.connection;
    c.db
      .transaction(() => {
        // Read the version inside the write lock, so a concurrent re-stamp cannot slip in between.
        checkEntries(this.readVersion(), entries);
        for (const { user, ids, source } of entries) c.writeEntry.run(user, encodeIds(ids), source ?? null);
      })
      .immediate();
  }

  async count(): Promise<number> {
    return this.reading(() => this.connection.countEntries.get()!.n);
  }

  /** Pages by key rather than holding a cursor, so callers may use the bank between pages. Sorted by user. */
  async *users(): AsyncGenerator<ProfileEntry> {
    let after = '';
    for (;;) {
      const rows = this.reading(() => this.connection.selectPage.all(after, PAGE_SIZE));
      for (const row of rows) yield toEntry(row);
      if (rows.length < PAGE_SIZE) return;
      after = rows[rows.length - 1]!.user;
    }
  }

  async close(): Promise<void> {
    if (this.connection.db.open) this.connection.db.close();
  }

  /**
   * The version and (when `user` is given) the user's entry, from the cache while `data_version` is
   * the one they were read at (checked at most once per turn and per `recheckMs`: see the file's
   * comment). What is missing is read in one transaction that checks `data_version` again, so that
   * everything the cache holds comes from one state of the file.
   */
  private cached(user: string | undefined): BankLookup {
    this.checkForChanges();
    const c = this.connection;
    let cache = this.lookups.cache;
    let entry = user === undefined || !cache ? undefined : cache.entries.get(user);
    if (!cache?.version || (user !== undefined && entry === undefined)) {
      cache = this.reading(() =>
        c.db.transaction((): LookupCache => {
          const dataVersion = c.dataVersion.get()!;
          const fresh: LookupCache = cache?.dataVersion === dataVersion ? cache : { dataVersion, entries: new Map() };
          fresh.version ??= { record: this.readVersion() };
          if (user !== undefined && entry === undefined) {
            if (fresh.entries.size >= CACHE_USERS) fresh.entries.clear();
            const row = c.selectEntry.get(user);
            entry = row ? toEntry(row) : null;
            fresh.entries.set(user, entry);
          }
          return fresh;
        })(),
      );
      this.lookups.cache = cache;
    }
    return { entry: entry ?? undefined, version: cache.version!.record };
  }

  /**
   * At most once per event-loop turn and per `recheckMs`, and after a commit through this process: a
   * file replaced at `path` is opened again, and what lookups read is forgotten when another
   * connection has committed since. The clock is read first, so that a lookup within `recheckMs` of
   * the last check costs no more than that.
   */
  private checkForChanges(): void {
    const now = performance.now();
    const { checked } = this.lookups;
    if (checked?.commits === commits && (now - checked.at < this.recheckMs || checked.turn === currentTurn())) return;
    this.followReplacement();
    const { cache } = this.lookups;
    if (cache && cache.dataVersion !== this.reading(() => this.connection.dataVersion.get()!)) this.lookups.cache = undefined;
    this.lookups.checked = { turn: currentTurn(), at: now, commits };
  }

  private readVersion(): BankVersion | undefined {
    const row = this.connection.selectVersion.get();
    return row && parseBankVersion(JSON.parse(row.record), `stored in ${this.path}`);
  }

  /** A read whose SQLite failure (a file overwritten in place reads as corrupt) is a FeatureBankError naming the file. */
  private reading<T>(read: () => T): T {
    try {
      return read();
    } catch (error) {
      if (error instanceof FeatureBankError) throw error;
      throw new FeatureBankError(`cannot read feature bank ${this.path}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Of a read-only file bank: opens the file at `path` again when it is not the one opened, as it was; the old connection is closed. */
  private followReplacement(): void {
    if (!this.identity) return;
    const now = fileIdentity(this.path);
    const then = this.identity;
    if (now.dev === then.dev && now.ino === then.ino && now.size === then.size && now.mtimeMs === then.mtimeMs) return;
    const replacement = openConnection(this.path, this.readonly);
    this.connection.db.close();
    this.connection = replacement;
    this.lookups.cache = undefined;
    this.identity = now;
  }

  private assertWritable(): void {
    if (this.readonly) throw new FeatureBankError(`feature bank ${this.path} is open read-only`);
  }

  /** Before a write: this bank's lookups forget what they read, and every bank of the process checks its file again. */
  private beginWrite(): void {
    this.assertWritable();
    this.lookups.cache = undefined;
    commits++;
  }
}

function openConnection(path: string, readonly: boolean): Connection {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly, fileMustExist: readonly });
    if (!readonly) {
      db.pragma('journal_mode = WAL');
      // In WAL mode NORMAL cannot corrupt the file; a crash may lose only the last commits, which a bank rebuild restores.
      db.pragma('synchronous = NORMAL');
    }
    prepareSchema(db, path, readonly);
    return new Connection(db);
  } catch (error) {
    db?.close();
    if (error instanceof FeatureBankError) throw error;
    throw new FeatureBankError(`cannot open feature bank ${path}${readonly ? ' read-only' : ''}: ${(error as Error).message}`, { cause: error });
  }
}

function fileIdentity(path: string): FileIdentity {
  try {
    const { dev, ino, size, mtimeMs } = statSync(path);
    return { dev, ino, size, mtimeMs };
  } catch (error) {
    throw new FeatureBankError(`feature bank ${path} is gone: ${(error as Error).message}`, { cause: error });
  }
}

/** Creates the tables in a new file; refuses files that are not banks of this layout. */
function prepareSchema(db: Database.Database, path: string, readonly: boolean): void {
  const schema = db.pragma('user_version', { simple: true }) as number;
  if (schema === SCHEMA_VERSION) return;
  const tables = (db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number }).n;
  if (schema !== 0 || tables > 0) {
    throw new FeatureBankError(`${path} is not a feature bank of layout ${SCHEMA_VERSION} (user_version ${schema}, ${tables} tables)`);
  }
  if (readonly) throw new FeatureBankError(`${path} is an empty database, not a feature bank; open it writable once to create one`);
  db.transaction(() => {
    db.exec(SCHEMA);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

function lookupSize(n: number): number {
  let size = 1;
  while (size < n) size *= 2;
  return size;
}

function toEntry(row: EntryRow): ProfileEntry {
  const ids = decodeIds(row.ids);
  return row.source === null ? { user: row.user, ids } : { user: row.user, ids, source: row.source as ProfileSource };
}
