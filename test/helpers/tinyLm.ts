/** A test file's tiny random LM, written, loaded and removed by hooks the file registers. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { Runtime } from '../../src/engine/index.js';
import { CausalLm } from '../../src/lm/index.js';
import { amplifyCheckpoint, writeTinyCheckpoint, type TinyCheckpoint, type TinyCheckpointOptions } from './tinyCheckpoint.js';

/** Filled in by the `before` hook `tinyLm` registers. */
export interface TinyLm {
  /** A temporary directory, removed after the tests; the checkpoint is `<dir>/lm`. */
  dir: string;
  checkpoint: TinyCheckpoint;
  lm: CausalLm;
  runtime: Runtime;
}

/**
 * Registers, in the calling file or suite, the hooks that write a tiny random checkpoint into a new
 * temporary directory (its weights scaled by `amplify`, if given: see `amplifyCheckpoint`) and load
 * it before the tests, and close and remove it after them. `prepare` adds the file's other fixtures
 * to the directory in the same hook (a second `before` at the top level of a file may run first).
 */
export function tinyLm(
  prefix: string,
  checkpoint: TinyCheckpointOptions,
  options: { threads?: number; amplify?: number; prepare?: (dir: string) => Promise<void> } = {},
): TinyLm {
  const tiny = { runtime: new Runtime({ threads: options.threads ?? 1 }) } as TinyLm;
  before(async () => {
    tiny.dir = await mkdtemp(join(tmpdir(), prefix));
    tiny.checkpoint = await writeTinyCheckpoint(join(tiny.dir, 'lm'), checkpoint);
    if (options.amplify !== undefined) await amplifyCheckpoint(tiny.checkpoint, options.amplify);
    tiny.lm = await CausalLm.load(tiny.checkpoint.dir, { runtime: tiny.runtime });
    await options.prepare?.(tiny.dir);
  });
  after(async () => {
    await tiny.runtime.close();
    await rm(tiny.dir, { recursive: true, force: true });
  });
  return tiny;
}
