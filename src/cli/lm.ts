import type { Command } from 'commander';
import { adaptCommand } from './lm-adapt.js';
import { infoCommand } from './lm-info.js';
import { pretrainCommand } from './lm-pretrain.js';
import { corpusCommand, tokenizerCommand } from './lm-tokenizer.js';

/** `userip lm ...` */
export function registerLmCommands(program: Command): void {
  program
    .command('lm')
    .description('language models: inspect a checkpoint; build the house LM (corpus, tokenizer, pretrain); adapt an LM to a dataset\'s behaviour text')
    .addCommand(infoCommand())
    .addCommand(corpusCommand())
    .addCommand(tokenizerCommand())
    .addCommand(pretrainCommand())
    .addCommand(adaptCommand());
}
