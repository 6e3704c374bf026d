/**
 * What a code means. From the data: for each slot and code, how many users hold it and which item
 * attributes (genres, categories, brands) are over-represented among those users' training
 * interactions, measured as lift = P(attribute | code) / P(attribute | everyone). From the LM: what
 * the frozen LM reads into the code's centroid (`describeCodesWithLm`).
 */
import type { CausalLm, Tokenizer } from '../lm/index.js';
import { buildPrompt, writeMask, type MaskMode, type Prompt, type TemplateTokens } from './template.js';

export interface AttributeLift {
  attribute: string;
  /** Share of the code's users' interactions with this attribute. */
  share: number;
  lift: number;
}

export interface CodeExplanation {
  code: number;
  users: number;
  top: AttributeLift[];
}

export interface ExplainOptions {
  /** Attributes to list per code. */
  top: number;
  /** Ignore attributes seen in fewer of the code's interactions than this (noise at small counts). */
  minCount: number;
}

/**
 * @param codes code of each user (same order as `attributes`)
 * @param attributes per user, the attributes of each of their training interactions (repeats count)
 */
export function explainCodes(codes: ArrayLike<number>, k: number, attributes: readonly string[][], options: ExplainOptions): CodeExplanation[] {
  const population = new Map<string, number>();
  let populationTotal = 0;
  const perCode = Array.from({ length: k }, () => ({ users: 0, total: 0, counts: new Map<string, number>() }));
  attributes.forEach((attrs, u) => {
    const c = perCode[codes[u]];
    c.users++;
    for (const a of attrs) {
      population.set(a, (population.get(a) ?? 0) + 1);
      c.counts.set(a, (c.counts.get(a) ?? 0) + 1);
    }
    populationTotal += attrs.length;
    c.total += attrs.length;
  });
  return perCode.map((c, code) => ({
    code,
    users: c.users,
    top: [...c.counts.entries()]
      .filter(([, n]) => n >= options.minCount)
      .map(([attribute, n]) => ({ attribute, share: n / c.total, lift: n / c.total / (population.get(attribute)! / populationTotal) }))
      .sort((a, b) => b.lift - a.lift || b.share - a.share || (a.attribute < b.attribute ? -1 : 1))
      .slice(0, options.top),
  }));
}

/**
 * What the frozen LM reads into each code. The code's centroid goes in the slot's soft-token position,
 * in exactly the context that soft token has in training: the positions its attention row lets it
 * see (start token and its own slot under the paper mask, everything before it under the causal
 * mask), at their training position ids and with the training mask among them. From there:
 *  - `continuation`: the LM's greedy continuation;
 *  - `words`: the words whose next-token log-probability right after the soft token the code raises
 *    most over the mean of the slot's codes (the LM-side counterpart of attribute lift);
 *  - `behaviour_words`: the same at the first behaviour token, i.e. after the whole template and the
 *    behaviour prefix: the prediction tuning actually optimises. There the other slots' soft tokens
 *    are visible too and hold `fill` (e.g. each slot's mean token).
 */
export interface LmWord {
  word: string;
  token: number;
  /** log P(token | this code) - mean over the slot's codes of log P(token | code), in nats (> 0). */
  contrast: number;
}

export interface CodeLmText {
  continuation: string;
  words: LmWord[];
  behaviour_words: LmWord[];
}

export interface LmExplainOptions {
  /** Tokens of the greedy continuation. */
  tokens: number;
  /** Words per list. */
  words: number;
  /** No n-gram of this many tokens twice in the continuation (0: plain greedy). */
  noRepeatNgram: number;
  /**
   * Plausibility floor: a code lists only tokens it gives at least this fraction of its most likely
   * token's probability, so that large ratios between negligible probabilities do not dominate.
   */
  minRelativeProb: number;
}

export const DEFAULT_LM_EXPLAIN: LmExplainOptions = { tokens: 8, words: 5, noRepeatNgram: 2, minRelativeProb: 1e-3 };

/**
 * Per code, the tokens it makes most likely relative to the other codes: contrast(w) = log p_c(w) -
 * mean_c' log p_c'(w), over tokens with p_c(w) >= minRelativeProb * max p_c, keeping the first
 * `words` tokens (by contrast, then id) that `word` accepts, with contrast > 0 and no word twice.
 * @param logProbs one log-probability row per code, all of the same length
 */
export function contrastWords(
  logProbs: readonly Float32Array[],
  options: { words: number; minRelativeProb: number; word: (token: number) => string | undefined },
): LmWord[][] {
  const V = logProbs[0]?.length ?? 0;
  const mean = new Float64Array(V);
  for (const row of logProbs) {
    if (row.length !== V) throw new Error(`contrastWords: rows of ${V} and ${row.length} tokens`);
    for (let i = 0; i < V; i++) mean[i] += row[i];
  }
  // Sum, then divide: codes that agree on a token give it exactly 0.
  for (let i = 0; i < V; i++) mean[i] /= logProbs.length;
  return logProbs.map((row) => {
    let best = -Infinity;
    for (const x of row) best = Math.max(best, x);
    const floor = best + Math.log(options.minRelativeProb);
    const candidates: number[] = [];
    for (let i = 0; i < V; i++) if (row[i] >= floor && row[i] - mean[i] > 0) candidates.push(i);
    candidates.sort((a, b) => row[b] - mean[b] - (row[a] - mean[a]) || a - b);
    const out: LmWord[] = [];
    const seen = new Set<string>();
    for (const token of candidates) {
      if (out.length === options.words) break;
      const word = options.word(token);
      if (word === undefined || seen.has(word)) continue;
      seen.add(word);
      out.push({ word, token, contrast: row[token] - mean[token] });
    }
    return out;
  });
}

/**
 * Accepts a token when, decoded after `before`, it starts a new word and is one whole word of two or
 * more letters (apostrophes and hyphens inside); returns that word, trimmed.
 */
export function wordAfter(tokenizer: Tokenizer, before: readonly number[]): (token: number) => string | undefined {
  const base = tokenizer.decode(before);
  const boundary = base === '' || /\s$/u.test(base);
  return (token) => {
    const full = tokenizer.decode([...before, token]);
    if (!full.startsWith(base)) return undefined;
    const added = full.slice(base.length);
    if (!boundary && !/^\s/u.test(added)) return undefined;
    const word = added.trim();
    return /^\p{L}[\p{L}'’-]*\p{L}$/u.test(word) ? word : undefined;
  };
}

/** Log-softmax of one row, in float64 then rounded. */
function logSoftmax(logits: Float32Array): Float32Array {
  let max = -Infinity;
  for (const x of logits) max = Math.max(max, x);
  let sum = 0;
  for (const x of logits) sum += Math.exp(x - max);
  const log = Math.log(sum) + max;
  return Float32Array.from(logits, (x) => x - log);
}

/** The positions `query` attends to in training (itself last), with the training mask among them. */
export function trainingContext(prompt: Prompt, mode: MaskMode, query: number): { positions: number[]; mask: Float32Array } {
  const T = prompt.tokens.length;
  const full = new Float32Array(T * T);
  writeMask(prompt, mode, T, full);
  const positions: number[] = [];
  for (let k = 0; k <= query; k++) if (full[query * T + k] === 0) positions.push(k);
  const n = positions.length;
  const mask = new Float32Array(n * n);
  positions.forEach((q, a) => positions.forEach((k, b) => (mask[a * n + b] = full[q * T + k])));
  return { positions, mask };
}

/**
 * @param centroids the slot's codebook, [k, D]
 * @param fill a soft token for every slot, [slots][D]; slot `slot`'s entry is replaced by each centroid
 */
export async function describeCodesWithLm(
  lm: CausalLm,
  template: TemplateTokens,
  mode: MaskMode,
  slot: number,
  centroids: Float32Array,
  fill: readonly Float32Array[],
  options: LmExplainOptions,
): Promise<CodeLmText[]> {
  const D = lm.hiddenSize;
  const k = centroids.length / D;
  const prompt = buildPrompt(template, []);
  const centroid = (c: number) => centroids.subarray(c * D, (c + 1) * D);
  const embed = (positions: number[], c: number) => {
    const out = lm.embedTokens(positions.map((p) => Math.max(prompt.tokens[p], 0)));
    positions.forEach((p, i) => {
      const j = prompt.softPositions.indexOf(p);
      if (j >= 0) out.set(j === slot ? centroid(c) : fill[j], i * D);
    });
    return out;
  };
  const logProbsAt = async (query: number) => {
    const { positions, mask } = trainingContext(prompt, mode, query);
    const T = positions.length;
    const V = lm.config.vocabSize;
    const vocab = Math.min(V, lm.tokenizer.vocabSize);
    const rows: Float32Array[] = [];
    // A few codes per forward: the logits are [B, T, V].
    for (let c0 = 0; c0 < k; c0 += 8) {
      const B = Math.min(8, k - c0);
      const inputsEmbeds = new Float32Array(B * T * D);
      const attentionMask = new Float32Array(B * T * T);
      for (let b = 0; b < B; b++) {
        inputsEmbeds.set(embed(positions, c0 + b), b * T * D);
        attentionMask.set(mask, b * T * T);
      }
      const positionIds = Array.from({ length: B }, () => positions).flat();
      const { logits } = await lm.score({ batch: B, seq: T, inputsEmbeds, attentionMask, positionIds, targets: new Int32Array(B * T) }, { logits: true });
      for (let b = 0; b < B; b++) rows.push(logSoftmax(logits!.subarray((b * T + T - 1) * V, (b * T + T - 1) * V + vocab)));
    }
    return { positions, mask, rows };
  };

  const soft = prompt.softPositions[slot];
  const after = await logProbsAt(soft);
  // The soft token stands for a word: what follows it should start a new one.
  const words = contrastWords(after.rows, { ...options, word: wordAfter(lm.tokenizer, lm.tokenizer.encode('a')) });
  const behaviour = await logProbsAt(prompt.behaviourStart - 1);
  const behaviourWords = contrastWords(behaviour.rows, { ...options, word: wordAfter(lm.tokenizer, template.prefix) });
  const out: CodeLmText[] = [];
  for (let c = 0; c < k; c++) {
    const ids = await lm.generate(embed(after.positions, c), {
      maxNewTokens: options.tokens,
      attentionMask: after.mask,
      positionIds: after.positions,
      noRepeatNgram: options.noRepeatNgram,
    });
    out.push({ continuation: lm.tokenizer.decode(ids), words: words[c], behaviour_words: behaviourWords[c] });
  }
  return out;
}
