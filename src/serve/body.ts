/**
 * The `/v1/score` body read straight from its bytes when it has the plain shape nearly every client
 * sends: {"user": id, "items": [id, ...]}, ASCII, no escapes, ids as strings or integers. Each item
 * id is looked up by its bytes in a hash table of the catalog. JSON.parse makes a string of every
 * id, and V8 interns short string values, a string-table lookup each; with the Map lookup of each id
 * that followed, that was about a fifth of the server's CPU (perf, 1,000 requests/s). Any other body,
 * valid or not, is left to Fastify's JSON parser and the route's schema (`server.ts`), so that its
 * answers and error messages are theirs.
 */
import type { IdBytes } from './answer.js';
import { packBytes } from './packed.js';

const SPACE = 0x20;
const TAB = 0x09;
const NEWLINE = 0x0a;
const RETURN = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const POINT = 0x2e;
const EXPONENT = 0x65;
const EXPONENT_UPPER = 0x45;
const ZERO = 0x30;
const NINE = 0x39;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const LAST_PRINTABLE = 0x7e;
const USER = Buffer.from('user');
const ITEMS = Buffer.from('items');
/** Digits of an integer id read here; longer ones may not be exact as a double, and are left to JSON.parse. */
const MAX_DIGITS = 15;

export interface ScoreBodyLimits {
  maxItems: number;
  maxIdLength: number;
}

/**
 * What a scoring body asks: the user id (a number as its decimal string), the candidates' catalog
 * indices and ids (as the answer writes them back), and the ids not in the catalog (request order,
 * once each).
 */
export interface ScoreAsk {
  user: string;
  indices: Int32Array;
  ids: IdBytes;
  unknown: string[];
}

/** Where an ask's arrays go: `n` indices and 2n span ends, kept by the caller from request to request. */
export interface AskBuffers {
  fit(n: number): { indices: Int32Array; spans: Int32Array };
}

export class ScoreBodyReader {
  /** The catalog's ids' UTF-8 bytes, one after another; id i runs from starts[i] to starts[i + 1]. */
  private readonly bytes: Buffer;
  private readonly starts: Int32Array;
  /** Open addressing on the ids' hashes: catalog index + 1, 0 for an empty slot. */
  private readonly slots: Int32Array;
  private readonly mask: number;
  /** A body's indices and id spans while it is read (reading is synchronous, so one of each serves every request). */
  private readonly scratch: Int32Array;
  private readonly scratchSpans: Int32Array;
  /** The last id read: its bytes, and whether it was quoted. */
  private start = 0;
  private end = 0;
  private quoted = false;

  constructor(
    items: readonly string[],
    private readonly limits: ScoreBodyLimits,
  ) {
    ({ bytes: this.bytes, starts: this.starts } = packBytes(items.map((id) => Buffer.from(id))));
    let size = 16;
    while (size < 2 * items.length) size *= 2;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    for (let i = 0; i < items.length; i++) {
      let slot = hash(this.bytes, this.starts[i], this.starts[i + 1]) & this.mask;
      while (this.slots[slot] !== 0 && !this.isId(this.slots[slot] - 1, this.bytes, this.starts[i], this.starts[i + 1])) slot = (slot + 1) & this.mask;
      // A repeated id takes its last index, as in the feature map's Map.
      this.slots[slot] = i + 1;
    }
    this.scratch = new Int32Array(limits.maxItems);
    this.scratchSpans = new Int32Array(2 * limits.maxItems);
  }

  /**
   * The body's ask, its arrays in `buffers`; its ids are spans of `body` itself (an id read here
   * needs no escaping, and an integer id is written as its string). Undefined when the body is not of
   * the plain shape or breaks the schema (a missing property, an empty or overlong id, too many items...).
   */
  read(body: Buffer, buffers: AskBuffers): ScoreAsk | undefined {
    const { maxItems } = this.limits;
    let at = skipSpace(body, 0);
    if (body[at++] !== OPEN_OBJECT) return undefined;
    let user: string | undefined;
    let count = -1;
    for (;;) {
      at = this.id(body, skipSpace(body, at));
      if (at < 0 || !this.quoted) return undefined;
      const isUser = sameBytes(body, this.start, this.end, USER, 0, USER.length);
      if (!isUser && !sameBytes(body, this.start, this.end, ITEMS, 0, ITEMS.length)) return undefined;
      // A repeated key: JSON.parse keeps the last; leave that to it.
      if (isUser ? user !== undefined : count >= 0) return undefined;
      at = skipSpace(body, at);
      if (body[at++] !== COLON) return undefined;
      at = skipSpace(body, at);
      if (isUser) {
        at = this.id(body, at);
        if (at < 0) return undefined;
        user = body.toString('latin1', this.start, this.end);
      } else {
        if (body[at++] !== OPEN_ARRAY) return undefined;
        count = 0;
        for (;;) {
          at = this.id(body, skipSpace(body, at));
          if (at < 0 || count === maxItems) return undefined;
          this.scratchSpans[2 * count] = this.start;
          this.scratchSpans[2 * count + 1] = this.end;
          count++;
          at = skipSpace(body, at);
          if (body[at] === COMMA) at++;
          else if (body[at++] === CLOSE_ARRAY) break;
          else return undefined;
        }
      }
      at = skipSpace(body, at);
      if (body[at] === COMMA) at++;
      else if (body[at++] === CLOSE_OBJECT) break;
      else return undefined;
    }
    if (skipSpace(body, at) !== body.length || user === undefined || count < 0) return undefined;
    this.lookUp(body, count);
    let unknown: Set<string> | undefined;
    for (let i = 0; i < count; i++) {
      if (this.scratch[i] < 0) (unknown ??= new Set()).add(body.toString('latin1', this.scratchSpans[2 * i], this.scratchSpans[2 * i + 1]));
    }
    const { indices, spans } = buffers.fit(count);
    indices.set(this.scratch.subarray(0, count));
    spans.set(this.scratchSpans.subarray(0, 2 * count));
    return { user, indices, ids: { bytes: body, spans }, unknown: unknown ? [...unknown] : [] };
  }

  /**
   * Reads the id at `at` into `start`, `end` and `quoted`, and returns where it ends: a string of
   * printable ASCII without escapes, or an integer written as String() writes the number JSON.parse
   * makes of it (no "-0", fraction or exponent). -1 for anything else, or a length the schema refuses.
   */
  private id(body: Uint8Array, at: number): number {
    if (body[at] === QUOTE) {
      let end = at + 1;
      for (; end < body.length && body[end] !== QUOTE; end++) {
        if (body[end] < SPACE || body[end] > LAST_PRINTABLE || body[end] === BACKSLASH) return -1;
      }
      const length = end - at - 1;
      if (end === body.length || length < 1 || length > this.limits.maxIdLength) return -1;
      this.start = at + 1;
      this.end = end;
      this.quoted = true;
      return end + 1;
    }
    const digits = body[at] === MINUS ? at + 1 : at;
    let end = digits;
    if (body[digits] === ZERO) end++;
    else while (body[end] >= ZERO && body[end] <= NINE) end++;
    const length = end - digits;
    if (length < 1 || length > MAX_DIGITS || (body[digits] === ZERO && digits > at)) return -1;
    // A fraction, an exponent, or a digit after a leading zero.
    const after = body[end];
    if (after === POINT || after === EXPONENT || after === EXPONENT_UPPER || (after >= ZERO && after <= NINE)) return -1;
    this.start = at;
    this.end = end;
    this.quoted = false;
    return end;
  }

  /**
   * The catalog indices (-1: unknown) of the `count` ids at `scratchSpans`, into `scratch`. In
   * passes over all the ids rather than id by id: a pass's table reads do not wait on each other, so
   * their cache misses overlap. One by one, each waited on the last id's misses.
   */
  private lookUp(body: Uint8Array, count: number): void {
    const { slots, mask, scratch, scratchSpans: spans } = this;
    // Each id's first slot: its catalog index + 1, or 0.
    for (let i = 0; i < count; i++) scratch[i] = slots[hash(body, spans[2 * i], spans[2 * i + 1]) & mask];
    for (let i = 0; i < count; i++) {
      const first = scratch[i] - 1;
      const start = spans[2 * i];
      const end = spans[2 * i + 1];
      scratch[i] = first >= 0 && this.isId(first, body, start, end) ? first : this.find(body, start, end);
    }
  }

  /** The catalog index of the id in body[start, end), or -1. */
  private find(body: Uint8Array, start: number, end: number): number {
    for (let slot = hash(body, start, end) & this.mask; this.slots[slot] !== 0; slot = (slot + 1) & this.mask) {
      const index = this.slots[slot] - 1;
      if (this.isId(index, body, start, end)) return index;
    }
    return -1;
  }

  /** Whether body[start, end) is catalog id `index`. */
  private isId(index: number, body: Uint8Array, start: number, end: number): boolean {
    return sameBytes(this.bytes, this.starts[index], this.starts[index + 1], body, start, end);
  }
}

/** 32-bit FNV-1a. */
function hash(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let k = start; k < end; k++) h = Math.imul(h ^ bytes[k], 0x01000193);
  return h >>> 0;
}

function skipSpace(body: Uint8Array, at: number): number {
  while (at < body.length) {
    const c = body[at];
    if (c !== SPACE && c !== NEWLINE && c !== RETURN && c !== TAB) break;
    at++;
  }
  return at;
}

/** Whether a[aStart, aEnd) and b[bStart, bEnd) hold the same bytes. */
function sameBytes(a: Uint8Array, aStart: number, aEnd: number, b: Uint8Array, bStart: number, bEnd: number): boolean {
  const length = aEnd - aStart;
  if (bEnd - bStart !== length) return false;
  for (let k = 0; k < length; k++) if (a[aStart + k] !== b[bStart + k]) return false;
  return true;
}
