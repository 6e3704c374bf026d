/**
 * The model `userip serve` loads: one CTR model on the ID fields plus the feature bank's profile IDs
 * (the `id+userip` feature set of the comparison), trained on the train split with early stopping on
 * the validation split, scored once on the test split, and saved with the bank version it was trained
 * against and the feature map that turns raw user and item ids into its inputs.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { loadPrepared } from '../data/index.js';
import { CTR_MODELS, CtrModel, auc, ctrConfigSchema, logloss, saveCtrModel, trainCtr } from '../ctr/index.js';
import { Runtime } from '../engine/index.js';
import { assertRunMadeFrom, bankIdColumns, readRunOutputs } from '../profile/index.js';
import { writeJson } from '../io/files.js';
import { buildFeatureMap, saveFeatureMap } from './map.js';
import { buildVocab, ctrTable, encodeRows, fieldSchema, slotIdFields } from './table.js';

/**
 * CTR settings of every CTR run on a tune run (the comparison's and the serving model's). Defaults
 * differ from a single CTR run's: lr 3e-3 learns MovieLens-shaped data faster than 1e-3, patience 3
 * keeps DCN from stopping at the main effects, and 10 epochs bound the wall time of 50 runs.
 */
export const pipelineCtrSchema = ctrConfigSchema.omit({ model: true, seed: true }).extend({
  lr: z.number().positive().default(3e-3),
  epochs: z.number().int().positive().default(10),
  patience: z.number().int().positive().default(3),
});

/** What every CTR run on a tune run names: its inputs and output, the CTR model and its settings. */
export const ctrOnRunSchema = z.object({
  /** Output directory of `userip data prepare`. */
  data: z.string(),
  /** Output directory of `userip profile tune` on that data. */
  run: z.string(),
  out: z.string(),
  model: z.enum(CTR_MODELS).default('dcn'),
  ctr: pipelineCtrSchema.prefault({}),
  threads: z.number().int().positive().optional(),
});

export const servingModelSchema = ctrOnRunSchema
  .extend({
    /** Where model.json, its weights, features.json and train.json go. */
    out: z.string(),
    seed: z.number().int().default(0),
  })
  .strict();
export type ServingModelConfig = z.infer<typeof servingModelSchema>;

export interface ServingModelSummary {
  dir: string;
  model: string;
  bank_version: string;
  fields: string[];
  rows: { train: number; valid: number; test: number };
  best_epoch: number;
  epochs: number;
  valid_auc: number;
  test_auc: number;
  test_logloss: number;
  seconds: number;
}

export async function trainServingModel(input: z.input<typeof servingModelSchema>): Promise<ServingModelSummary> {
  const config = servingModelSchema.parse(input);
  const started = performance.now();
  const prepared = await loadPrepared(config.data);
  await assertRunMadeFrom(config.run, config.data, prepared.dataHash);
  const tuned = await readRunOutputs(config.run);
  const vocab = buildVocab(prepared.dataset.interactions, prepared.dataset.items);
  const users = [...vocab.users.keys()];
  // Named by slotField, as the feature map below names them.
  const fields = { sparse: slotIdFields('userip', tuned.slots, bankIdColumns(tuned, users)) };
  const table = (rows: typeof prepared.split.train) => ctrTable(encodeRows(rows, vocab, prepared.config.threshold), fields);
  const [train, valid, test] = [table(prepared.split.train), table(prepared.split.valid), table(prepared.split.test)];

  const runtime = new Runtime({ threads: config.threads });
  try {
    const model = new CtrModel({ ...config.ctr, model: config.model, seed: config.seed }, fieldSchema(vocab, fields), { runtime });
    const result = await trainCtr(model, train, valid);
    const probs = await model.predict(test);
    await saveCtrModel(model, config.out, { bankVersion: tuned.summary.bank_version });
    await saveFeatureMap(config.out, buildFeatureMap(vocab, tuned.slots));
    const summary: ServingModelSummary = {
      dir: config.out,
      model: config.model,
      bank_version: tuned.summary.bank_version,
      fields: model.schema.sparse.map((f) => f.name),
      rows: { train: train.labels.length, valid: valid.labels.length, test: test.labels.length },
      best_epoch: result.bestEpoch,
      epochs: result.history.length,
      valid_auc: result.bestValidAuc ?? NaN,
      test_auc: auc(test.labels, probs),
      test_logloss: logloss(test.labels, probs),
      seconds: (performance.now() - started) / 1000,
    };
    await writeJson(join(config.out, 'train.json'), { config, ...summary });
    return summary;
  } finally {
    await runtime.close();
  }
}
