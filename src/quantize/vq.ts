/**
 * Online VQ for mini-batches, so the profile trainer can quantize while it tunes. As in VQ-VAE's EMA
 * codebooks (van den Oord et al. 2017, appendix A.1), each code keeps exponential moving averages of
 * its member count N_j and member sum m_j, and sits at c_j = m_j / N_j. A code whose smoothed count
 * drops below `minUsage` is re-seeded on a batch point drawn by D² sampling (the dead-code reset used
 * by Jukebox and SoundStream), because EMA alone never moves a code that wins no points.
 */
import { Rng } from '../engine/random.js';
import { nearestInto, type Assignment } from './assign.js';
import { countRows, type Codebook } from './codebook.js';
import { deadCodesBelow, placeByD2, usageThreshold } from './seeding.js';

export interface VqState {
  /** Updated in place by `vqUpdate`. */
  readonly codebook: Codebook;
  /** EMA of each code's members per batch. */
  readonly counts: Float64Array;
  /** EMA of each code's member sum, k×d. */
  readonly sums: Float64Array;
  /** Batches seen; the first one sets the EMA's starting point. */
  steps: number;
  readonly rng: Rng;
}

export interface VqUpdateOptions {
  /** EMA decay γ in [0, 1); 0 moves each used code straight to its batch mean. Default 0.99. */
  decay?: number;
  /**
   * A code whose smoothed members-per-batch fall below this is re-seeded; below 1 it is a fraction
   * of the batch size. Default 0.1/k: a tenth of a code's fair share.
   */
  minUsage?: number;
}

export interface VqUpdateResult extends Assignment {
  /** Codes re-seeded on batch points after this update. */
  reseeded: number[];
}

/** Wraps `codebook` (not copied) for online updates; `seed` drives dead-code re-seeding. */
export function createVqState(codebook: Codebook, opts: { seed: number }): VqState {
  return { codebook, counts: new Float64Array(codebook.k), sums: new Float64Array(codebook.k * codebook.d), steps: 0, rng: new Rng(opts.seed) };
}

/**
 * Assigns the batch (n×d) under the current codebook, then folds it into the EMAs and moves the
 * codes. Returns that assignment (the IDs the batch was quantized to) and the re-seeded codes.
 */
export function vqUpdate(state: VqState, batch: Float32Array, opts: VqUpdateOptions = {}): VqUpdateResult {
  const { codebook, counts, sums } = state;
  const { k, d, centroids } = codebook;
  const { decay = 0.99, minUsage = 0.1 / k } = opts;
  if (!(decay >= 0 && decay < 1)) throw new RangeError(`vqUpdate: decay must be in [0, 1), got ${decay}`);
  const n = countRows(batch, d, 'vqUpdate');
  if (n === 0) throw new RangeError('vqUpdate: empty batch');
  const threshold = usageThreshold(minUsage, n);
  const fairShare = n / k;
  // Before any batch, pretend each code served its fair share at its current place.
  if (state.steps === 0) for (let j = 0; j < k; j++) restart(state, j, fairShare);

  const ids = new Int32Array(n);
  const sqDist = new Float64Array(n);
  nearestInto(codebook, batch, n, ids, sqDist);
  const assignment = { ids, sqDistances: Float32Array.from(sqDist) };

  const batchCounts = new Float64Array(k);
  const batchSums = new Float64Array(k * d);
  for (let i = 0; i < n; i++) {
    batchCounts[ids[i]]++;
    const so = ids[i] * d;
    for (let t = 0; t < d; t++) batchSums[so + t] += batch[i * d + t];
  }
  for (let j = 0; j < k; j++) {
    counts[j] = decay * counts[j] + (1 - decay) * batchCounts[j];
    for (let t = j * d; t < (j + 1) * d; t++) sums[t] = decay * sums[t] + (1 - decay) * batchSums[t];
    // Without members m_j / N_j is unchanged; skipping it also avoids dividing by a decayed-to-zero N_j.
    if (batchCounts[j] > 0) for (let t = j * d; t < (j + 1) * d; t++) centroids[t] = sums[t] / counts[j];
  }
  state.steps++;

  const dead = deadCodesBelow(counts, threshold);
  const placed = dead.length ? placeByD2(codebook, dead, batch, n, sqDist, state.rng) : 0;
  const reseeded = dead.slice(0, placed);
  for (const j of reseeded) restart(state, j, Math.max(fairShare, threshold));
  return { ...assignment, reseeded };
}

/** Sets code j's EMAs as if it had served `members` points per batch at its current centroid. */
function restart(state: VqState, j: number, members: number): void {
  const { d, centroids } = state.codebook;
  state.counts[j] = members;
  for (let t = j * d; t < (j + 1) * d; t++) state.sums[t] = centroids[t] * members;
}
