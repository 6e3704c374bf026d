/**
 * Tiny random checkpoints in the exact Hugging Face on-disk layout (config.json field names, tensor
 * names and layouts, tokenizer files), so that loaders and models are tested against the format real
 * checkpoints use, with no download. Names and shapes are spelled out here independently of
 * src/lm/weights.ts, so that a mistake there shows up as a load failure.
 *
 * Tokenizers: gpt2 gets vocab.json + merges.txt, qwen2 a byte-level tokenizer.json with Qwen2's split
 * regex, llama a SentencePiece-style (TinyLlama) tokenizer.json with byte fallback.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng } from '../../src/engine/random.js';
import type { LmConfig } from '../../src/lm/config.js';
import { openSafetensors, roundToDtype, writeSafetensors, type FloatDtype, type TensorToWrite } from '../../src/io/index.js';

export interface TinyCheckpointOptions {
  architecture: 'gpt2' | 'llama' | 'qwen2';
  seed: number;
  /** Defaults to the tokenizer's size; may be larger (padded embeddings), never smaller. */
  vocabSize?: number;
  hiddenSize?: number;
  numLayers?: number;
  numHeads?: number;
  /** llama/qwen2 only (GPT-2 has no grouped-query attention); default 2. */
  numKvHeads?: number;
  /** gpt2 default: n_inner = null (4 * hiddenSize); llama/qwen2 default 40. */
  intermediateSize?: number;
  maxPositions?: number;
  dtype?: FloatDtype;
  /** Two shards plus model.safetensors.index.json. */
  sharded?: boolean;
  /** gpt2 only: names under `transformer.`, as recent transformers saves GPT2LMHeadModel. */
  prefixed?: boolean;
  /** Default: true for gpt2 and qwen2, false for llama. */
  tied?: boolean;
}

export interface TinyCheckpoint {
  dir: string;
  /** What loading config.json must give. */
  config: LmConfig;
  /** The config.json written. */
  rawConfig: Record<string, unknown>;
  /** Model weights by canonical name (no `transformer.` prefix, no buffers), as stored after dtype rounding. */
  weights: Map<string, Float32Array>;
  /** Token string -> id, including special tokens. */
  vocab: Record<string, number>;
}

/** Merges of the byte-level fixtures (GPT-2 writes a leading space as Ġ). */
const BYTE_LEVEL_MERGES = [
  'Ġ t', 'h e', 'Ġt he', 'i n', 'e r', 'o n', 'r e', 'Ġ a', 'Ġ c', 'a t', 'Ġc at', 'i s', 'Ġ i', 'Ġi s',
  'Ġ m', 'o v', 'ov i', 'ovi e', 'Ġm ovie', 'l l', 'e d', 'Ġ w', 'o r', 'Ġw or', 'l d', 'Ġwor ld',
];

/** Merges of the SentencePiece-style fixture (▁ marks a word start). */
const SENTENCEPIECE_MERGES = [
  '▁ t', 'h e', '▁t he', 'i n', 'e r', 'o n', '▁ c', 'a t', '▁c at', '▁ m', 'o v', 'ov i', 'ovi e', '▁m ovie',
  'l d', '▁ w', 'o r', '▁w or', '▁wor ld',
];

/** Qwen2's pre-tokenizer split pattern, verbatim from its tokenizer.json. */
const QWEN2_SPLIT = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

export async function writeTinyCheckpoint(dir: string, options: TinyCheckpointOptions): Promise<TinyCheckpoint> {
  const arch = options.architecture;
  if (options.prefixed && arch !== 'gpt2') throw new Error('prefixed applies to gpt2 only');
  if (arch === 'gpt2' && options.numKvHeads !== undefined && options.numKvHeads !== options.numHeads) {
    throw new Error('gpt2 has no grouped-query attention');
  }
  await mkdir(dir, { recursive: true });
  const writeTokenizer = { gpt2: writeGpt2Tokenizer, qwen2: writeQwen2Tokenizer, llama: writeLlamaTokenizer }[arch];
  const tok = await writeTokenizer(dir);
  const tokenizerSize = Math.max(...Object.values(tok.vocab)) + 1;
  const vocabSize = options.vocabSize ?? tokenizerSize;
  if (vocabSize < tokenizerSize) throw new Error(`vocabSize ${vocabSize} is smaller than the fixture tokenizer (${tokenizerSize})`);

  const D = options.hiddenSize ?? 16;
  const L = options.numLayers ?? 2;
  const H = options.numHeads ?? 4;
  const KV = arch === 'gpt2' ? H : (options.numKvHeads ?? 2);
  const I = options.intermediateSize ?? (arch === 'gpt2' ? 4 * D : 40);
  const P = options.maxPositions ?? 32;
  const dtype = options.dtype ?? 'F32';
  const tied = options.tied ?? arch !== 'llama';
  const hd = D / H;
  const torchDtype = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype];

  let rawConfig: Record<string, unknown>;
  let config: LmConfig;
  if (arch === 'gpt2') {
    rawConfig = {
      activation_function: 'gelu_new', architectures: ['GPT2LMHeadModel'], bos_token_id: tok.bosId, eos_token_id: tok.eosId,
      initializer_range: 0.02, layer_norm_epsilon: 1e-5, model_type: 'gpt2', n_ctx: P, n_embd: D, n_head: H,
      n_inner: options.intermediateSize ?? null, n_layer: L, n_positions: P, tie_word_embeddings: tied,
      torch_dtype: torchDtype, vocab_size: vocabSize,
    };
    config = {
      architecture: 'gpt2', vocabSize, hiddenSize: D, numLayers: L, numHeads: H, numKvHeads: H, headDim: hd,
      intermediateSize: I, maxPositions: P, normEps: 1e-5, tiedEmbeddings: tied, attentionBias: true,
      activation: 'gelu_new', bosTokenId: tok.bosId, eosTokenId: tok.eosId,
    };
  } else {
    const qwen = arch === 'qwen2';
    const normEps = qwen ? 1e-6 : 1e-5;
    const ropeTheta = qwen ? 1_000_000 : 10_000;
    rawConfig = {
      architectures: [qwen ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'], attention_dropout: 0, bos_token_id: tok.bosId,
      eos_token_id: tok.eosId, hidden_act: 'silu', hidden_size: D, initializer_range: 0.02, intermediate_size: I,
      max_position_embeddings: P, model_type: arch, num_attention_heads: H, num_hidden_layers: L, num_key_value_heads: KV,
      rms_norm_eps: normEps, rope_scaling: null, rope_theta: ropeTheta, tie_word_embeddings: tied, torch_dtype: torchDtype,
      vocab_size: vocabSize,
      ...(qwen ? { max_window_layers: L, sliding_window: P, use_sliding_window: false } : { attention_bias: false, pretraining_tp: 1 }),
    };
    config = {
      architecture: arch, vocabSize, hiddenSize: D, numLayers: L, numHeads: H, numKvHeads: KV, headDim: hd,
      intermediateSize: I, maxPositions: P, normEps, ropeTheta, tiedEmbeddings: tied, attentionBias: qwen,
      activation: 'silu', bosTokenId: tok.bosId, eosTokenId: tok.eosId,
    };
  }
  await writeFile(join(dir, 'config.json'), JSON.stringify(rawConfig, null, 2));

  // [stored name, canonical name or null for buffers, shape, kind]
  type Kind = 'weight' | 'norm' | 'bias' | 'causalMask' | 'maskedBias';
  const specs: [string, string | null, number[], Kind][] = [];
  if (arch === 'gpt2') {
    const body = options.prefixed ? 'transformer.' : '';
    const add = (name: string, shape: number[], kind: Kind) => specs.push([body + name, name, shape, kind]);
    add('wte.weight', [vocabSize, D], 'weight');
    add('wpe.weight', [P, D], 'weight');
    for (let i = 0; i < L; i++) {
      const p = `h.${i}.`;
      add(`${p}ln_1.weight`, [D], 'norm');
      add(`${p}ln_1.bias`, [D], 'bias');
      specs.push([`${body}${p}attn.bias`, null, [1, 1, P, P], 'causalMask']);
      specs.push([`${body}${p}attn.masked_bias`, null, [], 'maskedBias']);
      add(`${p}attn.c_attn.weight`, [D, 3 * D], 'weight');
      add(`${p}attn.c_attn.bias`, [3 * D], 'bias');
      add(`${p}attn.c_proj.weight`, [D, D], 'weight');
      add(`${p}attn.c_proj.bias`, [D], 'bias');
      add(`${p}ln_2.weight`, [D], 'norm');
      add(`${p}ln_2.bias`, [D], 'bias');
      add(`${p}mlp.c_fc.weight`, [D, I], 'weight');
      add(`${p}mlp.c_fc.bias`, [I], 'bias');
      add(`${p}mlp.c_proj.weight`, [I, D], 'weight');
      add(`${p}mlp.c_proj.bias`, [D], 'bias');
    }
    add('ln_f.weight', [D], 'norm');
    add('ln_f.bias', [D], 'bias');
  } else {
    const add = (name: string, shape: number[], kind: Kind) => specs.push([name, name, shape, kind]);
    add('model.embed_tokens.weight', [vocabSize, D], 'weight');
    for (let i = 0; i < L; i++) {
      const p = `model.layers.${i}.`;
      add(`${p}input_layernorm.weight`, [D], 'norm');
      for (const [proj, out] of [['q_proj', H * hd], ['k_proj', KV * hd], ['v_proj', KV * hd]] as const) {
        add(`${p}self_attn.${proj}.weight`, [out, D], 'weight');
        if (arch === 'qwen2') add(`${p}self_attn.${proj}.bias`, [out], 'bias');
      }
      add(`${p}self_attn.o_proj.weight`, [D, H * hd], 'weight');
      add(`${p}post_attention_layernorm.weight`, [D], 'norm');
      add(`${p}mlp.gate_proj.weight`, [I, D], 'weight');
      add(`${p}mlp.up_proj.weight`, [I, D], 'weight');
      add(`${p}mlp.down_proj.weight`, [D, I], 'weight');
    }
    add('model.norm.weight', [D], 'norm');
  }
  if (!tied) specs.push(['lm_head.weight', 'lm_head.weight', [vocabSize, D], 'weight']);

  const rng = new Rng(options.seed);
  const tensors: Record<string, TensorToWrite> = {};
  const weights = new Map<string, Float32Array>();
  for (const [stored, canonical, shape, kind] of specs) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (kind === 'causalMask') {
      for (let q = 0; q < P; q++) for (let k = 0; k <= q; k++) data[q * P + k] = 1;
    } else if (kind === 'maskedBias') {
      data[0] = -1e4;
    } else {
      rng.fillNormal(data, 0.02, kind === 'norm' ? 1 : 0);
    }
    tensors[stored] = { dtype, shape, data };
    if (canonical !== null) weights.set(canonical, roundToDtype(data, dtype));
  }

  const metadata = { format: 'pt' };
  if (options.sharded) {
    const names = Object.keys(tensors);
    const half = Math.ceil(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    let totalSize = 0;
    for (const [s, shardNames] of shards.entries()) {
      const file = `model-0000${s + 1}-of-00002.safetensors`;
      const shardTensors: Record<string, TensorToWrite> = {};
      for (const n of shardNames) {
        shardTensors[n] = tensors[n];
        weightMap[n] = file;
        totalSize += tensors[n].data.length * (dtype === 'F32' ? 4 : 2);
      }
      await writeSafetensors(join(dir, file), shardTensors, metadata);
    }
    const index = { metadata: { total_size: totalSize }, weight_map: weightMap };
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify(index, null, 2));
  } else {
    await writeSafetensors(join(dir, 'model.safetensors'), tensors, metadata);
  }
  return { dir, config, rawConfig, weights, vocab: tok.vocab };
}

interface WrittenTokenizer {
  vocab: Record<string, number>;
  bosId?: number;
  eosId?: number;
}

/** GPT-2's reversible byte -> printable character map (bytes_to_unicode in GPT-2's encoder.py), in its id order. */
function byteLevelAlphabet(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const chars = printable.map((b) => String.fromCharCode(b));
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (!printable.includes(b)) chars.push(String.fromCharCode(256 + extra++));
  }
  return chars;
}

/** Base tokens, then one token per merge, then the special tokens, in id order. */
function bpeVocab(base: string[], merges: string[], specials: string[]): Record<string, number> {
  const tokens = [...base, ...merges.map((m) => m.replace(' ', '')), ...specials];
  if (new Set(tokens).size !== tokens.length) throw new Error('fixture vocabulary has duplicate tokens');
  return Object.fromEntries(tokens.map((t, id) => [t, id]));
}

async function writeGpt2Tokenizer(dir: string): Promise<WrittenTokenizer> {
  const vocab = bpeVocab(byteLevelAlphabet(), BYTE_LEVEL_MERGES, ['<|endoftext|>']);
  await writeFile(join(dir, 'vocab.json'), JSON.stringify(vocab));
  await writeFile(join(dir, 'merges.txt'), ['#version: 0.2', ...BYTE_LEVEL_MERGES, ''].join('\n'));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 1024 }));
  const eot = vocab['<|endoftext|>'];
  return { vocab, bosId: eot, eosId: eot };
}

function addedToken(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

async function writeQwen2Tokenizer(dir: string): Promise<WrittenTokenizer> {
  const specials = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
  const vocab = bpeVocab(byteLevelAlphabet(), BYTE_LEVEL_MERGES, specials);
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((s) => addedToken(vocab[s], s)),
    normalizer: { type: 'NFC' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: QWEN2_SPLIT }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      ],
    },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false,
      byte_fallback: false, ignore_merges: false, vocab: withoutSpecials(vocab, specials), merges: BYTE_LEVEL_MERGES,
    },
  };
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(json));
  await writeFile(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      bos_token: null, eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', unk_token: null, add_prefix_space: false,
      clean_up_tokenization_spaces: false, errors: 'replace', model_max_length: 32768, split_special_tokens: false,
      tokenizer_class: 'Qwen2Tokenizer',
    }),
  );
  // Qwen2's config.json uses <|endoftext|> as both bos_token_id and eos_token_id.
  const eot = vocab['<|endoftext|>'];
  return { vocab, bosId: eot, eosId: eot };
}

async function writeLlamaTokenizer(dir: string): Promise<WrittenTokenizer> {
  const specials = ['<unk>', '<s>', '</s>'];
  const bytes = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  const letters = '▁abcdefghijklmnopqrstuvwxyzHW'.split('');
  const vocab = bpeVocab([...specials, ...bytes, ...letters], SENTENCEPIECE_MERGES, []);
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((s) => addedToken(vocab[s], s)),
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<s>', type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [vocab['<s>']], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: true, vocab, merges: SENTENCEPIECE_MERGES,
    },
  };
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(json));
  await writeFile(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      add_bos_token: true, add_eos_token: false, bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', legacy: false,
      clean_up_tokenization_spaces: false, model_max_length: 2048, pad_token: null, padding_side: 'right',
      sp_model_kwargs: {}, tokenizer_class: 'LlamaTokenizer',
    }),
  );
  return { vocab, bosId: vocab['<s>'], eosId: vocab['</s>'] };
}

function withoutSpecials(vocab: Record<string, number>, specials: string[]): Record<string, number> {
  return Object.fromEntries(Object.entries(vocab).filter(([t]) => !specials.includes(t)));
}

/**
 * Multiplies every weight except the norm gains by `factor`, in the file and in `fx.weights`. At the
 * fixture's std 0.02 the attention is nearly uniform and the logits nearly flat, so a wrong rotary
 * angle, head mapping or position would move the logits by less than any sensible tolerance; scaled
 * up they matter, and the input gradient is large enough to check against float32 finite differences.
 */
export async function amplifyCheckpoint(fx: TinyCheckpoint, factor: number): Promise<void> {
  const path = join(fx.dir, 'model.safetensors');
  const reader = await openSafetensors(path);
  const tensors: Record<string, TensorToWrite> = {};
  try {
    for (const [name, info] of reader.tensors) {
      let data = await reader.readFloat32(name);
      if (fx.weights.has(name) && !/ln_|norm/.test(name)) {
        data = data.map((x) => x * factor);
        fx.weights.set(name, data);
      }
      tensors[name] = { dtype: info.dtype as FloatDtype, shape: info.shape, data };
    }
  } finally {
    await reader.close();
  }
  await writeSafetensors(path, tensors, { ...reader.metadata });
}
