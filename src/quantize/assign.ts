/**
 * Nearest-centroid assignment, the one operation every other step (k-means, exporting
 * IDs to the bank, cold-start users) is built on.
 */
import { countRows, type Codebook } from './codebook.js';

export interface Assignment {
  /** Per vector, the nearest code (ties go to the lowest id, as argmin does in the official code). */
  ids: Int32Array;
  /** Per vector, the squared L2 distance to that code. */
  sqDistances: Float32Array;
}

/** Nearest code for each of the n rows of `vectors` (n×d). */
export function assign(codebook: Codebook, vectors: Float32Array): Assignment {
  const n = countRows(vectors, codebook.d, 'assign');
  const ids = new Int32Array(n);
  const sqDist = new Float64Array(n);
  nearestInto(codebook, vectors, n, ids, sqDist);
  return { ids, sqDistances: Float32Array.from(sqDist) };
}

/**
 * Writes each row's nearest code and squared distance into `ids` / `sqDist` without allocating per
 * row. The argmin uses ||c||² - 2x·c (||x||² is common to all codes); the winner's distance is then
 * recomputed as Σ(x-c)², so a point lying on a centroid gets exactly 0, which D² sampling relies on.
 */
export function nearestInto(codebook: Codebook, vectors: Float32Array, n: number, ids: Int32Array, sqDist: Float64Array): void {
  const { k, d, centroids } = codebook;
  const codeNorms = new Float64Array(k);
  for (let j = 0; j < k; j++) codeNorms[j] = dotRows(centroids, j * d, centroids, j * d, d);
  for (let i = 0; i < n; i++) {
    const xo = i * d;
    let best = 0;
    let bestScore = Infinity;
    for (let j = 0; j < k; j++) {
      const score = codeNorms[j] - 2 * dotRows(vectors, xo, centroids, j * d, d);
      if (score < bestScore) {
        bestScore = score;
        best = j;
      }
    }
    ids[i] = best;
    sqDist[i] = sqDistanceRows(vectors, xo, centroids, best * d, d);
  }
}

// The two kernels below carry all the arithmetic; four accumulators let V8 overlap the
// multiply-adds (about 2x faster than one running sum at d = 768).

/** a·b over the d-value rows starting at a[ao] and b[bo]. */
function dotRows(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let t = 0;
  for (; t + 3 < d; t += 4) {
    s0 += a[ao + t] * b[bo + t];
    s1 += a[ao + t + 1] * b[bo + t + 1];
    s2 += a[ao + t + 2] * b[bo + t + 2];
    s3 += a[ao + t + 3] * b[bo + t + 3];
  }
  for (; t < d; t++) s0 += a[ao + t] * b[bo + t];
  return s0 + s1 + s2 + s3;
}

/** Σ(a-b)² over the d-value rows starting at a[ao] and b[bo]. */
export function sqDistanceRows(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let t = 0;
  for (; t + 3 < d; t += 4) {
    const e0 = a[ao + t] - b[bo + t];
    const e1 = a[ao + t + 1] - b[bo + t + 1];
    const e2 = a[ao + t + 2] - b[bo + t + 2];
    const e3 = a[ao + t + 3] - b[bo + t + 3];
    s0 += e0 * e0;
    s1 += e1 * e1;
    s2 += e2 * e2;
    s3 += e3 * e3;
  }
  for (; t < d; t++) s0 += (a[ao + t] - b[bo + t]) ** 2;
  return s0 + s1 + s2 + s3;
}
