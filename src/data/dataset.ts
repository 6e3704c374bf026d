/** The canonical tables every reader produces, whatever the source format. */

export interface Interaction {
  user: string;
  item: string;
  rating: number;
  /** Unix seconds. */
  timestamp: number;
  review?: string;
  summary?: string;
}

export interface ItemInfo {
  item: string;
  title?: string;
  genres?: string[];
  categories?: string[];
  brand?: string;
  price?: number;
  year?: number;
  description?: string;
}

export interface Dataset {
  name: string;
  interactions: Interaction[];
  items: Map<string, ItemInfo>;
  /** True user attributes where the format has them (MovieLens 100K/1M: age, gender, occupation, zip). */
  users?: Map<string, Record<string, string>>;
}

/** The CTR click label: a rating above the threshold counts as a click (the official code uses > 3). */
export function clickLabel(rating: number, threshold = 3): boolean {
  return rating > threshold;
}

/** Dense ids 0..n-1 in order of first appearance (as the official code's EntityDictionary assigns them). */
export function indexIds(values: Iterable<string>): Map<string, number> {
  const ids = new Map<string, number>();
  for (const value of values) if (!ids.has(value)) ids.set(value, ids.size);
  return ids;
}

/** Copies only the defined fields, so optional fields are absent rather than present-but-undefined. */
export function withoutUndefined<T extends object>(fields: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) out[key] = value;
  return out as T;
}
