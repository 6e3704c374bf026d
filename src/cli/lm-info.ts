/** `userip lm info`: what a checkpoint directory holds, after loading it exactly as the product would. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { CausalLm, checkpointNameCandidates, expectedTensors, parameterCount, type LmConfig } from '../lm/index.js';
import { openSafetensors } from '../io/index.js';

export interface LmInfo {
  architecture: string;
  model_id: string;
  /** Distinct weights; a tied output head is counted once, as Hugging Face counts it. */
  parameters: number;
  vocab_size: number;
  tokenizer_vocab_size: number;
  layers: number;
  hidden_size: number;
  heads: number;
  kv_heads: number;
  head_dim: number;
  intermediate_size: number;
  context_length: number;
  tied_head: boolean;
  /** Storage dtype of the weights (F32, F16, BF16; "F16+F32" when mixed); they are upcast to float32 on load. */
  dtype: string;
}

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

export async function lmInfo(dir: string): Promise<LmInfo> {
  const lm = await CausalLm.load(dir);
  const c = lm.config;
  return {
    architecture: c.architecture,
    model_id: lm.id,
    parameters: parameterCount(c),
    vocab_size: c.vocabSize,
    tokenizer_vocab_size: lm.tokenizer.vocabSize,
    layers: c.numLayers,
    hidden_size: c.hiddenSize,
    heads: c.numHeads,
    kv_heads: c.numKvHeads,
    head_dim: c.headDim,
    intermediate_size: c.intermediateSize,
    context_length: c.maxPositions,
    tied_head: c.tiedEmbeddings,
    dtype: await storedDtype(dir, c),
  };
}

/**
 * Dtypes of the tensors the model reads (buffers such as GPT-2's attn.bias may be stored otherwise).
 * The loader has already accepted the directory, so one of the two weight files exists.
 */
async function storedDtype(dir: string, c: LmConfig): Promise<string> {
  const single = join(dir, 'model.safetensors');
  const reader = await openSafetensors(existsSync(single) ? single : join(dir, 'model.safetensors.index.json'));
  try {
    const read = new Set([...expectedTensors(c).keys()].flatMap((name) => checkpointNameCandidates(c, name)));
    return [...new Set([...reader.tensors.values()].filter((t) => read.has(t.name)).map((t) => t.dtype))].sort().join('+');
  } finally {
    await reader.close();
  }
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
