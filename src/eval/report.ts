/**
 * From per-run metrics to what a person and a machine read: mean ± std over seeds per (CTR model,
 * protocol, feature set), paired tests against `id` of the same model (and UserIP against MF-k-means)
 * with a user-level bootstrap interval of each ΔAUC, `report.md` (a section per model), and the plots.
 */
import { mean } from '../engine/index.js';
import { pairedTest, std, type PairedTest } from './stats.js';
import { aucChart, curvesChart, renderSvg, usageChart } from '../charts/index.js';

export const FEATURE_SETS = ['id', 'id+userip', 'id+mfkmeans', 'id+ratebins', 'id+random', 'id+softtokens'] as const;
export type FeatureSet = (typeof FEATURE_SETS)[number];
export const PROTOCOLS = ['warm', 'cold'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** Users' activity = their number of training interactions. */
export const ACTIVITY_BUCKETS = [
  { name: '<=10', min: 0, max: 10 },
  { name: '11-50', min: 11, max: 50 },
  { name: '>50', min: 51, max: Infinity },
] as const;

export interface BucketMetrics {
  users: number;
  rows: number;
  auc: number;
  gauc: number;
}

/** One CTR training run: a feature set under a protocol with one seed, scored on the protocol's test rows. */
export interface RunRecord {
  model: string;
  features: FeatureSet;
  protocol: Protocol;
  seed: number;
  auc: number;
  logloss: number;
  gauc: number;
  buckets: Record<string, BucketMetrics>;
  best_epoch: number;
  epochs: number;
  seconds: number;
  /** Validation AUC after each epoch (the training curve). */
  valid_auc: number[];
  train_loss: number[];
}

export interface Comparison {
  auc: PairedTest;
  logloss: PairedTest;
  gauc: PairedTest;
  /** User-level bootstrap 95% interval of the mean over seeds of ΔAUC; null where no interval was computed. */
  delta_auc_ci95: [number, number] | null;
}

/** The bootstrap ΔAUC interval of `runs` against `baseline`, paired by seed (same order). */
export type DeltaAucInterval = (runs: readonly RunRecord[], baseline: readonly RunRecord[]) => [number, number];

export interface BucketSummary {
  users: number;
  rows: number;
  auc_mean: number;
  auc_std: number;
  gauc_mean: number;
  gauc_std: number;
  vs_id: { auc: PairedTest; gauc: PairedTest } | null;
}

/** One row of report.json's `ctr` array. */
export interface CtrRow {
  model: string;
  features: FeatureSet;
  protocol: Protocol;
  /** Number of seeds (runs) the statistics are over; the seeds themselves are in `seed_list`. */
  seeds: number;
  seed_list: number[];
  auc_mean: number;
  auc_std: number;
  logloss_mean: number;
  logloss_std: number;
  gauc_mean: number;
  gauc_std: number;
  buckets: Record<string, BucketSummary>;
  /** Paired over seeds against `id` of the same model under the same protocol; null for `id` itself. */
  vs_id: Comparison | null;
  /** `id+userip` only: paired against `id+mfkmeans`, the profile baseline without an LM. */
  vs_mfkmeans?: Comparison;
}

export interface CompareReport {
  dataset: string;
  lm: { id: string; spec: string };
  settings: Record<string, unknown>;
  users: { total: number; cold: number; with_userip_profile: number; cold_with_cold_start_profile: number };
  rows: Partial<Record<Protocol, { train: number; valid: number; test: number }>>;
  ctr: CtrRow[];
  runs: RunRecord[];
  seconds: number;
}

const HIGHER_IS_BETTER = { auc: true, logloss: false, gauc: true } as const;

function compareRuns(runs: RunRecord[], baseline: RunRecord[], deltaAucCi?: DeltaAucInterval): Comparison {
  const paired = (metric: keyof typeof HIGHER_IS_BETTER) => pairedTest(runs.map((r) => r[metric]), baseline.map((r) => r[metric]), HIGHER_IS_BETTER[metric]);
  return { auc: paired('auc'), logloss: paired('logloss'), gauc: paired('gauc'), delta_auc_ci95: deltaAucCi?.(runs, baseline) ?? null };
}

/** The models of `runs` in first-run order. */
export function modelsOf(runs: readonly { model: string }[]): string[] {
  return [...new Set(runs.map((r) => r.model))];
}

/**
 * Mean ± std per (model, protocol, feature set); runs are paired with their baseline (same model and
 * protocol) by seed. With `deltaAucCi`, each ΔAUC also gets its bootstrap interval.
 */
export function summarize(runs: readonly RunRecord[], deltaAucCi?: DeltaAucInterval): CtrRow[] {
  const rows: CtrRow[] = [];
  for (const model of modelsOf(runs)) rows.push(...summarizeModel(runs.filter((r) => r.model === model), deltaAucCi));
  return rows;
}

function summarizeModel(runs: readonly RunRecord[], deltaAucCi?: DeltaAucInterval): CtrRow[] {
  const rows: CtrRow[] = [];
  const group = (features: FeatureSet, protocol: Protocol) => runs.filter((r) => r.features === features && r.protocol === protocol).sort((a, b) => a.seed - b.seed);
  for (const protocol of PROTOCOLS) {
    for (const features of FEATURE_SETS) {
      const own = group(features, protocol);
      if (own.length === 0) continue;
      const seeds = own.map((r) => r.seed);
      const pairedWith = (other: FeatureSet) => {
        const byseed = new Map(group(other, protocol).map((r) => [r.seed, r]));
        const common = own.filter((r) => byseed.has(r.seed));
        return common.length ? compareRuns(common, common.map((r) => byseed.get(r.seed)!), deltaAucCi) : null;
      };
      const idBySeed = new Map(group('id', protocol).map((r) => [r.seed, r]));
      const buckets: Record<string, BucketSummary> = {};
      for (const { name } of ACTIVITY_BUCKETS) {
        const values = own.map((r) => r.buckets[name]);
        const withId = own.filter((r) => idBySeed.has(r.seed));
        const pairedBucket = (metric: 'auc' | 'gauc') => pairedTest(withId.map((r) => r.buckets[name][metric]), withId.map((r) => idBySeed.get(r.seed)!.buckets[name][metric]), true);
        buckets[name] = {
          users: values[0].users,
          rows: values[0].rows,
          auc_mean: mean(values.map((v) => v.auc)),
          auc_std: std(values.map((v) => v.auc)),
          gauc_mean: mean(values.map((v) => v.gauc)),
          gauc_std: std(values.map((v) => v.gauc)),
          vs_id: features !== 'id' && withId.length ? { auc: pairedBucket('auc'), gauc: pairedBucket('gauc') } : null,
        };
      }
      const row: CtrRow = {
        model: own[0].model,
        features,
        protocol,
        seeds: own.length,
        seed_list: seeds,
        auc_mean: mean(own.map((r) => r.auc)),
        auc_std: std(own.map((r) => r.auc)),
        logloss_mean: mean(own.map((r) => r.logloss)),
        logloss_std: std(own.map((r) => r.logloss)),
        gauc_mean: mean(own.map((r) => r.gauc)),
        gauc_std: std(own.map((r) => r.gauc)),
        buckets,
        vs_id: features === 'id' ? null : pairedWith('id'),
      };
      if (features === 'id+userip') {
        const vs = pairedWith('id+mfkmeans');
        if (vs) row.vs_mfkmeans = vs;
      }
      rows.push(row);
    }
  }
  return rows;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const f4 = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : 'n/a');
const pm = (m: number, s: number) => (Number.isFinite(s) ? `${f4(m)} ± ${f4(s)}` : f4(m));
const signed = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(4)}` : 'n/a');
const pValue = (p: number) => (Number.isFinite(p) ? (p < 0.001 ? '<0.001' : p.toFixed(3)) : 'n/a');

function difference(t: PairedTest): string {
  const ci = Number.isFinite(t.ci95[0]) ? ` [${signed(t.ci95[0])}, ${signed(t.ci95[1])}]` : '';
  return `${signed(t.mean_diff)}${ci}`;
}

function interval(ci: [number, number] | null): string {
  return ci && Number.isFinite(ci[0]) ? `[${signed(ci[0])}, ${signed(ci[1])}]` : 'n/a';
}

function verdict(t: PairedTest): string {
  return t.verdict === 'exceeds seed noise' ? `**exceeds seed noise** (${t.direction})` : t.verdict;
}

const PROTOCOL_TITLE: Record<Protocol, string> = {
  warm: 'Warm: the overall time split',
  cold: 'Cold start: users left out of CTR training, scored on their later interactions',
};

export function reportMarkdown(report: CompareReport): string {
  const s = report.settings as { models: string[]; seeds: number[]; coldFraction: number; ctr: Record<string, unknown>; threshold: number; bootstrap: { resamples: number; seed: number } };
  const lines: string[] = [
    `# CTR comparison: ${report.dataset}, ${s.models.map((m) => m.toUpperCase()).join(', ')} over ${plural(s.seeds.length, 'seed')}`,
    '',
    `- LM: \`${report.lm.id}\` (${report.lm.spec}); tune run \`${String(report.settings.run)}\`; prepared data \`${String(report.settings.data)}\``,
    `- Label: rating > ${s.threshold}. Fields: user, item, genre (an item's first genre, or its most specific category) plus each feature set's fields.`,
    `- Users: ${report.users.total}; with a UserIP profile in the bank: ${report.users.with_userip_profile}.${report.rows.cold ? ` Cold-start users: ${report.users.cold} (${(s.coldFraction * 100).toFixed(0)}% of the users with held-out interactions); ${report.users.cold_with_cold_start_profile} of them got a cold-start UserIP profile.` : ''}`,
    `- CTR settings: ${JSON.stringify(s.ctr)}; seeds ${s.seeds.join(', ')}.`,
    `- Wall time: ${(report.seconds / 60).toFixed(1)} min.`,
    '',
    '![AUC per feature set](auc.svg)',
    '',
  ];
  for (const model of modelsOf(report.ctr)) {
    lines.push(`## ${model.toUpperCase()}`, '');
    for (const protocol of PROTOCOLS) {
      const rows = report.ctr.filter((r) => r.model === model && r.protocol === protocol);
      if (rows.length) lines.push(...protocolSection(report, model, protocol, rows));
    }
  }
  lines.push(
    '## Method',
    '',
    '- Each seed sets the CTR model\'s initialisation, shuffles and dropout, and the random IDs. The UserIP profiles, the MF-k-means IDs, the rate bins and the set of cold-start users are fixed across seeds, so the spread is the CTR training noise a difference has to beat.',
    `- Bootstrap: the ΔAUC interval resamples the protocol's test users with replacement (${s.bootstrap.resamples} replicates, seed ${s.bootstrap.seed}; a user's rows go together). Each replicate computes ΔAUC per seed from that seed's own predictions on the resampled rows and averages over seeds, and the interval holds the 2.5% and 97.5% quantiles. Per seed rather than on predictions averaged over seeds, because an average of several models ranks better than any one of them, so its ΔAUC would describe an ensemble the table does not report; this interval is for the same mean ΔAUC the t-test tests. It captures which users happen to be in the test set; the t-test captures the seed noise of CTR training.`,
    '- A difference *exceeds seed noise* when the two-sided paired t-test over seeds (t = mean / (sd / √n), n − 1 degrees of freedom) gives p < 0.05; the 95% interval is mean ± t₀.₉₇₅ · sd / √n. With few seeds the test is weak: "within seed noise" does not mean "equal".',
    '- Warm: trained on the train split, early stopping on validation AUC, metrics on the test split. Cold: the cold-start users\' rows are removed from training and validation; their profiles come from their train-split (earliest) interactions only: UserIP soft tokens tuned against the frozen LM and quantized with the frozen codebooks, MF vectors folded in with the item factors fixed (MF and its k-means fitted without them), rate bins from their own train-split labels with the bin edges of the other users, fresh random IDs; their user id is unseen (the unknown row). Their validation and test interactions are scored.',
    '- MF is fitted to the rating values of the train split (ALS on mean-centred ratings), so its IDs can carry a user\'s rating level; the UserIP profiles see only the behaviour text the tune run built.',
    `- User-ID dropout (\`ctr.userIdDropout\` = ${String(s.ctr.userIdDropout ?? 0)}): each epoch, that seeded share of the training rows (the same rows for every feature set) uses the shared unknown user row instead of the user's own, so the row the cold-start users are scored with is trained, and profile fields learn to stand in for the user ID. At 0 the unknown row stays at zero.`,
    '- Rate bins (`id+ratebins`): the user\'s share of positive labels among their train-split rows, in quantile bins of each UserIP slot\'s size K (one field per slot, so the field count and vocabulary sizes match `id+userip`; slots of equal K carry the same bins). Bin = floor(K · F(rate)), F the mid-distribution function of the rates of the users the CTR model trains on, so tied rates share a bin. It measures how much of a profile\'s gain is rating generosity rather than preference.',
    '- The UserIP codebooks were fitted by the tune run on every tuned user\'s train-split tokens, the cold-start users included (no label of a scored row is involved).',
    '- gAUC: per-user AUC weighted by the user\'s rows, over users with both classes. Activity buckets group users by their number of training interactions.',
    '',
    '![Training curves](curves.svg)',
    '',
    '![Codebook usage](codebook-usage.svg)',
    '',
  );
  return lines.join('\n');
}

/** One protocol's tables for one model: mean ± std, differences to `id`, and by activity. */
function protocolSection(report: CompareReport, model: string, protocol: Protocol, rows: readonly CtrRow[]): string[] {
  const lines = [`### ${PROTOCOL_TITLE[protocol]} (${model.toUpperCase()})`, ''];
  const count = report.rows[protocol];
  if (count) lines.push(`Rows: train ${count.train}, validation ${count.valid} (early stopping), test ${count.test} (metrics).`, '');
  lines.push('| features | AUC | Logloss | gAUC |', '|---|---|---|---|');
  for (const r of rows) lines.push(`| ${r.features} | ${pm(r.auc_mean, r.auc_std)} | ${pm(r.logloss_mean, r.logloss_std)} | ${pm(r.gauc_mean, r.gauc_std)} |`);
  lines.push('', 'Difference to `id`, paired by seed (mean [95% CI of the paired t-test], p), and the user-level bootstrap 95% interval of ΔAUC:', '');
  lines.push('| features | ΔAUC | p | AUC verdict | ΔAUC bootstrap 95% (users) | ΔLogloss | p | Logloss verdict | ΔgAUC | p | gAUC verdict |', '|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    if (!r.vs_id) continue;
    const { auc, logloss, gauc, delta_auc_ci95 } = r.vs_id;
    lines.push(`| ${r.features} | ${difference(auc)} | ${pValue(auc.p_value)} | ${verdict(auc)} | ${interval(delta_auc_ci95)} | ${difference(logloss)} | ${pValue(logloss.p_value)} | ${verdict(logloss)} | ${difference(gauc)} | ${pValue(gauc.p_value)} | ${verdict(gauc)} |`);
  }
  const userip = rows.find((r) => r.features === 'id+userip')?.vs_mfkmeans;
  if (userip) {
    lines.push('', `UserIP against MF-k-means (\`id+userip\` − \`id+mfkmeans\`): ΔAUC ${difference(userip.auc)}, p ${pValue(userip.auc.p_value)}, ${verdict(userip.auc)}, bootstrap 95% ${interval(userip.delta_auc_ci95)}; ΔLogloss ${difference(userip.logloss)}, p ${pValue(userip.logloss.p_value)}, ${verdict(userip.logloss)}; ΔgAUC ${difference(userip.gauc)}, p ${pValue(userip.gauc.p_value)}, ${verdict(userip.gauc)}.`);
  }
  lines.push('', `#### By activity (users' training interactions), ${protocol}, ${model.toUpperCase()}`, '');
  const first = rows[0].buckets;
  lines.push(`| features | ${ACTIVITY_BUCKETS.map((b) => `${b.name}: AUC | gAUC | ΔAUC vs id (p)`).join(' | ')} |`);
  lines.push(`|---|${ACTIVITY_BUCKETS.map(() => '---|---|---').join('|')}|`);
  lines.push(`| *users / rows* | ${ACTIVITY_BUCKETS.map((b) => [`${first[b.name].users} / ${first[b.name].rows}`, '', ''].join(' | ')).join(' | ')} |`);
  for (const r of rows) {
    const cells = ACTIVITY_BUCKETS.map(({ name }) => {
      const b = r.buckets[name];
      const vs = b.vs_id && b.rows > 0 ? `${signed(b.vs_id.auc.mean_diff)} (${pValue(b.vs_id.auc.p_value)})` : '';
      return `${pm(b.auc_mean, b.auc_std)} | ${pm(b.gauc_mean, b.gauc_std)} | ${vs}`;
    });
    lines.push(`| ${r.features} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  return lines;
}

export function aucPlot(report: CompareReport): string {
  return renderSvg(aucChart(report.ctr, report.dataset));
}

/** Validation AUC per epoch for each feature set, first seed, one panel per (model, protocol). */
export function curvesPlot(report: CompareReport): string {
  return renderSvg(curvesChart(report.runs));
}

export function usagePlot(codebooks: readonly { slot: string; k: number; counts: number[]; perplexity: number }[]): string {
  return renderSvg(usageChart(codebooks));
}
