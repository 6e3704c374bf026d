/**
 * `userip eval attributes`: profile recovery. Where true user attributes are known (age, gender,
 * occupation...), how much of each do the profiles hold? Per attribute: the NMI between each slot's
 * IDs and the attribute, and the cross-validated accuracy of a linear probe from the soft tokens;
 * the same two for MF-k-means IDs and MF user vectors (no LM); and chance: the majority class's
 * accuracy and the NMI of random IDs with the same K (NMI of independent labelings is above zero on
 * finite samples, so this is the floor to compare with).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import { indexIds, loadPrepared } from '../data/index.js';
import { bankIdColumns, readRunOutputs, softTokenRows } from '../profile/index.js';
import { mfKmeans, mfSettingsSchema, randomIds } from './baselines.js';
import { writeFileAtomic, writeJson } from '../io/files.js';
import { nmi } from './nmi.js';
import { DEFAULT_PROBE, probeAccuracy } from './probe.js';
import { buildVocab, ratingRows } from '../features/index.js';

export const attributesSchema = z
  .object({
    data: z.string(),
    run: z.string(),
    /** CSV with a `user` column and one column per attribute; empty cells are unknown. */
    attributes: z.string(),
    /** Default: `<run>/attributes`. */
    out: z.string().optional(),
    folds: z.number().int().min(2).default(DEFAULT_PROBE.folds),
    seed: z.number().int().default(DEFAULT_PROBE.seed),
    probe: z
      .object({
        l2Grid: z.array(z.number().min(0)).min(1).default(DEFAULT_PROBE.l2Grid),
        iterations: z.number().int().positive().default(DEFAULT_PROBE.iterations),
        lr: z.number().positive().default(DEFAULT_PROBE.lr),
      })
      .strict()
      .prefault({}),
    /** Random-ID draws averaged for the chance NMI. */
    randomDraws: z.number().int().positive().default(20),
    mf: mfSettingsSchema.prefault({}),
  })
  .strict();
export type AttributesConfig = z.infer<typeof attributesSchema>;

export interface Recovery {
  /** Per slot name. */
  nmi: Record<string, number>;
  probe_accuracy: number;
  /** The probe's L2 penalty chosen in each fold (not for chance, which has no probe). */
  probe_l2?: number[];
}

export interface AttributeResult {
  attribute: string;
  /** Users with a known value and a profile. */
  users: number;
  classes: number;
  majority_class: string;
  userip: Recovery;
  mfkmeans: Recovery;
  chance: Recovery;
}

export interface AttributesReport {
  dataset: string;
  lm: { id: string; spec: string };
  settings: AttributesConfig & { out: string };
  slots: { name: string; k: number }[];
  attributes: AttributeResult[];
  seconds: number;
}

/** users.csv as user -> (column -> value), plus the attribute columns in file order. */
async function readUserAttributes(path: string): Promise<{ columns: string[]; values: Map<string, Record<string, string>> }> {
  const records = parse(await readFile(path, 'utf8'), { columns: true, skip_empty_lines: true, bom: true, trim: true }) as Record<string, string>[];
  const header = records.length ? Object.keys(records[0]) : [];
  if (!header.includes('user')) throw new Error(`${path}: expected a "user" column, found ${header.join(', ') || 'no columns'}`);
  const columns = header.filter((c) => c !== 'user');
  if (columns.length === 0) throw new Error(`${path}: no attribute columns beside "user"`);
  return { columns, values: new Map(records.map((r) => [r.user, r])) };
}

export async function evalAttributes(input: z.input<typeof attributesSchema>, log: (line: string) => void = () => {}): Promise<AttributesReport> {
  const config = attributesSchema.parse(input);
  const out = config.out ?? join(config.run, 'attributes');
  const started = performance.now();
  const tuned = await readRunOutputs(config.run);
  const prepared = await loadPrepared(config.data);
  const { columns, values } = await readUserAttributes(config.attributes);

  // MF over every user's train-split ratings; the users evaluated are those with a UserIP profile.
  const vocab = buildVocab(prepared.dataset.interactions, prepared.dataset.items);
  const ks = tuned.slots.map((s) => s.k);
  const mf = mfKmeans(ratingRows(prepared.split.train, vocab), [], vocab.users.size, vocab.items.size, ks, config.mf);
  const probeOptions = { ...config.probe, folds: config.folds, seed: config.seed };
  const profiled = tuned.users.filter((u) => tuned.bankIds.has(u) && vocab.users.has(u));

  const results: AttributeResult[] = [];
  for (const attribute of columns) {
    const users = profiled.filter((u) => (values.get(u)?.[attribute] ?? '') !== '');
    if (users.length < config.folds) {
      log(`attribute ${attribute}: ${users.length} profiled users have a value, fewer than ${config.folds} folds; skipped`);
      continue;
    }
    const raw = users.map((u) => values.get(u)![attribute]);
    const classIds = indexIds([...raw].sort());
    const labels = Int32Array.from(raw, (v) => classIds.get(v)!);
    const classes = classIds.size;
    const index = users.map((u) => vocab.users.get(u)!);
    log(`attribute ${attribute}: ${users.length} users, ${classes} classes; probing soft tokens and MF vectors`);

    const bank = bankIdColumns(tuned, users);
    const tokens = softTokenRows(tuned, users);
    const width = tuned.slots.length * tuned.hidden;
    const mfVectors = new Float32Array(users.length * mf.factors);
    index.forEach((u, i) => mfVectors.set(mf.vectors.subarray(u * mf.factors, (u + 1) * mf.factors), i * mf.factors));
    const tokenProbe = probeAccuracy(tokens, width, labels, classes, probeOptions);
    const mfProbe = probeAccuracy(mfVectors, mf.factors, labels, classes, probeOptions);
    const perSlot = (f: (j: number) => number) => Object.fromEntries(tuned.slots.map((s, j) => [s.name, f(j)]));
    const draws = Array.from({ length: config.randomDraws }, (_, d) => randomIds(users.length, ks, config.seed + d));
    const counts = new Map<string, number>();
    for (const v of raw) counts.set(v, (counts.get(v) ?? 0) + 1);
    results.push({
      attribute,
      users: users.length,
      classes,
      majority_class: [...counts].sort((a, b) => b[1] - a[1])[0][0],
      userip: { nmi: perSlot((j) => nmi(bank[j], labels)), probe_accuracy: tokenProbe.accuracy, probe_l2: tokenProbe.l2 },
      mfkmeans: { nmi: perSlot((j) => nmi(Int32Array.from(index, (u) => mf.ids[j][u]), labels)), probe_accuracy: mfProbe.accuracy, probe_l2: mfProbe.l2 },
      chance: { nmi: perSlot((j) => draws.reduce((s, ids) => s + nmi(ids[j], labels), 0) / draws.length), probe_accuracy: tokenProbe.majority },
    });
  }

  await mkdir(out, { recursive: true });
  const report: AttributesReport = {
    dataset: prepared.dataset.name,
    lm: { id: tuned.summary.lm, spec: tuned.config.lm },
    settings: { ...config, out },
    slots: tuned.slots.map((s) => ({ name: s.name, k: s.k })),
    attributes: results,
    seconds: (performance.now() - started) / 1000,
  };
  await writeJson(join(out, 'attributes.json'), report);
  await writeFileAtomic(join(out, 'attributes.md'), attributesMarkdown(report));
  return report;
}

function attributesMarkdown(report: AttributesReport): string {
  const slots = report.slots.map((s) => s.name);
  const lines = [
    `# Profile recovery: ${report.dataset}`,
    '',
    `LM \`${report.lm.id}\` (${report.lm.spec}); tune run \`${report.settings.run}\`; attributes \`${report.settings.attributes}\`.`,
    '',
    `NMI between each slot's IDs and the attribute (arithmetic normalization), and the ${report.settings.folds}-fold cross-validated accuracy of a linear probe (multinomial logistic regression on standardized features, its L2 penalty chosen in each fold on a holdout of the training folds) from the soft tokens (UserIP) or the MF user vectors (MF-k-means). Chance: random IDs with the same K (mean NMI over ${report.settings.randomDraws} draws) and the majority class.`,
    '',
  ];
  for (const a of report.attributes) {
    lines.push(`## ${a.attribute}`, '', `${a.users} users, ${a.classes} classes (majority: ${a.majority_class}).`, '');
    lines.push(`| profile | ${slots.map((s) => `NMI ${s}`).join(' | ')} | probe accuracy |`, `|---|${slots.map(() => '---|').join('')}---|`);
    for (const [name, r] of [['UserIP', a.userip], ['MF-k-means', a.mfkmeans], ['chance', a.chance]] as const) {
      lines.push(`| ${name} | ${slots.map((s) => r.nmi[s].toFixed(4)).join(' | ')} | ${r.probe_accuracy.toFixed(4)} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
