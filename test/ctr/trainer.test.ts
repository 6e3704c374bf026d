/** Training behaviour: seeded determinism, early stopping, unknown ids, user-ID dropout, the dense-field path, input checks. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CtrModel, USER_FIELD, auc, trainCtr, type CtrConfigInput, type LabeledRows } from '../../src/ctr/index.js';
import { Runtime } from '../../src/engine/index.js';
import { VOCAB, synthetic, syntheticSchema } from './synthetic.js';

const rt = new Runtime({ threads: 1 });
after(() => rt.close());

const train = synthetic(1, { rows: 2000 });
const valid = synthetic(2, { rows: 500 });
const base: CtrConfigInput = { model: 'dcn', lr: 0.01, batchSize: 128, epochs: 4 };

describe('determinism', () => {
  it('the same seed gives the same curves and predictions; another seed does not', async () => {
    const run = async (seed: number) => {
      const m = new CtrModel({ ...base, seed }, syntheticSchema(), { runtime: rt });
      const { history } = await trainCtr(m, train, valid);
      return { curves: history.map(({ seconds: _s, ...rest }) => rest), predictions: await m.predict(valid) };
    };
    const a = await run(7);
    const b = await run(7);
    const c = await run(8);
    assert.deepEqual(a.curves, b.curves);
    assert.deepEqual(a.predictions, b.predictions);
    assert.notDeepEqual(a.predictions, c.predictions);
  });
});

describe('early stopping', () => {
  it('stops after `patience` epochs without a better validation AUC and restores the best weights', async () => {
    // A learning rate this high overfits 300 rows within a few epochs.
    const small = synthetic(4, { rows: 300 });
    const m = new CtrModel({ ...base, lr: 0.1, epochs: 40, patience: 2 }, syntheticSchema(), { runtime: rt });
    const result = await trainCtr(m, small, valid);
    assert.ok(result.stoppedEarly, `ran all ${result.history.length} epochs`);
    assert.equal(result.history.length, result.bestEpoch + 2);
    const best = Math.max(...result.history.map((h) => h.validAuc as number));
    assert.equal(result.bestValidAuc, best);
    assert.equal(result.history[result.bestEpoch - 1].validAuc, best);
    assert.equal(auc(valid.labels, await m.predict(valid)), best, 'the model holds the best epoch weights');
  });

  it('without validation rows it trains every epoch and keeps the last weights', async () => {
    const m = new CtrModel({ ...base, epochs: 2 }, syntheticSchema(), { runtime: rt });
    const result = await trainCtr(m, train);
    assert.equal(result.history.length, 2);
    assert.equal(result.bestEpoch, 2);
    assert.equal(result.history[0].validAuc, undefined);
  });
});

describe('unknown ids', () => {
  /** `rows` with field a replaced by `id` everywhere. */
  const withA = (rows: LabeledRows, id: number): LabeledRows => ({ ...rows, sparse: { ...rows.sparse, a: new Int32Array(rows.labels.length).fill(id) } });

  it('out-of-range and never-trained ids all score as the unknown row, which stays zero', async () => {
    // Id 0 of field a never occurs in training.
    const keep = Array.from(train.sparse.a.keys()).filter((i) => train.sparse.a[i] !== 0);
    const pick = (col: Int32Array) => Int32Array.from(keep, (i) => col[i]);
    const trainWithout0: LabeledRows = { sparse: { a: pick(train.sparse.a), b: pick(train.sparse.b), noise: pick(train.sparse.noise) }, labels: keep.map((i) => train.labels[i]) };
    const m = new CtrModel(base, syntheticSchema(), { runtime: rt });
    await trainCtr(m, trainWithout0, valid);

    const unseen = await m.predict(withA(valid, 0));
    assert.deepEqual(await m.predict(withA(valid, -1)), unseen);
    assert.deepEqual(await m.predict(withA(valid, VOCAB.a)), unseen);
    assert.deepEqual(await m.predict(withA(valid, 1 << 30)), unseen);
    assert.notDeepEqual(await m.predict(withA(valid, 1)), unseen, 'a trained id differs');
    const factorA = (m.weights.tables.get('factor') as Float32Array[])[0];
    assert.deepEqual(Array.from(factorA.subarray(0, 8)), new Array(8).fill(0));
  });

  it('the unknown row learns when training rows carry unknown ids', async () => {
    const m = new CtrModel({ ...base, epochs: 1 }, syntheticSchema(), { runtime: rt });
    const a = train.sparse.a.map((id, i) => (i % 10 === 0 ? -1 : id));
    await trainCtr(m, { ...train, sparse: { ...train.sparse, a } });
    const factorA = (m.weights.tables.get('factor') as Float32Array[])[0];
    assert.ok(factorA.subarray(0, 8).some((x) => x !== 0));
  });
});

describe('user-ID dropout', () => {
  /** The synthetic rows with field a renamed to the user field, so that `userIdDropout` acts on it. */
  const asUser = (rows: LabeledRows): LabeledRows => {
    const { a, ...rest } = rows.sparse;
    return { ...rows, sparse: { ...rest, [USER_FIELD]: a } };
  };
  const userSchema = () => ({ sparse: syntheticSchema().sparse.map((f) => (f.name === 'a' ? { ...f, name: USER_FIELD } : f)) });
  const fit = async (userIdDropout: number, seed = 0) => {
    const m = new CtrModel({ ...base, epochs: 2, userIdDropout, seed }, userSchema(), { runtime: rt });
    await trainCtr(m, asUser(train));
    const unknown = (m.weights.tables.get('factor') as Float32Array[])[0].slice(0, 8);
    return { unknown, predictions: await m.predict(asUser(valid)) };
  };

  it('trains the shared unknown user row, reproducibly per seed; without dropout it stays zero', async () => {
    const [off, a, b, c] = [await fit(0), await fit(0.3), await fit(0.3), await fit(0.3, 1)];
    assert.ok(off.unknown.every((x) => x === 0), 'every user id is known, so nothing trains the unknown row');
    assert.ok(a.unknown.some((x) => x !== 0), 'dropped rows train the unknown row');
    assert.deepEqual(a.predictions, b.predictions);
    assert.notDeepEqual(a.predictions, off.predictions);
    assert.notDeepEqual(a.predictions, c.predictions);
  });

  it('an unseen user scores with the unknown row that dropout trained', async () => {
    const m = new CtrModel({ ...base, epochs: 2, userIdDropout: 0.3 }, userSchema(), { runtime: rt });
    await trainCtr(m, asUser(train));
    const unseen = { ...asUser(valid), sparse: { ...asUser(valid).sparse, [USER_FIELD]: new Int32Array(valid.labels.length).fill(-1) } };
    const probs = await m.predict(unseen);
    assert.ok(auc(valid.labels, probs) > 0.5, 'field b still ranks the rows of unknown users');
    assert.ok(new Set(probs).size > 1);
  });

  it('needs a sparse field named user', async () => {
    const m = new CtrModel({ ...base, userIdDropout: 0.1 }, syntheticSchema(), { runtime: rt });
    await assert.rejects(trainCtr(m, train), /userIdDropout 0.1: the field schema has no sparse field "user"/);
  });
});

describe('dense fields', () => {
  it('a dense field carrying signal is used', async () => {
    const denseTrain = synthetic(1, { rows: 2000, denseWeight: 2, interaction: 0 });
    const denseValid = synthetic(2, { rows: 500, denseWeight: 2, interaction: 0 });
    const denseTest = synthetic(3, { rows: 1000, denseWeight: 2, interaction: 0 });
    const fit = async (withDense: boolean) => {
      const m = new CtrModel({ ...base, epochs: 15, patience: 3 }, syntheticSchema(withDense), { runtime: rt });
      await trainCtr(m, denseTrain, denseValid);
      return auc(denseTest.labels, await m.predict(denseTest));
    };
    const withDense = await fit(true);
    const without = await fit(false);
    assert.ok(withDense > 0.75, `AUC with the dense field ${withDense.toFixed(3)}`);
    assert.ok(withDense > without + 0.05, `with ${withDense.toFixed(3)} vs without ${without.toFixed(3)}`);
  });
});

describe('input checks', () => {
  const m = new CtrModel(base, syntheticSchema(true), { runtime: rt });

  it('names a missing or mis-sized column', async () => {
    await assert.rejects(m.predict({ sparse: { a: new Int32Array(2), b: new Int32Array(2) } }), /sparse field "noise" is missing/);
    await assert.rejects(m.predict({ sparse: { a: new Int32Array(2), b: new Int32Array(2), noise: new Int32Array(2) } }), /dense field "vec" is missing/);
    await assert.rejects(
      m.predict({ sparse: { a: new Int32Array(2), b: new Int32Array(3), noise: new Int32Array(2) }, dense: { vec: new Float32Array(8) } }),
      /field "b" has 3 rows, expected 2/,
    );
  });

  it('rejects bad labels, one-class validation rows and bad configs', async () => {
    await assert.rejects(trainCtr(new CtrModel(base, syntheticSchema(), { runtime: rt }), { ...train, labels: new Float32Array(train.labels.length).fill(2) }), /labels must be 0 or 1/);
    const oneClass = { ...valid, labels: new Float32Array(valid.labels.length) };
    await assert.rejects(trainCtr(new CtrModel(base, syntheticSchema(), { runtime: rt }), train, oneClass), /valid: AUC needs both classes/);
    assert.throws(() => new CtrModel({ model: 'dcn', dropout: 1 }, syntheticSchema()), /invalid CTR config/);
    assert.throws(() => new CtrModel(base, { sparse: [{ name: 'a', vocabSize: 3 }, { name: 'a', vocabSize: 4 }] }), /field "a" is declared twice/);
  });
});
