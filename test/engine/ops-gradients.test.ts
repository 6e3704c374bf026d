/** Every differentiable op's gradient against central finite differences, on fresh random inputs. */
import { after, describe, it } from 'node:test';
import { Runtime, ops } from '../../src/engine/index.js';
import * as nn from '../../src/engine/nn.js';
import { checkGradients, type GradCheck } from '../helpers/gradcheck.js';

const rt = new Runtime({ threads: 1 });
after(() => rt.close());

const cases: Record<string, GradCheck> = {
  'Add (broadcast)': { inputs: { a: { shape: [2, 3] }, b: { shape: [3] } }, build: ({ a, b }) => ops.add(a, b) },
  'Sub (broadcast)': { inputs: { a: { shape: [2, 1] }, b: { shape: [2, 3] } }, build: ({ a, b }) => ops.sub(a, b) },
  'Mul (broadcast)': { inputs: { a: { shape: [2, 3, 2] }, b: { shape: [3, 1] } }, build: ({ a, b }) => ops.mul(a, b) },
  Div: { inputs: { a: { shape: [2, 3] }, b: { shape: [2, 3], init: 'positive' } }, build: ({ a, b }) => ops.div(a, b) },
  Pow: { inputs: { x: { shape: [5], init: 'positive' } }, build: ({ x }) => ops.pow(x, 3) },
  Neg: { inputs: { x: { shape: [4] } }, build: ({ x }) => ops.neg(x) },
  Exp: { inputs: { x: { shape: [4] } }, build: ({ x }) => ops.exp(x) },
  Log: { inputs: { x: { shape: [4], init: 'positive' } }, build: ({ x }) => ops.log(x) },
  Sqrt: { inputs: { x: { shape: [4], init: 'positive' } }, build: ({ x }) => ops.sqrt(x) },
  Reciprocal: { inputs: { x: { shape: [4], init: 'positive' } }, build: ({ x }) => ops.reciprocal(x) },
  Tanh: { inputs: { x: { shape: [5] } }, build: ({ x }) => ops.tanh(x) },
  Sigmoid: { inputs: { x: { shape: [5] } }, build: ({ x }) => ops.sigmoid(x) },
  Relu: { inputs: { x: { shape: [6], init: 'awayFromZero' } }, build: ({ x }) => ops.relu(x) },
  Abs: { inputs: { x: { shape: [6], init: 'awayFromZero' } }, build: ({ x }) => ops.abs(x) },
  Erf: { inputs: { x: { shape: [5] } }, build: ({ x }) => ops.erf(x) },
  Where: {
    inputs: { c: { shape: [2, 3], init: 'awayFromZero' }, a: { shape: [2, 3] }, b: { shape: [3] } },
    build: ({ c, a, b }) => ops.where(ops.greater(c, 0), a, b),
  },
  Softmax: { inputs: { x: { shape: [2, 4] } }, build: ({ x }) => ops.softmax(x, -1) },
  'Softmax (axis 0)': { inputs: { x: { shape: [3, 2] } }, build: ({ x }) => ops.softmax(x, 0) },
  LogSoftmax: { inputs: { x: { shape: [2, 4] } }, build: ({ x }) => ops.logSoftmax(x, -1) },
  ReduceSum: { inputs: { x: { shape: [2, 3, 2] } }, build: ({ x }) => ops.reduceSum(x, [0, 2], false) },
  'ReduceSum (keepdims)': { inputs: { x: { shape: [2, 3] } }, build: ({ x }) => ops.reduceSum(x, [1], true) },
  ReduceMean: { inputs: { x: { shape: [2, 3, 2] } }, build: ({ x }) => ops.reduceMean(x, [1], false) },
  'ReduceMean (symbolic)': { inputs: { x: { shape: [3, 4], dims: ['B', 4] } }, build: ({ x }) => ops.reduceMean(x, [0], true) },
  'MatMul 2D': { inputs: { a: { shape: [2, 3] }, b: { shape: [3, 4] } }, build: ({ a, b }) => ops.matmul(a, b) },
  'MatMul 3D x 2D': { inputs: { a: { shape: [2, 3, 4] }, b: { shape: [4, 2] } }, build: ({ a, b }) => ops.matmul(a, b) },
  'MatMul batch broadcast': { inputs: { a: { shape: [2, 2, 3, 2] }, b: { shape: [2, 1, 2, 3] } }, build: ({ a, b }) => ops.matmul(a, b) },
  'MatMul transposed 2D (Gemm)': { inputs: { a: { shape: [2, 3] }, b: { shape: [4, 3] } }, build: ({ a, b }) => ops.matmulTransposed(a, b) },
  'MatMul transposed 3D (symbolic)': {
    inputs: { a: { shape: [2, 3, 4], dims: ['B', 'T', 4] }, b: { shape: [5, 4] } },
    build: ({ a, b }) => ops.matmulTransposed(a, b),
  },
  Transpose: { inputs: { x: { shape: [2, 3, 4] } }, build: ({ x }) => ops.transpose(x, [2, 0, 1]) },
  Reshape: { inputs: { x: { shape: [2, 3, 4], dims: ['B', 'T', 4] } }, build: ({ x }) => ops.reshape(x, [0, 0, 2, 2]) },
  'Reshape (flatten symbolic)': { inputs: { x: { shape: [2, 3, 4], dims: ['B', 'T', 4] } }, build: ({ x }) => ops.reshape(x, [-1, 4]) },
  Unsqueeze: { inputs: { x: { shape: [2, 3] } }, build: ({ x }) => ops.unsqueeze(x, [1]) },
  Squeeze: { inputs: { x: { shape: [2, 1, 3] } }, build: ({ x }) => ops.squeeze(x, [1]) },
  Expand: { inputs: { x: { shape: [1, 3] }, like: { shape: [4, 3] } }, build: ({ x, like }) => ops.mul(ops.expandAs(x, like), like) },
  Concat: { inputs: { a: { shape: [2, 1] }, b: { shape: [2, 3] } }, build: ({ a, b }) => ops.concat([a, b], 1) },
  'Concat (symbolic)': {
    inputs: { a: { shape: [2, 2], dims: ['P', 2] }, b: { shape: [3, 2], dims: ['Q', 2] } },
    build: ({ a, b }) => ops.concat([a, b], 0),
  },
  Slice: { inputs: { x: { shape: [2, 5] } }, build: ({ x }) => ops.slice(x, 1, 1, -1) },
  'Slice (symbolic, shift by one)': { inputs: { x: { shape: [2, 5, 3], dims: [2, 'T', 3] } }, build: ({ x }) => ops.slice(x, 1, 0, -1) },
  'Split (one piece unused)': {
    inputs: { x: { shape: [2, 5] } },
    build: ({ x }) => {
      const [a, b] = ops.split(x, [2, 2, 1], 1);
      return ops.mul(a, b);
    },
  },
  'Gather (repeated rows)': { inputs: { table: { shape: [4, 3] }, idx: { int64: [1, 3, 1, 0, 1, 2], shape: [2, 3] } }, build: ({ table, idx }) => ops.gather(table, idx) },
  GatherElements: { inputs: { x: { shape: [2, 4] }, idx: { int64: [3, 1, 0, 0], shape: [2, 2] } }, build: ({ x, idx }) => ops.gatherElements(x, idx, 1) },
  Sin: { inputs: { x: { shape: [5] } }, build: ({ x }) => ops.sin(x) },
  Cos: { inputs: { x: { shape: [5] } }, build: ({ x }) => ops.cos(x) },
  'Cast (float)': { inputs: { x: { shape: [3] } }, build: ({ x }) => ops.cast(x, 'float32') },
};

const composites: Record<string, GradCheck> = {
  LayerNorm: { inputs: { x: { shape: [2, 5] }, g: { shape: [5] }, b: { shape: [5] } }, build: ({ x, g, b }) => nn.layerNorm(x, g, b) },
  RMSNorm: { inputs: { x: { shape: [2, 5] }, g: { shape: [5] } }, build: ({ x, g }) => nn.rmsNorm(x, g) },
  GeluTanh: { inputs: { x: { shape: [6] } }, build: ({ x }) => nn.geluTanh(x) },
  GeluErf: { inputs: { x: { shape: [6] } }, build: ({ x }) => nn.geluErf(x) },
  SiLU: { inputs: { x: { shape: [6] } }, build: ({ x }) => nn.silu(x) },
  RoPE: {
    inputs: { x: { shape: [1, 2, 3, 4] }, cos: { shape: [3, 4] }, sin: { shape: [3, 4] } },
    build: ({ x, cos, sin }) => nn.rope(x, cos, sin),
  },
  'Attention (GQA)': {
    inputs: { q: { shape: [1, 4, 3, 2] }, k: { shape: [1, 2, 3, 2] }, v: { shape: [1, 2, 3, 2] }, m: { shape: [1, 1, 3, 3], scale: 0.5 } },
    build: ({ q, k, v, m }) => nn.attention(q, k, v, m),
  },
  'Masked token cross-entropy': {
    inputs: { logits: { shape: [2, 3, 5] }, t: { int64: [0, 4, 2, 1, 1, 3], shape: [2, 3] }, w: { shape: [2, 3], init: 'positive' } },
    build: ({ logits, t, w }) => nn.maskedTokenCrossEntropy(logits, t, w),
  },
  'BCE with logits': { inputs: { x: { shape: [6], scale: 3 }, y: { shape: [6], init: 'positive', scale: 0.3 } }, build: ({ x, y }) => nn.bceWithLogits(x, y) },
};

describe('op gradients vs finite differences', () => {
  Object.entries(cases).forEach(([name, check], i) => it(name, () => checkGradients(rt, { seed: 100 + i, ...check })));
});

describe('composite gradients vs finite differences', () => {
  Object.entries(composites).forEach(([name, check], i) => it(name, () => checkGradients(rt, { seed: 200 + i, ...check })));
});
