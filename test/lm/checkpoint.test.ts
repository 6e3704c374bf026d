import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadCheckpoint } from '../../src/lm/checkpoint.js';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../../src/io/index.js';
import { expectedTensors } from '../../src/lm/weights.js';
import { writeTinyCheckpoint, type TinyCheckpointOptions } from '../helpers/tinyCheckpoint.js';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'userip-checkpoint-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
const fresh = () => join(root, `ck-${counter++}`);

describe('loadCheckpoint on tiny Hugging Face layouts', () => {
  const variants: TinyCheckpointOptions[] = [
    { architecture: 'gpt2', seed: 1 },
    { architecture: 'gpt2', seed: 2, prefixed: true, dtype: 'F16', tied: false, intermediateSize: 24 },
    { architecture: 'llama', seed: 3, sharded: true, dtype: 'BF16' },
    { architecture: 'llama', seed: 4, tied: true, numKvHeads: 4, vocabSize: 320 },
    { architecture: 'qwen2', seed: 5, dtype: 'BF16', sharded: true },
    { architecture: 'qwen2', seed: 6, tied: false, numHeads: 2, numKvHeads: 1 },
  ];
  for (const options of variants) {
    test(JSON.stringify(options), async () => {
      const fx = await writeTinyCheckpoint(fresh(), options);
      const ck = await loadCheckpoint(fx.dir);
      assert.deepEqual(ck.config, fx.config);
      // The fixture spells out the HF layout independently of expectedTensors.
      const expected = expectedTensors(ck.config);
      assert.deepEqual([...expected.keys()].sort(), [...fx.weights.keys()].sort());
      for (const [name, values] of fx.weights) {
        assert.equal(ck.weights.get(name)!.length, expected.get(name)!.reduce((a, b) => a * b, 1), name);
        assert.deepEqual(ck.weights.get(name), values, name);
      }
      assert.equal(ck.weights.has('lm_head.weight'), !fx.config.tiedEmbeddings);
      assert.equal(ck.tokenizer.decode(ck.tokenizer.encode('the cat')), 'the cat');
      assert.equal(ck.tokenizer.eosId, fx.config.eosTokenId);
    });
  }

  test("GPT-2's attention buffers are not weights but are listed as unused", async () => {
    const fx = await writeTinyCheckpoint(fresh(), { architecture: 'gpt2', seed: 7, numLayers: 1, prefixed: true });
    const ck = await loadCheckpoint(fx.dir);
    assert.deepEqual(ck.unusedTensors.sort(), ['transformer.h.0.attn.bias', 'transformer.h.0.attn.masked_bias']);
    assert.ok(ck.weights.has('h.0.attn.c_attn.weight'));
  });

  test('the fixture uses realistic magnitudes (norms near 1, weights std ~0.02)', async () => {
    const fx = await writeTinyCheckpoint(fresh(), { architecture: 'llama', seed: 8, hiddenSize: 32 });
    const mean = (a: Float32Array) => a.reduce((s, x) => s + x, 0) / a.length;
    const std = (a: Float32Array) => Math.sqrt(mean(a.map((x) => x * x)) - mean(a) ** 2);
    assert.ok(Math.abs(mean(fx.weights.get('model.norm.weight')!) - 1) < 0.02);
    const q = fx.weights.get('model.layers.0.self_attn.q_proj.weight')!;
    assert.ok(Math.abs(std(q) - 0.02) < 0.004, `std ${std(q)}`);
  });
});

/** Rewrites model.safetensors of a fixture through `edit`, which may change or drop tensors. */
async function editWeights(dir: string, edit: (tensors: Record<string, TensorToWrite>) => void): Promise<string> {
  const path = join(dir, 'model.safetensors');
  const reader = await openSafetensors(path);
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, info] of reader.tensors) {
    tensors[name] = { dtype: 'F32', shape: info.shape, data: await reader.readFloat32(name) };
  }
  await reader.close();
  edit(tensors);
  await writeSafetensors(path, tensors);
  return path;
}

describe('loadCheckpoint errors', () => {
  test('a mis-shaped tensor names the tensor, both shapes and the file', async () => {
    const fx = await writeTinyCheckpoint(fresh(), { architecture: 'llama', seed: 9 });
    const path = await editWeights(fx.dir, (t) => {
      t['model.layers.1.self_attn.k_proj.weight'] = { dtype: 'F32', shape: [16, 16], data: new Float32Array(256) };
    });
    await assert.rejects(
      loadCheckpoint(fx.dir),
      (err: Error) =>
        err.message.includes(path) &&
        err.message.includes('"model.layers.1.self_attn.k_proj.weight"') &&
        err.message.includes('[16, 16]') &&
        err.message.includes('expected [8, 16]'),
    );
  });

  test('a transposed Conv1D weight is caught (GPT-2 stores [in, out])', async () => {
    const fx = await writeTinyCheckpoint(fresh(), { architecture: 'gpt2', seed: 10 });
    await editWeights(fx.dir, (t) => {
      t['h.0.mlp.c_fc.weight'] = { dtype: 'F32', shape: [64, 16], data: t['h.0.mlp.c_fc.weight'].data };
    });
    await assert.rejects(loadCheckpoint(fx.dir), /"h\.0\.mlp\.c_fc\.weight" has shape \[64, 16\], expected \[16, 64\]/);
  });

  test('a missing tensor names the tensor, its expected shape and the file', async () => {
    const fx = await writeTinyCheckpoint(fresh(), { architecture: 'gpt2', seed: 11 });
    const path = await editWeights(fx.dir, (t) => delete t['ln_f.bias']);
    await assert.rejects(
      loadCheckpoint(fx.dir),
      (err: Error) =>
        err.message.includes(path) &&
        err.message.includes('missing tensor "ln_f.bias"') &&
        err.message.includes('"transformer.ln_f.bias"') &&
        err.message.includes('expected shape [16]'),
    );
  });

  test('an untied checkpoint without lm_head is an error', async () => {
    const fx = await writeTinyCheckpoint(fresh(), { architecture: 'qwen2', seed: 12 });
    const config = JSON.parse(await readFile(join(fx.dir, 'config.json'), 'utf8'));
    await writeFile(join(fx.dir, 'config.json'), JSON.stringify({ ...config, tie_word_embeddings: false }));
    await assert.rejects(loadCheckpoint(fx.dir), /missing tensor "lm_head.weight".*\[\d+, 16\]/);
  });

  test('a tokenizer larger than the embedding table is an error', async () => {
    const fx = await writeTinyCheckpoint(fresh(), { architecture: 'gpt2', seed: 13 });
    const path = join(fx.dir, 'vocab.json');
    const vocab = JSON.parse(await readFile(path, 'utf8'));
    await writeFile(path, JSON.stringify({ ...vocab, extra: fx.config.vocabSize }));
    await assert.rejects(loadCheckpoint(fx.dir), /has \d+ tokens but the model's vocab_size is \d+/);
  });

  test('a directory without weights says what it looked for', async () => {
    const fx = await writeTinyCheckpoint(fresh(), { architecture: 'gpt2', seed: 14 });
    await rm(join(fx.dir, 'model.safetensors'));
    await assert.rejects(loadCheckpoint(fx.dir), /no weights found: looked for model\.safetensors and model\.safetensors\.index\.json/);
  });
});
