/** `userip bank export`: the profiles of a tune run for another CTR stack. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { exportBankCsv, SqliteFeatureBank } from '../bank/index.js';
import { writeSafetensors } from '../io/index.js';
import { readTunedProfiles } from '../profile/index.js';

export function bankCommand(): Command {
  const bank = new Command('bank').description('the feature bank of profile IDs');
  bank
    .command('export')
    .description('write user -> IDs as CSV (with a version sidecar) and the soft tokens as safetensors')
    .requiredOption('--run <dir>', 'output directory of `userip profile tune`')
    .requiredOption('--out <dir>', 'where to write profiles.csv and soft_tokens.safetensors')
    .action(async (flags: { run: string; out: string }) => {
      console.log(JSON.stringify(await exportBank(flags.run, flags.out), null, 2));
    });
  return bank;
}

export async function exportBank(run: string, out: string): Promise<Record<string, unknown>> {
  await mkdir(out, { recursive: true });
  const store = await SqliteFeatureBank.open(join(run, 'bank.sqlite'), { readonly: true });
  let csv;
  try {
    csv = await exportBankCsv(store, join(out, 'profiles.csv'));
  } finally {
    await store.close();
  }
  const tuned = await readTunedProfiles(run);
  const tensorsPath = join(out, 'soft_tokens.safetensors');
  await writeSafetensors(
    tensorsPath,
    { soft_tokens: { dtype: 'F32', shape: [tuned.users.length, tuned.slots.length, tuned.hidden], data: tuned.softTokens } },
    { users: JSON.stringify(tuned.users), slots: JSON.stringify(tuned.slots.map((s) => s.name)), bank_version: csv.versionId },
  );
  return { csv: csv.csvPath, version: csv.versionPath, rows: csv.rows, bank_version: csv.versionId, soft_tokens: tensorsPath };
}
