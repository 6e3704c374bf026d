/**
 * Output-directory locks: a live holder in another process refuses a second one, naming its PID and
 * host; a lock whose holder died is taken over with a warning; releasing leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { lockDirectory } from '../../src/io/lock.js';

const LOCK_MODULE = fileURLToPath(new URL('../../src/io/lock.js', import.meta.url));

test('a directory locked by a live process is refused, naming the holder; after release it can be taken', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'userip-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // The holder takes the lock, says so, and releases it when told to on stdin.
  const holder = spawn(process.execPath, ['--input-type=module', '-e', `
    import { lockDirectory } from ${JSON.stringify(LOCK_MODULE)};
    const lock = await lockDirectory(${JSON.stringify(dir)}, 'userip profile tune');
    console.log('locked');
    process.stdin.once('data', async () => { await lock.release(); process.exit(0); });
  `], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => holder.kill());
  await once(holder.stdout, 'data');

  await assert.rejects(lockDirectory(dir, 'userip ctr train'), {
    name: 'DirectoryLockedError',
    message: new RegExp(`${dir} is in use by process ${holder.pid} on ${hostname()} \\(userip profile tune, since .*\\); wait for it to finish, or stop it, before running userip ctr train`),
  });
  holder.stdin.write('release\n');
  await once(holder, 'exit');
  const lock = await lockDirectory(dir, 'userip ctr train');
  await lock.release();
  assert.deepEqual(await readdir(dir), [], 'no lock files left');
});

test('a lock left by a process that died is taken over with a warning', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'userip-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const dead = spawn(process.execPath, ['-e', '']);
  await once(dead, 'exit');
  // What a holder killed with SIGKILL leaves: the lock directory (fresh) and its owner record.
  await mkdir(join(dir, '.lock'));
  await writeFile(join(dir, '.lock-owner.json'), JSON.stringify({ pid: dead.pid, host: hostname(), command: 'userip profile tune', since: '2026-01-01T00:00:00Z' }));
  const warnings: string[] = [];
  const lock = await lockDirectory(dir, 'userip profile tune', (message) => warnings.push(message));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], new RegExp(`taking over the lock on ${dir}: its holder, process ${dead.pid} on ${hostname()} .*no longer runs`));
  await lock.release();
});
