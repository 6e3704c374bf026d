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

/** Each model is trained once, by whichever test needs it first, so that the tests may run in any order or alone. */
const trained = new Map<CtrModelName, Promise<{ auc: number; trainLoss: number[] }>>();
function trainedModel(model: CtrModelName): Promise<{ auc: number; trainLoss: number[] }> {
  if (!trained.has(model)) {
    trained.set(
      model,
      (async () => {
        const m = new CtrModel({ model, lr: 0.01, batchSize: 128, epochs: 25, patience: 4, seed: 1 }, syntheticSchema(), { runtime: rt });
        const result = await trainCtr(m, train, valid);
        return { auc: auc(test.labels, await m.predict(test)), trainLoss: result.history.map((h) => h.trainLoss) };
      })(),
    );
  }
  return trained.get(model)!;
}

describe('each model trains on data whose label depends on a field interaction', () => {
  for (const model of CTR_MODELS) {
    it(model, async () => {
      const { auc: a, trainLoss } = await trainedModel(model);
      assert.ok(a > 0.75, `${model}: held-out AUC ${a.toFixed(3)}`);
      assert.ok(trainLoss[trainLoss.length - 1] < trainLoss[0], 'training loss goes down');
    });
  }

  it('the interaction models beat logistic regression clearly', async () => {
    const lr = (await trainedModel('lr')).auc;
    for (const model of CTR_MODELS.filter((m) => m !== 'lr')) {
      const a = (await trainedModel(model)).auc;
      assert.ok(a > lr + 0.05, `${model} ${a.toFixed(3)} vs lr ${lr.toFixed(3)}`);
    }
  });
});
