import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gpt2Tokenizer, loadTokenizer, tokenizerFromVocabMerges } from '../../src/lm/tokenizer.js';
import { writeTinyCheckpoint, type TinyCheckpoint } from '../helpers/tinyCheckpoint.js';
import { gpt2VocabMerges } from '../../src/houselm/pretrain.js';

const SAMPLES = [
  'Hello world',
  'the cat is watching a movie',
  "I've been here since 1999!! 'll   spaces \n\n tabs\t\tend ",
  'ünïcödé, 日本語, emoji 🤖🎉 and a lone é',
  ' leading space',
];

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'userip-tokenizer-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('gpt2Tokenizer', () => {
  const tok = gpt2Tokenizer();

  test('matches GPT-2 ids and sizes', () => {
    assert.deepEqual(tok.encode('Hello world'), [15496, 995]);
    assert.equal(tok.vocabSize, 50257);
    assert.equal(tok.eosId, 50256);
    assert.equal(tok.prependBos, false);
  });

  test('round-trips arbitrary text', () => {
    for (const text of SAMPLES) assert.equal(tok.decode(tok.encode(text)), text);
  });

  test('<|endoftext|> anywhere in the text becomes its id, as in Hugging Face', () => {
    assert.deepEqual(tok.encode('a<|endoftext|>b<|endoftext|>'), [64, 50256, 65, 50256]);
    assert.equal(tok.decode([64, 50256, 65]), 'a<|endoftext|>b');
  });

  test('out-of-range ids are rejected', () => {
    assert.throws(() => tok.decode([50257]), /token id 50257 is outside \[0, 50257\)/);
  });
});

describe('vocab.json + merges.txt', () => {
  test("GPT-2's real files give exactly gpt-tokenizer's ids", async () => {
    const { vocab, merges } = await gpt2VocabMerges();
    assert.deepEqual(merges.slice(1, 4), ['Ġ t', 'Ġ a', 'h e'], 'the start of GPT-2 merges.txt');
    const tok = tokenizerFromVocabMerges(vocab, merges, { name: 'gpt2 files' });
    const reference = gpt2Tokenizer();
    assert.equal(tok.vocabSize, 50257);
    assert.equal(tok.bosId, 50256);
    for (const text of [...SAMPLES, 'x<|endoftext|>y']) {
      assert.deepEqual(tok.encode(text), reference.encode(text), text);
      assert.equal(tok.decode(tok.encode(text)), text);
    }
  });

  test('tiny gpt2 fixture: merges apply, text round-trips, ids come from config.json', async () => {
    const fx = await writeTinyCheckpoint(join(dir, 'gpt2'), { architecture: 'gpt2', seed: 1 });
    const tok = await loadTokenizer(fx.dir, { bosId: fx.config.bosTokenId, eosId: fx.config.eosTokenId });
    assert.match(tok.name, /vocab\.json/);
    assert.deepEqual(tok.encode(' the movie'), [fx.vocab['Ġthe'], fx.vocab['Ġmovie']]);
    assert.deepEqual(tok.encode('the'), [fx.vocab['t'], fx.vocab['he']]);
    for (const text of SAMPLES) assert.equal(tok.decode(tok.encode(text)), text);
    assert.equal(tok.eosId, fx.vocab['<|endoftext|>']);
    assert.equal(tok.vocabSize, Object.keys(fx.vocab).length);
  });
});

describe('tokenizer.json', () => {
  let qwen: TinyCheckpoint;
  let llama: TinyCheckpoint;
  before(async () => {
    qwen = await writeTinyCheckpoint(join(dir, 'qwen2'), { architecture: 'qwen2', seed: 2 });
    llama = await writeTinyCheckpoint(join(dir, 'llama'), { architecture: 'llama', seed: 3 });
  });

  test('byte-level (Qwen2 split pattern): merges, special tokens, round trip', async () => {
    const tok = await loadTokenizer(qwen.dir);
    assert.match(tok.name, /tokenizer\.json/);
    assert.deepEqual(tok.encode(' the cat'), [qwen.vocab['Ġthe'], qwen.vocab['Ġcat']]);
    // Qwen2 splits digits one by one.
    assert.deepEqual(tok.encode('42'), [qwen.vocab['4'], qwen.vocab['2']]);
    assert.deepEqual(tok.encode('<|im_start|>hi'), [qwen.vocab['<|im_start|>'], qwen.vocab['h'], qwen.vocab['i']]);
    for (const text of SAMPLES) assert.equal(tok.decode(tok.encode(text)), text);
    assert.equal(tok.bosId, undefined, 'Qwen2 has no bos token');
    assert.equal(tok.eosId, qwen.vocab['<|endoftext|>']);
    assert.equal(tok.prependBos, false);
  });

  test('SentencePiece-style (TinyLlama) with byte fallback: round trip, bos prepended by the model', async () => {
    const tok = await loadTokenizer(llama.dir);
    // SentencePiece marks word starts with ▁ and prefixes the text with one.
    assert.deepEqual(tok.encode('the cat'), [llama.vocab['▁the'], llama.vocab['▁cat']]);
    // Characters outside the vocabulary fall back to their UTF-8 bytes.
    assert.deepEqual(tok.encode('é'), [llama.vocab['▁'], llama.vocab['<0xC3>'], llama.vocab['<0xA9>']]);
    for (const text of SAMPLES) assert.equal(tok.decode(tok.encode(text)), text);
    assert.equal(tok.bosId, llama.vocab['<s>']);
    assert.equal(tok.eosId, llama.vocab['</s>']);
    assert.equal(tok.prependBos, true);
    assert.ok(!tok.encode('the cat').includes(tok.bosId!), 'encode never adds special tokens itself');
  });

  test('prependBos follows the post-processor when tokenizer_config.json is absent', async () => {
    const sub = join(dir, 'llama-no-config');
    await writeTinyCheckpoint(sub, { architecture: 'llama', seed: 3 });
    await rm(join(sub, 'tokenizer_config.json'));
    const tok = await loadTokenizer(sub, { eosId: 2 });
    assert.equal(tok.prependBos, true);
    assert.equal(tok.bosId, llama.vocab['<s>']);
    assert.equal(tok.eosId, 2);
  });
});

test('loadTokenizer names the files it looked for', async () => {
  const empty = await mkdtemp(join(dir, 'empty-'));
  await writeFile(join(empty, 'vocab.json'), '{}');
  await assert.rejects(
    loadTokenizer(empty),
    (err: Error) => err.message.includes(empty) && err.message.includes('tokenizer.json') && err.message.includes('merges.txt'),
  );
});
