/**
 * The check that keeps a server from answering with IDs its model did not learn: the bank must still
 * hold the version the server started on. /healthz reports it; the scoring and profile routes run it
 * after their lookup (so the IDs they read were of that version) and answer 503 when it fails. Once
 * the bank holds that version again, they answer again.
 */
import { versionId, type BankVersion, type FeatureBank } from '../bank/index.js';

export type BankState = { status: 'ok' } | { status: 'stale' | 'unavailable'; message: string };

/** Raised by a route when the bank no longer serves the server's version; answered with 503. */
export class BankVersionError extends Error {
  override name = 'BankVersionError';
  constructor(
    readonly state: Exclude<BankState, { status: 'ok' }>,
  ) {
    super(state.message);
  }
}

const OK: BankState = { status: 'ok' };

export class ServedVersion {
  /** The last record found to be `id`: a bank that caches its record hands back the same object, which is then not hashed again. */
  private matched: BankVersion | undefined;

  constructor(
    private readonly bank: FeatureBank,
    /** The bank version the model was trained on and the server started with. */
    readonly id: string,
  ) {}

  /** Where the bank stands now: serving `id`, on another version (or none: emptied), or not answering. */
  async state(): Promise<BankState> {
    let current;
    try {
      current = await this.bank.version();
    } catch (error) {
      return { status: 'unavailable', message: `the feature bank is unavailable: ${(error as Error).message}` };
    }
    return this.stateOf(current);
  }

  /** Where a bank holding `current` (just read, e.g. by `FeatureBank.lookup`) stands. */
  stateOf(current: BankVersion | undefined): BankState {
    if (current !== undefined && current === this.matched) return OK;
    if (current === undefined) {
      return { status: 'stale', message: `the feature bank holds no version (emptied or replaced); this server serves ${this.id} and answers again once the bank holds it` };
    }
    const currentId = versionId(current);
    if (currentId === this.id) {
      this.matched = current;
      return OK;
    }
    return {
      status: 'stale',
      message: `the feature bank's version is now ${currentId}; this server was started on ${this.id} and must be restarted (with a model trained on the new bank), or the bank restored`,
    };
  }

  /** Throws BankVersionError unless the bank serves `id`. */
  async assertCurrent(): Promise<void> {
    assertOk(await this.state());
  }

  /** Throws BankVersionError unless `current` (just read) is `id`. */
  assert(current: BankVersion | undefined): void {
    assertOk(this.stateOf(current));
  }
}

function assertOk(state: BankState): void {
  if (state.status !== 'ok') throw new BankVersionError(state);
}
