/**
 * Checked atomic writes: a short write, a size that does not match, a file-size limit (a full disk as
 * the process sees it) all end in an error naming the file, leave the target as it was and leave no
 * temporary file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic, type WritableFile } from '../../src/io/files.js';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'userip-io-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A real file handle that lets through at most `capacity` bytes in all, as a nearly full disk does. */
function openWithCapacity(capacity: number) {
  return async (path: string): Promise<WritableFile> => {
    const handle = await open(path, 'w');
    let left = capacity;
    return {
      write: async (buffer, offset, length) => {
        const n = Math.min(length, left);
        left -= n;
        return n === 0 ? { bytesWritten: 0 } : handle.write(buffer, offset, n);
      },
      sync: () => handle.sync(),
      stat: () => handle.stat(),
      close: () => handle.close(),
    };
  };
}

test('a write the system accepts only in part fails, naming the file, and the old file stays', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'checkpoint.bin');
  await writeFile(path, 'the last good checkpoint');
  await assert.rejects(writeFileAtomic(path, Buffer.alloc(10_000, 1), { openFile: openWithCapacity(4096) }), {
    name: 'FileWriteError',
    message: new RegExp(`cannot write ${path}: the system accepted 0 of 5904 bytes after 4096`),
  });
  assert.equal(await readFile(path, 'utf8'), 'the last good checkpoint');
  assert.deepEqual(await readdir(dir), ['checkpoint.bin'], 'no temporary file left');
});

test('a file whose size on disk differs from the bytes written is not renamed into place', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'out.json');
  const lyingAboutSize = async (file: string): Promise<WritableFile> => {
    const handle = await open(file, 'w');
    return { write: (b, o, l) => handle.write(b, o, l), sync: () => handle.sync(), stat: async () => ({ size: (await handle.stat()).size - 1 }), close: () => handle.close() };
  };
  await assert.rejects(writeFileAtomic(path, '{"a": 1}\n', { openFile: lyingAboutSize }), { message: new RegExp(`cannot write ${path}: 8 bytes reached the disk, 9 were written`) });
  assert.deepEqual(await readdir(dir), []);
});

test('a missing directory is reported as such, with the file name', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'absent', 'config.json');
  await assert.rejects(writeFileAtomic(path, '{}'), { message: new RegExp(`cannot write ${path}: .*the directory does not exist \\(ENOENT\\)`) });
});

const LIB = (module: string) => fileURLToPath(new URL(`../../src/${module}`, import.meta.url));

/**
 * Runs `script` (an ES module body) in a child process whose files may not grow past `kilobytes`
 * (`ulimit -f`): writes past it return short and then fail with EFBIG, as on a full disk.
 */
function underFileSizeLimit(kilobytes: number, script: string) {
  return spawnSync('bash', ['-c', `ulimit -f ${kilobytes} && exec "${process.execPath}" --input-type=module -e "$SCRIPT"`], {
    env: { ...process.env, SCRIPT: script },
    encoding: 'utf8',
  });
}

test('full disk: safetensors, bank CSV and split CSV writers fail loudly and keep the previous files', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'checkpoint.safetensors'), 'previous checkpoint');
  await writeFile(join(dir, 'profiles.csv'), 'previous export');
  const script = `
    import { writeSafetensors } from ${JSON.stringify(LIB('io/index.js'))};
    import { exportBankCsv, SqliteFeatureBank } from ${JSON.stringify(LIB('bank/index.js'))};
    import { writeSplitCsv } from ${JSON.stringify(LIB('data/split.js'))};
    const dir = ${JSON.stringify(dir)};
    const outcome = async (write) => { try { await write(); return 'written'; } catch (error) { return error.message; } };
    const results = {};
    results.safetensors = await outcome(() => writeSafetensors(dir + '/checkpoint.safetensors', { deltas: { dtype: 'F32', shape: [4000], data: new Float32Array(4000).fill(0.5) } }));
    const bank = await SqliteFeatureBank.open(':memory:');
    await bank.setVersion({ lm_id: 'lm', config_hash: 'c', codebook_hash: 'b', slots: [{ name: 'hobby', k: 4 }], created_at: '2026-01-01' });
    await bank.putMany(Array.from({ length: 2000 }, (_, i) => ({ user: 'user-' + i, ids: [i % 4], source: 'tuned' })));
    results.bankCsv = await outcome(() => exportBankCsv(bank, dir + '/profiles.csv'));
    const rows = Array.from({ length: 1000 }, (_, i) => ({ user: 'u' + i, item: 'item-' + i, rating: 4, timestamp: i }));
    results.splitCsv = await outcome(() => writeSplitCsv(dir + '/split.csv', { train: rows, valid: [], test: [] }));
    console.log(JSON.stringify(results));
  `;
  const child = underFileSizeLimit(8, script);
  assert.equal(child.status, 0, child.stderr);
  const results = JSON.parse(child.stdout) as Record<string, string>;
  assert.match(results.safetensors, /cannot write .*checkpoint\.safetensors.*EFBIG/);
  assert.match(results.bankCsv, /cannot write .*profiles\.csv.*EFBIG/);
  assert.match(results.splitCsv, /cannot write .*split\.csv.*EFBIG/);
  assert.equal(await readFile(join(dir, 'checkpoint.safetensors'), 'utf8'), 'previous checkpoint');
  assert.equal(await readFile(join(dir, 'profiles.csv'), 'utf8'), 'previous export');
  assert.deepEqual((await readdir(dir)).sort(), ['checkpoint.safetensors', 'profiles.csv'], 'no partial or temporary files');
});
