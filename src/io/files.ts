/**
 * Files every step writes: whole or not at all (checked writes to a temporary file, then a rename;
 * see atomic.ts), and JSON read back with errors that name the file.
 */
import { createHash } from 'node:crypto';
import { access, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from './atomic.js';

export { AtomicFile, FileWriteError, describeFileError, writeChunksAtomic, writeFileAtomic, type AtomicWriteOptions, type WritableFile } from './atomic.js';

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

/**
 * A JSON file checked against a schema. `what` names the file's kind in errors ("a saved CTR model");
 * every error names the file and, for a bad value, each failing field.
 */
export async function readJsonWith<S extends z.ZodType>(schema: S, path: string, what: string): Promise<z.infer<S>> {
  const parsed = schema.safeParse(await readJson<unknown>(path));
  if (!parsed.success) throw new Error(`${path}: not ${what}:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
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

/** A CSV field with RFC 4180 quoting, only where the field needs it. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** Whether a path exists (a file or a directory). */
export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
