/**
 * Linear probe: how much of a user attribute a representation (soft tokens, MF vectors) holds
 * linearly. Multinomial logistic regression with an L2 penalty, trained full-batch with Adam on
 * standardized features (learning rate decayed linearly to zero), scored by k-fold cross-validation
 * over a seeded shuffle of the users. The penalty is chosen per fold from a grid on a holdout of the
 * training folds: with as many dimensions as users (soft tokens), any fixed small penalty fits noise
 * and lands below chance, while a large one hides real signal in MF's 16 dimensions. Chance is the
 * accuracy of always predicting the training folds' majority class, on the same folds.
 */
import { Rng } from '../engine/index.js';

export interface ProbeOptions {
  folds: number;
  seed: number;
  /** Candidate L2 weights on the weights (not the biases), per example. */
  l2Grid: number[];
  iterations: number;
  lr: number;
}

export const DEFAULT_PROBE: ProbeOptions = { folds: 5, seed: 0, l2Grid: [1e-2, 1e-1, 1, 10, 100], iterations: 150, lr: 0.05 };

/** Share of the training folds held out to choose the penalty. */
const HOLDOUT = 0.2;

export interface ProbeResult {
  /** Held-out accuracy over all folds (every example is held out once). */
  accuracy: number;
  /** Held-out accuracy of the training folds' majority class. */
  majority: number;
  folds: number;
  /** The penalty chosen in each fold. */
  l2: number[];
}

/** A fitted softmax classifier over standardized features. */
interface Classifier {
  classes: number;
  d: number;
  shift: Float64Array;
  scale: Float64Array;
  /** [classes, d] weights, then [classes] biases. */
  w: Float64Array;
}

/** Fit on the rows `index` of `x` ([n, d]); labels in [0, classes). */
function fitSoftmax(x: Float32Array, d: number, labels: ArrayLike<number>, classes: number, index: ArrayLike<number>, l2: number, options: Pick<ProbeOptions, 'iterations' | 'lr'>): Classifier {
  const m = index.length;
  const shift = new Float64Array(d);
  const scale = new Float64Array(d);
  for (let r = 0; r < m; r++) for (let j = 0; j < d; j++) shift[j] += x[index[r] * d + j] / m;
  for (let r = 0; r < m; r++) for (let j = 0; j < d; j++) scale[j] += (x[index[r] * d + j] - shift[j]) ** 2 / m;
  // A constant feature carries nothing; scale 1 keeps it at zero instead of dividing by zero.
  for (let j = 0; j < d; j++) scale[j] = scale[j] > 1e-12 ? 1 / Math.sqrt(scale[j]) : 1;
  const z = new Float64Array(m * d);
  for (let r = 0; r < m; r++) for (let j = 0; j < d; j++) z[r * d + j] = (x[index[r] * d + j] - shift[j]) * scale[j];

  const size = classes * d + classes;
  const w = new Float64Array(size);
  const grad = new Float64Array(size);
  const m1 = new Float64Array(size);
  const m2 = new Float64Array(size);
  const p = new Float64Array(classes);
  const [b1, b2] = [0.9, 0.999];
  for (let step = 1; step <= options.iterations; step++) {
    // Adam's steps keep their size near the optimum; a linear decay to zero lets it settle there.
    const lr = options.lr * (1 - (step - 1) / options.iterations);
    grad.fill(0);
    for (let r = 0; r < m; r++) {
      softmaxRow(w, z, r * d, d, classes, p);
      p[labels[index[r]]] -= 1;
      for (let c = 0; c < classes; c++) {
        const g = p[c] / m;
        if (g === 0) continue;
        const row = c * d;
        for (let j = 0; j < d; j++) grad[row + j] += g * z[r * d + j];
        grad[classes * d + c] += g;
      }
    }
    for (let i = 0; i < classes * d; i++) grad[i] += l2 * w[i];
    for (let i = 0; i < size; i++) {
      m1[i] = b1 * m1[i] + (1 - b1) * grad[i];
      m2[i] = b2 * m2[i] + (1 - b2) * grad[i] * grad[i];
      w[i] -= (lr * (m1[i] / (1 - b1 ** step))) / (Math.sqrt(m2[i] / (1 - b2 ** step)) + 1e-8);
    }
  }
  return { classes, d, shift, scale, w };
}

/** Class probabilities of standardized row `z[offset .. offset + d)` into `out`. */
function softmaxRow(w: Float64Array, z: Float64Array, offset: number, d: number, classes: number, out: Float64Array): void {
  let max = -Infinity;
  for (let c = 0; c < classes; c++) {
    let s = w[classes * d + c];
    for (let j = 0; j < d; j++) s += w[c * d + j] * z[offset + j];
    out[c] = s;
    if (s > max) max = s;
  }
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += out[c] = Math.exp(out[c] - max);
  for (let c = 0; c < classes; c++) out[c] /= sum;
}

function probabilities(model: Classifier, x: Float32Array, row: number): Float64Array {
  const { d, classes } = model;
  const z = new Float64Array(d);
  for (let j = 0; j < d; j++) z[j] = (x[row * d + j] - model.shift[j]) * model.scale[j];
  const p = new Float64Array(classes);
  softmaxRow(model.w, z, 0, d, classes, p);
  return p;
}

function predictSoftmax(model: Classifier, x: Float32Array, row: number): number {
  const p = probabilities(model, x, row);
  return p.indexOf(Math.max(...p));
}

function countCorrect(model: Classifier, x: Float32Array, labels: ArrayLike<number>, rows: readonly number[]): number {
  return rows.filter((r) => predictSoftmax(model, x, r) === labels[r]).length;
}

/** Mean cross-entropy of the model on `rows`: smoother than accuracy, so the grid's penalties rarely tie. */
function crossEntropy(model: Classifier, x: Float32Array, labels: ArrayLike<number>, rows: readonly number[]): number {
  return rows.reduce((s, r) => s - Math.log(Math.max(probabilities(model, x, r)[labels[r]], 1e-12)), 0) / rows.length;
}

/** The grid's penalty with the lowest cross-entropy on a seeded holdout of `train`. */
function chooseL2(x: Float32Array, d: number, labels: ArrayLike<number>, classes: number, train: number[], options: ProbeOptions, rng: Rng): number {
  const shuffled = rng.shuffle([...train]);
  const cut = Math.max(1, Math.round(shuffled.length * HOLDOUT));
  const [holdout, fit] = [shuffled.slice(0, cut), shuffled.slice(cut)];
  let best = { l2: options.l2Grid[0], loss: Infinity };
  for (const l2 of options.l2Grid) {
    const loss = crossEntropy(fitSoftmax(x, d, labels, classes, fit, l2, options), x, labels, holdout);
    if (loss < best.loss) best = { l2, loss };
  }
  return best.l2;
}

/** k-fold held-out accuracy of the probe and of the majority class, on `n` rows of `x` ([n, d]). */
export function probeAccuracy(x: Float32Array, d: number, labels: ArrayLike<number>, classes: number, options: ProbeOptions = DEFAULT_PROBE): ProbeResult {
  const n = labels.length;
  if (x.length !== n * d) throw new Error(`probe: ${x.length} feature values for ${n} rows of width ${d}`);
  const folds = Math.min(options.folds, n);
  if (folds < 2) throw new Error(`probe: need at least 2 rows for cross-validation, got ${n}`);
  const rng = new Rng(options.seed);
  const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  let correct = 0;
  let majorityCorrect = 0;
  const chosen: number[] = [];
  for (let f = 0; f < folds; f++) {
    const test = order.filter((_, i) => i % folds === f);
    const train = order.filter((_, i) => i % folds !== f);
    const l2 = options.l2Grid.length > 1 ? chooseL2(x, d, labels, classes, train, options, rng) : options.l2Grid[0];
    chosen.push(l2);
    correct += countCorrect(fitSoftmax(x, d, labels, classes, train, l2, options), x, labels, test);
    const seen = new Array<number>(classes).fill(0);
    for (const r of train) seen[labels[r]]++;
    const majority = seen.indexOf(Math.max(...seen));
    majorityCorrect += test.filter((r) => labels[r] === majority).length;
  }
  return { accuracy: correct / n, majority: majorityCorrect / n, folds, l2: chosen };
}
