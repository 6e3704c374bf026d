/**
 * The 200 answer of `/v1/score`, written as bytes, in the shape of the route's response schema. Built
 * as a string, a 100-candidate answer was some 500 string pieces plus the copies Node made of it to
 * count and send its bytes: over half of what the whole request allocated, and so of the scavenges
 * behind the tail latency.
 *
 * Each probability is a float32, printed as `toPrecision(9)` prints it: the 9 significant digits that
 * identify a float32 (parsed and rounded to float32, it is the model's value exactly), not the 17 of
 * the double it widens to. The scores are written in WebAssembly (answer.wat): byte by byte in
 * TypeScript, with the keys 4 bytes and the digits 3 at a time, they were 5-7 µs of a 100-candidate
 * answer.
 */
import { reserveMemory, wasmModule } from '../engine/index.js';
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
const ITEM_KEY = Buffer.from('{"item":"', 'latin1');
const PROBABILITY_KEY = Buffer.from('","probability":', 'latin1');
const COMMA = 0x2c;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
/** The longest `toPrecision(9)` of a float32, e.g. "-1.23456789e-40", and "null". */
const NUMBER_BYTES = 15;
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
  private readonly scores = new ScoresWriter();
  private slab = Buffer.allocUnsafeSlow(0);
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
      this.used = 0;
    }
    const { slab: out, used: start } = this;
    // The profile's object stays open for the scores.
    let at = start + out.write(head, start) - 1;
    at += SCORES.copy(out, at);
    const scores = this.scores.write(ids, probabilities, bound);
    if (scores) {
      out.set(scores, at);
      at += scores.length;
    } else {
      at = writeScores(out, at, ids, probabilities);
    }
    // The next answer starts 8-byte aligned.
    this.used = (at + 7) & ~7;
    return out.subarray(start, at);
  }
}

/**
 * The scores and the closing `]}` in `out` from `at`, each probability by toPrecision(9) (NaN and
 * infinities as null); returns the end. For the answers the WebAssembly writer leaves, which nearly
 * never come: one with a probability under 1e-6, of 1 or more, not a number, or whose digits that
 * writer cannot be sure of.
 */
function writeScores(out: Buffer, at: number, ids: IdBytes, probabilities: Float32Array): number {
  const { bytes, spans } = ids;
  for (let i = 0; i < probabilities.length; i++) {
    if (i > 0) out[at++] = COMMA;
    at += ITEM_KEY.copy(out, at);
    out.set(bytes.subarray(spans[2 * i], spans[2 * i + 1]), at);
    at += spans[2 * i + 1] - spans[2 * i];
    at += PROBABILITY_KEY.copy(out, at);
    const p = probabilities[i];
    at += out.write(Number.isFinite(p) ? p.toPrecision(9) : 'null', at, 'latin1');
    out[at++] = CLOSE_OBJECT;
  }
  out[at++] = CLOSE_ARRAY;
  out[at++] = CLOSE_OBJECT;
  return at;
}

interface ScoresKernel {
  memory: WebAssembly.Memory;
  layout(pow10At: number, triplesAt: number): void;
  scores(n: number, bytesAt: number, spansAt: number, probabilitiesAt: number, outAt: number): number;
}

const KERNEL = new URL('./answer.wasm', import.meta.url);
/** Where the kernel's tables lie in its memory, and where a request's part starts. */
const POW10_AT = 0;
const TRIPLES_AT = 64;
const REQUEST_AT = TRIPLES_AT + 4 * 1000;

/** The scores part of answers, by the WebAssembly kernel: a request's ids and probabilities are copied in, its bytes read out. */
export class ScoresWriter {
  private readonly kernel = new WebAssembly.Instance(wasmModule(KERNEL)).exports as unknown as ScoresKernel;
  /** Views of the kernel's memory, made again when it grows. */
  private bytes = new Uint8Array(0);
  private ints = new Int32Array(0);
  private floats = new Float32Array(0);

  constructor() {
    const { memory } = this.kernel;
    new Float64Array(memory.buffer, POW10_AT, 6).set([1e9, 1e10, 1e11, 1e12, 1e13, 1e14]);
    const triples = new Uint8Array(memory.buffer, TRIPLES_AT, 4000);
    for (let t = 0; t < 1000; t++) triples.set(Buffer.from(String(t).padStart(3, '0'), 'latin1'), 4 * t);
    this.kernel.layout(POW10_AT, TRIPLES_AT);
    this.view();
  }

  /** The bytes of the scores (a view of the kernel's memory, good until the next call), or undefined for an answer the kernel leaves. `bound`: the bytes they take at most. */
  write(ids: IdBytes, probabilities: Float32Array, bound: number): Uint8Array | undefined {
    const n = probabilities.length;
    const spansAt = REQUEST_AT;
    const probabilitiesAt = spansAt + 8 * n;
    const bytesAt = probabilitiesAt + 4 * n;
    // 8 bytes of room past the bound: the kernel's last word may reach that far.
    const outAt = (bytesAt + ids.bytes.length + 7) & ~7;
    if (reserveMemory(this.kernel.memory, outAt + bound + 8)) this.view();
    const { bytes, kernel } = this;
    bytes.set(ids.bytes, bytesAt);
    this.ints.set(ids.spans, spansAt / 4);
    this.floats.set(probabilities, probabilitiesAt / 4);
    const end = kernel.scores(n, bytesAt, spansAt, probabilitiesAt, outAt);
    return end < 0 ? undefined : bytes.subarray(outAt, end);
  }

  private view(): void {
    const { buffer } = this.kernel.memory;
    this.bytes = new Uint8Array(buffer);
    this.ints = new Int32Array(buffer);
    this.floats = new Float32Array(buffer);
  }
}
