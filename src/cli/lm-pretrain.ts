import { Command } from 'commander';

/** Placeholder until the command is written: it exits with an error rather than pretending to work. */
export function pretrainCommand(): Command {
  return new Command('pretrain').description('not implemented yet').action(() => {
    console.error('userip lm pretrain: not implemented yet');
    process.exitCode = 1;
  });
}
