/**
 * Serving rows: one user's request against candidate items, encoded as the model's table rows (what
 * `CtrModel.encode` makes of the training rows `ctrTable` builds), through the feature map the model
 * was saved with. Everything that does not depend on the request is worked out once: which field
 * takes which value, and each catalog item's rows in the item and attribute fields.
 */
import type { BankVersion } from '../bank/index.js';
import type { CtrModel, EncodedRows } from '../ctr/index.js';
import type { FeatureIndex } from './map.js';

/** The model, the feature map and the bank's slots do not belong together. */
export class FeatureMismatchError extends Error {
  override name = 'FeatureMismatchError';
}

/** Where a sparse field's value comes from: the request's user, a profile slot (bank order), or the candidate item. */
type Column = { kind: 'user' } | { kind: 'slot'; slot: number } | { kind: 'item' } | { kind: 'attribute' };

export class RequestRows {
  /** The model's sparse fields in schema order, by where a request's value comes from. */
  private readonly columns: Column[];
  /** Per catalog item, its table row in the item field and in the attribute field. */
  private readonly itemRows: Int32Array;
  private readonly attributeRows: Int32Array;

  /** Table rows per candidate: the model's sparse fields. */
  get fields(): number {
    return this.columns.length;
  }

  /** Checks that every field the model reads comes from the feature map or the bank, with matching sizes. */
  constructor(
    private readonly model: CtrModel,
    private readonly features: FeatureIndex,
    slots: BankVersion['slots'],
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
    this.attributeRows = Int32Array.from(features.item_attribute, (a) => model.tableRow(attributeField, a));
  }

  /**
   * The item indices of `items` (ids, numbers taken as their strings), written to `into` (of their
   * number) when given, and the ids the feature map does not know (in request order, once each).
   */
  itemIndices(items: readonly (string | number)[], into: Int32Array = new Int32Array(items.length)): { indices: Int32Array; unknown: string[] } {
    const indices = exactly(into, items.length);
    let unknown: Set<string> | undefined;
    for (let i = 0; i < items.length; i++) {
      const id = String(items[i]);
      const index = this.features.itemIndex.get(id);
      if (index === undefined) (unknown ??= new Set()).add(id);
      else indices[i] = index;
    }
    return { indices, unknown: unknown ? [...unknown] : [] };
  }

  /**
   * The rows of `user` (with profile IDs `profileIds`, bank slot order) against item indices `items`,
   * written to `into` (of n x fields numbers) when given. A user the map does not know takes the unknown user row.
   */
  encode(user: string, profileIds: readonly number[], items: Int32Array, into: Int32Array = new Int32Array(items.length * this.columns.length)): EncodedRows {
    const n = items.length;
    const fields = this.columns.length;
    const rows = exactly(into, n * fields);
    for (let f = 0; f < fields; f++) {
      const column = this.columns[f];
      if (column.kind === 'item' || column.kind === 'attribute') {
        const perItem = column.kind === 'item' ? this.itemRows : this.attributeRows;
        for (let r = 0; r < n; r++) rows[r * fields + f] = perItem[items[r]];
        continue;
      }
      // The user's and the profile's rows are the same on every row.
      const row = this.model.tableRow(f, column.kind === 'user' ? (this.features.userIndex.get(user) ?? -1) : profileIds[column.slot]);
      for (let r = 0; r < n; r++) rows[r * fields + f] = row;
    }
    return { n, rows, dense: [] };
  }
}

function exactly(buffer: Int32Array, length: number): Int32Array {
  if (buffer.length !== length) throw new RangeError(`expected an output of ${length} numbers, got ${buffer.length}`);
  return buffer;
}

function checkCompatible(model: CtrModel, features: FeatureIndex, slots: BankVersion['slots']): void {
  const bankSlots = slots.map((s) => s.name).join(', ');
  const mapSlots = features.slots.map((s) => s.name).join(', ');
  if (bankSlots !== mapSlots) {
    throw new FeatureMismatchError(`the bank's profile slots (${bankSlots}) differ from the feature map's (${mapSlots})`);
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
      throw new FeatureMismatchError(`the model reads sparse field "${field.name}", which the feature map does not provide (it provides ${[...provided.keys()].join(', ')})`);
    }
    if (size !== field.vocabSize) {
      throw new FeatureMismatchError(`sparse field "${field.name}": the model has ${field.vocabSize} ids, the feature map or bank ${size}`);
    }
  }
  if (model.schema.dense.length > 0) {
    throw new FeatureMismatchError(`the model reads dense fields (${model.schema.dense.map((f) => f.name).join(', ')}), which the server cannot provide`);
  }
}
