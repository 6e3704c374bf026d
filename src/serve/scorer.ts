/**
 * Scoring one user against candidate items: raw ids -> the model's table rows (`RequestRows`, the
 * feature pipeline's request encoding) -> click probabilities. The checks that the model, the feature
 * map and the bank belong together run once, when the scorer is made.
 */
import type { BankVersion } from '../bank/index.js';
import { sigmoidInPlace, type CtrModel, type ServingModel } from '../ctr/index.js';
import { FeatureMismatchError, RequestRows, type FeatureIndex } from '../features/index.js';
import { andThen, type Eventually } from './eventually.js';

export class ServeSetupError extends Error {
  override name = 'ServeSetupError';
}

/**
 * One request's arrays: its candidates' item indices, where their ids lie in the bytes the answer
 * copies them from (start and end per candidate), their table rows and their logits (then
 * probabilities), as views of exactly the request's size on arrays kept from request to request.
 */
export class ScoreBuffers {
  private capacity = 0;
  private indexStore = new Int32Array(0);
  private spanStore = new Int32Array(0);
  private rowStore = new Int32Array(0);
  private logitStore = new Float32Array(0);
  indices = this.indexStore;
  spans = this.spanStore;
  rows = this.rowStore;
  logits = this.logitStore;

  constructor(private readonly fields: number) {}

  /** Views for `n` candidates; larger arrays when the kept ones are too small. */
  fit(n: number): this {
    if (n > this.capacity) {
      this.capacity = Math.max(n, 2 * this.capacity);
      this.indexStore = new Int32Array(this.capacity);
      this.spanStore = new Int32Array(2 * this.capacity);
      this.rowStore = new Int32Array(this.capacity * this.fields);
      this.logitStore = new Float32Array(this.capacity);
    }
    this.indices = this.indexStore.subarray(0, n);
    this.spans = this.spanStore.subarray(0, 2 * n);
    this.rows = this.rowStore.subarray(0, n * this.fields);
    this.logits = this.logitStore.subarray(0, n);
    return this;
  }
}

export class Scorer {
  /** The model with its weights frozen for serving, run in this thread: a request feeds only its rows. */
  private readonly serving: ServingModel;
  private readonly rows: RequestRows;
  /** Buffers of requests no longer in flight. */
  private readonly idle: ScoreBuffers[] = [];

  constructor(model: CtrModel, features: FeatureIndex, slots: BankVersion['slots'], threads = 1) {
    try {
      this.rows = new RequestRows(model, features, slots);
    } catch (error) {
      if (error instanceof FeatureMismatchError) throw new ServeSetupError(error.message);
      throw error;
    }
    this.serving = model.serving(threads);
  }

  /** Loads the model's ORT session where it needs one, so that startup fails rather than the first request. */
  ready(): Promise<void> {
    return this.serving.ready();
  }

  /**
   * Runs `use` with buffers for one request, which other requests reuse once it has settled: nothing
   * may keep them (or views of them) after that. A request allocated three typed arrays of its own,
   * each an ArrayBuffer that V8 sweeps at every scavenge: at a thousand requests a second that sweep
   * was over half of each scavenge's pause.
   */
  withBuffers<T>(use: (buffers: ScoreBuffers) => Eventually<T>): Eventually<T> {
    const buffers = this.idle.pop() ?? new ScoreBuffers(this.rows.fields);
    const release = () => this.idle.push(buffers);
    let result: Eventually<T>;
    try {
      result = use(buffers);
    } catch (error) {
      release();
      throw error;
    }
    if (result instanceof Promise) return result.finally(release);
    release();
    return result;
  }

  /** The item indices of `items` (in `buffers.indices`), and the ids the feature map does not know (in request order, once each). */
  itemIndices(items: readonly (string | number)[], buffers: ScoreBuffers): { indices: Int32Array; unknown: string[] } {
    return this.rows.itemIndices(items, buffers.fit(items.length).indices);
  }

  /**
   * One probability per item of `buffers.indices`: at once and in `buffers.logits` where the model
   * runs in this thread (the factored DCN), else once ORT answers. A user the model has no index for
   * scores with the unknown user row. `observe` hears how long each part took.
   */
  score(user: string, profileIds: readonly number[], buffers: ScoreBuffers, observe: (stage: 'feature_encoding' | 'model_forward', seconds: number) => void): Eventually<Float32Array> {
    const started = performance.now();
    const encoded = this.rows.encode(user, profileIds, buffers.indices, buffers.rows);
    const forward = performance.now();
    observe('feature_encoding', (forward - started) / 1000);
    return andThen(this.serving.score(encoded, buffers.logits), (logits) => {
      // The logits are this request's: the probabilities replace them.
      const probabilities = sigmoidInPlace(logits);
      observe('model_forward', (performance.now() - forward) / 1000);
      return probabilities;
    });
  }
}
