import assert from 'node:assert/strict';
import { it } from 'node:test';
import { auc } from '../../src/ctr/index.js';
import { Rng } from '../../src/engine/index.js';
import { mean } from '../../src/engine/index.js';
import { bootstrapAucs, deltaAucInterval, pairedTest, std, tCritical, tTwoSided, weightedAuc } from '../../src/eval/stats.js';

const close = (actual: number, expected: number, tol: number, what: string) => assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);

it('Student t tails match the closed forms for 1, 2 and 4 degrees of freedom', () => {
  for (const t of [0.3, 1, 2.5, 7]) {
    // df 1 is the Cauchy distribution; df 2 and 4 have closed forms in theta = atan(t / sqrt(df)).
    close(tTwoSided(t, 1), 1 - (2 / Math.PI) * Math.atan(t), 1e-12, `df 1, t ${t}`);
    close(tTwoSided(t, 2), 1 - t / Math.sqrt(2 + t * t), 1e-12, `df 2, t ${t}`);
    const theta = Math.atan(t / 2);
    close(tTwoSided(t, 4), 1 - Math.sin(theta) * (1 + Math.cos(theta) ** 2 / 2), 1e-12, `df 4, t ${t}`);
  }
  assert.equal(tTwoSided(0, 3), 1);
  // Textbook critical values t(0.975, df).
  close(tCritical(0.05, 1), 12.7062047, 1e-6, 'df 1');
  close(tCritical(0.05, 4), 2.7764451, 1e-6, 'df 4');
  close(tCritical(0.05, 30), 2.0422725, 1e-6, 'df 30');
});

it('paired t-test on a hand case', () => {
  // Differences 0.01 .. 0.05: mean 0.03, sd sqrt(2.5)/100, t = 0.03 / (sd / sqrt 5) = 4.2426, df 4.
  const test = pairedTest([0.71, 0.72, 0.73, 0.74, 0.75], [0.7, 0.7, 0.7, 0.7, 0.7], true);
  close(test.mean_diff, 0.03, 1e-12, 'mean');
  close(test.std_diff, Math.sqrt(2.5) / 100, 1e-12, 'sd');
  close(test.t, 0.03 / (Math.sqrt(2.5) / 100 / Math.sqrt(5)), 1e-9, 't');
  assert.equal(test.df, 4);
  const theta = Math.atan(test.t / 2);
  close(test.p_value, 1 - Math.sin(theta) * (1 + Math.cos(theta) ** 2 / 2), 1e-12, 'p');
  close(test.p_value, 0.013236, 1e-6, 'p (table)');
  close(test.ci95[0], 0.03 - 2.7764451 * 0.00707107, 1e-6, 'ci low');
  close(test.ci95[1], 0.03 + 2.7764451 * 0.00707107, 1e-6, 'ci high');
  assert.equal(test.verdict, 'exceeds seed noise');
  assert.equal(test.direction, 'better');
});

it('verdicts: noise larger than the difference, a lower-is-better metric, constant differences, one seed', () => {
  const noisy = pairedTest([0.70, 0.74, 0.69, 0.75, 0.71], [0.72, 0.71, 0.72, 0.71, 0.72], true);
  assert.equal(noisy.verdict, 'within seed noise');
  assert.ok(noisy.p_value > 0.05 && noisy.ci95[0] < 0 && noisy.ci95[1] > 0);
  const logloss = pairedTest([0.5, 0.51, 0.52], [0.4, 0.4, 0.41], false);
  assert.equal(logloss.direction, 'worse');
  const constant = pairedTest([0.6, 0.7], [0.5, 0.6], true);
  assert.equal(constant.p_value, 0);
  assert.equal(constant.verdict, 'exceeds seed noise');
  const one = pairedTest([0.6], [0.5], true);
  assert.equal(one.verdict, 'not testable (fewer than 2 seeds)');
  assert.ok(Number.isNaN(one.p_value));
});

it('mean and sample standard deviation', () => {
  assert.equal(mean([1, 2, 3, 4]), 2.5);
  close(std([1, 2, 3, 4]), Math.sqrt(5 / 3), 1e-12, 'std');
  assert.ok(Number.isNaN(std([1])));
});

/** 40 users with 5 rows each; scores rounded to 0.1 so that ties occur; `signal` mixes the label in. */
function rankingCase(seed: number, signal: number) {
  const rng = new Rng(seed);
  const users = Int32Array.from({ length: 200 }, (_, r) => Math.floor(r / 5) * 7);
  const labels = Float32Array.from(users, () => (rng.next() < 0.4 ? 1 : 0));
  const scores = Float32Array.from(labels, (y) => Math.round((signal * y + rng.next()) * 10) / 10);
  return { users, labels, scores };
}

it('weighted AUC equals the rank AUC with unit weights and counts a doubled row twice', () => {
  const { labels, scores } = rankingCase(1, 0.3);
  const order = Int32Array.from(scores.keys()).sort((a, b) => scores[a] - scores[b]);
  close(weightedAuc(labels, scores, order, () => 1), auc(labels, scores), 1e-12, 'unit weights');
  const doubled = (r: number) => (r === 3 ? 2 : 1);
  const rows = [...scores.keys(), 3];
  close(weightedAuc(labels, scores, order, doubled), auc(rows.map((r) => labels[r]), rows.map((r) => scores[r])), 1e-12, 'row 3 twice');
});

it('the user bootstrap of ΔAUC: zero for identical runs, above zero for a clearly better ranking, seeded', () => {
  const weak = rankingCase(2, 0.1);
  const strong = { ...weak, scores: Float32Array.from(weak.labels, (y, r) => weak.scores[r] + 0.8 * y) };
  const options = { resamples: 300, seed: 5 };
  const [a, b, c] = bootstrapAucs(weak.labels, weak.users, [weak.scores, weak.scores, strong.scores], options);
  assert.deepEqual(deltaAucInterval([a], [b]), [0, 0]);
  const [lo, hi] = deltaAucInterval([c], [a]);
  const full = auc(weak.labels, strong.scores) - auc(weak.labels, weak.scores);
  assert.ok(lo > 0 && lo < full && full < hi, `[${lo}, ${hi}] around ${full}`);
  assert.deepEqual(bootstrapAucs(weak.labels, weak.users, [weak.scores], options), [a]);
  assert.notDeepEqual(bootstrapAucs(weak.labels, weak.users, [weak.scores], { ...options, seed: 6 }), [a]);
  // Averaged over seeds: the interval of two identical seed pairs is that of one.
  assert.deepEqual(deltaAucInterval([c, c], [a, a]), [lo, hi]);
  // Users, not rows, are resampled: with one user every replicate holds all rows once.
  const oneUser = new Int32Array(weak.users.length);
  const [x, y] = bootstrapAucs(weak.labels, oneUser, [strong.scores, weak.scores], options);
  const [l1, h1] = deltaAucInterval([x], [y]);
  close(l1, full, 1e-12, 'lower');
  close(h1, full, 1e-12, 'upper');
});
