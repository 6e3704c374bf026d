/**
 * Online profiling, the LM-in-the-loop baseline for serving (for comparison only): a user's profile
 * is inferred at request time, as a new user's is offline (`addNewUsers`): a few EM steps move fresh
 * soft tokens against the frozen LM to explain the user's behaviour text, then the run's frozen
 * codebooks turn them into IDs. A server scores them as it scores the bank's, so the two paths differ
 * only in where the IDs come from. `LmProfiles` has the shape of the server's profile provider.
 */
import { Runtime } from '../engine/index.js';
import { loadLm } from '../lm/index.js';
import type { ProfileLm } from './batch.js';
import { readRunProfiles, runBehaviourWindows, trainBehaviour, trainerOptions } from './run.js';
import { templateTokens, type TemplateTokens } from './template.js';
import { tuneProfiles, type TuneOptions } from './trainer.js';
import type { BehaviourWindows } from './windows.js';

export interface LmProfilesOptions {
  lm: ProfileLm;
  /** The tune run's template (slots and behaviour prefix). */
  template: TemplateTokens;
  /** Behaviour windows (token ids) per user: what an LM path must keep per user and read on every request. */
  behaviour: ReadonlyMap<string, BehaviourWindows>;
  /** The run's new-user settings: frozen population token and codebooks, its step budget. */
  trainer: TuneOptions;
}

export class LmProfiles {
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

  async lookup(user: string): Promise<{ found: { ids: number[]; source: 'lm' } | undefined }> {
    const { lm, template, behaviour, trainer } = this.options;
    const windows = behaviour.get(user);
    if (windows === undefined) return { found: undefined };
    // One user per call; concurrent requests queue their LM runs on the runtime's worker.
    const result = await tuneProfiles(lm, template, [trainBehaviour(user, windows)], trainer);
    return { found: { ids: result.ids.map((slotIds) => slotIds[0]), source: 'lm' } };
  }
}

/**
 * The online profiles of the tune run in `run`: its LM (on a runtime of its own), template, frozen
 * codebooks and new-user settings, with `steps` EM steps per request (default: the run's). `close`
 * releases the runtime.
 */
export async function openOnlineProfiles(run: string, options: { steps?: number } = {}): Promise<{ profiles: LmProfiles; close(): Promise<void> }> {
  const tuned = await readRunProfiles(run);
  const tune = tuned.config;
  const runtime = new Runtime({ threads: tune.threads });
  try {
    const lm = await loadLm(tune.lm, runtime);
    const behaviour = await runBehaviourWindows(tune, lm.tokenizer, lm.config.maxPositions);
    const trainer = trainerOptions(tune, lm.id, undefined, tuned);
    const profiles = new LmProfiles({
      lm,
      template: templateTokens(lm.tokenizer, tuned.slots, tune.behaviourPrefix),
      behaviour,
      // No checkpoints: a request's tokens are thrown away once they are IDs.
      trainer: { ...trainer, userSteps: options.steps ?? trainer.userSteps, checkpointEvery: Number.MAX_SAFE_INTEGER, configHash: 'serve' },
    });
    return { profiles, close: () => runtime.close() };
  } catch (error) {
    await runtime.close();
    throw error;
  }
}
