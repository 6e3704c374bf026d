/**
 * A profile tune run on disk: behaviour text -> soft tokens (EM against the frozen LM) -> per-slot
 * codebooks -> IDs in the feature bank; reading a finished run back; profiling new users with the LM
 * and codebooks frozen; and explaining the codes. `userip profile tune|explain` and the evaluation,
 * serving and demo code all go through here.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Presets, SingleBar } from 'cli-progress';
import { z } from 'zod';
import { SqliteFeatureBank, versionId, type BankVersion } from '../bank/index.js';
import { behaviourText, loadPrepared, splitBehaviourText, type BehaviourOptions, type Interaction, type ItemInfo, type Prepared } from '../data/index.js';
import { Runtime } from '../engine/index.js';
import { hashOf, readJson, saveConfig, writeJson } from '../io/files.js';
import { loadLm, openSafetensors, writeSafetensors, type CausalLm, type Tokenizer } from '../lm/index.js';
import { assign, codebookHash, fitCodebook, usage, type Codebook } from '../quantize/index.js';
import { DEFAULT_LM_EXPLAIN, describeCodesWithLm, explainCodes, type CodeExplanation, type CodeLmText, type LmExplainOptions } from './explain.js';
import { buildPrompt, DEFAULT_BEHAVIOUR_PREFIX, DEFAULT_SLOTS, MASK_MODES, slotSchema, templateTokens, type Slot } from './template.js';
import { TOKEN_INITS, tuneProfiles, type TuneResult, type UserBehaviour } from './trainer.js';

export const tuneSchema = z.object({
  data: z.string(),
  out: z.string(),
  lm: z.string().default('house'),
  slots: z.array(slotSchema).min(1).default(DEFAULT_SLOTS),
  behaviourPrefix: z.string().default(DEFAULT_BEHAVIOUR_PREFIX),
  behaviourSource: z.enum(['items', 'reviews', 'both']).default('items'),
  behaviourTokens: z.number().int().positive().default(128),
  /** Each line of behaviour text ends with the user's rating: how they judged an item, not only that they met it. */
  behaviourRatings: z.boolean().default(true),
  mask: z.enum(MASK_MODES).default('paper'),
  init: z.enum(TOKEN_INITS).default('per-user'),
  lr: z.number().positive().default(0.01),
  batchSize: z.number().int().positive().default(8),
  epochs: z.number().int().positive().default(4),
  patience: z.number().int().positive().default(2),
  weightDecay: z.number().min(0).default(0),
  seed: z.number().int().default(0),
  threads: z.number().int().positive().optional(),
  checkpointEvery: z.number().int().positive().default(50),
});
export type TuneConfig = z.infer<typeof tuneSchema>;

/** Settings that change the trained tokens: a checkpoint is resumed only under the same ones. */
function trainingHash(config: TuneConfig, lmId: string): string {
  const { out: _out, threads: _threads, checkpointEvery: _every, ...rest } = config;
  return hashOf({ ...rest, lmId });
}

export interface SlotReport {
  slot: string;
  k: number;
  counts: number[];
  perplexity: number;
  dead_codes: number;
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
  history: TuneResult['history'];
  codebooks: SlotReport[];
  bank: string;
  bank_version: string;
}

export async function tuneRun(config: TuneConfig): Promise<TuneSummary> {
  await saveConfig(config.out, config);
  const runtime = new Runtime({ threads: config.threads });
  try {
    const lm = await loadLm(config.lm, runtime);
    const prepared = await loadPrepared(config.data);
    const users = behaviourTokens(prepared, lm, config);
    const result = await tuneWithProgress(lm, users, config, join(config.out, 'checkpoint'));
    return await quantizeAndStore(lm, result, config);
  } finally {
    await runtime.close();
  }
}

/**
 * How a tune run turns interactions into behaviour text; tuning, new users and the LM serving path
 * share it. The token budget is cut to what fits the LM's context after the template.
 */
export function behaviourOptions(config: TuneConfig, tokenizer: Tokenizer, contextLength: number): BehaviourOptions {
  const templateLength = buildPrompt(templateTokens(tokenizer, config.slots, config.behaviourPrefix), []).tokens.length;
  const room = contextLength - templateLength;
  if (room < 1) throw new Error(`the template takes ${templateLength} tokens, the LM's whole context of ${contextLength}: shorten the slot texts or the behaviour prefix`);
  return { countTokens: (s) => tokenizer.encode(s).length, maxTokens: Math.min(config.behaviourTokens, room), source: config.behaviourSource, ratings: config.behaviourRatings };
}

/** Each user's behaviour text exactly as the tune run trained on it (train split, the run's token budget). */
export async function runBehaviourText(tune: TuneConfig, tokenizer: Tokenizer, contextLength: number): Promise<Map<string, string>> {
  const prepared = await loadPrepared(tune.data);
  return behaviourText(prepared.split.train, prepared.dataset.items, behaviourOptions(tune, tokenizer, contextLength));
}

function behaviourTokens(prepared: Prepared, lm: CausalLm, config: TuneConfig): UserBehaviour[] {
  const tok = lm.tokenizer;
  const options = behaviourOptions(config, tok, lm.config.maxPositions);
  if (options.maxTokens < config.behaviourTokens) {
    console.warn(`behaviour text: ${options.maxTokens} tokens per user, not ${config.behaviourTokens}: the template and the text must fit the LM's context of ${lm.config.maxPositions} tokens`);
  }
  const text = splitBehaviourText(prepared.split, prepared.dataset.items, options);
  return [...text.train.entries()].map(([user, train]) => ({ user, train: tok.encode(train), valid: tok.encode(text.valid.get(user) ?? '') }));
}

async function tuneWithProgress(lm: CausalLm, users: UserBehaviour[], config: TuneConfig, checkpointDir: string): Promise<TuneResult> {
  const template = templateTokens(lm.tokenizer, config.slots, config.behaviourPrefix);
  const bar = new SingleBar({ format: 'tune epoch {epoch}/{epochs} |{bar}| {value}/{total} steps | loss {loss} | {active} users | ETA {eta_formatted}', noTTYOutput: true, notTTYSchedule: 10_000 }, Presets.shades_classic);
  let epochShown = -1;
  try {
    return await tuneProfiles(lm, template, users, {
      mask: config.mask,
      init: config.init,
      lr: config.lr,
      batchSize: config.batchSize,
      epochs: config.epochs,
      patience: config.patience,
      weightDecay: config.weightDecay,
      seed: config.seed,
      checkpointDir,
      checkpointEvery: config.checkpointEvery,
      configHash: trainingHash(config, lm.id),
      onProgress: (p) => {
        const payload = { epoch: p.epoch + 1, epochs: p.epochs, loss: p.loss.toFixed(3), active: p.activeUsers };
        if (p.epoch !== epochShown) {
          if (epochShown >= 0) bar.stop();
          bar.start(p.stepsInEpoch, p.step, payload);
          epochShown = p.epoch;
        } else bar.update(p.step, payload);
      },
    });
  } finally {
    bar.stop();
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
export async function addNewUsers(run: string, interactionsByUser: Map<string, Interaction[]>, items: ReadonlyMap<string, ItemInfo>): Promise<NewUserProfiles> {
  const tuned = await readTunedProfiles(run);
  const config = tuned.config;
  const runtime = new Runtime({ threads: config.threads });
  try {
    const lm = await loadLm(config.lm, runtime);
    const tok = lm.tokenizer;
    const texts = behaviourText([...interactionsByUser.values()].flat(), items, behaviourOptions(config, tok, lm.config.maxPositions));
    const users = [...texts.entries()].map(([user, text]) => ({ user, train: tok.encode(text), valid: [] }));
    const checkpointDir = join(run, 'new-users', hashOf(users.map((u) => u.user)).slice(0, 16));
    const result = await tuneWithProgress(lm, users, config, checkpointDir);
    const S = tuned.slots.length;
    const D = tuned.hidden;
    const perSlot = tuned.codebooks.map((cb, j) => assign(cb, slotVectors(result.softTokens.data, users.length, S, D, j)).ids);
    const ids = users.map((_, u) => perSlot.map((slotIds) => slotIds[u]));
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

/** The M-step's final fit: one codebook per slot over every user's tuned token, then IDs to the bank. */
async function quantizeAndStore(lm: CausalLm, result: TuneResult, config: TuneConfig): Promise<TuneSummary> {
  const { softTokens, users } = result;
  const S = softTokens.slots;
  const D = softTokens.hidden;
  const n = users.length;
  const codebooks: Codebook[] = [];
  const ids: Int32Array[] = [];
  const reports: SlotReport[] = [];
  config.slots.forEach((slot, j) => {
    const vectors = slotVectors(softTokens.data, n, S, D, j);
    const { codebook, assignment } = fitCodebook(vectors, n, D, slot.k, { seed: config.seed + j });
    const assigned = assignment.ids;
    const use = usage(assigned, slot.k);
    codebooks.push(codebook);
    ids.push(assigned);
    reports.push({ slot: slot.name, k: slot.k, counts: use.counts, perplexity: use.perplexity, dead_codes: use.deadCodes });
  });

  const tensors: Parameters<typeof writeSafetensors>[1] = { soft_tokens: { dtype: 'F32', shape: [n, S, D], data: softTokens.data } };
  codebooks.forEach((cb, j) => (tensors[`codebook/${config.slots[j].name}`] = { dtype: 'F32', shape: [cb.k, cb.d], data: cb.centroids }));
  await writeSafetensors(join(config.out, 'profiles.safetensors'), tensors, { users: JSON.stringify(users), slots: JSON.stringify(config.slots), lm: lm.id });

  const version: BankVersion = {
    lmId: lm.id,
    configHash: trainingHash(config, lm.id),
    codebookHash: hashOf(codebooks.map(codebookHash)),
    slots: config.slots.map((s) => ({ name: s.name, k: s.k })),
    createdAt: new Date().toISOString(),
  };
  const bankPath = join(config.out, 'bank.sqlite');
  const bank = await SqliteFeatureBank.open(bankPath);
  try {
    await bank.setVersion(version, { replace: true });
    await bank.putMany(users.map((user, u) => ({ user, ids: ids.map((slotIds) => slotIds[u]), source: 'tuned' as const })));
  } finally {
    await bank.close();
  }

  const summary: TuneSummary = {
    lm: lm.id,
    users: n,
    steps: result.steps,
    tokens: result.tokens,
    seconds: result.seconds,
    users_per_s: (n * result.history.length) / result.seconds,
    tokens_per_s: result.tokens / result.seconds,
    val_nll_start: result.valNllStart,
    val_nll_end: result.valNllEnd,
    history: result.history,
    codebooks: reports,
    bank: bankPath,
    bank_version: versionId(version),
  };
  await writeJson(join(config.out, 'tune.json'), summary);
  return summary;
}

/** A tune run's outputs, read back: users, soft tokens and codebooks in slot order. */
export interface TunedProfiles {
  config: TuneConfig;
  users: string[];
  slots: Slot[];
  softTokens: Float32Array;
  hidden: number;
  codebooks: Codebook[];
}

export async function readTunedProfiles(run: string): Promise<TunedProfiles> {
  const config = await readJson<TuneConfig>(join(run, 'config.json'));
  const path = join(run, 'profiles.safetensors');
  if (!existsSync(path)) throw new Error(`${run} has no profiles.safetensors: the tune run has not finished (rerun \`userip profile tune\` with --out ${run} to resume it)`);
  const reader = await openSafetensors(path);
  try {
    const users = JSON.parse(reader.metadata.users) as string[];
    const slots = JSON.parse(reader.metadata.slots) as Slot[];
    const softTokens = await reader.readFloat32('soft_tokens');
    const codebooks: Codebook[] = [];
    for (const slot of slots) {
      const info = reader.tensors.get(`codebook/${slot.name}`)!;
      codebooks.push({ k: info.shape[0], d: info.shape[1], centroids: await reader.readFloat32(`codebook/${slot.name}`) });
    }
    return { config, users, slots, softTokens, hidden: softTokens.length / (users.length * slots.length), codebooks };
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
  const tuned = await readTunedProfiles(run);
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
  const slotVectorsOf = tuned.slots.map((_, j) => slotVectors(tuned.softTokens, n, tuned.slots.length, tuned.hidden, j));
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
      const codes = explainCodes(assign(cb, slotVectorsOf[j]).ids, cb.k, attributes, { top: opts.top, minCount: opts.minCount });
      const texts = await describeCodesWithLm(lm, template, tuned.config.mask, j, cb.centroids, fill, lmOptions);
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

