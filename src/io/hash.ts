/** Content hashes of files: what a step read, so that a later step can tell whether it changed. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

export interface FileHash {
  path: string;
  bytes: number;
  sha256: string;
}

/** sha256 and size of a file, streamed. */
export async function hashFile(path: string): Promise<FileHash> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return { path, bytes: (await stat(path)).size, sha256: hash.digest('hex') };
}
