/** `userip demo`: the demo pipeline (src/eval/demo.ts), printed stage by stage. */
import { join } from 'node:path';
import type { Command } from 'commander';
import { DEMO_CONFIG, readDemoConfig, runDemo, type DemoListener } from '../eval/index.js';
import type { TuneSummary } from '../profile/index.js';
import { intFlag } from './config.js';
import { formatCompare } from './eval.js';
import { formatExplanation } from './profile.js';
import { terminalProgress } from './progress.js';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run the pipeline on the embedded MovieLens latest-small data with the house LM, writing to runs/demo/')
    .option('--out <dir>', 'output directory', 'runs/demo')
    .option('--config <file>', 'the experiment\'s settings: configs/demo.json (default), configs/amazon.json, configs/ablations/*.json', DEMO_CONFIG)
    .option('--seeds <n>', 'CTR seeds per feature set and protocol (default: the config\'s)', intFlag)
    .action(async (opts: { out: string; config: string; seeds?: number }) => {
      const summary = await runDemo({ out: opts.out, config: await readDemoConfig(opts.config), seeds: opts.seeds, progress: terminalProgress() }, printer);
      const run = join(opts.out, 'profile');
      printer.stage(`done: everything is under ${opts.out}/ (summary.json, report.md, report.json, auc.svg, curves.svg, codebook-usage.svg)`, summary.seconds);
      console.log(`  serve it:  npx userip serve --model ${summary.serving.dir} --bank ${join(run, 'bank.sqlite')}`);
    });
}

const printer: DemoListener = {
  stage: (title, seconds) => console.log(`\n== ${title} (${seconds.toFixed(0)} s)`),
  prepared: (summary) => console.log(JSON.stringify(summary)),
  tuned: printTune,
  explained: (explanation) => console.log(formatExplanation(explanation)),
  exported: (x) => console.log(`  ${x.rows} users -> ${x.csv}; soft tokens -> ${x.soft_tokens}`),
  compared: (report) => console.log(formatCompare(report)),
  served: (s) => console.log(`  ${s.model} on ${s.fields.join(', ')}: test AUC ${s.test_auc.toFixed(4)}, logloss ${s.test_logloss.toFixed(4)} (best epoch ${s.best_epoch}/${s.epochs}) -> ${s.dir}`),
};

function printTune(t: TuneSummary): void {
  console.log(`  LM ${t.lm}: ${t.users} users, ${t.steps} steps, ${t.seconds.toFixed(0)} s (${t.tokens_per_s.toFixed(0)} tokens/s)`);
  console.log(`  validation NLL per token: ${t.val_nll_start.toFixed(4)} -> ${t.val_nll_end.toFixed(4)}; steps per user ${t.steps_per_user.mean.toFixed(1)} (${t.steps_per_user.min}-${t.steps_per_user.max})`);
  console.log(`  diagnostics: ${JSON.stringify(t.diagnostics)}`);
  for (const c of t.codebooks) console.log(`  slot ${c.slot}: k=${c.k}, usage [${c.counts.join(', ')}], perplexity ${c.perplexity.toFixed(2)}`);
}
