/**
 * CTR benchmark: DCN training and scoring throughput on a synthetic dataset shaped like MovieLens
 * latest-small (610 users, 9742 items, ~80k training rows) with the fields the evaluation uses: user,
 * item, genre and two profile-ID fields. Labels are drawn from a hidden user-item factor model, so
 * the validation AUC (next to the hidden model's own, `oracle_auc`) shows the model learns while it is
 * timed. One line per batch size; the last is the default config's.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { CtrModel, auc, trainCtr, type CtrConfigInput, type FieldSchemaInput, type LabeledRows } from '../src/ctr/index.js';
import { Rng, Runtime } from '../src/engine/index.js';
import { emit, median, peakRssMb, timeMedian, round } from './util.js';

const USERS = 610;
const ITEMS = 9742;
const GENRES = 20;
const HOBBY = 4;
const BACKGROUND = 3;
const FACTORS = 4;

const SCHEMA: FieldSchemaInput = {
  sparse: [
    { name: 'user', vocabSize: USERS },
    { name: 'item', vocabSize: ITEMS },
    { name: 'genre', vocabSize: GENRES },
    { name: 'hobby', vocabSize: HOBBY },
    { name: 'background', vocabSize: BACKGROUND },
  ],
};

interface World {
  userVec: Float32Array;
  itemVec: Float32Array;
  userBias: Float32Array;
  itemGenre: Int32Array;
  hobby: Int32Array;
  background: Int32Array;
  userWeight: Float64Array;
  itemWeight: Float64Array;
}

/** Hidden factors; activity and popularity are Zipf-like, as in MovieLens. */
function makeWorld(rng: Rng): World {
  const userVec = rng.fillNormal(new Float32Array(USERS * FACTORS));
  const itemVec = rng.fillNormal(new Float32Array(ITEMS * FACTORS), 0.7);
  const userBias = rng.fillNormal(new Float32Array(USERS), 0.8);
  const itemGenre = Int32Array.from({ length: ITEMS }, () => rng.int(GENRES));
  // Profile IDs summarise the hidden user factors: the dominant factor, and a bias tercile.
  const hobby = Int32Array.from({ length: USERS }, (_, u) => {
    const v = userVec.subarray(u * FACTORS, (u + 1) * FACTORS);
    return v.indexOf(Math.max(...v));
  });
  const background = Int32Array.from(userBias, (b) => (b < -0.35 ? 0 : b < 0.35 ? 1 : 2));
  const zipf = (n: number, s: number) => cumulative(Float64Array.from({ length: n }, (_, i) => 1 / (i + 1) ** s));
  return { userVec, itemVec, userBias, itemGenre, hobby, background, userWeight: zipf(USERS, 0.7), itemWeight: zipf(ITEMS, 0.9) };
}

function cumulative(w: Float64Array): Float64Array {
  for (let i = 1; i < w.length; i++) w[i] += w[i - 1];
  return w.map((x) => x / w[w.length - 1]);
}

function draw(cdf: Float64Array, rng: Rng): number {
  const x = rng.next();
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Rows with labels drawn from the hidden model, and that model's click probabilities. */
function sample(world: World, rows: number, rng: Rng): LabeledRows & { truth: Float32Array } {
  const user = new Int32Array(rows);
  const item = new Int32Array(rows);
  const labels = new Float32Array(rows);
  const truth = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    const u = (user[i] = draw(world.userWeight, rng));
    const it = (item[i] = draw(world.itemWeight, rng));
    let logit = world.userBias[u];
    for (let k = 0; k < FACTORS; k++) logit += world.userVec[u * FACTORS + k] * world.itemVec[it * FACTORS + k];
    truth[i] = 1 / (1 + Math.exp(-logit));
    labels[i] = rng.next() < truth[i] ? 1 : 0;
  }
  return {
    truth,
    sparse: {
      user,
      item,
      genre: Int32Array.from(item, (it) => world.itemGenre[it]),
      hobby: Int32Array.from(user, (u) => world.hobby[u]),
      background: Int32Array.from(user, (u) => world.background[u]),
    },
    labels,
  };
}

export async function ctrBench(): Promise<void> {
  const threads = availableParallelism();
  const rt = new Runtime({ threads });
  const rng = new Rng(0);
  const world = makeWorld(rng);
  const train = sample(world, 80_000, rng);
  const valid = sample(world, 10_000, rng);
  const epochs = 5;
  for (const batchSize of [1024, 256]) {
    const config: CtrConfigInput = { model: 'dcn', batchSize, epochs };
    const model = new CtrModel(config, SCHEMA, { runtime: rt });
    const t0 = performance.now();
    const { history } = await trainCtr(model, train);
    const trainSeconds = (performance.now() - t0) / 1000;
    // The first epoch includes session creation and warm-up runs; the rate is over the others.
    const epochSeconds = median(history.slice(1).map((h) => h.seconds));
    const scoreSeconds = await timeMedian(() => model.predict(train), 1, 5);
    emit({
      bench: 'ctr',
      model: 'dcn',
      threads,
      batch_size: batchSize,
      train_rows: train.labels.length,
      epochs,
      train_rows_per_s: Math.round(train.labels.length / epochSeconds),
      train_seconds: round(trainSeconds),
      score_rows_per_s: Math.round(train.labels.length / scoreSeconds),
      score_batch_size: 4096,
      valid_auc: round(auc(valid.labels, await model.predict(valid)), 4),
      oracle_auc: round(auc(valid.labels, valid.truth), 4),
      peak_rss_mb: peakRssMb(),
    });
  }
  await rt.close();
}

