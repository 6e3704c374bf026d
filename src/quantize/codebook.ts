/**
 * One profile slot's codebook: k centroids in the soft-token space, row-major k×d. A user's ID for
 * the slot is the index of the centroid nearest to the user's soft token.
 */
import { createHash } from 'node:crypto';

export interface Codebook {
  readonly k: number;
  readonly d: number;
  /** k×d, row j is code j. */
  readonly centroids: Float32Array;
}

/** The plain form a codebook is saved in (e.g. as one k×d safetensors tensor plus k and d). */
export interface CodebookObject {
  k: number;
  d: number;
  centroids: Float32Array;
}

/** Throws unless `vectors` is a whole number of finite d-dimensional rows; returns the row count. */
export function countRows(vectors: Float32Array, d: number, what: string): number {
  if (vectors.length % d !== 0) throw new RangeError(`${what}: length ${vectors.length} is not a multiple of d = ${d}`);
  for (let i = 0; i < vectors.length; i++) {
    if (!Number.isFinite(vectors[i])) throw new RangeError(`${what}: non-finite value ${vectors[i]} in row ${Math.floor(i / d)}`);
  }
  return vectors.length / d;
}

function checkSize(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new RangeError(`codebook: ${name} must be a positive integer, got ${String(value)}`);
  return value;
}

/** Validates and copies a saved codebook (the copy keeps a later in-place update from touching the source). */
export function codebookFromObject(value: { k: number; d: number; centroids: ArrayLike<number> }): Codebook {
  const k = checkSize('k', value.k);
  const d = checkSize('d', value.d);
  if (value.centroids.length !== k * d) throw new RangeError(`codebook: ${value.centroids.length} centroid values, expected k×d = ${k * d}`);
  const centroids = Float32Array.from(value.centroids);
  countRows(centroids, d, 'codebook centroids');
  return { k, d, centroids };
}

export function codebookToObject(codebook: Codebook): CodebookObject {
  return { k: codebook.k, d: codebook.d, centroids: codebook.centroids.slice() };
}

/**
 * sha256 (hex) of k, d and the centroids as little-endian float32. The feature bank records it, so
 * IDs from different codebooks are never mixed. Written byte by byte so the hash does not depend on
 * the machine's endianness.
 */
export function codebookHash(codebook: Codebook): string {
  const bytes = Buffer.alloc(8 + 4 * codebook.centroids.length);
  bytes.writeUInt32LE(codebook.k, 0);
  bytes.writeUInt32LE(codebook.d, 4);
  codebook.centroids.forEach((v, i) => bytes.writeFloatLE(v, 8 + 4 * i));
  return createHash('sha256').update('userip-codebook-v1\0').update(bytes).digest('hex');
}
