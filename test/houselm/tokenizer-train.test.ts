/** The compact BPE: SentencePiece pieces become a tokenizer.json that the product's loader reads and that round-trips text. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { parseSentencePieceVocab, trainTokenizer, writeTokenizerFiles } from '../../src/houselm/tokenizer-train.js';
import { loadTokenizer } from '../../src/lm/tokenizer.js';

let dir: string;
before(async () => (dir = await mkdtemp(join(tmpdir(), 'userip-bpe-'))));
after(() => rm(dir, { recursive: true, force: true }));

const bytes = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>\t0`);
// A SentencePiece BPE vocabulary: specials, bytes, merged pieces in merge order, then characters.
const VOCAB = ['<unk>\t0', '<|endoftext|>\t0', ...bytes, '▁t\t-0', 'he\t-1', '▁the\t-2', '▁c\t-3', 'at\t-4', '▁cat\t-5', 'e\t-6', 't\t-7', 'h\t-8', '▁\t-9', 'a\t-10', 'c\t-11', 's\t-12'].join('\n');

it('reads a .vocab file and names a bad line', () => {
  assert.equal(parseSentencePieceVocab(VOCAB, 'v').length, 2 + 256 + 13);
  assert.throws(() => parseSentencePieceVocab('a\t0\nb x', 'bpe.vocab'), /bpe\.vocab:2: expected "piece<TAB>score"/);
});

it('the written tokenizer merges as SentencePiece ranked, falls back to bytes, and decodes exactly', async () => {
  const out = join(dir, 'tok');
  await writeTokenizerFiles(out, parseSentencePieceVocab(VOCAB, 'v'));
  const tok = await loadTokenizer(out);
  assert.equal(tok.vocabSize, 2 + 256 + 13);
  assert.equal(tok.eosId, 1);
  assert.equal(tok.prependBos, false);
  const id = (piece: string) => 2 + 256 + ['▁t', 'he', '▁the', '▁c', 'at', '▁cat', 'e', 't', 'h', '▁', 'a', 'c', 's'].indexOf(piece);
  assert.deepEqual(tok.encode('the cat sat'), [id('t'), id('he'), id('▁cat'), id('▁'), id('s'), id('at')]);
  for (const text of ['the cat sat', 'a\nb  ünïcode 😀 <|endoftext|> cat', '']) assert.equal(tok.decode(tok.encode(text)), text);
  // "\n" is not a piece: it falls back to its byte.
  assert.deepEqual(tok.encode('\n'), [2 + 0x0a]);
});

const hasSpm = (() => {
  try {
    execFileSync('spm_train', ['--help'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
})();

it('trainTokenizer runs spm_train end to end', { skip: hasSpm ? false : 'spm_train is not installed (Debian package sentencepiece)' }, async () => {
  const corpus = join(dir, 'train.txt');
  const words = ['movie', 'comedy', 'drama', 'the', 'user', 'rated', 'action', 'story', 'love', 'war'];
  await writeFile(corpus, Array.from({ length: 400 }, (_, i) => `${words[i % 10]} ${words[(i * 7) % 10]} ${words[(i * 3) % 10]} ${i % 5}`).join('\n'));
  const out = join(dir, 'trained');
  const result = await trainTokenizer({ inputs: [corpus], out, vocabSize: 300, sampleLines: 1000, threads: 1, seed: 0 });
  assert.equal(result.vocabSize, 300);
  const tok = await loadTokenizer(out);
  const text = 'the comedy movie rated 4\nwar story';
  assert.equal(tok.decode(tok.encode(text)), text);
  assert.ok(tok.encode('comedy').length <= 3, 'frequent words are few pieces');
});
