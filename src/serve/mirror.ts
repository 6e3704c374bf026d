/**
 * Copying a bank into another store, e.g. the SQLite bank a tune run wrote into the Redis that
 * several servers read from.
 */
import { FeatureBankError, versionId, type FeatureBank, type ProfileEntry } from '../bank/index.js';

/** Entries per putMany while copying. */
const COPY_BATCH = 10_000;

/**
 * Makes `target` hold `source`'s version and entries; returns how many entries were copied (0 when
 * the target already has the same version and entry count). Another version in the target is
 * replaced. Entries are copied in batches after the version is stamped, so an interrupted copy
 * leaves a short count, which the next call sees and repairs.
 */
export async function mirrorBank(source: FeatureBank, target: FeatureBank): Promise<number> {
  const version = await source.version();
  if (version === undefined) throw new FeatureBankError('cannot copy a bank without a version');
  const current = await target.version();
  const count = await source.count();
  if (current && versionId(current) === versionId(version) && (await target.count()) === count) return 0;
  await target.setVersion(version, { replace: true });
  let batch: ProfileEntry[] = [];
  let copied = 0;
  for await (const entry of source.users()) {
    batch.push(entry);
    if (batch.length === COPY_BATCH) {
      await target.putMany(batch);
      copied += batch.length;
      batch = [];
    }
  }
  await target.putMany(batch);
  return copied + batch.length;
}
