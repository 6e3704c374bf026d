/** `userip bank export`: the profiles of a tune run for another CTR stack. */
import { Command } from 'commander';
import { exportBank } from '../profile/index.js';

export function bankCommand(): Command {
  const bank = new Command('bank').description('the feature bank of profile IDs');
  bank
    .command('export')
    .description('write user -> IDs as CSV (with a version sidecar) and the soft tokens as safetensors')
    .requiredOption('--run <dir>', 'output directory of `userip profile tune`')
    .requiredOption('--out <dir>', 'where to write profiles.csv and soft_tokens.safetensors')
    .action(async (flags: { run: string; out: string }) => {
      console.log(JSON.stringify(await exportBank(flags.run, flags.out), null, 2));
    });
  return bank;
}
