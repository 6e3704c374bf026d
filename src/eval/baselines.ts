/**
 * Profile IDs that need no LM, to set the UserIP IDs against: k-means of matrix-factorisation user
 * vectors with the same K per slot (a collaborative profile of the same size), the user's rating
 * generosity in K quantile bins (which tells preference from generosity), and seeded random IDs
 * (which must not help).
 */
import { z } from 'zod';
import { Rng } from '../engine/index.js';
import { assign, fitCodebook } from '../quantize/index.js';
import { DEFAULT_MF, foldInUsers, trainMf, type MfOptions, type Rating } from './mf.js';

/** MF settings as configs spell them. */
export const mfSettingsSchema = z
  .object({
    factors: z.number().int().positive().default(DEFAULT_MF.factors),
    iterations: z.number().int().positive().default(DEFAULT_MF.iterations),
    lambda: z.number().positive().default(DEFAULT_MF.lambda),
    seed: z.number().int().default(DEFAULT_MF.seed),
  })
  .strict();

export interface MfKmeans {
  /** Per slot, one ID per user index; -1 for users with neither fitted nor folded-in ratings. */
  ids: Int32Array[];
  /** [users, factors] MF user vectors (fitted or folded in); zeros for users without ratings. */
  vectors: Float32Array;
  factors: number;
}

/**
 * MF on `fit` (ratings keyed by user and item index), then one k-means codebook per slot size in `ks`
 * over the fitted users' vectors. Users of `foldIn` are new: their vectors are solved with the item
 * factors fixed, using only items the MF has seen (an unseen item's factors are untrained noise), and
 * take the nearest code of the frozen codebooks, as UserIP's cold-start users do.
 */
export function mfKmeans(fit: readonly Rating[], foldIn: readonly Rating[], users: number, items: number, ks: readonly number[], options: MfOptions): MfKmeans {
  const fitUsers = [...new Set(fit.map((r) => r.user))].sort((a, b) => a - b);
  const local = new Map(fitUsers.map((u, i) => [u, i]));
  const model = trainMf(
    fit.map((r) => ({ ...r, user: local.get(r.user)! })),
    fitUsers.length,
    items,
    options,
  );
  const ratedItems = new Set(fit.map((r) => r.item));
  const newUsers = [...new Set(foldIn.map((r) => r.user))].filter((u) => !local.has(u)).sort((a, b) => a - b);
  const newLocal = new Map(newUsers.map((u, i) => [u, i]));
  const folded = foldInUsers(
    model,
    foldIn.filter((r) => newLocal.has(r.user) && ratedItems.has(r.item)).map((r) => ({ ...r, user: newLocal.get(r.user)! })),
    newUsers.length,
  );

  const k = model.factors;
  const vectors = new Float32Array(users * k);
  fitUsers.forEach((u, i) => vectors.set(model.userVectors.subarray(i * k, (i + 1) * k), u * k));
  newUsers.forEach((u, i) => vectors.set(folded.subarray(i * k, (i + 1) * k), u * k));
  const ids = ks.map((slotK, j) => {
    const { codebook, assignment } = fitCodebook(model.userVectors, fitUsers.length, k, slotK, { seed: options.seed + j });
    const out = new Int32Array(users).fill(-1);
    fitUsers.forEach((u, i) => (out[u] = assignment.ids[i]));
    if (newUsers.length) assign(codebook, folded).ids.forEach((id, i) => (out[newUsers[i]] = id));
    return out;
  });
  return { ids, vectors, factors: k };
}

/** Per slot, a uniform ID in [0, k) for every user, from `seed`. */
export function randomIds(users: number, ks: readonly number[], seed: number): Int32Array[] {
  const rng = new Rng(seed);
  return ks.map((k) => Int32Array.from({ length: users }, () => rng.int(k)));
}

/** Rows reduced to what generosity needs: each row's user index and click label. */
export interface LabelRows {
  user: ArrayLike<number>;
  labels: ArrayLike<number>;
}

/**
 * The user's share of positive labels in `fit`, in quantile bins per slot size in `ks`: bin =
 * floor(K · F(rate)), F the mid-distribution function of the fitted users' rates (ties count one half,
 * so tied users share a bin and the bins stay as even as the ties allow). Users of `foldIn` are new:
 * their rate comes from their own `foldIn` rows and takes the fitted users' bins, as MF-k-means folds
 * them in. -1 for users with rows in neither.
 */
export function rateBins(fit: LabelRows, foldIn: LabelRows, users: number, ks: readonly number[]): Int32Array[] {
  const rates = (rows: LabelRows) => {
    const positives = new Float64Array(users);
    const counts = new Float64Array(users);
    for (let r = 0; r < rows.labels.length; r++) {
      counts[rows.user[r]]++;
      positives[rows.user[r]] += rows.labels[r];
    }
    return { rate: positives.map((p, u) => (counts[u] ? p / counts[u] : NaN)), counts };
  };
  const fitted = rates(fit);
  const folded = rates(foldIn);
  const sorted = Float64Array.from(fitted.rate.filter((r) => !Number.isNaN(r))).sort();
  if (sorted.length === 0) throw new Error('rate bins: no user has a training row');
  /** Count of fitted rates below `v` (`strict`) or at most `v`. */
  const rank = (v: number, strict: boolean) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (strict ? sorted[mid] < v : sorted[mid] <= v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const midCdf = (v: number) => (rank(v, true) + rank(v, false)) / 2 / sorted.length;
  return ks.map((k) =>
    Int32Array.from({ length: users }, (_, u) => {
      const v = fitted.counts[u] ? fitted.rate[u] : folded.counts[u] ? folded.rate[u] : NaN;
      return Number.isNaN(v) ? -1 : Math.min(k - 1, Math.floor(k * midCdf(v)));
    }),
  );
}
