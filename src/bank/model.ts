/**
 * What every feature-bank store shares: the version record, the entry shape, the interface, and the
 * checks a store runs before it writes. Stores differ only in where the bytes live.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

/** Names the CSV export uses for its own columns, so a slot may not take them. */
const RESERVED_SLOT_NAMES = new Set(['user', 'source']);

export const bankVersionSchema = z.object({
  /** The LM the soft tokens were tuned against. */
  lm_id: z.string().min(1),
  /** Hash of the profile config (template, slots, training settings). */
  config_hash: z.string().min(1),
  /** Hash of the codebooks that turned soft tokens into IDs. */
  codebook_hash: z.string().min(1),
  /** The profile slots in ID order; an entry's `ids[j]` lies in [0, slots[j].k). */
  slots: z
    .array(
      z.object({
        name: z
          .string()
          .regex(/^[a-z][a-z0-9_]*$/, 'slot names are lower-case identifiers')
          .refine((name) => !RESERVED_SLOT_NAMES.has(name), 'slot names "user" and "source" are reserved for CSV columns'),
        k: z.number().int().min(1),
      }),
    )
    .min(1)
    .refine((slots) => new Set(slots.map((s) => s.name)).size === slots.length, 'slot names must be unique'),
  /** When the IDs were made (ISO 8601); informational, not part of the version id. */
  created_at: z.string().min(1),
});
export type BankVersion = z.infer<typeof bankVersionSchema>;

/**
 * The id CTR models and the server compare. It covers what decides the meaning of an ID (LM, config,
 * codebooks) and leaves out `created_at`, so re-running the same pipeline yields the same id.
 */
export function versionId(version: Pick<BankVersion, 'lm_id' | 'config_hash' | 'codebook_hash'>): string {
  const key = JSON.stringify([version.lm_id, version.config_hash, version.codebook_hash]);
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

export const PROFILE_SOURCES = ['tuned', 'cold-start'] as const;
export type ProfileSource = (typeof PROFILE_SOURCES)[number];

export interface ProfileEntry {
  user: string;
  /** One ID per slot, in the version's slot order. */
  ids: number[];
  /** `tuned` by the full run, or `cold-start` for users added later against frozen codebooks. */
  source?: ProfileSource;
}

export interface BankLookup {
  entry: ProfileEntry | undefined;
  /** Undefined when the bank holds no version (emptied, or never stamped). */
  version: BankVersion | undefined;
}

export interface SetVersionOptions {
  /** Allow switching to a different version id on a bank that holds entries; clears them. */
  replace?: boolean;
}

/**
 * A key-value store of user → profile IDs, stamped with the one version the IDs belong to.
 * Async throughout so that a networked store (Redis) fits the same interface, except that `lookup`
 * may answer at once.
 */
export interface FeatureBank {
  version(): Promise<BankVersion | undefined>;
  /**
   * Stamps the bank. The same version id again is a no-op (the first record is kept), so cold-start
   * users can be added later; a different id on a non-empty bank needs `{ replace: true }`.
   */
  setVersion(version: BankVersion, options?: SetVersionOptions): Promise<void>;
  get(user: string): Promise<ProfileEntry | undefined>;
  /**
   * The user's entry and the bank's version, read in one snapshot: what a server needs on every
   * request to know that the IDs it serves belong to its version, in one read. A store that has
   * the answer in memory (SQLite's cache) gives it without a promise, so that a server's request
   * path need not wait a microtask for it.
   */
  lookup(user: string): BankLookup | Promise<BankLookup>;
  /** One result per asked user, in the asked order; `undefined` for unknown users. */
  getMany(users: readonly string[]): Promise<(ProfileEntry | undefined)[]>;
  /** Inserts or replaces entries, all or nothing: one invalid entry and nothing is written. */
  putMany(entries: readonly ProfileEntry[]): Promise<void>;
  count(): Promise<number>;
  /** Every entry exactly once; the order is the store's own. */
  users(): AsyncIterable<ProfileEntry>;
  close(): Promise<void>;
}

export class FeatureBankError extends Error {
  override name = 'FeatureBankError';
}

/** Parses a version, turning schema failures into one readable error. */
export function parseBankVersion(value: unknown, where: string): BankVersion {
  const result = bankVersionSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new FeatureBankError(`invalid bank version ${where}: ${problems.join('; ')}`);
  }
  return result.data;
}

/**
 * What a store decides when asked to move from `current` to `next`: keep the stored record, write the
 * new one, or write it after clearing the entries. Throws when the move would mix IDs of two versions.
 */
export function versionChange(
  current: BankVersion | undefined,
  next: BankVersion,
  entryCount: number,
  options: SetVersionOptions = {},
): 'keep' | 'write' | 'replace' {
  if (current === undefined) return 'write';
  const currentId = versionId(current);
  const nextId = versionId(next);
  if (currentId === nextId) {
    if (JSON.stringify(current.slots) !== JSON.stringify(next.slots)) {
      throw new FeatureBankError(
        `version ${nextId} is stored with slots ${describeSlots(current.slots)} but was given slots ${describeSlots(next.slots)}`,
      );
    }
    return 'keep';
  }
  if (entryCount === 0) return 'write';
  if (!options.replace) {
    throw new FeatureBankError(
      `the bank holds ${entryCount} entries of version ${currentId} (lm ${current.lm_id}); refusing to stamp version ${nextId} (lm ${next.lm_id}) over them. Pass { replace: true } to clear the entries.`,
    );
  }
  return 'replace';
}

const describeSlots = (slots: BankVersion['slots']) => slots.map((s) => `${s.name}/${s.k}`).join(',');

/**
 * Checks a whole batch against the version before anything is written, so that stores can stay
 * all-or-nothing. Errors name the user, the slot and the offending value.
 */
export function checkEntries(version: BankVersion | undefined, entries: readonly ProfileEntry[]): asserts version is BankVersion {
  if (version === undefined) throw new FeatureBankError('the bank has no version yet: call setVersion before putMany');
  const { slots } = version;
  const seen = new Set<string>();
  for (const [index, entry] of entries.entries()) {
    const { user, ids, source } = entry;
    if (typeof user !== 'string' || user === '') throw new FeatureBankError(`entry ${index}: user must be a non-empty string, got ${JSON.stringify(user)}`);
    if (seen.has(user)) throw new FeatureBankError(`user ${JSON.stringify(user)} appears more than once in one putMany`);
    seen.add(user);
    if (!Array.isArray(ids) || ids.length !== slots.length) {
      throw new FeatureBankError(
        `user ${JSON.stringify(user)}: expected ${slots.length} ids (${slots.map((s) => s.name).join(', ')}), got ${Array.isArray(ids) ? ids.length : JSON.stringify(ids)}`,
      );
    }
    for (const [j, slot] of slots.entries()) {
      const id = ids[j];
      if (!Number.isInteger(id) || id < 0 || id >= slot.k) {
        throw new FeatureBankError(`user ${JSON.stringify(user)}: slot ${slot.name} id ${String(id)} is not an integer in [0, ${slot.k})`);
      }
    }
    if (source !== undefined && !PROFILE_SOURCES.includes(source)) {
      throw new FeatureBankError(`user ${JSON.stringify(user)}: source must be one of ${PROFILE_SOURCES.join(', ')}, got ${JSON.stringify(source)}`);
    }
  }
}

/** The compact stored form of a user's ids, e.g. "3,1": readable in any store's own tools. */
export const encodeIds = (ids: readonly number[]): string => ids.join(',');
export const decodeIds = (text: string): number[] => text.split(',').map(Number);
