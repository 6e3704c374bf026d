/**
 * Where the server gets a user's profile IDs: the feature bank (one key lookup, the UserIP path) or,
 * as a baseline for comparison, the LM at request time (`LmProfiles`, src/profile/online.ts).
 *
 * A user without a profile gets the default profile: per slot, the ID most users in the bank hold
 * (ties: the smaller ID), computed once at startup. The most common ID is the best single guess of
 * an unseen user's ID, and it is a row the CTR model has trained on.
 */
import type { BankVersion, FeatureBank } from '../bank/index.js';
import { andThen, type Eventually } from './eventually.js';

/** Where a served profile came from: the bank entry's own source, `bank` (entry without a source), `lm`, or `default`. */
export type ServedSource = 'tuned' | 'cold-start' | 'bank' | 'lm' | 'default';

export interface FoundProfile {
  ids: number[];
  source: Exclude<ServedSource, 'default'>;
}

export interface ProfileLookup {
  /** The user's IDs in slot order, or undefined for a user the provider has no profile for. */
  found: FoundProfile | undefined;
  /** Where the IDs came from the bank: its version, read with them. */
  bank?: { version: BankVersion | undefined };
}

export interface ProfileProvider {
  readonly mode: 'bank' | 'lm';
  /** At once where the profile is in memory (a SQLite bank), else a promise. */
  lookup(user: string): Eventually<ProfileLookup>;
}

export class BankProfiles implements ProfileProvider {
  readonly mode = 'bank';

  constructor(private readonly bank: FeatureBank) {}

  lookup(user: string): Eventually<ProfileLookup> {
    return andThen(this.bank.lookup(user), ({ entry, version }) => ({ found: entry && { ids: entry.ids, source: entry.source ?? 'bank' }, bank: { version } }));
  }
}

/** Per slot, the most frequent ID among the bank's entries (ties and an empty bank: the smallest ID). */
export async function mostFrequentIds(bank: FeatureBank, slotSizes: readonly number[]): Promise<number[]> {
  const counts = slotSizes.map((k) => new Float64Array(k));
  for await (const entry of bank.users()) entry.ids.forEach((id, j) => counts[j][id]++);
  return counts.map((c) => c.reduce((best, n, id) => (n > c[best] ? id : best), 0));
}
