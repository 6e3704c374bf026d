/**
 * A profile tune run on disk: behaviour text -> soft tokens (EM against the frozen LM) -> per-slot
 * codebooks -> IDs in the feature bank; reading a finished run back; profiling new users with the LM
 * and codebooks frozen; and explaining the codes. `userip profile tune|explain` and the evaluation,
 * serving and demo code all go through here.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { SqliteFeatureBank, versionId, type BankVersion } from '../bank/index.js';
import { loadPrepared, ratedBehaviourLines, type BehaviourLine, type BehaviourOptions, type Interaction, type ItemField, type ItemInfo, type Prepared } from '../data/index.js';
import { Runtime } from '../engine/index.js';
import { hashOf, readJson, saveConfig, writeJson } from '../io/files.js';
import { lockDirectory } from '../io/lock.js';
import { loadLm, type CausalLm, type Tokenizer } from '../lm/index.js';
import { openSafetensors, silentProgress, writeSafetensors, type Progress } from '../io/index.js';
import { assign, codebookHash, usage, type Codebook } from '../quantize/index.js';
import { profileDiagnostics, type ProfileDiagnostics } from './diagnostics.js';
import { DEFAULT_LM_EXPLAIN, describeCodesWithLm, explainCodes, type CodeExplanation, type CodeLmText, type LmExplainOptions } from './explain.js';
import { checkResume, runDataPath, trainingSettings, type RunData } from './resume.js';
import { buildPrompt, DEFAULT_BEHAVIOUR_PREFIX, DEFAULT_SLOTS, MASK_MODES, slotSchema, templateTokens, type Slot } from './template.js';
import { fitProfileCodebooks, profileView, tuneProfiles, type FrozenProfiles, type TuneOptions, type TuneResult, type UserBehaviour } from './trainer.js';
import { packWindows, type BehaviourWindows } from './windows.js';

/** How each interaction is written: which item fields make its line (the rating is a separate switch; 'rating': the rating alone). */
export const BEHAVIOUR_FORMATS = { full: undefined, title: ['title'], genres: ['genres', 'categories'], 'title+genres': ['title', 'genres', 'categories'], rating: [] } as const satisfies Record<string, readonly ItemField[] | undefined>;
export type BehaviourFormat = keyof typeof BEHAVIOUR_FORMATS;

export const tuneSchema = z.object({
  data: z.string(),
  out: z.string(),
  lm: z.string().default('house'),
  slots: z.array(slotSchema).min(1).default(DEFAULT_SLOTS),
  behaviourPrefix: z.string().default(DEFAULT_BEHAVIOUR_PREFIX),
  behaviourSource: z.enum(['items', 'reviews', 'both']).default('items'),
  /** Token budget of one window of behaviour text (cut to what fits the LM's context after the template). */
  behaviourTokens: z.number().int().positive().default(256),
  behaviourFormat: z.enum(Object.keys(BEHAVIOUR_FORMATS) as [BehaviourFormat, ...BehaviourFormat[]]).default('full'),
  /** Each line of behaviour text ends with the user's rating: how they judged an item, not only that they met it. */
  behaviourRatings: z.boolean().default(true),
  /** How the rating is written: "rated 4.5", or "liked" / "disliked" at the data's click threshold (what a CTR label says). */
  ratingText: z.enum(['number', 'liked']).default('liked'),
  /** Weight of the rating's tokens in the behaviour NLL, relative to the item text's (1: plain likelihood). 10 by default: with the rating written as liked / disliked, the tokens then follow what a click label says (docs/results.md). */
  ratingWeight: z.number().positive().default(10),
  mask: z.enum(MASK_MODES).default('paper'),
  lr: z.number().positive().default(0.01),
  userOptimizer: z.enum(['adamw', 'gradient']).default('adamw'),
  /** Learning rate of the population token. */
  populationLr: z.number().positive().default(0.05),
  /** Prompt tokens of one population step. */
  batchTokens: z.number().int().positive().default(4096),
  /** Padded prompt tokens per LM call (speed and memory only; the trainer splits larger steps). */
  lmBatchTokens: z.number().int().positive().default(1024),
  /** 'auto': each E-step covers a user's whole history in its `userSteps` steps. */
  windowsPerStep: z.union([z.number().int().positive(), z.literal('auto')]).default('auto'),
  populationSteps: z.number().int().nonnegative().default(60),
  userSteps: z.number().int().positive().default(4),
  convergence: z.number().min(0).max(1).default(0.1),
  prior: z.number().min(0).default(0.01),
  emRounds: z.number().int().positive().default(1),
  commitment: z.number().min(0).default(0.1),
  /** Users sampled for the retrieval and split-half diagnostics (0: skip them). */
  diagnosticsUsers: z.number().int().nonnegative().default(40),
  seed: z.number().int().default(0),
  threads: z.number().int().positive().optional(),
  checkpointEvery: z.number().int().positive().default(50),
}).strict();
export type TuneConfig = z.infer<typeof tuneSchema>;

/** Settings that change the trained tokens: a checkpoint is resumed only under the same ones. */
function trainingHash(config: TuneConfig, lmId: string): string {
  return hashOf({ ...trainingSettings(config), lmId });
}

export interface SlotReport {
  slot: string;
  k: number;
  counts: number[];
  perplexity: number;
  dead_codes: number;
}

/** One EM round in tune.json (the trainer's RoundRecord, in the output files' snake_case). */
export interface RoundSummary {
  round: number;
  val_nll: number;
  train_loss: number;
  steps: { mean: number; min: number; max: number };
}

export interface TuneSummary {
  lm: string;
  users: number;
  steps: number;
  tokens: number;
  seconds: number;
  users_per_s: number;
  tokens_per_s: number;
  val_nll_start: number;
  val_nll_end: number;
  /** Steps per user over all E-steps. */
  steps_per_user: { mean: number; min: number; max: number };
  history: RoundSummary[];
  codebooks: SlotReport[];
  diagnostics: ProfileDiagnostics;
  bank: string;
  bank_version: string;
}

/**
 * One tune run into `config.out`, locked against a second process there. Its settings and data are
 * accepted (a resumed run must keep both) before config.json and data.json are written.
 */
export async function tuneRun(given: TuneConfig, progress: Progress = silentProgress): Promise<TuneSummary> {
  const config = { ...given, data: resolve(given.data) };
  const lock = await lockDirectory(config.out, 'userip profile tune', (message) => progress.log(message));
  const runtime = new Runtime({ threads: config.threads });
  try {
    const lm = await loadLm(config.lm, runtime);
    const prepared = await loadPrepared(config.data);
    await checkResume(config, prepared.dataHash);
    await saveConfig(config.out, config);
    await writeJson(runDataPath(config.out), { data: config.data, data_hash: prepared.dataHash } satisfies RunData);
    const users = behaviourWindows(prepared, lm, config, progress);
    const result = await tuneWithProgress(lm, users, config, join(config.out, 'checkpoint'), progress);
    return await writeRunOutputs(lm, prepared, users, result, config);
  } finally {
    await runtime.close();
    await lock.release();
  }
}

/**
 * How a tune run turns interactions into behaviour text; tuning, new users and the LM serving path
 * share it. The token budget is cut to what fits the LM's context after the template. `threshold` is
 * the prepared data's click threshold (for `ratingText: 'liked'`).
 */
export function behaviourOptions(config: TuneConfig, tokenizer: Tokenizer, contextLength: number, threshold: number): BehaviourOptions {
  const templateLength = buildPrompt(templateTokens(tokenizer, config.slots, config.behaviourPrefix), []).tokens.length;
  const room = contextLength - templateLength;
  if (room < 1) throw new Error(`the template takes ${templateLength} tokens, the LM's whole context of ${contextLength}: shorten the slot texts or the behaviour prefix`);
  return {
    countTokens: (s) => tokenizer.encode(s).length,
    maxTokens: Math.min(config.behaviourTokens, room),
    source: config.behaviourSource,
    ratings: config.behaviourRatings,
    likedAbove: config.ratingText === 'liked' ? threshold : undefined,
    itemFields: BEHAVIOUR_FORMATS[config.behaviourFormat],
  };
}

/** Each user's behaviour windows exactly as the tune run trained on them (train split, the run's window budget). */
export async function runBehaviourWindows(tune: TuneConfig, tokenizer: Tokenizer, contextLength: number): Promise<Map<string, BehaviourWindows>> {
  const prepared = await loadPrepared(tune.data);
  return userWindows(prepared.split.train, prepared.dataset.items, tokenizer, behaviourOptions(tune, tokenizer, contextLength, prepared.config.threshold), tune.ratingWeight);
}

/** Every user's whole train history (and validation text) as windows of token ids that fit the LM's context. */
export function behaviourWindows(prepared: Prepared, lm: CausalLm, config: TuneConfig, progress: Progress = silentProgress): UserBehaviour[] {
  const options = behaviourOptions(config, lm.tokenizer, lm.config.maxPositions, prepared.config.threshold);
  if (options.maxTokens < config.behaviourTokens) {
    progress.log(`behaviour windows: ${options.maxTokens} tokens each, not ${config.behaviourTokens}: the template and a window must fit the LM's context of ${lm.config.maxPositions} tokens`);
  }
  const valid = userWindows(prepared.split.valid, prepared.dataset.items, lm.tokenizer, options);
  const train = userWindows(prepared.split.train, prepared.dataset.items, lm.tokenizer, options, config.ratingWeight);
  return [...train].map(([user, windows]) => ({ ...trainBehaviour(user, windows), valid: valid.get(user)?.tokens ?? [] }));
}

/** A user's train windows as the trainer takes them (no validation text). */
export function trainBehaviour(user: string, windows: BehaviourWindows): UserBehaviour {
  return { user, train: windows.tokens, trainWeights: windows.weights, valid: [] };
}

/**
 * user → the windows of their interactions' lines, oldest first; tuning, new users and diagnostics share
 * it. With a rating weight other than 1, each window carries its tokens' weights: the rating's tokens
 * get `ratingWeight`, every other token 1.
 */
export function userWindows(interactions: readonly Interaction[], items: ReadonlyMap<string, ItemInfo>, tokenizer: Tokenizer, options: BehaviourOptions, ratingWeight = 1): Map<string, BehaviourWindows> {
  const separator = tokenizer.encode(options.separator ?? '\n');
  const out = new Map<string, BehaviourWindows>();
  for (const [user, lines] of ratedBehaviourLines(interactions, items, options)) {
    const encoded = lines.map((line) => tokenizer.encode(line.text));
    if (ratingWeight === 1) {
      out.set(user, { tokens: packWindows(encoded, separator, options.maxTokens) });
      continue;
    }
    const weighted = lines.map((line, i) => {
      const [from, to] = ratingTokens(tokenizer, line, encoded[i]);
      return encoded[i].map((token, t): [number, number] => [token, t >= from && t < to ? ratingWeight : 1]);
    });
    const windows = packWindows(weighted, separator.map((token): [number, number] => [token, 1]), options.maxTokens);
    out.set(user, { tokens: windows.map((w) => w.map(([token]) => token)), weights: windows.map((w) => w.map(([, weight]) => weight)) });
  }
  return out;
}

/**
 * The token range [from, to) of a line's rating: the tokens after the longest common prefix with the
 * text before the rating, up to the end of the text through the rating (a BPE may merge across the
 * boundary, so the ranges come from the encodings, not from the characters).
 */
function ratingTokens(tokenizer: Tokenizer, line: BehaviourLine, tokens: readonly number[]): [number, number] {
  if (!line.rating) return [0, 0];
  const [start, end] = line.rating;
  const prefixLength = (text: string) => {
    const ids = tokenizer.encode(text);
    let n = 0;
    while (n < ids.length && n < tokens.length && ids[n] === tokens[n]) n++;
    return n;
  };
  return [prefixLength(line.text.slice(0, start)), end === line.text.length ? tokens.length : prefixLength(line.text.slice(0, end))];
}

/** The trainer's options of a tune run (and of its new users, with `frozen`). */
export function trainerOptions(config: TuneConfig, lmId: string, checkpointDir: string | undefined, frozen?: FrozenProfiles): TuneOptions {
  return {
    mask: config.mask,
    lr: config.lr,
    populationLr: config.populationLr,
    userOptimizer: config.userOptimizer,
    codebookSizes: config.slots.map((s) => s.k),
    batchTokens: config.batchTokens,
    lmBatchTokens: config.lmBatchTokens,
    windowsPerStep: config.windowsPerStep,
    populationSteps: config.populationSteps,
    userSteps: config.userSteps,
    convergence: config.convergence,
    prior: config.prior,
    emRounds: config.emRounds,
    commitment: config.commitment,
    seed: config.seed,
    frozen,
    checkpointDir,
    checkpointEvery: config.checkpointEvery,
    configHash: trainingHash(config, lmId),
  };
}

async function tuneWithProgress(lm: CausalLm, users: UserBehaviour[], config: TuneConfig, checkpointDir: string, progress: Progress, frozen?: FrozenProfiles): Promise<TuneResult> {
  const template = templateTokens(lm.tokenizer, config.slots, config.behaviourPrefix);
  let shown = '';
  try {
    return await tuneProfiles(lm, template, users, {
      ...trainerOptions(config, lm.id, checkpointDir, frozen),
      onProgress: (p) => {
        const phase = `tune ${p.phase === 'population' ? 'population token' : `E-step ${p.round + 1}/${p.rounds} (pass of ${p.activeUsers} users)`}`;
        if (phase !== shown) {
          progress.start(phase, p.total, p.done);
          shown = phase;
        }
        progress.update(p.done, `loss ${p.loss.toFixed(3)}`);
      },
    });
  } finally {
    progress.stop();
  }
}

export interface NewUserProfiles {
  users: string[];
  /** Per user, one ID per slot. */
  ids: number[][];
  /** [users, slots, hidden] */
  softTokens: Float32Array;
}

/**
 * Profiles for users the run has not seen (cold start, bank refresh), without retraining anything
 * else: their soft tokens are tuned against the same frozen LM with the same settings, then quantized
 * with the run's frozen codebooks and added to its bank under the same version.
 */
export async function addNewUsers(run: string, interactionsByUser: Map<string, Interaction[]>, items: ReadonlyMap<string, ItemInfo>, progress: Progress = silentProgress): Promise<NewUserProfiles> {
  const tuned = await readRunProfiles(run);
  const config = tuned.config;
  const runtime = new Runtime({ threads: config.threads });
  try {
    const lm = await loadLm(config.lm, runtime);
    const { threshold } = await readJson<{ threshold: number }>(join(config.data, 'config.json'));
    const options = behaviourOptions(config, lm.tokenizer, lm.config.maxPositions, threshold);
    const windows = userWindows([...interactionsByUser.values()].flat(), items, lm.tokenizer, options, config.ratingWeight);
    const users = [...windows].map(([user, w]) => trainBehaviour(user, w));
    const checkpointDir = join(run, 'new-users', hashOf(users.map((u) => u.user)).slice(0, 16));
    const result = await tuneWithProgress(lm, users, config, checkpointDir, progress, tuned);
    const ids = users.map((_, u) => result.ids.map((slotIds) => slotIds[u]));
    const bank = await SqliteFeatureBank.open(join(run, 'bank.sqlite'));
    try {
      await bank.putMany(users.map((u, i) => ({ user: u.user, ids: ids[i], source: 'cold-start' as const })));
    } finally {
      await bank.close();
    }
    return { users: users.map((u) => u.user), ids, softTokens: result.softTokens.data };
  } finally {
    await runtime.close();
  }
}

/** The run's files: soft tokens, population token, codebooks and their δ-space centroids, the bank, tune.json with diagnostics. */
export async function writeRunOutputs(lm: CausalLm, prepared: Prepared, users: UserBehaviour[], result: TuneResult, config: TuneConfig): Promise<TuneSummary> {
  const { softTokens, codebooks } = result;
  const D = softTokens.hidden;
  const n = result.users.length;
  const reports: SlotReport[] = config.slots.map((slot, j) => {
    const use = usage(result.ids[j], slot.k);
    return { slot: slot.name, k: slot.k, counts: use.counts, perplexity: use.perplexity, dead_codes: use.deadCodes };
  });

  await writeRunProfiles(config.out, { lmId: lm.id, users: result.users, slots: config.slots, softTokens: softTokens.data, hidden: D, population: result.population, codebooks, deltaCentroids: result.deltaCentroids });

  const version: BankVersion = {
    lm_id: lm.id,
    config_hash: trainingHash(config, lm.id),
    codebook_hash: hashOf(codebooks.map(codebookHash)),
    slots: config.slots.map((s) => ({ name: s.name, k: s.k })),
    created_at: new Date().toISOString(),
  };
  const bankPath = join(config.out, 'bank.sqlite');
  const bank = await SqliteFeatureBank.open(bankPath);
  try {
    await bank.setVersion(version, { replace: true });
    await bank.putMany(result.users.map((user, u) => ({ user, ids: result.ids.map((slotIds) => slotIds[u]), source: 'tuned' as const })));
  } finally {
    await bank.close();
  }

  const template = templateTokens(lm.tokenizer, config.slots, config.behaviourPrefix);
  const diagnostics = await profileDiagnostics(lm, template, users, result, prepared.split.train, trainerOptions(config, lm.id, undefined), config.diagnosticsUsers);
  const steps = result.userSteps.filter((_, u) => users[u].train.length);
  const summary: TuneSummary = {
    lm: lm.id,
    users: n,
    steps: result.steps,
    tokens: result.tokens,
    seconds: result.seconds,
    users_per_s: n / result.seconds,
    tokens_per_s: result.tokens / result.seconds,
    val_nll_start: result.valNllStart,
    val_nll_end: result.valNllEnd,
    steps_per_user: { mean: steps.reduce((a, b) => a + b, 0) / Math.max(1, steps.length), min: Math.min(...steps), max: Math.max(...steps) },
    history: result.history.map(({ round, valNll, trainLoss, steps }) => ({ round, val_nll: valNll, train_loss: trainLoss, steps })),
    codebooks: reports,
    diagnostics,
    bank: bankPath,
    bank_version: versionId(version),
  };
  await writeJson(join(config.out, 'tune.json'), summary);
  return summary;
}

async function writeRunProfiles(dir: string, p: Omit<RunProfiles, 'config'>): Promise<void> {
  const S = p.slots.length;
  const D = p.hidden;
  const tensors: Parameters<typeof writeSafetensors>[1] = {
    soft_tokens: { dtype: 'F32', shape: [p.users.length, S, D], data: p.softTokens },
    population: { dtype: 'F32', shape: [S, D], data: p.population },
  };
  p.codebooks.forEach((cb, j) => {
    tensors[`codebook/${p.slots[j].name}`] = { dtype: 'F32', shape: [cb.k, cb.d], data: cb.centroids };
    tensors[`delta_centroids/${p.slots[j].name}`] = { dtype: 'F32', shape: [cb.k, D], data: p.deltaCentroids[j] };
  });
  await writeSafetensors(join(dir, 'profiles.safetensors'), tensors, { users: JSON.stringify(p.users), slots: JSON.stringify(p.slots), lm: p.lmId });
}

/**
 * Refits a run's codebooks on its users minus `exclude` (the M-step on warm users only, for a cold-start
 * protocol) and rewrites its profiles.safetensors; returns every kept user's new IDs. Use it on a copy of
 * the run: the run's bank still holds the IDs of its own codebooks.
 */
export async function refitCodebooksWithout(run: string, exclude: ReadonlySet<string>): Promise<Map<string, number[]>> {
  const tuned = await readRunProfiles(run);
  const S = tuned.slots.length;
  const D = tuned.hidden;
  const n = tuned.users.length;
  const deltas = tuned.softTokens.map((v, i) => v - tuned.population[i % (S * D)]);
  const members = tuned.users.flatMap((u, i) => (exclude.has(u) ? [] : [i]));
  const refit = fitProfileCodebooks(tuned.population, deltas, members, S, D, tuned.slots.map((s) => s.k), tuned.config.seed);
  await writeRunProfiles(run, { ...tuned, ...refit });
  const ids = refit.codebooks.map((cb, j) => assign(cb, profileView(tuned.population, deltas, n, S, D, j)).ids);
  return new Map(members.map((u) => [tuned.users[u], ids.map((slotIds) => slotIds[u])]));
}

/** A tune run's outputs, read back: users, soft tokens and codebooks in slot order. */
export interface RunProfiles extends FrozenProfiles {
  config: TuneConfig;
  /** Content id of the LM the tokens were tuned against. */
  lmId: string;
  users: string[];
  slots: Slot[];
  softTokens: Float32Array;
  hidden: number;
}

export async function readRunProfiles(run: string): Promise<RunProfiles> {
  const config = await readJson<TuneConfig>(join(run, 'config.json'));
  const path = join(run, 'profiles.safetensors');
  if (!existsSync(path)) throw new Error(`${run} has no profiles.safetensors: the tune run has not finished (rerun \`userip profile tune\` with --out ${run} to resume it)`);
  const reader = await openSafetensors(path);
  try {
    const users = JSON.parse(reader.metadata.users) as string[];
    const slots = JSON.parse(reader.metadata.slots) as Slot[];
    const softTokens = await reader.readFloat32('soft_tokens');
    if (!reader.tensors.has('population')) throw new Error(`${path} comes from an older tune run without a population token: rerun \`userip profile tune\` into a new directory`);
    const codebooks: Codebook[] = [];
    const deltaCentroids: Float32Array[] = [];
    for (const slot of slots) {
      const info = reader.tensors.get(`codebook/${slot.name}`)!;
      codebooks.push({ k: info.shape[0], d: info.shape[1], centroids: await reader.readFloat32(`codebook/${slot.name}`) });
      deltaCentroids.push(await reader.readFloat32(`delta_centroids/${slot.name}`));
    }
    const population = await reader.readFloat32('population');
    return { config, lmId: reader.metadata.lm, users, slots, softTokens, hidden: population.length / slots.length, codebooks, deltaCentroids, population };
  } finally {
    await reader.close();
  }
}

export interface SlotExplanation {
  slot: string;
  text: string;
  codes: (CodeExplanation & CodeLmText)[];
}

export async function explainRun(
  run: string,
  opts: { top: number; minCount: number; tokens: number } & Partial<Pick<LmExplainOptions, 'words' | 'noRepeatNgram' | 'minRelativeProb'>>,
): Promise<SlotExplanation[]> {
  const tuned = await readRunProfiles(run);
  const prepared = await loadPrepared(tuned.config.data);
  const attributesOf = new Map<string, string[]>();
  for (const i of prepared.split.train) {
    const item = prepared.dataset.items.get(i.item);
    const attrs = [...(item?.genres ?? []), ...(item?.categories ?? []), ...(item?.brand ? [`brand: ${item.brand}`] : [])];
    const list = attributesOf.get(i.user) ?? [];
    list.push(...attrs);
    attributesOf.set(i.user, list);
  }
  const attributes = tuned.users.map((u) => attributesOf.get(u) ?? []);
  const lmOptions: LmExplainOptions = {
    tokens: opts.tokens,
    words: opts.words ?? opts.top,
    noRepeatNgram: opts.noRepeatNgram ?? DEFAULT_LM_EXPLAIN.noRepeatNgram,
    minRelativeProb: opts.minRelativeProb ?? DEFAULT_LM_EXPLAIN.minRelativeProb,
  };
  const n = tuned.users.length;
  const S = tuned.slots.length;
  const D = tuned.hidden;
  const slotVectorsOf = tuned.slots.map((_, j) => slotVectors(tuned.softTokens, n, S, D, j));
  const deltas = tuned.softTokens.map((v, i) => v - tuned.population[i % (S * D)]);
  // Where another slot's soft token is visible (the behaviour words; the causal mask), it holds that slot's mean token.
  const fill = slotVectorsOf.map((vectors) => {
    const mean = new Float32Array(tuned.hidden);
    for (let u = 0; u < n; u++) for (let d = 0; d < tuned.hidden; d++) mean[d] += vectors[u * tuned.hidden + d] / n;
    return mean;
  });
  const runtime = new Runtime({ threads: tuned.config.threads });
  try {
    const lm = await loadLm(tuned.config.lm, runtime);
    const template = templateTokens(lm.tokenizer, tuned.slots, tuned.config.behaviourPrefix);
    const out: SlotExplanation[] = [];
    for (const [j, slot] of tuned.slots.entries()) {
      const cb = tuned.codebooks[j];
      const codes = explainCodes(assign(cb, profileView(tuned.population, deltas, n, S, D, j)).ids, cb.k, attributes, { top: opts.top, minCount: opts.minCount });
      // What the LM sees for code c: the population token plus the code's mean δ.
      const tokens = tuned.deltaCentroids[j].map((v, i) => v + tuned.population[j * D + (i % D)]);
      const texts = await describeCodesWithLm(lm, template, tuned.config.mask, j, tokens, fill, lmOptions);
      out.push({ slot: slot.name, text: slot.text, codes: codes.map((code, c) => ({ ...code, ...texts[c] })) });
    }
    await writeJson(join(run, 'explain.json'), out);
    return out;
  } finally {
    await runtime.close();
  }
}

function slotVectors(softTokens: Float32Array, n: number, slots: number, d: number, j: number): Float32Array {
  const vectors = new Float32Array(n * d);
  for (let u = 0; u < n; u++) vectors.set(softTokens.subarray((u * slots + j) * d, (u * slots + j + 1) * d), u * d);
  return vectors;
}

