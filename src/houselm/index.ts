/**
 * The house LM's tooling: its pretraining corpus (one reader per source format under corpus/), its
 * compact BPE, pretraining from scratch, and `lm adapt` (pretraining continued on behaviour text).
 * Loading and running any LM, the house LM included, is src/lm's.
 */
export { buildCorpus } from './corpus/build.js';
export { CORPUS_DOCUMENT_SEPARATOR, CORPUS_SOURCES, type BuildCorpusOptions, type CorpusManifest, type CorpusSource } from './corpus/sources.js';
export { splitCorpusDocuments } from './corpus/text.js';
export { trainTokenizer, type TrainTokenizerOptions } from './tokenizer-train.js';
export { heldOutPerplexity, pretrain, pretrainSettingsSchema, type PretrainOptions, type PretrainResult, type PretrainSettings } from './pretrain.js';
export { BEHAVIOUR_KEYS, adapt, adaptSettingsSchema, type AdaptOptions, type AdaptResult } from './adapt.js';
