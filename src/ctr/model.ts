/**
 * A CTR model: config, field schema, weights, and the two graphs built once from them (training:
 * loss and gradients; scoring: logits). Sessions are created on first use and reused.
 *
 * Ids map to table rows as id + 1 when the id is known and its row has been trained on; every other
 * id (out of range, or never seen in training) maps to row 0, the unknown row, one per field and
 * shared by every unknown id. Row 0 starts at zero and is trained like any other row, on the training
 * rows that map to it: ids out of range, and the user rows `userIdDropout` drops each epoch. Without
 * either, it stays zero and an unknown id adds nothing.
 */
import { z } from 'zod';
import { Rng, defaultRuntime, type Runtime, float32, type Graph, type HostTensor, type Session } from '../engine/index.js';
import { EmbeddingBag, localTable, type BagBatch } from './bag.js';
import { ctrConfigSchema, type CtrConfig, type CtrConfigInput } from './config.js';
import { NETWORKS } from './models/index.js';
import { buildGraph, type MaskSpec, type ParamSpec, type TableSpec } from './net.js';
import { fieldSchemaSchema, rowCount, type CtrRows, type FieldSchema, type FieldSchemaInput } from './schema.js';
import { ServingModel } from './serving.js';

export interface CtrWeights {
  /** Per table family, one [vocabSize + 1, width] table per sparse field (schema order). */
  tables: Map<string, Float32Array[]>;
  params: Map<string, Float32Array>;
  /** Per sparse field, 1 for each table row some training row has used. */
  seen: Uint8Array[];
}

/** The weight layout a network declares while it is built. */
export interface Layout {
  tables: TableSpec[];
  params: ParamSpec[];
  masks: MaskSpec[];
}

/** Rows as the graphs consume them: table rows [n, F] and the dense columns in schema order. */
export interface EncodedRows {
  n: number;
  rows: Int32Array;
  dense: Float32Array[];
}

export interface CtrModelOptions {
  /** Runs the graphs; the process-wide runtime by default (started on first use). */
  runtime?: Runtime;
}

export interface PredictOptions {
  /**
   * Rows per graph run (default 4096). Matrix kernels block by batch size, so another size may change
   * the last bits of a prediction; the same size always gives the same bits.
   */
  batchSize?: number;
}

/**
 * Callers train with `trainCtr`, score with `predict`, and persist with `saveCtrModel` and
 * `loadCtrModel`; the other members serve those.
 */
export class CtrModel {
  readonly config: CtrConfig;
  readonly schema: FieldSchema;
  readonly layout: Layout;
  readonly weights: CtrWeights;
  readonly bag: EmbeddingBag;
  private readonly runtime?: Runtime;
  private readonly graphs: { train: Graph; score: Graph };
  private readonly sessions: { train?: Promise<Session>; score?: Promise<Session> } = {};
  private servingModel?: ServingModel;

  /** A freshly initialized model (seeded by `config.seed`). */
  constructor(config: CtrConfigInput, schema: FieldSchemaInput, options: CtrModelOptions = {}) {
    this.config = parseOrThrow(ctrConfigSchema, config, 'CTR config');
    this.schema = parseOrThrow(fieldSchemaSchema, schema, 'field schema');
    this.runtime = options.runtime;
    const network = NETWORKS[this.config.model];
    const train = buildGraph(network, this.config, this.schema, true);
    const score = buildGraph(network, this.config, this.schema, false);
    this.graphs = { train: train.graph, score: score.graph };
    this.layout = { tables: train.net.tables, params: train.net.params, masks: train.net.masks };
    this.weights = initWeights(this.layout, this.schema, new Rng(this.config.seed));
    this.bag = new EmbeddingBag(this.schema.sparse.map((f) => f.vocabSize + 1));
  }

  trainSession(): Promise<Session> {
    return (this.sessions.train ??= (this.runtime ?? defaultRuntime()).session(this.graphs.train));
  }

  scoreSession(): Promise<Session> {
    return (this.sessions.score ??= (this.runtime ?? defaultRuntime()).session(this.graphs.score));
  }

  /** Record the ids of training rows, so that they stop scoring as unknown. */
  markSeen(rows: CtrRows): void {
    rowCount(this.schema, rows);
    this.schema.sparse.forEach((f, i) => {
      const seen = this.weights.seen[i];
      for (const id of rows.sparse[f.name]) if (id >= 0 && id < f.vocabSize) seen[id + 1] = 1;
    });
  }

  /** The table row of `id` in sparse field `field` (schema index): id + 1 when known and seen in training, else 0. */
  tableRow(field: number, id: number): number {
    return id >= 0 && id < this.schema.sparse[field].vocabSize && this.weights.seen[field][id + 1] ? id + 1 : 0;
  }

  encode(rows: CtrRows): EncodedRows {
    const n = rowCount(this.schema, rows);
    const fields = this.schema.sparse.length;
    const out = new Int32Array(n * fields);
    this.schema.sparse.forEach((f, i) => {
      const col = rows.sparse[f.name];
      for (let r = 0; r < n; r++) out[r * fields + i] = this.tableRow(i, col[r]);
    });
    return { n, rows: out, dense: this.schema.dense.map((f) => (rows.dense as Record<string, Float32Array>)[f.name]) };
  }

  /** Feeds shared by both graphs for the examples `batch` of `data`, whose rows `bag` collected. */
  feeds(data: EncodedRows, batch: Int32Array, bag: BagBatch): Record<string, HostTensor> {
    const B = batch.length;
    const feeds: Record<string, HostTensor> = { rows: { dtype: 'int32', shape: [B, this.schema.sparse.length], data: bag.local } };
    for (const t of this.layout.tables) {
      feeds[`table.${t.name}`] = float32(localTable(this.weights.tables.get(t.name) as Float32Array[], t.width, bag), [bag.size, t.width]);
    }
    this.schema.dense.forEach((f, i) => {
      const col = data.dense[i];
      const out = new Float32Array(B * f.width);
      for (let j = 0; j < B; j++) out.set(col.subarray(batch[j] * f.width, (batch[j] + 1) * f.width), j * f.width);
      feeds[`dense.${f.name}`] = float32(out, [B, f.width]);
    });
    for (const p of this.layout.params) feeds[`param.${p.name}`] = float32(this.weights.params.get(p.name) as Float32Array, p.shape);
    return feeds;
  }

  /** One logit per row. */
  async predictLogits(rows: CtrRows, options: PredictOptions = {}): Promise<Float32Array> {
    const data = this.encode(rows);
    const batchSize = options.batchSize ?? 4096;
    const session = await this.scoreSession();
    const out = new Float32Array(data.n);
    for (let start = 0; start < data.n; start += batchSize) {
      const batch = range(start, Math.min(start + batchSize, data.n));
      const result = await session.run(this.feeds(data, batch, this.bag.collect(data.rows, batch)), ['logit']);
      out.set(result.logit.data as Float32Array, start);
    }
    return out;
  }

  /** One click probability per row. */
  async predict(rows: CtrRows, options: PredictOptions = {}): Promise<Float32Array> {
    return sigmoid(await this.predictLogits(rows, options));
  }

  /** The model frozen for serving, built on first use from the weights as they are then; `threads`: ORT intra-op threads (first use decides). */
  serving(threads = 1): ServingModel {
    return (this.servingModel ??= new ServingModel(this, threads));
  }
}

/** Click probabilities of logits. */
export function sigmoid(logits: Float32Array): Float32Array {
  return sigmoidInPlace(Float32Array.from(logits));
}

/** Click probabilities of logits, written over them; returns `logits`. */
export function sigmoidInPlace(logits: Float32Array): Float32Array {
  for (let i = 0; i < logits.length; i++) logits[i] = 1 / (1 + Math.exp(-logits[i]));
  return logits;
}

function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`invalid ${what}:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

function range(start: number, end: number): Int32Array {
  const out = new Int32Array(end - start);
  for (let i = 0; i < out.length; i++) out[i] = start + i;
  return out;
}

/**
 * Tables: N(0, normalStd²) except the unknown row, which starts at zero. Matrices: Xavier normal.
 * Vectors (biases): zero. Drawn in layout order from one seeded stream.
 */
function initWeights(layout: Layout, schema: FieldSchema, rng: Rng): CtrWeights {
  const tables = new Map<string, Float32Array[]>();
  for (const t of layout.tables) {
    tables.set(
      t.name,
      schema.sparse.map((f) => {
        const table = new Float32Array((f.vocabSize + 1) * t.width);
        if (t.normalStd > 0) rng.fillNormal(table.subarray(t.width), t.normalStd);
        return table;
      }),
    );
  }
  const params = new Map<string, Float32Array>();
  for (const p of layout.params) {
    const data = new Float32Array(p.shape.reduce((a, b) => a * b, 1));
    if (p.init === 'xavier') rng.fillNormal(data, Math.sqrt(2 / (p.shape[0] + (p.shape[1] ?? 1))));
    params.set(p.name, data);
  }
  return { tables, params, seen: schema.sparse.map((f) => new Uint8Array(f.vocabSize + 1)) };
}
