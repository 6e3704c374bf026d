/**
 * A prepared dataset: `userip data prepare` reads a dataset once, splits each user's interactions by
 * time and saves its settings; every later step re-reads it from those settings (reading and
 * splitting are deterministic), so all steps see the same rows.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { readJson, saveConfig, writeJson } from '../io/files.js';
import { datasetSpec, detectFormat, embeddedDatasetSpec, readDataset } from './spec.js';
import { splitByTime, writeSplitCsv, type Split } from './split.js';
import type { Dataset } from './model.js';

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
});
export type PrepareConfig = z.infer<typeof prepareSchema>;

export async function prepareData(config: PrepareConfig): Promise<Record<string, unknown>> {
  const spec = config.spec ?? (config.dataset === 'embedded' ? embeddedDatasetSpec() : await detectFormat(config.dataset));
  const effective = { ...config, spec };
  await saveConfig(config.out, effective);
  const { dataset, split, badRows } = await loadPrepared(config.out);
  await writeSplitCsv(join(config.out, 'split.csv'), split, config.threshold);
  const summary = {
    dataset: dataset.name,
    users: new Set(dataset.interactions.map((i) => i.user)).size,
    items: dataset.items.size,
    interactions: dataset.interactions.length,
    train: split.train.length,
    valid: split.valid.length,
    test: split.test.length,
    bad_rows: badRows,
  };
  await writeJson(join(config.out, 'summary.json'), summary);
  return summary;
}

export interface Prepared {
  config: PrepareConfig & { spec: z.input<typeof datasetSpec> };
  dataset: Dataset;
  split: Split;
  badRows: number;
}

/** Re-read a prepared dataset from its saved config; reading and splitting are deterministic. */
export async function loadPrepared(dir: string): Promise<Prepared> {
  const config = await readJson<Prepared['config']>(join(dir, 'config.json'));
  const { dataset, report } = await readDataset(config.spec, { skipBadRows: config.skipBadRows });
  if (report.badRows) console.error(`${report.badRows} bad rows skipped, e.g. ${report.examples[0]}`);
  if (config.maxUsers) {
    const keep = new Set([...new Set(dataset.interactions.map((i) => i.user))].sort(compareIds).slice(0, config.maxUsers));
    dataset.interactions = dataset.interactions.filter((i) => keep.has(i.user));
  }
  return { config, dataset, split: splitByTime(dataset.interactions), badRows: report.badRows };
}

/** Numeric ids in numeric order, others as text, so "first N users" means what it says on MovieLens. */
function compareIds(a: string, b: string): number {
  const [x, y] = [Number(a), Number(b)];
  return Number.isFinite(x) && Number.isFinite(y) ? x - y : a < b ? -1 : a > b ? 1 : 0;
}
