/**
 * What the profiles know, measured after tuning (tune.json `diagnostics`):
 *  - val_nll_population / val_nll_user / val_nll_centroid: validation NLL per token with θ̄ for everyone,
 *    with each user's θ_u, and with the centroid of the user's code (what quantization loses);
 *  - eta2_mean_rating per slot: the share of the variance of users' mean train rating that the code explains;
 *  - retrieval_top1: how often a user's own θ_u gives its validation text the lowest NLL among itself and
 *    99 random other users (chance 0.01), on a sample of users;
 *  - split_half_ari per slot: on the same sample, each half of a user's train windows (alternating) is
 *    tuned alone with θ̄ and the codebooks frozen; the adjusted Rand index of the two halves' codes.
 */
import type { Interaction } from '../data/index.js';
import { nanMean, Rng } from '../engine/index.js';
import type { ProfileLm, SoftTokenTable } from './batch.js';
import { buildPrompt, type TemplateTokens } from './template.js';
import { perUserNll, tuneProfiles, type TuneOptions, type TuneResult, type UserBehaviour } from './trainer.js';

export interface ProfileDiagnostics {
  val_nll_population: number;
  val_nll_user: number;
  val_nll_centroid: number;
  eta2_mean_rating: Record<string, number>;
  retrieval_top1: number | null;
  retrieval_candidates: number;
  split_half_ari: Record<string, number> | null;
  sample_users: number;
}

export async function profileDiagnostics(
  lm: ProfileLm,
  template: TemplateTokens,
  users: UserBehaviour[],
  result: TuneResult,
  train: readonly Interaction[],
  options: TuneOptions,
  sampleSize: number,
): Promise<ProfileDiagnostics> {
  const { slots: S, hidden: D } = result.softTokens;
  const n = users.length;
  const validPairs = users.flatMap((u, i) => u.valid.map((w) => ({ prompt: buildPrompt(template, w), row: i, user: i })));
  const nllWith = async (table: SoftTokenTable, pairs = validPairs) => nanMean(await perUserNll(lm, pairs, table, n, options.mask, options.lmBatchTokens));

  const populationTable = { data: new Float32Array(n * S * D), slots: S, hidden: D };
  for (let u = 0; u < n; u++) populationTable.data.set(result.population, u * S * D);
  const centroidTable = { data: new Float32Array(n * S * D), slots: S, hidden: D };
  for (let u = 0; u < n; u++) {
    for (let j = 0; j < S; j++) {
      const c = result.ids[j][u];
      for (let d = 0; d < D; d++) centroidTable.data[(u * S + j) * D + d] = result.population[j * D + d] + result.deltaCentroids[j][c * D + d];
    }
  }

  const ratings = new Map<string, number[]>();
  for (const i of train) {
    const list = ratings.get(i.user);
    if (list) list.push(i.rating);
    else ratings.set(i.user, [i.rating]);
  }
  const meanRating = users.map((u) => nanMean(ratings.get(u.user) ?? []));
  const eta2: Record<string, number> = {};
  result.ids.forEach((ids, j) => (eta2[`slot${j}`] = etaSquared(meanRating, ids)));

  const rng = new Rng(options.seed + 99991);
  const sample = rng.shuffle(users.flatMap((u, i) => (u.valid.length && u.train.length >= 2 ? [i] : []))).slice(0, sampleSize);
  let retrieval: number | null = null;
  let ari: Record<string, number> | null = null;
  const candidates = Math.min(100, n);
  if (sample.length) {
    // Retrieval: one "user" slot per (sampled user, candidate) pair.
    const pairs: Parameters<typeof perUserNll>[1][number][] = [];
    const candidateLists = sample.map((u) => [u, ...rng.shuffle(Array.from({ length: n }, (_, i) => i).filter((v) => v !== u)).slice(0, candidates - 1)]);
    candidateLists.forEach((list, s) => list.forEach((v, c) => users[sample[s]].valid.forEach((w) => pairs.push({ prompt: buildPrompt(template, w), row: v, user: s * candidates + c }))));
    const nll = await perUserNll(lm, pairs, result.softTokens, sample.length * candidates, options.mask, options.lmBatchTokens);
    let hits = 0;
    sample.forEach((_, s) => {
      const own = nll[s * candidates];
      if (nll.slice(s * candidates + 1, (s + 1) * candidates).every((x) => own < x)) hits++;
    });
    retrieval = hits / sample.length;

    const half = (parity: number): UserBehaviour[] =>
      sample.map((u) => {
        const { user, train, trainWeights } = users[u];
        const keep = (_: unknown, i: number) => i % 2 === parity;
        return { user, train: train.filter(keep), trainWeights: trainWeights?.filter(keep), valid: [] };
      });
    const frozen = { population: result.population, codebooks: result.codebooks, deltaCentroids: result.deltaCentroids };
    const tuneHalf = async (parity: number) => (await tuneProfiles(lm, template, half(parity), { ...options, frozen, checkpointDir: undefined, onProgress: undefined })).ids;
    // A user with one window has one in the first half only: both halves need at least one.
    const [a, b] = [await tuneHalf(0), await tuneHalf(1)];
    ari = {};
    for (let j = 0; j < S; j++) ari[`slot${j}`] = adjustedRandIndex(a[j], b[j]);
  }
  return {
    val_nll_population: await nllWith(populationTable),
    // The trainer measured it at the end of its last round, with the same tokens.
    val_nll_user: result.valNllEnd,
    val_nll_centroid: await nllWith(centroidTable),
    eta2_mean_rating: eta2,
    retrieval_top1: retrieval,
    retrieval_candidates: candidates,
    split_half_ari: ari,
    sample_users: sample.length,
  };
}

/** Between-group sum of squares over total, groups given by `ids` (NaN values left out). */
export function etaSquared(values: readonly number[], ids: ArrayLike<number>): number {
  const groups = new Map<number, number[]>();
  const all: number[] = [];
  values.forEach((v, i) => {
    if (Number.isNaN(v)) return;
    all.push(v);
    const group = groups.get(ids[i]);
    if (group) group.push(v);
    else groups.set(ids[i], [v]);
  });
  const grand = nanMean(all);
  const total = all.reduce((s, v) => s + (v - grand) ** 2, 0);
  let between = 0;
  for (const g of groups.values()) between += g.length * (nanMean(g) - grand) ** 2;
  return total > 0 ? between / total : 0;
}

/** Hubert and Arabie's adjusted Rand index of two labelings of the same items. */
export function adjustedRandIndex(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const pairs = (x: number) => (x * (x - 1)) / 2;
  const table = new Map<string, number>();
  const rows = new Map<number, number>();
  const cols = new Map<number, number>();
  for (let i = 0; i < a.length; i++) {
    table.set(`${a[i]},${b[i]}`, (table.get(`${a[i]},${b[i]}`) ?? 0) + 1);
    rows.set(a[i], (rows.get(a[i]) ?? 0) + 1);
    cols.set(b[i], (cols.get(b[i]) ?? 0) + 1);
  }
  const index = [...table.values()].reduce((s, x) => s + pairs(x), 0);
  const rowSum = [...rows.values()].reduce((s, x) => s + pairs(x), 0);
  const colSum = [...cols.values()].reduce((s, x) => s + pairs(x), 0);
  const expected = (rowSum * colSum) / pairs(a.length);
  const max = (rowSum + colSum) / 2;
  return max === expected ? 1 : (index - expected) / (max - expected);
}
