/**
 * `userip demo`: the main job on the embedded defaults. It runs every stage of the pipeline that
 * exists so far and says plainly which stages are not built yet, so its output is never mistaken
 * for a full UserIP-Tuning run.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { embeddedDatasetSpec, readDataset, splitBehaviourText, splitByTime, writeSplitCsv } from '../data/index.js';
import { gpt2Tokenizer } from '../lm/index.js';

const NOT_BUILT_YET = ['profile tuning (soft tokens against the house LM)', 'codebook quantization', 'feature bank', 'CTR comparison'];

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run the pipeline on the embedded MovieLens latest-small data, writing to runs/demo/')
    .option('--out <dir>', 'output directory', 'runs/demo')
    .option('--behaviour-tokens <n>', 'token budget of each user\'s behaviour text', (v) => Number.parseInt(v, 10), 256)
    .action(async (opts: { out: string; behaviourTokens: number }) => {
      await runDemo(opts.out, opts.behaviourTokens);
    });
}

async function runDemo(out: string, behaviourTokens: number): Promise<void> {
  await mkdir(out, { recursive: true });
  const started = Date.now();
  const { dataset, report } = await readDataset(embeddedDatasetSpec(), { skipBadRows: true });
  const split = splitByTime(dataset.interactions);
  await writeSplitCsv(join(out, 'split.csv'), split);
  const tokenizer = gpt2Tokenizer();
  const text = splitBehaviourText(split, dataset.items, { countTokens: (s) => tokenizer.encode(s).length, maxTokens: behaviourTokens });
  const sampleUser = [...text.train.keys()][0];

  const summary = {
    dataset: dataset.name,
    interactions: dataset.interactions.length,
    users: new Set(dataset.interactions.map((i) => i.user)).size,
    items: dataset.items.size,
    bad_rows: report.badRows,
    split: { train: split.train.length, valid: split.valid.length, test: split.test.length },
    behaviour_text: { users: text.train.size, token_budget: behaviourTokens, example_user: sampleUser, example: text.train.get(sampleUser) },
    stages_run: ['read dataset', 'per-user time split (split.csv)', 'behaviour text from the train split'],
    stages_not_built_yet: NOT_BUILT_YET,
    seconds: (Date.now() - started) / 1000,
  };
  const path = join(out, 'summary.json');
  await writeFile(`${path}.tmp`, JSON.stringify(summary, null, 2));
  await rename(`${path}.tmp`, path);

  console.log(`userip demo on ${summary.dataset}: ${summary.interactions} interactions, ${summary.users} users, ${summary.items} items`);
  console.log(`  split: train ${summary.split.train}, valid ${summary.split.valid}, test ${summary.split.test} -> ${join(out, 'split.csv')}`);
  console.log(`  behaviour text for ${text.train.size} users (<= ${behaviourTokens} GPT-2 tokens each); user ${sampleUser}:`);
  console.log(`    ${String(summary.behaviour_text.example).slice(0, 160)}...`);
  console.log(`  not built yet: ${NOT_BUILT_YET.join('; ')}`);
  console.log(`  summary -> ${path} (${summary.seconds.toFixed(1)} s)`);
}
