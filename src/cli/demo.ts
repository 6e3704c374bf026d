import type { Command } from 'commander';

export function registerDemoCommand(program: Command): void {
  program.command('demo').description('run the main pipeline on the embedded defaults').action(() => {
    console.error('userip demo: not implemented yet');
    process.exitCode = 1;
  });
}
