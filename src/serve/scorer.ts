/**
 * Scoring one user against candidate items: raw ids -> the model's field ids (through the feature
 * map) -> click probabilities. The checks that the model, the feature map and the bank belong
 * together run once, when the scorer is made.
 */
import type { BankVersion } from '../bank/index.js';
import { sigmoidInPlace, type CtrModel, type ServingModel } from '../ctr/index.js';
import type { FeatureIndex } from './features.js';

export class ServeSetupError extends Error {
  override name = 'ServeSetupError';
}

export class Scorer {
  /** The model with its weights frozen for serving, run in this thread: a request feeds only its rows. */
  private readonly serving: ServingModel;
  /** The model's sparse fields in schema order, by where a request's value comes from. */
  private readonly columns: Column[];
  /** Per catalog item, its table row in the item field and in the attribute field. */
  private readonly itemRows: Int32Array;
  private readonly attributeRows: Int32Array;

  constructor(
    private readonly model: CtrModel,
    private readonly features: FeatureIndex,
    slots: BankVersion['slots'],
    threads = 1,
  ) {
    checkCompatible(model, features, slots);
    const field = (name: string) => model.schema.sparse.findIndex((f) => f.name === name);
    const slotFields = features.slots.map((s) => s.field);
    this.columns = model.schema.sparse.map((f): Column => {
      if (f.name === features.fields.item) return { kind: 'item' };
      if (f.name === features.fields.attribute) return { kind: 'attribute' };
      if (f.name === features.fields.user) return { kind: 'user' };
      return { kind: 'slot', slot: slotFields.indexOf(f.name) };
    });
    const itemField = field(features.fields.item);
    const attributeField = field(features.fields.attribute);
    this.itemRows = Int32Array.from(features.items, (_, i) => model.tableRow(itemField, i));
    this.attributeRows = Int32Array.from(features.itemAttribute, (a) => model.tableRow(attributeField, a));
    this.serving = model.serving(threads);
  }

  /** Loads the model's ORT session where it needs one, so that startup fails rather than the first request. */
  ready(): Promise<void> {
    return this.serving.ready();
  }

  /** The ids of `items` as strings, their item indices, and the ids the feature map does not know (in request order, once each). */
  itemIndices(items: readonly (string | number)[]): { items: string[]; indices: Int32Array; unknown: string[] } {
    const ids = new Array<string>(items.length);
    const indices = new Int32Array(items.length);
    const unknown = new Set<string>();
    for (let i = 0; i < items.length; i++) {
      const id = (ids[i] = String(items[i]));
      const index = this.features.itemIndex.get(id);
      if (index === undefined) unknown.add(id);
      else indices[i] = index;
    }
    return { items: ids, indices, unknown: [...unknown] };
  }

  /**
   * One probability per item. A user the model has no index for scores with the unknown user row.
   * `observe` hears how long each part took.
   */
  async score(user: string, profileIds: readonly number[], items: Int32Array, observe: (stage: 'feature_encoding' | 'model_forward', seconds: number) => void): Promise<Float32Array> {
    const started = performance.now();
    const n = items.length;
    const fields = this.columns.length;
    // Each field's table row: the user's and the profile's are the same on every row.
    const shared = this.columns.map((c, f) =>
      c.kind === 'user' ? this.model.tableRow(f, this.features.userIndex.get(user) ?? -1) : c.kind === 'slot' ? this.model.tableRow(f, profileIds[c.slot]) : 0,
    );
    const rows = new Int32Array(n * fields);
    for (let f = 0; f < fields; f++) {
      const kind = this.columns[f].kind;
      const perItem = kind === 'item' ? this.itemRows : kind === 'attribute' ? this.attributeRows : undefined;
      if (perItem) for (let r = 0; r < n; r++) rows[r * fields + f] = perItem[items[r]];
      else for (let r = 0, row = shared[f]; r < n; r++) rows[r * fields + f] = row;
    }
    const encoded = performance.now();
    observe('feature_encoding', (encoded - started) / 1000);
    // The logits are this request's own array: the probabilities replace them.
    const probabilities = sigmoidInPlace(await this.serving.score({ n, rows, dense: [] }));
    observe('model_forward', (performance.now() - encoded) / 1000);
    return probabilities;
  }
}

/** Where a sparse field's value comes from: the request's user, a profile slot (bank order), or the candidate item. */
type Column = { kind: 'user' } | { kind: 'slot'; slot: number } | { kind: 'item' } | { kind: 'attribute' };

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
