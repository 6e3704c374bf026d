/**
 * Placing codes on data points by D² sampling (Arthur & Vassilvitskii's k-means++): a point is drawn
 * with probability proportional to its squared distance to the nearest code. The same draw seeds a
 * fresh codebook and re-seeds dead codes, so a revived code lands where points are worst served.
 * D² sampling still favours a far outlier, so `minUsage` above 1 cannot stop a code from being spent
 * on one (it is re-seeded, and the outlier tends to win it back).
 */
import type { Rng } from '../engine/random.js';
import { sqDistanceRows } from './assign.js';
import type { Codebook } from './codebook.js';

/**
 * Moves `codes` (in order) onto rows of `vectors` drawn by D² sampling. `sqDist` holds each row's
 * squared distance to its nearest code and is lowered as codes are placed, so later codes go
 * elsewhere. Greedy variant (as in scikit-learn): each code draws 2 + ⌊ln k⌋ candidates and takes
 * the one that lowers Σ sqDist most, which makes a bad seeding (two codes in one cluster) rarer.
 * Stops early when every row sits on a code (fewer distinct rows than codes); returns how many
 * codes were placed (always a prefix of `codes`).
 */
export function placeByD2(codebook: Codebook, codes: readonly number[], vectors: Float32Array, n: number, sqDist: Float64Array, rng: Rng): number {
  const { k, d, centroids } = codebook;
  const trials = 2 + Math.floor(Math.log(k));
  let candidate = new Float64Array(n);
  let chosen = new Float64Array(n);
  for (let c = 0; c < codes.length; c++) {
    let total = 0;
    for (let i = 0; i < n; i++) total += sqDist[i];
    if (!(total > 0)) return c;
    let bestRow = 0;
    let bestTotal = Infinity;
    for (let trial = 0; trial < trials; trial++) {
      const row = drawProportional(sqDist, n, total, rng);
      let after = 0;
      for (let i = 0; i < n; i++) {
        candidate[i] = sqDist[i] > 0 ? Math.min(sqDist[i], sqDistanceRows(vectors, i * d, vectors, row * d, d)) : 0;
        after += candidate[i];
      }
      if (after < bestTotal) {
        bestTotal = after;
        bestRow = row;
        [chosen, candidate] = [candidate, chosen];
      }
    }
    centroids.set(vectors.subarray(bestRow * d, (bestRow + 1) * d), codes[c] * d);
    sqDist.set(chosen);
  }
  return codes.length;
}

function drawProportional(weights: Float64Array, n: number, total: number, rng: Rng): number {
  const target = rng.next() * total;
  let acc = 0;
  let last = 0;
  for (let i = 0; i < n; i++) {
    if (weights[i] <= 0) continue;
    acc += weights[i];
    if (acc > target) return i;
    last = i;
  }
  return last; // rounding left `acc` just short of `target`
}

/**
 * k-means++ initialisation: code 0 on a uniformly drawn row, the others by D² sampling. With fewer
 * distinct rows than k the leftover codes repeat the placed ones (code j copies code j mod m); they
 * lose every tie to the lower id, so they stay empty and `usage` reports them as dead.
 */
export function kmeansPlusPlus(codebook: Codebook, vectors: Float32Array, n: number, rng: Rng): void {
  const { k, d, centroids } = codebook;
  const first = rng.int(n);
  centroids.set(vectors.subarray(first * d, (first + 1) * d), 0);
  const sqDist = new Float64Array(n);
  for (let i = 0; i < n; i++) sqDist[i] = sqDistanceRows(vectors, i * d, centroids, 0, d);
  const rest = Array.from({ length: k - 1 }, (_, j) => j + 1);
  const placed = 1 + placeByD2(codebook, rest, vectors, n, sqDist, rng);
  for (let j = placed; j < k; j++) centroids.copyWithin(j * d, (j % placed) * d, (j % placed + 1) * d);
}

/** `minUsage` below 1 is a fraction of the `total` points; from 1 up it is a member count. */
export function usageThreshold(minUsage: number, total: number): number {
  if (!(minUsage >= 0)) throw new RangeError(`minUsage must be ≥ 0, got ${minUsage}`);
  return minUsage < 1 ? minUsage * total : minUsage;
}

/** Codes whose (possibly smoothed) member count is below `threshold`. */
export function deadCodesBelow(counts: ArrayLike<number>, threshold: number): number[] {
  const dead: number[] = [];
  for (let j = 0; j < counts.length; j++) if (counts[j] < threshold) dead.push(j);
  return dead;
}
