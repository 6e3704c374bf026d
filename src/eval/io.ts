/** Report files are written whole or not at all: a temp file next to the target, then a rename. */
import { rename, writeFile } from 'node:fs/promises';

export async function writeFileAtomic(path: string, body: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, body);
  await rename(tmp, path);
}

/** Undefined metrics (NaN, e.g. AUC of a one-class bucket) come out as null, as JSON.stringify writes them. */
export const toJson = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;
