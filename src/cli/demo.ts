/**
 * `userip demo`: the main job on the embedded defaults — MovieLens latest-small and the house LM:
 * prepare -> tune soft tokens -> codebooks -> feature bank -> explain -> export -> CTR comparison
 * (six feature sets, warm and cold start, 5 seeds) -> the serving model. Every stage writes under
 * the output directory with its effective config, so the demo is also a worked example of the CLI.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Command } from 'commander';
import { prepareData } from '../data/index.js';
import { compareFeatureSets, trainServingModel, type CompareReport } from '../eval/index.js';
import { readJson, saveConfig, writeJson } from '../io/files.js';
import { explainRun, tuneRun, tuneSchema, type TuneSummary } from '../profile/index.js';
import { exportBank } from './bank.js';
import { intFlag } from './config.js';
import { formatCompare } from './eval.js';
import { formatExplanation } from './profile.js';

/**
 * The demo's settings: configs/demo.json (tuning settings as `profile tune --config` takes them, the CTR
 * seeds, and optionally comparison settings as `eval compare --config` takes them). An ablation is such
 * a file under configs/ablations/.
 */
const demoConfigSchema = z
  .object({ tune: z.record(z.string(), z.unknown()), seeds: z.number().int().positive(), compare: z.record(z.string(), z.unknown()).optional() })
  .strict();
const DEMO_CONFIG = fileURLToPath(new URL('../../../configs/demo.json', import.meta.url));

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run the pipeline on the embedded MovieLens latest-small data with the house LM, writing to runs/demo/')
    .option('--out <dir>', 'output directory', 'runs/demo')
    .option('--config <file>', 'the demo\'s settings', DEMO_CONFIG)
    .option('--seeds <n>', 'CTR seeds per feature set and protocol (default: the config\'s)', intFlag)
    .action(async (opts: DemoOptions) => {
      await runDemo(opts);
    });
}

interface DemoOptions {
  out: string;
  config: string;
  seeds?: number;
}

async function runDemo(opts: DemoOptions): Promise<void> {
  const started = Date.now();
  const demo = demoConfigSchema.parse(await readJson(opts.config));
  const seeds = opts.seeds ?? demo.seeds;
  await saveConfig(opts.out, { ...demo, seeds });
  const stage = (name: string) => console.log(`\n== ${name} (${((Date.now() - started) / 1000).toFixed(0)} s)`);

  stage('data prepare: MovieLens latest-small, per-user time split');
  const data = join(opts.out, 'data');
  const prepared = await prepareData({ dataset: 'embedded', out: data, threshold: 3, skipBadRows: false });
  console.log(JSON.stringify(prepared));

  stage('profile tune: soft tokens against the house LM, codebooks, feature bank');
  const run = join(opts.out, 'profile');
  const tune = await tuneRun(tuneSchema.parse({ ...demo.tune, data, out: run, lm: 'house' }));
  printTune(tune);

  stage('profile explain');
  const explanation = await explainRun(run, { top: 4, minCount: 20, tokens: 8 });
  console.log(formatExplanation(explanation));

  stage('bank export');
  const exported = await exportBank(run, join(opts.out, 'export'));
  console.log(`  ${exported.rows} users -> ${exported.csv}; soft tokens -> ${exported.soft_tokens}`);

  stage(`eval compare: ${demo.compare ? 'the config\'s models, feature sets and protocols' : 'DCN on id, id+userip, id+mfkmeans, id+ratebins, id+random, id+softtokens; warm and cold start'}; ${seeds} seeds`);
  const report = await compareFeatureSets({ ...demo.compare, data, run, out: opts.out, seeds: Array.from({ length: seeds }, (_, i) => i) });
  console.log(formatCompare(report));

  stage('ctr train: the serving model (DCN on id+userip)');
  const serveModel = join(opts.out, 'serve-model');
  const serving = await trainServingModel({ data, run, out: serveModel });
  console.log(`  ${serving.model} on ${serving.fields.join(', ')}: test AUC ${serving.test_auc.toFixed(4)}, logloss ${serving.test_logloss.toFixed(4)} (best epoch ${serving.best_epoch}/${serving.epochs}) -> ${serveModel}`);

  const seconds = (Date.now() - started) / 1000;
  await writeJson(join(opts.out, 'summary.json'), { data: prepared, tune, explain: explanation, export: exported, compare: compareSummary(report), serving, seconds });
  stage(`done: everything is under ${opts.out}/ (summary.json, report.md, report.json, auc.svg, curves.svg, codebook-usage.svg)`);
  console.log(`  serve it:  npx userip serve --model ${serveModel} --bank ${join(run, 'bank.sqlite')}`);
}

/** The report's headline rows; the full report is report.json next to it. */
function compareSummary(report: CompareReport) {
  return { report: 'report.json', seconds: report.seconds, ctr: report.ctr.map(({ model, features, protocol, seeds, auc_mean, auc_std, logloss_mean, logloss_std }) => ({ model, features, protocol, seeds, auc_mean, auc_std, logloss_mean, logloss_std })) };
}

function printTune(t: TuneSummary): void {
  console.log(`  LM ${t.lm}: ${t.users} users, ${t.steps} steps, ${t.seconds.toFixed(0)} s (${t.tokens_per_s.toFixed(0)} tokens/s)`);
  console.log(`  validation NLL per token: ${t.val_nll_start.toFixed(4)} -> ${t.val_nll_end.toFixed(4)}; steps per user ${t.steps_per_user.mean.toFixed(1)} (${t.steps_per_user.min}-${t.steps_per_user.max})`);
  console.log(`  diagnostics: ${JSON.stringify(t.diagnostics)}`);
  for (const c of t.codebooks) console.log(`  slot ${c.slot}: k=${c.k}, usage [${c.counts.join(', ')}], perplexity ${c.perplexity.toFixed(2)}`);
}
