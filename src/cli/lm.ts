import type { Command } from 'commander';
import { infoCommand } from './lm-info.js';
import { pretrainCommand } from './lm-pretrain.js';

/** `userip lm ...` */
export function registerLmCommands(program: Command): void {
  program.command('lm').description('language models: inspect a checkpoint, pretrain the house LM').addCommand(infoCommand()).addCommand(pretrainCommand());
}
