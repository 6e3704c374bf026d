/**
 * A compact BPE for the house LM. SentencePiece's trainer (Debian's `spm_train`, package
 * `sentencepiece`) learns the pieces; they are then written as a Hugging Face `tokenizer.json` (BPE with
 * byte fallback) that `loadTokenizer` reads like any downloaded model's tokenizer. The npm `tokenizers`
 * bindings cannot set a BPE trainer's vocabulary size, so they cannot do this step.
 *
 * Spaces become "▁" and start a word's first piece, as in SentencePiece; anything outside the pieces
 * (newlines, rare characters) falls back to its UTF-8 bytes, so every text round-trips exactly.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeJson } from '../io/index.js';

export const END_OF_TEXT_TOKEN = '<|endoftext|>';
const UNKNOWN_TOKEN = '<unk>';
const WORD_START = '\u2581';

export interface TrainTokenizerOptions {
  /** Text files, one paragraph per line (a corpus's train.txt). */
  inputs: string[];
  /** Directory that gets tokenizer.json and tokenizer_config.json. */
  out: string;
  vocabSize: number;
  /** Lines sampled for training (SentencePiece's input_sentence_size). */
  sampleLines: number;
  threads: number;
  seed: number;
}

export interface SentencePiece {
  piece: string;
  score: number;
}

/**
 * Runs spm_train and writes the tokenizer files; returns the vocabulary size.
 */
export async function trainTokenizer(options: TrainTokenizerOptions): Promise<{ vocabSize: number; pieces: number }> {
  const work = await mkdtemp(join(tmpdir(), 'userip-spm-'));
  try {
    const prefix = join(work, 'bpe');
    const args = [
      `--input=${options.inputs.join(',')}`,
      `--model_prefix=${prefix}`,
      '--model_type=bpe',
      `--vocab_size=${options.vocabSize}`,
      '--byte_fallback=true',
      '--character_coverage=0.9995',
      // Keep the text as it is (no NFKC, no whitespace clean-up), so that decode inverts encode.
      '--normalization_rule_name=identity',
      '--add_dummy_prefix=false',
      '--remove_extra_whitespaces=false',
      '--split_digits=true',
      '--max_sentence_length=16384',
      `--input_sentence_size=${options.sampleLines}`,
      '--shuffle_input_sentence=true',
      `--random_seed=${options.seed}`,
      '--unk_id=0',
      '--bos_id=-1',
      '--eos_id=1',
      '--pad_id=-1',
      `--eos_piece=${END_OF_TEXT_TOKEN}`,
      `--num_threads=${options.threads}`,
      '--minloglevel=1',
    ];
    try {
      await promisify(execFile)('spm_train', args, { maxBuffer: 64 << 20 });
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: string };
      if (e.code === 'ENOENT') throw new Error('spm_train not found: install SentencePiece (Debian: apt-get install sentencepiece)');
      throw new Error(`spm_train failed: ${e.stderr?.trim().split('\n').slice(-3).join(' ') ?? e.message}`);
    }
    const pieces = parseSentencePieceVocab(await readFile(`${prefix}.vocab`, 'utf8'), `${prefix}.vocab`);
    await writeTokenizerFiles(options.out, pieces);
    return { vocabSize: pieces.length, pieces: pieces.length };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** A SentencePiece `.vocab` file: one `piece<TAB>score` line per id. */
export function parseSentencePieceVocab(text: string, name: string): SentencePiece[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line, i) => {
      const tab = line.lastIndexOf('\t');
      const score = Number(line.slice(tab + 1));
      if (tab < 0 || !Number.isFinite(score)) throw new Error(`${name}:${i + 1}: expected "piece<TAB>score"`);
      return { piece: line.slice(0, tab), score };
    });
}

const isByte = (piece: string) => /^<0x[0-9A-F]{2}>$/.test(piece);

/**
 * The Hugging Face tokenizer.json of SentencePiece BPE pieces (in id order). BPE merges are not stored
 * by SentencePiece; as in Hugging Face's own converter, every split of a piece into two pieces is a
 * merge, ranked by the merged piece's id (SentencePiece orders BPE pieces by merge order), then by
 * the parts' ids.
 */
export function tokenizerJsonFromPieces(pieces: readonly SentencePiece[]): object {
  const vocab: Record<string, number> = {};
  pieces.forEach((p, id) => (vocab[p.piece] = id));
  const specials = [UNKNOWN_TOKEN, END_OF_TEXT_TOKEN];
  const merges: { left: string; right: string; rank: number; l: number; r: number }[] = [];
  pieces.forEach((p, rank) => {
    if (specials.includes(p.piece) || isByte(p.piece)) return;
    const chars = Array.from(p.piece);
    for (let i = 1; i < chars.length; i++) {
      const left = chars.slice(0, i).join('');
      const right = chars.slice(i).join('');
      if (left in vocab && right in vocab) merges.push({ left, right, rank, l: vocab[left], r: vocab[right] });
    }
  });
  merges.sort((a, b) => a.rank - b.rank || a.l - b.l || a.r - b.r);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials
      .filter((content) => content in vocab)
      .map((content) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'Replace', pattern: { String: ' ' }, content: WORD_START },
    // One pre-token per word (with its leading "▁"), as SentencePiece splits at whitespace.
    pre_tokenizer: { type: 'Split', pattern: { Regex: `${WORD_START}?[^${WORD_START}]+|${WORD_START}` }, behavior: 'Isolated', invert: false },
    post_processor: null,
    decoder: {
      type: 'Sequence',
      decoders: [{ type: 'Replace', pattern: { String: WORD_START }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: UNKNOWN_TOKEN,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: merges.map((m) => `${m.left} ${m.right}`),
    },
  };
}

/** tokenizer.json plus a tokenizer_config.json naming <|endoftext|> as bos and eos (GPT-2 style: no bos is prepended). */
export async function writeTokenizerFiles(dir: string, pieces: readonly SentencePiece[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeJson(join(dir, 'tokenizer.json'), tokenizerJsonFromPieces(pieces));
  await writeJson(join(dir, 'tokenizer_config.json'), {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: END_OF_TEXT_TOKEN,
    eos_token: END_OF_TEXT_TOKEN,
    unk_token: UNKNOWN_TOKEN,
    add_bos_token: false,
    model_max_length: 1_000_000,
  });
}
