#!/usr/bin/env node
/**
 * The `userip` command. Each command group lives in its own file and is a thin layer over the
 * folders under src/.
 */
import { Command } from 'commander';
import { bankCommand } from './bank.js';
import { ctrCommand } from './ctr.js';
import { dataCommand } from './data.js';
import { evalCommand } from './eval.js';
import { exploreCommand } from './explore.js';
import { serveCommand } from './serve.js';
import { registerDemoCommand } from './demo.js';
import { registerLmCommands } from './lm.js';
import { profileCommand } from './profile.js';
import { queueCommand } from './queue.js';
import { workerCommand } from './worker.js';

const program = new Command()
  .name('userip')
  .description('UserIP-Tuning: latent user profiles as soft tokens against a frozen LM, quantized into IDs for CTR models')
  .showHelpAfterError();

program.addCommand(dataCommand());
registerLmCommands(program);
program.addCommand(profileCommand());
program.addCommand(workerCommand());
program.addCommand(queueCommand());
program.addCommand(bankCommand());
program.addCommand(ctrCommand());
program.addCommand(evalCommand());
program.addCommand(serveCommand());
program.addCommand(exploreCommand());
registerDemoCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Bad files, settings and runs are the user's to fix: one line naming them; the stack only on request.
  console.error(`userip: ${process.env.USERIP_DEBUG ? (error as Error).stack : (error as Error).message}`);
  process.exitCode = 1;
}
