/** `userip lm pretrain`: train the house LM on a corpus built by the corpus builder. */
import { join } from 'node:path';
import { Command } from 'commander';
import { pretrain, pretrainSettingsSchema } from '../houselm/index.js';
import { readJson } from '../io/index.js';
import { intFlag, numberFlag, resolveConfig } from './config.js';
import { terminalProgress } from './progress.js';

export function pretrainCommand(): Command {
  const command = new Command('pretrain')
    .description(
      'train a small GPT-2-architecture LM from scratch; resumable: rerun the same command to continue ' +
        'from the last checkpoint. Writes a Hugging Face gpt2 directory (config.json, model.safetensors and the tokenizer files).',
    )
    .option('--config <file>', 'JSON config; flags override it')
    .option('--corpus <dir>', 'corpus directory with train.txt and valid.txt')
    .option('--out <dir>', 'run directory: checkpoint, logs, and the model files at the end')
    .option('--tokenizer <dir>', 'directory with tokenizer.json (from `userip lm tokenizer`); default GPT-2 BPE')
    .option('--layers <n>', 'transformer blocks (default 4)', intFlag)
    .option('--hidden <n>', 'hidden size n_embd (default 256)', intFlag)
    .option('--heads <n>', 'attention heads (default 4)', intFlag)
    .option('--context <n>', 'training sequence length = n_positions (default 128)', intFlag);
  return trainingFlags(command, { batch: 'sequences per step (default 16)', steps: 1000, lr: '2e-3', warmup: 60, evalEvery: 100, checkpointEvery: 100, seed: 'seed of initialization and batch sampling (default 0)' })
    .action(async (flags) => {
      const settings = await resolveConfig(pretrainSettingsSchema, flags.config, flags);
      const result = await pretrain(settings, terminalProgress({ bar: flags.progress }));
      // A finished run prints its pretrain-summary.json; the periodic evaluations are in train-log.jsonl.
      console.log(JSON.stringify(result.finished ? await readJson(join(settings.out, 'pretrain-summary.json')) : { finished: false, step: result.step }, null, 2));
    });
}

/**
 * The flags of a training loop that `lm pretrain` and `lm adapt` share (src/houselm/pretrain.ts runs both);
 * `defaults` names each command's own defaults in the help text.
 */
export function trainingFlags(
  command: Command,
  defaults: { batch: string; steps: number; lr: string; warmup: number; evalEvery: number; checkpointEvery: number; seed: string },
): Command {
  return command
    .option('--batch <n>', defaults.batch, intFlag)
    .option('--steps <n>', `optimizer steps (default ${defaults.steps})`, intFlag)
    .option('--lr <x>', `peak learning rate, cosine-decayed after warmup (default ${defaults.lr})`, numberFlag)
    .option('--warmup <n>', `linear warmup steps (default ${defaults.warmup})`, intFlag)
    .option('--weight-decay <x>', 'AdamW weight decay on matrices (default 0.1)', numberFlag)
    .option('--eval-every <n>', `validation loss every N steps on the first --eval-tokens tokens, 0 = never (default ${defaults.evalEvery})`, intFlag)
    .option('--eval-tokens <n>', 'validation tokens of the periodic evaluation (default 8192)', intFlag)
    .option('--checkpoint-every <n>', `checkpoint every N steps (default ${defaults.checkpointEvery})`, intFlag)
    .option('--seed <n>', defaults.seed, intFlag)
    .option('--threads <n>', 'onnxruntime threads (default 1)', intFlag)
    .option('--minutes <x>', 'time budget: stop training after this many minutes in total and save the model', numberFlag)
    .option('--stop-after <n>', 'stop at this step with a checkpoint and no model files (rerun to continue)', intFlag)
    .option('--no-progress', 'no progress bar');
}
