/**
 * House-LM pretraining: a small GPT-2 (tied output head) trained from scratch on the corpus written by
 * `buildCorpus`, then saved in the Hugging Face gpt2 layout so that `loadCheckpoint` reads it like any
 * downloaded model. The tokenizer is GPT-2's BPE (50257 tokens, house LM v1) or a `tokenizer.json`
 * directory from `trainTokenizer` (the compact vocabulary of v2), copied into the model directory.
 *
 * One run directory holds everything: the token-id cache, a single-file checkpoint (weights, AdamW
 * moments, step; written atomically), a JSON-lines log, the effective settings and, at the end, the
 * model files. Rerunning the same command continues from the checkpoint. Every random choice
 * derives from the seed and the step number, so a resumed run reproduces an uninterrupted one.
 *
 * With `init`, the run continues training an existing GPT-2 checkpoint instead (its weights,
 * architecture and tokenizer): `lm adapt` is this with a corpus of behaviour text.
 */
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  AdamW,
  Graph,
  mean,
  Rng,
  Runtime,
  clipGradNorm,
  float32,
  gradients,
  ops as op,
  optimizerFromState,
  type HostTensor,
  type OptimizerState,
  type Param,
  type Session,
  type Tensor,
} from '../engine/index.js';
import * as nn from '../engine/nn.js';
import { expectedTensors, gpt2Logits, gpt2Tokenizer, loadCheckpoint, loadTokenizer, parseLmConfig, type Checkpoint, type LmConfig, type Tokenizer } from '../lm/index.js';
import { splitCorpusDocuments } from './corpus/text.js';
import { exists, openSafetensors, readJsonWith, readOptimizerSnapshots, writeTrainingCheckpoint, roundToDtype, silentProgress, writeFileAtomic, writeJson, writeSafetensors, type Progress, type TensorToWrite } from '../io/index.js';

export const GPT2_VOCAB_SIZE = 50257;
const END_OF_TEXT = 50256;

const positiveInt = z.number().int().positive();

/**
 * What a run is: changing any of these makes an existing checkpoint unusable. The defaults are the
 * shipped house LM's recipe (models/house-lm/MODEL_CARD.md).
 */
const runSchema = z.object({
  layers: positiveInt.default(4),
  hidden: positiveInt.default(256),
  heads: positiveInt.default(4),
  /** Training sequence length, also the model's n_positions. */
  context: positiveInt.default(128),
  /** Sequences per step. */
  batch: positiveInt.default(16),
  steps: positiveInt.default(1000),
  /** Peak learning rate (after warmup); cosine decay to `minLrRatio` × lr at the last step. */
  lr: z.number().positive().default(2e-3),
  minLrRatio: z.number().min(0).max(1).default(0.1),
  warmup: z.number().int().nonnegative().default(60),
  /** AdamW decoupled decay, applied to matrices only (not to biases and LayerNorm gains). */
  weightDecay: z.number().nonnegative().default(0.1),
  clip: z.number().positive().default(1),
  seed: z.number().int().nonnegative().default(0),
  /** Directory with tokenizer.json (+ tokenizer_config.json); absent: GPT-2's BPE. */
  tokenizer: z.string().optional(),
  /**
   * Hugging Face gpt2 checkpoint directory (tied head) to start from: its weights replace the fresh
   * initialization and its tokenizer is the run's. Its architecture must equal layers/hidden/heads/context.
   */
  init: z.string().optional(),
});

export const pretrainSettingsSchema = runSchema.extend({
  /** Directory with train.txt and valid.txt (from `buildCorpus`). */
  corpus: z.string(),
  /** Run directory: checkpoint, logs and, at the end, the Hugging Face model files. */
  out: z.string(),
  /** Evaluate on the first `evalTokens` validation tokens every this many steps (0: never). */
  evalEvery: z.number().int().nonnegative().default(100),
  evalTokens: positiveInt.default(8192),
  checkpointEvery: positiveInt.default(100),
  /** ORT intra-op threads. */
  threads: positiveInt.default(1),
  /** Stop training after this much training time in total (across resumes), then save the model. */
  minutes: z.number().positive().optional(),
  /** Stop (checkpointed, no model files) once this step is reached: interrupting on purpose. */
  stopAfter: positiveInt.optional(),
});
export type PretrainSettings = z.infer<typeof pretrainSettingsSchema>;
export type PretrainOptions = z.input<typeof pretrainSettingsSchema>;
type RunSettings = z.infer<typeof runSchema>;

export interface EvalResult {
  step: number;
  loss: number;
  ppl: number;
  tokens: number;
}

export interface PretrainResult {
  /** Whether the model files were written (false when stopped by `stopAfter`). */
  finished: boolean;
  stoppedBy: 'steps' | 'time' | 'stopAfter';
  step: number;
  tokensSeen: number;
  params: number;
  trainSeconds: number;
  /** Periodic evaluations on the validation prefix. */
  evals: EvalResult[];
  /** Final evaluation of the saved (F16) weights on the whole of valid.txt. */
  val?: EvalResult;
  /** With `init`: the starting checkpoint's evaluation on the whole of valid.txt (the same windows as `val`). */
  initialVal?: EvalResult;
  /** Add-one-smoothed unigram model of the training tokens, on the same validation targets. */
  unigramPpl?: number;
  /** Mean training loss of the last steps run (up to 20). */
  trainLoss?: number;
}

/** The Hugging Face gpt2 config.json of a run (real field names, so transformers reads it too). */
export function hfGpt2Config(
  s: Pick<RunSettings, 'context' | 'hidden' | 'layers' | 'heads'>,
  dtype: 'float16' | 'float32' = 'float16',
  vocab: { size: number; endOfText: number } = { size: GPT2_VOCAB_SIZE, endOfText: END_OF_TEXT },
): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: vocab.size,
    n_positions: s.context,
    n_ctx: s.context,
    n_embd: s.hidden,
    n_layer: s.layers,
    n_head: s.heads,
    n_inner: null,
    activation_function: 'gelu_new',
    resid_pdrop: 0,
    embd_pdrop: 0,
    attn_pdrop: 0,
    layer_norm_epsilon: 1e-5,
    initializer_range: 0.02,
    scale_attn_weights: true,
    scale_attn_by_inverse_layer_idx: false,
    tie_word_embeddings: true,
    bos_token_id: vocab.endOfText,
    eos_token_id: vocab.endOfText,
    torch_dtype: dtype,
  };
}

// ---------------------------------------------------------------------------------------------
// tokens
// ---------------------------------------------------------------------------------------------

/** Token ids of a corpus file: each document's ids followed by the end-of-text id. */
export function tokenizeCorpusText(text: string, tok: Tokenizer = gpt2Tokenizer()): Uint16Array {
  const endOfText = endOfTextId(tok);
  const ids: number[] = [];
  for (const doc of splitCorpusDocuments(text)) {
    for (const id of tok.encode(doc)) ids.push(id);
    ids.push(endOfText);
  }
  return Uint16Array.from(ids);
}

function endOfTextId(tok: Tokenizer): number {
  if (tok.eosId === undefined) throw new Error(`${tok.name}: names no end-of-text (eos) token, which separates pretraining documents`);
  if (tok.vocabSize > 65536) throw new Error(`${tok.name}: ${tok.vocabSize} tokens do not fit the uint16 token cache`);
  return tok.eosId;
}

/** The run's tokenizer: the `tokenizer` directory's, else GPT-2's BPE. */
export async function pretrainTokenizer(dir: string | undefined): Promise<Tokenizer> {
  return dir === undefined ? gpt2Tokenizer() : loadTokenizer(dir);
}

/** The files of a Hugging Face directory that make its tokenizer: copied into the model, hashed into the token cache's key. */
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt', 'special_tokens_map.json'];

async function tokenizerFiles(dir: string): Promise<string[]> {
  const present: string[] = [];
  for (const file of TOKENIZER_FILES) if (await exists(join(dir, file))) present.push(file);
  return present;
}

/** What the cached token ids depend on: a `tokenizer` directory's tokenizer.json, or all of an `init` checkpoint's tokenizer files. */
async function tokenizerKey(run: RunSettings): Promise<string> {
  const dir = run.init ?? run.tokenizer;
  if (dir === undefined) return 'gpt2-r50k';
  const hash = createHash('sha256');
  for (const file of run.init === undefined ? ['tokenizer.json'] : await tokenizerFiles(dir)) hash.update(await readFile(join(dir, file)));
  return `sha256:${hash.digest('hex')}`;
}

/**
 * The `init` checkpoint, checked to be a model that this run's graph and its config.json reproduce: a
 * tied GPT-2 of the run's layers, hidden size, heads and context.
 */
async function initCheckpoint(run: RunSettings): Promise<Checkpoint | undefined> {
  if (run.init === undefined) return undefined;
  if (run.tokenizer !== undefined) throw new Error(`init ${run.init} brings its own tokenizer: leave tokenizer (${run.tokenizer}) unset`);
  const ckpt = await loadCheckpoint(run.init);
  const expected = parseLmConfig(hfGpt2Config(run, 'float16', { size: ckpt.config.vocabSize, endOfText: endOfTextId(ckpt.tokenizer) }), 'the run settings');
  const keys = [...new Set([...Object.keys(expected), ...Object.keys(ckpt.config)])] as (keyof LmConfig)[];
  const differ = keys.filter((k) => JSON.stringify(expected[k]) !== JSON.stringify(ckpt.config[k]));
  if (differ.length) {
    const fields = differ.map((k) => `${k} ${JSON.stringify(ckpt.config[k])} (the run's: ${JSON.stringify(expected[k])})`).join(', ');
    throw new Error(`${join(run.init, 'config.json')}: ${fields}; continued pretraining needs a tied GPT-2 (gelu_new, n_inner 4 × n_embd) of the run's layers, hidden, heads and context`);
  }
  return ckpt;
}

/**
 * Token ids of `file`, cached as raw little-endian uint16 next to a key of the text's and the
 * tokenizer's hash, so that a changed corpus or tokenizer is re-tokenized.
 */
async function cachedTokens(file: string, tok: Tokenizer, tokenizerKey: string, cacheDir: string, name: string, log: (line: string) => void): Promise<Uint16Array> {
  const text = await readFile(file);
  const key = `${tokenizerKey} ${createHash('sha256').update(text).digest('hex')}`;
  const binPath = join(cacheDir, `${name}.u16`);
  const keyPath = join(cacheDir, `${name}.key`);
  if ((await exists(binPath)) && (await readFile(keyPath, 'utf8').catch(() => '')) === key) {
    const buf = await readFile(binPath);
    return new Uint16Array(buf.buffer, buf.byteOffset, buf.byteLength / 2);
  }
  const started = Date.now();
  const ids = tokenizeCorpusText(text.toString('utf8'), tok);
  log(`tokenized ${file}: ${text.length} bytes -> ${ids.length} tokens in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await writeFileAtomic(binPath, new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength));
  await writeFileAtomic(keyPath, key);
  return ids;
}

/**
 * exp(mean NLL) of the validation targets (every token but the first) under the add-one-smoothed
 * unigram distribution of the training tokens over the whole vocabulary.
 */
export function unigramPerplexity(trainTokens: ArrayLike<number>, validTokens: ArrayLike<number>, vocabSize = GPT2_VOCAB_SIZE): number {
  return unigramPerplexityFromCounts(unigramCounts(trainTokens, vocabSize), validTokens);
}

/** How often each token id occurs in a token stream: all a unigram model needs of its training text. */
export interface UnigramCounts {
  vocabSize: number;
  /** Tokens counted (the sum of `counts`). */
  total: number;
  /** [vocabSize] */
  counts: Float64Array;
}

export function unigramCounts(tokens: ArrayLike<number>, vocabSize = GPT2_VOCAB_SIZE): UnigramCounts {
  const counts = new Float64Array(vocabSize);
  for (let i = 0; i < tokens.length; i++) counts[tokens[i]]++;
  return { vocabSize, total: tokens.length, counts };
}

/** `unigramPerplexity` from the training counts instead of the training tokens (the same numbers). */
export function unigramPerplexityFromCounts(unigram: UnigramCounts, validTokens: ArrayLike<number>): number {
  const { counts, total, vocabSize } = unigram;
  const logTotal = Math.log(total + vocabSize);
  let nll = 0;
  for (let i = 1; i < validTokens.length; i++) nll += logTotal - Math.log(counts[validTokens[i]] + 1);
  return Math.exp(nll / (validTokens.length - 1));
}

/**
 * The file that stands in for train.txt in a held-out directory (valid.txt plus this file, as in
 * models/house-lm/heldout/): the GPT-2 token counts of train.txt, tokenized as `tokenizeCorpusText`
 * does, so that the unigram baseline is recomputed without the 51 MB of training text.
 */
export const UNIGRAM_COUNTS_FILE = 'train-unigram.json';
/** 2: `vocab_size` (was `vocabSize`), snake_case as in every output file. */
const UNIGRAM_COUNTS_FORMAT = 'userip-unigram-counts/2';

const unigramFileSchema = z.object({
  format: z.literal(UNIGRAM_COUNTS_FORMAT),
  vocab_size: positiveInt,
  total: z.number().int().nonnegative(),
  counts: z.array(z.number().int().nonnegative()),
});

/** Counts the tokens of `corpusDir`/train.txt and writes them to `out` (JSON, one line of counts). */
export async function writeUnigramCounts(corpusDir: string, out: string, tok: Tokenizer = gpt2Tokenizer()): Promise<UnigramCounts> {
  const text = await readFile(join(corpusDir, 'train.txt'));
  const unigram = unigramCounts(tokenizeCorpusText(text.toString('utf8'), tok), tok.vocabSize);
  const header = {
    format: UNIGRAM_COUNTS_FORMAT,
    description: `${tok.name} token counts of train.txt; each document is encoded and followed by the end-of-text token (${tok.eosId})`,
    source: { file: 'train.txt', bytes: text.length, sha256: createHash('sha256').update(text).digest('hex') },
    vocab_size: unigram.vocabSize,
    total: unigram.total,
  };
  const json = JSON.stringify(header, null, 2);
  // The header as indented JSON, then the 50257 counts on one line; `json` ends with "\n}".
  await writeFileAtomic(out, `${json.slice(0, -2)},\n  "counts": [${Array.from(unigram.counts).join(',')}]\n}\n`);
  return unigram;
}

/** Reads a `writeUnigramCounts` file, checking that the counts have the vocabulary's length and sum to `total`. */
export async function readUnigramCounts(path: string): Promise<UnigramCounts> {
  const { vocab_size: vocabSize, total, counts } = await readJsonWith(unigramFileSchema, path, 'a unigram count file');
  if (counts.length !== vocabSize) throw new Error(`${path}: ${counts.length} counts for a vocabulary of ${vocabSize}`);
  const sum = counts.reduce((a, b) => a + b, 0);
  if (sum !== total) throw new Error(`${path}: the counts sum to ${sum}, not to total ${total}`);
  return { vocabSize, total, counts: Float64Array.from(counts) };
}

/**
 * The held-out tokens of a corpus directory and the unigram counts of its training text: from
 * train.txt when present, else from `UNIGRAM_COUNTS_FILE`.
 */
export async function heldOutCorpus(corpusDir: string, tok: Tokenizer = gpt2Tokenizer()): Promise<{ valid: Uint16Array; validBytes: number; unigram: UnigramCounts; unigramSource: string }> {
  const validText = await readFile(join(corpusDir, 'valid.txt'), 'utf8');
  const valid = tokenizeCorpusText(validText, tok);
  const validBytes = Buffer.byteLength(validText);
  const trainPath = join(corpusDir, 'train.txt');
  if (await exists(trainPath)) {
    return { valid, validBytes, unigram: unigramCounts(tokenizeCorpusText(await readFile(trainPath, 'utf8'), tok), tok.vocabSize), unigramSource: 'train.txt' };
  }
  const countsPath = join(corpusDir, UNIGRAM_COUNTS_FILE);
  if (await exists(countsPath)) {
    const unigram = await readUnigramCounts(countsPath);
    if (unigram.vocabSize !== tok.vocabSize) throw new Error(`${countsPath}: counts ${unigram.vocabSize} token ids, but ${tok.name} has ${tok.vocabSize}`);
    return { valid, validBytes, unigram, unigramSource: UNIGRAM_COUNTS_FILE };
  }
  throw new Error(`${corpusDir}: has neither train.txt nor ${UNIGRAM_COUNTS_FILE}, one of which the unigram baseline needs`);
}

// ---------------------------------------------------------------------------------------------
// GPT-2's vocab.json + merges.txt
// ---------------------------------------------------------------------------------------------

/**
 * GPT-2's vocab.json and merges.txt, rebuilt from the r50k_base ranks that gpt-tokenizer ships: ids
 * are ranks; a token's merge is the last pair BPE joins when only lower-ranked merges exist.
 */
export async function gpt2VocabMerges(): Promise<{ vocab: Record<string, number>; merges: string[] }> {
  const path = fileURLToPath(import.meta.resolve('gpt-tokenizer/data/r50k_base.tiktoken'));
  const tokens: Buffer[] = [];
  const ranks = new Map<string, number>();
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    if (!line) continue;
    const [b64, rank] = line.split(' ');
    tokens[Number(rank)] = Buffer.from(b64, 'base64');
    ranks.set(tokens[Number(rank)].toString('latin1'), Number(rank));
  }
  // bytes_to_unicode from GPT-2's encoder.py
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const byteChar: string[] = [];
  let shifted = 0;
  for (let b = 0; b < 256; b++) byteChar[b] = String.fromCharCode(printable(b) ? b : 256 + shifted++);
  const show = (latin1: string) => Array.from(Buffer.from(latin1, 'latin1'), (b) => byteChar[b]).join('');

  const vocab: Record<string, number> = {};
  tokens.forEach((t, rank) => (vocab[show(t.toString('latin1'))] = rank));
  vocab['<|endoftext|>'] = END_OF_TEXT;
  const merges: string[] = ['#version: 0.2'];
  for (let rank = 256; rank < tokens.length; rank++) {
    const parts = Array.from(tokens[rank], (b) => String.fromCharCode(b));
    while (parts.length > 2) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = ranks.get(parts[i] + parts[i + 1]);
        if (r !== undefined && r < rank && r < bestRank) [best, bestRank] = [i, r];
      }
      parts.splice(best, 2, parts[best] + parts[best + 1]);
    }
    merges.push(parts.map(show).join(' '));
  }
  return { vocab, merges };
}

/** Writes GPT-2's vocab.json and merges.txt into `dir`. */
export async function writeGpt2TokenizerFiles(dir: string): Promise<void> {
  const { vocab, merges } = await gpt2VocabMerges();
  await writeFileAtomic(join(dir, 'vocab.json'), JSON.stringify(vocab));
  await writeFileAtomic(join(dir, 'merges.txt'), `${merges.join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------
// model
// ---------------------------------------------------------------------------------------------

export interface Weight extends Param {
  shape: number[];
  decay: boolean;
}

/** Weight decay applies to matrices only, not to biases and LayerNorm gains. */
const decays = (shape: readonly number[]): boolean => shape.length === 2;

/** GPT-2's initialization: N(0, 0.02), residual projections scaled by 1/sqrt(2 L), zero biases, unit gains. */
export function initGpt2Weights(config: LmConfig, seed: number): Weight[] {
  const rng = new Rng(seed);
  const residualStd = 0.02 / Math.sqrt(2 * config.numLayers);
  return [...expectedTensors(config)].map(([name, shape]) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const isGain = /ln_\w+\.weight$/.test(name);
    if (isGain) data.fill(1);
    else if (decays(shape)) rng.fillNormal(data, name.endsWith('c_proj.weight') ? residualStd : 0.02);
    return { name, shape, data, decay: decays(shape) };
  });
}

/** A run's starting weights: the `init` checkpoint's (trained in place), else a fresh initialization. */
function startingWeights(config: LmConfig, seed: number, init: Checkpoint | undefined): Weight[] {
  if (init === undefined) return initGpt2Weights(config, seed);
  return [...expectedTensors(config)].map(([name, shape]) => ({ name, shape, data: init.weights.get(name)!, decay: decays(shape) }));
}

/** Logits [B, T, V] of token ids [B, T], with every weight a graph input (so it can be trained). */
function buildLogits(g: Graph, config: LmConfig, T: number, inputIds: Tensor): { logits: Tensor; params: Map<string, Tensor> } {
  const params = new Map<string, Tensor>();
  const param = (name: string, shape: number[]): Tensor => {
    let t = params.get(name);
    if (!t) params.set(name, (t = g.input(name, 'float32', shape)));
    return t;
  };
  const positions = g.constant(BigInt64Array.from({ length: T }, (_, i) => BigInt(i)), [1, T], 'position_ids');
  const mask = new Float32Array(T * T);
  for (let q = 0; q < T; q++) for (let k = q + 1; k < T; k++) mask[q * T + k] = -1e9;
  // The lookup happens in the graph so that the tied embedding gets the gradient of both its uses.
  const inputsEmbeds = op.gather(param('wte.weight', [config.vocabSize, config.hiddenSize]), inputIds);
  const logits = gpt2Logits(config, param, { inputsEmbeds, positionIds: positions, attentionMask: g.constant(mask, [1, T, T], 'causal_mask') });
  return { logits, params };
}

/** Training graph: mean token cross-entropy and its gradient for every weight. */
function trainGraph(config: LmConfig, T: number, names: string[]): Graph {
  const g = new Graph('house-lm-train');
  const inputIds = g.input('input_ids', 'int64', ['B', T]);
  const targets = g.input('targets', 'int64', ['B', T]);
  const weights = g.input('weights', 'float32', ['B', T]);
  const { logits, params } = buildLogits(g, config, T, inputIds);
  const loss = nn.maskedTokenCrossEntropy(logits, targets, weights);
  const grads = gradients(loss, names.map((n) => params.get(n)!));
  g.output(loss, 'loss');
  grads.forEach((grad, i) => g.output(grad, `grad.${names[i]}`));
  return g;
}

/** Forward-only scoring graph: per-position NLL [B, T]. */
function evalGraph(config: LmConfig, T: number): Graph {
  const g = new Graph('house-lm-eval');
  const inputIds = g.input('input_ids', 'int64', ['B', T]);
  const targets = g.input('targets', 'int64', ['B', T]);
  const { logits } = buildLogits(g, config, T, inputIds);
  g.output(nn.tokenNll(logits, targets), 'nll');
  return g;
}

function weightFeeds(weights: readonly Weight[], data: (w: Weight) => Float32Array = (w) => w.data): Record<string, HostTensor> {
  return Object.fromEntries(weights.map((w) => [w.name, float32(data(w), w.shape)]));
}

function int64Tensor(values: ArrayLike<number>, shape: number[]): HostTensor {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
  return { dtype: 'int64', shape, data };
}

/** Batch `step`'s random windows of the token stream; its own seeded stream makes resume exact. */
function trainBatch(tokens: Uint16Array, s: RunSettings, step: number): Record<string, HostTensor> {
  const { batch: B, context: T } = s;
  const rng = new Rng((Math.imul(s.seed, 0x9e3779b1) + step) >>> 0);
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const start = rng.int(tokens.length - T);
    for (let t = 0; t < T; t++) {
      inputs[b * T + t] = tokens[start + t];
      targets[b * T + t] = tokens[start + t + 1];
    }
  }
  return {
    input_ids: int64Tensor(inputs, [B, T]),
    targets: int64Tensor(targets, [B, T]),
    weights: float32(new Float32Array(B * T).fill(1), [B, T]),
  };
}

/**
 * Mean NLL of every token of `tokens` but the first, in consecutive windows of T tokens, each token
 * predicted from the tokens before it in its window.
 */
async function evaluate(session: Session, weights: Record<string, HostTensor>, tokens: Uint16Array, T: number, batch: number): Promise<{ loss: number; tokens: number }> {
  const windows = Math.ceil((tokens.length - 1) / T);
  let nll = 0;
  let count = 0;
  for (let first = 0; first < windows; first += batch) {
    const B = Math.min(batch, windows - first);
    const inputs = new Int32Array(B * T);
    const targets = new Int32Array(B * T);
    const valid = new Uint8Array(B * T);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const i = (first + b) * T + t;
        if (i + 1 >= tokens.length) break;
        inputs[b * T + t] = tokens[i];
        targets[b * T + t] = tokens[i + 1];
        valid[b * T + t] = 1;
      }
    }
    const out = await session.run({ ...weights, input_ids: int64Tensor(inputs, [B, T]), targets: int64Tensor(targets, [B, T]) });
    const values = out.nll.data as Float32Array;
    for (let i = 0; i < values.length; i++) {
      if (valid[i]) {
        nll += values[i];
        count++;
      }
    }
  }
  return { loss: nll / count, tokens: count };
}

/**
 * Validation perplexity of a GPT-2-architecture checkpoint on a corpus's valid.txt (consecutive
 * windows of the model's full context), next to the unigram baseline from its train.txt (or, without
 * train.txt, from its `UNIGRAM_COUNTS_FILE`): the numbers `pretrain` reports for the house LM,
 * recomputed from the saved files. `bitsPerByte` (the NLL of all predicted tokens over the text's
 * UTF-8 bytes) compares models whose tokenizers differ.
 */
export async function heldOutPerplexity(
  lmDir: string,
  corpusDir: string,
  options: { threads?: number; batch?: number } = {},
): Promise<{ valPpl: number; unigramPpl: number; tokens: number; bitsPerByte: number; unigramSource: string }> {
  const ckpt = await loadCheckpoint(lmDir);
  if (ckpt.config.architecture !== 'gpt2' || !ckpt.config.tiedEmbeddings) throw new Error(`${lmDir}: heldOutPerplexity needs a gpt2 checkpoint with a tied head`);
  const { valid, validBytes, unigram, unigramSource } = await heldOutCorpus(corpusDir, ckpt.tokenizer);
  const T = ckpt.config.maxPositions;
  const runtime = new Runtime({ threads: options.threads ?? 1 });
  try {
    const session = await runtime.session(evalGraph(ckpt.config, T));
    const feeds = Object.fromEntries([...expectedTensors(ckpt.config)].map(([name, shape]) => [name, float32(ckpt.weights.get(name)!, shape)]));
    const { loss, tokens } = await evaluate(session, feeds, valid, T, options.batch ?? 16);
    const bitsPerByte = (loss * tokens) / Math.LN2 / validBytes;
    return { valPpl: Math.exp(loss), unigramPpl: unigramPerplexityFromCounts(unigram, valid), tokens, bitsPerByte, unigramSource };
  } finally {
    await runtime.close();
  }
}

// ---------------------------------------------------------------------------------------------
// checkpoint
// ---------------------------------------------------------------------------------------------

const CHECKPOINT = 'checkpoint.safetensors';
const STATE_KEY = 'userip.pretrain';

interface TrainState {
  run: RunSettings;
  step: number;
  trainSeconds: number;
  evals: EvalResult[];
  initialVal?: EvalResult;
}

type Optimizer = ReturnType<typeof optimizerFromState>;

async function saveCheckpoint(dir: string, weights: readonly Weight[], decay: Optimizer, noDecay: Optimizer, state: TrainState): Promise<void> {
  const tensors: Record<string, TensorToWrite> = {};
  for (const w of weights) tensors[`param/${w.name}`] = { dtype: 'F32', shape: w.shape, data: w.data };
  await writeTrainingCheckpoint(join(dir, CHECKPOINT), tensors, { decay: decay.state(), noDecay: noDecay.state() }, { [STATE_KEY]: JSON.stringify(state) });
}

async function loadCheckpointState(dir: string, weights: readonly Weight[]): Promise<{ state: TrainState; decay: Optimizer; noDecay: Optimizer }> {
  const reader = await openSafetensors(join(dir, CHECKPOINT));
  try {
    const state = JSON.parse(reader.metadata[STATE_KEY]) as TrainState;
    for (const w of weights) w.data.set(await reader.readFloat32(`param/${w.name}`));
    const optimizers = await readOptimizerSnapshots(reader);
    return { state, decay: optimizerFromState(optimizers.decay as OptimizerState), noDecay: optimizerFromState(optimizers.noDecay as OptimizerState) };
  } finally {
    await reader.close();
  }
}

// ---------------------------------------------------------------------------------------------
// the run
// ---------------------------------------------------------------------------------------------

/** Linear warmup to `lr`, then cosine decay to minLrRatio × lr at the last step. */
export function learningRate(s: RunSettings, step: number): number {
  if (step < s.warmup) return (s.lr * (step + 1)) / s.warmup;
  const progress = s.steps > s.warmup ? (step - s.warmup) / (s.steps - s.warmup) : 1;
  const min = s.lr * s.minLrRatio;
  return min + 0.5 * (s.lr - min) * (1 + Math.cos(Math.PI * Math.min(progress, 1)));
}

export async function pretrain(options: PretrainOptions, progress: Progress = silentProgress): Promise<PretrainResult> {
  const log = (line: string) => progress.log(line);
  const settings = pretrainSettingsSchema.parse(options);
  const run = runSchema.parse(settings);
  const init = await initCheckpoint(run);
  const tok = init?.tokenizer ?? (await pretrainTokenizer(run.tokenizer));
  const vocab = { size: init?.config.vocabSize ?? tok.vocabSize, endOfText: endOfTextId(tok) };
  const tokensKey = await tokenizerKey(run);
  const config = parseLmConfig(hfGpt2Config(run, 'float16', vocab), 'house LM settings');
  const { out, context: T } = settings;
  await mkdir(join(out, 'tokens'), { recursive: true });
  await writeJson(join(out, 'pretrain-config.json'), settings);
  const logFile = join(out, 'train-log.jsonl');
  const record = (entry: Record<string, unknown>) => appendFile(logFile, `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);

  const trainTokens = await cachedTokens(join(settings.corpus, 'train.txt'), tok, tokensKey, join(out, 'tokens'), 'train', log);
  const validTokens = await cachedTokens(join(settings.corpus, 'valid.txt'), tok, tokensKey, join(out, 'tokens'), 'valid', log);
  if (trainTokens.length <= T + 1) throw new Error(`${settings.corpus}/train.txt: ${trainTokens.length} tokens, need more than context + 1 = ${T + 1}`);
  if (validTokens.length < 2) throw new Error(`${settings.corpus}/valid.txt: needs at least 2 tokens`);

  const weights = startingWeights(config, run.seed, init);
  const params = weights.reduce((n, w) => n + w.data.length, 0);
  const adamw = (weightDecay: number) => new AdamW({ lr: run.lr, weightDecay });
  let decay: Optimizer = adamw(run.weightDecay);
  let noDecay: Optimizer = adamw(0);
  let step = 0;
  let trainSeconds = 0;
  let evals: EvalResult[] = [];
  let initialVal: EvalResult | undefined;
  if (await exists(join(out, CHECKPOINT))) {
    const loaded = await loadCheckpointState(out, weights);
    if (JSON.stringify(loaded.state.run) !== JSON.stringify(run)) {
      throw new Error(
        `${join(out, CHECKPOINT)} belongs to a run with other settings:\n  checkpoint: ${JSON.stringify(loaded.state.run)}\n  now:        ${JSON.stringify(run)}\n` +
          'use another --out directory, or the same settings to resume',
      );
    }
    ({ decay, noDecay } = loaded);
    ({ step, trainSeconds, evals, initialVal } = loaded.state);
    log(`resuming from step ${step} (${(trainSeconds / 60).toFixed(1)} min trained)`);
  } else {
    log(`${run.init === undefined ? 'house LM' : `continuing ${run.init}`}: ${run.layers} layers, hidden ${run.hidden}, ${run.heads} heads, context ${T}, ${(params / 1e6).toFixed(2)}M params`);
  }

  const runtime = new Runtime({ threads: settings.threads });
  try {
    const names = weights.map((w) => w.name);
    const [trainSession, evalSession] = await Promise.all([runtime.session(trainGraph(config, T, names)), runtime.session(evalGraph(config, T))]);
    const evalPrefix = validTokens.subarray(0, Math.min(validTokens.length, settings.evalTokens + 1));
    const periodicEval = async () => {
      const { loss, tokens } = await evaluate(evalSession, weightFeeds(weights), evalPrefix, T, run.batch);
      const result = { step, loss, ppl: Math.exp(loss), tokens };
      evals.push(result);
      await record({ event: 'eval', ...result });
      return result;
    };
    if (step === 0 && init !== undefined) {
      const full = await evaluate(evalSession, weightFeeds(weights), validTokens, T, run.batch);
      initialVal = { step, loss: full.loss, ppl: Math.exp(full.loss), tokens: full.tokens };
      log(`step 0: val loss ${initialVal.loss.toFixed(4)} on all ${initialVal.tokens} validation tokens`);
    }
    if (step === 0 && settings.evalEvery > 0) {
      const e = await periodicEval();
      log(`step 0: val loss ${e.loss.toFixed(4)} (ppl ${e.ppl.toFixed(1)}) on ${e.tokens} tokens`);
    }

    const decayed = weights.filter((w) => w.decay);
    const plain = weights.filter((w) => !w.decay);
    const tokensPerStep = run.batch * T;
    const recentLosses: number[] = [];
    let stoppedBy: PretrainResult['stoppedBy'] = 'steps';
    let savedStep = step;
    const checkpoint = async () => {
      await saveCheckpoint(out, weights, decay, noDecay, { run, step, trainSeconds, evals, initialVal });
      savedStep = step;
    };

    progress.start('train steps', run.steps, step);
    let lastTick = Date.now();
    try {
      while (step < run.steps) {
        if (settings.stopAfter !== undefined && step >= settings.stopAfter) {
          stoppedBy = 'stopAfter';
          break;
        }
        if (settings.minutes !== undefined && trainSeconds >= settings.minutes * 60) {
          stoppedBy = 'time';
          break;
        }
        const lr = learningRate(run, step);
        const result = await trainSession.run({ ...weightFeeds(weights), ...trainBatch(trainTokens, run, step) });
        const grads = names.map((n) => result[`grad.${n}`].data as Float32Array);
        const gradNorm = clipGradNorm(grads, run.clip);
        const byName = new Map(names.map((n, i) => [n, grads[i]]));
        decay.lr = lr;
        noDecay.lr = lr;
        decay.step(decayed, decayed.map((w) => byName.get(w.name)!));
        noDecay.step(plain, plain.map((w) => byName.get(w.name)!));
        step++;
        const loss = (result.loss.data as Float32Array)[0];
        recentLosses.push(loss);
        if (recentLosses.length > 20) recentLosses.shift();
        const now = Date.now();
        const seconds = (now - lastTick) / 1000;
        trainSeconds += seconds;
        lastTick = now;
        progress.update(step, `loss ${loss.toFixed(3)} | ${Math.round(tokensPerStep / seconds)} tok/s | lr ${lr.toExponential(2)}`);
        if (step % 10 === 0 || step === run.steps) await record({ event: 'train', step, loss, lr, grad_norm: gradNorm, tokens_per_second: tokensPerStep / seconds });
        if (settings.evalEvery > 0 && step % settings.evalEvery === 0) {
          const e = await periodicEval();
          log(`step ${step}: val loss ${e.loss.toFixed(4)} (ppl ${e.ppl.toFixed(1)}), train loss ${mean(recentLosses).toFixed(4)}`);
        }
        if (step % settings.checkpointEvery === 0) await checkpoint();
        lastTick = Date.now(); // evaluation and checkpointing are not training time
      }
    } finally {
      progress.stop();
    }
    if (step !== savedStep) await checkpoint();
    const base = { stoppedBy, step, tokensSeen: step * tokensPerStep, params, trainSeconds, evals, initialVal };
    const trainLoss = recentLosses.length ? mean(recentLosses) : undefined;
    if (stoppedBy === 'stopAfter') {
      log(`stopped at step ${step} (checkpoint saved); rerun to continue`);
      return { finished: false, ...base, trainLoss };
    }

    // The shipped weights are F16, so the reported perplexity is that of the F16 weights.
    const f16 = new Map(weights.map((w) => [w.name, roundToDtype(w.data, 'F16')]));
    log(`evaluating on all ${validTokens.length} validation tokens`);
    const full = await evaluate(evalSession, weightFeeds(weights, (w) => f16.get(w.name)!), validTokens, T, run.batch);
    const val: EvalResult = { step, loss: full.loss, ppl: Math.exp(full.loss), tokens: full.tokens };
    const unigramPpl = unigramPerplexity(trainTokens, validTokens, vocab.size);
    const bitsPerByte = (val.loss * val.tokens) / Math.LN2 / (await readFile(join(settings.corpus, 'valid.txt'))).length;
    await writeModel(out, run, vocab, weights, f16);
    const summary = {
      model: run.init === undefined ? 'userip house LM (gpt2 architecture)' : `${run.init}, continued (gpt2 architecture)`,
      params,
      layers: run.layers,
      hidden: run.hidden,
      heads: run.heads,
      context: T,
      steps: step,
      planned_steps: run.steps,
      stopped_by: stoppedBy,
      tokens_seen: step * tokensPerStep,
      train_tokens: trainTokens.length,
      valid_tokens: validTokens.length,
      train_seconds: Math.round(trainSeconds),
      threads: settings.threads,
      train_loss: trainLoss,
      val_loss: val.loss,
      val_ppl: val.ppl,
      unigram_ppl: unigramPpl,
      ratio: val.ppl / unigramPpl,
      vocab_size: vocab.size,
      tokenizer: run.init ?? run.tokenizer ?? 'gpt2 (r50k_base)',
      bits_per_byte: bitsPerByte,
    };
    await writeJson(join(out, 'pretrain-summary.json'), summary);
    await record({ event: 'final', ...summary });
    log(`val ppl ${val.ppl.toFixed(2)} vs unigram ppl ${unigramPpl.toFixed(2)} (ratio ${(val.ppl / unigramPpl).toFixed(3)}) after ${step} steps`);
    return { finished: true, ...base, val, unigramPpl, trainLoss };
  } finally {
    await runtime.close();
  }
}

/** The Hugging Face files: config.json, model.safetensors (F16), the tokenizer, generation_config.json. */
async function writeModel(dir: string, run: RunSettings, vocab: { size: number; endOfText: number }, weights: readonly Weight[], f16: Map<string, Float32Array>): Promise<void> {
  const tensors: Record<string, TensorToWrite> = {};
  for (const w of weights) tensors[w.name] = { dtype: 'F16', shape: w.shape, data: f16.get(w.name)! };
  await writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  await writeJson(join(dir, 'config.json'), hfGpt2Config(run, 'float16', vocab));
  await writeJson(join(dir, 'generation_config.json'), { bos_token_id: vocab.endOfText, eos_token_id: vocab.endOfText });
  const tokenizerDir = run.init ?? run.tokenizer;
  if (tokenizerDir === undefined) await writeGpt2TokenizerFiles(dir);
  else for (const file of await tokenizerFiles(tokenizerDir)) await writeFileAtomic(join(dir, file), await readFile(join(tokenizerDir, file)));
}

