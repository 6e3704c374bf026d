/**
 * Turning prompts into LM batches: token embeddings with the users' soft tokens spliced in, the
 * template mask, and next-token targets on the behaviour text only; and the way back, from the
 * gradient on the input embeddings to each user's soft tokens.
 */
import { writeMask, type MaskMode, type Prompt } from './template.js';

/** What the profile code needs from a frozen causal LM (src/lm's CausalLm provides it). */
export interface ProfileLm {
  readonly id: string;
  readonly hiddenSize: number;
  embedTokens(ids: readonly number[]): Float32Array;
  lossAndGrad(batch: LmBatch): Promise<{ loss: number; grad: Float32Array }>;
  /** Per-position negative log-likelihood of `targets`, [batch * seq]. */
  tokenNll(batch: LmBatch): Promise<Float32Array>;
}

export interface LmBatch {
  batch: number;
  seq: number;
  /** [batch, seq, hidden] */
  inputsEmbeds: Float32Array;
  /** [batch, seq, seq], additive */
  attentionMask: Float32Array;
  /** [batch, seq]: the token predicted at each position (already shifted) */
  targets: Int32Array;
  /** [batch, seq]: 1 where a target counts, 0 elsewhere */
  weights: Float32Array;
}

/**
 * Soft tokens of every user: row u holds slots x hidden floats, slot j at [u][j]. One flat array so
 * the optimizer can update a user's row in place.
 */
export interface SoftTokenTable {
  data: Float32Array;
  slots: number;
  hidden: number;
}

export function assembleBatch(lm: ProfileLm, prompts: readonly Prompt[], rows: readonly number[], table: SoftTokenTable, mode: MaskMode): LmBatch {
  const B = prompts.length;
  const T = Math.max(...prompts.map((p) => p.tokens.length));
  const D = table.hidden;
  const inputsEmbeds = new Float32Array(B * T * D);
  const attentionMask = new Float32Array(B * T * T);
  const targets = new Int32Array(B * T);
  const weights = new Float32Array(B * T);
  prompts.forEach((p, b) => {
    const n = p.tokens.length;
    // Soft-token placeholders are embedded as token 0 and then overwritten.
    inputsEmbeds.set(lm.embedTokens(p.tokens.map((t) => Math.max(t, 0))), b * T * D);
    p.softPositions.forEach((pos, j) => {
      const src = (rows[b] * table.slots + j) * D;
      inputsEmbeds.set(table.data.subarray(src, src + D), (b * T + pos) * D);
    });
    writeMask(p, mode, T, attentionMask, b * T * T);
    for (let t = p.behaviourStart - 1; t < n - 1; t++) {
      targets[b * T + t] = p.tokens[t + 1];
      weights[b * T + t] = p.behaviourWeights?.[t + 1 - p.behaviourStart] ?? 1;
    }
  });
  return { batch: B, seq: T, inputsEmbeds, attentionMask, targets, weights };
}

/** The gradient rows of each prompt's soft tokens, [batch, slots, hidden] (one optimizer row each). */
export function softTokenGrads(prompts: readonly Prompt[], grad: Float32Array, seq: number, hidden: number): Float32Array {
  const slots = prompts[0]?.softPositions.length ?? 0;
  const out = new Float32Array(prompts.length * slots * hidden);
  prompts.forEach((p, b) =>
    p.softPositions.forEach((pos, j) => {
      const src = (b * seq + pos) * hidden;
      out.set(grad.subarray(src, src + hidden), (b * slots + j) * hidden);
    }),
  );
  return out;
}

/** The summed target weights of a prompt: what its share of a mean loss is normalised by. */
export function promptWeight(p: Prompt): number {
  return p.behaviourWeights ? sumOf(p.behaviourWeights) : p.tokens.length - p.behaviourStart;
}

export function sumOf(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s;
}

/** Mean NLL per predicted token of each prompt in the batch. */
export function meanNllPerPrompt(batch: LmBatch, nll: Float32Array): number[] {
  const out: number[] = [];
  for (let b = 0; b < batch.batch; b++) {
    let sum = 0;
    let count = 0;
    for (let t = 0; t < batch.seq; t++) {
      const w = batch.weights[b * batch.seq + t];
      sum += w * nll[b * batch.seq + t];
      count += w;
    }
    out.push(count > 0 ? sum / count : NaN);
  }
  return out;
}
