/**
 * Training checkpoints: a run's tensors and its optimizers' states in one safetensors file, with the
 * run's own state in the metadata, so that a single atomic rename commits all of it and a crash
 * leaves either the previous checkpoint or the new one. The profile trainer and pretraining share it.
 */
import { writeSafetensors, type TensorReader, type TensorToWrite } from './safetensors.js';

/** An optimizer's `state()`: its tensors (moments, ...) and JSON-able settings beside them. */
export interface OptimizerSnapshot {
  tensors: Record<string, Float32Array>;
}

/** Writes `tensors`, each optimizer's tensors as `optimizer/<name>/<key>`, and `metadata` plus the optimizers' settings. */
export async function writeTrainingCheckpoint(
  path: string,
  tensors: Record<string, TensorToWrite>,
  optimizers: Record<string, OptimizerSnapshot>,
  metadata: Record<string, string>,
): Promise<void> {
  const all = { ...tensors };
  const settings: Record<string, unknown> = {};
  for (const [name, { tensors: own, ...rest }] of Object.entries(optimizers)) {
    settings[name] = rest;
    for (const [key, data] of Object.entries(own)) all[`optimizer/${name}/${key}`] = { dtype: 'F32', shape: [data.length], data };
  }
  await writeSafetensors(path, all, { ...metadata, optimizers: JSON.stringify(settings) });
}

/** The optimizers' snapshots of a checkpoint written by `writeTrainingCheckpoint`, by name. */
export async function readOptimizerSnapshots(reader: TensorReader): Promise<Record<string, OptimizerSnapshot>> {
  const raw = reader.metadata.optimizers;
  if (raw === undefined) throw new Error(`${reader.path} holds no optimizer state: a checkpoint of an older version; delete it to start over`);
  const snapshots: Record<string, OptimizerSnapshot> = {};
  for (const [name, settings] of Object.entries(JSON.parse(raw) as Record<string, object>)) {
    const prefix = `optimizer/${name}/`;
    const tensors: Record<string, Float32Array> = {};
    for (const key of reader.tensors.keys()) if (key.startsWith(prefix)) tensors[key.slice(prefix.length)] = await reader.readFloat32(key);
    snapshots[name] = { ...settings, tensors };
  }
  return snapshots;
}
