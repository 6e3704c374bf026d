/**
 * The feature map: how the server turns raw ids into the CTR model's field ids. It is saved as
 * `features.json` next to the model (`saveCtrModel`'s directory) by whoever trains the model, from
 * the same vocabulary the training table used:
 *
 *   users[i]          raw user id of index i of the `user` field
 *   items[i]          raw item id of index i of the `item` field
 *   attributes[a]     name of index a of the item-attribute field (`genre` by default)
 *   item_attribute[i] attribute index of item i
 *   slots[j]          profile slot j (bank order) and the model field its ID feeds (`userip_<slot>`)
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { USER_FIELD } from '../ctr/index.js';
import { writeFileAtomic } from '../io/files.js';

export const FEATURE_MAP_FILE = 'features.json';
/** 2: `item_attribute` (was `itemAttribute`). */
const FORMAT = 'userip-features/2';

const idList = z.array(z.string().min(1)).refine((ids) => new Set(ids).size === ids.length, 'ids must be unique');

export const featureMapSchema = z
  .object({
    format: z.literal(FORMAT),
    fields: z.object({ user: z.string().min(1), item: z.string().min(1), attribute: z.string().min(1) }).strict(),
    slots: z.array(z.object({ name: z.string().min(1), field: z.string().min(1) }).strict()).min(1),
    users: idList,
    items: idList.refine((ids) => ids.length > 0, 'at least one item is needed'),
    attributes: z.array(z.string()).min(1),
    item_attribute: z.array(z.number().int().nonnegative()),
  })
  .strict()
  .superRefine((map, ctx) => {
    if (map.item_attribute.length !== map.items.length) {
      ctx.addIssue({ code: 'custom', path: ['item_attribute'], message: `${map.item_attribute.length} entries for ${map.items.length} items` });
    }
    const bad = map.item_attribute.findIndex((a) => a >= map.attributes.length);
    if (bad >= 0) ctx.addIssue({ code: 'custom', path: ['item_attribute', bad], message: `attribute ${map.item_attribute[bad]} is not below ${map.attributes.length}` });
    const names = [map.fields.user, map.fields.item, map.fields.attribute, ...map.slots.map((s) => s.field)];
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup !== undefined) ctx.addIssue({ code: 'custom', path: ['fields'], message: `field "${dup}" is named twice` });
  });
export type FeatureMap = z.infer<typeof featureMapSchema>;

/** The vocabulary a CTR training table was built with; `buildVocab` gives one. */
export interface FeatureVocab {
  users: ReadonlyMap<string, number>;
  items: ReadonlyMap<string, number>;
  attributes: ReadonlyMap<string, number>;
  /** Attribute index per item index. */
  itemAttribute: ArrayLike<number>;
}

/** The model's field names. */
export interface FeatureFieldNames {
  user: string;
  item: string;
  attribute: string;
}

/** The field names of the training tables (`fieldSchema`), and the feature map's defaults. */
export const FIELDS: FeatureFieldNames = { user: USER_FIELD, item: 'item', attribute: 'genre' };

/** The model field of profile slot `slot`: `userip_<slot>` for the bank's IDs; other prefixes name the comparison's baseline IDs. */
export const slotField = (slot: string, prefix = 'userip'): string => `${prefix}_${slot}`;

/**
 * The feature map of a model trained on `vocab` with one sparse field per profile slot (in the bank's
 * slot order, e.g. the tune run's `slots`). Indices must be dense (0 .. size-1), as `indexIds` makes them.
 */
export function buildFeatureMap(
  vocab: FeatureVocab,
  slots: readonly { name: string; field?: string }[],
  fields: Partial<FeatureFieldNames> = {},
): FeatureMap {
  const map = {
    format: FORMAT,
    fields: { ...FIELDS, ...fields },
    slots: slots.map((s) => ({ name: s.name, field: s.field ?? slotField(s.name) })),
    users: byIndex(vocab.users, 'users'),
    items: byIndex(vocab.items, 'items'),
    attributes: byIndex(vocab.attributes, 'attributes'),
    item_attribute: Array.from(vocab.itemAttribute),
  };
  return parseFeatureMap(map, 'built by buildFeatureMap');
}

/** Writes `<dir>/features.json` atomically; returns its path. */
export async function saveFeatureMap(dir: string, map: FeatureMap): Promise<string> {
  parseFeatureMap(map, `to be saved in ${dir}`);
  await mkdir(dir, { recursive: true });
  const path = join(dir, FEATURE_MAP_FILE);
  await writeFileAtomic(path, JSON.stringify(map) + '\n');
  return path;
}

/** A feature map with lookups by raw id. */
export interface FeatureIndex extends FeatureMap {
  userIndex: ReadonlyMap<string, number>;
  itemIndex: ReadonlyMap<string, number>;
}

/** Reads `<dir>/features.json`. */
export async function loadFeatureMap(dir: string): Promise<FeatureIndex> {
  const path = join(dir, FEATURE_MAP_FILE);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read the feature map ${path} (written next to the model by buildFeatureMap + saveFeatureMap): ${(error as Error).message}`);
  }
  return indexFeatureMap(parseFeatureMap(json, `in ${path}`));
}

export function indexFeatureMap(map: FeatureMap): FeatureIndex {
  return { ...map, userIndex: new Map(map.users.map((u, i) => [u, i])), itemIndex: new Map(map.items.map((item, i) => [item, i])) };
}

function parseFeatureMap(value: unknown, where: string): FeatureMap {
  const parsed = featureMapSchema.safeParse(value);
  if (!parsed.success) throw new Error(`invalid feature map ${where}:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Ids in index order, checking that the indices are exactly 0 .. size-1. */
function byIndex(ids: ReadonlyMap<string, number>, what: string): string[] {
  const out = new Array<string>(ids.size);
  for (const [id, index] of ids) {
    if (!Number.isInteger(index) || index < 0 || index >= ids.size || out[index] !== undefined) {
      throw new Error(`${what}: index ${index} of ${JSON.stringify(id)} is not a unique index in [0, ${ids.size})`);
    }
    out[index] = id;
  }
  return out;
}
