/**
 * CSV export of a bank for other CTR stacks. The CSV stays plain (`user,<slot>...,source`, no comment
 * lines that many readers choke on); the version goes to a sidecar `<path>.version.json`.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { FeatureBankError, versionId, type BankVersion, type FeatureBank } from './model.js';

export interface BankCsvExport {
  csvPath: string;
  versionPath: string;
  versionId: string;
  rows: number;
}

/** The sidecar written next to the CSV. */
export interface BankCsvVersionFile {
  versionId: string;
  version: BankVersion;
  rows: number;
  columns: string[];
}

/** Flush the CSV buffer to disk past this many characters. */
const FLUSH_CHARS = 1 << 20;

/**
 * Writes every entry of `bank` to `path` and its version to `path + '.version.json'`. Each file is
 * written to a temporary name and renamed into place; the CSV first, the sidecar last, so a sidecar
 * whose `rows` matches the CSV marks a finished export. Fails, leaving earlier files untouched, if the
 * bank's version changes during the export.
 */
export async function exportBankCsv(bank: FeatureBank, path: string): Promise<BankCsvExport> {
  const version = await bank.version();
  if (version === undefined) throw new FeatureBankError(`cannot export a bank without a version to ${path}`);
  const id = versionId(version);
  const columns = ['user', ...version.slots.map((slot) => slot.name), 'source'];
  const versionPath = `${path}.version.json`;

  const suffix = `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const csvTmp = path + suffix;
  const versionTmp = versionPath + suffix;
  try {
    let rows = 0;
    const file = await open(csvTmp, 'w');
    try {
      let buffer = columns.join(',') + '\n';
      for await (const entry of bank.users()) {
        buffer += [csvField(entry.user), ...entry.ids, entry.source ?? ''].join(',') + '\n';
        rows += 1;
        if (buffer.length >= FLUSH_CHARS) {
          await file.write(buffer);
          buffer = '';
        }
      }
      await file.write(buffer);
      await file.sync();
    } finally {
      await file.close();
    }

    const after = await bank.version();
    if (after === undefined || versionId(after) !== id) {
      throw new FeatureBankError(`the bank's version changed from ${id} to ${after ? versionId(after) : 'none'} during the export to ${path}`);
    }

    const sidecar: BankCsvVersionFile = { versionId: id, version, rows, columns };
    await writeFile(versionTmp, JSON.stringify(sidecar, null, 2) + '\n');
    await rename(csvTmp, path);
    await rename(versionTmp, versionPath);
    return { csvPath: path, versionPath, versionId: id, rows };
  } finally {
    await rm(csvTmp, { force: true });
    await rm(versionTmp, { force: true });
  }
}

/** RFC 4180 quoting; user ids are the only free text in a row. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
