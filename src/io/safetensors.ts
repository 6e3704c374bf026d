/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header
 * length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?}`, then
 * the raw little-endian tensor bytes, offsets relative to the end of the header.
 *
 * The reader parses headers up front and reads each tensor on demand through a file handle, so that a
 * checkpoint of hundreds of MB is never held twice. Sharded checkpoints (`*.safetensors.index.json`
 * with a `weight_map`) present the same interface as a single file.
 *
 * Files this project writes carry a sha256 of their header and data in the metadata key
 * `userip.sha256`; opening such a file checks it, so flipped or lost bytes are refused at once.
 */
import { createHash } from 'node:crypto';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { dirname, resolve } from 'node:path';
import { AtomicFile } from './atomic.js';

/** Float dtypes the writer produces and the reader upcasts to Float32Array. */
export type FloatDtype = 'F32' | 'F16' | 'BF16';

/** Bytes per element of every dtype the format defines, so that any header can be validated. */
const DTYPE_SIZES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  U16: 2, I16: 2, F16: 2, BF16: 2,
  U32: 4, I32: 4, F32: 4,
  U64: 8, I64: 8, F64: 8,
};

/** Metadata key of the checksum the writer stores: sha256 of the header JSON without this key, then of the data bytes. */
export const CHECKSUM_KEY = 'userip.sha256';

/** The safetensors spec caps the header at 100 MB; a larger value means a corrupt or foreign file. */
const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  /** Path of the file that holds the bytes. */
  file: string;
  /** Absolute byte offset of the first element within `file`. */
  byteOffset: number;
  byteLength: number;
}

/** A single `.safetensors` file or a sharded set, read tensor by tensor. */
export interface TensorReader {
  /** The `.safetensors` file or the `.index.json` it was opened from. */
  readonly path: string;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
  /** F32, F16 and BF16 tensors as float32 (exact: every F16/BF16 value is representable). */
  readFloat32(name: string): Promise<Float32Array>;
  /** `readFloat32`, refusing a tensor that holds NaN or ±Infinity (weights that would poison every result). */
  readFiniteFloat32(name: string): Promise<Float32Array>;
  /** I32 and I64 tensors (I64 as BigInt64Array, because values may exceed 2^53). */
  readIntegers(name: string): Promise<Int32Array | BigInt64Array>;
  close(): Promise<void>;
}

export interface TensorToWrite {
  dtype: FloatDtype;
  shape: number[];
  data: Float32Array;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

// Typed-array views reinterpret file bytes directly; that is only correct on little-endian hosts.
function assertLittleEndian(): void {
  if (endianness() !== 'LE') throw new Error('safetensors: big-endian hosts are not supported');
}

/**
 * Opens a `.safetensors` file, or a sharded checkpoint through its `.index.json`. Only the headers are
 * read here.
 */
export async function openSafetensors(path: string): Promise<TensorReader> {
  assertLittleEndian();
  return path.endsWith('.index.json') ? openSharded(path) : openSingle(path);
}

async function openSingle(path: string): Promise<TensorReader> {
  const handle = await open(path, 'r');
  try {
    const { tensors, metadata, header, dataStart } = await readHeader(handle, path);
    const { [CHECKSUM_KEY]: checksum, ...rest } = metadata;
    if (checksum !== undefined) await verifyChecksum(handle, path, header, dataStart);
    return new SafetensorsReader(path, tensors, rest, new Map([[path, handle]]));
  } catch (err) {
    await handle.close();
    throw err;
  }
}

async function openSharded(indexPath: string): Promise<TensorReader> {
  const index = parseIndex(await readFile(indexPath, 'utf8'), indexPath);
  const handles = new Map<string, FileHandle>();
  try {
    const headers = new Map<string, Map<string, TensorInfo>>();
    for (const shard of new Set(Object.values(index.weightMap))) {
      const file = resolve(dirname(indexPath), shard);
      const handle = await open(file, 'r').catch((err: Error) => {
        throw new Error(`${indexPath}: cannot open shard ${shard}: ${err.message}`);
      });
      handles.set(file, handle);
      headers.set(shard, (await readHeader(handle, file)).tensors);
    }
    // The weight map is authoritative: a tensor present in a shard but not mapped is not part of the model.
    const tensors = new Map<string, TensorInfo>();
    for (const [name, shard] of Object.entries(index.weightMap)) {
      const info = headers.get(shard)!.get(name);
      if (!info) throw new Error(`${indexPath}: tensor "${name}" is mapped to ${shard}, which does not contain it`);
      tensors.set(name, info);
    }
    return new SafetensorsReader(indexPath, tensors, index.metadata, handles);
  } catch (err) {
    await Promise.all([...handles.values()].map((h) => h.close()));
    throw err;
  }
}

function parseIndex(text: string, path: string): { weightMap: Record<string, string>; metadata: Record<string, string> } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: invalid JSON: ${(err as Error).message}`);
  }
  const weightMap = (json as { weight_map?: unknown })?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Object.values(weightMap).some((v) => typeof v !== 'string')) {
    throw new Error(`${path}: expected a "weight_map" object mapping tensor names to shard file names`);
  }
  const rawMetadata = (json as { metadata?: unknown }).metadata;
  const metadata: Record<string, string> = {};
  // Index metadata holds numbers such as total_size; stringify so that both readers share one type.
  if (typeof rawMetadata === 'object' && rawMetadata !== null) {
    for (const [k, v] of Object.entries(rawMetadata)) metadata[k] = String(v);
  }
  return { weightMap: weightMap as Record<string, string>, metadata };
}

async function readHeader(
  handle: FileHandle,
  file: string,
): Promise<{ tensors: Map<string, TensorInfo>; metadata: Record<string, string>; header: Record<string, unknown>; dataStart: number }> {
  const fileSize = (await handle.stat()).size;
  if (fileSize < 8) throw new Error(`${file}: not a safetensors file (${fileSize} bytes)`);
  const lengthBytes = await readExactly(handle, 0, 8, file);
  const headerLength = Number(Buffer.from(lengthBytes.buffer).readBigUInt64LE(0));
  if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > fileSize) {
    throw new Error(`${file}: not a safetensors file (header length ${headerLength}, file size ${fileSize})`);
  }
  const headerText = Buffer.from((await readExactly(handle, 8, headerLength, file)).buffer).toString('utf8');
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(headerText) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file}: header is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new Error(`${file}: header is not a JSON object`);
  }
  const dataStart = 8 + headerLength;
  const dataSize = fileSize - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const where = `${file}: tensor "${name}"`;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_SIZES)) throw new Error(`${where}: unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new Error(`${where}: invalid shape ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0)) {
      throw new Error(`${where}: invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const byteLength = numel(shape) * DTYPE_SIZES[dtype];
    if (end - begin !== byteLength) {
      throw new Error(`${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${dtype} ${formatShape(shape)} needs ${byteLength}`);
    }
    if (end > dataSize) throw new Error(`${where}: data_offsets end ${end} is past the end of the data (${dataSize} bytes); file truncated?`);
    tensors.set(name, { name, dtype, shape, file, byteOffset: dataStart + begin, byteLength });
  }
  return { tensors, metadata, header, dataStart };
}

/** sha256 of what the writer hashed: the header JSON as written but without the checksum, then the data. */
function contentHash(header: Record<string, unknown>): ReturnType<typeof createHash> {
  const { [CHECKSUM_KEY]: _checksum, ...metadata } = (header.__metadata__ ?? {}) as Record<string, string>;
  return createHash('sha256').update(JSON.stringify({ ...header, __metadata__: metadata }));
}

/** Reads the whole data section and compares its hash with the stored one. */
async function verifyChecksum(handle: FileHandle, file: string, header: Record<string, unknown>, dataStart: number): Promise<void> {
  const expected = (header.__metadata__ as Record<string, string>)[CHECKSUM_KEY];
  const hash = contentHash(header);
  const fileSize = (await handle.stat()).size;
  const chunk = 1 << 24;
  for (let position = dataStart; position < fileSize; position += chunk) {
    hash.update(await readExactly(handle, position, Math.min(chunk, fileSize - position), file));
  }
  const actual = hash.digest('hex');
  if (actual !== expected) {
    throw new CorruptFileError(`${file}: checksum mismatch (stored sha256 ${expected.slice(0, 12)}…, content ${actual.slice(0, 12)}…): the file is corrupt`);
  }
}

/** A file whose bytes are not the ones written (checksum mismatch). */
export class CorruptFileError extends Error {
  override name = 'CorruptFileError';
}

/** Reads `length` bytes at `position` into a fresh (hence aligned) buffer. */
async function readExactly(handle: FileHandle, position: number, length: number, file: string): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  // A single read call is limited to 2 GiB and may return short, so loop in chunks.
  const chunk = 1 << 30;
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(bytes, done, Math.min(chunk, length - done), position + done);
    if (bytesRead === 0) throw new Error(`${file}: unexpected end of file at byte ${position + done}`);
    done += bytesRead;
  }
  return bytes;
}

class SafetensorsReader implements TensorReader {
  constructor(
    readonly path: string,
    readonly tensors: ReadonlyMap<string, TensorInfo>,
    readonly metadata: Readonly<Record<string, string>>,
    private readonly handles: Map<string, FileHandle>,
  ) {}

  async readFloat32(name: string): Promise<Float32Array> {
    const info = this.info(name);
    const bytes = await this.readBytes(info);
    const n = numel(info.shape);
    switch (info.dtype) {
      case 'F32':
        return new Float32Array(bytes.buffer, 0, n);
      case 'F16':
        return f16BitsToF32(new Uint16Array(bytes.buffer, 0, n));
      case 'BF16':
        return bf16BitsToF32(new Uint16Array(bytes.buffer, 0, n));
      default:
        throw new Error(`${info.file}: tensor "${name}" has dtype ${info.dtype}; expected F32, F16 or BF16`);
    }
  }

  async readFiniteFloat32(name: string): Promise<Float32Array> {
    const values = await this.readFloat32(name);
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      const info = this.info(name);
      throw new CorruptFileError(`${info.file}: tensor "${name}" ${formatShape(info.shape)} holds ${values[bad]} at element ${bad}: the weights are corrupt or diverged`);
    }
    return values;
  }

  async readIntegers(name: string): Promise<Int32Array | BigInt64Array> {
    const info = this.info(name);
    const n = numel(info.shape);
    switch (info.dtype) {
      case 'I32':
        return new Int32Array((await this.readBytes(info)).buffer, 0, n);
      case 'I64':
        return new BigInt64Array((await this.readBytes(info)).buffer, 0, n);
      default:
        throw new Error(`${info.file}: tensor "${name}" has dtype ${info.dtype}; expected I32 or I64`);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.handles.values()].map((h) => h.close()));
    this.handles.clear();
  }

  private info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw new Error(`${this.path}: no tensor named "${name}"`);
    return info;
  }

  private readBytes(info: TensorInfo): Promise<Uint8Array> {
    const handle = this.handles.get(info.file);
    if (!handle) throw new Error(`${this.path}: reader is closed`);
    return readExactly(handle, info.byteOffset, info.byteLength, info.file);
  }
}

/**
 * Writes tensors (converted to each one's dtype, round-to-nearest-even) in the given order, with a
 * checksum in the metadata. The file appears whole or not at all (`AtomicFile`).
 */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
): Promise<void> {
  assertLittleEndian();
  const header: Record<string, unknown> = { __metadata__: {} };
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (!['F32', 'F16', 'BF16'].includes(t.dtype)) {
      throw new Error(`${path}: tensor "${name}": cannot write dtype ${t.dtype}`);
    }
    if (numel(t.shape) !== t.data.length) {
      throw new Error(`${path}: tensor "${name}": shape ${formatShape(t.shape)} has ${numel(t.shape)} elements but data has ${t.data.length}`);
    }
    const byteLength = t.data.length * DTYPE_SIZES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + byteLength] };
    offset += byteLength;
  }
  const encoded = Object.values(tensors).map((t) => {
    const values = encodeFloats(t.data, t.dtype);
    return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  });
  const hash = createHash('sha256').update(JSON.stringify({ ...header, __metadata__: metadata ?? {} }));
  for (const bytes of encoded) hash.update(bytes);
  header.__metadata__ = { ...metadata, [CHECKSUM_KEY]: hash.digest('hex') };
  // The spec pads the header with spaces to a multiple of 8 so that the data is 8-byte aligned.
  let headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  headerBytes = Buffer.concat([headerBytes, Buffer.alloc(padded - headerBytes.length, 0x20)]);
  const lengthBytes = Buffer.alloc(8);
  lengthBytes.writeBigUInt64LE(BigInt(padded));

  const file = await AtomicFile.create(path);
  await file.write(lengthBytes);
  await file.write(headerBytes);
  for (const bytes of encoded) await file.write(bytes);
  await file.commit();
}

function encodeFloats(data: Float32Array, dtype: FloatDtype): Float32Array | Uint16Array {
  if (dtype === 'F32') return data;
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint16Array(data.length);
  const convert = dtype === 'F16' ? f32BitsToF16 : f32BitsToBf16;
  for (let i = 0; i < bits.length; i++) out[i] = convert(bits[i]);
  return out;
}

/** The values `data` takes after being stored as `dtype` and read back. */
export function roundToDtype(data: Float32Array, dtype: FloatDtype): Float32Array {
  if (dtype === 'F32') return Float32Array.from(data);
  const encoded = encodeFloats(data, dtype) as Uint16Array;
  return dtype === 'F16' ? f16BitsToF32(encoded) : bf16BitsToF32(encoded);
}

function f32BitsToBf16(u: number): number {
  // NaN must stay NaN: rounding could carry its mantissa into the exponent and make it Inf.
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

function f32BitsToF16(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf, or a quiet NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // too large: Inf
  if (e <= 0) {
    // Subnormal half: value = m * 2^-24 with m = (1.mant) * 2^(e + 9), rounded half to even.
    if (e < -10) return sign; // below half the smallest subnormal: ±0
    const full = mant | 0x800000;
    const shift = 14 - e;
    let m = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && m & 1)) m++;
    return sign | m;
  }
  // A carry out of the mantissa correctly bumps the exponent (up to Inf at the top of the range).
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return sign | h;
}

let f16Table: Float32Array | undefined;

function f16BitsToF32(bits: Uint16Array): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const e = (h >>> 10) & 0x1f;
      const m = h & 0x3ff;
      f16Table[h] =
        e === 0 ? sign * m * 2 ** -24 : e === 31 ? (m ? NaN : sign * Infinity) : sign * (1 + m / 1024) * 2 ** (e - 15);
    }
  }
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = f16Table[bits[i]];
  return out;
}

function bf16BitsToF32(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}
