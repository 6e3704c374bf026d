import { Command } from 'commander';

/** Placeholder until the command is written: it exits with an error rather than pretending to work. */
export function infoCommand(): Command {
  return new Command('info').description('not implemented yet').action(() => {
    console.error('userip lm info: not implemented yet');
    process.exitCode = 1;
  });
}
