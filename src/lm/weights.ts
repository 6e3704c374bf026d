/**
 * The exact tensor names and shapes of Hugging Face checkpoints, per architecture. Layouts differ:
 * GPT-2 stores its projections as Conv1D weights, [in, out]; Llama/Qwen2 use nn.Linear, [out, in].
 * Model code reads weights by these canonical names.
 */
import type { LmConfig } from './config.js';

/** Parameters of a checkpoint of this config; a tied output head counts once. */
export function parameterCount(config: LmConfig): number {
  let n = 0;
  for (const shape of expectedTensors(config).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

export function expectedTensors(config: LmConfig): Map<string, number[]> {
  const tensors = config.architecture === 'gpt2' ? gpt2Tensors(config) : llamaTensors(config);
  if (!config.tiedEmbeddings) tensors.set('lm_head.weight', [config.vocabSize, config.hiddenSize]);
  return tensors;
}

function gpt2Tensors(c: LmConfig): Map<string, number[]> {
  const D = c.hiddenSize;
  const I = c.intermediateSize;
  const t = new Map<string, number[]>([
    ['wte.weight', [c.vocabSize, D]],
    ['wpe.weight', [c.maxPositions, D]],
  ]);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `h.${i}.`;
    t.set(`${p}ln_1.weight`, [D]);
    t.set(`${p}ln_1.bias`, [D]);
    t.set(`${p}attn.c_attn.weight`, [D, 3 * D]);
    t.set(`${p}attn.c_attn.bias`, [3 * D]);
    t.set(`${p}attn.c_proj.weight`, [D, D]);
    t.set(`${p}attn.c_proj.bias`, [D]);
    t.set(`${p}ln_2.weight`, [D]);
    t.set(`${p}ln_2.bias`, [D]);
    t.set(`${p}mlp.c_fc.weight`, [D, I]);
    t.set(`${p}mlp.c_fc.bias`, [I]);
    t.set(`${p}mlp.c_proj.weight`, [I, D]);
    t.set(`${p}mlp.c_proj.bias`, [D]);
  }
  t.set('ln_f.weight', [D]);
  t.set('ln_f.bias', [D]);
  return t;
}

function llamaTensors(c: LmConfig): Map<string, number[]> {
  const D = c.hiddenSize;
  const I = c.intermediateSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const t = new Map<string, number[]>([['model.embed_tokens.weight', [c.vocabSize, D]]]);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}.`;
    t.set(`${p}input_layernorm.weight`, [D]);
    t.set(`${p}self_attn.q_proj.weight`, [q, D]);
    t.set(`${p}self_attn.k_proj.weight`, [kv, D]);
    t.set(`${p}self_attn.v_proj.weight`, [kv, D]);
    if (c.attentionBias) {
      t.set(`${p}self_attn.q_proj.bias`, [q]);
      t.set(`${p}self_attn.k_proj.bias`, [kv]);
      t.set(`${p}self_attn.v_proj.bias`, [kv]);
    }
    t.set(`${p}self_attn.o_proj.weight`, [D, q]);
    t.set(`${p}post_attention_layernorm.weight`, [D]);
    t.set(`${p}mlp.gate_proj.weight`, [I, D]);
    t.set(`${p}mlp.up_proj.weight`, [I, D]);
    t.set(`${p}mlp.down_proj.weight`, [D, I]);
  }
  t.set('model.norm.weight', [D]);
  return t;
}

/**
 * Names under which a canonical tensor may appear in a file, in order of preference. GPT2LMHeadModel
 * checkpoints saved by recent transformers prefix the body with `transformer.`; the original gpt2
 * files do not. `lm_head` sits outside the body in both.
 */
export function checkpointNameCandidates(config: LmConfig, canonical: string): string[] {
  if (config.architecture === 'gpt2' && canonical !== 'lm_head.weight') return [canonical, `transformer.${canonical}`];
  return [canonical];
}
