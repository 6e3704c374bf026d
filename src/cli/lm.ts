import type { Command } from 'commander';
import { infoCommand } from './lm-info.js';
import { pretrainCommand } from './lm-pretrain.js';
import { corpusCommand, tokenizerCommand } from './lm-tokenizer.js';

/** `userip lm ...` */
export function registerLmCommands(program: Command): void {
  program
    .command('lm')
    .description('language models: inspect a checkpoint; build the house LM (corpus, tokenizer, pretrain)')
    .addCommand(infoCommand())
    .addCommand(corpusCommand())
    .addCommand(tokenizerCommand())
    .addCommand(pretrainCommand());
}
