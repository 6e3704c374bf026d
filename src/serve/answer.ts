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

/** Constant text written 4 bytes at a time (as little-endian words), then the rest byte by byte. */
interface Constant {
  length: number;
  words: Uint32Array;
  tail: Uint8Array;
}

function constant(text: string): Constant {
  const bytes = Buffer.from(text, 'latin1');
  const whole = bytes.length & ~3;
  return { length: bytes.length, words: Uint32Array.from({ length: whole / 4 }, (_, w) => bytes.readUInt32LE(4 * w)), tail: bytes.subarray(whole) };
}

/** Writes `text` at `at` of the slab `view` covers (and `out` is); returns its end. */
function writeConstant(view: DataView, out: Buffer, at: number, text: Constant): number {
  const { words, tail } = text;
  for (let w = 0; w < words.length; w++, at += 4) view.setUint32(at, words[w], true);
  for (let b = 0; b < tail.length; b++) out[at++] = tail[b];
  return at;
}

const ITEM_KEY = constant('{"item":"');
const PROBABILITY_KEY = constant('","probability":');
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

/**
 * Candidate ids as the answer writes them, between its quotes (JSON-escaped), laid in `bytes`: id i
 * runs from spans[2i] to spans[2i + 1]. For a body read from its bytes they are spans of the body
 * itself, which the request has just brought into cache: ids copied from a catalog table cost a cache
 * miss or two per candidate.
 */
export interface IdBytes {
  bytes: Uint8Array;
  spans: Int32Array;
}

/** `ids` as IdBytes, their spans written to `spans` (2 per id). */
export function idBytesOf(ids: readonly (string | number)[], spans: Int32Array): IdBytes {
  const { bytes, starts } = packBytes(ids.map((id) => Buffer.from(JSON.stringify(String(id)).slice(1, -1))));
  for (let i = 0; i < ids.length; i++) {
    spans[2 * i] = starts[i];
    spans[2 * i + 1] = starts[i + 1];
  }
  return { bytes, spans };
}

export class ScoreAnswers {
  private slab = Buffer.allocUnsafeSlow(0);
  private view = new DataView(this.slab.buffer);
  private used = 0;

  /** The answer for `profile` and one score per candidate, the candidates' ids as `ids` holds them. */
  write(profile: ScoredProfile, ids: IdBytes, probabilities: Float32Array): Buffer {
    const head = JSON.stringify(profile);
    const { bytes, spans } = ids;
    const n = probabilities.length;
    if (spans.length !== 2 * n) throw new Error(`expected ${n} ids, got ${spans.length / 2}`);
    // The ids lie in `bytes` without overlapping, so they take at most its length.
    const bound = Buffer.byteLength(head) + SCORES.length + bytes.length + n * (ITEM_KEY.length + PROBABILITY_KEY.length + NUMBER_BYTES + 2) + 2;
    if (this.slab.length - this.used < bound) {
      this.slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, bound));
      this.view = new DataView(this.slab.buffer, this.slab.byteOffset, this.slab.length);
      this.used = 0;
    }
    const { slab: out, view, used: start } = this;
    // The profile's object stays open for the scores.
    let at = start + out.write(head, start) - 1;
    at += SCORES.copy(out, at);
    for (let i = 0; i < n; i++) {
      if (i > 0) out[at++] = COMMA;
      // These runs are a few bytes each, where copy() costs more than it copies.
      at = writeConstant(view, out, at, ITEM_KEY);
      for (let b = spans[2 * i], end = spans[2 * i + 1]; b < end; b++) out[at++] = bytes[b];
      at = writeConstant(view, out, at, PROBABILITY_KEY);
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

/** "000" to "999", three bytes each. */
const TRIPLES = Buffer.from(Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0')).join(''), 'latin1');

function writeTriple(out: Buffer, at: number, triple: number): number {
  const from = 3 * triple;
  out[at] = TRIPLES[from];
  out[at + 1] = TRIPLES[from + 1];
  out[at + 2] = TRIPLES[from + 2];
  return at + 3;
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
      // Three digits at a time, from a table: the nine digits one by one cost more than the rest of a candidate.
      const high = (digits / 1e6) | 0;
      const rest = digits - high * 1e6;
      const middle = (rest / 1e3) | 0;
      at = writeTriple(out, at, high);
      at = writeTriple(out, at, middle);
      return writeTriple(out, at, rest - middle * 1e3);
    }
  }
  return at + out.write(Number.isFinite(p) ? p.toPrecision(9) : 'null', at, 'latin1');
}
