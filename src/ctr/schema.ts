/**
 * What a CTR model reads. Sparse fields are categorical columns of integer ids; dense fields are
 * fixed-width float vectors per row (e.g. a user's soft tokens). Columns are typed arrays, so a table
 * of a hundred thousand rows costs no per-row objects.
 */
import { z } from 'zod';

/** The sparse field that holds the user ID; `userIdDropout` acts on it. */
export const USER_FIELD = 'user';

export const sparseFieldSchema = z
  .object({
    name: z.string().min(1),
    /** Known ids are 0 .. vocabSize-1; any other id (e.g. -1) is "unknown". */
    vocabSize: z.number().int().positive(),
  })
  .strict();

export const denseFieldSchema = z
  .object({
    name: z.string().min(1),
    width: z.number().int().positive(),
  })
  .strict();

export const fieldSchemaSchema = z
  .object({
    sparse: z.array(sparseFieldSchema).min(1),
    dense: z.array(denseFieldSchema).default([]),
  })
  .strict()
  .superRefine((s, ctx) => {
    const names = [...s.sparse, ...s.dense].map((f) => f.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup !== undefined) ctx.addIssue({ code: 'custom', message: `field "${dup}" is declared twice` });
  });

export type SparseField = z.infer<typeof sparseFieldSchema>;
export type DenseField = z.infer<typeof denseFieldSchema>;
export type FieldSchema = z.infer<typeof fieldSchemaSchema>;
export type FieldSchemaInput = z.input<typeof fieldSchemaSchema>;

/** Rows to score. Columns of fields the schema does not declare are ignored. */
export interface CtrRows {
  /** One column per sparse field: ids in [0, vocabSize), anything else means unknown. */
  sparse: Record<string, Int32Array>;
  /** One row-major [n, width] column per dense field. */
  dense?: Record<string, Float32Array>;
}

/** Rows with clicks: labels are 0 or 1. */
export interface LabeledRows extends CtrRows {
  labels: ArrayLike<number>;
}

/** The number of rows, after checking that every declared column is present and sized alike. */
export function rowCount(schema: FieldSchema, rows: CtrRows): number {
  let n: number | undefined;
  const check = (field: string, length: number, width: number) => {
    if (length % width !== 0) throw new Error(`dense field "${field}": ${length} values is not a multiple of width ${width}`);
    const m = length / width;
    if (n === undefined) n = m;
    else if (m !== n) throw new Error(`field "${field}" has ${m} rows, expected ${n}`);
  };
  for (const f of schema.sparse) {
    const col = rows.sparse[f.name];
    if (!(col instanceof Int32Array)) throw new Error(`sparse field "${f.name}" is missing (an Int32Array column is expected)`);
    check(f.name, col.length, 1);
  }
  for (const f of schema.dense) {
    const col = rows.dense?.[f.name];
    if (!(col instanceof Float32Array)) throw new Error(`dense field "${f.name}" is missing (a Float32Array column is expected)`);
    check(f.name, col.length, f.width);
  }
  return n as number;
}
