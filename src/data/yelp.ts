/** Yelp Open Dataset: review.json and (optionally) business.json, JSON lines. */
import { z } from 'zod';
import { withoutUndefined, type Dataset, type Interaction, type ItemInfo } from './dataset.js';
import { BadRows, fileStem, FIVE_STARS, JSONL, readRows } from './rows.js';

export const yelpSpec = z
  .object({
    format: z.literal('yelp'),
    name: z.string().optional(),
    reviews: z.string(),
    business: z.string().optional(),
  })
  .strict();

const PRICE_LEVEL = 'attributes.RestaurantsPriceRange2';

export async function readYelp(spec: z.output<typeof yelpSpec>, bad: BadRows): Promise<Dataset> {
  const interactions: Interaction[] = [];
  await readRows(spec.reviews, JSONL, bad, (row) => {
    const interaction = {
      user: row.id('user_id'),
      item: row.id('business_id'),
      rating: row.rating('stars', FIVE_STARS),
      // "YYYY-MM-DD HH:MM:SS", read as UTC.
      timestamp: row.time('date'),
      review: row.text('text'),
    };
    interactions.push(withoutUndefined(interaction));
  });
  const items = new Map<string, ItemInfo>();
  if (spec.business) {
    await readRows(spec.business, JSONL, bad, (row) => {
      const item = row.id('business_id');
      const info = {
        item,
        title: row.text('name'),
        categories: row.list('categories', ','),
        // The price level 1-4 ($ to $$$$); Yelp writes "None" where it is unknown.
        price: row.text(PRICE_LEVEL) === 'None' ? undefined : row.optionalNumber(PRICE_LEVEL),
      };
      items.set(item, withoutUndefined(info));
    });
  }
  return { name: spec.name ?? fileStem(spec.reviews), interactions, items };
}
