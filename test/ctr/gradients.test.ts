/**
 * The training graph's gradients (of every parameter and of the batch's local embedding tables)
 * against central finite differences of the loss computed from the scoring graph's logits: the two
 * graphs must describe the same function, and autodiff must differentiate it.
 */
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { CTR_MODELS, CtrModel } from '../../src/ctr/index.js';
import { batchGradients } from '../../src/ctr/trainer.js';
import { Rng, Runtime } from '../../src/engine/index.js';
import { synthetic, syntheticSchema } from './synthetic.js';

const rt = new Runtime({ threads: 1 });
after(() => rt.close());

function meanBce(logits: Float32Array, labels: Float32Array): number {
  let sum = 0;
  logits.forEach((z, i) => (sum += Math.max(z, 0) - z * labels[i] + Math.log1p(Math.exp(-Math.abs(z)))));
  return sum / logits.length;
}

for (const name of CTR_MODELS) {
  it(`${name}: gradients match finite differences through the scoring graph`, async () => {
    const model = new CtrModel({ model: name, embeddingSize: 3, mlp: [5], crossLayers: 2, dropout: 0 }, syntheticSchema(true), { runtime: rt });
    const rows = synthetic(9, { rows: 6, denseWeight: 1 });
    const labels = Float32Array.from(rows.labels);
    model.markSeen(rows);
    // A generic point: no zero biases or zero first-order weights.
    const rng = new Rng(5);
    for (const p of model.weights.params.values()) rng.fillNormal(p, 0.3);
    for (const tables of model.weights.tables.values()) for (const t of tables) rng.fillNormal(t, 0.3);

    const data = model.encode(rows);
    const batch = Int32Array.from({ length: data.n }, (_, i) => i);
    const bag = model.bag.collect(data.rows, batch);
    const out = await batchGradients(model, data, labels, batch, bag, rng);
    const lossAt = async () => meanBce(await model.predictLogits(rows), labels);
    assert.ok(Math.abs((out.loss.data as Float32Array)[0] - (await lossAt())) < 1e-5, 'training and scoring graphs give the same loss');

    const eps = 3e-3;
    const check = async (what: string, w: Float32Array, i: number, analytic: number) => {
      const w0 = w[i];
      w[i] = w0 + eps;
      const up = await lossAt();
      w[i] = w0 - eps;
      const down = await lossAt();
      w[i] = w0;
      const numeric = (up - down) / (2 * eps);
      assert.ok(Math.abs(analytic - numeric) <= 5e-4 + 2e-2 * Math.abs(numeric), `${name} d loss / d ${what}: autodiff ${analytic} vs finite difference ${numeric}`);
    };
    for (const p of model.layout.params) {
      const grad = out[`grad.param.${p.name}`].data as Float32Array;
      const w = model.weights.params.get(p.name) as Float32Array;
      for (let i = 0; i < w.length; i++) await check(`${p.name}[${i}]`, w, i, grad[i]);
    }
    for (const t of model.layout.tables) {
      const grad = out[`grad.table.${t.name}`].data as Float32Array;
      const tables = model.weights.tables.get(t.name) as Float32Array[];
      for (const [f, rowsOfField] of bag.unique.entries()) {
        for (const [k, row] of rowsOfField.entries()) {
          for (let c = 0; c < t.width; c++) {
            await check(`${t.name} table of field ${f}, row ${row}[${c}]`, tables[f], row * t.width + c, grad[(bag.offsets[f] + k) * t.width + c]);
          }
        }
      }
    }
  });
}
