/** `userip data prepare`: read a dataset, split it by time per user, and record how. */
import { join } from 'node:path';
import { Command } from 'commander';
import { z } from 'zod';
import { datasetSpec, detectFormat, embeddedDatasetSpec, readDataset, splitByTime, writeSplitCsv, type Dataset, type Split } from '../data/index.js';
import { intFlag, readJson, resolveConfig, saveConfig, writeJson } from './config.js';

const prepareSchema = z.object({
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

export function dataCommand(): Command {
  const data = new Command('data').description('datasets: read, split, export');
  data
    .command('prepare')
    .description('read a dataset, split each user\'s interactions by time (train/valid/test), write split.csv')
    .option('--config <file>', 'JSON config; flags override it')
    .option('--dataset <path>', 'dataset folder or file (format detected), or "embedded" (default)')
    .requiredOption('--out <dir>', 'output directory')
    .option('--threshold <n>', 'click label = rating > threshold (default 3)', Number)
    .option('--skip-bad-rows', 'count and report malformed rows instead of stopping at the first')
    .option('--max-users <n>', 'keep only the first N users (quick runs)', intFlag)
    .action(async (flags) => {
      const config = await resolveConfig(prepareSchema, flags.config, flags);
      const summary = await prepareData(config);
      console.log(JSON.stringify(summary, null, 2));
    });
  return data;
}

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
