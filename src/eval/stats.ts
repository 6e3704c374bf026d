/**
 * Seed statistics for the comparison report: mean, sample standard deviation, and the paired t-test
 * that decides whether a feature set's difference to `id` exceeds seed noise. Runs of two feature sets
 * with the same seed share the seed's shuffles and split, so the per-seed differences are the paired
 * sample; t = mean(d) / (sd(d) / sqrt(n)) with n - 1 degrees of freedom. The Student t distribution
 * is computed here (regularized incomplete beta by Lentz's continued fraction, as in Numerical
 * Recipes §6.4) rather than taken from a library: none is a dependency, and the code is short.
 *
 * Next to it, a user-level bootstrap of ΔAUC: the test users are resampled with replacement (a user's
 * rows travel together, since rows of one user are not independent), and each replicate's AUCs are
 * computed from the same resample for every run, so differences are paired by replicate.
 */
import { mean, Rng } from '../engine/index.js';

/** Sample standard deviation (n - 1); NaN for fewer than two values. */
export function std(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error below 1e-13). */
function lnGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let a = c[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    for (const aa of [(m * (b - m) * x) / ((a + m2 - 1) * (a + m2)), (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1))]) {
      d = 1 + aa * d;
      if (Math.abs(d) < tiny) d = tiny;
      c = 1 + aa / c;
      if (Math.abs(c) < tiny) c = tiny;
      d = 1 / d;
      h *= d * c;
    }
    if (Math.abs(d * c - 1) < 1e-15) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b). */
function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // The fraction converges fast only on this side of the mean; use the symmetry I_x(a,b) = 1 - I_{1-x}(b,a) otherwise.
  return x < (a + 1) / (a + b + 2) ? (front * betaFraction(a, b, x)) / a : 1 - (front * betaFraction(b, a, 1 - x)) / b;
}

/** Two-sided tail probability P(|T| >= |t|) of Student's t with `df` degrees of freedom. */
export function tTwoSided(t: number, df: number): number {
  if (!Number.isFinite(t)) return Number.isNaN(t) ? NaN : 0;
  return incompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** The t with P(|T| >= t) = `p` (bisection on the tail, which falls monotonically). */
export function tCritical(p: number, df: number): number {
  let lo = 0;
  let hi = 1;
  while (tTwoSided(hi, df) > p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (tTwoSided(mid, df) > p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export type Verdict = 'exceeds seed noise' | 'within seed noise' | 'not testable (fewer than 2 seeds)';

export interface PairedTest {
  /** Seeds compared. */
  n: number;
  /** Mean of (feature set - baseline) over seeds. */
  mean_diff: number;
  std_diff: number;
  t: number;
  df: number;
  /** Two-sided p-value of the paired t-test. */
  p_value: number;
  /** 95% confidence interval of the mean difference (t-based). */
  ci95: [number, number];
  verdict: Verdict;
  /** Which way the mean difference points, for a metric where `higherIsBetter` says which way is good. */
  direction: 'better' | 'worse' | 'same';
}

/** Paired t-test of `values` against `baseline` (same seeds, same order); significant at p < `alpha`. */
export function pairedTest(values: readonly number[], baseline: readonly number[], higherIsBetter: boolean, alpha = 0.05): PairedTest {
  if (values.length !== baseline.length) throw new Error(`paired test: ${values.length} values but ${baseline.length} baseline values`);
  const diffs = values.map((v, i) => v - baseline[i]).filter((d) => Number.isFinite(d));
  const n = diffs.length;
  const m = mean(diffs);
  const direction = !(Math.abs(m) > 0) ? 'same' : m > 0 === higherIsBetter ? 'better' : 'worse';
  if (n < 2) return { n, mean_diff: m, std_diff: NaN, t: NaN, df: 0, p_value: NaN, ci95: [NaN, NaN], verdict: 'not testable (fewer than 2 seeds)', direction };
  const sd = std(diffs);
  const se = sd / Math.sqrt(n);
  // Identical differences on every seed: no noise at all, so any non-zero difference is systematic.
  const t = se > 0 ? m / se : m === 0 ? 0 : Math.sign(m) * Infinity;
  const p = tTwoSided(t, n - 1);
  const half = tCritical(alpha, n - 1) * se;
  return { n, mean_diff: m, std_diff: sd, t, df: n - 1, p_value: p, ci95: [m - half, m + half], verdict: p < alpha ? 'exceeds seed noise' : 'within seed noise', direction };
}

export interface BootstrapOptions {
  resamples: number;
  seed: number;
}

/**
 * Per score vector (one per run, all on the same test rows), its AUC on each of `resamples` user-level
 * bootstrap replicates: replicate b draws as many users as the rows have, with replacement, from
 * `seed`; a row counts as often as its user was drawn. Replicate b is the same draw for every vector,
 * so two vectors' AUCs pair by replicate. NaN where a replicate has one class only.
 */
export function bootstrapAucs(labels: ArrayLike<number>, users: ArrayLike<number>, scores: readonly ArrayLike<number>[], options: BootstrapOptions): Float64Array[] {
  const n = labels.length;
  const local = new Map<number, number>();
  const userOf = Int32Array.from({ length: n }, (_, r) => {
    let u = local.get(users[r]);
    if (u === undefined) local.set(users[r], (u = local.size));
    return u;
  });
  const orders = scores.map((s) => {
    if (s.length !== n) throw new Error(`bootstrap: ${s.length} scores for ${n} rows`);
    return Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => s[a] - s[b]);
  });
  const out = scores.map(() => new Float64Array(options.resamples));
  const rng = new Rng(options.seed);
  const weight = new Float64Array(local.size);
  for (let b = 0; b < options.resamples; b++) {
    weight.fill(0);
    for (let i = 0; i < local.size; i++) weight[rng.int(local.size)]++;
    scores.forEach((s, k) => (out[k][b] = weightedAuc(labels, s, orders[k], (r) => weight[userOf[r]])));
  }
  return out;
}

/**
 * AUC with row weights, over rows presorted by ascending score: a positive–negative pair counts the
 * product of their weights, tied scores one half. Equals `auc` when every weight is 1.
 */
export function weightedAuc(labels: ArrayLike<number>, scores: ArrayLike<number>, order: Int32Array, weight: (row: number) => number): number {
  let negativesBelow = 0;
  let pairs = 0;
  let positives = 0;
  for (let i = 0; i < order.length; ) {
    let groupPositives = 0;
    let groupNegatives = 0;
    const score = scores[order[i]];
    for (; i < order.length && scores[order[i]] === score; i++) {
      const w = weight(order[i]);
      if (labels[order[i]] > 0.5) groupPositives += w;
      else groupNegatives += w;
    }
    pairs += groupPositives * (negativesBelow + groupNegatives / 2);
    negativesBelow += groupNegatives;
    positives += groupPositives;
  }
  return positives > 0 && negativesBelow > 0 ? pairs / (positives * negativesBelow) : NaN;
}

/**
 * The percentile 95% interval of the mean over seeds of ΔAUC = `runs` − `baseline` (bootstrap AUCs
 * of `bootstrapAucs`, paired by seed in the given order and by replicate). Replicates where any AUC
 * is undefined are left out; [NaN, NaN] when none is left.
 */
export function deltaAucInterval(runs: readonly Float64Array[], baseline: readonly Float64Array[]): [number, number] {
  if (runs.length !== baseline.length || runs.length === 0) throw new Error(`bootstrap ΔAUC: ${runs.length} runs against ${baseline.length} baseline runs`);
  const deltas: number[] = [];
  for (let b = 0; b < runs[0].length; b++) {
    const d = mean(runs.map((r, s) => r[b] - baseline[s][b]));
    if (Number.isFinite(d)) deltas.push(d);
  }
  if (deltas.length === 0) return [NaN, NaN];
  deltas.sort((a, b) => a - b);
  return [quantile(deltas, 0.025), quantile(deltas, 0.975)];
}

/** Linear interpolation between the order statistics of sorted `xs` (numpy's default). */
function quantile(xs: readonly number[], q: number): number {
  const at = q * (xs.length - 1);
  const lo = Math.floor(at);
  return xs[lo] + (xs[Math.min(lo + 1, xs.length - 1)] - xs[lo]) * (at - lo);
}
