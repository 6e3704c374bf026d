/**
 * Tiny synthetic CTR data with a known answer. Fields a and b carry per-id main effects and a hidden
 * ±1 group each; the label depends on the groups' product, an interaction no first-order model can
 * express. Field `noise` carries nothing. Optionally a dense field of width 4 whose projection on a
 * fixed direction adds to the logit.
 */
import { Rng } from '../../src/engine/index.js';
import type { FieldSchemaInput, LabeledRows } from '../../src/ctr/index.js';

export const VOCAB = { a: 20, b: 20, noise: 10 };
export const DENSE_WIDTH = 4;

export function syntheticSchema(withDense = false): FieldSchemaInput {
  return {
    sparse: Object.entries(VOCAB).map(([name, vocabSize]) => ({ name, vocabSize })),
    dense: withDense ? [{ name: 'vec', width: DENSE_WIDTH }] : [],
  };
}

export interface SyntheticOptions {
  rows: number;
  /** Weight of the dense field's signal in the logit (0: no dense column is produced). */
  denseWeight?: number;
  /** Weight of the a×b group interaction. */
  interaction?: number;
}

/** Rows drawn with `seed`; the hidden effects are fixed, so every call describes the same world. */
export function synthetic(seed: number, { rows, denseWeight = 0, interaction = 1 }: SyntheticOptions): LabeledRows {
  const world = new Rng(12345);
  const mainA = Float32Array.from({ length: VOCAB.a }, () => world.normal());
  const mainB = Float32Array.from({ length: VOCAB.b }, () => world.normal());
  const groupA = Float32Array.from({ length: VOCAB.a }, () => (world.next() < 0.5 ? -1 : 1));
  const groupB = Float32Array.from({ length: VOCAB.b }, () => (world.next() < 0.5 ? -1 : 1));
  const direction = Float32Array.from({ length: DENSE_WIDTH }, () => world.normal());

  const rng = new Rng(seed);
  const a = new Int32Array(rows);
  const b = new Int32Array(rows);
  const noise = new Int32Array(rows);
  const vec = new Float32Array(rows * DENSE_WIDTH);
  const labels = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    a[i] = rng.int(VOCAB.a);
    b[i] = rng.int(VOCAB.b);
    noise[i] = rng.int(VOCAB.noise);
    let logit = mainA[a[i]] + mainB[b[i]] + interaction * groupA[a[i]] * groupB[b[i]] + 0.5 * rng.normal();
    let projection = 0;
    for (let k = 0; k < DENSE_WIDTH; k++) {
      const x = rng.normal();
      vec[i * DENSE_WIDTH + k] = x;
      projection += x * direction[k];
    }
    logit += denseWeight * projection;
    labels[i] = logit > 0 ? 1 : 0;
  }
  return { sparse: { a, b, noise }, dense: denseWeight ? { vec } : undefined, labels };
}
