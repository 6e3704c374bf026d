/**
 * The LM-in-the-loop baseline, for comparison only: a user's profile is inferred at request time, as
 * a cold-start user's is (`addNewUsers`): a few EM steps move fresh soft tokens against the frozen LM
 * to explain the user's behaviour text, then the run's frozen codebooks turn them into IDs. Scoring
 * is then the same as on the bank path, so the two differ only in where the IDs come from.
 */
import { tuneProfiles, type MaskMode, type ProfileLm, type TemplateTokens, type TokenInit } from '../profile/index.js';
import { assign, type Codebook } from '../quantize/index.js';
import type { FoundProfile, ProfileProvider } from './profiles.js';

export interface LmProfilesOptions {
  lm: ProfileLm;
  /** The tune run's template (slots and behaviour prefix). */
  template: TemplateTokens;
  /** The run's codebooks, in slot order. */
  codebooks: readonly Codebook[];
  /** Behaviour token ids per user: what an LM path must keep per user and read on every request. */
  behaviour: ReadonlyMap<string, readonly number[]>;
  /** EM steps per request (the run's epochs give the cold-start path's count). */
  steps: number;
  /** The run's training settings. */
  mask: MaskMode;
  init: TokenInit;
  lr: number;
  weightDecay: number;
  seed: number;
}

export class LmProfiles implements ProfileProvider {
  readonly mode = 'lm';

  constructor(private readonly options: LmProfilesOptions) {
    if (options.codebooks.length !== options.template.names.length) {
      throw new Error(`${options.codebooks.length} codebooks for ${options.template.names.length} template slots`);
    }
    const bad = options.codebooks.find((cb) => cb.d !== options.lm.hiddenSize);
    if (bad) throw new Error(`a codebook has width ${bad.d}, the LM's hidden size is ${options.lm.hiddenSize}`);
  }

  async lookup(user: string): Promise<FoundProfile | undefined> {
    const { lm, template, codebooks, behaviour, steps, mask, init, lr, weightDecay, seed } = this.options;
    const tokens = behaviour.get(user);
    if (tokens === undefined) return undefined;
    // One user per call; concurrent requests queue their LM runs on the runtime's worker.
    const result = await tuneProfiles(lm, template, [{ user, train: [...tokens], valid: [] }], {
      mask,
      init,
      lr,
      batchSize: 1,
      epochs: steps,
      patience: steps,
      weightDecay,
      seed,
      checkpointEvery: Number.MAX_SAFE_INTEGER,
      configHash: 'serve',
    });
    const d = lm.hiddenSize;
    const ids = codebooks.map((codebook, j) => assign(codebook, result.softTokens.data.subarray(j * d, (j + 1) * d)).ids[0]);
    return { ids, source: 'lm' };
  }
}
