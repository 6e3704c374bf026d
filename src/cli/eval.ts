/**
 * `userip eval compare` (CTR feature sets side by side over seeds, warm and cold-start protocols) and
 * `userip eval attributes` (how well profiles recover true user attributes). Both take a JSON config
 * plus flags (flags win) and save the effective config beside their outputs.
 */
import { join } from 'node:path';
import { Command } from 'commander';
import { CTR_MODELS } from '../ctr/index.js';
import { attributesSchema, compareFeatureSets, compareSchema, evalAttributes, FEATURE_SETS, PROTOCOLS, type AttributesReport, type CompareConfig, type CompareReport } from '../eval/index.js';
import { intFlag, numberFlag, resolveConfig } from './config.js';
import { saveConfig } from '../io/files.js';

/** Flags that set a field of the config's `ctr` object rather than a top-level one. */
export const CTR_FLAGS = ['epochs', 'patience', 'lr', 'batchSize', 'embeddingSize', 'userIdDropout'] as const;

/** The CTR_FLAGS options, with the defaults of the `ctr` settings of `eval compare` and `ctr train`. */
export function addCtrOptions(command: Command): Command {
  return command
    .option('--epochs <n>', 'CTR epochs at most (default 10)', intFlag)
    .option('--patience <n>', 'epochs without a better validation AUC before stopping (default 3)', intFlag)
    .option('--lr <x>', 'Adam learning rate (default 0.003)', numberFlag)
    .option('--batch-size <n>', 'CTR batch size (default 256)', intFlag)
    .option('--embedding-size <n>', 'embedding width per field (default 8)', intFlag)
    .option('--user-id-dropout <p>', 'each epoch, this share of the training rows sees the unknown user ID instead of its own, so that profile fields learn to stand in for it (config key ctr.userIdDropout; default 0)', numberFlag);
}

const listFlag = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean);

/** `5` means seeds 0..4; `0,3,7` means exactly those. */
const seedsFlag = (v: string): number[] => (v.includes(',') ? listFlag(v).map(intFlag) : Array.from({ length: intFlag(v) }, (_, i) => i));

export function evalCommand(): Command {
  const evaluation = new Command('eval').description('experiments: CTR feature sets compared over seeds; profile recovery against true user attributes');
  const compare = evaluation
    .command('compare')
    .description(`train one CTR model per model, feature set (${FEATURE_SETS.join(', ')}), protocol (warm, cold) and seed; write report.md, report.json, auc.svg, curves.svg, codebook-usage.svg`)
    .option('--config <file>', 'JSON config: any setting below, plus "ctr" (CTR model settings), "mf" (MF baseline settings) and "bootstrap" ({resamples, seed}); flags override it')
    .option('--data <dir>', 'output directory of `userip data prepare`')
    .option('--run <dir>', 'output directory of `userip profile tune` on that data')
    .option('--out <dir>', 'output directory for the report, plots and effective config')
    .option('--models <list>', `comma-separated CTR models, each run on every feature set: ${CTR_MODELS.join(',')} (default dcn)`, listFlag)
    .option('--seeds <n|list>', 'number of seeds (0..n-1) or a comma-separated list (default 5)', seedsFlag)
    .option('--features <list>', `comma-separated feature sets (default all: ${FEATURE_SETS.join(',')})`, listFlag)
    .option('--protocols <list>', `comma-separated protocols (default ${PROTOCOLS.join(',')})`, listFlag)
    .option('--cold-fraction <x>', 'share of the users with held-out rows left out of CTR training (default 0.2)', numberFlag)
    .option('--cold-seed <n>', 'picks the cold-start users (default 0)', intFlag)
    .option('--bootstrap-resamples <n>', 'user-level bootstrap replicates of each ΔAUC interval (default 1000)', intFlag)
    .option('--concurrency <n>', 'CTR runs trained at once, each on its own ORT worker (default: one per core)', intFlag)
    .option('--threads <n>', 'ORT threads per run (default: the cores shared among the concurrent runs)', intFlag);
  addCtrOptions(compare).action(async (flags: Record<string, unknown>) => {
    const config = await resolveCompareConfig(flags);
    await saveConfig(config.out, config);
    const report = await compareFeatureSets(config, { log: (line) => console.log(line) });
    console.log(formatCompare(report));
    console.log(`\nreport: ${join(config.out, 'report.md')} (and report.json, auc.svg, curves.svg, codebook-usage.svg)`);
  });
  evaluation
    .command('attributes')
    .description('profile recovery: NMI of each slot\'s IDs with each true attribute, linear-probe accuracy from the soft tokens, against MF-k-means and chance')
    .option('--config <file>', 'JSON config: any setting below, plus "probe" and "mf"; flags override it')
    .option('--data <dir>', 'output directory of `userip data prepare`')
    .option('--run <dir>', 'output directory of `userip profile tune` on that data')
    .option('--attributes <csv>', 'CSV with columns user,<attribute>,... (empty cells: unknown)')
    .option('--out <dir>', 'output directory (default <run>/attributes)')
    .option('--folds <n>', 'cross-validation folds of the probe (default 5)', intFlag)
    .option('--seed <n>', 'fold assignment and random-ID draws (default 0)', intFlag)
    .action(async (flags: Record<string, unknown>) => {
      const config = await resolveConfig(attributesSchema, flags.config as string | undefined, flags);
      const effective = { ...config, out: config.out ?? join(config.run, 'attributes') };
      await saveConfig(effective.out, effective);
      const report = await evalAttributes(effective, (line) => console.log(line));
      console.log(formatAttributes(report));
      console.log(`\nreport: ${join(effective.out, 'attributes.md')} (and attributes.json)`);
    });
  return evaluation;
}

/** Config file, then flags; the CTR flags are merged into the file's `ctr` object instead of replacing it. */
export async function resolveCompareConfig(flags: Record<string, unknown>): Promise<CompareConfig> {
  const { bootstrapResamples, ...rest } = flags;
  const config = await resolveConfig(compareSchema, flags.config as string | undefined, rest, { key: 'ctr', flags: CTR_FLAGS });
  return bootstrapResamples === undefined ? config : compareSchema.parse({ ...config, bootstrap: { ...config.bootstrap, resamples: bootstrapResamples } });
}

const f4 = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : '  n/a ');

export function formatCompare(report: CompareReport): string {
  const lines: string[] = [];
  for (const key of [...new Set(report.ctr.map((r) => `${r.model}/${r.protocol}`))]) {
    const rows = report.ctr.filter((r) => `${r.model}/${r.protocol}` === key);
    lines.push(`\n${rows[0].protocol}: ${rows[0].model} over ${rows[0].seeds} seeds`);
    lines.push(`  ${'features'.padEnd(14)} ${'AUC'.padEnd(17)} ${'Logloss'.padEnd(17)} ${'gAUC'.padEnd(17)} AUC vs id`);
    for (const r of rows) {
      const p = r.vs_id?.auc.p_value ?? NaN;
      const vs = r.vs_id ? `${r.vs_id.auc.mean_diff >= 0 ? '+' : ''}${r.vs_id.auc.mean_diff.toFixed(4)} (p ${p < 0.001 ? '<0.001' : p.toFixed(3)}): ${r.vs_id.auc.verdict}` : '';
      lines.push(`  ${r.features.padEnd(14)} ${f4(r.auc_mean)} ± ${f4(r.auc_std)}  ${f4(r.logloss_mean)} ± ${f4(r.logloss_std)}  ${f4(r.gauc_mean)} ± ${f4(r.gauc_std)}  ${vs}`);
    }
  }
  return lines.join('\n');
}

export function formatAttributes(report: AttributesReport): string {
  const slots = report.slots.map((s) => s.name);
  const lines: string[] = [];
  for (const a of report.attributes) {
    lines.push(`\n${a.attribute}: ${a.users} users, ${a.classes} classes`);
    lines.push(`  ${'profile'.padEnd(12)} ${slots.map((s) => `NMI ${s}`.padEnd(16)).join(' ')} probe accuracy`);
    for (const [name, r] of [['UserIP', a.userip], ['MF-k-means', a.mfkmeans], ['chance', a.chance]] as const) {
      lines.push(`  ${name.padEnd(12)} ${slots.map((s) => r.nmi[s].toFixed(4).padEnd(16)).join(' ')} ${r.probe_accuracy.toFixed(4)}`);
    }
  }
  return lines.join('\n');
}
