/**
 * A frozen causal LM as the profile code uses it: token-embedding lookup, the loss and its gradient
 * with respect to the input embeddings, forward-only scoring, and generation from embeddings.
 *
 * Weights are graph constants, so onnxruntime folds everything that depends only on them. Two graphs,
 * each made into a session once (on first use) and reused for every batch and sequence length:
 *  - `train`: mean masked cross-entropy and its gradient w.r.t. `inputs_embeds`;
 *  - `forward`: per-position NLL and the logits, with no backward nodes, because asking the train
 *    graph for the loss alone would still run the backward.
 * Besides the copy kept here for `embedTokens`, the sessions hold the weights: each its own copy for a
 * small model, one shared mapped file for a model over 64 MB (see docs/models.md, "Memory").
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Graph, Rng, defaultRuntime, float32, gradients, int64, type HostTensor, type Runtime, type Session, type Tensor } from '../engine/index.js';
import * as nn from '../engine/nn.js';
import { loadCheckpoint, type Checkpoint } from './checkpoint.js';
import type { LmConfig } from './config.js';
import type { Tokenizer } from './tokenizer.js';
import { lmLogits } from './transformer.js';
import { expectedTensors } from './weights.js';

/** The additive mask value of a key a query may not see: large but finite, so fully masked rows stay finite. */
export const MASKED = -1e9;

/** A batch of B sequences of T positions, flattened row-major. */
export interface EmbeddingBatch {
  batch: number;
  seq: number;
  /** [B, T, D] */
  inputsEmbeds: Float32Array;
  /** [B, T, T] additive, row = query, column = key: 0 where the query may attend, `MASKED` where not. */
  attentionMask: Float32Array;
  /** [B, T]; default 0..T-1 in every row. */
  positionIds?: ArrayLike<number>;
  /** [B, T]: the token predicted AT each position (the caller has already shifted); a valid id everywhere, 0 where ignored. */
  targets: ArrayLike<number>;
}

export interface LossBatch extends EmbeddingBatch {
  /** [B, T]: weight of each position in the mean loss; 0 ignores it (prompt, padding). */
  weights: Float32Array;
}

export interface GenerateOptions {
  maxNewTokens: number;
  /** Sample among the k most likely tokens; 1 (the default) is greedy. */
  topK?: number;
  /** Seed of the sampling (topK > 1); the same seed gives the same tokens. */
  seed?: number;
  /** [T, T] additive mask over the prefix; default causal. Generated tokens attend to everything before them. */
  attentionMask?: Float32Array;
  /** [T] position ids of the prefix; default 0..T-1. Generated tokens take the ids after the last one. */
  positionIds?: readonly number[];
  /**
   * Never pick a token that would repeat an n-gram of this many tokens already generated (Hugging
   * Face's `no_repeat_ngram_size`, over the generated tokens only, since the prefix may hold soft
   * tokens). Default 0: off.
   */
  noRepeatNgram?: number;
}

export interface LoadOptions {
  /** Where the sessions run; default: the process-wide runtime. */
  runtime?: Runtime;
}

/** Tokenizer files that change what a model id means, hashed when present. */
const TOKENIZER_FILES = ['tokenizer.json', 'vocab.json', 'merges.txt', 'tokenizer_config.json'];

export class CausalLm {
  private readonly sessions = new Map<'train' | 'forward', Promise<Session>>();

  private constructor(
    readonly config: LmConfig,
    readonly tokenizer: Tokenizer,
    /**
     * `<architecture>-<16 hex digits>`: a SHA-256 over the normalized config, every weight as loaded
     * (float32, canonical names, fixed order) and the tokenizer files. It depends on content only, so a
     * copied or re-sharded checkpoint keeps its id, while any change to a value (including re-saving
     * in another precision) gives a new one. The feature bank records it next to the profile IDs.
     */
    readonly id: string,
    private readonly weights: ReadonlyMap<string, Float32Array>,
    private readonly runtime: Runtime | undefined,
  ) {}

  /** Loads a Hugging Face checkpoint directory (see docs/models.md). */
  static async load(dir: string, options: LoadOptions = {}): Promise<CausalLm> {
    if (!existsSync(dir)) throw new Error(`${dir}: no such directory`);
    if (!existsSync(join(dir, 'config.json'))) {
      throw new Error(`${dir}: no config.json; expected a Hugging Face checkpoint directory (config.json, model.safetensors, tokenizer files)`);
    }
    const checkpoint = await loadCheckpoint(dir);
    return new CausalLm(checkpoint.config, checkpoint.tokenizer, await modelId(checkpoint), checkpoint.weights, options.runtime);
  }

  get hiddenSize(): number {
    return this.config.hiddenSize;
  }

  /** Rows of the input token-embedding table, [ids.length, D]. */
  embedTokens(ids: readonly number[]): Float32Array {
    const D = this.config.hiddenSize;
    const table = this.weights.get(this.config.architecture === 'gpt2' ? 'wte.weight' : 'model.embed_tokens.weight')!;
    const out = new Float32Array(ids.length * D);
    ids.forEach((id, i) => {
      checkIndex(id, this.config.vocabSize, 'token id');
      out.set(table.subarray(id * D, (id + 1) * D), i * D);
    });
    return out;
  }

  /** Mean weighted next-token cross-entropy and its gradient w.r.t. `inputsEmbeds` ([B, T, D]). */
  async lossAndGrad(batch: LossBatch): Promise<{ loss: number; grad: Float32Array }> {
    const feeds = this.feeds(batch);
    const { batch: B, seq: T, weights } = batch;
    checkLength('weights', weights, B * T);
    if (!weights.some((w) => w !== 0)) throw new Error('lossAndGrad: every target weight is 0, the mean loss is undefined');
    feeds.target_weights = float32(weights, [B, T]);
    const out = await (await this.session('train')).run(feeds);
    return { loss: (out.loss.data as Float32Array)[0], grad: out.grad.data as Float32Array };
  }

  /** Forward only: per-position NLL of `targets`, [B, T], and on request the logits, [B, T, V]. */
  async score(batch: EmbeddingBatch, options: { logits?: boolean } = {}): Promise<{ nll: Float32Array; logits?: Float32Array }> {
    const out = await (await this.session('forward')).run(this.feeds(batch), options.logits ? ['nll', 'logits'] : ['nll']);
    return { nll: out.nll.data as Float32Array, logits: out.logits?.data as Float32Array | undefined };
  }

  /** `score(batch).nll`, the shape the profile trainer asks for. */
  async tokenNll(batch: EmbeddingBatch): Promise<Float32Array> {
    return (await this.score(batch)).nll;
  }

  /**
   * Continues a sequence given as embeddings [T, D] and returns the new token ids. Each step re-runs
   * the whole forward (no KV cache). Stops after `maxNewTokens`, at the model's context length (the
   * last position id), or at the end-of-sequence token, which is not returned.
   */
  async generate(prefixEmbeds: Float32Array, options: GenerateOptions): Promise<number[]> {
    const D = this.config.hiddenSize;
    const V = this.config.vocabSize;
    const T0 = prefixEmbeds.length / D;
    if (!Number.isInteger(T0) || T0 < 1) throw new Error(`generate: prefix has ${prefixEmbeds.length} values, not a positive multiple of hidden size ${D}`);
    const prefixMask = options.attentionMask ?? causalMask(T0);
    checkLength('attentionMask', prefixMask, T0 * T0);
    const topK = options.topK ?? 1;
    if (!Number.isInteger(topK) || topK < 1) throw new Error(`generate: topK must be a positive integer, got ${topK}`);
    const ngram = options.noRepeatNgram ?? 0;
    if (!Number.isInteger(ngram) || ngram < 0) throw new Error(`generate: noRepeatNgram must be a non-negative integer, got ${ngram}`);
    const prefixPositions = options.positionIds ?? Array.from({ length: T0 }, (_, i) => i);
    checkLength('positionIds', prefixPositions, T0);
    const rng = new Rng(options.seed ?? 0);
    const eos = this.config.eosTokenId ?? this.tokenizer.eosId;
    const session = await this.session('forward');
    const generated: number[] = [];
    let embeds = prefixEmbeds;
    const positionIds = [...prefixPositions];
    // The last step may run at the last position id: its new token is returned but never fed back.
    for (let T = T0; generated.length < options.maxNewTokens && positionIds[T - 1] < this.config.maxPositions; T++) {
      const mask = new Float32Array(T * T);
      for (let i = 0; i < T; i++) {
        for (let j = 0; j < T; j++) mask[i * T + j] = i < T0 && j < T0 ? prefixMask[i * T0 + j] : j <= i ? 0 : MASKED;
      }
      const feeds = this.feeds({ batch: 1, seq: T, inputsEmbeds: embeds, attentionMask: mask, positionIds, targets: new Int32Array(T) });
      const logits = (await session.run(feeds, ['logits'])).logits.data as Float32Array;
      // Only ids the tokenizer can decode: checkpoints often pad the embedding past the vocabulary.
      let row = logits.subarray((T - 1) * V, (T - 1) * V + Math.min(V, this.tokenizer.vocabSize));
      const banned = repeatedNgramEnds(generated, ngram);
      if (banned.length) {
        row = row.slice();
        for (const id of banned) row[id] = -Infinity;
      }
      const next = pickToken(row, topK, rng);
      if (next === eos) break;
      generated.push(next);
      const grown = new Float32Array((T + 1) * D);
      grown.set(embeds);
      grown.set(this.embedTokens([next]), T * D);
      embeds = grown;
      positionIds.push(positionIds[T - 1] + 1);
    }
    return generated;
  }

  /** The feeds shared by both graphs, after checking every size and index. */
  private feeds(b: EmbeddingBatch): Record<string, HostTensor> {
    const { batch: B, seq: T } = b;
    const { hiddenSize: D, vocabSize: V, maxPositions } = this.config;
    if (!Number.isInteger(B) || B < 1 || !Number.isInteger(T) || T < 1) throw new Error(`batch ${B} x seq ${T}: both must be positive integers`);
    if (T > maxPositions) throw new Error(`seq ${T} is longer than the model's context length ${maxPositions}`);
    checkLength('inputsEmbeds', b.inputsEmbeds, B * T * D);
    checkLength('attentionMask', b.attentionMask, B * T * T);
    checkLength('targets', b.targets, B * T);
    for (let i = 0; i < B * T; i++) checkIndex(b.targets[i], V, `targets[${i}]`);
    let positions: ArrayLike<number>;
    if (b.positionIds) {
      checkLength('positionIds', b.positionIds, B * T);
      for (let i = 0; i < B * T; i++) checkIndex(b.positionIds[i], maxPositions, `positionIds[${i}]`);
      positions = b.positionIds;
    } else {
      positions = Array.from({ length: B * T }, (_, i) => i % T);
    }
    return {
      inputs_embeds: float32(b.inputsEmbeds, [B, T, D]),
      attention_mask: float32(b.attentionMask, [B, T, T]),
      position_ids: int64(positions, [B, T]),
      targets: int64(b.targets, [B, T]),
    };
  }

  private session(kind: 'train' | 'forward'): Promise<Session> {
    let s = this.sessions.get(kind);
    if (!s) {
      s = (this.runtime ?? defaultRuntime()).session(this.graph(kind));
      this.sessions.set(kind, s);
      s.catch(() => this.sessions.delete(kind));
    }
    return s;
  }

  private graph(kind: 'train' | 'forward'): Graph {
    const c = this.config;
    const g = new Graph(`${this.id}-${kind}`);
    const inputsEmbeds = g.input('inputs_embeds', 'float32', ['B', 'T', c.hiddenSize]);
    const attentionMask = g.input('attention_mask', 'float32', ['B', 'T', 'T']);
    const positionIds = g.input('position_ids', 'int64', ['B', 'T']);
    const targets = g.input('targets', 'int64', ['B', 'T']);
    // A weight may be read twice (a tied head); it must become one constant.
    const constants = new Map<string, Tensor>();
    const param = (name: string, shape: number[]): Tensor => {
      let t = constants.get(name);
      if (!t) {
        t = g.constant(this.weights.get(name)!, shape, name);
        constants.set(name, t);
      }
      return t;
    };
    const logits = lmLogits(c, param, { inputsEmbeds, positionIds, attentionMask });
    if (kind === 'train') {
      const loss = nn.maskedTokenCrossEntropy(logits, targets, g.input('target_weights', 'float32', ['B', 'T']));
      g.output(loss, 'loss');
      g.output(gradients(loss, [inputsEmbeds])[0], 'grad');
    } else {
      g.output(nn.tokenNll(logits, targets), 'nll');
      g.output(logits, 'logits');
    }
    return g;
  }
}

/**
 * Causal masks, [B, T, T] with B = lengths.length (default one full-length row). With lengths, each
 * row is right-padded: keys at or past its length are masked; padded queries still see the real
 * tokens, so no softmax row is empty.
 */
export function causalMask(seq: number, lengths: readonly number[] = [seq]): Float32Array {
  const mask = new Float32Array(lengths.length * seq * seq);
  lengths.forEach((n, b) => {
    if (!Number.isInteger(n) || n < 1 || n > seq) throw new Error(`causalMask: length ${n} is outside [1, ${seq}]`);
    for (let i = 0; i < seq; i++) for (let j = 0; j < seq; j++) if (j > i || j >= n) mask[(b * seq + i) * seq + j] = MASKED;
  });
  return mask;
}

async function modelId(checkpoint: Checkpoint): Promise<string> {
  const hash = createHash('sha256').update(JSON.stringify(checkpoint.config));
  for (const name of expectedTensors(checkpoint.config).keys()) {
    const w = checkpoint.weights.get(name)!;
    hash.update(name).update(new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
  }
  for (const file of TOKENIZER_FILES) {
    const bytes = await readFile(join(checkpoint.dir, file)).catch(() => undefined);
    if (bytes) hash.update(file).update(bytes);
  }
  return `${checkpoint.config.architecture}-${hash.digest('hex').slice(0, 16)}`;
}

/** The tokens that would complete an n-gram already in `tokens` (every earlier token for n = 1; none for n = 0). */
function repeatedNgramEnds(tokens: readonly number[], n: number): number[] {
  if (n < 1 || tokens.length < n - 1) return [];
  const tail = tokens.slice(tokens.length - (n - 1));
  const banned = new Set<number>();
  for (let i = 0; i + n - 1 < tokens.length; i++) {
    let match = true;
    for (let m = 0; m < n - 1 && match; m++) match = tokens[i + m] === tail[m];
    if (match) banned.add(tokens[i + n - 1]);
  }
  return [...banned];
}

/** Argmax for k = 1 (lowest id on ties); otherwise a draw from the softmax over the k largest logits. */
function pickToken(logits: Float32Array, k: number, rng: Rng): number {
  // The k best ids in descending order, by insertion: O(V k), with k small.
  const top: number[] = [];
  for (let id = 0; id < logits.length; id++) {
    if (top.length === k) {
      if (logits[id] <= logits[top[k - 1]]) continue;
      top.pop();
    }
    let at = top.length;
    while (at > 0 && logits[id] > logits[top[at - 1]]) at--;
    top.splice(at, 0, id);
  }
  if (k === 1) return top[0];
  const p = top.map((id) => Math.exp(logits[id] - logits[top[0]]));
  let u = rng.next() * p.reduce((a, b) => a + b, 0);
  for (let i = 0; i < top.length; i++) if ((u -= p[i]) < 0) return top[i];
  return top[top.length - 1];
}

function checkLength(name: string, data: ArrayLike<number>, expected: number): void {
  if (data.length !== expected) throw new Error(`${name} has ${data.length} values, expected ${expected}`);
}

function checkIndex(id: number, limit: number, what: string): void {
  if (!Number.isInteger(id) || id < 0 || id >= limit) throw new Error(`${what} ${id} is outside [0, ${limit})`);
}
