/**
 * The one way files are written: bytes go to a temporary file next to the target, every write is
 * checked to have landed in full, the file is synced and its size compared with the bytes given, and
 * only then is it renamed over the target (and the directory synced, so the rename survives a crash).
 * A full disk, a file-size limit or a read-only directory ends in an error naming the file and the
 * cause; the target is then untouched and the temporary file removed.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The file-handle calls an atomic write makes; a test passes a handle that writes short. */
export interface WritableFile {
  write(buffer: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}

export interface AtomicWriteOptions {
  /** Opens the temporary file for writing; default: `fs.promises.open(path, 'w')`. */
  openFile?: (path: string) => Promise<WritableFile>;
}

/** A write that did not complete; the target file was left as it was. */
export class FileWriteError extends Error {
  override name = 'FileWriteError';
}

/** What an errno means to someone writing a file; unknown codes pass through as the system's message. */
const WRITE_FAILURES: Record<string, string> = {
  ENOSPC: 'no space left on the device (ENOSPC)',
  EDQUOT: 'disk quota exceeded (EDQUOT)',
  EFBIG: 'file larger than this process may write (EFBIG; see `ulimit -f`)',
  EROFS: 'the file system is read-only (EROFS)',
  EACCES: 'permission denied (EACCES)',
  EPERM: 'operation not permitted (EPERM)',
  ENOENT: 'the directory does not exist (ENOENT)',
};

/** The cause of a failed file operation in words, with the errno code. */
export function describeFileError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return (code && WRITE_FAILURES[code]) ?? (error as Error).message;
}

const defaultOpen = (path: string): Promise<WritableFile> => open(path, 'w');

/** A file being written; nothing appears at `path` until `commit`. */
export class AtomicFile {
  private written = 0;

  private constructor(
    readonly path: string,
    private readonly tmp: string,
    private handle: WritableFile | undefined,
  ) {}

  static async create(path: string, options: AtomicWriteOptions = {}): Promise<AtomicFile> {
    const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    let handle: WritableFile;
    try {
      handle = await (options.openFile ?? defaultOpen)(tmp);
    } catch (error) {
      throw new FileWriteError(`cannot write ${path}: cannot create a file in ${dirname(path)}: ${describeFileError(error)}`, { cause: error });
    }
    return new AtomicFile(path, tmp, handle);
  }

  /** Bytes written so far. */
  get bytes(): number {
    return this.written;
  }

  /** Writes all of `chunk`, continuing after partial writes; a write that makes no progress is an error. */
  async write(chunk: string | Uint8Array): Promise<void> {
    const handle = this.openHandle();
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let offset = 0;
    try {
      while (offset < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
        if (!(bytesWritten > 0)) {
          throw new FileWriteError(`cannot write ${this.path}: the system accepted 0 of ${bytes.length - offset} bytes after ${this.written + offset} (disk full?)`);
        }
        offset += bytesWritten;
      }
    } catch (error) {
      await this.abort();
      if (error instanceof FileWriteError) throw error;
      throw new FileWriteError(`cannot write ${this.path} after ${this.written + offset} bytes: ${describeFileError(error)}`, { cause: error });
    } finally {
      this.written += offset;
    }
  }

  /** Syncs, checks the size on disk against the bytes written, then renames over `path`. */
  async commit(): Promise<void> {
    const handle = this.openHandle();
    try {
      await handle.sync();
      const { size } = await handle.stat();
      if (size !== this.written) throw new FileWriteError(`cannot write ${this.path}: ${size} bytes reached the disk, ${this.written} were written`);
      await handle.close();
      this.handle = undefined;
      await rename(this.tmp, this.path);
    } catch (error) {
      await this.abort();
      if (error instanceof FileWriteError) throw error;
      throw new FileWriteError(`cannot write ${this.path}: ${describeFileError(error)}`, { cause: error });
    }
    await syncDirectory(dirname(this.path));
  }

  /** Drops the temporary file; the target stays as it was. Safe to call more than once. */
  async abort(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
    await unlink(this.tmp).catch(() => undefined);
  }

  private openHandle(): WritableFile {
    if (!this.handle) throw new FileWriteError(`${this.path}: the write was already committed or abandoned`);
    return this.handle;
  }
}

/** `body` written to `path` whole or not at all. */
export async function writeFileAtomic(path: string, body: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const file = await AtomicFile.create(path, options);
  await file.write(body);
  await file.commit();
}

/** The chunks, in order, written to `path` whole or not at all; an error while producing them leaves no file. */
export async function writeChunksAtomic(path: string, chunks: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>, options: AtomicWriteOptions = {}): Promise<number> {
  const file = await AtomicFile.create(path, options);
  try {
    for await (const chunk of chunks) await file.write(chunk);
  } catch (error) {
    await file.abort();
    throw error;
  }
  await file.commit();
  return file.bytes;
}

/** Makes a rename in `dir` durable. Some file systems cannot sync a directory; the rename is then as durable as they make it. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw error;
  } finally {
    await handle?.close();
  }
}
