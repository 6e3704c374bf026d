/**
 * Mini-batch training: Adam on mean BCE-with-logits, examples shuffled each epoch by a seeded Rng,
 * validation AUC after every epoch, early stopping with patience, and the best epoch's weights
 * restored at the end. The Adam state persists across epochs (the official code re-creates Adam per
 * epoch, which resets its moments; we do not copy that). With `userIdDropout`, each epoch a fresh
 * share of the rows trains the shared unknown user row (row 0) instead of the user's own, which is the
 * row every user unseen in training scores with.
 */
import { Adam, Rng, float32, type HostTensor } from '../engine/index.js';
import { stepTables, type BagBatch } from './bag.js';
import { auc, logloss } from './metrics.js';
import type { CtrModel, CtrWeights, EncodedRows } from './model.js';
import { USER_FIELD, rowCount, type LabeledRows } from './schema.js';

export interface EpochRecord {
  epoch: number;
  /** Mean training BCE over the epoch's examples (with dropout, as trained). */
  trainLoss: number;
  validAuc?: number;
  validLogloss?: number;
  /** Wall time of the epoch, validation included. */
  seconds: number;
}

export interface TrainResult {
  history: EpochRecord[];
  /** The epoch whose weights the model holds now (the last one without validation rows). */
  bestEpoch: number;
  bestValidAuc?: number;
  stoppedEarly: boolean;
  seconds: number;
}

export interface TrainOptions {
  onEpoch?: (record: EpochRecord) => void;
}

/** Train `model` in place on `train`; with `valid`, stop early on its AUC and keep the best weights. */
export async function trainCtr(model: CtrModel, train: LabeledRows, valid?: LabeledRows, options: TrainOptions = {}): Promise<TrainResult> {
  const start = performance.now();
  const { config } = model;
  const labels = checkLabels(train, 'train', model);
  const validLabels = valid && checkLabels(valid, 'valid', model);
  if (labels.length === 0) throw new Error('train: no rows');
  model.markSeen(train);
  const data = model.encode(train);
  // Shuffles and dropout masks get their own stream, so they do not shift when the layout changes.
  const rng = new Rng(config.seed ^ 0x5eed);
  const opt = new Adam({ lr: config.lr, weightDecay: config.weightDecay });
  const order = Int32Array.from({ length: data.n }, (_, i) => i);
  const dropUserIds = userIdDropper(model, data);

  const history: EpochRecord[] = [];
  let best: { epoch: number; auc: number; weights: Snapshot } | undefined;
  let stoppedEarly = false;
  for (let epoch = 1; epoch <= config.epochs; epoch++) {
    const t0 = performance.now();
    shuffle(order, rng);
    const epochData = dropUserIds?.() ?? data;
    let lossSum = 0;
    for (let s = 0; s < data.n; s += config.batchSize) {
      const batch = order.subarray(s, Math.min(s + config.batchSize, data.n));
      lossSum += (await trainStep(model, opt, rng, epochData, labels, batch)) * batch.length;
    }
    const record: EpochRecord = { epoch, trainLoss: lossSum / data.n, seconds: 0 };
    if (valid && validLabels) {
      const probs = await model.predict(valid);
      record.validAuc = auc(validLabels, probs);
      record.validLogloss = logloss(validLabels, probs);
    }
    record.seconds = (performance.now() - t0) / 1000;
    history.push(record);
    options.onEpoch?.(record);
    if (record.validAuc === undefined) continue;
    if (!best || record.validAuc > best.auc) best = { epoch, auc: record.validAuc, weights: copyWeights(model.weights) };
    else if (epoch - best.epoch >= config.patience) {
      stoppedEarly = epoch < config.epochs;
      break;
    }
  }
  if (best) restoreWeights(model.weights, best.weights);
  return {
    history,
    bestEpoch: best?.epoch ?? history.length,
    bestValidAuc: best?.auc,
    stoppedEarly,
    seconds: (performance.now() - start) / 1000,
  };
}

/** Salt of the user-ID dropout stream, apart from the shuffle and dropout-mask stream. */
const USER_ID_DROPOUT_SALT = 0x1d0f;

/**
 * With `userIdDropout` > 0: a function that returns the epoch's rows, a fresh copy of `data` in which
 * each row's user field points at the unknown row with probability `userIdDropout`. Draws go in row
 * order from their own stream, so the dropped rows depend on the seed and the rows alone.
 */
function userIdDropper(model: CtrModel, data: EncodedRows): (() => EncodedRows) | undefined {
  const p = model.config.userIdDropout;
  if (p === 0) return undefined;
  const field = model.schema.sparse.findIndex((f) => f.name === USER_FIELD);
  if (field < 0) throw new Error(`userIdDropout ${p}: the field schema has no sparse field "${USER_FIELD}" (fields: ${model.schema.sparse.map((f) => f.name).join(', ')})`);
  const fields = model.schema.sparse.length;
  const rng = new Rng(model.config.seed ^ USER_ID_DROPOUT_SALT);
  return () => {
    const rows = data.rows.slice();
    for (let r = 0; r < data.n; r++) if (rng.next() < p) rows[r * fields + field] = 0;
    return { ...data, rows };
  };
}

/** One Adam step on the examples `batch`; returns the batch's mean loss. */
async function trainStep(model: CtrModel, opt: Adam, rng: Rng, data: EncodedRows, labels: Float32Array, batch: Int32Array): Promise<number> {
  const bag = model.bag.collect(data.rows, batch);
  const out = await batchGradients(model, data, labels, batch, bag, rng);
  applyGradients(model, opt, bag, out);
  return (out.loss.data as Float32Array)[0];
}

/** The training graph's outputs (loss and gradients) on one batch; dropout masks drawn from `rng`. */
export async function batchGradients(
  model: CtrModel,
  data: EncodedRows,
  labels: Float32Array,
  batch: Int32Array,
  bag: BagBatch,
  rng: Rng,
): Promise<Record<string, HostTensor>> {
  const feeds = model.feeds(data, batch, bag);
  feeds.labels = float32(Float32Array.from(batch, (i) => labels[i]), [batch.length]);
  for (const m of model.layout.masks) {
    const mask = new Float32Array(batch.length * m.width);
    for (let i = 0; i < mask.length; i++) mask[i] = rng.next() < m.keep ? 1 / m.keep : 0;
    feeds[m.name] = float32(mask, [batch.length, m.width]);
  }
  return (await model.trainSession()).run(feeds);
}

function applyGradients(model: CtrModel, opt: Adam, bag: BagBatch, out: Record<string, HostTensor>): void {
  const { weights, layout, schema } = model;
  opt.step(
    layout.params.map((p) => ({ name: `param.${p.name}`, data: weights.params.get(p.name) as Float32Array })),
    layout.params.map((p) => out[`grad.param.${p.name}`].data as Float32Array),
  );
  for (const t of layout.tables) {
    const names = schema.sparse.map((f) => `table.${t.name}.${f.name}`);
    stepTables(opt, names, weights.tables.get(t.name) as Float32Array[], t.width, bag, out[`grad.table.${t.name}`].data as Float32Array);
  }
}

/** The labels as float32, checked: 0 or 1, one per row, and both classes where AUC is measured. */
function checkLabels(rows: LabeledRows, split: 'train' | 'valid', model: CtrModel): Float32Array {
  const labels = Float32Array.from(rows.labels);
  const n = rowCount(model.schema, rows);
  if (labels.length !== n) throw new Error(`${split}: ${labels.length} labels for ${n} rows`);
  let positives = 0;
  for (const y of labels) {
    if (y !== 0 && y !== 1) throw new Error(`${split}: labels must be 0 or 1, found ${y}`);
    positives += y;
  }
  if (split === 'valid' && (positives === 0 || positives === n)) {
    throw new Error(`valid: AUC needs both classes, but all ${n} labels are ${positives ? 1 : 0}`);
  }
  return labels;
}

function shuffle(order: Int32Array, rng: Rng): void {
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
}

/** What training changes. */
type Snapshot = Pick<CtrWeights, 'tables' | 'params'>;

function copyWeights(w: CtrWeights): Snapshot {
  return {
    tables: new Map([...w.tables].map(([k, ts]) => [k, ts.map((t) => t.slice())])),
    params: new Map([...w.params].map(([k, p]) => [k, p.slice()])),
  };
}

function restoreWeights(w: CtrWeights, from: Snapshot): void {
  for (const [k, ts] of from.tables) ts.forEach((t, i) => (w.tables.get(k) as Float32Array[])[i].set(t));
  for (const [k, p] of from.params) (w.params.get(k) as Float32Array).set(p);
}
