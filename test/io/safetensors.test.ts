import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openSafetensors, roundToDtype, writeSafetensors, type FloatDtype } from '../../src/io/index.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'userip-safetensors-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes one tensor, reads it back, and returns the values and the raw data bytes of the file. */
async function roundTrip(dtype: FloatDtype, values: number[]): Promise<{ back: Float32Array; raw: Buffer }> {
  const path = join(dir, `one-${dtype}.safetensors`);
  await writeSafetensors(path, { x: { dtype, shape: [values.length], data: Float32Array.from(values) } });
  const reader = await openSafetensors(path);
  try {
    const info = reader.tensors.get('x')!;
    const raw = (await readFile(path)).subarray(info.byteOffset, info.byteOffset + info.byteLength);
    return { back: await reader.readFloat32('x'), raw };
  } finally {
    await reader.close();
  }
}

// Expected values come from numpy (np.float16(np.float32(x))) and from the bf16 bit patterns
// (round-to-nearest-even of the upper 16 bits of the float32).
describe('float conversion on write and read', () => {
  test('F32 is stored bit-exactly', async () => {
    const values = [1, -2.5, 65504, 1e-8, 1e-39, Math.fround(Math.PI), -0, Infinity];
    const { back } = await roundTrip('F32', values);
    assert.deepEqual([...back], values.map(Math.fround));
    assert.ok(Object.is(back[6], -0));
  });

  test('F16 rounds to nearest even, with subnormals, overflow and NaN', async () => {
    const cases: [number, number][] = [
      [1, 1],
      [-2.5, -2.5],
      [65504, 65504], // largest half
      [65519, 65504], // below the midpoint to the next (nonexistent) step
      [65520, Infinity], // at the midpoint: rounds away to infinity
      [0.1, 0.0999755859375],
      [1 + 2 ** -11, 1], // tie: keep the even mantissa
      [1 + 3 * 2 ** -11, 1 + 2 ** -9], // tie: round up to the even mantissa
      [1e-5, 1.0013580322265625e-5], // subnormal half: 168 * 2^-24
      [6.1028e-5, 6.103515625e-5], // subnormal rounding up into the smallest normal
      [3e-8, 2 ** -24], // just above half the smallest subnormal
      [1e-8, 0], // underflow
      [-1e-39, -0],
    ];
    const { back, raw } = await roundTrip('F16', [...cases.map(([x]) => x), NaN]);
    cases.forEach(([x, expected], i) => assert.equal(back[i], expected, `F16(${x})`));
    assert.ok(Object.is(back[12], -0), 'sign of an underflowed negative survives');
    assert.ok(Number.isNaN(back[cases.length]));
    // The stored bits themselves, little-endian: 1.0 = 0x3c00, -2.5 = 0xc100, 65504 = 0x7bff.
    assert.deepEqual([raw.readUInt16LE(0), raw.readUInt16LE(2), raw.readUInt16LE(4)], [0x3c00, 0xc100, 0x7bff]);
    assert.equal(raw.readUInt16LE(16), 0x00a8);
  });

  test('BF16 rounds to nearest even, keeps float32 range and NaN', async () => {
    const cases: [number, number][] = [
      [1, 1],
      [-2.5, -2.5],
      [65504, 65536],
      [1e-8, 1.0011717677116394e-8], // 0x322bcc77 -> 0x322c
      [1e-39, 1.0101904577379033e-39], // float32 subnormal -> bf16 subnormal 0x000b
      [1 + 2 ** -8, 1], // tie: keep even
      [1 + 3 * 2 ** -8, 1 + 2 ** -6], // tie: round up to even
      [3e38, 3.00405527047391e38],
      [3.4028234663852886e38, Infinity], // float32 max rounds up past bf16 max
    ];
    const { back, raw } = await roundTrip('BF16', [...cases.map(([x]) => x), NaN, -NaN]);
    cases.forEach(([x, expected], i) => assert.equal(back[i], expected, `BF16(${x})`));
    assert.ok(Number.isNaN(back[cases.length]) && Number.isNaN(back[cases.length + 1]));
    assert.deepEqual([raw.readUInt16LE(0), raw.readUInt16LE(2), raw.readUInt16LE(6)], [0x3f80, 0xc020, 0x322c]);
  });

  test('roundToDtype gives what a write and read give', async () => {
    const data = new Float32Array(64).map((_, i) => Math.sin(i) * 10 ** ((i % 9) - 4));
    for (const dtype of ['F32', 'F16', 'BF16'] as const) {
      const { back } = await roundTrip(dtype, [...data]);
      assert.deepEqual(roundToDtype(data, dtype), back, dtype);
    }
  });
});

describe('file layout', () => {
  test('several tensors keep names, shapes, dtypes, metadata; data is 8-byte aligned', async () => {
    const path = join(dir, 'multi.safetensors');
    const a = Float32Array.from({ length: 6 }, (_, i) => i - 2.5);
    const b = Float32Array.from({ length: 3 }, (_, i) => i * 0.25);
    await writeSafetensors(
      path,
      {
        'layer.a': { dtype: 'F32', shape: [2, 3], data: a },
        'layer.b': { dtype: 'BF16', shape: [3], data: b },
        s: { dtype: 'F16', shape: [], data: Float32Array.of(7) },
      },
      { format: 'pt' },
    );
    const bytes = await readFile(path);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    assert.equal(headerLength % 8, 0);
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
    assert.deepEqual(header['layer.a'], { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
    assert.deepEqual(header['layer.b'], { dtype: 'BF16', shape: [3], data_offsets: [24, 30] });
    assert.equal(bytes.length, 8 + headerLength + 32);

    const reader = await openSafetensors(path);
    assert.deepEqual([...reader.tensors.keys()], ['layer.a', 'layer.b', 's']);
    assert.deepEqual(reader.metadata, { format: 'pt' });
    assert.deepEqual(reader.tensors.get('s')!.shape, []);
    assert.deepEqual(await reader.readFloat32('layer.a'), a);
    assert.deepEqual(await reader.readFloat32('layer.b'), b);
    assert.deepEqual([...(await reader.readFloat32('s'))], [7]);
    await assert.rejects(reader.readFloat32('nope'), /no tensor named "nope"/);
    await reader.close();
  });

  test('writing replaces the file atomically and leaves no temporary file', async () => {
    const sub = await mkdtemp(join(dir, 'atomic-'));
    const path = join(sub, 'w.safetensors');
    await writeSafetensors(path, { x: { dtype: 'F32', shape: [1], data: Float32Array.of(1) } });
    await writeSafetensors(path, { y: { dtype: 'F32', shape: [2], data: Float32Array.of(2, 3) } });
    assert.deepEqual(await readdir(sub), ['w.safetensors']);
    const reader = await openSafetensors(path);
    assert.deepEqual([...reader.tensors.keys()], ['y']);
    await reader.close();
    await assert.rejects(
      writeSafetensors(path, { bad: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } }),
      (err: Error) => err.message.includes(path) && err.message.includes('"bad"') && err.message.includes('[2, 2]'),
    );
    assert.deepEqual(await readdir(sub), ['w.safetensors'], 'a failed write leaves the old file alone');
  });

  test('I32 and I64 tensors written by other tools are readable', async () => {
    // Hand-built file: the writer only produces floats.
    const header = JSON.stringify({
      ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] },
      n: { dtype: 'I32', shape: [1], data_offsets: [16, 20] },
    });
    const data = Buffer.alloc(20);
    data.writeBigInt64LE(-3n, 0);
    data.writeBigInt64LE(2n ** 60n, 8);
    data.writeInt32LE(42, 16);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    const path = join(dir, 'ints.safetensors');
    await writeFile(path, Buffer.concat([len, Buffer.from(header), data]));
    const reader = await openSafetensors(path);
    assert.deepEqual([...(await reader.readIntegers('ids'))], [-3n, 2n ** 60n]);
    assert.deepEqual([...(await reader.readIntegers('n'))], [42]);
    await assert.rejects(reader.readFloat32('n'), /"n" has dtype I32/);
    await reader.close();
  });

  test('a truncated file is reported with the file and tensor names', async () => {
    const path = join(dir, 'truncated.safetensors');
    const zeros = { dtype: 'F32' as const, shape: [4], data: new Float32Array(4) };
    await writeSafetensors(path, { a: zeros, 'b.weight': zeros });
    await truncate(path, (await readFile(path)).length - 4);
    await assert.rejects(openSafetensors(path), (err: Error) => err.message.startsWith(path) && err.message.includes('"b.weight"'));
  });
});

describe('sharded checkpoints', () => {
  test('tensors are found in their shards through the index weight_map', async () => {
    const sub = await mkdtemp(join(dir, 'sharded-'));
    const t = (v: number) => ({ dtype: 'F32' as const, shape: [2], data: Float32Array.of(v, -v) });
    await writeSafetensors(join(sub, 'model-00001-of-00002.safetensors'), { a: t(1), b: t(2) });
    await writeSafetensors(join(sub, 'model-00002-of-00002.safetensors'), { c: t(3) });
    const index = join(sub, 'model.safetensors.index.json');
    const weightMap = { a: 'model-00001-of-00002.safetensors', b: 'model-00001-of-00002.safetensors', c: 'model-00002-of-00002.safetensors' };
    await writeFile(index, JSON.stringify({ metadata: { total_size: 24 }, weight_map: weightMap }));
    const reader = await openSafetensors(index);
    assert.deepEqual([...reader.tensors.keys()].sort(), ['a', 'b', 'c']);
    assert.equal(reader.metadata.total_size, '24');
    assert.ok(reader.tensors.get('c')!.file.endsWith('model-00002-of-00002.safetensors'));
    assert.deepEqual([...(await reader.readFloat32('c'))], [3, -3]);
    assert.deepEqual([...(await reader.readFloat32('a'))], [1, -1]);
    await reader.close();

    await writeFile(index, JSON.stringify({ weight_map: { ...weightMap, c: 'model-00001-of-00002.safetensors' } }));
    await assert.rejects(openSafetensors(index), /tensor "c" is mapped to model-00001-of-00002.safetensors, which does not contain it/);
  });
});

describe('checksum', () => {
  test('a flipped byte in the data or in the header metadata is refused at open as a corrupt file', async () => {
    const path = join(dir, 'checked.safetensors');
    await writeSafetensors(path, { deltas: { dtype: 'F32', shape: [64], data: Float32Array.from({ length: 64 }, (_, i) => i / 7) } }, { state: '{"batches":12}' });
    const good = await readFile(path);
    const headerLength = Number(good.readBigUInt64LE(0));

    const flippedData = Buffer.from(good);
    flippedData[8 + headerLength + 100] ^= 0x04;
    await writeFile(path, flippedData);
    await assert.rejects(openSafetensors(path), { name: 'CorruptFileError', message: new RegExp(`${path}: checksum mismatch`) });

    // "12" becomes "13": still valid JSON, still a plausible state.
    const flippedHeader = Buffer.from(good);
    flippedHeader[good.indexOf('12}') + 1] ^= 0x01;
    await writeFile(path, flippedHeader);
    await assert.rejects(openSafetensors(path), { name: 'CorruptFileError' });

    await writeFile(path, good);
    const reader = await openSafetensors(path);
    assert.deepEqual(reader.metadata, { state: '{"batches":12}' });
    await reader.close();
  });
});
