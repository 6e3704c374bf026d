/** `userip lm pretrain`: train the house LM on a corpus built by the corpus builder. */
import { Command } from 'commander';
import { pretrain, pretrainSettingsSchema } from '../lm/pretrain.js';
import { intFlag, numberFlag, resolveConfig } from './config.js';

export function pretrainCommand(): Command {
  return new Command('pretrain')
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
    .option('--context <n>', 'training sequence length = n_positions (default 128)', intFlag)
    .option('--batch <n>', 'sequences per step (default 16)', intFlag)
    .option('--steps <n>', 'optimizer steps (default 1000)', intFlag)
    .option('--lr <x>', 'peak learning rate, cosine-decayed after warmup (default 2e-3)', numberFlag)
    .option('--warmup <n>', 'linear warmup steps (default 60)', intFlag)
    .option('--weight-decay <x>', 'AdamW weight decay on matrices (default 0.1)', numberFlag)
    .option('--eval-every <n>', 'validation loss every N steps, 0 = never (default 100)', intFlag)
    .option('--eval-tokens <n>', 'validation tokens used by the periodic evaluation (default 8192)', intFlag)
    .option('--checkpoint-every <n>', 'checkpoint every N steps (default 100)', intFlag)
    .option('--seed <n>', 'seed of initialization and batch sampling (default 0)', intFlag)
    .option('--threads <n>', 'onnxruntime threads (default 1)', intFlag)
    .option('--minutes <x>', 'time budget: stop training after this many minutes in total and save the model', numberFlag)
    .option('--stop-after <n>', 'stop at this step with a checkpoint and no model files (rerun to continue)', intFlag)
    .option('--no-progress', 'no progress bar')
    .action(async (flags) => {
      const settings = await resolveConfig(pretrainSettingsSchema, flags.config, flags);
      const result = await pretrain(settings);
      // The periodic evaluations are in train-log.jsonl; the summary stays short.
      console.log(JSON.stringify({ ...result, evals: undefined }, null, 2));
    });
}
