/** Any CSV or JSON-lines file, read through a declared column mapping. */
import { z } from 'zod';
import { withoutUndefined, type Dataset, type Interaction, type ItemInfo } from './dataset.js';
import { BadRows, fileStem, JSONL, readRows, type TableFormat } from './rows.js';

const column = z.string().min(1);

/** Where a file is and how to read it; `delimiter` and `encoding` apply to CSV only (JSON lines are UTF-8). */
const fileFields = {
  file: z.string(),
  delimiter: z.string().min(1).default(','),
  encoding: z.enum(['utf8', 'latin1']).default('utf8'),
};

export const tableSpec = z
  .object({
    format: z.enum(['csv', 'jsonl']),
    name: z.string().optional(),
    ...fileFields,
    /** `[lowest, highest]` rating the file may hold; a rating outside is a bad row. Default: any number. */
    ratingRange: z
      .tuple([z.number(), z.number()])
      .refine(([low, high]) => low < high, 'the lowest rating must be below the highest')
      .optional(),
    /** Column names (CSV header) or keys (JSON; dotted for nested) of each canonical field. */
    columns: z
      .object({ user: column, item: column, rating: column, timestamp: column, review: column.optional(), summary: column.optional() })
      .strict(),
    itemFile: z
      .object({
        /** Defaults to the interactions file's format. */
        format: z.enum(['csv', 'jsonl']).optional(),
        ...fileFields,
        columns: z
          .object({
            item: column,
            title: column.optional(),
            genres: column.optional(),
            categories: column.optional(),
            brand: column.optional(),
            price: column.optional(),
            year: column.optional(),
            description: column.optional(),
          })
          .strict(),
        /** Separates the values of a list column given as text (`Action|Comedy`). */
        listSeparator: z.string().min(1).default('|'),
      })
      .strict()
      .optional(),
  })
  .strict();

type FileFields = { format: 'csv' | 'jsonl'; delimiter: string; encoding: 'utf8' | 'latin1' };

function tableFormat({ format, delimiter, encoding }: FileFields): TableFormat {
  return format === 'jsonl' ? JSONL : { type: 'delimited', delimiter, columns: 'header', quote: true, encoding };
}

/** Reads an optional column only when the mapping names one. */
function optional<T>(field: string | undefined, read: (field: string) => T): T | undefined {
  return field === undefined ? undefined : read(field);
}

export async function readTable(spec: z.output<typeof tableSpec>, bad: BadRows): Promise<Dataset> {
  const c = spec.columns;
  const interactions: Interaction[] = [];
  await readRows(spec.file, tableFormat(spec), bad, (row) => {
    const interaction = {
      user: row.id(c.user),
      item: row.id(c.item),
      rating: row.rating(c.rating, spec.ratingRange && { min: spec.ratingRange[0], max: spec.ratingRange[1] }),
      timestamp: row.time(c.timestamp),
      review: optional(c.review, (field) => row.text(field)),
      summary: optional(c.summary, (field) => row.text(field)),
    };
    interactions.push(withoutUndefined(interaction));
  });
  const items = new Map<string, ItemInfo>();
  const itemFile = spec.itemFile;
  if (itemFile) {
    const ic = itemFile.columns;
    const list = itemFile.listSeparator;
    await readRows(itemFile.file, tableFormat({ ...itemFile, format: itemFile.format ?? spec.format }), bad, (row) => {
      const item = row.id(ic.item);
      const info = {
        item,
        title: optional(ic.title, (field) => row.text(field)),
        genres: optional(ic.genres, (field) => row.list(field, list)),
        categories: optional(ic.categories, (field) => row.list(field, list)),
        brand: optional(ic.brand, (field) => row.text(field)),
        price: optional(ic.price, (field) => row.optionalNumber(field)),
        year: optional(ic.year, (field) => row.optionalNumber(field)),
        description: optional(ic.description, (field) => row.text(field)),
      };
      items.set(item, withoutUndefined(info));
    });
  }
  return { name: spec.name ?? fileStem(spec.file), interactions, items };
}
