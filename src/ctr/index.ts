export { CTR_MODELS, ctrConfigSchema, type CtrConfig, type CtrConfigInput, type CtrModelName } from './config.js';
export { USER_FIELD, fieldSchemaSchema, type CtrRows, type DenseField, type FieldSchema, type FieldSchemaInput, type LabeledRows, type SparseField } from './schema.js';
export { CtrModel, sigmoid, sigmoidInPlace, type CtrModelOptions, type EncodedRows, type PredictOptions } from './model.js';
export { trainCtr, type EpochRecord, type TrainOptions, type TrainResult } from './trainer.js';
export { ServingModel } from './serving.js';
export { loadCtrModel, saveCtrModel, type LoadedCtrModel, type SaveOptions } from './persist.js';
export { auc, gauc, logloss } from './metrics.js';
