/**
 * Files every step writes: whole or not at all (a temporary file next to the target, then a rename),
 * and JSON read back with errors that name the file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** Synced to disk under a unique temporary name, then renamed over `path`; a failed write leaves no temporary file. */
export async function writeFileAtomic(path: string, body: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(body);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  await rename(tmp, path);
}

/** Pretty JSON with a final newline; undefined metrics (NaN) come out as null, as JSON.stringify writes them. */
const toJson = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

export async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, toJson(value));
}

export async function readJson<T>(path: string): Promise<T> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
}

/** `<dir>/config.json`: the effective settings of a run, saved next to its outputs. */
export async function saveConfig(dir: string, config: unknown): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeJson(join(dir, 'config.json'), config);
}

/** sha256 of a JSON value: identifies settings and codebooks. */
export function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}
