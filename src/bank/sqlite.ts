/**
 * The embedded feature bank: one SQLite file (better-sqlite3), WAL mode so a serving process can read
 * while a refresh job writes cold-start users.
 */
import Database from 'better-sqlite3';
import {
  checkEntries,
  decodeIds,
  encodeIds,
  FeatureBankError,
  parseBankVersion,
  versionChange,
  versionId,
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
}

export class SqliteFeatureBank implements FeatureBank {
  private readonly selectVersion: Database.Statement<[], { record: string }>;
  private readonly writeVersion: Database.Statement<[string, string]>;
  private readonly selectEntry: Database.Statement<[string], EntryRow>;
  private readonly writeEntry: Database.Statement<[string, string, string | null]>;
  private readonly clearEntries: Database.Statement<[]>;
  private readonly countEntries: Database.Statement<[], { n: number }>;
  private readonly selectPage: Database.Statement<[string, number], EntryRow>;
  /** IN-list lookups by list length; lengths are rounded up to powers of two, so at most ten exist. */
  private readonly lookups = new Map<number, Database.Statement<(string | null)[], EntryRow>>();

  private constructor(
    private readonly db: Database.Database,
    private readonly path: string,
    private readonly readonly: boolean,
  ) {
    this.selectVersion = db.prepare('SELECT record FROM bank_version');
    this.writeVersion = db.prepare('INSERT OR REPLACE INTO bank_version (singleton, version_id, record) VALUES (1, ?, ?)');
    this.selectEntry = db.prepare('SELECT user, ids, source FROM profile_entries WHERE user = ?');
    this.writeEntry = db.prepare('INSERT OR REPLACE INTO profile_entries (user, ids, source) VALUES (?, ?, ?)');
    this.clearEntries = db.prepare('DELETE FROM profile_entries');
    this.countEntries = db.prepare('SELECT COUNT(*) AS n FROM profile_entries');
    // Users are non-empty, so the first page starts after ''.
    this.selectPage = db.prepare('SELECT user, ids, source FROM profile_entries WHERE user > ? ORDER BY user LIMIT ?');
  }

  /** Opens (creating when writable and missing) the bank at `path`; `:memory:` gives a private in-memory bank. */
  static async open(path: string, options: SqliteOpenOptions = {}): Promise<SqliteFeatureBank> {
    const readonly = options.readonly ?? false;
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { readonly, fileMustExist: readonly });
      if (!readonly) {
        db.pragma('journal_mode = WAL');
        // In WAL mode NORMAL cannot corrupt the file; a crash may lose only the last commits, which a bank rebuild restores.
        db.pragma('synchronous = NORMAL');
      }
      prepareSchema(db, path, readonly);
      return new SqliteFeatureBank(db, path, readonly);
    } catch (error) {
      db?.close();
      if (error instanceof FeatureBankError) throw error;
      throw new FeatureBankError(`cannot open feature bank ${path}${readonly ? ' read-only' : ''}: ${(error as Error).message}`, { cause: error });
    }
  }

  async version(): Promise<BankVersion | undefined> {
    return this.readVersion();
  }

  async setVersion(version: BankVersion, options: SetVersionOptions = {}): Promise<void> {
    this.assertWritable();
    const next = parseBankVersion(version, 'given to setVersion');
    this.db
      .transaction(() => {
        const change = versionChange(this.readVersion(), next, this.countEntries.get()!.n, options);
        if (change === 'keep') return;
        if (change === 'replace') this.clearEntries.run();
        this.writeVersion.run(versionId(next), JSON.stringify(next));
      })
      .immediate();
  }

  async get(user: string): Promise<ProfileEntry | undefined> {
    const row = this.selectEntry.get(user);
    return row && toEntry(row);
  }

  async getMany(users: readonly string[]): Promise<(ProfileEntry | undefined)[]> {
    const found = new Map<string, ProfileEntry>();
    // One read transaction, so every chunk sees the same snapshot.
    this.db.transaction(() => {
      for (let start = 0; start < users.length; start += MAX_LOOKUP) {
        const chunk: (string | null)[] = users.slice(start, start + MAX_LOOKUP);
        const size = lookupSize(chunk.length);
        // NULL never matches in an IN-list, so padding lets one statement serve every length up to `size`.
        while (chunk.length < size) chunk.push(null);
        for (const row of this.lookup(size).all(...chunk)) found.set(row.user, toEntry(row));
      }
    })();
    return users.map((user) => found.get(user));
  }

  async putMany(entries: readonly ProfileEntry[]): Promise<void> {
    this.assertWritable();
    this.db
      .transaction(() => {
        // Read the version inside the write lock, so a concurrent re-stamp cannot slip in between.
        checkEntries(this.readVersion(), entries);
        for (const { user, ids, source } of entries) this.writeEntry.run(user, encodeIds(ids), source ?? null);
      })
      .immediate();
  }

  async count(): Promise<number> {
    return this.countEntries.get()!.n;
  }

  /** Pages by key rather than holding a cursor, so callers may use the bank between pages. Sorted by user. */
  async *users(): AsyncGenerator<ProfileEntry> {
    let after = '';
    for (;;) {
      const rows = this.selectPage.all(after, PAGE_SIZE);
      for (const row of rows) yield toEntry(row);
      if (rows.length < PAGE_SIZE) return;
      after = rows[rows.length - 1]!.user;
    }
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private readVersion(): BankVersion | undefined {
    const row = this.selectVersion.get();
    return row && parseBankVersion(JSON.parse(row.record), `stored in ${this.path}`);
  }

  private lookup(size: number): Database.Statement<(string | null)[], EntryRow> {
    let statement = this.lookups.get(size);
    if (!statement) {
      statement = this.db.prepare<(string | null)[], EntryRow>(`SELECT user, ids, source FROM profile_entries WHERE user IN (${Array(size).fill('?').join(',')})`);
      this.lookups.set(size, statement);
    }
    return statement;
  }

  private assertWritable(): void {
    if (this.readonly) throw new FeatureBankError(`feature bank ${this.path} is open read-only`);
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
