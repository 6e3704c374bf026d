import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseLmConfig } from '../../src/lm/config.js';

// config.json contents as published on the Hugging Face hub (field names and values verbatim).
const GPT2 = {
  activation_function: 'gelu_new',
  architectures: ['GPT2LMHeadModel'],
  attn_pdrop: 0.1,
  bos_token_id: 50256,
  embd_pdrop: 0.1,
  eos_token_id: 50256,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  model_type: 'gpt2',
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_layer: 12,
  n_positions: 1024,
  resid_pdrop: 0.1,
  summary_activation: null,
  summary_first_dropout: 0.1,
  summary_proj_to_labels: true,
  summary_type: 'cls_index',
  summary_use_proj: true,
  task_specific_params: { 'text-generation': { do_sample: true, max_length: 50 } },
  vocab_size: 50257,
};

const QWEN2_5_0_5B = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151643,
  hidden_act: 'silu',
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 24,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.40.1',
  use_cache: true,
  use_mrope: false,
  use_sliding_window: false,
  vocab_size: 151936,
};

const TINYLLAMA_1_1B_CHAT = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 5632,
  max_position_embeddings: 2048,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 22,
  num_key_value_heads: 4,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000.0,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  transformers_version: '4.35.0',
  use_cache: true,
  vocab_size: 32000,
};

const SMOLLM_135M = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 0,
  eos_token_id: 0,
  hidden_act: 'silu',
  hidden_size: 576,
  initializer_range: 0.02,
  intermediate_size: 1536,
  max_position_embeddings: 2048,
  model_type: 'llama',
  num_attention_heads: 9,
  num_hidden_layers: 30,
  num_key_value_heads: 3,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000.0,
  tie_word_embeddings: true,
  torch_dtype: 'float32',
  transformers_version: '4.40.1',
  use_cache: true,
  vocab_size: 49152,
};

describe('parseLmConfig', () => {
  test('gpt2: n_* fields, n_inner absent gives 4 x n_embd, tied by default, q/k/v biases', () => {
    assert.deepEqual(parseLmConfig(GPT2), {
      architecture: 'gpt2',
      vocabSize: 50257,
      hiddenSize: 768,
      numLayers: 12,
      numHeads: 12,
      numKvHeads: 12,
      headDim: 64,
      intermediateSize: 3072,
      maxPositions: 1024,
      normEps: 1e-5,
      tiedEmbeddings: true,
      attentionBias: true,
      activation: 'gelu_new',
      bosTokenId: 50256,
      eosTokenId: 50256,
    });
    assert.equal(parseLmConfig({ ...GPT2, n_inner: 1000 }).intermediateSize, 1000);
    assert.equal(parseLmConfig({ ...GPT2, n_inner: null }).intermediateSize, 3072);
    assert.equal(parseLmConfig({ ...GPT2, activation_function: 'gelu_pytorch_tanh' }).activation, 'gelu_new');
  });

  test('qwen2: grouped-query attention, q/k/v biases, tied per config, rope_theta', () => {
    assert.deepEqual(parseLmConfig(QWEN2_5_0_5B), {
      architecture: 'qwen2',
      vocabSize: 151936,
      hiddenSize: 896,
      numLayers: 24,
      numHeads: 14,
      numKvHeads: 2,
      headDim: 64,
      intermediateSize: 4864,
      maxPositions: 32768,
      normEps: 1e-6,
      ropeTheta: 1e6,
      tiedEmbeddings: true,
      attentionBias: true,
      activation: 'silu',
      bosTokenId: 151643,
      eosTokenId: 151643,
    });
  });

  test('TinyLlama (model_type llama): untied, no biases', () => {
    assert.deepEqual(parseLmConfig(TINYLLAMA_1_1B_CHAT), {
      architecture: 'llama',
      vocabSize: 32000,
      hiddenSize: 2048,
      numLayers: 22,
      numHeads: 32,
      numKvHeads: 4,
      headDim: 64,
      intermediateSize: 5632,
      maxPositions: 2048,
      normEps: 1e-5,
      ropeTheta: 10000,
      tiedEmbeddings: false,
      attentionBias: false,
      activation: 'silu',
      bosTokenId: 1,
      eosTokenId: 2,
    });
  });

  test('SmolLM (model_type llama) keeps its tied embeddings', () => {
    const c = parseLmConfig(SMOLLM_135M);
    assert.equal(c.architecture, 'llama');
    assert.equal(c.tiedEmbeddings, true);
    assert.equal(c.headDim, 64);
    assert.equal(c.numKvHeads, 3);
    assert.equal(c.bosTokenId, 0);
  });

  test('llama defaults: kv heads = heads, rope_theta 10000, untied; explicit head_dim wins', () => {
    const { num_key_value_heads: _kv, rope_theta: _theta, tie_word_embeddings: _tie, ...minimal } = TINYLLAMA_1_1B_CHAT;
    const c = parseLmConfig(minimal);
    assert.equal(c.numKvHeads, 32);
    assert.equal(c.ropeTheta, 10000);
    assert.equal(c.tiedEmbeddings, false);
    assert.equal(parseLmConfig({ ...TINYLLAMA_1_1B_CHAT, head_dim: 128 }).headDim, 128);
  });

  test('transformers 5 rope_parameters and Llama 3 style eos lists', () => {
    const { rope_theta: _theta, ...rest } = TINYLLAMA_1_1B_CHAT;
    const c = parseLmConfig({ ...rest, rope_parameters: { rope_theta: 500000, rope_type: 'default' }, eos_token_id: [128001, 128008] });
    assert.equal(c.ropeTheta, 500000);
    assert.equal(c.eosTokenId, 128001);
  });

  test('mistral is a llama; its sliding window caps the accepted length', () => {
    const c = parseLmConfig({ ...TINYLLAMA_1_1B_CHAT, model_type: 'mistral', max_position_embeddings: 32768, sliding_window: 4096 });
    assert.equal(c.architecture, 'llama');
    assert.equal(c.maxPositions, 4096);
    assert.equal(parseLmConfig({ ...QWEN2_5_0_5B, use_sliding_window: true, sliding_window: 4096 }).maxPositions, 4096);
  });

  test('an unsupported model_type is named along with the supported ones', () => {
    assert.throws(
      () => parseLmConfig({ model_type: 'bert', hidden_size: 768 }, '/models/bert/config.json'),
      (err: Error) =>
        err.message.includes('/models/bert/config.json') &&
        err.message.includes('"bert"') &&
        ['gpt2', 'llama', 'mistral', 'qwen2'].every((t) => err.message.includes(t)),
    );
    assert.throws(() => parseLmConfig({ hidden_size: 768 }), /no "model_type" field/);
  });

  test('missing or invalid fields are named', () => {
    const { n_embd: _n, ...noEmbd } = GPT2;
    assert.throws(
      () => parseLmConfig(noEmbd, 'x/config.json'),
      (err: Error) => err.message.startsWith('x/config.json') && err.message.includes('n_embd'),
    );
    assert.throws(() => parseLmConfig({ ...QWEN2_5_0_5B, num_key_value_heads: 4 }), /multiple of numKvHeads/);
    assert.throws(() => parseLmConfig({ ...GPT2, n_head: 7 }), /n_embd 768 is not divisible by n_head 7/);
  });

  test('features the models do not implement are rejected, not ignored', () => {
    assert.throws(
      () => parseLmConfig({ ...TINYLLAMA_1_1B_CHAT, rope_scaling: { factor: 8.0, rope_type: 'llama3', original_max_position_embeddings: 8192 } }),
      /rope scaling \("llama3"\)/,
    );
    assert.throws(() => parseLmConfig({ ...TINYLLAMA_1_1B_CHAT, attention_bias: true }), /attention_bias/);
    assert.throws(() => parseLmConfig({ ...TINYLLAMA_1_1B_CHAT, hidden_act: 'gelu' }), /hidden_act "gelu"/);
    assert.throws(() => parseLmConfig({ ...GPT2, activation_function: 'relu' }), /activation_function "relu"/);
    assert.throws(() => parseLmConfig({ ...GPT2, scale_attn_by_inverse_layer_idx: true }), /attention scaling/);
  });
});
