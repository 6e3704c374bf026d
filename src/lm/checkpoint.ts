/**
 * Loads a Hugging Face checkpoint directory (config.json, model.safetensors or a sharded index, and a
 * tokenizer) into float32 weights keyed by the canonical names of `expectedTensors`.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { readLmConfig, type LmConfig } from './config.js';
import { formatShape, openSafetensors } from '../io/index.js';
import { loadTokenizer, type Tokenizer } from './tokenizer.js';
import { checkpointNameCandidates, expectedTensors } from './weights.js';

export interface Checkpoint {
  dir: string;
  config: LmConfig;
  weights: Map<string, Float32Array>;
  tokenizer: Tokenizer;
  /**
   * Tensors in the files that the model does not read (GPT-2's attn.bias buffers, a stored copy of a
   * tied lm_head, ...). Only for diagnosing a layout mismatch.
   */
  unusedTensors: string[];
}

export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  const config = await readLmConfig(join(dir, 'config.json'));
  const reader = await openSafetensors(await findWeights(dir));
  const weights = new Map<string, Float32Array>();
  let unusedTensors: string[];
  try {
    // Resolve and check every tensor before reading any, so that a bad file fails without reading GBs.
    const plan: [canonical: string, stored: string][] = [];
    for (const [name, shape] of expectedTensors(config)) {
      const candidates = checkpointNameCandidates(config, name);
      const stored = candidates.find((n) => reader.tensors.has(n));
      if (stored === undefined) {
        const aliases = candidates.length > 1 ? ` (also looked for ${candidates.slice(1).map((c) => `"${c}"`).join(', ')})` : '';
        throw new Error(`${reader.path}: missing tensor "${name}"${aliases}: expected shape ${formatShape(shape)}, actual: absent`);
      }
      const info = reader.tensors.get(stored)!;
      if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`${info.file}: tensor "${stored}" has shape ${formatShape(info.shape)}, expected ${formatShape(shape)}`);
      }
      plan.push([name, stored]);
    }
    for (const [name, stored] of plan) weights.set(name, await reader.readFiniteFloat32(stored));
    const used = new Set(plan.map(([, stored]) => stored));
    unusedTensors = [...reader.tensors.keys()].filter((n) => !used.has(n));
  } finally {
    await reader.close();
  }
  const tokenizer = await loadTokenizer(dir, { bosId: config.bosTokenId, eosId: config.eosTokenId });
  // The embedding table may be padded past the tokenizer's vocabulary, never the other way round.
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new Error(`${dir}: tokenizer ${tokenizer.name} has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${config.vocabSize}`);
  }
  return { dir, config, weights, tokenizer, unusedTensors };
}

async function findWeights(dir: string): Promise<string> {
  for (const name of ['model.safetensors', 'model.safetensors.index.json']) {
    const path = join(dir, name);
    if (await access(path).then(() => true, () => false)) return path;
  }
  throw new Error(
    `${dir}: no weights found: looked for model.safetensors and model.safetensors.index.json ` +
      '(PyTorch .bin checkpoints must be converted to safetensors first)',
  );
}
