/** Saved models: bit-identical predictions after loading, atomic replacement, clear errors. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CtrModel, loadCtrModel, saveCtrModel, trainCtr } from '../../src/ctr/index.js';
import { Runtime } from '../../src/engine/index.js';
import { synthetic, syntheticSchema } from './synthetic.js';

const rt = new Runtime({ threads: 1 });
let dir: string;
before(async () => (dir = await mkdtemp(join(tmpdir(), 'userip-ctr-'))));
after(async () => {
  await rt.close();
  await rm(dir, { recursive: true, force: true });
});

// Unknown and never-trained ids must score the same after loading (the seen-row masks are saved):
// id 5 of field a never occurs in training, the test rows hold it and out-of-range ids.
const train = synthetic(1, { rows: 1000, denseWeight: 1 });
train.sparse.a = train.sparse.a.map((id) => (id === 5 ? 6 : id));
const test = synthetic(3, { rows: 700, denseWeight: 1 });
test.sparse.a[0] = -1;
test.sparse.a[2] = 5;
test.sparse.b[1] = 999;

describe('save and load', () => {
  for (const model of ['deepfm', 'dcnv2'] as const) {
    it(`${model}: a loaded model predicts bit-identically`, async () => {
      const m = new CtrModel({ model, lr: 0.01, epochs: 2, batchSize: 128, seed: 3 }, syntheticSchema(true), { runtime: rt });
      await trainCtr(m, train);
      const target = join(dir, model);
      await saveCtrModel(m, target, { bankVersion: 'bank-2024-01' });
      // A second runtime: nothing may depend on state the first one holds.
      const other = new Runtime({ threads: 1 });
      const loaded = await loadCtrModel(target, { runtime: other });
      assert.equal(loaded.bankVersion, 'bank-2024-01');
      assert.deepEqual(loaded.model.config, m.config);
      assert.deepEqual(loaded.model.schema, m.schema);
      const expected = await m.predict(test);
      const actual = await loaded.model.predict(test);
      await other.close();
      assert.deepEqual(Buffer.from(actual.buffer), Buffer.from(expected.buffer));
    });
  }

  it('saving again replaces the model atomically and leaves one weights file', async () => {
    const target = join(dir, 'resave');
    const m = new CtrModel({ model: 'fm', epochs: 1 }, syntheticSchema(), { runtime: rt });
    await saveCtrModel(m, target, { bankVersion: 'v1' });
    await trainCtr(m, train);
    await saveCtrModel(m, target, { bankVersion: 'v2' });
    const files = (await readdir(target)).sort();
    assert.equal(files.length, 2, `files: ${files.join(', ')}`);
    assert.equal(files[0], 'model.json');
    assert.match(files[1], /^weights-[0-9a-f]+\.safetensors$/);
    const json = JSON.parse(await readFile(join(target, 'model.json'), 'utf8'));
    assert.equal(json.weights, files[1]);
    assert.equal(json.bank_version, 'v2');
    assert.deepEqual(await (await loadCtrModel(target, { runtime: rt })).model.predict(test), await m.predict(test));
  });

  it('names what does not match', async () => {
    const target = join(dir, 'mismatch');
    await saveCtrModel(new CtrModel({ model: 'dcn' }, syntheticSchema(), { runtime: rt }), target, { bankVersion: 'v1' });
    const jsonPath = join(target, 'model.json');
    const json = JSON.parse(await readFile(jsonPath, 'utf8'));
    await writeFile(jsonPath, JSON.stringify({ ...json, config: { ...json.config, embeddingSize: 4 } }));
    await assert.rejects(loadCtrModel(target, { runtime: rt }), /tensor "table\.factor\.a" has shape \[21,8\], the model needs \[21,4\]/);
    await writeFile(jsonPath, JSON.stringify({ ...json, format: 'other' }));
    await assert.rejects(loadCtrModel(target, { runtime: rt }), /model\.json: .*format/s);
  });
});
