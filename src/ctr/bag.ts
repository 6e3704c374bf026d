/**
 * The embedding bag shared by every model, for training and scoring alike. A mini-batch touches a few
 * hundred rows of tables that may hold tens of thousands, so the graph never sees whole tables: per
 * batch we collect each sparse field's distinct rows, feed one small local table per family (the
 * fields' rows stacked, field 0 first) with each example's local row indices, and route the gradient
 * of that local table back to the touched rows with the optimizer's sparse `stepRows`.
 */
import type { Adam } from '../engine/index.js';

export interface BagBatch {
  /** Each example's row in the local table, per field: [B, F] row-major. */
  local: Int32Array;
  /** Each field's distinct table rows, in first-touch order; field f's start at `offsets[f]`. */
  unique: Int32Array[];
  offsets: number[];
  /** Rows in the local table. */
  size: number;
}

export class EmbeddingBag {
  /** Per field: table row -> its index among the field's distinct rows in the current batch, or -1. */
  private readonly slot: Int32Array[];

  constructor(rowsPerField: readonly number[]) {
    this.slot = rowsPerField.map((n) => new Int32Array(n).fill(-1));
  }

  /** `rows` holds each example's table row per field, [n, F] row-major; `batch` picks examples. */
  collect(rows: Int32Array, batch: Int32Array): BagBatch {
    const fields = this.slot.length;
    const local = new Int32Array(batch.length * fields);
    const unique: Int32Array[] = [];
    const offsets: number[] = [];
    let size = 0;
    const touched = new Int32Array(batch.length);
    for (let f = 0; f < fields; f++) {
      const slot = this.slot[f];
      let count = 0;
      for (let j = 0; j < batch.length; j++) {
        const r = rows[batch[j] * fields + f];
        let s = slot[r];
        if (s < 0) {
          s = slot[r] = count;
          touched[count++] = r;
        }
        local[j * fields + f] = size + s;
      }
      const u = touched.slice(0, count);
      for (const r of u) slot[r] = -1;
      unique.push(u);
      offsets.push(size);
      size += count;
    }
    return { local, unique, offsets, size };
  }
}

/** The batch's local table of one family: each field's touched rows copied from its full table. */
export function localTable(tables: readonly Float32Array[], width: number, b: BagBatch): Float32Array {
  const out = new Float32Array(b.size * width);
  b.unique.forEach((rows, f) => {
    const table = tables[f];
    let o = b.offsets[f] * width;
    for (const r of rows) {
      out.set(table.subarray(r * width, (r + 1) * width), o);
      o += width;
    }
  });
  return out;
}

/** Apply the gradient of a local table to the touched rows of each field's table. */
export function stepTables(opt: Adam, names: readonly string[], tables: readonly Float32Array[], width: number, b: BagBatch, grad: Float32Array): void {
  b.unique.forEach((rows, f) => {
    const start = b.offsets[f] * width;
    opt.stepRows({ name: names[f], data: tables[f] }, width, rows, grad.subarray(start, start + rows.length * width));
  });
}
