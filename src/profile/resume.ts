/**
 * What a tune run checks before it writes anything into its output directory: a run there (its
 * checkpoint) is resumed only with the same training settings and the same prepared data. The run
 * records the data it was made from in `data.json`, which later steps (ctr train) compare too.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { readJson, readJsonWith } from '../io/files.js';
import type { TuneConfig } from './run.js';

/** Settings that do not change the trained tokens, so a resumed run may change them. */
const RESUMABLE_SETTINGS = ['out', 'threads', 'lmBatchTokens', 'checkpointEvery', 'diagnosticsUsers'] as const;

/** The settings that decide the trained tokens: the config without `RESUMABLE_SETTINGS`. */
export function trainingSettings(config: TuneConfig): Omit<TuneConfig, (typeof RESUMABLE_SETTINGS)[number]> {
  const settings: Record<string, unknown> = { ...config };
  for (const key of RESUMABLE_SETTINGS) delete settings[key];
  return settings as Omit<TuneConfig, (typeof RESUMABLE_SETTINGS)[number]>;
}

/** `<run>/data.json`: the prepared data a tune run was made from. */
const runDataSchema = z.object({
  /** Absolute path of the prepared data. */
  data: z.string(),
  /** `Prepared.dataHash` when the run started. */
  data_hash: z.string(),
});
export type RunData = z.infer<typeof runDataSchema>;

const readRunData = (run: string): Promise<RunData> => readJsonWith(runDataSchema, runDataPath(run), "a tune run's data record");

export const runDataPath = (run: string) => join(run, 'data.json');

export class RunRefusedError extends Error {
  override name = 'RunRefusedError';
}

/**
 * Refuses prepared data other than the data the tune run in `run` was made from (its `data.json`):
 * its profiles would belong to other users and other splits. A run older than `data.json` is not checked.
 */
export async function assertRunMadeFrom(run: string, dataDir: string, dataHash: string): Promise<void> {
  if (!existsSync(runDataPath(run))) return;
  const recorded = await readRunData(run);
  if (recorded.data_hash !== dataHash) {
    throw new RunRefusedError(
      `the tune run ${run} was made from the prepared data ${recorded.data} (hash ${recorded.data_hash.slice(0, 12)}…), not from ${dataDir} (hash ${dataHash.slice(0, 12)}…): give the data the run was tuned on, or tune a run on this data`,
    );
  }
}

/**
 * Refuses to go on from the checkpoint in `config.out` (an unfinished run's, or a finished run's last)
 * with other training settings or other data; a directory without a checkpoint takes anything.
 */
export async function checkResume(config: TuneConfig, dataHash: string): Promise<void> {
  const checkpointDir = join(config.out, 'checkpoint');
  if (!existsSync(checkpointDir)) return;
  const startOver = `use another --out, or delete ${checkpointDir} to start the run over`;
  const configPath = join(config.out, 'config.json');
  if (existsSync(configPath)) {
    const previous = trainingSettings(await readJson<TuneConfig>(configPath)) as Record<string, unknown>;
    const next = trainingSettings(config) as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(previous), ...Object.keys(next)])];
    const changed = keys.filter((key) => JSON.stringify(previous[key]) !== JSON.stringify(next[key]));
    if (changed.length) {
      const changes = changed.map((key) => `${key} ${JSON.stringify(previous[key]) ?? '(unset)'} → ${JSON.stringify(next[key]) ?? '(unset)'}`);
      throw new RunRefusedError(
        `${config.out} holds the checkpoint of a run with other settings (${changes.join(', ')}); rerun it with its own settings (only ${RESUMABLE_SETTINGS.filter((k) => k !== 'out').join(', ')} may change), or ${startOver}`,
      );
    }
  }
  const recorded = existsSync(runDataPath(config.out)) ? await readRunData(config.out) : undefined;
  if (recorded?.data_hash !== dataHash) {
    const was = recorded ? `data ${recorded.data} (hash ${recorded.data_hash.slice(0, 12)}…)` : 'data it did not record';
    throw new RunRefusedError(`${config.out} holds the checkpoint of a run made from ${was}, not from ${config.data} as it is now (hash ${dataHash.slice(0, 12)}…); ${startOver}`);
  }
}
