/**
 * `userip eval compare`: the side-by-side experiment. One or more CTR models, one split, several
 * seeds, six feature sets (ID fields alone; plus UserIP IDs; plus MF-k-means IDs; plus rating-
 * generosity bins; plus random IDs; plus the continuous soft tokens), under two protocols (warm: the
 * overall time split; cold: a seeded share of users left out of CTR training and profiled from their
 * earliest interactions only). Writes report.json, report.md and the plots into the output directory.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { SqliteFeatureBank, versionId } from '../bank/index.js';
import { loadPrepared, type Interaction, type ItemInfo, type Prepared } from '../data/index.js';
import { addNewUsers, assertRunMadeFrom, bankIdColumns, readRunOutputs, refitCodebooksWithout, softTokenRows, type RunOutputs } from '../profile/index.js';
import { CTR_MODELS, CtrModel, auc, gauc, logloss, trainCtr, type CtrModelName, type LabeledRows } from '../ctr/index.js';
import { Rng, Runtime } from '../engine/index.js';
import { mfKmeans, mfSettingsSchema, randomIds, rateBins } from './baselines.js';
import { writeFileAtomic, writeJson } from '../io/files.js';
import { bootstrapAucs, deltaAucInterval } from './stats.js';
import { ACTIVITY_BUCKETS, FEATURE_SETS, PROTOCOLS, aucPlot, curvesPlot, reportMarkdown, summarize, usagePlot, type BucketMetrics, type CompareReport, type DeltaAucInterval, type FeatureSet, type Protocol, type RunRecord } from './report.js';
import { buildVocab, ctrOnRunSchema, ctrTable, encodeRows, fieldSchema, ratingRows, selectRows, slotIdFields, type RowSet, type UserFields, type Vocab } from '../features/index.js';

export const compareSchema = ctrOnRunSchema
  .omit({ model: true })
  .extend({
    /** CTR models; every feature set runs on each, so the report shows whether the profiles transfer. */
    models: z.array(z.enum(CTR_MODELS)).min(1).default(['dcn']),
    seeds: z.array(z.number().int()).min(1).default([0, 1, 2, 3, 4]),
    features: z.array(z.enum(FEATURE_SETS)).min(1).default([...FEATURE_SETS]),
    protocols: z.array(z.enum(PROTOCOLS)).min(1).default([...PROTOCOLS]),
    /** Share of the users with held-out interactions who become cold-start users. */
    coldFraction: z.number().gt(0).lt(1).default(0.2),
    /** Picks the cold-start users; fixed across feature sets and seeds. */
    coldSeed: z.number().int().default(0),
    /** CTR runs trained at once, each on its own ORT worker of `threads` threads (default: the cores shared out). */
    concurrency: z.number().int().positive().default(availableParallelism()),
    mf: mfSettingsSchema.prefault({}),
    /** User-level bootstrap of each ΔAUC: replicates and the seed of their draws. */
    bootstrap: z
      .object({ resamples: z.number().int().min(100).default(1000), seed: z.number().int().default(0) })
      .strict()
      .prefault({}),
  })
  .strict();
export type CompareConfig = z.infer<typeof compareSchema>;
export type CompareConfigInput = z.input<typeof compareSchema>;

/** Profiles for users the tune run must treat as new; the signature of `addNewUsers` in src/profile/run.ts. */
export type ColdStartProfiles = (
  run: string,
  interactionsByUser: Map<string, Interaction[]>,
  items: ReadonlyMap<string, ItemInfo>,
) => Promise<{ users: string[]; ids: number[][]; softTokens: Float32Array }>;

export interface CompareHooks {
  /** Default: `addNewUsers` (soft tokens tuned against the frozen LM, frozen codebooks). */
  coldStart?: ColdStartProfiles;
  /** Progress lines; default none (the CLI prints them). */
  log?: (line: string) => void;
}

/** One protocol's rows and every user's profile fields under it (indexed by vocab user index). */
interface ProtocolData {
  protocol: Protocol;
  train: RowSet;
  valid: RowSet;
  test: RowSet;
  userip: Int32Array[];
  mfkmeans: Int32Array[];
  ratebins: Int32Array[];
  softTokens: Float32Array;
}

/** Random IDs get their own stream, not the CTR seed's (which initialises the embedding tables). */
const RANDOM_ID_SALT = 0x2a4d1d;

/** What every protocol is built from: the prepared data, the tune run, and dense indices over both. */
interface Context {
  config: CompareConfig;
  prepared: Prepared;
  tuned: RunOutputs;
  vocab: Vocab;
  /** Users in vocab index order. */
  users: string[];
  /** The tune run's IDs and soft tokens per vocab user (-1 / zeros for users it has not tuned). */
  bankIds: Int32Array[];
  softTokens: Float32Array;
}

export async function compareFeatureSets(input: CompareConfigInput, hooks: CompareHooks = {}): Promise<CompareReport> {
  const config = compareSchema.parse(input);
  const log = hooks.log ?? (() => {});
  const started = performance.now();
  await mkdir(config.out, { recursive: true });
  const prepared = await loadPrepared(config.data);
  await assertRunMadeFrom(config.run, config.data, prepared.dataHash);
  const tuned = await readRunOutputs(config.run);
  const vocab = buildVocab(prepared.dataset.interactions, prepared.dataset.items);
  const users = [...vocab.users.keys()];
  const ctx: Context = { config, prepared, tuned, vocab, users, bankIds: bankIdColumns(tuned, users), softTokens: softTokenRows(tuned, users) };

  const protocols: ProtocolData[] = [];
  if (config.protocols.includes('warm')) protocols.push(warmProtocol(ctx, log));
  const cold = config.protocols.includes('cold') ? await coldProtocol(ctx, hooks, log) : undefined;
  if (cold) protocols.push(cold.data);
  const { runs, deltaAucCi } = await runAll(ctx, protocols, log);

  const report: CompareReport = {
    dataset: prepared.dataset.name,
    lm: { id: tuned.summary.lm, spec: tuned.config.lm },
    settings: { ...config, threshold: prepared.config.threshold, item_attribute: 'genre: first genre, else last category, else "(none)"', activity_buckets: ACTIVITY_BUCKETS.map((b) => b.name), test: 'two-sided paired t-test over seeds, alpha 0.05', delta_auc_ci95: `user-level bootstrap (${config.bootstrap.resamples} resamples of the test users, seed ${config.bootstrap.seed}), percentile interval of the mean over seeds of the per-seed ΔAUC` },
    users: { total: users.length, cold: cold?.users ?? 0, with_userip_profile: users.filter((u) => tuned.bankIds.has(u)).length, cold_with_cold_start_profile: cold?.profiled ?? 0 },
    rows: Object.fromEntries(protocols.map((p) => [p.protocol, { train: p.train.labels.length, valid: p.valid.labels.length, test: p.test.labels.length }])),
    ctr: summarize(runs, deltaAucCi),
    runs,
    seconds: (performance.now() - started) / 1000,
  };
  await writeReport(config.out, report, tuned);
  return report;
}

function encodeWith(ctx: Context): (rows: readonly Interaction[]) => RowSet {
  return (rows) => encodeRows(rows, ctx.vocab, ctx.prepared.config.threshold);
}

function mfKmeansIds(ctx: Context, fit: readonly Interaction[], foldIn: readonly Interaction[]): Int32Array[] {
  const ks = ctx.tuned.slots.map((s) => s.k);
  return mfKmeans(ratingRows(fit, ctx.vocab), ratingRows(foldIn, ctx.vocab), ctx.users.length, ctx.vocab.items.size, ks, ctx.config.mf).ids;
}

/** Rate bins fitted on the users of `fit`; the users of `foldIn` binned from their own rows. */
function rateBinIds(ctx: Context, fit: RowSet, foldIn: RowSet): Int32Array[] {
  return rateBins(fit, foldIn, ctx.users.length, ctx.tuned.slots.map((s) => s.k));
}

function warmProtocol(ctx: Context, log: (line: string) => void): ProtocolData {
  const { split } = ctx.prepared;
  const encode = encodeWith(ctx);
  log('warm protocol: MF-k-means and rate bins on the train split');
  const train = encode(split.train);
  return {
    protocol: 'warm',
    train,
    valid: encode(split.valid),
    test: encode(split.test),
    userip: ctx.bankIds,
    mfkmeans: mfKmeansIds(ctx, split.train, []),
    ratebins: rateBinIds(ctx, train, encode([])),
    softTokens: ctx.softTokens,
  };
}

/**
 * Cold-start users lose every training and validation row; their validation and test rows become the
 * test rows, and their profiles come from their train-split rows through the cold-start paths.
 */
async function coldProtocol(ctx: Context, hooks: CompareHooks, log: (line: string) => void): Promise<{ data: ProtocolData; users: number; profiled: number }> {
  const { config, prepared, tuned, vocab } = ctx;
  const { split, dataset } = prepared;
  const coldUsers = pickColdUsers(prepared, vocab, config.coldFraction, config.coldSeed);
  const isCold = (i: Interaction) => coldUsers.has(i.user);
  const coldTrain = split.train.filter(isCold);
  // Only the UserIP feature sets need the (LM-bound, slow) cold-start path.
  const needsLm = config.features.some((f) => f === 'id+userip' || f === 'id+softtokens');
  log(`cold protocol: ${coldUsers.size} cold-start users${needsLm ? '; profiling them from their train-split interactions with the LM and codebooks frozen' : ''}`);
  const { fresh, warmIds } = needsLm
    ? await coldStartProfiles(tuned, join(config.out, 'cold-start'), coldUsers, coldTrain, dataset.items, hooks.coldStart ?? addNewUsers)
    : { fresh: { users: [], ids: [], softTokens: new Float32Array(0) }, warmIds: new Map<string, number[]>() };

  const userip = ctx.bankIds.map((ids) => ids.slice());
  // The codebooks of this protocol are fitted on the warm users only: their IDs come from that fit.
  for (const [user, ids] of warmIds) {
    const u = vocab.users.get(user);
    if (u !== undefined) ids.forEach((id, j) => (userip[j][u] = id));
  }
  const softTokens = ctx.softTokens.slice();
  const width = tuned.slots.length * tuned.hidden;
  // Nothing of a cold user's tuned (warm) profile may remain: clear, then fill from the cold-start path.
  for (const user of coldUsers) {
    const u = vocab.users.get(user)!;
    for (const ids of userip) ids[u] = -1;
    softTokens.fill(0, u * width, (u + 1) * width);
  }
  fresh.users.forEach((user, i) => {
    const u = vocab.users.get(user)!;
    fresh.ids[i].forEach((id, j) => (userip[j][u] = id));
    softTokens.set(fresh.softTokens.subarray(i * width, (i + 1) * width), u * width);
  });

  const encode = encodeWith(ctx);
  const train = split.train.filter((i) => !isCold(i));
  const trainRows = encode(train);
  const data: ProtocolData = {
    protocol: 'cold',
    train: trainRows,
    valid: encode(split.valid.filter((i) => !isCold(i))),
    test: encode([...split.valid, ...split.test].filter(isCold)),
    userip,
    mfkmeans: mfKmeansIds(ctx, train, coldTrain),
    ratebins: rateBinIds(ctx, trainRows, encode(coldTrain)),
    softTokens,
  };
  return { data, users: coldUsers.size, profiled: fresh.users.length };
}

/**
 * Every protocol x model x feature set x seed: train, early-stop on validation, score the test rows.
 * `concurrency` runs train at once, each on its own ORT worker, so both cores work while the main
 * thread prepares batches; a run's result does not depend on which worker trained it or on the
 * others. After all runs, each (protocol, model)'s test predictions become bootstrap AUCs (one draw of
 * replicates shared by those runs), which `deltaAucCi` pairs; the predictions are not kept.
 */
async function runAll(ctx: Context, protocols: ProtocolData[], log: (line: string) => void): Promise<{ runs: RunRecord[]; deltaAucCi: DeltaAucInterval }> {
  const { config, prepared, vocab } = ctx;
  const trainCount = new Int32Array(ctx.users.length);
  for (const i of prepared.split.train) trainCount[vocab.users.get(i.user)!]++;
  type Task = { data: ProtocolData; model: CtrModelName; features: FeatureSet; seed: number; tables: string };
  const tasks: Task[] = [];
  for (const data of protocols)
    for (const model of config.models)
      for (const features of config.features)
        // Only the random IDs change with the seed; the other tables are built once per feature set.
        for (const seed of config.seeds) tasks.push({ data, model, features, seed, tables: `${data.protocol}/${model}/${features}${features === 'id+random' ? `/${seed}` : ''}` });
  // Tables live from their first run to their last (a dense soft-token table is 100+ MB).
  const tables = new Map<string, { train: LabeledRows; valid: LabeledRows; test: LabeledRows; fields: UserFields }>();
  /** Runs not yet finished per table. */
  const remaining = new Map<string, number>();
  for (const t of tasks) remaining.set(t.tables, (remaining.get(t.tables) ?? 0) + 1);
  const tablesFor = (t: Task) => {
    let entry = tables.get(t.tables);
    if (!entry) {
      const fields = userFields(t.features, t.data, ctx.tuned, ctx.users.length, t.seed);
      entry = { train: ctrTable(t.data.train, fields), valid: ctrTable(t.data.valid, fields), test: ctrTable(t.data.test, fields), fields };
      tables.set(t.tables, entry);
    }
    return entry;
  };
  const finished = (t: Task) => {
    const left = remaining.get(t.tables)! - 1;
    remaining.set(t.tables, left);
    if (left === 0) tables.delete(t.tables);
  };

  const results: { run: RunRecord; probs: Float32Array }[] = new Array(tasks.length);
  const loopStart = performance.now();
  let done = 0;
  let next = 0;
  const train = async (runtime: Runtime) => {
    while (next < tasks.length) {
      const index = next++;
      const task = tasks[index];
      const table = tablesFor(task);
      const t0 = performance.now();
      const ctr = new CtrModel({ ...config.ctr, model: task.model, seed: task.seed }, fieldSchema(vocab, table.fields), { runtime });
      const result = await trainCtr(ctr, table.train, table.valid);
      const probs = await ctr.predict(table.test);
      finished(task);
      const run: RunRecord = {
        model: task.model,
        features: task.features,
        protocol: task.data.protocol,
        seed: task.seed,
        ...testMetrics(task.data.test, probs, trainCount),
        best_epoch: result.bestEpoch,
        epochs: result.history.length,
        seconds: (performance.now() - t0) / 1000,
        valid_auc: result.history.map((h) => h.validAuc ?? NaN),
        train_loss: result.history.map((h) => h.trainLoss),
      };
      results[index] = { run, probs };
      log(progressLine(run, ++done, tasks.length, (performance.now() - loopStart) / 1000));
    }
  };
  const threads = config.threads ?? Math.max(1, Math.floor(availableParallelism() / config.concurrency));
  const runtimes = Array.from({ length: Math.min(config.concurrency, tasks.length) }, () => new Runtime({ threads }));
  try {
    await Promise.all(runtimes.map(train));
  } finally {
    await Promise.all(runtimes.map((r) => r.close()));
  }

  const bootstrap = new Map<RunRecord, Float64Array>();
  for (const data of protocols) {
    for (const model of config.models) {
      const group = results.filter((_, i) => tasks[i].data === data && tasks[i].model === model);
      const aucs = bootstrapAucs(data.test.labels, data.test.user, group.map((g) => g.probs), config.bootstrap);
      group.forEach((g, i) => bootstrap.set(g.run, aucs[i]));
    }
  }
  const deltaAucCi: DeltaAucInterval = (own, baseline) => deltaAucInterval(own.map((r) => bootstrap.get(r)!), baseline.map((r) => bootstrap.get(r)!));
  return { runs: results.map((r) => r.run), deltaAucCi };
}

async function writeReport(out: string, report: CompareReport, tuned: RunOutputs): Promise<void> {
  await writeJson(join(out, 'report.json'), report);
  await writeFileAtomic(join(out, 'report.md'), reportMarkdown(report));
  await writeFileAtomic(join(out, 'auc.svg'), aucPlot(report));
  await writeFileAtomic(join(out, 'curves.svg'), curvesPlot(report));
  await writeFileAtomic(join(out, 'codebook-usage.svg'), usagePlot(tuned.summary.codebooks));
}

/** A seeded share of the users who have validation or test rows (the others have nothing to score). */
function pickColdUsers(prepared: Prepared, vocab: Vocab, fraction: number, seed: number): Set<string> {
  const held = new Set([...prepared.split.valid, ...prepared.split.test].map((i) => i.user));
  const candidates = [...vocab.users.keys()].filter((u) => held.has(u));
  if (candidates.length < 2) throw new Error(`cold protocol: ${candidates.length} users have held-out interactions; at least 2 are needed`);
  const count = Math.min(candidates.length - 1, Math.max(1, Math.round(fraction * candidates.length)));
  return new Set(new Rng(seed).shuffle(candidates).slice(0, count));
}

/**
 * Runs the cold-start path on a scratch copy of the tune run inside the output directory: `addNewUsers`
 * writes the new users into its run's bank, and the cold-start users are already in the real run's
 * bank with their tuned IDs, which must stay as they are. The copy holds the run's config, profiles
 * and an empty bank stamped with the run's version; it lives under that version's id, so a rerun on
 * the same run resumes from its new-user checkpoint and a rerun on another run starts afresh. In the
 * copy the codebooks are first refitted on the warm users only (the cold users' tuned tokens must not
 * shape the codes they are later assigned to); the warm users' IDs under that fit come back with them.
 */
async function coldStartProfiles(
  tuned: RunOutputs,
  dir: string,
  coldUsers: ReadonlySet<string>,
  interactions: Interaction[],
  items: ReadonlyMap<string, ItemInfo>,
  coldStart: ColdStartProfiles,
): Promise<{ fresh: Awaited<ReturnType<ColdStartProfiles>>; warmIds: Map<string, number[]> }> {
  const source = await SqliteFeatureBank.open(join(tuned.run, 'bank.sqlite'), { readonly: true });
  const version = await source.version().finally(() => source.close());
  if (!version) throw new Error(`${tuned.run}/bank.sqlite has no version: is the tune run complete?`);
  const scratch = join(dir, versionId(version));
  await mkdir(scratch, { recursive: true });
  await copyFile(join(tuned.run, 'config.json'), join(scratch, 'config.json'));
  await copyFile(join(tuned.run, 'profiles.safetensors'), join(scratch, 'profiles.safetensors'));
  const bank = await SqliteFeatureBank.open(join(scratch, 'bank.sqlite'));
  try {
    await bank.setVersion(version);
  } finally {
    await bank.close();
  }
  const byUser = new Map<string, Interaction[]>();
  for (const i of interactions) {
    const list = byUser.get(i.user);
    if (list) list.push(i);
    else byUser.set(i.user, [i]);
  }
  const warmIds = await refitCodebooksWithout(scratch, coldUsers);
  return { fresh: await coldStart(scratch, byUser, items), warmIds };
}

function userFields(features: FeatureSet, data: ProtocolData, tuned: RunOutputs, users: number, seed: number): UserFields {
  switch (features) {
    case 'id':
      return { sparse: [] };
    case 'id+userip':
      return { sparse: slotIdFields('userip', tuned.slots, data.userip) };
    case 'id+mfkmeans':
      return { sparse: slotIdFields('mfkmeans', tuned.slots, data.mfkmeans) };
    case 'id+ratebins':
      return { sparse: slotIdFields('ratebins', tuned.slots, data.ratebins) };
    case 'id+random':
      return { sparse: slotIdFields('random', tuned.slots, randomIds(users, tuned.slots.map((s) => s.k), seed ^ RANDOM_ID_SALT)) };
    case 'id+softtokens':
      return { sparse: [], dense: { name: 'softtokens', width: tuned.slots.length * tuned.hidden, perUser: data.softTokens } };
  }
}

function testMetrics(test: RowSet, probs: Float32Array, trainCount: Int32Array): Pick<RunRecord, 'auc' | 'logloss' | 'gauc' | 'buckets'> {
  const buckets: Record<string, BucketMetrics> = {};
  for (const { name, min, max } of ACTIVITY_BUCKETS) {
    const inBucket = (r: number) => trainCount[test.user[r]] >= min && trainCount[test.user[r]] <= max;
    const rows = selectRows(test, inBucket);
    const p = probs.filter((_, r) => inBucket(r));
    buckets[name] = {
      users: new Set(rows.user).size,
      rows: rows.labels.length,
      auc: rows.labels.length ? auc(rows.labels, p) : NaN,
      gauc: rows.labels.length ? gauc(rows.labels, p, rows.user) : NaN,
    };
  }
  return { auc: auc(test.labels, probs), logloss: logloss(test.labels, probs), gauc: gauc(test.labels, probs, test.user), buckets };
}

function duration(seconds: number): string {
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** `elapsed`: seconds since the first CTR run started, so the ETA leaves out the setup (cold-start tuning). */
function progressLine(run: RunRecord, done: number, total: number, elapsed: number): string {
  const eta = (elapsed / done) * (total - done);
  return `[${done}/${total}] ${run.model} ${run.features} ${run.protocol} seed ${run.seed}: AUC ${run.auc.toFixed(4)} logloss ${run.logloss.toFixed(4)} gAUC ${run.gauc.toFixed(4)} (best epoch ${run.best_epoch}/${run.epochs}, ${run.seconds.toFixed(1)} s) | elapsed ${duration(elapsed)}, ETA ${duration(eta)}`;
}
