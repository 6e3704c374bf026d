/** The CTR layer library's interaction layers: gradients against finite differences. */
import { after, it } from 'node:test';
import { crossLayer, crossLayerV2, fmInteraction } from '../../src/ctr/layers.js';
import { Runtime } from '../../src/engine/index.js';
import { checkGradients, type GradCheck } from '../helpers/gradcheck.js';

const rt = new Runtime({ threads: 1 });
after(() => rt.close());

const cases: Record<string, GradCheck> = {
  'FM interaction': { inputs: { e: { shape: [2, 3, 4] } }, build: ({ e }) => fmInteraction(e) },
  'DCN cross layer': {
    inputs: { x0: { shape: [2, 4] }, x: { shape: [2, 4] }, w: { shape: [4, 1] }, b: { shape: [4] } },
    build: ({ x0, x, w, b }) => crossLayer(x0, x, w, b),
  },
  'DCNv2 cross layer': {
    inputs: { x0: { shape: [2, 3] }, x: { shape: [2, 3] }, w: { shape: [3, 3] }, b: { shape: [3] } },
    build: ({ x0, x, w, b }) => crossLayerV2(x0, x, w, b),
  },
};

// The seeds these checks had among the engine's composite cases; fixed per case, whatever runs first.
Object.entries(cases).forEach(([name, check], i) => it(`${name}: gradients match finite differences`, () => checkGradients(rt, { seed: 203 + i, ...check })));
