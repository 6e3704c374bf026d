/**
 * The EM trainer for per-user soft tokens.
 *
 * The latent profile of user u is θ_u = (θ_u^1 .. θ_u^S), one soft token per slot; the frozen LM
 * gives P(behaviour_u | θ_u). Training maximises that likelihood over θ only:
 *  - E-step (profile inference): with the LM fixed, move each user's soft tokens up the gradient of
 *    log P(behaviour | θ). We take one AdamW step per mini-batch (generalised EM: the E-step improves
 *    the posterior mode instead of solving for it), as the official code does.
 *  - M-step (codebook): with the soft tokens fixed, re-fit each slot's codebook to the users' tokens
 *    (src/quantize). The LM always sees the continuous tokens, as in the official code, so the
 *    codebooks summarise the profiles without steering them.
 * Users stop individually: after each epoch every user's validation-behaviour NLL is measured, the
 * best tokens so far are kept, and a user whose NLL has not improved for `patience` epochs is frozen.
 *
 * Initialisation: θ ~ U(-a, a) elementwise with a = `initScale` (default: the RMS of the embeddings of
 * the template's tokens, so soft tokens start on the scale of real tokens; the official code uses
 * U(±0.1), which is on that scale for Llama-2). `init: 'shared'` draws one such vector per slot and
 * gives it to every user, so users differ only by what their behaviour taught them and the codebooks
 * cluster that, not the initial noise; `'per-user'` draws each user's own, as the official code does.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AdamW, Rng, type OptimizerState } from '../engine/index.js';
import { openSafetensors, writeSafetensors } from '../lm/index.js';
import { assembleBatch, meanNllPerPrompt, softTokenGrads, type ProfileLm, type SoftTokenTable } from './batch.js';
import { buildPrompt, type MaskMode, type TemplateTokens } from './template.js';

export const TOKEN_INITS = ['shared', 'per-user'] as const;
export type TokenInit = (typeof TOKEN_INITS)[number];

export interface UserBehaviour {
  user: string;
  /** Behaviour token ids from the train split. */
  train: number[];
  /** Behaviour token ids from the validation split (empty: the user trains for every epoch). */
  valid: number[];
}

export interface TuneOptions {
  mask: MaskMode;
  lr: number;
  batchSize: number;
  epochs: number;
  patience: number;
  weightDecay: number;
  seed: number;
  initScale?: number;
  init: TokenInit;
  /** Where checkpoints go; a rerun with the same directory and settings resumes. */
  checkpointDir?: string;
  /** Checkpoint every this many steps (and at the end of every epoch). */
  checkpointEvery: number;
  /** Identifies the run's settings; a checkpoint from other settings is refused, not resumed. */
  configHash: string;
  /** Stop after this many steps in this process (tests use it to simulate a crash). */
  stopAfterSteps?: number;
  onProgress?: (p: TuneProgress) => void;
}

export interface TuneProgress {
  epoch: number;
  epochs: number;
  step: number;
  stepsInEpoch: number;
  loss: number;
  activeUsers: number;
}

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  valNll: number;
  activeUsers: number;
}

export interface TuneResult {
  users: string[];
  softTokens: SoftTokenTable;
  /** Mean validation NLL per token over users with validation text, before and after tuning. */
  valNllStart: number;
  valNllEnd: number;
  history: EpochRecord[];
  steps: number;
  tokens: number;
  seconds: number;
  /** False when stopped early by `stopAfterSteps`. */
  finished: boolean;
}

interface RunState {
  epoch: number;
  stepInEpoch: number;
  order: number[];
  bestNll: number[];
  badEpochs: number[];
  history: EpochRecord[];
  valNllStart: number;
  steps: number;
  tokens: number;
  lossSum: number;
  lossCount: number;
  /** Training seconds of earlier processes of this run (a resumed run reports its whole time). */
  seconds: number;
}

const CHECKPOINT_FILE = 'checkpoint.safetensors';

/** The RMS of the embeddings of the given tokens (real text, real scale). */
function embeddingRms(lm: ProfileLm, vocabSample: number[]): number {
  const e = lm.embedTokens(vocabSample);
  let s = 0;
  for (const v of e) s += v * v;
  return Math.sqrt(s / e.length);
}

export async function tuneProfiles(lm: ProfileLm, template: TemplateTokens, users: UserBehaviour[], opts: TuneOptions): Promise<TuneResult> {
  const started = Date.now();
  const S = template.names.length;
  const D = lm.hiddenSize;
  const n = users.length;
  const trainPrompts = users.map((u) => buildPrompt(template, u.train));
  const validPrompts = users.map((u) => (u.valid.length ? buildPrompt(template, u.valid) : undefined));

  const table: SoftTokenTable = { data: new Float32Array(n * S * D), slots: S, hidden: D };
  const best: SoftTokenTable = { ...table, data: new Float32Array(n * S * D) };
  const optimizer = new AdamW({ lr: opts.lr, weightDecay: opts.weightDecay });
  const param = { name: 'soft_tokens', data: table.data };

  let state: RunState | undefined = opts.checkpointDir ? await loadCheckpoint(opts, table, best, optimizer) : undefined;
  if (!state) {
    const rng = new Rng(opts.seed);
    // The template's tokens, not the users': new users tuned later must start on the same scale.
    const scale = opts.initScale ?? embeddingRms(lm, [template.start, ...template.names.flat(), ...template.prefix]);
    if (opts.init === 'shared') {
      const first = table.data.subarray(0, S * D);
      rng.fillUniform(first, -scale, scale);
      for (let u = 1; u < n; u++) table.data.set(first, u * S * D);
    } else rng.fillUniform(table.data, -scale, scale);
    best.data.set(table.data);
    const start = await validationNll(lm, validPrompts, table, opts);
    state = {
      epoch: 0,
      stepInEpoch: 0,
      order: epochOrder(n, opts.seed, 0),
      bestNll: start,
      badEpochs: new Array(n).fill(0),
      history: [],
      valNllStart: mean(start),
      steps: 0,
      tokens: 0,
      lossSum: 0,
      lossCount: 0,
      seconds: 0,
    };
  }
  const secondsBefore = state.seconds;
  const elapsed = () => secondsBefore + (Date.now() - started) / 1000;

  let stepsThisProcess = 0;
  while (state.epoch < opts.epochs) {
    const run = state;
    const active = run.order.filter((u) => run.badEpochs[u] < opts.patience);
    const stepsInEpoch = Math.ceil(active.length / opts.batchSize);
    while (state.stepInEpoch < stepsInEpoch) {
      if (opts.stopAfterSteps !== undefined && stepsThisProcess >= opts.stopAfterSteps) {
        return finish(false);
      }
      const rows = active.slice(state.stepInEpoch * opts.batchSize, (state.stepInEpoch + 1) * opts.batchSize);
      const prompts = rows.map((u) => trainPrompts[u]);
      const batch = assembleBatch(lm, prompts, rows, table, opts.mask);
      const { loss, grad } = await lm.lossAndGrad(batch);
      optimizer.stepRows(param, S * D, rows, softTokenGrads(prompts, grad, batch.seq, D));
      state.stepInEpoch++;
      state.steps++;
      stepsThisProcess++;
      state.tokens += batch.weights.reduce((s, w) => s + w, 0);
      state.lossSum += loss;
      state.lossCount++;
      opts.onProgress?.({ epoch: state.epoch, epochs: opts.epochs, step: state.stepInEpoch, stepsInEpoch, loss, activeUsers: active.length });
      if (opts.checkpointDir && state.steps % opts.checkpointEvery === 0) await saveCheckpoint(opts, { ...state, seconds: elapsed() }, table, best, optimizer.state());
    }
    // End of epoch: measure, keep each user's best tokens, freeze users that stopped improving.
    const nll = await validationNll(lm, validPrompts, table, opts);
    for (let u = 0; u < n; u++) {
      if (state.badEpochs[u] >= opts.patience) continue;
      if (Number.isNaN(nll[u]) || nll[u] < state.bestNll[u]) {
        state.bestNll[u] = Number.isNaN(nll[u]) ? NaN : nll[u];
        state.badEpochs[u] = 0;
        best.data.set(table.data.subarray(u * S * D, (u + 1) * S * D), u * S * D);
      } else state.badEpochs[u]++;
    }
    state.history.push({ epoch: state.epoch + 1, trainLoss: state.lossSum / Math.max(1, state.lossCount), valNll: mean(nll), activeUsers: active.length });
    state.epoch++;
    state.stepInEpoch = 0;
    state.lossSum = 0;
    state.lossCount = 0;
    state.order = epochOrder(n, opts.seed, state.epoch);
    if (opts.checkpointDir) await saveCheckpoint(opts, { ...state, seconds: elapsed() }, table, best, optimizer.state());
  }
  return finish(true);

  function finish(finished: boolean): TuneResult {
    const s = state!;
    return {
      users: users.map((u) => u.user),
      softTokens: best,
      valNllStart: s.valNllStart,
      valNllEnd: mean(s.bestNll),
      history: s.history,
      steps: s.steps,
      tokens: s.tokens,
      seconds: elapsed(),
      finished,
    };
  }
}

/** Users in a seeded order per epoch, so a resumed epoch continues the same order. */
function epochOrder(n: number, seed: number, epoch: number): number[] {
  return new Rng(seed * 7919 + epoch + 1).shuffle(Array.from({ length: n }, (_, i) => i));
}

function mean(xs: number[]): number {
  const ok = xs.filter((x) => !Number.isNaN(x));
  return ok.length ? ok.reduce((s, x) => s + x, 0) / ok.length : NaN;
}

/** Each user's mean validation NLL per token under its current soft tokens (NaN: no validation text). */
async function validationNll(lm: ProfileLm, prompts: (ReturnType<typeof buildPrompt> | undefined)[], table: SoftTokenTable, opts: TuneOptions): Promise<number[]> {
  const out = new Array<number>(prompts.length).fill(NaN);
  const rows = prompts.flatMap((p, u) => (p ? [u] : []));
  for (let i = 0; i < rows.length; i += opts.batchSize) {
    const chunk = rows.slice(i, i + opts.batchSize);
    const batch = assembleBatch(lm, chunk.map((u) => prompts[u]!), chunk, table, opts.mask);
    meanNllPerPrompt(batch, await lm.tokenNll(batch)).forEach((v, j) => (out[chunk[j]] = v));
  }
  return out;
}

/**
 * One file holds the tensors and, in its metadata, the run state, so a single atomic rename commits
 * both: a crash at any moment leaves either the previous checkpoint or the new one.
 */
async function saveCheckpoint(opts: TuneOptions, state: RunState, table: SoftTokenTable, best: SoftTokenTable, optimizer: OptimizerState): Promise<void> {
  const dir = opts.checkpointDir!;
  await mkdir(dir, { recursive: true });
  const shape = [table.data.length / (table.slots * table.hidden), table.slots, table.hidden];
  const tensors: Parameters<typeof writeSafetensors>[1] = {
    soft_tokens: { dtype: 'F32', shape, data: table.data },
    best_soft_tokens: { dtype: 'F32', shape, data: best.data },
  };
  for (const [name, data] of Object.entries(optimizer.tensors)) tensors[`optimizer/${name}`] = { dtype: 'F32', shape: [data.length], data };
  const { tensors: _tensors, ...optimizerMeta } = optimizer;
  await writeSafetensors(join(dir, CHECKPOINT_FILE), tensors, {
    configHash: opts.configHash,
    state: JSON.stringify(state),
    optimizer: JSON.stringify(optimizerMeta),
  });
}

async function loadCheckpoint(opts: TuneOptions, table: SoftTokenTable, best: SoftTokenTable, optimizer: AdamW): Promise<RunState | undefined> {
  const path = join(opts.checkpointDir!, CHECKPOINT_FILE);
  if (!existsSync(path)) return undefined;
  const reader = await openSafetensors(path);
  try {
    const { configHash, state, optimizer: optimizerMeta } = reader.metadata;
    if (configHash !== opts.configHash) {
      throw new Error(`${path} is a checkpoint of a run with other settings (config ${configHash?.slice(0, 12)}, this run ${opts.configHash.slice(0, 12)}); use another output directory or delete it`);
    }
    table.data.set(await reader.readFloat32('soft_tokens'));
    best.data.set(await reader.readFloat32('best_soft_tokens'));
    const tensors: Record<string, Float32Array> = {};
    for (const name of reader.tensors.keys()) {
      if (name.startsWith('optimizer/')) tensors[name.slice('optimizer/'.length)] = await reader.readFloat32(name);
    }
    optimizer.loadState({ ...JSON.parse(optimizerMeta), tensors } as OptimizerState);
    const run = JSON.parse(state) as RunState;
    // NaN does not survive JSON: users without validation text come back as null.
    run.bestNll = run.bestNll.map((v) => (v === null ? NaN : v));
    return run;
  } finally {
    await reader.close();
  }
}
