/**
 * ONNX serialization: a small protobuf writer for the handful of onnx.proto messages we emit
 * (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto). Large byte
 * fields are kept as references and copied once, when the final buffer is assembled. Initializers
 * can go to an external data file, which models over protobuf's 2 GB limit need.
 */
import { createHash } from 'node:crypto';
import type { AttrValue, ConstantData, Graph, Tensor } from './graph.js';
import { ONNX_DTYPE } from './ops.js';

export const OPSET = 18;
const IR_VERSION = 8;

/** A protobuf message under construction: a list of byte chunks. */
class Message {
  readonly chunks: Uint8Array[] = [];
  length = 0;
  private scratch: number[] = [];

  private flush(): void {
    if (this.scratch.length) {
      this.chunks.push(Uint8Array.from(this.scratch));
      this.length += this.scratch.length;
      this.scratch = [];
    }
  }

  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.scratch.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.scratch.push(Number(v));
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.varint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.scratch.push(...b);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2);
    this.varint(data.length);
    if (data.length < 64) this.scratch.push(...data);
    else {
      this.flush();
      this.chunks.push(data);
      this.length += data.length;
    }
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, m: Message): this {
    m.flush();
    this.tag(field, 2);
    this.varint(m.length);
    this.flush();
    this.chunks.push(...m.chunks);
    this.length += m.length;
    return this;
  }

  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const c of this.chunks) {
      out.set(c, offset);
      offset += c.length;
    }
    return out;
  }
}

function bytesOf(data: ConstantData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function attribute(name: string, value: AttrValue): Message {
  const m = new Message().string(1, name);
  if (typeof value === 'number') m.int(3, value).int(20, 2);
  else if (typeof value === 'string') m.string(4, value).int(20, 3);
  else if (Array.isArray(value)) {
    for (const v of value) m.int(8, v);
    m.int(20, 7);
  } else if ('float' in value) m.float(2, value.float).int(20, 1);
  else {
    for (const v of value.floats) m.float(7, v);
    m.int(20, 6);
  }
  return m;
}

function valueInfo(t: Tensor): Message {
  const shape = new Message();
  for (const d of t.shape) {
    shape.message(1, typeof d === 'number' ? new Message().int(1, d) : new Message().string(2, d));
  }
  const tensorType = new Message().int(1, ONNX_DTYPE[t.dtype]).message(2, shape);
  return new Message().string(1, t.name).message(2, new Message().message(1, tensorType));
}

export interface SerializedModel {
  /** The ModelProto bytes. */
  model: Uint8Array;
  /** Initializer bytes for the external data file, when initializers are stored outside the model. */
  externalData?: Uint8Array;
  /** sha256 of the external data alone: graphs over the same weights (forward and training) share one file. */
  externalHash?: string;
  /** sha256 of the model and its external data: the cache key of the graph. */
  hash: string;
}

export interface SerializeOptions {
  /**
   * Store initializers of at least this many bytes in an external data file named `externalFile`
   * (relative to the model file). Protobuf cannot hold a model over 2 GB inline.
   */
  externalThreshold?: number;
  externalFile?: string;
}

/**
 * Initializer bytes above which `serialize` moves initializers to an external data file by default.
 * Protobuf cannot hold 2 GB inline; and well below that, onnxruntime maps an external file instead
 * of copying every weight out of the model bytes, which it would hold twice while creating a session.
 */
export const EXTERNAL_DATA_ABOVE = 64 * 2 ** 20;

export function serialize(graph: Graph, options: SerializeOptions = {}): SerializedModel {
  const totalInitBytes = graph.initializers.reduce((s, i) => s + i.data.byteLength, 0);
  const threshold = options.externalThreshold ?? (totalInitBytes > EXTERNAL_DATA_ABOVE ? 1024 : Infinity);
  const externalFile = options.externalFile ?? 'weights.bin';
  const externalChunks: Uint8Array[] = [];
  let externalOffset = 0;

  const g = new Message();
  for (const node of graph.nodes) {
    const n = new Message();
    for (const t of node.inputs) n.string(1, t.name);
    for (const t of node.outputs) n.string(2, t.name);
    n.string(3, node.outputs[0].name).string(4, node.op);
    for (const [k, v] of Object.entries(node.attrs)) n.message(5, attribute(k, v));
    g.message(1, n);
  }
  g.string(2, graph.name);
  for (const init of graph.initializers) {
    const t = new Message();
    for (const d of init.tensor.shape) t.int(1, d as number);
    t.int(2, ONNX_DTYPE[init.tensor.dtype]).string(8, init.tensor.name);
    const raw = bytesOf(init.data);
    if (raw.byteLength >= threshold) {
      // ORT memory-maps external data; 64-byte alignment keeps every tensor aligned.
      const padding = (64 - (externalOffset % 64)) % 64;
      if (padding) externalChunks.push(new Uint8Array(padding));
      externalOffset += padding;
      const entry = (key: string, value: string) => new Message().string(1, key).string(2, value);
      t.message(13, entry('location', externalFile));
      t.message(13, entry('offset', String(externalOffset)));
      t.message(13, entry('length', String(raw.byteLength)));
      t.int(14, 1);
      externalChunks.push(raw);
      externalOffset += raw.byteLength;
    } else t.bytes(9, raw);
    g.message(5, t);
  }
  const initNames = new Set(graph.initializers.map((i) => i.tensor.name));
  for (const t of graph.inputs) if (!initNames.has(t.name)) g.message(11, valueInfo(t));
  for (const t of graph.outputs) g.message(12, valueInfo(t));

  const model = new Message()
    .int(1, IR_VERSION)
    .string(2, 'userip')
    .message(7, g)
    .message(8, new Message().string(1, '').int(2, OPSET))
    .finish();

  const hash = createHash('sha256').update(model);
  if (!externalChunks.length) return { model, hash: hash.digest('hex') };
  const externalData = new Uint8Array(externalOffset);
  let o = 0;
  for (const c of externalChunks) {
    externalData.set(c, o);
    o += c.length;
  }
  const externalHash = createHash('sha256').update(externalData).digest('hex');
  return { model, externalData, externalHash, hash: hash.update(externalHash).digest('hex') };
}
