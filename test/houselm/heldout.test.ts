import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  UNIGRAM_COUNTS_FILE,
  heldOutCorpus,
  heldOutPerplexity,
  readUnigramCounts,
  tokenizeCorpusText,
  unigramPerplexity,
  unigramPerplexityFromCounts,
  writeUnigramCounts,
} from '../../src/houselm/pretrain.js';
import { loadCheckpoint } from '../../src/lm/checkpoint.js';
import { gpt2Tokenizer } from '../../src/lm/tokenizer.js';
import { writeTinyCheckpoint } from '../helpers/tinyCheckpoint.js';

/** The add-one unigram perplexity written out independently: documents, then <|endoftext|> after each. */
function expectedUnigramPpl(train: string, valid: string): number {
  const tok = gpt2Tokenizer();
  const ids = (text: string) => text.split('\n\n').flatMap((doc) => [...tok.encode(doc), 50256]);
  const trainIds = ids(train);
  const counts = new Map<number, number>();
  for (const id of trainIds) counts.set(id, (counts.get(id) ?? 0) + 1);
  const targets = ids(valid).slice(1);
  const nll = targets.reduce((sum, id) => sum - Math.log(((counts.get(id) ?? 0) + 1) / (trainIds.length + 50257)), 0);
  return Math.exp(nll / targets.length);
}

const TRAIN = [
  'The cat sat on the mat.\nIt was a warm afternoon in the old house.',
  'A dictionary defines words: "abandon, v. to give up wholly."',
  'Films of 1995 include Toy Story (Animation|Children|Comedy).',
  'Call me Ishmael. Some years ago, never mind how long precisely...',
].join('\n\n');
const VALID = ['The dog sat by the door.', 'Émile read the dictionary — twice.'].join('\n\n');

describe('held-out perplexity from a unigram count file instead of train.txt', () => {
  let root: string;
  let full: string;
  let shipped: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'userip-heldout-'));
    full = join(root, 'corpus');
    shipped = join(root, 'heldout');
    await mkdir(full);
    await mkdir(shipped);
    await writeFile(join(full, 'train.txt'), TRAIN);
    await writeFile(join(full, 'valid.txt'), VALID);
    await copyFile(join(full, 'valid.txt'), join(shipped, 'valid.txt'));
    await writeUnigramCounts(full, join(shipped, UNIGRAM_COUNTS_FILE));
  });
  after(() => rm(root, { recursive: true, force: true }));

  test('the count file reproduces the unigram perplexity computed from the training tokens', async () => {
    const train = tokenizeCorpusText(TRAIN);
    const valid = tokenizeCorpusText(VALID);
    const counts = await readUnigramCounts(join(shipped, UNIGRAM_COUNTS_FILE));
    assert.equal(counts.vocabSize, 50257);
    assert.equal(counts.total, train.length);
    assert.equal(counts.counts[50256], 4, 'one <|endoftext|> per training document');
    const ppl = unigramPerplexityFromCounts(counts, valid);
    assert.equal(ppl, unigramPerplexity(train, valid));
    const expected = expectedUnigramPpl(TRAIN, VALID);
    assert.ok(Math.abs(ppl - expected) < 1e-9 * expected, `${ppl} vs ${expected}`);
    const file = JSON.parse(await readFile(join(shipped, UNIGRAM_COUNTS_FILE), 'utf8'));
    assert.equal(file.source.sha256, createHash('sha256').update(TRAIN).digest('hex'));
  });

  test('heldOutCorpus reads train.txt when present, else the count file, else fails', async () => {
    const a = await heldOutCorpus(full);
    const b = await heldOutCorpus(shipped);
    assert.equal(a.unigramSource, 'train.txt');
    assert.equal(b.unigramSource, UNIGRAM_COUNTS_FILE);
    assert.deepEqual(b.valid, a.valid);
    assert.deepEqual(b.unigram, a.unigram);
    const bare = join(root, 'bare');
    await mkdir(bare);
    await copyFile(join(full, 'valid.txt'), join(bare, 'valid.txt'));
    await assert.rejects(heldOutCorpus(bare), /neither train\.txt nor train-unigram\.json/);
  });

  test('a count file whose counts do not match its total or vocabulary is rejected', async () => {
    const good = JSON.parse(await readFile(join(shipped, UNIGRAM_COUNTS_FILE), 'utf8'));
    const bad = join(root, 'bad.json');
    await writeFile(bad, JSON.stringify({ ...good, counts: good.counts.map((c: number, i: number) => (i === 13 ? c + 1 : c)) }));
    await assert.rejects(readUnigramCounts(bad), /sum to/);
    await writeFile(bad, JSON.stringify({ ...good, counts: good.counts.slice(1) }));
    await assert.rejects(readUnigramCounts(bad), /50256 counts for a vocabulary of 50257/);
    await writeFile(bad, JSON.stringify({ ...good, format: 'something-else' }));
    await assert.rejects(readUnigramCounts(bad), /not a unigram count file/);
  });

  test('heldOutPerplexity gives the same numbers from either directory', async () => {
    const lm = join(root, 'lm');
    await writeTinyCheckpoint(lm, { architecture: 'gpt2', seed: 5, vocabSize: 50257, hiddenSize: 8, numLayers: 1, numHeads: 2, maxPositions: 16 });
    // The model's own tokenizer cuts the text, so its count file is written with it.
    const tok = (await loadCheckpoint(lm)).tokenizer;
    const own = join(root, 'heldout-own');
    await mkdir(own);
    await copyFile(join(full, 'valid.txt'), join(own, 'valid.txt'));
    await writeUnigramCounts(full, join(own, UNIGRAM_COUNTS_FILE), tok);
    await assert.rejects(heldOutPerplexity(lm, shipped, { batch: 4 }), /counts 50257 token ids, but .* has \d+/);
    const a = await heldOutPerplexity(lm, full, { batch: 4 });
    const b = await heldOutPerplexity(lm, own, { batch: 4 });
    assert.equal(b.unigramSource, UNIGRAM_COUNTS_FILE);
    assert.equal(b.valPpl, a.valPpl);
    assert.equal(b.unigramPpl, a.unigramPpl);
    assert.equal(b.bitsPerByte, a.bitsPerByte);
    assert.equal(b.unigramPpl, unigramPerplexity(tokenizeCorpusText(TRAIN, tok), tokenizeCorpusText(VALID, tok), tok.vocabSize));
    assert.equal(b.tokens, tokenizeCorpusText(VALID, tok).length - 1);
    assert.ok(Number.isFinite(b.valPpl) && b.valPpl > 1);
    assert.ok(Math.abs(b.bitsPerByte - (Math.log(b.valPpl) * b.tokens) / Math.LN2 / Buffer.byteLength(VALID)) < 1e-9);
  });
});
