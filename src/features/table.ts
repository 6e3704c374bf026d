/**
 * Training and evaluation rows: interactions -> typed columns (user, item, item attribute, label),
 * plus per-user fields (profile IDs, soft tokens) gathered onto the rows by user index, and the CTR
 * field schema they make. The field names are the feature map's (`FIELDS`, `slotField`), so a model
 * trained on these rows is served by the map built from the same vocabulary.
 *
 * The item attribute is one categorical field, `genre`: an item's first listed genre (MovieLens lists
 * them alphabetically) or, for catalogs with categories instead (Amazon, Yelp), its last listed
 * category (the most specific one of the last path); items with neither share the value "(none)". The
 * CTR library has no multi-valued fields, and one primary attribute keeps every model comparable.
 */
import { clickLabel, indexIds, type Interaction, type ItemInfo } from '../data/index.js';
import type { FieldSchemaInput, LabeledRows } from '../ctr/index.js';
import { FIELDS, slotField } from './map.js';

const NO_ATTRIBUTE = '(none)';

function primaryAttribute(item: ItemInfo | undefined): string {
  return item?.genres?.[0] ?? item?.categories?.at(-1) ?? NO_ATTRIBUTE;
}

/** Dense indices over the whole dataset (every split), so that all tables agree on them. */
export interface Vocab {
  users: Map<string, number>;
  items: Map<string, number>;
  attributes: Map<string, number>;
  /** Attribute index per item index. */
  itemAttribute: Int32Array;
}

export function buildVocab(interactions: readonly Interaction[], items: ReadonlyMap<string, ItemInfo>): Vocab {
  const users = indexIds(interactions.map((i) => i.user));
  const itemIds = indexIds([...items.keys(), ...interactions.map((i) => i.item)]);
  const names = [...itemIds.keys()].map((item) => primaryAttribute(items.get(item)));
  const attributes = indexIds(names);
  return { users, items: itemIds, attributes, itemAttribute: Int32Array.from(names, (a) => attributes.get(a)!) };
}

/** Interactions as MF ratings keyed by vocab indices. */
export function ratingRows(interactions: readonly Interaction[], vocab: Vocab): { user: number; item: number; value: number }[] {
  return interactions.map((i) => ({ user: vocab.users.get(i.user)!, item: vocab.items.get(i.item)!, value: i.rating }));
}

/** Interactions as columns of vocab indices, with click labels. */
export interface RowSet {
  user: Int32Array;
  item: Int32Array;
  genre: Int32Array;
  labels: Float32Array;
}

export function encodeRows(interactions: readonly Interaction[], vocab: Vocab, threshold: number): RowSet {
  const item = Int32Array.from(interactions, (i) => vocab.items.get(i.item)!);
  return {
    user: Int32Array.from(interactions, (i) => vocab.users.get(i.user)!),
    item,
    genre: Int32Array.from(item, (it) => vocab.itemAttribute[it]),
    labels: Float32Array.from(interactions, (i) => (clickLabel(i.rating, threshold) ? 1 : 0)),
  };
}

/** The rows `keep` picks, in order. */
export function selectRows(rows: RowSet, keep: (row: number) => boolean): RowSet {
  const index: number[] = [];
  for (let r = 0; r < rows.labels.length; r++) if (keep(r)) index.push(r);
  return {
    user: Int32Array.from(index, (r) => rows.user[r]),
    item: Int32Array.from(index, (r) => rows.item[r]),
    genre: Int32Array.from(index, (r) => rows.genre[r]),
    labels: Float32Array.from(index, (r) => rows.labels[r]),
  };
}

/** Per-user fields added to the ID fields: each sparse field gives one id per user index (-1: unknown). */
export interface UserFields {
  sparse: { name: string; vocabSize: number; perUser: Int32Array }[];
  /** [users, width] row-major; users without a value hold zeros. */
  dense?: { name: string; width: number; perUser: Float32Array };
}

/** One sparse field per profile slot, named `<prefix>_<slot>` (`slotField`), from per-slot columns of per-user IDs. */
export function slotIdFields(prefix: string, slots: readonly { name: string; k: number }[], ids: readonly Int32Array[]): UserFields['sparse'] {
  return slots.map((s, j) => ({ name: slotField(s.name, prefix), vocabSize: s.k, perUser: ids[j] }));
}

export function fieldSchema(vocab: Vocab, fields: UserFields): FieldSchemaInput {
  return {
    sparse: [
      { name: FIELDS.user, vocabSize: vocab.users.size },
      { name: FIELDS.item, vocabSize: vocab.items.size },
      { name: FIELDS.attribute, vocabSize: vocab.attributes.size },
      ...fields.sparse.map(({ name, vocabSize }) => ({ name, vocabSize })),
    ],
    dense: fields.dense ? [{ name: fields.dense.name, width: fields.dense.width }] : [],
  };
}

export function ctrTable(rows: RowSet, fields: UserFields): LabeledRows {
  const sparse: Record<string, Int32Array> = { [FIELDS.user]: rows.user, [FIELDS.item]: rows.item, [FIELDS.attribute]: rows.genre };
  for (const f of fields.sparse) sparse[f.name] = Int32Array.from(rows.user, (u) => f.perUser[u]);
  const table: LabeledRows = { sparse, labels: rows.labels };
  if (fields.dense) {
    const { name, width, perUser } = fields.dense;
    const column = new Float32Array(rows.user.length * width);
    rows.user.forEach((u, r) => column.set(perUser.subarray(u * width, (u + 1) * width), r * width));
    table.dense = { [name]: column };
  }
  return table;
}
