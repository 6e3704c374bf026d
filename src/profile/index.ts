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
  readTunedProfiles,
  refitCodebooksWithout,
  runBehaviourWindows,
  storeProfiles,
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
  type TunedProfiles,
  type TuneSummary,
} from './run.js';
export { bankIdColumns, readTuneRun, softTokenRows, type TuneRun } from './outputs.js';
export { LmProfiles, openOnlineProfiles, type LmProfilesOptions } from './online.js';
