/**
 * Datasets for UserIP-Tuning: readers for MovieLens, Amazon, Yelp and mapped CSV/JSONL files into one
 * canonical interaction table and item catalog; the per-user time split; click labels; dense ids; and the
 * per-user behaviour text the LM is tuned on.
 *
 *   const { dataset, report } = await readDataset(embeddedDatasetSpec(), { skipBadRows: true });
 *   const split = splitByTime(dataset.interactions);
 *   const lines = behaviourLines(split.train, dataset.items, { countTokens });
 *   await prepareData({ dataset: 'embedded', out: 'runs/x/data', threshold: 3, skipBadRows: false });
 *   const { dataset, split } = await loadPrepared('runs/x/data');
 */
export { clickLabel, indexIds, type Dataset, type Interaction, type ItemInfo } from './dataset.js';
export { DataError, type BadRowReport } from './rows.js';
export {
  datasetSpec,
  detectFormat,
  EMBEDDED_DATASET_DIR,
  embeddedDatasetSpec,
  readDataset,
  type DatasetSpec,
  type ReadOptions,
  type ReadResult,
} from './spec.js';
export { sortByTime, splitByTime, writeSplitCsv, type Split } from './split.js';
export { loadPrepared, prepareData, prepareSchema, PreparedDataChangedError, type PrepareConfig, type Prepared } from './prepared.js';
export {
  behaviourLines,
  ratedBehaviourLines,
  type BehaviourLine,
  type BehaviourOptions,
  type BehaviourSource,
  type ItemField,
} from './behaviour.js';
