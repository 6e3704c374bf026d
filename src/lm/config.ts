/**
 * Hugging Face `config.json` files name the same quantities differently per model family (n_embd vs
 * hidden_size, ...). This module maps each supported `model_type` onto one normalized `LmConfig`, so
 * that model code reads a single shape of config. Defaults are those of the corresponding
 * `transformers` config class, because `save_pretrained` may omit fields that equal them.
 *
 * Features our models do not implement (rope scaling, Llama output/MLP biases, GPT-2 attention scaling
 * variants) are rejected here rather than silently computed wrong.
 */
import { readJson } from '../io/index.js';
import { z } from 'zod';

export const LM_ARCHITECTURES = ['gpt2', 'llama', 'qwen2'] as const;
export type LmArchitecture = (typeof LM_ARCHITECTURES)[number];

/** `model_type` values accepted in config.json; mistral is a Llama-architecture model. */
export const SUPPORTED_MODEL_TYPES = ['gpt2', 'llama', 'mistral', 'qwen2'] as const;

const positiveInt = z.number().int().positive();
const tokenId = z.number().int().nonnegative();

const lmConfigSchema = z
  .object({
    architecture: z.enum(LM_ARCHITECTURES),
    vocabSize: positiveInt,
    hiddenSize: positiveInt,
    numLayers: positiveInt,
    numHeads: positiveInt,
    /** Key/value heads (grouped-query attention); equals numHeads for GPT-2. */
    numKvHeads: positiveInt,
    headDim: positiveInt,
    /** Width of the MLP hidden layer. */
    intermediateSize: positiveInt,
    /** Longest sequence the model accepts. */
    maxPositions: positiveInt,
    normEps: z.number().positive(),
    /** Rotary embedding base; set for llama and qwen2, absent for gpt2 (learned positions). */
    ropeTheta: z.number().positive().optional(),
    /** The output projection reuses the token embedding matrix. */
    tiedEmbeddings: z.boolean(),
    /** q/k/v projections carry biases (gpt2 and qwen2). */
    attentionBias: z.boolean(),
    activation: z.enum(['gelu_new', 'gelu', 'silu']),
    bosTokenId: tokenId.optional(),
    eosTokenId: tokenId.optional(),
  })
  .superRefine((c, ctx) => {
    if (c.numHeads % c.numKvHeads !== 0) {
      ctx.addIssue({ code: 'custom', path: ['numKvHeads'], message: `numHeads (${c.numHeads}) must be a multiple of numKvHeads (${c.numKvHeads})` });
    }
  });

export type LmConfig = z.infer<typeof lmConfigSchema>;

// Llama 3 configs list several end-of-sequence ids; the first is the one the base model emits.
const eosIds = z.union([tokenId, z.array(tokenId).nonempty()]).nullish();

const gpt2Raw = z.object({
  model_type: z.literal('gpt2'),
  vocab_size: positiveInt,
  n_embd: positiveInt,
  n_layer: positiveInt,
  n_head: positiveInt,
  n_positions: positiveInt,
  n_inner: positiveInt.nullish(),
  layer_norm_epsilon: z.number().positive().default(1e-5),
  activation_function: z.string().default('gelu_new'),
  tie_word_embeddings: z.boolean().default(true),
  scale_attn_weights: z.boolean().default(true),
  scale_attn_by_inverse_layer_idx: z.boolean().default(false),
  bos_token_id: tokenId.nullish(),
  eos_token_id: eosIds,
});

const llamaRaw = z.object({
  model_type: z.enum(['llama', 'mistral', 'qwen2']),
  vocab_size: positiveInt,
  hidden_size: positiveInt,
  num_hidden_layers: positiveInt,
  num_attention_heads: positiveInt,
  num_key_value_heads: positiveInt.nullish(),
  head_dim: positiveInt.nullish(),
  intermediate_size: positiveInt,
  max_position_embeddings: positiveInt,
  rms_norm_eps: z.number().positive().default(1e-6),
  rope_theta: z.number().positive().default(10000),
  rope_scaling: z.record(z.string(), z.unknown()).nullish(),
  // transformers 5 writes rope settings here instead of rope_theta/rope_scaling.
  rope_parameters: z.looseObject({ rope_theta: z.number().positive().optional(), rope_type: z.string().optional() }).nullish(),
  hidden_act: z.string().default('silu'),
  tie_word_embeddings: z.boolean().default(false),
  attention_bias: z.boolean().default(false),
  mlp_bias: z.boolean().default(false),
  sliding_window: positiveInt.nullish(),
  use_sliding_window: z.boolean().optional(),
  bos_token_id: tokenId.nullish(),
  eos_token_id: eosIds,
});

/** Normalizes a parsed config.json. `source` names the file in error messages. */
export function parseLmConfig(raw: unknown, source = 'config.json'): LmConfig {
  const modelType = (raw as { model_type?: unknown } | null)?.model_type;
  const supported = SUPPORTED_MODEL_TYPES.join(', ');
  if (typeof modelType !== 'string') throw new Error(`${source}: no "model_type" field; supported model types: ${supported}`);
  if (!(SUPPORTED_MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw new Error(`${source}: unsupported model_type "${modelType}"; supported model types: ${supported}`);
  }
  const normalized =
    modelType === 'gpt2' ? fromGpt2(parseWith(gpt2Raw, raw, source), source) : fromLlama(parseWith(llamaRaw, raw, source), source);
  return parseWith(lmConfigSchema, normalized, source);
}

export async function readLmConfig(path: string): Promise<LmConfig> {
  return parseLmConfig(await readJson<unknown>(path), path);
}

function parseWith<T extends z.ZodType>(schema: T, value: unknown, source: string): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new Error(`${source}: invalid config:\n${z.prettifyError(result.error)}`);
  return result.data;
}

function firstId(ids: number | number[] | null | undefined): number | undefined {
  return Array.isArray(ids) ? ids[0] : (ids ?? undefined);
}

function fromGpt2(c: z.output<typeof gpt2Raw>, source: string): LmConfig {
  // gelu_pytorch_tanh is the same tanh approximation as gelu_new.
  const activation = c.activation_function === 'gelu_pytorch_tanh' ? 'gelu_new' : c.activation_function;
  if (activation !== 'gelu_new' && activation !== 'gelu') {
    throw new Error(`${source}: activation_function "${c.activation_function}" is not supported (gelu_new, gelu_pytorch_tanh, gelu)`);
  }
  if (!c.scale_attn_weights || c.scale_attn_by_inverse_layer_idx) {
    throw new Error(
      `${source}: only the standard 1/sqrt(head_dim) attention scaling is supported ` +
        '(scale_attn_weights=true, scale_attn_by_inverse_layer_idx=false)',
    );
  }
  if (c.n_embd % c.n_head !== 0) throw new Error(`${source}: n_embd ${c.n_embd} is not divisible by n_head ${c.n_head}`);
  return {
    architecture: 'gpt2',
    vocabSize: c.vocab_size,
    hiddenSize: c.n_embd,
    numLayers: c.n_layer,
    numHeads: c.n_head,
    numKvHeads: c.n_head,
    headDim: c.n_embd / c.n_head,
    intermediateSize: c.n_inner ?? 4 * c.n_embd,
    maxPositions: c.n_positions,
    normEps: c.layer_norm_epsilon,
    tiedEmbeddings: c.tie_word_embeddings,
    attentionBias: true,
    activation,
    bosTokenId: c.bos_token_id ?? undefined,
    eosTokenId: firstId(c.eos_token_id),
  };
}

function fromLlama(c: z.output<typeof llamaRaw>, source: string): LmConfig {
  const ropeScaling = c.rope_scaling ?? undefined;
  const ropeType = c.rope_parameters?.rope_type ?? ropeScaling?.rope_type ?? ropeScaling?.type;
  if (ropeType !== undefined && ropeType !== 'default') {
    throw new Error(`${source}: rope scaling (${JSON.stringify(ropeType)}) is not supported`);
  }
  if (c.hidden_act !== 'silu') throw new Error(`${source}: hidden_act "${c.hidden_act}" is not supported (silu)`);
  if (c.model_type !== 'qwen2' && (c.attention_bias || c.mlp_bias)) {
    throw new Error(`${source}: attention_bias/mlp_bias (biases on every projection) are not supported`);
  }
  if (c.head_dim == null && c.hidden_size % c.num_attention_heads !== 0) {
    throw new Error(`${source}: hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}`);
  }
  // Sliding-window attention equals full attention on sequences no longer than the window, so capping
  // the accepted length keeps the model exact.
  const window = c.model_type === 'mistral' || c.use_sliding_window ? c.sliding_window : undefined;
  return {
    architecture: c.model_type === 'qwen2' ? 'qwen2' : 'llama',
    vocabSize: c.vocab_size,
    hiddenSize: c.hidden_size,
    numLayers: c.num_hidden_layers,
    numHeads: c.num_attention_heads,
    numKvHeads: c.num_key_value_heads ?? c.num_attention_heads,
    headDim: c.head_dim ?? c.hidden_size / c.num_attention_heads,
    intermediateSize: c.intermediate_size,
    maxPositions: Math.min(c.max_position_embeddings, window ?? Infinity),
    normEps: c.rms_norm_eps,
    ropeTheta: c.rope_parameters?.rope_theta ?? c.rope_theta,
    tiedEmbeddings: c.tie_word_embeddings,
    attentionBias: c.model_type === 'qwen2',
    activation: 'silu',
    bosTokenId: c.bos_token_id ?? undefined,
    eosTokenId: firstId(c.eos_token_id),
  };
}
