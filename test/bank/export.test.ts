import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { exportBankCsv, SqliteFeatureBank, versionId, type BankCsvVersionFile, type FeatureBank, type ProfileEntry } from '../../src/bank/index.js';
import { OTHER_VERSION, VERSION } from './contract.js';
import { tempDir } from './fixtures.js';

const ENTRIES: ProfileEntry[] = [
  { user: 'b', ids: [0, 2], source: 'cold-start' },
  { user: 'a', ids: [3, 1], source: 'tuned' },
  { user: 'c, "quoted"', ids: [1, 0] },
];

test('CSV export: header from the slots, one row per user, and a version sidecar', async (t) => {
  const dir = await tempDir(t);
  const bank = await SqliteFeatureBank.open(':memory:');
  t.after(() => bank.close());
  await bank.setVersion(VERSION);
  await bank.putMany(ENTRIES);

  const path = join(dir, 'bank.csv');
  await writeFile(path, 'an older export\n');
  const result = await exportBankCsv(bank, path);
  assert.deepEqual(result, { csvPath: path, versionPath: `${path}.version.json`, versionId: versionId(VERSION), rows: 3 });

  assert.equal(
    await readFile(path, 'utf8'),
    ['user,hobby,background,source', 'a,3,1,tuned', 'b,0,2,cold-start', '"c, ""quoted""",1,0,', ''].join('\n'),
  );
  const rows = parse(await readFile(path), { columns: true }) as Record<string, string>[];
  assert.deepEqual(rows[2], { user: 'c, "quoted"', hobby: '1', background: '0', source: '' });

  const sidecar = JSON.parse(await readFile(result.versionPath, 'utf8')) as BankCsvVersionFile;
  assert.deepEqual(sidecar, { version_id: versionId(VERSION), version: VERSION, rows: 3, columns: ['user', 'hobby', 'background', 'source'] });
  assert.deepEqual((await readdir(dir)).sort(), ['bank.csv', 'bank.csv.version.json'], 'no temporary files left');
});

test('CSV export of a bank without a version is an error and writes nothing', async (t) => {
  const dir = await tempDir(t);
  const bank = await SqliteFeatureBank.open(':memory:');
  t.after(() => bank.close());
  await assert.rejects(exportBankCsv(bank, join(dir, 'bank.csv')), { name: 'FeatureBankError', message: /without a version/ });
  assert.deepEqual(await readdir(dir), []);
});

test('CSV export fails and keeps the earlier files when the version changes meanwhile', async (t) => {
  const dir = await tempDir(t);
  const bank = await SqliteFeatureBank.open(':memory:');
  t.after(() => bank.close());
  await bank.setVersion(VERSION);
  await bank.putMany(ENTRIES);
  const path = join(dir, 'bank.csv');
  await writeFile(path, 'an older export\n');

  // A bank whose version is re-stamped as soon as the export starts reading entries (it shares the bank's lookup cache).
  const racing: FeatureBank = Object.assign(Object.create(bank) as FeatureBank, {
    async *users() {
      await bank.setVersion(OTHER_VERSION, { replace: true });
      yield* bank.users();
    },
  });
  await assert.rejects(exportBankCsv(racing, path), { name: 'FeatureBankError', message: /version changed/ });
  assert.equal(await readFile(path, 'utf8'), 'an older export\n');
  assert.deepEqual(await readdir(dir), ['bank.csv']);
});
