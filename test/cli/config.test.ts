/** The CLI's settings: a JSON config file, then flags (flags win); unknown keys are refused by name. */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveConfig } from '../../src/cli/config.js';
import { resolveCompareConfig } from '../../src/cli/eval.js';
import { prepareSchema } from '../../src/data/index.js';
import { tuneSchema } from '../../src/profile/index.js';
import { tempDir, writeFixture } from '../data/fixtures.js';

test('unknown keys in a config file are refused by name: data prepare and profile tune', async (t) => {
  const dir = await tempDir(t);
  const prepareConfig = await writeFixture(dir, 'prepare.json', JSON.stringify({ dataset: 'embedded', treshold: 4 }));
  await assert.rejects(resolveConfig(prepareSchema, prepareConfig, { out: dir }), { message: /Unrecognized key: "treshold"/ });
  const tuneConfig = await writeFixture(dir, 'tune.json', JSON.stringify({ epoch: 3 }));
  await assert.rejects(resolveConfig(tuneSchema, tuneConfig, { data: dir, out: dir }), { message: /Unrecognized key: "epoch"/ });
});

test('eval compare config: file then flags, CTR flags merged into the file\'s ctr object', async (t) => {
  const file = join(await tempDir(t), 'compare.json');
  await writeFile(file, JSON.stringify({ data: 'd', run: 'r', out: 'o', seeds: [3], ctr: { dropout: 0.1, epochs: 4 } }));
  const config = await resolveCompareConfig({ config: file, epochs: 7, models: ['deepfm', 'dcn'], userIdDropout: 0.3, bootstrapResamples: 500, lr: undefined });
  assert.deepEqual(config.models, ['deepfm', 'dcn']);
  assert.equal(config.ctr.userIdDropout, 0.3);
  assert.deepEqual(config.bootstrap, { resamples: 500, seed: 0 });
  assert.deepEqual(config.seeds, [3]);
  assert.equal(config.ctr.dropout, 0.1);
  assert.equal(config.ctr.epochs, 7);
  assert.equal(config.ctr.lr, 3e-3);
  assert.equal(config.ctr.patience, 3);
  assert.deepEqual(config.protocols, ['warm', 'cold']);
  assert.deepEqual((await resolveCompareConfig({ data: 'd', run: 'r', out: 'o' })).models, ['dcn']);
  await assert.rejects(resolveCompareConfig({ config: file, features: ['id', 'id+nope'] }), /features/);
});
