export { loadCheckpoint, type Checkpoint } from './checkpoint.js';
export { LM_ARCHITECTURES, SUPPORTED_MODEL_TYPES, parseLmConfig, readLmConfig, type LmArchitecture, type LmConfig } from './config.js';
export { gpt2Tokenizer, loadTokenizer, tokenizerFromJson, tokenizerFromVocabMerges, type Tokenizer, type TokenizerOptions } from './tokenizer.js';
export { checkpointNameCandidates, expectedTensors, parameterCount } from './weights.js';
export { gpt2Logits } from './transformer.js';
export { CausalLm, MASKED, causalMask, type EmbeddingBatch, type GenerateOptions, type LoadOptions, type LossBatch } from './causal-lm.js';
export { HOUSE_LM_DIR, loadLm, resolveLmDir } from './house.js';
export { lmInfo, type LmInfo } from './info.js';
