/**
 * A prepared dataset: `userip data prepare` reads a dataset once, splits each user's interactions by
 * time and saves its settings with absolute paths and a snapshot (size and sha256) of every source
 * file; every later step re-reads it from those settings (reading and splitting are deterministic)
 * and refuses to go on when a source file no longer matches its snapshot, so all steps see the same
 * rows. `dataHash` identifies the prepared data: runs record it and refuse other data.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { hashOf, readJson, saveConfig, silentProgress, writeJson, type Progress } from '../io/index.js';
import { hashFile, type FileHash } from '../io/hash.js';
import { datasetSpec, detectFormat, embeddedDatasetSpec, readDataset } from './spec.js';
import { splitByTime, writeSplitCsv, type Split } from './split.js';
import type { Dataset } from './dataset.js';

export const prepareSchema = z.object({
  /** A dataset path (format detected), or "embedded" for the shipped MovieLens latest-small. */
  dataset: z.string().default('embedded'),
  /** An explicit dataset spec (format plus paths); overrides `dataset`. */
  spec: datasetSpec.optional(),
  out: z.string(),
  threshold: z.number().default(3),
  skipBadRows: z.boolean().default(false),
  /** Keep only the first N users (in id order): quick runs and tests. */
  maxUsers: z.number().int().positive().optional(),
}).strict();
export type PrepareConfig = z.infer<typeof prepareSchema>;

/** Reads and splits the dataset into `config.out`; skipped bad rows are reported on `progress` (and counted in summary.json). */
export async function prepareData(config: PrepareConfig, progress: Progress = silentProgress): Promise<Record<string, unknown>> {
  const spec = absolutePaths(config.spec ?? (config.dataset === 'embedded' ? embeddedDatasetSpec() : await detectFormat(config.dataset)));
  const dataset = config.dataset === 'embedded' ? config.dataset : resolve(config.dataset);
  const snapshot = await Promise.all((await sourceFiles(spec)).map(hashFile));
  const effective: Prepared['config'] = { ...config, dataset, spec, snapshot };
  await saveConfig(config.out, effective);
  const { dataset: read, split, badRows } = await loadPrepared(config.out, progress);
  await writeSplitCsv(join(config.out, 'split.csv'), split, config.threshold);
  const summary = {
    dataset: read.name,
    users: new Set(read.interactions.map((i) => i.user)).size,
    items: read.items.size,
    interactions: read.interactions.length,
    train: split.train.length,
    valid: split.valid.length,
    test: split.test.length,
    bad_rows: badRows,
  };
  await writeJson(join(config.out, 'summary.json'), summary);
  return summary;
}

export interface Prepared {
  config: Omit<PrepareConfig, 'spec'> & { spec: z.input<typeof datasetSpec>; snapshot: FileHash[] };
  dataset: Dataset;
  split: Split;
  badRows: number;
  /** Identifies the prepared data: settings and the content of every source file. */
  dataHash: string;
}

/** The source data no longer matches what `data prepare` read. */
export class PreparedDataChangedError extends Error {
  override name = 'PreparedDataChangedError';
}

/**
 * Re-read a prepared dataset from its saved config; reading and splitting are deterministic. Refuses
 * when a source file differs from the snapshot taken by `data prepare`.
 */
export async function loadPrepared(dir: string, progress: Progress = silentProgress): Promise<Prepared> {
  const configPath = join(dir, 'config.json');
  const config = await readJson<Prepared['config']>(configPath);
  if (!Array.isArray(config.snapshot)) {
    throw new PreparedDataChangedError(`${configPath} has no snapshot of its source files (prepared by an older version): rerun \`userip data prepare --out ${dir}\``);
  }
  const current = await Promise.all((await sourceFiles(config.spec)).map(hashFile));
  const changed = describeChanges(config.snapshot, current);
  if (changed.length) {
    throw new PreparedDataChangedError(
      `the source data of ${dir} changed since \`userip data prepare\`: ${changed.join('; ')}. Prepare it again into a new directory (runs made from the old data keep their checkpoints only with the old data)`,
    );
  }
  const { dataset, report } = await readDataset(config.spec, { skipBadRows: config.skipBadRows });
  if (report.badRows) progress.log(`${report.badRows} bad rows skipped, e.g. ${report.examples[0]}`);
  if (config.maxUsers) {
    const keep = new Set([...new Set(dataset.interactions.map((i) => i.user))].sort(compareIds).slice(0, config.maxUsers));
    dataset.interactions = dataset.interactions.filter((i) => keep.has(i.user));
  }
  const { out: _out, ...settings } = config;
  return { config, dataset, split: splitByTime(dataset.interactions), badRows: report.badRows, dataHash: hashOf(settings) };
}

/** Spec fields that name a file or a folder of files. */
const FILE_FIELDS = new Set(['file', 'reviews', 'meta', 'business']);
const DIR_FIELDS = new Set(['dir']);

/** The spec with every path made absolute, so that later steps read the same files from any directory. */
function absolutePaths<T>(spec: T): T {
  if (typeof spec !== 'object' || spec === null) return spec;
  return Object.fromEntries(
    Object.entries(spec).map(([key, value]) => [key, typeof value === 'string' && (FILE_FIELDS.has(key) || DIR_FIELDS.has(key)) ? resolve(value) : absolutePaths(value)]),
  ) as T;
}

/** Every file a spec can read: its named files, and the regular files of its folders. Sorted. */
async function sourceFiles(spec: unknown): Promise<string[]> {
  const files: string[] = [];
  const visit = async (value: unknown): Promise<void> => {
    if (typeof value !== 'object' || value === null) return;
    for (const [key, field] of Object.entries(value)) {
      if (typeof field === 'string' && FILE_FIELDS.has(key)) files.push(field);
      else if (typeof field === 'string' && DIR_FIELDS.has(key)) {
        for (const name of await readdir(field)) if ((await stat(join(field, name))).isFile()) files.push(join(field, name));
      } else await visit(field);
    }
  };
  await visit(spec);
  return files.sort();
}

/** What differs between two snapshots, file by file. */
function describeChanges(before: readonly FileHash[], after: readonly FileHash[]): string[] {
  const now = new Map(after.map((f) => [f.path, f]));
  const changes: string[] = [];
  for (const file of before) {
    const current = now.get(file.path);
    if (!current) changes.push(`${file.path} is gone`);
    else if (current.sha256 !== file.sha256) changes.push(`${file.path} was ${file.bytes} bytes (sha256 ${file.sha256.slice(0, 12)}…), now ${current.bytes} (sha256 ${current.sha256.slice(0, 12)}…)`);
    now.delete(file.path);
  }
  for (const path of now.keys()) changes.push(`${path} is new`);
  return changes;
}

/** Numeric ids in numeric order, others as text, so "first N users" means what it says on MovieLens. */
function compareIds(a: string, b: string): number {
  const [x, y] = [Number(a), Number(b)];
  return Number.isFinite(x) && Number.isFinite(y) ? x - y : a < b ? -1 : a > b ? 1 : 0;
}
