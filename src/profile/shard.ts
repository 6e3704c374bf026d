/**
 * The EM trainer cut at the points where users are coupled, so that a run can be spread over processes
 * (src/queue) and still give every user the tokens one process would:
 *
 *  - the population token θ̄ couples everyone (it samples all users' windows): one process tunes it;
 *  - an E-step is per user given θ̄, the last M-step's codebooks, the user's δ_u and its step count so far
 *    (its AdamW state is per row and restarts each round; its window order is seeded by its index in the
 *    whole run, `userSeeds`): any subset of users, a shard, can be tuned anywhere;
 *  - the M-step (k-means over every user's token) couples everyone again: one process fits it.
 *
 * An E-step batch holds one user's step (trainer.ts), so a user's tokens do not depend on which other
 * users are tuned with it, not even by float rounding: a discrete choice near a tie (the nearest code of
 * the commitment term) would otherwise turn rounding noise into a visible difference.
 */
import { assign, type Codebook } from '../quantize/index.js';
import type { ProfileLm } from './batch.js';
import { buildPrompt, type TemplateTokens } from './template.js';
import { fitProfileCodebooks, perUserNll, profileView, tuneProfiles, type RoundRecord, type TuneOptions, type TuneProgress, type TuneResult, type UserBehaviour } from './trainer.js';

/** What an E-step needs besides the users themselves: θ̄ and the previous M-step's codebooks (none before the first). */
export interface RoundInput {
  population: Float32Array;
  codebooks: Codebook[];
  deltaCentroids: Float32Array[];
}

/** θ̄ after the population phase, and the validation NLL per token before any tuning (θ̄ at its start). */
export interface PopulationResult {
  population: Float32Array;
  valNllStart: number;
  batches: number;
  tokens: number;
}

/** One E-step of a shard, per user in the shard's order. */
export interface ShardRoundResult {
  /** δ_u after the E-step, [users, slots, hidden]. */
  deltas: Float32Array;
  /** Each user's steps over all E-steps so far (the next E-step continues its window order from here). */
  steps: number[];
  /** Steps taken in this E-step. */
  stepsInRound: number[];
  /** Mean validation NLL per token under θ̄ + δ_u after the E-step (NaN: no validation text). */
  valNll: number[];
  /** Mean LM loss of the shard's batches, and how many batches. */
  trainLoss: number;
  batches: number;
  tokens: number;
}

/** The population phase of `tuneProfiles`, alone: the whole run's users, in the run's order. */
export async function tunePopulation(lm: ProfileLm, template: TemplateTokens, users: UserBehaviour[], opts: TuneOptions): Promise<PopulationResult> {
  // Stopping after the population's batches leaves the trainer at the start of the first E-step.
  const r = await tuneProfiles(lm, template, users, { ...opts, frozen: undefined, start: undefined, checkpointDir: undefined, stopAfterSteps: opts.populationSteps });
  if (r.steps !== opts.populationSteps) throw new Error(`the population phase took ${r.steps} steps, not the ${opts.populationSteps} asked for`);
  return { population: r.population, valNllStart: r.valNllStart, batches: r.steps, tokens: r.tokens };
}

/**
 * E-step `round` (0-based) of a subset of the run's users. `seeds` are their indices in the whole run;
 * `start` their δ_u and step counts after the previous E-step (zeros before the first).
 */
export async function tuneShardRound(
  lm: ProfileLm,
  template: TemplateTokens,
  users: UserBehaviour[],
  seeds: readonly number[],
  round: number,
  input: RoundInput,
  start: { deltas: Float32Array; steps: readonly number[] },
  opts: TuneOptions,
  onProgress?: (p: TuneProgress) => void,
): Promise<ShardRoundResult> {
  if (seeds.length !== users.length || start.steps.length !== users.length) {
    throw new Error(`a shard of ${users.length} users got ${seeds.length} seeds and ${start.steps.length} step counts`);
  }
  // Validation text is scored below, once, instead of by the trainer before and after.
  // Frozen θ̄ and codebooks, no M-step; the trainer starts at `round` and stops after it (commitment from the second E-step on).
  const r = await tuneProfiles(lm, template, users.map((u) => ({ ...u, valid: [] })), {
    ...opts,
    emRounds: round + 1,
    frozen: input,
    start: { round, ...start },
    userSeeds: seeds,
    checkpointDir: undefined,
    stopAfterSteps: undefined,
    onProgress,
  });
  const pairs = users.flatMap((u, i) => u.valid.map((w) => ({ prompt: buildPrompt(template, w), row: i, user: i })));
  const valNll = await perUserNll(lm, pairs, r.softTokens, users.length, opts.mask, opts.lmBatchTokens);
  return {
    deltas: r.deltas,
    steps: r.userSteps,
    stepsInRound: r.userSteps.map((s, i) => s - start.steps[i]),
    valNll,
    trainLoss: r.history[0].trainLoss,
    batches: r.steps,
    tokens: r.tokens,
  };
}

/** The M-step over the whole run: every user's δ_u in run order; users without train windows do not vote. */
export function fitRound(population: Float32Array, deltas: Float32Array, users: readonly UserBehaviour[], slots: number, hidden: number, opts: TuneOptions): RoundInput {
  const tuned = users.flatMap((u, i) => (u.train.length ? [i] : []));
  return { population, ...fitProfileCodebooks(population, deltas, tuned, slots, hidden, opts.codebookSizes, opts.seed) };
}

/** One E-step's record from its shards' results (in any order): the same numbers one process reports, but trainLoss, a mean over other batches. */
export function roundRecord(round: number, users: readonly UserBehaviour[], shards: readonly { first: number; result: ShardRoundResult }[]): RoundRecord {
  const nll: number[] = [];
  const steps: number[] = [];
  let lossSum = 0;
  let batches = 0;
  for (const { first, result } of shards) {
    result.valNll.forEach((v) => !Number.isNaN(v) && nll.push(v));
    result.stepsInRound.forEach((s, i) => users[first + i].train.length && steps.push(s));
    lossSum += result.trainLoss * result.batches;
    batches += result.batches;
  }
  return {
    round,
    valNll: nll.length ? nll.reduce((a, b) => a + b, 0) / nll.length : NaN,
    trainLoss: lossSum / Math.max(1, batches),
    steps: { mean: steps.reduce((a, b) => a + b, 0) / Math.max(1, steps.length), min: Math.min(...steps), max: Math.max(...steps) },
  };
}

/** The finished run, as `tuneProfiles` returns it, from θ̄, every user's δ_u and the last M-step. */
export function tuneResultOf(
  users: readonly UserBehaviour[],
  fitted: RoundInput,
  deltas: Float32Array,
  slots: number,
  hidden: number,
  record: { valNllStart: number; history: RoundRecord[]; userSteps: number[]; batches: number; tokens: number; seconds: number },
): TuneResult {
  const n = users.length;
  const S = slots;
  const D = hidden;
  const theta = new Float32Array(n * S * D);
  for (let i = 0; i < theta.length; i++) theta[i] = fitted.population[i % (S * D)] + deltas[i];
  return {
    users: users.map((u) => u.user),
    softTokens: { data: theta, slots: S, hidden: D },
    population: fitted.population,
    deltas,
    codebooks: fitted.codebooks,
    deltaCentroids: fitted.deltaCentroids,
    ids: fitted.codebooks.map((cb, j) => assign(cb, profileView(fitted.population, deltas, n, S, D, j)).ids),
    valNllStart: record.valNllStart,
    valNllEnd: record.history.at(-1)?.valNll ?? NaN,
    history: record.history,
    userSteps: record.userSteps,
    steps: record.batches,
    tokens: record.tokens,
    seconds: record.seconds,
    finished: true,
  };
}
