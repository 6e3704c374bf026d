/**
 * Text <-> token ids for the LMs we load. Three sources: GPT-2's own BPE (bundled in gpt-tokenizer, so
 * it needs no files), a Hugging Face `tokenizer.json`, or GPT-2-style `vocab.json` + `merges.txt`
 * (converted in memory to the tokenizer.json that Hugging Face would build from them).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import * as r50k from 'gpt-tokenizer/encoding/r50k_base';
import { exists, readJson } from '../io/index.js';

export interface Tokenizer {
  /** Where the tokenizer came from, for logs and errors. */
  readonly name: string;
  /** One past the largest token id. */
  readonly vocabSize: number;
  readonly bosId?: number;
  readonly eosId?: number;
  /**
   * The model saw `bosId` at the start of every training sequence (Llama family), so prompt builders
   * should put it first. `encode` itself never adds special tokens.
   */
  readonly prependBos: boolean;
  /** Special-token strings in the text (e.g. `<|endoftext|>`) become their ids, as in Hugging Face. */
  encode(text: string): number[];
  /** Exact inverse of `encode` (no whitespace clean-up). */
  decode(ids: readonly number[]): string;
}

export interface TokenizerOptions {
  name: string;
  /** Parsed `tokenizer_config.json`: names the bos/eos tokens and whether a bos is prepended. */
  tokenizerConfig?: Record<string, unknown>;
  /** Used when `tokenizerConfig` does not name a bos/eos token (e.g. ids from the model's config.json). */
  bosId?: number;
  eosId?: number;
}

const GPT2_END_OF_TEXT = '<|endoftext|>';

/** GPT-2's byte-level BPE (r50k_base); <|endoftext|> (50256) is both bos and eos. */
export function gpt2Tokenizer(): Tokenizer {
  const vocabSize = r50k.vocabularySize;
  const endOfText = vocabSize - 1;
  return {
    name: 'gpt2 (r50k_base)',
    vocabSize,
    bosId: endOfText,
    eosId: endOfText,
    prependBos: false,
    // gpt-tokenizer 4.0.0 only recognizes a special token at the very start of the text, so split on
    // it here and encode the pieces as plain text.
    encode: (text) => {
      const ids: number[] = [];
      text.split(GPT2_END_OF_TEXT).forEach((piece, i) => {
        if (i > 0) ids.push(endOfText);
        for (const id of r50k.encode(piece, { disallowedSpecial: new Set() })) ids.push(id);
      });
      return ids;
    },
    decode: (ids) => r50k.decode(checkIds(ids, vocabSize, 'gpt2 (r50k_base)')),
  };
}

/** A tokenizer from the parsed contents of a Hugging Face `tokenizer.json`. */
export function tokenizerFromJson(json: object, options: TokenizerOptions): Tokenizer {
  const config = options.tokenizerConfig ?? {};
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer(json, config);
  } catch (err) {
    throw new Error(`${options.name}: cannot build tokenizer: ${(err as Error).message}`);
  }
  let vocabSize = 0;
  for (const id of hf.get_vocab(true).values()) vocabSize = Math.max(vocabSize, id + 1);
  const tokenId = (key: string): number | undefined => {
    const token = specialTokenName(config[key]);
    return token === undefined ? undefined : hf.token_to_id(token);
  };
  // Whether the post-processor frames a text with a leading bos; tokenizer_config overrides it, as in
  // transformers.
  const probe = 'a';
  const plain = hf.encode(probe, { add_special_tokens: false }).ids;
  const framed = hf.encode(probe).ids;
  const templateBos = framed.length > plain.length && framed[0] !== plain[0] ? framed[0] : undefined;
  const addBos = config.add_bos_token;
  return {
    name: options.name,
    vocabSize,
    bosId: tokenId('bos_token') ?? options.bosId ?? templateBos,
    eosId: tokenId('eos_token') ?? options.eosId,
    prependBos: typeof addBos === 'boolean' ? addBos : templateBos !== undefined,
    encode: (text) => hf.encode(text, { add_special_tokens: false }).ids,
    decode: (ids) =>
      ids.length === 0 ? '' : hf.decode(checkIds(ids, vocabSize, options.name) as number[], { clean_up_tokenization_spaces: false }),
  };
}

/**
 * A GPT-2-style byte-level BPE from `vocab.json` and the lines of `merges.txt`. Special tokens are the
 * bos/eos/unk tokens of `tokenizerConfig`, defaulting like transformers' GPT2Tokenizer to <|endoftext|>.
 */
export function tokenizerFromVocabMerges(vocab: Record<string, number>, merges: string[], options: TokenizerOptions): Tokenizer {
  const tokenizerConfig: Record<string, unknown> = {
    bos_token: GPT2_END_OF_TEXT,
    eos_token: GPT2_END_OF_TEXT,
    unk_token: GPT2_END_OF_TEXT,
    ...options.tokenizerConfig,
  };
  const specials = new Set(
    ['bos_token', 'eos_token', 'unk_token']
      .map((k) => specialTokenName(tokenizerConfig[k]))
      .filter((t): t is string => t !== undefined && t in vocab),
  );
  const json = {
    version: '1.0',
    added_tokens: [...specials].map((content) => ({
      id: vocab[content],
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: merges.filter((line, i) => line.trim() !== '' && !(i === 0 && line.startsWith('#version'))),
    },
  };
  return tokenizerFromJson(json, { ...options, tokenizerConfig });
}

/**
 * The tokenizer stored in a checkpoint directory: `tokenizer.json`, else `vocab.json` + `merges.txt`,
 * with `tokenizer_config.json` when present. `fallback` ids apply when the files name no bos/eos.
 */
export async function loadTokenizer(dir: string, fallback: { bosId?: number; eosId?: number } = {}): Promise<Tokenizer> {
  const tokenizerConfig = (await exists(join(dir, 'tokenizer_config.json')))
    ? ((await readJson(join(dir, 'tokenizer_config.json'))) as Record<string, unknown>)
    : undefined;
  const tokenizerJson = join(dir, 'tokenizer.json');
  if (await exists(tokenizerJson)) {
    return tokenizerFromJson((await readJson(tokenizerJson)) as object, { name: tokenizerJson, tokenizerConfig, ...fallback });
  }
  const vocabPath = join(dir, 'vocab.json');
  const mergesPath = join(dir, 'merges.txt');
  if ((await exists(vocabPath)) && (await exists(mergesPath))) {
    const vocab = (await readJson(vocabPath)) as Record<string, number>;
    const merges = (await readFile(mergesPath, 'utf8')).split(/\r?\n/);
    return tokenizerFromVocabMerges(vocab, merges, { name: `${vocabPath} + merges.txt`, tokenizerConfig, ...fallback });
  }
  throw new Error(`${dir}: no tokenizer found: looked for tokenizer.json, or vocab.json together with merges.txt`);
}

/** tokenizer_config.json writes a special token as a string or as an AddedToken object. */
function specialTokenName(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const content = (value as { content?: unknown } | null | undefined)?.content;
  return typeof content === 'string' ? content : undefined;
}

function checkIds(ids: readonly number[], vocabSize: number, name: string): readonly number[] {
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new Error(`${name}: token id ${id} is outside [0, ${vocabSize})`);
  }
  return ids;
}
