/**
 * Matrix factorisation by alternating least squares on mean-centred ratings: the non-LLM profile
 * baseline. Its user vectors, clustered with the same K per slot, give "MF-k-means" IDs to compare
 * against the UserIP IDs. New users are folded in by the same per-user solve with item factors fixed,
 * which is exactly one ALS half-step, so cold-start users get vectors without retraining.
 */
import { Rng } from '../engine/index.js';

export interface Rating {
  user: number;
  item: number;
  value: number;
}

export interface MfOptions {
  factors: number;
  iterations: number;
  /** L2 weight on every factor vector. */
  lambda: number;
  seed: number;
}

export interface MfModel {
  factors: number;
  mean: number;
  userVectors: Float32Array;
  itemVectors: Float32Array;
  lambda: number;
}

export const DEFAULT_MF: MfOptions = { factors: 16, iterations: 10, lambda: 5, seed: 0 };

/** Solve (A + lambda I) x = b for symmetric positive-definite A (k x k) by Cholesky; writes x into out. */
function solveRidge(a: Float64Array, b: Float64Array, k: number, lambda: number, out: Float32Array, offset: number): void {
  const l = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * k + j] + (i === j ? lambda : 0);
      for (let p = 0; p < j; p++) s -= l[i * k + p] * l[j * k + p];
      l[i * k + j] = i === j ? Math.sqrt(s) : s / l[j * k + j];
    }
  }
  const y = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    let s = b[i];
    for (let p = 0; p < i; p++) s -= l[i * k + p] * y[p];
    y[i] = s / l[i * k + i];
  }
  for (let i = k - 1; i >= 0; i--) {
    let s = y[i];
    for (let p = i + 1; p < k; p++) s -= l[p * k + i] * out[offset + p];
    out[offset + i] = s / l[i * k + i];
  }
}

/** One half-step: re-solve every row of `solveFor` against the fixed `other` factors. */
function halfStep(byRow: Map<number, Rating[]>, pick: (r: Rating) => number, other: Float32Array, solveFor: Float32Array, k: number, lambda: number, mean: number): void {
  const a = new Float64Array(k * k);
  const b = new Float64Array(k);
  for (const [row, ratings] of byRow) {
    a.fill(0);
    b.fill(0);
    for (const r of ratings) {
      const o = pick(r) * k;
      const target = r.value - mean;
      for (let i = 0; i < k; i++) {
        const vi = other[o + i];
        b[i] += vi * target;
        for (let j = 0; j <= i; j++) a[i * k + j] += vi * other[o + j];
      }
    }
    for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) a[j * k + i] = a[i * k + j];
    solveRidge(a, b, k, lambda, solveFor, row * k);
  }
}

function groupBy(ratings: readonly Rating[], key: (r: Rating) => number): Map<number, Rating[]> {
  const out = new Map<number, Rating[]>();
  for (const r of ratings) {
    const list = out.get(key(r));
    if (list) list.push(r);
    else out.set(key(r), [r]);
  }
  return out;
}

export function trainMf(ratings: readonly Rating[], users: number, items: number, options: MfOptions = DEFAULT_MF): MfModel {
  const k = options.factors;
  const rng = new Rng(options.seed);
  const mean = ratings.reduce((s, r) => s + r.value, 0) / Math.max(1, ratings.length);
  const userVectors = rng.fillNormal(new Float32Array(users * k), 0.1);
  const itemVectors = rng.fillNormal(new Float32Array(items * k), 0.1);
  const byUser = groupBy(ratings, (r) => r.user);
  const byItem = groupBy(ratings, (r) => r.item);
  for (let it = 0; it < options.iterations; it++) {
    halfStep(byUser, (r) => r.item, itemVectors, userVectors, k, options.lambda, mean);
    halfStep(byItem, (r) => r.user, userVectors, itemVectors, k, options.lambda, mean);
  }
  return { factors: k, mean, userVectors, itemVectors, lambda: options.lambda };
}

/** Vectors for users unseen in training, from their ratings, with the item factors fixed. */
export function foldInUsers(model: MfModel, ratings: readonly Rating[], users: number): Float32Array {
  const out = new Float32Array(users * model.factors);
  halfStep(groupBy(ratings, (r) => r.user), (r) => r.item, model.itemVectors, out, model.factors, model.lambda, model.mean);
  return out;
}

export function predictMf(model: MfModel, user: number, item: number): number {
  let s = model.mean;
  for (let i = 0; i < model.factors; i++) s += model.userVectors[user * model.factors + i] * model.itemVectors[item * model.factors + i];
  return s;
}
