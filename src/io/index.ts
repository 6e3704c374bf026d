/**
 * Files: atomic checked writes (whole and streaming), JSON read back with errors that name the file,
 * safetensors and content hashes. Nothing here knows what the files mean.
 *
 * Directory locks (lock.ts) are imported on their own: proper-lockfile installs signal-exit, whose
 * SIGXFSZ handler kills the process where a write past `ulimit -f` would otherwise fail with EFBIG.
 */
export * from './files.js';
export * from './hash.js';
export {
  CorruptFileError,
  formatShape,
  numel,
  openSafetensors,
  roundToDtype,
  writeSafetensors,
  type FloatDtype,
  type TensorInfo,
  type TensorReader,
  type TensorToWrite,
} from './safetensors.js';
export { silentProgress, type Progress } from './progress.js';
export { readOptimizerSnapshots, writeTrainingCheckpoint, type OptimizerSnapshot } from './checkpoint.js';
