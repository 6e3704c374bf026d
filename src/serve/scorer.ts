/**
 * Scoring one user against candidate items: raw ids -> the model's field ids (through the feature
 * map) -> click probabilities. The checks that the model, the feature map and the bank belong
 * together run once, when the scorer is made.
 */
import type { BankVersion } from '../bank/index.js';
import { sigmoid, type CtrModel, type CtrRows, type ServingModel } from '../ctr/index.js';
import type { FeatureIndex } from './features.js';

export class ServeSetupError extends Error {
  override name = 'ServeSetupError';
}

export class Scorer {
  private readonly fields: { user: string; item: string; attribute: string; slots: string[] };
  /** The model with its weights baked into the scoring graph, run in this thread: a request feeds only its rows. */
  private readonly serving: ServingModel;

  constructor(
    model: CtrModel,
    private readonly features: FeatureIndex,
    slots: BankVersion['slots'],
    threads = 1,
  ) {
    checkCompatible(model, features, slots);
    this.fields = { ...features.fields, slots: features.slots.map((s) => s.field) };
    this.serving = model.serving(threads);
  }

  /** Loads the model's ORT session, so that startup fails rather than the first request. */
  ready(): Promise<void> {
    return this.serving.ready();
  }

  /** Item indices of `items`, and the ids the feature map does not know (in request order, once each). */
  itemIndices(items: readonly string[]): { indices: Int32Array; unknown: string[] } {
    const indices = new Int32Array(items.length);
    const unknown = new Set<string>();
    items.forEach((item, i) => {
      const index = this.features.itemIndex.get(item);
      if (index === undefined) unknown.add(item);
      else indices[i] = index;
    });
    return { indices, unknown: [...unknown] };
  }

  /**
   * One probability per item. A user the model has no index for scores with the unknown user row.
   * `observe` hears how long each part took.
   */
  async score(user: string, profileIds: readonly number[], items: Int32Array, observe: (stage: 'feature_encoding' | 'model_forward', seconds: number) => void): Promise<Float32Array> {
    const started = performance.now();
    const n = items.length;
    const { user: userField, item, attribute, slots } = this.fields;
    const sparse: CtrRows['sparse'] = {
      [userField]: new Int32Array(n).fill(this.features.userIndex.get(user) ?? -1),
      [item]: items,
      [attribute]: Int32Array.from(items, (i) => this.features.itemAttribute[i]),
    };
    slots.forEach((field, j) => (sparse[field] = new Int32Array(n).fill(profileIds[j])));
    const feeds = this.serving.feeds({ sparse });
    const encoded = performance.now();
    observe('feature_encoding', (encoded - started) / 1000);
    const probabilities = sigmoid(await this.serving.logits(feeds));
    observe('model_forward', (performance.now() - encoded) / 1000);
    return probabilities;
  }
}

/** Every field the model reads must come from the feature map or the bank, with matching sizes. */
function checkCompatible(model: CtrModel, features: FeatureIndex, slots: BankVersion['slots']): void {
  const bankSlots = slots.map((s) => s.name).join(', ');
  const mapSlots = features.slots.map((s) => s.name).join(', ');
  if (bankSlots !== mapSlots) {
    throw new ServeSetupError(`the bank's profile slots (${bankSlots}) differ from the feature map's (${mapSlots})`);
  }
  const provided = new Map<string, number>([
    [features.fields.user, features.users.length],
    [features.fields.item, features.items.length],
    [features.fields.attribute, features.attributes.length],
    ...features.slots.map((s, j): [string, number] => [s.field, slots[j].k]),
  ]);
  for (const field of model.schema.sparse) {
    const size = provided.get(field.name);
    if (size === undefined) {
      throw new ServeSetupError(`the model reads sparse field "${field.name}", which the feature map does not provide (it provides ${[...provided.keys()].join(', ')})`);
    }
    if (size !== field.vocabSize) {
      throw new ServeSetupError(`sparse field "${field.name}": the model has ${field.vocabSize} ids, the feature map or bank ${size}`);
    }
  }
  if (model.schema.dense.length > 0) {
    throw new ServeSetupError(`the model reads dense fields (${model.schema.dense.map((f) => f.name).join(', ')}), which the server cannot provide`);
  }
}
