import assert from 'node:assert/strict';
import { existsSync, renameSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteFeatureBank } from '../../src/bank/index.js';
import { entryFor, featureBankContract, OTHER_VERSION, VERSION } from './contract.js';
import { tempDir } from './fixtures.js';

featureBankContract('SQLite in memory', () => SqliteFeatureBank.open(':memory:'));

let dir = '';
let files = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'userip-bank-'));
});
after(() => rm(dir, { recursive: true, force: true }));
featureBankContract('SQLite on disk', () => SqliteFeatureBank.open(join(dir, `bank-${files++}.sqlite`)));

test('a bank file reopens, writable or read-only, with its version and entries, in WAL mode', async (t) => {
  const path = join(await tempDir(t), 'bank.sqlite');
  const entries = Array.from({ length: 3000 }, (_, i) => entryFor(i));
  const bank = await SqliteFeatureBank.open(path);
  await bank.setVersion(VERSION);
  await bank.putMany(entries);
  assert.ok(existsSync(`${path}-wal`), 'writes go through a write-ahead log');
  await bank.close();
  await bank.close(); // closing twice is harmless

  const reader = await SqliteFeatureBank.open(path, { readonly: true });
  assert.deepEqual(await reader.version(), VERSION);
  assert.deepEqual(await reader.get('u2999'), entryFor(2999));
  await reader.close();

  const reopened = await SqliteFeatureBank.open(path);
  t.after(() => reopened.close());
  assert.deepEqual(await reopened.version(), VERSION);
  assert.equal(await reopened.count(), entries.length);
  assert.deepEqual(await reopened.getMany(entries.map((e) => e.user)), entries);
  await reopened.putMany([{ user: 'late', ids: [1, 1], source: 'cold-start' }]);
  assert.equal(await reopened.count(), entries.length + 1);
});

test('a read-only bank reads what a writer commits and refuses writes', async (t) => {
  const path = join(await tempDir(t), 'bank.sqlite');
  const writer = await SqliteFeatureBank.open(path);
  t.after(() => writer.close());
  await writer.setVersion(VERSION);
  await writer.putMany([entryFor(1)]);

  const reader = await SqliteFeatureBank.open(path, { readonly: true });
  t.after(() => reader.close());
  assert.deepEqual(await reader.get('u1'), entryFor(1));
  await writer.putMany([entryFor(2)]);
  assert.deepEqual(await reader.getMany(['u2', 'u1']), [entryFor(2), entryFor(1)]);
  // Lookups answer from memory until another connection commits: each commit below must be seen.
  // They answer at once, not through a promise: the server's request path makes none for them.
  const answer = reader.lookup('u3');
  assert.ok(!(answer instanceof Promise), 'a lookup answers without a promise');
  assert.deepEqual(answer, { entry: undefined, version: VERSION });
  await writer.putMany([entryFor(3), { ...entryFor(1), ids: [0, 0] }]);
  assert.deepEqual(await reader.lookup('u3'), { entry: entryFor(3), version: VERSION });
  assert.deepEqual((await reader.lookup('u1')).entry?.ids, [0, 0]);
  await writer.setVersion(OTHER_VERSION, { replace: true });
  assert.deepEqual(await reader.lookup('u3'), { entry: undefined, version: OTHER_VERSION });
  assert.deepEqual(await reader.version(), OTHER_VERSION);
  await writer.setVersion(VERSION, { replace: true });
  await writer.putMany([entryFor(1), entryFor(2)]);

  await assert.rejects(reader.putMany([entryFor(3)]), { name: 'FeatureBankError', message: /open read-only/ });
  await assert.rejects(reader.setVersion(VERSION), { name: 'FeatureBankError', message: /open read-only/ });
  assert.equal(await writer.count(), 2);
});

test('a commit by another process reaches lookups from the first turn recheckMs after the last check on', async (t) => {
  const folder = await tempDir(t);
  const path = join(folder, 'bank.sqlite');
  const writer = await SqliteFeatureBank.open(path);
  await writer.setVersion(VERSION);
  await writer.putMany([entryFor(1)]);
  await writer.close();
  const recheckMs = 50;
  const reader = await SqliteFeatureBank.open(path, { readonly: true, recheckMs });
  t.after(() => reader.close());
  // recheckMs 0: checks in every new turn.
  const everyTurn = await SqliteFeatureBank.open(path, { readonly: true, recheckMs: 0 });
  t.after(() => everyTurn.close());
  // Not sooner than the last check's turn plus recheckMs (setTimeout may fire a little early: 1 ms to spare).
  const pastRecheck = () => new Promise((resolve) => setTimeout(resolve, recheckMs + 1));
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  // A connection of its own, as another process has: its commits are not counted in this one.
  const other = new Database(path);
  t.after(() => other.close());
  // Taken before the check, so that the time since it is at most the time since this.
  const checkedAt = performance.now();
  assert.equal((await reader.lookup('u2')).entry, undefined);
  assert.equal((await everyTurn.lookup('u2')).entry, undefined);
  other.prepare('INSERT INTO profile_entries (user, ids, source) VALUES (?, ?, ?)').run('u2', entryFor(2).ids.join(','), entryFor(2).source ?? null);
  // This turn's lookups answer from what the turn's first one checked...
  assert.equal((await reader.lookup('u2')).entry, undefined);
  assert.equal((await everyTurn.lookup('u2')).entry, undefined);
  await nextTurn();
  // ...the next turn's check sees the commit where recheckMs allows it...
  assert.deepEqual((await everyTurn.lookup('u2')).entry, entryFor(2));
  // ...and not sooner than recheckMs after the last check where it does not (a slower machine skips this half).
  if (performance.now() - checkedAt < recheckMs) assert.equal((await reader.lookup('u2')).entry, undefined);
  await pastRecheck();
  assert.deepEqual((await reader.lookup('u2')).entry, entryFor(2));

  // A file renamed over the path, likewise.
  const replacement = join(folder, 'other.sqlite');
  const retuned = await SqliteFeatureBank.open(replacement);
  await retuned.setVersion(OTHER_VERSION);
  await retuned.close();
  await pastRecheck();
  const versionCheckedAt = performance.now();
  assert.deepEqual(await reader.version(), VERSION);
  renameSync(replacement, path);
  assert.deepEqual(await reader.version(), VERSION);
  await nextTurn();
  if (performance.now() - versionCheckedAt < recheckMs) assert.deepEqual(await reader.version(), VERSION);
  await pastRecheck();
  assert.deepEqual(await reader.version(), OTHER_VERSION);
});

test('opening read-only needs an existing bank', async (t) => {
  const folder = await tempDir(t);
  await assert.rejects(SqliteFeatureBank.open(join(folder, 'missing.sqlite'), { readonly: true }), {
    name: 'FeatureBankError',
    message: /cannot open feature bank .*missing\.sqlite read-only/,
  });
  assert.equal(existsSync(join(folder, 'missing.sqlite')), false);
});

test('files that are not banks are refused', async (t) => {
  const folder = await tempDir(t);
  const other = join(folder, 'other.sqlite');
  const db = new Database(other);
  db.exec('CREATE TABLE ratings (user TEXT, item TEXT)');
  db.close();
  await assert.rejects(SqliteFeatureBank.open(other), { name: 'FeatureBankError', message: /not a feature bank/ });

  const text = join(folder, 'notes.sqlite');
  await writeFile(text, 'this is not a database, just some text long enough to fill a header block');
  await assert.rejects(SqliteFeatureBank.open(text), { name: 'FeatureBankError', message: /cannot open feature bank .*notes\.sqlite: file is not a database/ });
});
