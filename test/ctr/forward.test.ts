/**
 * The serving model (weights frozen into the scoring graph) through ORT, through the in-process
 * evaluator and as the server scores (`ServingModel.score`), against the model's own ORT scores:
 * every model, with random weights in every table and parameter (biases too, which start at zero),
 * seen and unseen ids, and a dense field.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CTR_MODELS, CtrModel, sigmoid } from '../../src/ctr/index.js';
import { InProcessGraph } from '../../src/ctr/forward.js';
import { Graph, Rng, Runtime, ops } from '../../src/engine/index.js';
import { synthetic, syntheticSchema } from './synthetic.js';

const rt = new Runtime({ threads: 1 });
after(() => rt.close());

function randomModel(model: (typeof CTR_MODELS)[number], seed: number): CtrModel {
  const m = new CtrModel({ model, embeddingSize: 6, mlp: [12, 8], crossLayers: 2, seed }, syntheticSchema(true), { runtime: rt });
  const rng = new Rng(seed + 100);
  for (const tables of m.weights.tables.values()) for (const t of tables) rng.fillNormal(t, 0.5);
  for (const p of m.weights.params.values()) rng.fillNormal(p, 0.5);
  // Rows of the first half of each vocabulary are trained on; the rest score as unknown.
  m.markSeen(synthetic(seed, { rows: 30, denseWeight: 1 }));
  return m;
}

describe('the frozen serving graph, through ORT and in process, scores as the model does to 1e-6', () => {
  for (const model of CTR_MODELS) {
    it(model, async () => {
      const m = randomModel(model, 3);
      const rows = synthetic(4, { rows: 100, denseWeight: 1 });
      // An id out of range scores with the unknown row everywhere.
      rows.sparse.a[7] = 999;
      const reference = await m.predict(rows);
      const serving = m.serving();
      const feeds = serving.feeds(rows);
      const frozen = sigmoid(await serving.logits(feeds));
      const inProcess = sigmoid(serving.logitsInProcess(feeds));
      // What the server runs: the factored forward for a DCN on sparse fields, else the frozen graph on ORT.
      const served = sigmoid(await serving.score(m.encode(rows)));
      for (const [name, scores] of [['frozen ORT', frozen], ['in process', inProcess], ['served', served]] as const) {
        assert.equal(scores.length, reference.length);
        let worst = 0;
        for (let i = 0; i < reference.length; i++) worst = Math.max(worst, Math.abs(reference[i] - scores[i]));
        assert.ok(worst <= 1e-6, `${model}, ${name}: largest difference ${worst}`);
      }
      // The weights are not trivial: the scores spread out.
      assert.ok(Math.max(...reference) - Math.min(...reference) > 0.1, `${model}: scores barely differ`);
    });
  }
});

it('a graph with an op it does not evaluate is refused when the evaluator is made', () => {
  const g = new Graph('unsupported');
  g.output(ops.transpose(g.input('x', 'float32', ['B', 3])), 'y');
  assert.throws(() => new InProcessGraph(g, 'y'), /op Transpose is not evaluated in process/);
});
