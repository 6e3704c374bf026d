/** A training checkpoint brings weights and optimizer moments back exactly: a resumed step equals an uninterrupted one. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AdamW, optimizerFromState, type OptimizerState } from '../../src/engine/index.js';
import { openSafetensors, readOptimizerSnapshots, writeSafetensors, writeTrainingCheckpoint } from '../../src/io/index.js';

test('weights, optimizer state and run metadata round-trip; the resumed optimizer takes the same next step', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'userip-checkpoint-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const weight = { name: 'w', shape: [3], data: Float32Array.from([0.5, -1, 2]) };
  const grad = () => [Float32Array.from([0.1, 0.2, -0.3])];
  const optimizer = new AdamW({ lr: 0.1, weightDecay: 0.01 });
  optimizer.step([weight], grad());
  optimizer.step([weight], grad());

  const path = join(dir, 'checkpoint.safetensors');
  await writeTrainingCheckpoint(path, { w: { dtype: 'F32', shape: weight.shape, data: weight.data } }, { main: optimizer.state() }, { state: '{"step":2}' });
  const reader = await openSafetensors(path);
  const resumedWeight = { ...weight, data: await reader.readFloat32('w') };
  const snapshots = await readOptimizerSnapshots(reader);
  assert.equal(reader.metadata.state, '{"step":2}');
  await reader.close();
  assert.deepEqual(Object.keys(snapshots), ['main']);
  const resumed = optimizerFromState(snapshots.main as OptimizerState);

  optimizer.step([weight], grad());
  resumed.step([resumedWeight], grad());
  assert.deepEqual(resumedWeight.data, weight.data);
});

test('a checkpoint without optimizer state is refused, naming the file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'userip-checkpoint-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'old.safetensors');
  await writeSafetensors(path, { w: { dtype: 'F32', shape: [1], data: new Float32Array(1) } });
  const reader = await openSafetensors(path);
  await assert.rejects(readOptimizerSnapshots(reader), /old\.safetensors holds no optimizer state/);
  await reader.close();
});
