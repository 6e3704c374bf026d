/**
 * The one feature pipeline, shared by CTR training, evaluation and serving: the vocabularies (raw ids
 * -> dense indices), the field names (`user`, `item`, `genre`, `userip_<slot>`), the training rows,
 * the feature map saved next to a served model, and a request's rows built through that map.
 *
 *   const vocab = buildVocab(interactions, items);
 *   const fields = { sparse: slotIdFields('userip', slots, idsPerSlot) };
 *   const train = ctrTable(encodeRows(split.train, vocab, threshold), fields);   // fieldSchema(vocab, fields)
 *   await saveFeatureMap(modelDir, buildFeatureMap(vocab, slots));
 *   const rows = new RequestRows(model, await loadFeatureMap(modelDir), bankSlots).encode(user, ids, items);
 *   await trainServingModel({ data: 'runs/x/data', run: 'runs/x/profile', out: 'runs/x/serve-model' });
 *
 * The serving model is trained here, where its feature map is made, rather than under src/ctr (which
 * knows fields, not where their values come from) or src/eval (an experiment; serve must not need it).
 */
export {
  buildFeatureMap,
  FEATURE_MAP_FILE,
  FIELDS,
  indexFeatureMap,
  loadFeatureMap,
  saveFeatureMap,
  slotField,
  type FeatureFieldNames,
  type FeatureIndex,
  type FeatureMap,
  type FeatureVocab,
} from './map.js';
export { buildVocab, ctrTable, encodeRows, fieldSchema, ratingRows, selectRows, slotIdFields, type RowSet, type UserFields, type Vocab } from './table.js';
export { FeatureMismatchError, RequestRows } from './request.js';
export { ctrOnRunSchema, pipelineCtrSchema, servingModelSchema, trainServingModel, type ServingModelConfig, type ServingModelSummary } from './serving-model.js';
