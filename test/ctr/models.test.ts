/** Every model learns the synthetic task; the ones that model interactions beat logistic regression. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CTR_MODELS, CtrModel, auc, trainCtr, type CtrModelName } from '../../src/ctr/index.js';
import { Runtime } from '../../src/engine/index.js';
import { synthetic, syntheticSchema } from './synthetic.js';

const rt = new Runtime({ threads: 1 });
after(() => rt.close());

const train = synthetic(1, { rows: 3000 });
const valid = synthetic(2, { rows: 1000 });
const test = synthetic(3, { rows: 1000 });
const testAuc = new Map<CtrModelName, number>();

describe('each model trains on data whose label depends on a field interaction', () => {
  for (const model of CTR_MODELS) {
    it(model, async () => {
      const m = new CtrModel({ model, lr: 0.01, batchSize: 128, epochs: 25, patience: 4, seed: 1 }, syntheticSchema(), { runtime: rt });
      const result = await trainCtr(m, train, valid);
      const a = auc(test.labels, await m.predict(test));
      testAuc.set(model, a);
      assert.ok(a > 0.75, `${model}: held-out AUC ${a.toFixed(3)}`);
      assert.ok(result.history[result.history.length - 1].trainLoss < result.history[0].trainLoss, 'training loss goes down');
    });
  }

  it('the interaction models beat logistic regression clearly', () => {
    const lr = testAuc.get('lr') as number;
    for (const model of CTR_MODELS.filter((m) => m !== 'lr')) {
      const a = testAuc.get(model) as number;
      assert.ok(a > lr + 0.05, `${model} ${a.toFixed(3)} vs lr ${lr.toFixed(3)}`);
    }
  });
});
