/**
 * The feature bank: user → profile IDs (one small integer per slot), pre-stored so CTR models and the
 * server look them up without an LM call. Every bank carries one version (LM, config and codebook
 * hashes); `versionId` is what CTR models and the server compare.
 *
 *   const bank = await SqliteFeatureBank.open('runs/x/bank.sqlite');
 *   await bank.setVersion({ lm_id, config_hash, codebook_hash, slots: [{ name: 'hobby', k: 4 }], created_at });
 *   await bank.putMany([{ user: '42', ids: [3], source: 'tuned' }]);
 *   const [entry] = await bank.getMany(['42']);
 *   await exportBankCsv(bank, 'runs/x/bank.csv'); // plus runs/x/bank.csv.version.json
 */
export {
  FeatureBankError,
  versionId,
  type BankLookup,
  type BankVersion,
  type FeatureBank,
  type ProfileEntry,
  type ProfileSource,
  type SetVersionOptions,
} from './model.js';
export { SqliteFeatureBank, type SqliteOpenOptions } from './sqlite.js';
export { exportBankCsv, type BankCsvExport, type BankCsvVersionFile } from './export.js';
export { connectRedis, RedisFeatureBank, type RedisConnectOptions, type RedisOpenOptions } from './redis.js';
