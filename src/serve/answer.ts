/**
 * The 200 answer of `/v1/score`, written as bytes, in the shape of the route's response schema. Built
 * as a string, a 100-candidate answer was some 500 string pieces plus the copies Node made of it to
 * count and send its bytes: over half of what the whole request allocated, and so of the scavenges
 * behind the tail latency.
 *
 * Each probability is a float32, printed as `toPrecision(9)` prints it: the 9 significant digits that
 * identify a float32 (parsed and rounded to float32, it is the model's value exactly), not the 17 of
 * the double it widens to.
 */
import { packBytes } from './packed.js';

/** The profile part of the answer; JSON.stringify writes it in the schema's order. */
export interface ScoredProfile {
  user: string;
  bank_version: string;
  mode: string;
  unknown_user: boolean;
  source: string;
  slots: { name: string; id: number }[];
}

const SCORES = Buffer.from(',"scores":[', 'latin1');
const COMMA = 0x2c;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const ZERO = 0x30;
const POINT = 0x2e;
/** The longest `toPrecision(9)` of a float32, e.g. "-1.23456789e-40", and "null". */
const NUMBER_BYTES = 15;
const POW10 = Array.from({ length: 16 }, (_, i) => 10 ** i);
/** BELOW[z]: a probability under it has at least z zeros after the point. */
const BELOW = [1, 0.1, 0.01, 0.001, 1e-4, 1e-5, 1e-6];
/**
 * Answers are cut from shared slabs, as Buffer.allocUnsafe cuts small buffers from its pool (an
 * answer is too large for that pool): a buffer of its own per answer cost a quarter as much as writing
 * it. An answer's bytes are never written again, so they stay as they are while the socket sends them.
 */
const SLAB_BYTES = 256 * 1024;

export class ScoreAnswers {
  /** Every catalog item's `{"item":"<id>","probability":`, one after another; item i's runs from starts[i] to starts[i + 1]. */
  private readonly keys: Buffer;
  private readonly starts: Int32Array;
  private readonly longestKey: number;
  private slab = Buffer.allocUnsafeSlow(0);
  private used = 0;

  constructor(items: readonly string[]) {
    ({ bytes: this.keys, starts: this.starts } = packBytes(items.map((id) => Buffer.from(`{"item":${JSON.stringify(id)},"probability":`))));
    this.longestKey = 0;
    for (let i = 0; i < items.length; i++) this.longestKey = Math.max(this.longestKey, this.starts[i + 1] - this.starts[i]);
  }

  /** The answer for `profile` and one score per catalog item index in `items`. A request's item id is its catalog id as a string, so the catalog's key is the request's. */
  write(profile: ScoredProfile, items: Int32Array, probabilities: Float32Array): Buffer {
    const head = JSON.stringify(profile);
    const bound = Buffer.byteLength(head) + SCORES.length + items.length * (this.longestKey + NUMBER_BYTES + 2) + 2;
    if (this.slab.length - this.used < bound) {
      this.slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, bound));
      this.used = 0;
    }
    const { slab: out, used: start, keys, starts } = this;
    // The profile's object stays open for the scores.
    let at = start + out.write(head, start) - 1;
    at += SCORES.copy(out, at);
    for (let i = 0; i < items.length; i++) {
      if (i > 0) out[at++] = COMMA;
      // Byte by byte: a view per item for set() would cost some 100 bytes of heap per catalog item, copy() twice the time.
      for (let b = starts[items[i]], end = starts[items[i] + 1]; b < end; b++) out[at++] = keys[b];
      at = writeProbability(out, at, probabilities[i]);
      out[at++] = CLOSE_OBJECT;
    }
    out[at++] = CLOSE_ARRAY;
    out[at++] = CLOSE_OBJECT;
    // The next answer starts 8-byte aligned.
    this.used = (at + 7) & ~7;
    return out.subarray(start, at);
  }
}

/**
 * `p.toPrecision(9)` (NaN and infinities as null) written at `at`; returns the end. A probability in
 * [1e-6, 1), i.e. nearly all, is written digit by digit without making a string: toPrecision prints
 * it as "0.", the zeros after the point, and the 9 digits of p·10^s rounded to the nearest integer.
 * That product, in double, is within 2^-53 of the exact one, so rounding it gives the same integer
 * unless the exact product lies within 1e-6 of a half; those, p whose zeros were miscounted (the
 * decimal powers of ten in BELOW are rounded), and the rest of the range go through toPrecision.
 */
export function writeProbability(out: Buffer, at: number, p: number): number {
  if (p >= 1e-6 && p < 1) {
    let zeros = 0;
    while (p < BELOW[zeros + 1]) zeros++;
    const scaled = p * POW10[9 + zeros];
    const digits = Math.round(scaled);
    if (Math.abs(scaled - Math.floor(scaled) - 0.5) > 1e-6 && digits >= 1e8 && digits < 1e9) {
      out[at++] = ZERO;
      out[at++] = POINT;
      for (let z = 0; z < zeros; z++) out[at++] = ZERO;
      for (let d = 8, rest = digits | 0; d >= 0; d--) {
        const tenth = (rest / 10) | 0;
        out[at + d] = ZERO + rest - tenth * 10;
        rest = tenth;
      }
      return at + 9;
    }
  }
  return at + out.write(Number.isFinite(p) ? p.toPrecision(9) : 'null', at, 'latin1');
}
