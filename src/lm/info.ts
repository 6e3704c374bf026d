/** What a checkpoint directory holds, after loading it exactly as the product would (`userip lm info`). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors } from '../io/index.js';
import type { LmConfig } from './config.js';
import { CausalLm } from './causal-lm.js';
import { checkpointNameCandidates, expectedTensors, parameterCount } from './weights.js';

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
