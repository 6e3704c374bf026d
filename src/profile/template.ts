/**
 * The fixed prompt template and its attention mask. One prompt per user:
 *
 *   <start> The user's hobby is <θ_hobby>. The user's background is <θ_background>. <prefix> <behaviour>
 *
 * Each soft token θ_j sits right after its profile name. Only the behaviour tokens are predicted, so
 * the soft tokens are pushed to explain the user's behaviour (profile -> behaviour, paper §3).
 */
import { z } from 'zod';
import { MASKED, type Tokenizer } from '../lm/index.js';

export const slotSchema = z.object({
  /** Identifier used in files and the bank, e.g. "hobby". */
  name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'slot names are lower-case identifiers'),
  /** The profile-name text the soft token follows, e.g. "The user's hobby is". */
  text: z.string().min(1),
  /** Codebook size: how many IDs this slot can take. */
  k: z.number().int().min(2).max(65536),
});
export type Slot = z.infer<typeof slotSchema>;

/**
 * `paper`: a soft token and its profile name see only themselves (and the start token), so each
 * slot is inferred from its own name; behaviour tokens see everything before them.
 * `causal`: plain causal attention, as the official code runs.
 */
export const MASK_MODES = ['paper', 'causal'] as const;
export type MaskMode = (typeof MASK_MODES)[number];

/** The paper's default slots; codebook sizes as in the official code (hobby 4, background 3). */
export const DEFAULT_SLOTS: Slot[] = [
  { name: 'hobby', text: "The user's hobby is", k: 4 },
  { name: 'background', text: "The user's background is", k: 3 },
];

export const DEFAULT_BEHAVIOUR_PREFIX = 'Recently the user watched:';

/** A tokenized prompt. Soft-token positions hold -1 in `tokens`. */
export interface Prompt {
  tokens: number[];
  /** Per position: 0 = start token, j + 1 = slot j (its name and soft token), slots + 1 = behaviour. */
  segments: number[];
  /** Position of each slot's soft token. */
  softPositions: number[];
  /** First position of the behaviour text proper: it and every later token are predicted. */
  behaviourStart: number;
  /** Per behaviour token, the weight of predicting it (absent: 1 each). */
  behaviourWeights?: readonly number[];
}

export const SOFT_TOKEN = -1;

/** The token every prompt starts with: the model's BOS, else its end-of-text (GPT-2 style). */
export function startToken(tokenizer: Tokenizer): number {
  const id = tokenizer.bosId ?? tokenizer.eosId;
  if (id === undefined) throw new Error(`tokenizer ${tokenizer.name} has neither a bos nor an eos token to start prompts with`);
  return id;
}

/** Token ids of the fixed parts, computed once per tokenizer and slot list. */
export interface TemplateTokens {
  start: number;
  names: number[][];
  prefix: number[];
}

export function templateTokens(tokenizer: Tokenizer, slots: Slot[], behaviourPrefix: string): TemplateTokens {
  return {
    start: startToken(tokenizer),
    // The full stop closing the previous slot belongs to the next name, so it stays in that segment.
    names: slots.map((s, j) => tokenizer.encode(j === 0 ? s.text : `. ${s.text}`)),
    prefix: tokenizer.encode(`. ${behaviourPrefix}\n`),
  };
}

export function buildPrompt(template: TemplateTokens, behaviour: readonly number[], behaviourWeights?: readonly number[]): Prompt {
  const tokens = [template.start];
  const segments = [0];
  const softPositions: number[] = [];
  template.names.forEach((name, j) => {
    for (const t of name) {
      tokens.push(t);
      segments.push(j + 1);
    }
    softPositions.push(tokens.length);
    tokens.push(SOFT_TOKEN);
    segments.push(j + 1);
  });
  const behaviourSegment = template.names.length + 1;
  for (const t of template.prefix) {
    tokens.push(t);
    segments.push(behaviourSegment);
  }
  const behaviourStart = tokens.length;
  for (const t of behaviour) {
    tokens.push(t);
    segments.push(behaviourSegment);
  }
  return behaviourWeights ? { tokens, segments, softPositions, behaviourStart, behaviourWeights } : { tokens, segments, softPositions, behaviourStart };
}

/**
 * Write the additive attention mask of `prompt` into `out` (a T x T block, T >= prompt length, row =
 * query). Padding rows (past the prompt) see only themselves so their softmax stays finite.
 */
export function writeMask(prompt: Prompt, mode: MaskMode, T: number, out: Float32Array, offset = 0): void {
  const n = prompt.tokens.length;
  const behaviourSegment = Math.max(...prompt.segments);
  out.fill(MASKED, offset, offset + T * T);
  for (let i = 0; i < T; i++) {
    const row = offset + i * T;
    if (i >= n) {
      out[row + i] = 0;
      continue;
    }
    const seg = prompt.segments[i];
    const isolated = mode === 'paper' && seg !== 0 && seg !== behaviourSegment;
    for (let j = 0; j <= i; j++) {
      if (!isolated || prompt.segments[j] === seg || prompt.segments[j] === 0) out[row + j] = 0;
    }
  }
}
