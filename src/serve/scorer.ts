/**
 * Scoring one user against candidate items: raw ids -> the model's table rows (`RequestRows`, the
 * feature pipeline's request encoding) -> click probabilities. The checks that the model, the feature
 * map and the bank belong together run once, when the scorer is made.
 */
import type { BankVersion } from '../bank/index.js';
import { sigmoidInPlace, type CtrModel, type ServingModel } from '../ctr/index.js';
import { FeatureMismatchError, RequestRows, type FeatureIndex } from '../features/index.js';

export class ServeSetupError extends Error {
  override name = 'ServeSetupError';
}

export class Scorer {
  /** The model with its weights frozen for serving, run in this thread: a request feeds only its rows. */
  private readonly serving: ServingModel;
  private readonly rows: RequestRows;

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

  /** The item indices of `items`, and the ids the feature map does not know (in request order, once each). */
  itemIndices(items: readonly (string | number)[]): { indices: Int32Array; unknown: string[] } {
    return this.rows.itemIndices(items);
  }

  /**
   * One probability per item. A user the model has no index for scores with the unknown user row.
   * `observe` hears how long each part took.
   */
  async score(user: string, profileIds: readonly number[], items: Int32Array, observe: (stage: 'feature_encoding' | 'model_forward', seconds: number) => void): Promise<Float32Array> {
    const started = performance.now();
    const encoded = this.rows.encode(user, profileIds, items);
    const forward = performance.now();
    observe('feature_encoding', (forward - started) / 1000);
    // The logits are this request's own array: the probabilities replace them.
    const probabilities = sigmoidInPlace(await this.serving.score(encoded));
    observe('model_forward', (performance.now() - forward) / 1000);
    return probabilities;
  }
}
