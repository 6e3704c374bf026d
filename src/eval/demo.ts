/**
 * The demo: the main job on the embedded defaults — MovieLens latest-small and the house LM:
 * prepare -> tune soft tokens -> codebooks -> feature bank -> explain -> export -> CTR comparison
 * (six feature sets, warm and cold start, 5 seeds) -> the serving model. Every stage writes under
 * the output directory with its effective config. `userip demo` prints it; the bench and the tests
 * run it (or its tune stage) with the same settings.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { prepareData, prepareSchema } from '../data/index.js';
import { readJsonWith, saveConfig, silentProgress, writeJson, type Progress } from '../io/index.js';
import { exportBank, explainRun, tuneSchema, tuneRun, type BankExport, type SlotExplanation, type TuneConfig, type TuneSummary } from '../profile/index.js';
import { compareFeatureSets } from './compare.js';
import type { CompareReport } from './report.js';
import { trainServingModel, type ServingModelSummary } from '../features/index.js';

/**
 * An experiment's settings: optionally the dataset as `data prepare --config` takes it (default the
 * embedded MovieLens latest-small), tuning settings as `profile tune --config` takes them, the CTR
 * seeds, and optionally comparison settings as `eval compare --config` takes them. configs/demo.json
 * is the demo, configs/amazon.json the Amazon run, and each ablation a file under configs/ablations/.
 */
export const demoConfigSchema = z
  .object({
    data: prepareSchema.omit({ out: true, maxUsers: true }).partial().strict().optional(),
    tune: z.record(z.string(), z.unknown()),
    seeds: z.number().int().positive(),
    compare: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type DemoConfig = z.infer<typeof demoConfigSchema>;

/** configs/demo.json, resolved from the compiled file in dist/src/eval/. */
export const DEMO_CONFIG = fileURLToPath(new URL('../../../configs/demo.json', import.meta.url));

export async function readDemoConfig(file: string = DEMO_CONFIG): Promise<DemoConfig> {
  return readJsonWith(demoConfigSchema, file, 'a demo config');
}

/** A demo's tune stage: its tuning settings on `data`, into `out`, against `lm` (default the house LM). */
export function demoTuneConfig(demo: DemoConfig, data: string, out: string, lm = 'house'): TuneConfig {
  return tuneSchema.parse({ ...demo.tune, data, out, lm });
}

export interface DemoOptions {
  out: string;
  config: DemoConfig;
  /** CTR seeds per feature set and protocol (default: the config's). */
  seeds?: number;
  /** The LM to tune against (default: the house LM); tests pass a tiny one. */
  lm?: string;
  /** Only the first N MovieLens users (default: all); tests use a few. */
  maxUsers?: number;
  progress?: Progress;
}

/** What the demo reports as it goes: a heading as each stage starts, then the stage's result. */
export interface DemoListener {
  stage(title: string, seconds: number): void;
  prepared(summary: Record<string, unknown>): void;
  tuned(summary: TuneSummary): void;
  explained(explanation: SlotExplanation[]): void;
  exported(summary: BankExport): void;
  compared(report: CompareReport): void;
  served(summary: ServingModelSummary): void;
}

export interface DemoSummary {
  data: Record<string, unknown>;
  tune: TuneSummary;
  explain: SlotExplanation[];
  export: BankExport;
  compare: ReturnType<typeof compareSummary>;
  serving: ServingModelSummary;
  seconds: number;
}

export async function runDemo(options: DemoOptions, on: DemoListener): Promise<DemoSummary> {
  const started = Date.now();
  const demo = options.config;
  const seeds = options.seeds ?? demo.seeds;
  await saveConfig(options.out, { ...demo, seeds });
  const progress = options.progress ?? silentProgress;
  const stage = (title: string) => on.stage(title, (Date.now() - started) / 1000);

  const dataset = prepareSchema.parse({ dataset: 'embedded', threshold: 3, skipBadRows: false, ...demo.data, out: join(options.out, 'data'), maxUsers: options.maxUsers });
  stage(`data prepare: ${dataset.dataset === 'embedded' && !dataset.spec ? 'MovieLens latest-small' : (dataset.spec?.format ?? dataset.dataset)}, per-user time split`);
  const data = dataset.out;
  const prepared = await prepareData(dataset, progress);
  on.prepared(prepared);

  stage('profile tune: soft tokens against the house LM, codebooks, feature bank');
  const run = join(options.out, 'profile');
  const tune = await tuneRun(demoTuneConfig(demo, data, run, options.lm), progress);
  on.tuned(tune);

  stage('profile explain');
  const explanation = await explainRun(run, { top: 4, minCount: 20, tokens: 8 });
  on.explained(explanation);

  stage('bank export');
  const exported = await exportBank(run, join(options.out, 'export'));
  on.exported(exported);

  stage(`eval compare: ${demo.compare ? 'the config\'s models, feature sets and protocols' : 'DCN on id, id+userip, id+mfkmeans, id+ratebins, id+random, id+softtokens; warm and cold start'}; ${seeds} seeds`);
  const report = await compareFeatureSets({ ...demo.compare, data, run, out: options.out, seeds: Array.from({ length: seeds }, (_, i) => i) }, { log: (line) => progress.log(line) });
  on.compared(report);

  stage('ctr train: the serving model (DCN on id+userip)');
  const serving = await trainServingModel({ data, run, out: join(options.out, 'serve-model') });
  on.served(serving);

  const summary: DemoSummary = { data: prepared, tune, explain: explanation, export: exported, compare: compareSummary(report), serving, seconds: (Date.now() - started) / 1000 };
  await writeJson(join(options.out, 'summary.json'), summary);
  return summary;
}

/** The report's headline rows; the full report is report.json next to it. */
function compareSummary(report: CompareReport) {
  return {
    report: 'report.json',
    seconds: report.seconds,
    ctr: report.ctr.map(({ model, features, protocol, seeds, auc_mean, auc_std, logloss_mean, logloss_std }) => ({ model, features, protocol, seeds, auc_mean, auc_std, logloss_mean, logloss_std })),
  };
}
