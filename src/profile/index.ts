/**
 * Profiles: the prompt template and its mask, the EM trainer over per-user soft tokens, tune runs on
 * disk, new-user and online (LM-in-the-loop) profiling, and explaining the codes.
 *
 * Names, one per concept:
 * - the *run* is the directory a tune writes (`run: string` wherever a path to one is passed);
 *   `tuneRun(config)` tunes one into `config.out`, resuming it if it is there;
 * - `TuneConfig` (its config.json) and `TuneSummary` (its tune.json) are what the tune was given and
 *   what it reports;
 * - the run's *profiles* are its users' soft tokens, population token and codebooks
 *   (profiles.safetensors): `RunProfiles`, `readRunProfiles(run)`;
 * - the run's *outputs* are its profiles plus its summary and its bank's IDs, what the steps after
 *   tuning read: `RunOutputs`, `readRunOutputs(run)`, written by `writeRunOutputs`;
 * - `RunData` (data.json) names the prepared data the run was made from.
 *
 *   const summary = await tuneRun(tuneSchema.parse({ data: 'runs/x/data', out: 'runs/x/profile' }));
 *   const tuned = await readRunOutputs('runs/x/profile');   // tuned.softTokens, tuned.bankIds, tuned.summary
 */
export {
  buildPrompt,
  DEFAULT_BEHAVIOUR_PREFIX,
  DEFAULT_SLOTS,
  MASK_MODES,
  slotSchema,
  templateTokens,
  writeMask,
  type MaskMode,
  type Prompt,
  type Slot,
  type TemplateTokens,
} from './template.js';
export { assembleBatch, promptWeight, type LmBatch, type ProfileLm, type SoftTokenTable } from './batch.js';
export { profileView, tuneProfiles, type FrozenProfiles, type RoundRecord, type TuneOptions, type TuneProgress, type TuneResult, type UserBehaviour } from './trainer.js';
export { packWindows, type BehaviourWindows } from './windows.js';
export { assertRunMadeFrom, RunRefusedError, runDataPath, type RunData } from './resume.js';
export { fitRound, roundRecord, tunePopulation, tuneResultOf, tuneShardRound, type PopulationResult, type RoundInput, type ShardRoundResult } from './shard.js';
export { adjustedRandIndex, etaSquared, type ProfileDiagnostics } from './diagnostics.js';
export {
  contrastWords,
  DEFAULT_LM_EXPLAIN,
  describeCodesWithLm,
  explainCodes,
  type AttributeLift,
  type CodeExplanation,
  type CodeLmText,
  type LmExplainOptions,
  type LmWord,
} from './explain.js';
export { exportBank, type BankExport } from './export.js';
export {
  addNewUsers,
  behaviourOptions,
  behaviourWindows,
  explainRun,
  readRunProfiles,
  refitCodebooksWithout,
  runBehaviourWindows,
  writeRunOutputs,
  trainBehaviour,
  trainerOptions,
  userWindows,
  BEHAVIOUR_FORMATS,
  tuneRun,
  tuneSchema,
  type NewUserProfiles,
  type SlotExplanation,
  type SlotReport,
  type TuneConfig,
  type RunProfiles,
  type TuneSummary,
} from './run.js';
export { bankIdColumns, readRunOutputs, softTokenRows, type RunOutputs } from './outputs.js';
export { LmProfiles, openOnlineProfiles, type LmProfilesOptions } from './online.js';
