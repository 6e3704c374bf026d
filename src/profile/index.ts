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
export { assembleBatch, type LmBatch, type ProfileLm, type SoftTokenTable } from './batch.js';
export { tuneProfiles, type TuneOptions, type TuneResult, type UserBehaviour, type EpochRecord } from './trainer.js';
export { explainCodes, type CodeExplanation, type AttributeLift } from './explain.js';
