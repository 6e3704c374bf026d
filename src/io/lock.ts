/**
 * One process at a time per output directory. A long command (a tune run, ...) takes the lock before
 * it writes anything there; a second one is refused with the holder's PID, host and command. The lock
 * is proper-lockfile's (a `.lock` directory whose mtime the holder refreshes); `.lock-owner.json` next
 * to it says who holds it. A lock left by a process that died is taken over with a warning: at once when
 * its PID is gone from this host, otherwise once proper-lockfile finds it stale (not refreshed). A
 * holder whose lock could not be refreshed stops (proper-lockfile throws) rather than write on.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';

/**
 * A lock not refreshed for this long belongs to a dead or hung process. The holder refreshes it from
 * its event loop, and proper-lockfile stops a holder that could not refresh in time, so this must
 * outlast any stretch of synchronous work (codebook fits on large runs); a dead holder on this host is
 * found at once by its PID anyway.
 */
const STALE_MS = 10 * 60_000;

export interface LockOwner {
  pid: number;
  host: string;
  command: string;
  since: string;
}

export class DirectoryLockedError extends Error {
  override name = 'DirectoryLockedError';
}

export interface DirectoryLock {
  release(): Promise<void>;
}

const lockPath = (dir: string) => join(dir, '.lock');
const ownerPath = (dir: string) => join(dir, '.lock-owner.json');

/**
 * Takes the lock on `dir` (created if missing) for `command`. `warn` hears about a stale lock taken
 * over. Throws DirectoryLockedError naming the holder when a live process has it.
 */
export async function lockDirectory(dir: string, command: string, warn: (message: string) => void = () => {}): Promise<DirectoryLock> {
  await mkdir(dir, { recursive: true });
  let release: () => Promise<void>;
  try {
    release = await acquire(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
    const owner = await readOwnerOfNewLock(dir);
    if (!owner || !isDeadHere(owner)) {
      const holder = owner ? `process ${owner.pid} on ${owner.host} (${owner.command}, since ${owner.since})` : 'another process (no owner record yet)';
      throw new DirectoryLockedError(`${dir} is in use by ${holder}; wait for it to finish, or stop it, before running ${command} on the same directory`);
    }
    warn(`taking over the lock on ${dir}: its holder, process ${owner.pid} on ${owner.host} (${owner.command}, since ${owner.since}), no longer runs`);
    await rm(lockPath(dir), { recursive: true, force: true });
    release = await acquire(dir);
  }
  const owner: LockOwner = { pid: process.pid, host: hostname(), command, since: new Date().toISOString() };
  await writeFile(ownerPath(dir), JSON.stringify(owner) + '\n');
  return {
    release: async () => {
      await rm(ownerPath(dir), { force: true });
      await release();
    },
  };
}

function acquire(dir: string): Promise<() => Promise<void>> {
  return lockfile.lock(dir, {
    lockfilePath: lockPath(dir),
    stale: STALE_MS,
    realpath: false,
  });
}

async function readOwner(dir: string): Promise<LockOwner | undefined> {
  try {
    return JSON.parse(await readFile(ownerPath(dir), 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

/**
 * The owner record, waiting up to a second for it: a holder writes it just after taking the lock, so
 * a lock seen in between has none yet (seen with two runs started together).
 */
async function readOwnerOfNewLock(dir: string): Promise<LockOwner | undefined> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const owner = await readOwner(dir);
    if (owner) return owner;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return undefined;
}

/** True when `owner` ran on this host and its PID is gone. */
function isDeadHere(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return false;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
