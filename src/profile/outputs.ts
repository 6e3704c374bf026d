/**
 * What the steps after tuning (the comparison, attribute recovery, the serving model) read from a
 * finished `userip profile tune` run: the tuned users' soft tokens (one row of S·D values per user),
 * the IDs the feature bank holds for them, and the tune summary.
 */
import { join } from 'node:path';
import { SqliteFeatureBank } from '../bank/index.js';
import { readJson } from '../io/files.js';
import { readRunProfiles, type RunProfiles, type TuneSummary } from './run.js';

export interface RunOutputs extends RunProfiles {
  /** The run: the directory the tune wrote. */
  run: string;
  summary: TuneSummary;
  /** user -> one ID per slot, as the bank holds them. */
  bankIds: Map<string, number[]>;
}

export async function readRunOutputs(run: string): Promise<RunOutputs> {
  const profiles = await readRunProfiles(run);
  const summary = await readJson<TuneSummary>(join(run, 'tune.json'));
  const bank = await SqliteFeatureBank.open(join(run, 'bank.sqlite'), { readonly: true });
  const bankIds = new Map<string, number[]>();
  try {
    for await (const entry of bank.users()) bankIds.set(entry.user, entry.ids);
  } finally {
    await bank.close();
  }
  return { ...profiles, run, summary, bankIds };
}

/** Per slot, the bank's ID for each user of `users` (index order); -1 where the bank has none. */
export function bankIdColumns(tuned: RunOutputs, users: readonly string[]): Int32Array[] {
  return tuned.slots.map((_, j) => Int32Array.from(users, (u) => tuned.bankIds.get(u)?.[j] ?? -1));
}

/** [users, S·D]: each user's soft tokens, all slots concatenated; zeros for users the run has not tuned. */
export function softTokenRows(tuned: RunOutputs, users: readonly string[]): Float32Array {
  const width = tuned.slots.length * tuned.hidden;
  const row = new Map(tuned.users.map((u, i) => [u, i]));
  const out = new Float32Array(users.length * width);
  users.forEach((u, i) => {
    const r = row.get(u);
    if (r !== undefined) out.set(tuned.softTokens.subarray(r * width, (r + 1) * width), i * width);
  });
  return out;
}
