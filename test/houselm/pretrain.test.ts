import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadCheckpoint } from '../../src/lm/checkpoint.js';
import { openSafetensors } from '../../src/io/index.js';
import { heldOutPerplexity, learningRate, pretrain, unigramPerplexity, type PretrainOptions, type PretrainResult } from '../../src/houselm/pretrain.js';

/** A small repetitive corpus: a few dozen documents a tiny model can learn something from quickly. */
function corpusText(seed: number): string {
  const subjects = ['the cat', 'a dog', 'the movie', 'my friend', 'the river'];
  const verbs = ['sees', 'likes', 'follows', 'finds'];
  const objects = ['the house.', 'a small bird.', 'the old film.', 'the green hill.'];
  const docs: string[] = [];
  for (let d = 0; d < 40; d++) {
    const lines: string[] = [];
    for (let s = 0; s < 4; s++) {
      const k = d * 7 + s * 3 + seed;
      lines.push(`${subjects[k % subjects.length]} ${verbs[(k >> 1) % verbs.length]} ${objects[(k >> 2) % objects.length]}`);
    }
    docs.push(lines.join('\n'));
  }
  return docs.join('\n\n');
}

describe('pretrain (tiny GPT-2 on a tiny corpus)', () => {
  let root: string;
  let corpus: string;
  let full: PretrainResult;
  const settings = (out: string): PretrainOptions => ({
    corpus,
    out,
    layers: 2,
    hidden: 32,
    heads: 2,
    context: 16,
    batch: 4,
    steps: 30,
    lr: 3e-3,
    warmup: 5,
    evalEvery: 10,
    evalTokens: 256,
    checkpointEvery: 7,
    seed: 3,
    threads: 1,
  });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'userip-pretrain-'));
    corpus = join(root, 'corpus');
    await mkdir(corpus);
    await writeFile(join(corpus, 'train.txt'), corpusText(0));
    await writeFile(join(corpus, 'valid.txt'), corpusText(1).slice(0, 600));
    full = await pretrain(settings(join(root, 'full')));
  });
  after(() => rm(root, { recursive: true, force: true }));

  test('validation loss decreases', () => {
    assert.equal(full.finished, true);
    assert.equal(full.step, 30);
    assert.equal(full.tokensSeen, 30 * 4 * 16);
    assert.deepEqual(full.evals.map((e) => e.step), [0, 10, 20, 30]);
    const [first, , , last] = full.evals;
    assert.ok(Math.abs(first.loss - Math.log(50257)) < 0.5, `initial loss ${first.loss} is about ln(50257)`);
    assert.ok(last.loss < first.loss - 3, `val loss ${first.loss} -> ${last.loss}`);
    assert.ok(Math.abs(full.val!.loss - last.loss) < 0.5, 'the final F16 evaluation agrees with the last periodic one');
    assert.ok(full.unigramPpl! > 1);
  });

  test('the output directory is a Hugging Face gpt2 checkpoint that loadCheckpoint reads', async () => {
    const dir = join(root, 'full');
    const ckpt = await loadCheckpoint(dir);
    assert.equal(ckpt.config.architecture, 'gpt2');
    assert.equal(ckpt.config.vocabSize, 50257);
    assert.equal(ckpt.config.hiddenSize, 32);
    assert.equal(ckpt.config.numLayers, 2);
    assert.equal(ckpt.config.maxPositions, 16);
    assert.equal(ckpt.config.tiedEmbeddings, true);
    assert.deepEqual(ckpt.unusedTensors, []);
    assert.deepEqual(ckpt.tokenizer.encode('Hello world'), [15496, 995]);
    assert.equal(ckpt.tokenizer.eosId, 50256);
    const raw = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    assert.equal(raw.model_type, 'gpt2');
    assert.equal(raw.n_embd, 32);
    const reader = await openSafetensors(join(dir, 'model.safetensors'));
    assert.equal(reader.tensors.get('wte.weight')!.dtype, 'F16');
    await reader.close();
    const effective = JSON.parse(await readFile(join(dir, 'pretrain-config.json'), 'utf8'));
    assert.equal(effective.steps, 30);
  });

  test('heldOutPerplexity recomputes the reported numbers from the saved files', async () => {
    const again = await heldOutPerplexity(join(root, 'full'), corpus, { batch: 4 });
    assert.equal(again.tokens, full.val!.tokens);
    assert.ok(Math.abs(again.valPpl / full.val!.ppl - 1) < 1e-6, `${again.valPpl} vs ${full.val!.ppl}`);
    assert.equal(again.unigramPpl, full.unigramPpl);
  });

  test('a run interrupted and resumed ends with the same weights as an uninterrupted one', async () => {
    const out = join(root, 'resumed');
    const first = await pretrain({ ...settings(out), stopAfter: 12 });
    assert.equal(first.finished, false);
    assert.equal(first.step, 12);
    const second = await pretrain(settings(out));
    assert.equal(second.finished, true);
    assert.equal(second.step, 30);
    assert.deepEqual(second.evals, full.evals);
    const a = await loadCheckpoint(join(root, 'full'));
    const b = await loadCheckpoint(out);
    for (const [name, wa] of a.weights) assert.deepEqual(b.weights.get(name), wa, name);
    // The F32 checkpoint too, not only the F16 export.
    const [ra, rb] = await Promise.all([openSafetensors(join(root, 'full', 'checkpoint.safetensors')), openSafetensors(join(out, 'checkpoint.safetensors'))]);
    for (const name of ra.tensors.keys()) assert.deepEqual(await rb.readFloat32(name), await ra.readFloat32(name), name);
    await Promise.all([ra.close(), rb.close()]);
  });

  test('changed settings refuse to resume a checkpoint', async () => {
    await assert.rejects(pretrain({ ...settings(join(root, 'full')), hidden: 64 }), /belongs to a run with other settings/);
  });
});

describe('pretrain helpers', () => {
  test('learning rate: linear warmup, then cosine to minLrRatio × lr', () => {
    const s = { layers: 1, hidden: 8, heads: 1, context: 4, batch: 1, steps: 110, lr: 1, minLrRatio: 0.1, warmup: 10, weightDecay: 0, clip: 1, seed: 0 };
    assert.equal(learningRate(s, 0), 0.1);
    assert.equal(learningRate(s, 9), 1);
    assert.equal(learningRate(s, 10), 1);
    assert.ok(Math.abs(learningRate(s, 60) - 0.55) < 1e-12);
    assert.ok(Math.abs(learningRate(s, 110) - 0.1) < 1e-12);
  });

  test('unigram perplexity: add-one smoothing over the vocabulary, first valid token not scored', () => {
    // counts a:3 b:1 c:0 over V=3 -> p = 4/7, 2/7, 1/7
    const ppl = unigramPerplexity([0, 0, 0, 1], [2, 0, 1], 3);
    assert.ok(Math.abs(ppl - Math.exp(-(Math.log(4 / 7) + Math.log(2 / 7)) / 2)) < 1e-12);
  });
});
