/**
 * Online serving: an HTTP API that scores candidate items for a user with a trained CTR model and
 * the user's profile IDs from the feature bank (a key lookup, no LM call), plus an LM-in-the-loop
 * baseline that infers the profile at request time, for comparison.
 *
 *   const app = await createServer({ model, modelBankVersion, features: await loadFeatureMap(modelDir), bank }); // loadFeatureMap: src/features
 *   await app.listen({ port: 8080 });
 */
export { mirrorBank } from './mirror.js';
export { mostFrequentIds, type FoundProfile, type ProfileLookup, type ProfileProvider, type ServedSource } from './profiles.js';
export { openServer, PROFILE_MODES, serveSchema, type OpenedServer, type ServeConfig } from './open.js';
export { ServeSetupError } from './scorer.js';
export { SCORE_STAGES, type ScoreStage } from './metrics.js';
export { AJV_OPTIONS, createServer, DEFAULT_BODY_LIMIT, MAX_ID_LENGTH, MAX_ITEMS, scoreBodySchema, type ServeLog, type ServeOptions } from './server.js';
