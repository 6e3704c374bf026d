/**
 * The causal LMs as engine graphs: GPT-2 and the Llama family (Llama, Qwen2, SmolLM, TinyLlama).
 * Both take input *embeddings* (so soft tokens can be spliced in), explicit position ids and an
 * explicit additive attention mask [B, T, T], and return logits [B, T, V]. Weights come from a
 * `ParamSource`, which decides whether each one is a frozen constant or a trainable input.
 */
import { ops as op, type Tensor } from '../engine/index.js';
import * as nn from '../engine/nn.js';
import type { LmConfig } from './config.js';

/**
 * Returns the tensor for a named weight (canonical Hugging Face name) of the given shape. A tied
 * embedding may be asked for twice (input lookup and output head); return the same tensor both times.
 */
export type ParamSource = (name: string, shape: number[]) => Tensor;

export interface LmInputs {
  /** [B, T, D] float */
  inputsEmbeds: Tensor;
  /** [B, T] int64 */
  positionIds: Tensor;
  /** [B, T, T] float, 0 where a query may attend to a key, a large negative number where not */
  attentionMask: Tensor;
}

/** [B, T, H*hd] -> [B, H, T, hd] */
function splitHeads(x: Tensor, heads: number, headDim: number): Tensor {
  return op.transpose(op.reshape(x, [0, 0, heads, headDim]), [0, 2, 1, 3]);
}

/** [B, H, T, hd] -> [B, T, H*hd] */
function mergeHeads(x: Tensor, heads: number, headDim: number): Tensor {
  return op.reshape(op.transpose(x, [0, 2, 1, 3]), [0, 0, heads * headDim]);
}

/** Output head: tied to the token embedding or a separate lm_head, both stored [V, D]. */
function lmHead(c: LmConfig, param: ParamSource, h: Tensor): Tensor {
  const name = c.tiedEmbeddings ? (c.architecture === 'gpt2' ? 'wte.weight' : 'model.embed_tokens.weight') : 'lm_head.weight';
  return op.matmulTransposed(h, param(name, [c.vocabSize, c.hiddenSize]));
}

export function gpt2Logits(c: LmConfig, param: ParamSource, inputs: LmInputs): Tensor {
  const D = c.hiddenSize;
  const mask = op.unsqueeze(inputs.attentionMask, [1]);
  let h = op.add(inputs.inputsEmbeds, op.gather(param('wpe.weight', [c.maxPositions, D]), inputs.positionIds));
  for (let i = 0; i < c.numLayers; i++) {
    const p = (n: string, shape: number[]) => param(`h.${i}.${n}`, shape);
    const a = nn.layerNorm(h, p('ln_1.weight', [D]), p('ln_1.bias', [D]), c.normEps);
    const qkv = nn.linear(a, p('attn.c_attn.weight', [D, 3 * D]), p('attn.c_attn.bias', [3 * D]));
    const [q, k, v] = op.split(qkv, [D, D, D], -1).map((t) => splitHeads(t, c.numHeads, c.headDim));
    const attended = mergeHeads(nn.attention(q, k, v, mask), c.numHeads, c.headDim);
    h = op.add(h, nn.linear(attended, p('attn.c_proj.weight', [D, D]), p('attn.c_proj.bias', [D])));
    const m = nn.layerNorm(h, p('ln_2.weight', [D]), p('ln_2.bias', [D]), c.normEps);
    const act = c.activation === 'gelu' ? nn.geluErf : nn.geluTanh;
    const hidden = act(nn.linear(m, p('mlp.c_fc.weight', [D, c.intermediateSize]), p('mlp.c_fc.bias', [c.intermediateSize])));
    h = op.add(h, nn.linear(hidden, p('mlp.c_proj.weight', [c.intermediateSize, D]), p('mlp.c_proj.bias', [D])));
  }
  h = nn.layerNorm(h, param('ln_f.weight', [D]), param('ln_f.bias', [D]), c.normEps);
  return lmHead(c, param, h);
}

/** cos/sin tables [B, 1, T, hd] of rotary embeddings at the given positions. */
function rotaryTables(c: LmConfig, positionIds: Tensor): [Tensor, Tensor] {
  const half = c.headDim / 2;
  const invFreq = Float32Array.from({ length: half }, (_, i) => 1 / Math.pow(c.ropeTheta!, (2 * i) / c.headDim));
  const g = positionIds.graph;
  const freqs = op.mul(op.unsqueeze(op.cast(positionIds, 'float32'), [-1]), g.constant(invFreq, [half]));
  const angles = op.unsqueeze(op.concat([freqs, freqs], -1), [1]);
  return [op.cos(angles), op.sin(angles)];
}

export function llamaLogits(c: LmConfig, param: ParamSource, inputs: LmInputs): Tensor {
  const D = c.hiddenSize;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const mask = op.unsqueeze(inputs.attentionMask, [1]);
  const [cos, sin] = rotaryTables(c, inputs.positionIds);
  // nn.Linear stores [out, in]: read it transposed in place, so the session holds one copy of it.
  const proj = (x: Tensor, name: string, outDim: number, inDim: number, bias: boolean) => {
    const y = op.matmulTransposed(x, param(`${name}.weight`, [outDim, inDim]));
    return bias ? op.add(y, param(`${name}.bias`, [outDim])) : y;
  };
  let h = inputs.inputsEmbeds;
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}.`;
    const a = nn.rmsNorm(h, param(`${p}input_layernorm.weight`, [D]), c.normEps);
    const q = nn.rope(splitHeads(proj(a, `${p}self_attn.q_proj`, qDim, D, c.attentionBias), c.numHeads, c.headDim), cos, sin);
    const k = nn.rope(splitHeads(proj(a, `${p}self_attn.k_proj`, kvDim, D, c.attentionBias), c.numKvHeads, c.headDim), cos, sin);
    const v = splitHeads(proj(a, `${p}self_attn.v_proj`, kvDim, D, c.attentionBias), c.numKvHeads, c.headDim);
    const attended = mergeHeads(nn.attention(q, k, v, mask), c.numHeads, c.headDim);
    h = op.add(h, proj(attended, `${p}self_attn.o_proj`, D, qDim, false));
    const m = nn.rmsNorm(h, param(`${p}post_attention_layernorm.weight`, [D]), c.normEps);
    const gated = op.mul(nn.silu(proj(m, `${p}mlp.gate_proj`, c.intermediateSize, D, false)), proj(m, `${p}mlp.up_proj`, c.intermediateSize, D, false));
    h = op.add(h, proj(gated, `${p}mlp.down_proj`, D, c.intermediateSize, false));
  }
  h = nn.rmsNorm(h, param('model.norm.weight', [D]), c.normEps);
  return lmHead(c, param, h);
}

export function lmLogits(c: LmConfig, param: ParamSource, inputs: LmInputs): Tensor {
  return c.architecture === 'gpt2' ? gpt2Logits(c, param, inputs) : llamaLogits(c, param, inputs);
}
