/**
 * Amazon product reviews, 2014 (McAuley, per-category and 5-core files) and 2018 (Ni et al.), gzipped or
 * not. Reviews are JSON lines; 2018 adds `style`, `vote` and `verified`, which have no place in the
 * canonical table and are not read. Metadata is Python-literal lines in the 2014 dumps and JSON in 2018.
 */
import { z } from 'zod';
import { withoutUndefined, type Dataset, type Interaction, type ItemInfo } from './dataset.js';
import { BadRows, fileStem, FIVE_STARS, JSONL, readRows, type Row } from './rows.js';

export const amazonSpec = z
  .object({
    format: z.literal('amazon'),
    name: z.string().optional(),
    reviews: z.string(),
    meta: z.string().optional(),
  })
  .strict();

export async function readAmazon(spec: z.output<typeof amazonSpec>, bad: BadRows): Promise<Dataset> {
  const interactions: Interaction[] = [];
  await readRows(spec.reviews, JSONL, bad, (row) => {
    const interaction = {
      user: row.id('reviewerID'),
      item: row.id('asin'),
      rating: row.rating('overall', FIVE_STARS),
      timestamp: row.time('unixReviewTime'),
      review: row.text('reviewText'),
      summary: row.text('summary'),
    };
    interactions.push(withoutUndefined(interaction));
  });
  const items = new Map<string, ItemInfo>();
  if (spec.meta) {
    // A metadata dump covers every product of its category, far more than a review subset touches.
    const reviewed = new Set(interactions.map((interaction) => interaction.item));
    await readRows(spec.meta, JSONL, bad, (row) => {
      const item = row.id('asin');
      if (!reviewed.has(item)) return;
      const info = {
        item,
        title: row.text('title'),
        brand: row.text('brand'),
        // 2014: `categories`, a list of category paths; 2018: `category`, one path.
        categories: row.list('categories', '|') ?? row.list('category', '|'),
        price: price(row),
        description: description(row),
      };
      items.set(item, withoutUndefined(info));
    });
  }
  return { name: spec.name ?? fileStem(spec.reviews), interactions, items };
}

/**
 * 2014 prices are numbers; 2018 prices are text like "$12.99" or "$8.99 - $12.99" (the lower bound is
 * kept). Some 2018 rows hold page fragments in `price`: those read as an unknown price, not a bad row.
 */
function price(row: Row): number | undefined {
  const value = row.get('price');
  if (typeof value === 'number') return value;
  const match = typeof value === 'string' ? /^\s*\$\s*(\d[\d,]*(?:\.\d+)?)/.exec(value) : null;
  return match ? Number(match[1].replace(/,/g, '')) : undefined;
}

/** 2014: one string; 2018: a list of paragraphs. */
function description(row: Row): string | undefined {
  const value = row.get('description');
  const text = Array.isArray(value) ? value.filter((part) => typeof part === 'string').join(' ') : row.text('description');
  return text?.trim() || undefined;
}
