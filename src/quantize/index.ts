/**
 * Quantization: one codebook per profile slot turns each user's soft token into a small integer ID
 * (the nearest centroid). Plain TypeScript over Float32Array rows.
 *
 *   const fit = fitCodebook(tokens, nUsers, d, 4, { seed: 0 });     // k-means++ then Lloyd, dead codes re-seeded
 *   const { ids } = assign(fit.codebook, newUserTokens);             // cold-start users, frozen codebook
 *   const { counts, perplexity, deadCodes } = usage(fit.assignment.ids, 4);
 *   const version = codebookHash(fit.codebook);                      // recorded by the feature bank
 */
export { assign, type Assignment } from './assign.js';
export { codebookFromObject, codebookHash, codebookToObject, type Codebook, type CodebookObject } from './codebook.js';
export { fitCodebook, type FitOptions, type FitResult } from './kmeans.js';
export { usage, type CodebookUsage } from './usage.js';
