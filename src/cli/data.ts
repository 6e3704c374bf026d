/** `userip data prepare`: read a dataset, split it by time per user, and record how. */
import { Command } from 'commander';
import { prepareData, prepareSchema } from '../data/index.js';
import { intFlag, numberFlag, resolveConfig } from './config.js';
import { terminalProgress } from './progress.js';

export function dataCommand(): Command {
  const data = new Command('data').description('datasets: read, split, export');
  data
    .command('prepare')
    .description('read a dataset, split each user\'s interactions by time (train/valid/test), write split.csv')
    .option('--config <file>', 'JSON config; flags override it')
    .option('--dataset <path>', 'dataset folder or file (format detected), or "embedded" (default)')
    .requiredOption('--out <dir>', 'output directory')
    .option('--threshold <n>', 'click label = rating > threshold (default 3)', numberFlag)
    .option('--skip-bad-rows', 'count and report malformed rows instead of stopping at the first')
    .option('--max-users <n>', 'keep only the first N users (quick runs)', intFlag)
    .action(async (flags) => {
      const config = await resolveConfig(prepareSchema, flags.config, flags);
      const summary = await prepareData(config, terminalProgress());
      console.log(JSON.stringify(summary, null, 2));
    });
  return data;
}

