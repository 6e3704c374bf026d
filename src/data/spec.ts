/** One entry point for every format: a validated spec in, the canonical dataset and a bad-row report out. */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { amazonSpec, readAmazon } from './amazon.js';
import type { Dataset } from './dataset.js';
import { movieLens100kSpec, movieLens1mSpec, movieLensSpec, readMovieLens, readMovieLens100k, readMovieLens1m } from './movielens.js';
import { parseJsonOrPython } from './pyliteral.js';
import { BadRows, openInput, type BadRowReport } from './rows.js';
import { readTable, tableSpec } from './table.js';
import { readYelp, yelpSpec } from './yelp.js';

export const datasetSpec = z.discriminatedUnion('format', [
  movieLensSpec,
  movieLens100kSpec,
  movieLens1mSpec,
  amazonSpec,
  yelpSpec,
  tableSpec,
]);

/** What to read, e.g. `{ format: 'movielens', dir: 'data/ml-latest-small' }` or `{ format: 'amazon', reviews, meta }`. */
export type DatasetSpec = z.input<typeof datasetSpec>;

export interface ReadOptions {
  /** Count and report bad rows instead of stopping at the first one. */
  skipBadRows?: boolean;
}

export interface ReadResult {
  dataset: Dataset;
  report: BadRowReport;
}

export async function readDataset(spec: DatasetSpec, options: ReadOptions = {}): Promise<ReadResult> {
  const parsed = datasetSpec.safeParse(spec);
  if (!parsed.success) throw new Error(`invalid dataset spec:\n${z.prettifyError(parsed.error)}`);
  const bad = new BadRows(options.skipBadRows ?? false);
  const s = parsed.data;
  let dataset: Dataset;
  switch (s.format) {
    case 'movielens':
      dataset = await readMovieLens(s, bad);
      break;
    case 'movielens-100k':
      dataset = await readMovieLens100k(s, bad);
      break;
    case 'movielens-1m':
      dataset = await readMovieLens1m(s, bad);
      break;
    case 'amazon':
      dataset = await readAmazon(s, bad);
      break;
    case 'yelp':
      dataset = await readYelp(s, bad);
      break;
    case 'csv':
    case 'jsonl':
      dataset = await readTable(s, bad);
      break;
  }
  return { dataset, report: bad.report };
}

/** MovieLens latest-small as shipped in the package's data/ folder (GroupLens licence in its README.txt). */
export const EMBEDDED_DATASET_DIR = fileURLToPath(new URL('../../../data/movielens-latest-small', import.meta.url));

/** The embedded default dataset, with users' tags as their review text. */
export function embeddedDatasetSpec(): DatasetSpec {
  return { format: 'movielens', name: 'movielens-latest-small', dir: EMBEDDED_DATASET_DIR, tags: true };
}

/**
 * A spec for a path, from file names (MovieLens folders, a Yelp folder) or from the first record of a
 * JSON-lines file (Amazon or Yelp reviews). Generic CSV/JSONL needs a column mapping, so it is never guessed.
 */
export async function detectFormat(path: string): Promise<DatasetSpec> {
  if (!(await stat(path)).isDirectory()) return detectFile(path);
  const files = await readdir(path);
  const has = (name: string) => files.includes(name);
  if (has('ratings.csv') && has('movies.csv')) return { format: 'movielens', dir: path, tags: has('tags.csv') };
  if (has('u.data')) return { format: 'movielens-100k', dir: path };
  if (has('ratings.dat')) return { format: 'movielens-1m', dir: path };
  if (has('yelp_academic_dataset_review.json')) {
    const business = has('yelp_academic_dataset_business.json') ? { business: join(path, 'yelp_academic_dataset_business.json') } : {};
    return { format: 'yelp', reviews: join(path, 'yelp_academic_dataset_review.json'), ...business };
  }
  // An Amazon folder: one reviews file, and perhaps its meta_ file.
  const json = files.filter((name) => /\.json(l)?(\.gz)?$/i.test(name)).sort();
  const meta = json.filter((name) => name.startsWith('meta_'));
  const reviews = json.filter((name) => !name.startsWith('meta_'));
  if (reviews.length === 1 && meta.length <= 1) {
    const spec = await detectFile(join(path, reviews[0]));
    return spec.format === 'amazon' && meta.length === 1 ? { ...spec, meta: join(path, meta[0]) } : spec;
  }
  throw new Error(`${path}: cannot tell the dataset format from its files; give a spec with a format`);
}

async function detectFile(file: string): Promise<DatasetSpec> {
  const record = await firstRecord(file);
  if ('reviewerID' in record && 'asin' in record) return { format: 'amazon', reviews: file };
  if ('user_id' in record && 'business_id' in record && 'stars' in record) return { format: 'yelp', reviews: file };
  throw new Error(`${file}: not Amazon or Yelp reviews; for other files give a csv/jsonl spec with a column mapping`);
}

async function firstRecord(file: string): Promise<Record<string, unknown>> {
  const input = await openInput(file);
  input.setEncoding('utf8');
  let text = '';
  for await (const chunk of input as AsyncIterable<string>) {
    text += chunk;
    if (text.includes('\n')) break;
  }
  let record: unknown;
  try {
    record = parseJsonOrPython(text.split('\n')[0].trim());
  } catch {
    record = undefined;
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record)) {
    throw new Error(`${file}: the first line is not a JSON object`);
  }
  return record as Record<string, unknown>;
}
