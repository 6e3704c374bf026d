/**
 * An independent forward pass of the supported causal LMs in plain TypeScript: float64 arithmetic,
 * straightforward loops, written from the architecture definitions (GPT-2; Llama/Qwen2 with RMSNorm,
 * rotate-half RoPE, SwiGLU, grouped-query attention, Qwen2's q/k/v biases) and reading the Hugging
 * Face weights map directly. It shares no code with src/engine or src/lm/transformer.ts, so that the
 * two can check each other. One sequence at a time; slow, meant for tiny models.
 */
import type { LmConfig } from '../../src/lm/config.js';

export interface ReferenceInputs {
  /** [T, D] input embeddings of one sequence. */
  inputsEmbeds: ArrayLike<number>;
  /** [T] position of each token. */
  positionIds: readonly number[];
  /** [T, T] additive mask, row = query, column = key (0 allowed, a large negative number masked). */
  attentionMask: ArrayLike<number>;
}

type Weights = ReadonlyMap<string, Float32Array>;

/** Logits [T, V] of one sequence. */
export function referenceLogits(c: LmConfig, weights: Weights, inputs: ReferenceInputs): Float64Array {
  const T = inputs.positionIds.length;
  const D = c.hiddenSize;
  const w = (name: string): Float32Array => {
    const t = weights.get(name);
    if (!t) throw new Error(`reference: no weight ${name}`);
    return t;
  };
  const h = Float64Array.from(inputs.inputsEmbeds);
  if (h.length !== T * D) throw new Error(`reference: ${h.length} embedding values for ${T} x ${D}`);

  let final: Float64Array;
  let head: Float32Array;
  if (c.architecture === 'gpt2') {
    const wpe = w('wpe.weight');
    for (let t = 0; t < T; t++) for (let d = 0; d < D; d++) h[t * D + d] += wpe[inputs.positionIds[t] * D + d];
    for (let l = 0; l < c.numLayers; l++) {
      const p = `h.${l}.`;
      const a = layerNorm(h, w(`${p}ln_1.weight`), w(`${p}ln_1.bias`), D, c.normEps);
      // Conv1D weights are stored [in, out].
      const qkv = matmulInOut(a, w(`${p}attn.c_attn.weight`), w(`${p}attn.c_attn.bias`), D, 3 * D);
      const q = columns(qkv, 3 * D, 0, D);
      const k = columns(qkv, 3 * D, D, D);
      const v = columns(qkv, 3 * D, 2 * D, D);
      const attended = attention(q, k, v, inputs.attentionMask, T, c.numHeads, c.numHeads, c.headDim);
      addInPlace(h, matmulInOut(attended, w(`${p}attn.c_proj.weight`), w(`${p}attn.c_proj.bias`), D, D));
      const m = layerNorm(h, w(`${p}ln_2.weight`), w(`${p}ln_2.bias`), D, c.normEps);
      const hidden = matmulInOut(m, w(`${p}mlp.c_fc.weight`), w(`${p}mlp.c_fc.bias`), D, c.intermediateSize).map(activation(c));
      addInPlace(h, matmulInOut(hidden, w(`${p}mlp.c_proj.weight`), w(`${p}mlp.c_proj.bias`), c.intermediateSize, D));
    }
    final = layerNorm(h, w('ln_f.weight'), w('ln_f.bias'), D, c.normEps);
    head = w(c.tiedEmbeddings ? 'wte.weight' : 'lm_head.weight');
  } else {
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    const bias = (name: string) => (c.attentionBias ? w(name) : undefined);
    for (let l = 0; l < c.numLayers; l++) {
      const p = `model.layers.${l}.`;
      const a = rmsNorm(h, w(`${p}input_layernorm.weight`), D, c.normEps);
      // nn.Linear weights are stored [out, in].
      const q = matmulOutIn(a, w(`${p}self_attn.q_proj.weight`), bias(`${p}self_attn.q_proj.bias`), D, qDim);
      const k = matmulOutIn(a, w(`${p}self_attn.k_proj.weight`), bias(`${p}self_attn.k_proj.bias`), D, kvDim);
      const v = matmulOutIn(a, w(`${p}self_attn.v_proj.weight`), bias(`${p}self_attn.v_proj.bias`), D, kvDim);
      rotate(q, inputs.positionIds, c.numHeads, c.headDim, c.ropeTheta!);
      rotate(k, inputs.positionIds, c.numKvHeads, c.headDim, c.ropeTheta!);
      const attended = attention(q, k, v, inputs.attentionMask, T, c.numHeads, c.numKvHeads, c.headDim);
      addInPlace(h, matmulOutIn(attended, w(`${p}self_attn.o_proj.weight`), undefined, qDim, D));
      const m = rmsNorm(h, w(`${p}post_attention_layernorm.weight`), D, c.normEps);
      const gate = matmulOutIn(m, w(`${p}mlp.gate_proj.weight`), undefined, D, c.intermediateSize).map(activation(c));
      const up = matmulOutIn(m, w(`${p}mlp.up_proj.weight`), undefined, D, c.intermediateSize);
      addInPlace(h, matmulOutIn(gate.map((g, i) => g * up[i]), w(`${p}mlp.down_proj.weight`), undefined, c.intermediateSize, D));
    }
    final = rmsNorm(h, w('model.norm.weight'), D, c.normEps);
    head = w(c.tiedEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight');
  }
  // Both heads are stored [V, D].
  return matmulOutIn(final, head, undefined, D, c.vocabSize);
}

/** -log softmax(logits row t)[target]. */
export function referenceNll(logits: Float64Array, vocabSize: number, t: number, target: number): number {
  const row = logits.subarray(t * vocabSize, (t + 1) * vocabSize);
  const max = Math.max(...row);
  let z = 0;
  for (const x of row) z += Math.exp(x - max);
  return Math.log(z) + max - row[target];
}

/** Index of the largest logit in row t. */
export function argmax(logits: ArrayLike<number>, vocabSize: number, t: number): number {
  let best = 0;
  for (let i = 1; i < vocabSize; i++) if (logits[t * vocabSize + i] > logits[t * vocabSize + best]) best = i;
  return best;
}

function activation(c: LmConfig): (x: number) => number {
  switch (c.activation) {
    case 'gelu_new':
      return (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    case 'silu':
      return (x) => x / (1 + Math.exp(-x));
    default:
      throw new Error(`reference: activation ${c.activation} not implemented`);
  }
}

function layerNorm(x: Float64Array, gamma: Float32Array, beta: Float32Array, D: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / D; r++) {
    let mean = 0;
    for (let i = 0; i < D; i++) mean += x[r * D + i] / D;
    let variance = 0;
    for (let i = 0; i < D; i++) variance += (x[r * D + i] - mean) ** 2 / D;
    for (let i = 0; i < D; i++) out[r * D + i] = ((x[r * D + i] - mean) / Math.sqrt(variance + eps)) * gamma[i] + beta[i];
  }
  return out;
}

function rmsNorm(x: Float64Array, gamma: Float32Array, D: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / D; r++) {
    let meanSquare = 0;
    for (let i = 0; i < D; i++) meanSquare += x[r * D + i] ** 2 / D;
    for (let i = 0; i < D; i++) out[r * D + i] = (x[r * D + i] / Math.sqrt(meanSquare + eps)) * gamma[i];
  }
  return out;
}

/** x [rows, nIn] times w stored [nIn, nOut], plus b. */
function matmulInOut(x: Float64Array, w: Float32Array, b: Float32Array | undefined, nIn: number, nOut: number): Float64Array {
  const rows = x.length / nIn;
  const out = new Float64Array(rows * nOut);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < nOut; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < nIn; i++) s += x[r * nIn + i] * w[i * nOut + o];
      out[r * nOut + o] = s;
    }
  }
  return out;
}

/** x [rows, nIn] times the transpose of w stored [nOut, nIn], plus b. */
function matmulOutIn(x: Float64Array, w: Float32Array, b: Float32Array | undefined, nIn: number, nOut: number): Float64Array {
  const rows = x.length / nIn;
  const out = new Float64Array(rows * nOut);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < nOut; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < nIn; i++) s += x[r * nIn + i] * w[o * nIn + i];
      out[r * nOut + o] = s;
    }
  }
  return out;
}

/** Columns [start, start + width) of a [rows, stride] matrix. */
function columns(x: Float64Array, stride: number, start: number, width: number): Float64Array {
  const rows = x.length / stride;
  const out = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) for (let i = 0; i < width; i++) out[r * width + i] = x[r * stride + start + i];
  return out;
}

function addInPlace(h: Float64Array, delta: Float64Array): void {
  for (let i = 0; i < h.length; i++) h[i] += delta[i];
}

/**
 * Rotary embedding, Hugging Face "rotate half" layout: within each head, dimension i < hd/2 pairs
 * with i + hd/2 and both rotate by the angle pos / theta^(2i/hd).
 */
function rotate(x: Float64Array, positions: readonly number[], heads: number, hd: number, theta: number): void {
  const half = hd / 2;
  for (let t = 0; t < positions.length; t++) {
    for (let h = 0; h < heads; h++) {
      const base = t * heads * hd + h * hd;
      for (let i = 0; i < half; i++) {
        const angle = positions[t] / Math.pow(theta, (2 * i) / hd);
        const [a, b] = [x[base + i], x[base + i + half]];
        x[base + i] = a * Math.cos(angle) - b * Math.sin(angle);
        x[base + i + half] = b * Math.cos(angle) + a * Math.sin(angle);
      }
    }
  }
}

/**
 * Softmax attention per head with the additive mask; query head h reads key/value head
 * floor(h / (heads / kvHeads)) (grouped-query attention). q [T, heads*hd]; k, v [T, kvHeads*hd].
 */
function attention(
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  mask: ArrayLike<number>,
  T: number,
  heads: number,
  kvHeads: number,
  hd: number,
): Float64Array {
  const out = new Float64Array(T * heads * hd);
  const group = heads / kvHeads;
  for (let h = 0; h < heads; h++) {
    const kv = Math.floor(h / group);
    for (let i = 0; i < T; i++) {
      const scores = new Float64Array(T);
      for (let j = 0; j < T; j++) {
        let s = 0;
        for (let d = 0; d < hd; d++) s += q[i * heads * hd + h * hd + d] * k[j * kvHeads * hd + kv * hd + d];
        scores[j] = s / Math.sqrt(hd) + mask[i * T + j];
      }
      const max = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - max));
      const z = e.reduce((a, b) => a + b, 0);
      for (let d = 0; d < hd; d++) {
        let s = 0;
        for (let j = 0; j < T; j++) s += (e[j] / z) * v[j * kvHeads * hd + kv * hd + d];
        out[i * heads * hd + h * hd + d] = s;
      }
    }
  }
  return out;
}
