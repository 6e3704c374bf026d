/** Small files written by the tests themselves, in a temp folder removed after each test. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** The repository root, seen from the compiled test (dist/test/data). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'userip-data-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes a file (gzipped when asked, whatever its name) and returns its path. */
export async function writeFixture(dir: string, name: string, content: string | Buffer, gzip = false): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, gzip ? gzipSync(content) : content);
  return path;
}

export function jsonLines(records: readonly object[]): string {
  return records.map((record) => JSON.stringify(record)).join('\n') + '\n';
}
