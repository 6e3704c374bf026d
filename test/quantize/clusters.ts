/** Synthetic data for the quantization tests: well-separated isotropic Gaussian clusters. */
import { Rng } from '../../src/engine/random.js';

export interface Clusters {
  vectors: Float32Array;
  /** True cluster of each row. */
  labels: number[];
  /** c×d cluster centres. */
  centres: Float32Array;
  n: number;
}

/** `perCluster` rows around each of `c` centres drawn from N(0, spread²); rows come in shuffled order. */
export function gaussianClusters(seed: number, c: number, perCluster: number, d: number, spread = 10, std = 0.1): Clusters {
  const rng = new Rng(seed);
  const centres = rng.fillNormal(new Float32Array(c * d), spread);
  const labels = rng.shuffle(Array.from({ length: c * perCluster }, (_, i) => i % c));
  const vectors = new Float32Array(labels.length * d);
  labels.forEach((l, i) => {
    for (let t = 0; t < d; t++) vectors[i * d + t] = centres[l * d + t] + std * rng.normal();
  });
  return { vectors, labels, centres, n: labels.length };
}

/** The code each true cluster maps to, or undefined unless ids and labels agree up to a permutation. */
export function matchUpToPermutation(ids: ArrayLike<number>, labels: number[]): Map<number, number> | undefined {
  const codeOf = new Map<number, number>();
  const labelOf = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) {
    if ((codeOf.get(labels[i]) ?? ids[i]) !== ids[i] || (labelOf.get(ids[i]) ?? labels[i]) !== labels[i]) return undefined;
    codeOf.set(labels[i], ids[i]);
    labelOf.set(ids[i], labels[i]);
  }
  return codeOf;
}

/** Squared distance between row a of `x` and row b of `y`. */
export function rowDistance(x: Float32Array, a: number, y: Float32Array, b: number, d: number): number {
  let s = 0;
  for (let t = 0; t < d; t++) s += (x[a * d + t] - y[b * d + t]) ** 2;
  return s;
}
