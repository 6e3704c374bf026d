/**
 * Batch k-means for one slot: k-means++ seeding, then Lloyd iterations (assign every point, move each
 * code to its members' mean). After every assignment, codes with fewer than `minUsage` members are
 * re-seeded by D² sampling and the points re-assigned, so a code does not stay empty while some
 * point lies off every code (codebooks trained by gradient alone, as in the official code, tend to
 * collapse onto one or two codes; paper-spec §12 Q6). With fewer than k distinct points some codes
 * must stay empty; `usage` reports them.
 */
import { Rng } from '../engine/random.js';
import { nearestInto, type Assignment } from './assign.js';
import { codebookFromObject, countRows, type Codebook } from './codebook.js';
import { deadCodesBelow, kmeansPlusPlus, placeByD2, usageThreshold } from './seeding.js';

export interface FitOptions {
  seed: number;
  /** Most Lloyd updates; stops earlier once the assignment no longer changes. Default 25. */
  iterations?: number;
  /** A code with fewer members is re-seeded; below 1 it is a fraction of n. Default 1 (no empty codes); 0 disables. */
  minUsage?: number;
  /**
   * Independent k-means++ runs; the one with the lowest inertia is kept. Default 10 (scikit-learn's
   * n_init), 1 with `init`: one seeding's local optimum moves with float rounding in the vectors,
   * and the profile codes with it.
   */
  restarts?: number;
  /**
   * Start from these centroids instead of k-means++ (a copy is refined). Re-fitting each epoch from
   * the previous codebook keeps a user's ID stable while their soft token barely moves.
   */
  init?: Codebook;
}

export interface FitResult {
  codebook: Codebook;
  /** The assignment of the fitted points under the returned centroids. */
  assignment: Assignment;
  /** Σ squared distance of every point to its code. */
  inertia: number;
  /** Lloyd updates done in the kept run. */
  iterations: number;
  /** Dead codes re-seeded in the kept run. */
  reseeded: number;
}

/** Fits k codes to the n rows of `vectors` (n×d). Deterministic for a given seed. */
export function fitCodebook(vectors: Float32Array, n: number, d: number, k: number, opts: FitOptions): FitResult {
  const { seed, iterations = 25, minUsage = 1, init, restarts = init ? 1 : 10 } = opts;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`fitCodebook: need at least one vector, got n = ${n}`);
  if (countRows(vectors, d, 'fitCodebook') !== n) throw new RangeError(`fitCodebook: vectors hold ${vectors.length / d} rows, n = ${n}`);
  if (!Number.isInteger(iterations) || iterations < 0) throw new RangeError(`fitCodebook: iterations must be an integer ≥ 0, got ${iterations}`);
  if (!Number.isInteger(restarts) || restarts < 1) throw new RangeError(`fitCodebook: restarts must be a positive integer, got ${restarts}`);
  if (init && (init.k !== k || init.d !== d)) throw new RangeError(`fitCodebook: init codebook is ${init.k}×${init.d}, expected ${k}×${d}`);
  if (init && restarts > 1) throw new RangeError('fitCodebook: restarts need k-means++ seeding; drop init or restarts');
  const threshold = usageThreshold(minUsage, n);
  const rng = new Rng(seed);
  let best: FitResult | undefined;
  for (let r = 0; r < restarts; r++) {
    const run = lloyd(vectors, n, init, k, d, iterations, threshold, rng);
    if (!best || run.inertia < best.inertia) best = run;
  }
  return best!;
}

function lloyd(vectors: Float32Array, n: number, init: Codebook | undefined, k: number, d: number, iterations: number, threshold: number, rng: Rng): FitResult {
  const codebook = codebookFromObject(init ?? { k, d, centroids: new Float32Array(k * d) });
  if (!init) kmeansPlusPlus(codebook, vectors, n, rng);
  const ids = new Int32Array(n);
  const previous = new Int32Array(n);
  const sqDist = new Float64Array(n);
  const counts = new Float64Array(k);
  const sums = new Float64Array(k * d);
  let reseeded = 0;

  /** Assigns every point; re-seeds dead codes once and re-assigns. Returns how many were re-seeded. */
  const assignAndRevive = (): number => {
    nearestInto(codebook, vectors, n, ids, sqDist);
    countMembers(ids, counts);
    const dead = deadCodesBelow(counts, threshold);
    const placed = dead.length ? placeByD2(codebook, dead, vectors, n, sqDist, rng) : 0;
    if (placed) {
      nearestInto(codebook, vectors, n, ids, sqDist);
      reseeded += placed;
    }
    return placed;
  };

  assignAndRevive();
  let done = 0;
  while (done < iterations) {
    moveToMeans(codebook, vectors, ids, counts, sums);
    done++;
    previous.set(ids);
    const revived = assignAndRevive();
    if (!revived && sameIds(previous, ids)) break;
  }
  let inertia = 0;
  for (let i = 0; i < n; i++) inertia += sqDist[i];
  return { codebook, assignment: { ids, sqDistances: Float32Array.from(sqDist) }, inertia, iterations: done, reseeded };
}

function countMembers(ids: Int32Array, counts: Float64Array): void {
  counts.fill(0);
  for (const id of ids) counts[id]++;
}

/** Lloyd's update; a code without members keeps its centroid. `counts` and `sums` are scratch space. */
function moveToMeans(codebook: Codebook, vectors: Float32Array, ids: Int32Array, counts: Float64Array, sums: Float64Array): void {
  const { k, d, centroids } = codebook;
  countMembers(ids, counts);
  sums.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const so = ids[i] * d;
    const xo = i * d;
    for (let t = 0; t < d; t++) sums[so + t] += vectors[xo + t];
  }
  for (let j = 0; j < k; j++) {
    if (counts[j] === 0) continue;
    for (let t = j * d; t < (j + 1) * d; t++) centroids[t] = sums[t] / counts[j];
  }
}

function sameIds(a: Int32Array, b: Int32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
