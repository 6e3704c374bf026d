/**
 * A saved model is a directory: `model.json` (format, config, field schema, the caller's bank
 * version as `bank_version`, the weights file's name) and `weights-<id>.safetensors` (every table, parameter
 * and seen-row mask, F32, so predictions after loading are bit-identical).
 *
 * Both files appear atomically (temporary file, then rename) and the JSON is written last, naming
 * its weights file: a crash mid-save leaves the previous model readable. Weights files the JSON no
 * longer names are removed after it is in place.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { openSafetensors, readJsonWith, writeFileAtomic, writeSafetensors, type TensorToWrite } from '../io/index.js';
import { ctrConfigSchema } from './config.js';
import { CtrModel, type CtrModelOptions } from './model.js';
import { denseFieldSchema, type FieldSchema, type FieldSchemaInput } from './schema.js';

/** 2: snake_case keys (`bank_version`, the fields' `vocab_size`), as in every output file. */
const FORMAT = 'userip-ctr/2';
const WEIGHTS_FILE = /^weights-[0-9a-f]+\.safetensors$/;

/** The field schema as model.json spells it; `CtrModel` checks the rest. */
const savedFieldsSchema = z.object({
  sparse: z.array(z.object({ name: z.string(), vocab_size: z.number() }).strict()),
  dense: z.array(denseFieldSchema),
});

const savedSchema = z.object({
  format: z.literal(FORMAT),
  weights: z.string().regex(WEIGHTS_FILE),
  bank_version: z.string(),
  config: ctrConfigSchema,
  schema: savedFieldsSchema,
});

export interface SaveOptions {
  /** The feature-bank version the profile-ID fields were read from; returned by `loadCtrModel`. */
  bankVersion: string;
}

export interface LoadedCtrModel {
  model: CtrModel;
  bankVersion: string;
}

export async function saveCtrModel(model: CtrModel, dir: string, options: SaveOptions): Promise<void> {
  await mkdir(dir, { recursive: true });
  const weightsFile = `weights-${randomBytes(8).toString('hex')}.safetensors`;
  await writeSafetensors(join(dir, weightsFile), weightTensors(model));
  const json = { format: FORMAT, weights: weightsFile, bank_version: options.bankVersion, config: model.config, schema: savedFields(model.schema) };
  await writeFileAtomic(join(dir, 'model.json'), JSON.stringify(json, null, 2) + '\n');
  for (const f of await readdir(dir)) {
    if (WEIGHTS_FILE.test(f) && f !== weightsFile) await unlink(join(dir, f));
  }
}

export async function loadCtrModel(dir: string, options: CtrModelOptions = {}): Promise<LoadedCtrModel> {
  const jsonPath = join(dir, 'model.json');
  const saved = await readJsonWith(savedSchema, jsonPath, 'a saved CTR model');
  const model = new CtrModel(saved.config, fieldsOf(saved.schema), options);
  const expected = weightTensors(model);
  const reader = await openSafetensors(join(dir, saved.weights));
  try {
    for (const [name, t] of Object.entries(expected)) {
      const info = reader.tensors.get(name);
      if (!info) throw new Error(`${reader.path}: tensor "${name}" is missing`);
      if (info.shape.join() !== t.shape.join()) {
        throw new Error(`${reader.path}: tensor "${name}" has shape [${info.shape}], the model needs [${t.shape}]`);
      }
      t.data.set(await reader.readFiniteFloat32(name));
    }
    const extra = [...reader.tensors.keys()].filter((n) => !(n in expected));
    if (extra.length > 0) throw new Error(`${reader.path}: unexpected tensors ${extra.join(', ')}`);
  } finally {
    await reader.close();
  }
  // Seen masks travel as F32 (the only dtypes the writer has); copy them back into the model.
  model.schema.sparse.forEach((f, i) => model.weights.seen[i].set(expected[`seen.${f.name}`].data));
  return { model, bankVersion: saved.bank_version };
}

const savedFields = (schema: FieldSchema): z.infer<typeof savedFieldsSchema> => ({
  sparse: schema.sparse.map(({ name, vocabSize }) => ({ name, vocab_size: vocabSize })),
  dense: schema.dense,
});

const fieldsOf = (saved: z.infer<typeof savedFieldsSchema>): FieldSchemaInput => ({
  sparse: saved.sparse.map(({ name, vocab_size }) => ({ name, vocabSize: vocab_size })),
  dense: saved.dense,
});

/**
 * The model's tensors by file name. Tables and parameters are views of the model's own arrays, so
 * loading writes straight into them; seen masks are F32 copies.
 */
function weightTensors(model: CtrModel): Record<string, TensorToWrite> {
  const { weights, layout, schema } = model;
  const out: Record<string, TensorToWrite> = {};
  for (const t of layout.tables) {
    const tables = weights.tables.get(t.name) as Float32Array[];
    schema.sparse.forEach((f, i) => (out[`table.${t.name}.${f.name}`] = { dtype: 'F32', shape: [f.vocabSize + 1, t.width], data: tables[i] }));
  }
  for (const p of layout.params) out[`param.${p.name}`] = { dtype: 'F32', shape: p.shape, data: weights.params.get(p.name) as Float32Array };
  schema.sparse.forEach((f, i) => (out[`seen.${f.name}`] = { dtype: 'F32', shape: [f.vocabSize + 1], data: Float32Array.from(weights.seen[i]) }));
  return out;
}
