/**
 * `lm adapt`: continued pretraining of a GPT-2-architecture checkpoint on a prepared dataset's
 * behaviour text, so that the LM the profiles are tuned against already knows how users' histories
 * read. It is `pretrain` started from the checkpoint (`init`), on a corpus written here:
 *
 *   corpus/train.txt  one document per user: the behaviour prefix, then one line per TRAIN interaction
 *   corpus/valid.txt  the same for the VALIDATION interactions (held-out NLL before and after)
 *
 * The lines are the profile tuner's (`behaviourOptions` + `behaviourLines`, same flags), so the LM is
 * adapted on exactly the text `profile tune` will score. Test rows never reach the corpus, validation
 * rows only valid.txt, and excluded users (the cold protocol's cold users) neither file.
 *
 * It reads src/data and src/profile (the behaviour text), so it lives here rather than in src/lm,
 * which they build on.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { behaviourLines, loadPrepared, type Interaction, type Prepared } from '../data/index.js';
import { silentProgress, writeFileAtomic, writeJson, type Progress } from '../io/index.js';
import { behaviourOptions, tuneSchema, type TuneConfig } from '../profile/index.js';
import { CausalLm, loadCheckpoint, resolveLmDir, type Tokenizer } from '../lm/index.js';
import { CORPUS_DOCUMENT_SEPARATOR } from './corpus/sources.js';
import { pretrain, pretrainSettingsSchema, type PretrainResult } from './pretrain.js';

/** The behaviour-text settings, by the names and with the defaults of `profile tune`. */
const behaviourSchema = tuneSchema.pick({ behaviourPrefix: true, behaviourSource: true, behaviourFormat: true, behaviourRatings: true });
export type BehaviourSettings = z.infer<typeof behaviourSchema>;
export const BEHAVIOUR_KEYS = Object.keys(behaviourSchema.shape) as (keyof BehaviourSettings)[];

const positiveInt = z.number().int().positive();

export const adaptSettingsSchema = pretrainSettingsSchema
  // The architecture and tokenizer are the checkpoint's; the corpus is written from `data`.
  .omit({ layers: true, hidden: true, heads: true, context: true, tokenizer: true, init: true, corpus: true })
  .extend({
    /** Hugging Face GPT-2 checkpoint directory, or "house" for the shipped house LM. */
    lm: z.string().default('house'),
    /** Output of `userip data prepare`. */
    data: z.string(),
    /** A file of user ids, one per line, whose rows stay out of the corpus (the cold protocol's cold users). */
    excludeUsers: z.string().optional(),
    // Continued pretraining: fewer steps, a lower peak rate and a shorter warmup than from scratch.
    steps: positiveInt.default(200),
    lr: z.number().positive().default(5e-4),
    warmup: z.number().int().nonnegative().default(20),
    evalEvery: z.number().int().nonnegative().default(50),
    checkpointEvery: positiveInt.default(50),
  })
  .extend(behaviourSchema.shape)
  .strict();
export type AdaptSettings = z.infer<typeof adaptSettingsSchema>;
export type AdaptOptions = z.input<typeof adaptSettingsSchema>;

export interface CorpusPart {
  users: number;
  /** Interactions written, one line each. */
  rows: number;
  bytes: number;
}

export interface BehaviourCorpus {
  train: CorpusPart & { text: string };
  valid: CorpusPart & { text: string };
  /** Ids in the exclude file, and how many of them have rows in the dataset. */
  excludedUsers: number;
  excludedUsersInData: number;
}

/** What the card says; written to adapt-summary.json. */
export interface AdaptSummary {
  model: { dir: string; id: string };
  base: { dir: string; id: string };
  dataset: { dir: string; name: string };
  behaviour: BehaviourSettings;
  train: CorpusPart & { tokens: number };
  valid: CorpusPart & { tokens: number };
  excluded_users: number;
  excluded_users_in_data: number;
  steps: number;
  batch: number;
  context: number;
  tokens_seen: number;
  train_seconds: number;
  lr: number;
  /** Mean NLL per token of valid.txt, in the same consecutive context-length windows, before and after. */
  heldout_nll_before: number;
  heldout_nll_after: number;
  command: string;
}

export type AdaptResult = { finished: false; step: number; pretrain: PretrainResult } | { finished: true; step: number; pretrain: PretrainResult; summary: AdaptSummary };

/** Reads an exclude file: one user id per line; blank lines are ignored. */
export async function readUserIds(path: string): Promise<Set<string>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the excluded users file ${path}: ${(err as Error).message}`);
  }
  return new Set(text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== ''));
}

/**
 * Per user, the behaviour prefix and then one line per interaction (oldest first), users in the order
 * they first appear; documents are separated by a blank line, as `splitCorpusDocuments` reads them.
 */
export function behaviourDocuments(lines: ReadonlyMap<string, readonly string[]>, prefix: string): { text: string; rows: number } {
  // A document may not contain a blank line, so the prefix is kept to one line.
  const head = prefix.replace(/\s+/g, ' ').trim();
  let rows = 0;
  const documents = [...lines.values()].map((userLines) => {
    rows += userLines.length;
    return (head ? [head, ...userLines] : userLines).join('\n');
  });
  return { text: documents.length ? `${documents.join(CORPUS_DOCUMENT_SEPARATOR)}\n` : '', rows };
}

/** The texts of train.txt and valid.txt: the train and validation splits of `prepared`, without the excluded users. */
export function behaviourCorpus(prepared: Prepared, tune: TuneConfig, tokenizer: Tokenizer, excluded: ReadonlySet<string>): BehaviourCorpus {
  // Whole documents, not the tuner's windows: no context limit applies to the lines.
  const options = behaviourOptions(tune, tokenizer, Number.POSITIVE_INFINITY, prepared.config.threshold);
  const part = (rows: readonly Interaction[]) => {
    const lines = behaviourLines(rows.filter((row) => !excluded.has(row.user)), prepared.dataset.items, options);
    const { text, rows: written } = behaviourDocuments(lines, tune.behaviourPrefix);
    return { text, users: lines.size, rows: written, bytes: Buffer.byteLength(text) };
  };
  const dataUsers = new Set(prepared.dataset.interactions.map((row) => row.user));
  return {
    train: part(prepared.split.train),
    valid: part(prepared.split.valid),
    excludedUsers: excluded.size,
    excludedUsersInData: [...excluded].filter((user) => dataUsers.has(user)).length,
  };
}

/** A tune-style settings object for `behaviourOptions` (only the behaviour fields matter to it). */
function tuneView(settings: AdaptSettings): TuneConfig {
  const behaviour = Object.fromEntries(BEHAVIOUR_KEYS.map((key) => [key, settings[key]]));
  return tuneSchema.parse({ data: settings.data, out: settings.out, lm: settings.lm, ...behaviour });
}

const CHECKPOINT = 'checkpoint.safetensors';

/**
 * Continued pretraining of `lm` on the behaviour text of `data`; rerun the same settings to resume.
 * `out` ends up a Hugging Face directory with adapt-summary.json and MODEL_CARD.md next to the model.
 */
export async function adapt(options: AdaptOptions, command: string, progress: Progress = silentProgress): Promise<AdaptResult> {
  const settings = adaptSettingsSchema.parse(options);
  const lmDir = resolveLmDir(settings.lm);
  if (resolve(lmDir) === resolve(settings.out)) throw new Error(`--out ${settings.out} is the base model's directory: write the adapted model elsewhere`);
  const base = await loadCheckpoint(lmDir);
  if (base.config.architecture !== 'gpt2') throw new Error(`${lmDir}: lm adapt trains GPT-2-architecture checkpoints; this one is ${base.config.architecture}`);
  await mkdir(settings.out, { recursive: true });
  await writeJson(join(settings.out, 'adapt-config.json'), settings);

  const prepared = await loadPrepared(settings.data);
  const excluded = settings.excludeUsers === undefined ? new Set<string>() : await readUserIds(settings.excludeUsers);
  const corpus = behaviourCorpus(prepared, tuneView(settings), base.tokenizer, excluded);
  if (corpus.train.rows === 0) throw new Error(`${settings.data}: no train rows left for the corpus${excluded.size ? ` after excluding ${excluded.size} users` : ''}`);
  if (corpus.valid.rows === 0) throw new Error(`${settings.data}: no validation rows left to measure the held-out NLL on`);
  const corpusDir = join(settings.out, 'corpus');
  const files = { 'train.txt': corpus.train.text, 'valid.txt': corpus.valid.text };
  if (existsSync(join(settings.out, CHECKPOINT))) {
    for (const [file, text] of Object.entries(files)) {
      const before = await readFile(join(corpusDir, file), 'utf8').catch(() => undefined);
      if (before !== text) throw new Error(`${settings.out}: its checkpoint was trained on other behaviour text (${file} differs: other data, behaviour flags or excluded users); use another --out, or the same settings to resume`);
    }
  }
  await mkdir(corpusDir, { recursive: true });
  for (const [file, text] of Object.entries(files)) await writeFileAtomic(join(corpusDir, file), text);
  progress.log(`corpus: ${corpus.train.users} users, ${corpus.train.rows} train rows (${corpus.valid.rows} validation rows held out); ${corpus.excludedUsers} users excluded`);

  const { lm: _lm, data: _data, excludeUsers: _exclude, behaviourPrefix: _prefix, behaviourSource: _source, behaviourFormat: _format, behaviourRatings: _ratings, ...training } = settings;
  const { config } = base;
  const result = await pretrain(
    {
      ...training,
      out: settings.out,
      corpus: corpusDir,
      init: lmDir,
      layers: config.numLayers,
      hidden: config.hiddenSize,
      heads: config.numHeads,
      context: config.maxPositions,
    },
    progress,
  );
  if (!result.finished) return { finished: false, step: result.step, pretrain: result };

  const [baseLm, adapted] = [await CausalLm.load(lmDir), await CausalLm.load(settings.out)];
  const tokens = (file: string) => readFile(join(settings.out, 'tokens', `${file}.u16`)).then((b) => b.byteLength / 2);
  const summary: AdaptSummary = {
    model: { dir: settings.out, id: adapted.id },
    base: { dir: lmDir, id: baseLm.id },
    dataset: { dir: settings.data, name: prepared.dataset.name },
    behaviour: Object.fromEntries(BEHAVIOUR_KEYS.map((key) => [key, settings[key]])) as BehaviourSettings,
    train: { ...part(corpus.train), tokens: await tokens('train') },
    valid: { ...part(corpus.valid), tokens: await tokens('valid') },
    excluded_users: corpus.excludedUsers,
    excluded_users_in_data: corpus.excludedUsersInData,
    steps: result.step,
    batch: settings.batch,
    context: config.maxPositions,
    tokens_seen: result.tokensSeen,
    train_seconds: Math.round(result.trainSeconds),
    lr: settings.lr,
    heldout_nll_before: result.initialVal!.loss,
    heldout_nll_after: result.val!.loss,
    command,
  };
  await writeJson(join(settings.out, 'adapt-summary.json'), summary);
  await writeFileAtomic(join(settings.out, 'MODEL_CARD.md'), modelCard(summary));
  progress.log(`held-out behaviour NLL per token: ${summary.heldout_nll_before.toFixed(4)} -> ${summary.heldout_nll_after.toFixed(4)}; model id ${adapted.id} (base ${baseLm.id})`);
  return { finished: true, step: result.step, pretrain: result, summary };
}

function modelCard(s: AdaptSummary): string {
  const b = s.behaviour;
  return `# ${s.model.id}: ${s.base.dir} adapted to ${s.dataset.name}

Continued pretraining (\`userip lm adapt\`) of the GPT-2-architecture model in \`${s.base.dir}\`
(id \`${s.base.id}\`) on the behaviour text of the train split of the prepared dataset \`${s.dataset.dir}\`
(${s.dataset.name}). Same architecture and tokenizer as the base; weights in F16.

| | |
|---|---|
| model id | \`${s.model.id}\` |
| base model | \`${s.base.dir}\` (\`${s.base.id}\`) |
| train text | ${s.train.rows} rows of ${s.train.users} users, ${s.train.tokens} tokens (train split only) |
| excluded users | ${s.excluded_users} (${s.excluded_users_in_data} of them in the dataset) |
| behaviour text | format \`${b.behaviourFormat}\`, ratings ${b.behaviourRatings ? 'on' : 'off'}, source \`${b.behaviourSource}\`, prefix "${b.behaviourPrefix}" |
| training | ${s.steps} steps × ${s.batch} sequences × ${s.context} tokens = ${s.tokens_seen} tokens, peak lr ${s.lr}, ${s.train_seconds} s |
| held-out behaviour NLL per token | ${s.heldout_nll_before.toFixed(4)} before, ${s.heldout_nll_after.toFixed(4)} after (validation split: ${s.valid.rows} rows of ${s.valid.users} users, ${s.valid.tokens} tokens) |

Command:

\`\`\`sh
${s.command}
\`\`\`

The corpus is in \`corpus/\`, the settings in \`adapt-config.json\`, the numbers in \`adapt-summary.json\`.
\`checkpoint.safetensors\` (weights and optimizer state) is only needed to resume and may be deleted.
`;
}

/** A corpus part's counts, without its text. */
function part({ users, rows, bytes }: CorpusPart): CorpusPart {
  return { users, rows, bytes };
}
