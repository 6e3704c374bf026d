/**
 * A tune run's profiles for another CTR stack: the bank as CSV (src/bank writes it) plus the soft
 * tokens, which only the run holds, as safetensors with the users and slots in the metadata.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { exportBankCsv, SqliteFeatureBank } from '../bank/index.js';
import { writeSafetensors } from '../io/index.js';
import { readRunProfiles } from './run.js';

export interface BankExport {
  csv: string;
  version: string;
  rows: number;
  bank_version: string;
  soft_tokens: string;
}

/** User -> IDs as CSV (with a version sidecar) and the soft tokens as safetensors, under `out`. */
export async function exportBank(run: string, out: string): Promise<BankExport> {
  await mkdir(out, { recursive: true });
  const store = await SqliteFeatureBank.open(join(run, 'bank.sqlite'), { readonly: true });
  let csv;
  try {
    csv = await exportBankCsv(store, join(out, 'profiles.csv'));
  } finally {
    await store.close();
  }
  const tuned = await readRunProfiles(run);
  const tensorsPath = join(out, 'soft_tokens.safetensors');
  await writeSafetensors(
    tensorsPath,
    { soft_tokens: { dtype: 'F32', shape: [tuned.users.length, tuned.slots.length, tuned.hidden], data: tuned.softTokens } },
    { users: JSON.stringify(tuned.users), slots: JSON.stringify(tuned.slots.map((s) => s.name)), bank_version: csv.versionId },
  );
  return { csv: csv.csvPath, version: csv.versionPath, rows: csv.rows, bank_version: csv.versionId, soft_tokens: tensorsPath };
}
