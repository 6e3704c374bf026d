/**
 * What the steps after tuning (the comparison, attribute recovery, the serving model) read from a
 * finished `userip profile tune` run: the tuned users' soft tokens (one row of S·D values per user),
 * the IDs the feature bank holds for them, and the tune summary.
 */
import { join } from 'node:path';
import { SqliteFeatureBank } from '../bank/index.js';
import { readJson } from '../io/files.js';
import { readTunedProfiles, type TunedProfiles, type TuneSummary } from './run.js';

export interface TuneRun extends TunedProfiles {
  dir: string;
  summary: TuneSummary;
  /** user -> one ID per slot, as the bank holds them. */
  bankIds: Map<string, number[]>;
}

export async function readTuneRun(dir: string): Promise<TuneRun> {
  const tuned = await readTunedProfiles(dir);
  const summary = await readJson<TuneSummary>(join(dir, 'tune.json'));
  const bank = await SqliteFeatureBank.open(join(dir, 'bank.sqlite'), { readonly: true });
  const bankIds = new Map<string, number[]>();
  try {
    for await (const entry of bank.users()) bankIds.set(entry.user, entry.ids);
  } finally {
    await bank.close();
  }
  return { ...tuned, dir, summary, bankIds };
}

/** Per slot, the bank's ID for each user of `users` (index order); -1 where the bank has none. */
export function bankIdColumns(run: TuneRun, users: readonly string[]): Int32Array[] {
  return run.slots.map((_, j) => Int32Array.from(users, (u) => run.bankIds.get(u)?.[j] ?? -1));
}

/** [users, S·D]: each user's soft tokens, all slots concatenated; zeros for users the run has not tuned. */
export function softTokenRows(run: TuneRun, users: readonly string[]): Float32Array {
  const width = run.slots.length * run.hidden;
  const row = new Map(run.users.map((u, i) => [u, i]));
  const out = new Float32Array(users.length * width);
  users.forEach((u, i) => {
    const r = row.get(u);
    if (r !== undefined) out.set(run.softTokens.subarray(r * width, (r + 1) * width), i * width);
  });
  return out;
}
