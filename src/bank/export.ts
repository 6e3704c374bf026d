/**
 * CSV export of a bank for other CTR stacks. The CSV stays plain (`user,<slot>...,source`, no comment
 * lines that many readers choke on); the version goes to a sidecar `<path>.version.json`.
 */
import { csvField, writeChunksAtomic, writeFileAtomic } from '../io/index.js';
import { FeatureBankError, versionId, type BankVersion, type FeatureBank } from './model.js';

export interface BankCsvExport {
  csvPath: string;
  versionPath: string;
  versionId: string;
  rows: number;
}

/** The sidecar written next to the CSV. */
export interface BankCsvVersionFile {
  version_id: string;
  version: BankVersion;
  rows: number;
  columns: string[];
}

/** Flush the CSV buffer to disk past this many characters. */
const FLUSH_CHARS = 1 << 20;

/**
 * Writes every entry of `bank` to `path` and its version to `path + '.version.json'`. Each file appears
 * whole or not at all (checked writes, then a rename); the CSV first, the sidecar last, so a sidecar
 * whose `rows` matches the CSV marks a finished export. Fails, leaving earlier files untouched, if a
 * write falls short or the bank's version changes during the export.
 */
export async function exportBankCsv(bank: FeatureBank, path: string): Promise<BankCsvExport> {
  const version = await bank.version();
  if (version === undefined) throw new FeatureBankError(`cannot export a bank without a version to ${path}`);
  const id = versionId(version);
  const columns = ['user', ...version.slots.map((slot) => slot.name), 'source'];
  const versionPath = `${path}.version.json`;

  let rows = 0;
  async function* lines(): AsyncGenerator<string> {
    let buffer = columns.join(',') + '\n';
    for await (const entry of bank.users()) {
      buffer += [csvField(entry.user), ...entry.ids, entry.source ?? ''].join(',') + '\n';
      rows += 1;
      if (buffer.length >= FLUSH_CHARS) {
        yield buffer;
        buffer = '';
      }
    }
    yield buffer;
    // Checked before the CSV is renamed into place, so an export of a changing bank leaves nothing behind.
    const after = await bank.version();
    if (after === undefined || versionId(after) !== id) {
      throw new FeatureBankError(`the bank's version changed from ${id} to ${after ? versionId(after) : 'none'} during the export to ${path}`);
    }
  }
  await writeChunksAtomic(path, lines());
  const sidecar: BankCsvVersionFile = { version_id: id, version, rows, columns };
  await writeFileAtomic(versionPath, JSON.stringify(sidecar, null, 2) + '\n');
  return { csvPath: path, versionPath, versionId: id, rows };
}
