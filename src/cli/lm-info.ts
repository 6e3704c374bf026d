/** `userip lm info`: what a checkpoint directory holds, after loading it exactly as the product would. */
import { Command } from 'commander';
import { lmInfo, type LmInfo } from '../lm/index.js';

export function infoCommand(): Command {
  return new Command('info')
    .description('load a Hugging Face checkpoint directory and print its architecture, size, vocabulary and model id')
    .requiredOption('--lm <dir>', 'checkpoint directory: config.json, model.safetensors (or a sharded index), tokenizer files')
    .option('--json', 'print JSON')
    .action(async (flags: { lm: string; json?: boolean }) => {
      try {
        const info = await lmInfo(flags.lm);
        console.log(flags.json ? JSON.stringify(info, null, 2) : formatInfo(info));
      } catch (err) {
        // A bad directory is a user error: one line naming the problem, no stack trace.
        console.error(`userip lm info: ${(err as Error).message}`);
        process.exitCode = 1;
      }
    });
}

function formatInfo(info: LmInfo): string {
  const millions = (info.parameters / 1e6).toFixed(info.parameters < 1e7 ? 2 : 1);
  const rows: [string, string][] = [
    ['architecture', info.architecture],
    ['model id', info.model_id],
    ['parameters', `${info.parameters.toLocaleString('en-US')} (${millions}M)`],
    ['vocabulary', `${info.vocab_size} (tokenizer: ${info.tokenizer_vocab_size})`],
    ['layers', String(info.layers)],
    ['hidden size', String(info.hidden_size)],
    ['heads', `${info.heads} (kv heads: ${info.kv_heads}, head dim: ${info.head_dim})`],
    ['mlp size', String(info.intermediate_size)],
    ['context length', String(info.context_length)],
    ['tied head', info.tied_head ? 'yes' : 'no'],
    ['stored dtype', info.dtype],
  ];
  return rows.map(([k, v]) => `${k.padEnd(16)}${v}`).join('\n');
}
