/**
 * The EM trainer for per-user soft tokens, on each user's whole behaviour history.
 *
 * The latent profile of user u is θ_u = (θ_u^1 .. θ_u^S), one soft token per slot; the frozen LM gives
 * P(behaviour_u | θ_u). A user's train history is cut into windows that each fit the LM's context after
 * the template; every window of a user shares its tokens (the official code makes one example per
 * interaction; windows are the efficient form of that).
 *
 * 1. Population: one token per slot, θ̄, shared by every user, is tuned first on all users' windows. It
 *    holds what all users share (the format of the text, the common taste), so that what follows is
 *    user-specific.
 * 2. Each user's token is θ_u = θ̄ + δ_u, with an L2 prior λ‖δ_u‖² (δ starts at 0). Then `emRounds` rounds:
 *    - E-step (profile inference): steps (AdamW, or gradient steps) on each user's δ_u to lower the mean
 *      NLL per token of its windows, plus the prior, plus (after the first M-step) a commitment β‖δ_u − c(δ_u)‖² that pulls the
 *      token toward its code's centroid. A user takes at most `userSteps` steps; it stops earlier once its
 *      gradient norm falls below `convergence` × its first step's (the same rule for every user, with or
 *      without validation text).
 *    - M-step: each slot's codebook is refitted (k-means) on the users' tokens as the LM sees them:
 *      `profileView` normalises θ_u like the LM's first LayerNorm (so the norm a user reached, which tracks
 *      how many steps it took, does not decide its code) and subtracts the population token's view.
 * The LM always sees continuous tokens; the codebooks summarise them and, through the commitment term,
 * shape them.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AdamW, nanMean as mean, Rng, type OptimizerState } from '../engine/index.js';
import { openSafetensors, readOptimizerSnapshots, writeTrainingCheckpoint, type TensorToWrite } from '../io/index.js';
import { assign, fitCodebook, type Codebook } from '../quantize/index.js';
import { assembleBatch, meanNllPerPrompt, promptWeight, softTokenGrads, sumOf, type ProfileLm, type SoftTokenTable } from './batch.js';
import { buildPrompt, type MaskMode, type Prompt, type TemplateTokens } from './template.js';

export interface UserBehaviour {
  user: string;
  /** Windows of behaviour token ids from the train split, oldest first. */
  train: number[][];
  /** Per train window, the weight of predicting each of its tokens (absent: 1 each). Validation NLL is never weighted. */
  trainWeights?: number[][];
  /** Windows from the validation split (empty: no validation NLL for this user). */
  valid: number[][];
}

export interface TuneOptions {
  mask: MaskMode;
  /** Learning rate of the users' offsets δ_u. */
  lr: number;
  /**
   * How a user's offset steps. 'adamw': AdamW, which moves every dimension by about lr whatever its
   * gradient, so that dimensions the LM hardly responds to fill up with noise. 'gradient': lr times the
   * gradient over the user's first gradient norm in the E-step: along the LM's sensitive directions, and
   * shrinking as the user converges.
   */
  userOptimizer: 'adamw' | 'gradient';
  /** AdamW learning rate of the population token θ̄. */
  populationLr: number;
  /** Codebook size per slot. */
  codebookSizes: number[];
  /** Prompt tokens of one population step (its optimisation batch). */
  batchTokens: number;
  /**
   * Padded prompt tokens per LM call. A population step, a user's step and validation scoring are split
   * into calls of at most this size and their gradients summed: the result is the same up to float
   * rounding, but an LM call's activations (the logits above all) stay small enough to be fast.
   */
  lmBatchTokens: number;
  /**
   * Windows in one step of a user (its windows are cycled in a seeded order across steps). 'auto':
   * ⌈windows / userSteps⌉, so that every E-step covers the user's whole history.
   */
  windowsPerStep: number | 'auto';
  /** Steps of the population token before the users' own (0: θ̄ stays at its initial value). */
  populationSteps: number;
  /** Step budget of each user in each E-step. */
  userSteps: number;
  /** A user stops once its gradient norm is below this share of its first step's in the round (0: never early). */
  convergence: number;
  /** λ of the L2 prior on δ_u. */
  prior: number;
  emRounds: number;
  /** β of the commitment term (from the second E-step on, when codebooks exist). */
  commitment: number;
  seed: number;
  /** θ̄ starts as U(-a, a); default a = the RMS of the template's token embeddings. */
  initScale?: number;
  /**
   * Frozen population token and codebooks: profile new users against a finished run. They take the same
   * E-steps as the run's users (`emRounds` rounds, commitment from the second on) with no M-step, so
   * that their offsets come from the same procedure as the codebooks' users'.
   */
  frozen?: FrozenProfiles;
  /**
   * Start at E-step `round` (0-based) from these δ_u and per-user step counts instead of round 0 at δ = 0:
   * with `frozen` and `emRounds` = round + 1, one E-step of a shard of a distributed run.
   */
  start?: { round: number; deltas: Float32Array; steps: readonly number[] };
  /** Per user, the seed of its window order (default: its index); a shard passes indices in the whole run. */
  userSeeds?: readonly number[];
  /** Where checkpoints go; a rerun with the same directory and settings resumes. */
  checkpointDir?: string;
  /** Checkpoint every this many steps, population or user (and at the end of every phase). */
  checkpointEvery: number;
  /** Identifies the run's settings; a checkpoint from other settings is refused, not resumed. */
  configHash: string;
  /** Stop after this many steps in this process (tests use it to simulate a crash). */
  stopAfterSteps?: number;
  onProgress?: (p: TuneProgress) => void;
}

/** What a finished run fixes: the population token and, per slot, the codebook and its δ-space centroids. */
export interface FrozenProfiles {
  population: Float32Array;
  codebooks: Codebook[];
  deltaCentroids: Float32Array[];
}

export interface TuneProgress {
  phase: 'population' | 'users';
  round: number;
  rounds: number;
  done: number;
  total: number;
  loss: number;
  activeUsers: number;
}

export interface RoundRecord {
  round: number;
  /** Mean validation NLL per token under θ_u after the round's E-step. */
  valNll: number;
  trainLoss: number;
  steps: { mean: number; min: number; max: number };
}

export interface TuneResult {
  users: string[];
  /** θ_u = θ̄ + δ_u, [users, slots, hidden]. */
  softTokens: SoftTokenTable;
  /** θ̄, [slots, hidden]. */
  population: Float32Array;
  /** δ_u, [users, slots, hidden]. */
  deltas: Float32Array;
  codebooks: Codebook[];
  deltaCentroids: Float32Array[];
  /** Per slot, each user's code. */
  ids: Int32Array[];
  /** Validation NLL per token before any tuning (θ̄ at its start) and after, over users with validation text. */
  valNllStart: number;
  valNllEnd: number;
  history: RoundRecord[];
  /** Steps of each user over all E-steps. */
  userSteps: number[];
  /** Steps (population and user steps), behaviour tokens scored, seconds. */
  steps: number;
  tokens: number;
  seconds: number;
  /** False when stopped early by `stopAfterSteps`. */
  finished: boolean;
}

interface RunState {
  phase: 'population' | 'users' | 'done';
  round: number;
  populationStep: number;
  /** The users of the current pass (one step each), and how many of them are done. */
  pass: number;
  passUsers: number[];
  passPosition: number;
  stepsInRound: number[];
  totalSteps: number[];
  firstGradNorm: number[];
  stopped: boolean[];
  history: RoundRecord[];
  valNllStart: number;
  batches: number;
  tokens: number;
  lossSum: number;
  lossCount: number;
  seconds: number;
}

const CHECKPOINT_FILE = 'checkpoint.safetensors';

/** The RMS of the embeddings of the given tokens (real text, real scale). */
function embeddingRms(lm: ProfileLm, tokens: number[]): number {
  const e = lm.embedTokens(tokens);
  let s = 0;
  for (const v of e) s += v * v;
  return Math.sqrt(s / e.length);
}

/** A vector as the LM's first LayerNorm sees it: zero mean, unit variance over the hidden dimension. */
function normalised(v: Float32Array): Float32Array {
  let mean = 0;
  for (const x of v) mean += x;
  mean /= v.length;
  let variance = 0;
  for (const x of v) variance += (x - mean) ** 2;
  const inv = 1 / Math.sqrt(variance / v.length + 1e-5);
  return v.map((x) => (x - mean) * inv);
}

/**
 * The vectors the codebooks cluster, slot j: normalised(θ̄_j + δ_uj) − normalised(θ̄_j) per user, [users, hidden].
 * New users are assigned through the same view.
 */
export function profileView(population: Float32Array, deltas: Float32Array, users: number, slots: number, hidden: number, j: number): Float32Array {
  const base = population.subarray(j * hidden, (j + 1) * hidden);
  const baseView = normalised(base);
  const out = new Float32Array(users * hidden);
  const theta = new Float32Array(hidden);
  for (let u = 0; u < users; u++) {
    const off = (u * slots + j) * hidden;
    for (let d = 0; d < hidden; d++) theta[d] = base[d] + deltas[off + d];
    const view = normalised(theta);
    for (let d = 0; d < hidden; d++) out[u * hidden + d] = view[d] - baseView[d];
  }
  return out;
}

/**
 * The M-step: per slot, k-means on the normalised view of the given users' tokens, and the mean δ of each
 * code's users (the commitment target, and what the LM sees for the code). Codes are fitted on `members` only
 * (e.g. the warm users of a cold-start protocol).
 */
export function fitProfileCodebooks(
  population: Float32Array,
  deltas: Float32Array,
  members: readonly number[],
  slots: number,
  hidden: number,
  sizes: readonly number[],
  seed: number,
): { codebooks: Codebook[]; deltaCentroids: Float32Array[] } {
  const S = slots;
  const D = hidden;
  const subset = new Float32Array(members.length * S * D);
  members.forEach((u, r) => subset.set(deltas.subarray(u * S * D, (u + 1) * S * D), r * S * D));
  const codebooks: Codebook[] = [];
  const deltaCentroids: Float32Array[] = [];
  sizes.forEach((k, j) => {
    const view = profileView(population, subset, members.length, S, D, j);
    const { codebook, assignment } = fitCodebook(view, members.length, D, k, { seed: seed + j });
    const sums = new Float32Array(k * D);
    const counts = new Float64Array(k);
    members.forEach((u, r) => {
      const c = assignment.ids[r];
      counts[c]++;
      for (let d = 0; d < D; d++) sums[c * D + d] += deltas[(u * S + j) * D + d];
    });
    for (let c = 0; c < k; c++) for (let d = 0; d < D; d++) sums[c * D + d] /= Math.max(1, counts[c]);
    codebooks.push(codebook);
    deltaCentroids.push(sums);
  });
  return { codebooks, deltaCentroids };
}

export async function tuneProfiles(lm: ProfileLm, template: TemplateTokens, users: UserBehaviour[], opts: TuneOptions): Promise<TuneResult> {
  const started = Date.now();
  const S = template.names.length;
  const D = lm.hiddenSize;
  const n = users.length;
  const rounds = opts.emRounds;
  const trainPrompts = users.map((u) => u.train.map((w, i) => buildPrompt(template, w, u.trainWeights?.[i])));
  const validPrompts = users.map((u) => u.valid.map((w) => buildPrompt(template, w)));

  const population = new Float32Array(S * D);
  const deltas = new Float32Array(n * S * D);
  const theta: SoftTokenTable = { data: new Float32Array(n * S * D), slots: S, hidden: D };
  let codebooks: Codebook[] = opts.frozen?.codebooks ?? [];
  let deltaCentroids: Float32Array[] = opts.frozen?.deltaCentroids ?? [];
  let populationOptimizer = new AdamW({ lr: opts.populationLr, weightDecay: 0 });
  let userOptimizer = new AdamW({ lr: opts.lr, weightDecay: 0 });
  const syncTheta = (u: number) => {
    for (let i = 0; i < S * D; i++) theta.data[u * S * D + i] = population[i] + deltas[u * S * D + i];
  };

  let state = opts.checkpointDir ? await loadCheckpoint() : undefined;
  if (!state) {
    if (opts.frozen) population.set(opts.frozen.population);
    else {
      // The template's tokens, not the users': the scale does not depend on the data.
      const scale = opts.initScale ?? embeddingRms(lm, [template.start, ...template.names.flat(), ...template.prefix]);
      new Rng(opts.seed).fillUniform(population, -scale, scale);
    }
    if (opts.start) deltas.set(opts.start.deltas);
    for (let u = 0; u < n; u++) syncTheta(u);
    state = {
      phase: opts.frozen || opts.populationSteps === 0 ? 'users' : 'population',
      round: opts.start?.round ?? 0,
      populationStep: 0,
      pass: 0,
      passUsers: [],
      passPosition: 0,
      stepsInRound: new Array(n).fill(0),
      totalSteps: opts.start ? [...opts.start.steps] : new Array(n).fill(0),
      firstGradNorm: new Array(n).fill(0),
      stopped: new Array(n).fill(false),
      history: [],
      valNllStart: mean(await validationNll(validPrompts, theta)),
      batches: 0,
      tokens: 0,
      lossSum: 0,
      lossCount: 0,
      seconds: 0,
    };
  } else for (let u = 0; u < n; u++) syncTheta(u);
  const st = state;
  const secondsBefore = st.seconds;
  const elapsed = () => secondsBefore + (Date.now() - started) / 1000;
  let batchesThisProcess = 0;
  const mustStop = () => opts.stopAfterSteps !== undefined && batchesThisProcess >= opts.stopAfterSteps;
  const afterBatch = async () => {
    st.batches++;
    batchesThisProcess++;
    if (opts.checkpointDir && st.batches % opts.checkpointEvery === 0) await saveCheckpoint();
  };

  // 1. The population token.
  while (st.phase === 'population') {
    if (st.populationStep >= opts.populationSteps) {
      st.phase = 'users';
      for (let u = 0; u < n; u++) syncTheta(u);
      if (opts.checkpointDir) await saveCheckpoint();
      break;
    }
    if (mustStop()) return finish(false);
    const rng = new Rng((opts.seed * 31 + 17 + st.populationStep) >>> 0);
    const prompts: Prompt[] = [];
    let length = 0;
    while (length < opts.batchTokens) {
      const u = rng.int(n);
      if (trainPrompts[u].length === 0) continue;
      const p = trainPrompts[u][rng.int(trainPrompts[u].length)];
      prompts.push(p);
      length += p.tokens.length;
    }
    const table: SoftTokenTable = { data: population, slots: S, hidden: D };
    const { lossSum, weight, grads } = await summedLossAndGrads(prompts, new Array(prompts.length).fill(0), table, `population step ${st.populationStep + 1}`, []);
    // The gradient of the step's mean NLL per token.
    const g = new Float32Array(S * D);
    for (let b = 0; b < prompts.length; b++) for (let i = 0; i < S * D; i++) g[i] += grads[b * S * D + i] / weight;
    const loss = lossSum / weight;
    populationOptimizer.stepRows({ name: 'population', data: population }, S * D, [0], g);
    st.populationStep++;
    st.tokens += targetCount(prompts);
    opts.onProgress?.({ phase: 'population', round: 0, rounds, done: st.populationStep, total: opts.populationSteps, loss, activeUsers: n });
    await afterBatch();
  }

  // 2. EM rounds over the users' own tokens.
  while (st.phase === 'users') {
    const active = () => users.flatMap((u, i) => (!st.stopped[i] && st.stepsInRound[i] < opts.userSteps && u.train.length ? [i] : []));
    if (st.passPosition >= st.passUsers.length) {
      const next = active();
      if (next.length === 0) {
        await endRound();
        continue;
      }
      st.passUsers = new Rng((opts.seed * 7919 + st.round * 104729 + st.pass + 1) >>> 0).shuffle(next);
      st.passPosition = 0;
      st.pass++;
    }
    if (mustStop()) return finish(false);
    // One user per step, in LM calls of its own windows: a user's tokens then cannot depend, even by float
    // rounding, on who else is tuned, so a shard of a distributed run tunes them exactly as one process
    // does.
    const rows: number[] = [];
    const prompts: Prompt[] = [];
    const owner: number[] = [];
    while (st.passPosition < st.passUsers.length && rows.length === 0) {
      const u = st.passUsers[st.passPosition++];
      const windows = windowsForStep(u, st.totalSteps[u]);
      for (const p of windows) {
        prompts.push(p);
        owner.push(rows.length);
      }
      rows.push(u);
    }
    const { lossSum, weight, grads } = await summedLossAndGrads(prompts, owner.map((r) => rows[r]), theta, `user step ${st.batches + 1} (E-step ${st.round + 1})`, rows.map((u) => users[u].user));
    const loss = lossSum / weight;
    // Per user: the gradient of its own (weighted) mean NLL per token.
    const userWeight = new Float64Array(rows.length);
    prompts.forEach((p, b) => (userWeight[owner[b]] += promptWeight(p)));
    const g = new Float32Array(rows.length * S * D);
    prompts.forEach((_, b) => {
      const scale = 1 / userWeight[owner[b]];
      for (let i = 0; i < S * D; i++) g[owner[b] * S * D + i] += grads[b * S * D + i] * scale;
    });
    rows.forEach((u, r) => addPenalties(u, g.subarray(r * S * D, (r + 1) * S * D)));
    rows.forEach((u, r) => {
      const norm = Math.hypot(...g.subarray(r * S * D, (r + 1) * S * D));
      if (st.stepsInRound[u] === 0) st.firstGradNorm[u] = norm;
      else if (opts.convergence > 0 && norm < opts.convergence * st.firstGradNorm[u]) st.stopped[u] = true;
      st.stepsInRound[u]++;
      st.totalSteps[u]++;
    });
    if (opts.userOptimizer === 'adamw') userOptimizer.stepRows({ name: 'deltas', data: deltas }, S * D, rows, g);
    else {
      rows.forEach((u, r) => {
        const scale = st.firstGradNorm[u] > 0 ? opts.lr / st.firstGradNorm[u] : 0;
        for (let i = 0; i < S * D; i++) deltas[u * S * D + i] -= scale * g[r * S * D + i];
      });
    }
    rows.forEach(syncTheta);
    st.tokens += targetCount(prompts);
    st.lossSum += loss;
    st.lossCount++;
    opts.onProgress?.({ phase: 'users', round: st.round, rounds, done: st.passPosition, total: st.passUsers.length, loss, activeUsers: st.passUsers.length });
    await afterBatch();
  }
  return finish(true);

  /**
   * Σ of the prompts' weighted target NLL, the summed weight, and the gradient of that sum on each prompt's
   * soft tokens ([prompts, slots, hidden]), in LM calls of at most `lmBatchTokens` padded tokens.
   */
  async function summedLossAndGrads(prompts: readonly Prompt[], rows: readonly number[], table: SoftTokenTable, step: string, batchUsers: readonly string[]) {
    const grads = new Float32Array(prompts.length * S * D);
    let lossSum = 0;
    let weight = 0;
    for (const [from, to] of lmCalls(prompts, opts.lmBatchTokens)) {
      const part = prompts.slice(from, to);
      const batch = assembleBatch(lm, part, rows.slice(from, to), table, opts.mask);
      const { loss, grad } = await lm.lossAndGrad(batch);
      assertFiniteStep(loss, grad, step, batchUsers);
      // The call's loss is its mean over its weights: scaled back to a sum.
      const w = sumOf(batch.weights);
      const perPrompt = softTokenGrads(part, grad, batch.seq, D);
      for (let i = 0; i < perPrompt.length; i++) grads[from * S * D + i] = perPrompt[i] * w;
      lossSum += loss * w;
      weight += w;
    }
    return { lossSum, weight, grads };
  }

  function windowsForStep(u: number, step: number): Prompt[] {
    const all = trainPrompts[u];
    const k = opts.windowsPerStep === 'auto' ? Math.ceil(all.length / opts.userSteps) : Math.min(opts.windowsPerStep, all.length);
    if (k === all.length) return all;
    const order = new Rng((opts.seed * 2654435761 + (opts.userSeeds?.[u] ?? u)) >>> 0).shuffle(all.map((_, i) => i));
    return Array.from({ length: k }, (_, i) => all[order[(step * k + i) % all.length]]);
  }

  /** Prior and commitment gradients, added to user u's LM gradient `g` [slots * hidden]. */
  function addPenalties(u: number, g: Float32Array): void {
    const delta = deltas.subarray(u * S * D, (u + 1) * S * D);
    for (let i = 0; i < S * D; i++) g[i] += 2 * opts.prior * delta[i];
    // From the second E-step on, as in a run (frozen codebooks exist from the start).
    if (!codebooks.length || opts.commitment === 0 || st.round === 0) return;
    for (let j = 0; j < S; j++) {
      const view = profileView(population, delta, 1, S, D, j);
      const code = assign(codebooks[j], view).ids[0];
      const centroid = deltaCentroids[j].subarray(code * D, (code + 1) * D);
      for (let d = 0; d < D; d++) g[j * D + d] += 2 * opts.commitment * (delta[j * D + d] - centroid[d]);
    }
  }

  async function endRound(): Promise<void> {
    const steps = st.stepsInRound.filter((_, u) => users[u].train.length);
    const nll = await validationNll(validPrompts, theta);
    if (!opts.frozen) fitCodebooks();
    st.history.push({
      round: st.round + 1,
      valNll: mean(nll),
      trainLoss: st.lossSum / Math.max(1, st.lossCount),
      steps: { mean: steps.reduce((a, b) => a + b, 0) / Math.max(1, steps.length), min: Math.min(...steps), max: Math.max(...steps) },
    });
    st.round++;
    st.pass = 0;
    st.passUsers = [];
    st.passPosition = 0;
    st.stepsInRound.fill(0);
    st.stopped.fill(false);
    st.lossSum = 0;
    st.lossCount = 0;
    // A new E-step starts with fresh moments: the commitment term has moved the optimum.
    userOptimizer = new AdamW({ lr: opts.lr, weightDecay: 0 });
    if (st.round >= rounds) st.phase = 'done';
    if (opts.checkpointDir) await saveCheckpoint();
  }

  /** The M-step, over the users with train windows. */
  function fitCodebooks(): void {
    const tuned = users.flatMap((u, i) => (u.train.length ? [i] : []));
    ({ codebooks, deltaCentroids } = fitProfileCodebooks(population, deltas, tuned, S, D, opts.codebookSizes, opts.seed));
  }

  function finish(finished: boolean): TuneResult {
    const ids = codebooks.map((cb, j) => (finished ? assign(cb, profileView(population, deltas, n, S, D, j)).ids : new Int32Array(n)));
    return {
      users: users.map((u) => u.user),
      softTokens: theta,
      population,
      deltas,
      codebooks,
      deltaCentroids,
      ids,
      valNllStart: st.valNllStart,
      valNllEnd: st.history.at(-1)?.valNll ?? NaN,
      history: st.history,
      userSteps: st.totalSteps,
      steps: st.batches,
      tokens: st.tokens,
      seconds: elapsed(),
      finished,
    };
  }

  /** Each user's mean validation NLL per token over its windows (NaN: no validation text). */
  async function validationNll(prompts: Prompt[][], table: SoftTokenTable): Promise<number[]> {
    const pairs = prompts.flatMap((ps, u) => ps.map((prompt) => ({ prompt, row: u, user: u })));
    return perUserNll(lm, pairs, table, n, opts.mask, opts.lmBatchTokens);
  }

  /**
   * One file holds the tensors and, in its metadata, the run state, so a single atomic rename commits
   * both: a crash at any moment leaves either the previous checkpoint or the new one.
   */
  async function saveCheckpoint(): Promise<void> {
    const dir = opts.checkpointDir!;
    await mkdir(dir, { recursive: true });
    const tensors: Record<string, TensorToWrite> = {
      population: { dtype: 'F32', shape: [S, D], data: population },
      deltas: { dtype: 'F32', shape: [n, S, D], data: deltas },
    };
    codebooks.forEach((cb, j) => {
      tensors[`codebook/${j}`] = { dtype: 'F32', shape: [cb.k, cb.d], data: cb.centroids };
      tensors[`delta_centroids/${j}`] = { dtype: 'F32', shape: [cb.k, D], data: deltaCentroids[j] };
    });
    await writeTrainingCheckpoint(
      join(dir, CHECKPOINT_FILE),
      tensors,
      { population: populationOptimizer.state(), users: userOptimizer.state() },
      { configHash: opts.configHash, state: JSON.stringify({ ...st, seconds: elapsed() }) },
    );
  }

  async function loadCheckpoint(): Promise<RunState | undefined> {
    const path = join(opts.checkpointDir!, CHECKPOINT_FILE);
    if (!existsSync(path)) return undefined;
    const reader = await openSafetensors(path).catch((error: Error) => {
      throw new Error(`cannot resume from ${path}: ${error.message}. Delete ${opts.checkpointDir} to start the run over`, { cause: error });
    });
    try {
      const { configHash, state } = reader.metadata;
      if (configHash !== opts.configHash) {
        throw new Error(`${path} is a checkpoint of a run with other settings (config ${configHash?.slice(0, 12)}, this run ${opts.configHash.slice(0, 12)}); use another output directory or delete it`);
      }
      if (state === undefined || !reader.tensors.has('deltas')) throw new Error(`${path} is a checkpoint of an older trainer; delete it to start over`);
      population.set(await reader.readFloat32('population'));
      deltas.set(await reader.readFloat32('deltas'));
      codebooks = [];
      deltaCentroids = [];
      for (let j = 0; reader.tensors.has(`codebook/${j}`); j++) {
        const info = reader.tensors.get(`codebook/${j}`)!;
        codebooks.push({ k: info.shape[0], d: info.shape[1], centroids: await reader.readFloat32(`codebook/${j}`) });
        deltaCentroids.push(await reader.readFloat32(`delta_centroids/${j}`));
      }
      if (opts.frozen) ({ codebooks, deltaCentroids } = opts.frozen);
      const optimizers = await readOptimizerSnapshots(reader);
      populationOptimizer.loadState(optimizers.population as OptimizerState);
      userOptimizer.loadState(optimizers.users as OptimizerState);
      return JSON.parse(state) as RunState;
    } finally {
      await reader.close();
    }
  }
}

/**
 * Mean NLL per behaviour token of each user over its (prompt, soft-token row) pairs, in LM calls of at
 * most `lmBatchTokens` padded tokens; NaN for a user with no pair.
 */
export async function perUserNll(
  lm: ProfileLm,
  pairs: readonly { prompt: Prompt; row: number; user: number }[],
  table: SoftTokenTable,
  users: number,
  mask: MaskMode,
  lmBatchTokens: number,
): Promise<number[]> {
  const sum = new Float64Array(users);
  const count = new Float64Array(users);
  for (const [from, to] of lmCalls(pairs.map((p) => p.prompt), lmBatchTokens)) {
    const chunk = pairs.slice(from, to);
    const batch = assembleBatch(lm, chunk.map((p) => p.prompt), chunk.map((p) => p.row), table, mask);
    const means = meanNllPerPrompt(batch, await lm.tokenNll(batch));
    chunk.forEach((p, b) => {
      const tokens = p.prompt.tokens.length - p.prompt.behaviourStart;
      if (tokens > 0) {
        sum[p.user] += means[b] * tokens;
        count[p.user] += tokens;
      }
    });
  }
  return Array.from(sum, (s, u) => (count[u] > 0 ? s / count[u] : NaN));
}

/** Consecutive ranges [from, to) of the prompts, each at most `maxTokens` once padded to its longest prompt (at least one prompt). */
export function lmCalls(prompts: readonly Prompt[], maxTokens: number): [number, number][] {
  const ranges: [number, number][] = [];
  for (let from = 0; from < prompts.length; ) {
    let to = from + 1;
    let longest = prompts[from].tokens.length;
    while (to < prompts.length && (to - from + 1) * Math.max(longest, prompts[to].tokens.length) <= maxTokens) longest = Math.max(longest, prompts[to++].tokens.length);
    ranges.push([from, to]);
    from = to;
  }
  return ranges;
}

/** Behaviour tokens the prompts predict (what tokens/s counts, whatever their weights). */
function targetCount(prompts: readonly Prompt[]): number {
  return prompts.reduce((sum, p) => sum + p.tokens.length - p.behaviourStart, 0);
}

/**
 * The first non-finite loss or gradient stops the run: continuing would spread NaN into every user's
 * tokens and the codebooks. The message names the step and the users of the batch.
 */
function assertFiniteStep(loss: number, grad: Float32Array, step: string, batchUsers: readonly string[]): void {
  const badGrad = grad.findIndex((v) => !Number.isFinite(v));
  if (Number.isFinite(loss) && badGrad < 0) return;
  const what = Number.isFinite(loss) ? `the gradient holds ${grad[badGrad]} at element ${badGrad}` : `the loss is ${loss}`;
  const whose = batchUsers.length ? `users ${batchUsers.slice(0, 10).join(', ')}${batchUsers.length > 10 ? ` and ${batchUsers.length - 10} more` : ''}` : 'the population token';
  throw new Error(`${step}: ${what} (batch of ${whose}); the LM's weights or the learning rate make training diverge`);
}
