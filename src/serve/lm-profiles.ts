/**
 * The LM-in-the-loop baseline, for comparison only: a user's profile is inferred at request time, as
 * a cold-start user's is (`addNewUsers`): a few EM steps move fresh soft tokens against the frozen LM
 * to explain the user's behaviour text, then the run's frozen codebooks turn them into IDs. Scoring
 * is then the same as on the bank path, so the two differ only in where the IDs come from.
 */
import { trainBehaviour, tuneProfiles, type BehaviourWindows, type ProfileLm, type TemplateTokens, type TuneOptions } from '../profile/index.js';
import type { ProfileLookup, ProfileProvider } from './profiles.js';

export interface LmProfilesOptions {
  lm: ProfileLm;
  /** The tune run's template (slots and behaviour prefix). */
  template: TemplateTokens;
  /** Behaviour windows (token ids) per user: what an LM path must keep per user and read on every request. */
  behaviour: ReadonlyMap<string, BehaviourWindows>;
  /** The run's new-user settings: frozen population token and codebooks, its step budget. */
  trainer: TuneOptions;
}

export class LmProfiles implements ProfileProvider {
  readonly mode = 'lm';

  constructor(private readonly options: LmProfilesOptions) {
    const frozen = options.trainer.frozen;
    if (!frozen) throw new Error('the LM path needs the run\'s frozen population token and codebooks');
    if (frozen.codebooks.length !== options.template.names.length) {
      throw new Error(`${frozen.codebooks.length} codebooks for ${options.template.names.length} template slots`);
    }
    const bad = frozen.codebooks.find((cb) => cb.d !== options.lm.hiddenSize);
    if (bad) throw new Error(`a codebook has width ${bad.d}, the LM's hidden size is ${options.lm.hiddenSize}`);
  }

  async lookup(user: string): Promise<ProfileLookup> {
    const { lm, template, behaviour, trainer } = this.options;
    const windows = behaviour.get(user);
    if (windows === undefined) return { found: undefined };
    // One user per call; concurrent requests queue their LM runs on the runtime's worker.
    const result = await tuneProfiles(lm, template, [trainBehaviour(user, windows)], trainer);
    return { found: { ids: result.ids.map((slotIds) => slotIds[0]), source: 'lm' } };
  }
}
