/**
 * Per-user behaviour text: the text the LM scores given a user's soft tokens. One line per interaction,
 * in time order (src/profile packs a user's lines into windows of a token budget). Token counts come from
 * the caller, so this module does not depend on a tokenizer.
 */
import type { Interaction, ItemInfo } from './dataset.js';
import { positionsByUser, sortByTime } from './split.js';

/** 'items': what the user interacted with; 'reviews': what they wrote; 'both': item text, then review. */
export type BehaviourSource = 'items' | 'reviews' | 'both';
export type ItemField = 'title' | 'year' | 'genres' | 'categories' | 'brand' | 'price' | 'description';

export interface BehaviourOptions {
  countTokens: (text: string) => number;
  /** Token budget of one window of a user's lines (src/profile packs them). */
  maxTokens: number;
  /** Default 'items'. */
  source?: BehaviourSource;
  /** Item fields in the item text, in this order; default title, year, genres, categories, brand, price. */
  itemFields?: readonly ItemField[];
  /** End each interaction's item text with the user's rating ("; rated 4.5"). Default false. */
  ratings?: boolean;
  /** Write the rating as "liked" (above this threshold: the data's click label) or "disliked", not as a number. */
  likedAbove?: number;
  /** Cut each interaction's text to this many tokens (the official code keeps 15 tokens of each review). */
  maxTokensPerInteraction?: number;
  /** Between interactions; default a newline. */
  separator?: string;
}

const DEFAULT_FIELDS: readonly ItemField[] = ['title', 'year', 'genres', 'categories', 'brand', 'price'];

/** One interaction's behaviour line, and where its rating is in it. */
export interface BehaviourLine {
  text: string;
  /** Characters [start, end) of the rating ("rated 4.5") in `text`; absent when the line has none. */
  rating?: [number, number];
}

/**
 * user → every interaction's line, oldest first (whole-history tuning packs them into windows; pass the
 * TRAIN part of a split). `maxTokens` does not apply here; `maxTokensPerInteraction` does.
 */
export function behaviourLines(
  interactions: readonly Interaction[],
  items: ReadonlyMap<string, ItemInfo>,
  options: Omit<BehaviourOptions, 'maxTokens'>,
): Map<string, string[]> {
  return new Map([...ratedBehaviourLines(interactions, items, options)].map(([user, lines]) => [user, lines.map((line) => line.text)]));
}

/** `behaviourLines`, with each line's rating span (the tuner can weigh the rating's tokens). */
export function ratedBehaviourLines(
  interactions: readonly Interaction[],
  items: ReadonlyMap<string, ItemInfo>,
  options: Omit<BehaviourOptions, 'maxTokens'>,
): Map<string, BehaviourLine[]> {
  const perLine = options.maxTokensPerInteraction;
  const out = new Map<string, BehaviourLine[]>();
  for (const [user, positions] of positionsByUser(interactions)) {
    const lines = sortByTime(positions.map((position) => interactions[position]))
      .map((interaction) => interactionLine(interaction, items.get(interaction.item), options))
      .map((line) => (perLine === undefined ? line : cutLine(line, cutToTokens(line.text, perLine, options.countTokens))))
      .filter((line) => line.text !== '');
    if (lines.length) out.set(user, lines);
  }
  return out;
}

/** A line cut to a prefix of its text keeps what is left of its rating span. */
function cutLine(line: BehaviourLine, text: string): BehaviourLine {
  if (!line.rating || line.rating[0] >= text.length) return { text };
  return { text, rating: [line.rating[0], Math.min(line.rating[1], text.length)] };
}

function interactionLine(interaction: Interaction, item: ItemInfo | undefined, options: Omit<BehaviourOptions, 'maxTokens'>): BehaviourLine {
  const source = options.source ?? 'items';
  const itemPart = source === 'reviews' || !item ? '' : itemText(item, options.itemFields ?? DEFAULT_FIELDS);
  const ratingPart = options.ratings ? ratingText(interaction.rating, options.likedAbove) : '';
  const reviewPart = source === 'items' ? '' : join([interaction.summary, interaction.review], ' - ');
  // The rating ends the head, and the head starts the line.
  const head = join([itemPart, ratingPart], '; ');
  const text = join([head, reviewPart], ': ');
  return ratingPart ? { text, rating: [head.length - ratingPart.length, head.length] } : { text };
}

function ratingText(rating: number, likedAbove: number | undefined): string {
  if (likedAbove === undefined) return `rated ${rating}`;
  return rating > likedAbove ? 'liked' : 'disliked';
}

/** "Toy Story (1995); Adventure, Animation" or "Pop Filter; Musical Instruments, Microphones; Nady; price 12.99". */
function itemText(item: ItemInfo, fields: readonly ItemField[]): string {
  const parts = fields.map((field) => {
    switch (field) {
      case 'title':
        return fields.includes('year') && item.year !== undefined && item.title ? `${item.title} (${item.year})` : item.title;
      case 'year':
        return fields.includes('title') && item.title ? undefined : item.year?.toString();
      case 'genres':
      case 'categories':
        return item[field]?.join(', ');
      case 'brand':
        return item.brand;
      case 'price':
        // Not "$": Yelp's price is a level (1-4), not an amount.
        return item.price === undefined ? undefined : `price ${item.price}`;
      case 'description':
        return item.description;
    }
  });
  return join(parts, '; ');
}

/** Joins the non-empty parts, each on one line, so that the separator alone splits interactions. */
function join(parts: readonly (string | undefined)[], glue: string): string {
  return parts
    .map((part) => part?.replace(/\s+/g, ' ').trim())
    .filter((part) => part)
    .join(glue);
}

/** The longest word-boundary prefix of `text` within `budget` tokens (binary search on the word count). */
function cutToTokens(text: string, budget: number, countTokens: (text: string) => number): string {
  if (countTokens(text) <= budget) return text;
  const words = text.split(' ');
  let lo = 0;
  let hi = words.length - 1; // the whole text is known not to fit
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (countTokens(words.slice(0, mid).join(' ')) <= budget) lo = mid;
    else hi = mid - 1;
  }
  return words.slice(0, lo).join(' ');
}
