/**
 * A transformer block (LayerNorm -> causal attention -> residual -> LayerNorm -> GELU MLP -> residual)
 * built with the engine, against an independent plain-TypeScript float64 implementation: forward
 * values, and gradients against float64 central differences of the reference.
 */
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { Graph, Rng, Runtime, float32, gradients, ops, type Tensor } from '../../src/engine/index.js';
import * as nn from '../../src/engine/nn.js';

const [B, T, D, H] = [2, 4, 8, 2];
const HD = D / H;
const F = 4 * D;

type Weights = Record<'ln1g' | 'ln1b' | 'wqkv' | 'bqkv' | 'wo' | 'bo' | 'ln2g' | 'ln2b' | 'w1' | 'b1' | 'w2' | 'b2', Float64Array>;
const SHAPES: Record<keyof Weights, number[]> = {
  ln1g: [D], ln1b: [D], wqkv: [D, 3 * D], bqkv: [3 * D], wo: [D, D], bo: [D],
  ln2g: [D], ln2b: [D], w1: [D, F], b1: [F], w2: [F, D], b2: [D],
};

// ---- plain TS reference, float64, loops ----
function layerNormRef(x: Float64Array, g: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / D; r++) {
    let mean = 0;
    for (let i = 0; i < D; i++) mean += x[r * D + i] / D;
    let v = 0;
    for (let i = 0; i < D; i++) v += (x[r * D + i] - mean) ** 2 / D;
    for (let i = 0; i < D; i++) out[r * D + i] = ((x[r * D + i] - mean) / Math.sqrt(v + 1e-5)) * g[i] + b[i];
  }
  return out;
}

function linearRef(x: Float64Array, w: Float64Array, b: Float64Array, nIn: number, nOut: number): Float64Array {
  const rows = x.length / nIn;
  const out = new Float64Array(rows * nOut);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < nOut; o++) {
      let s = b[o];
      for (let i = 0; i < nIn; i++) s += x[r * nIn + i] * w[i * nOut + o];
      out[r * nOut + o] = s;
    }
  }
  return out;
}

function blockRef(x: Float64Array, w: Weights): Float64Array {
  const a = layerNormRef(x, w.ln1g, w.ln1b);
  const qkv = linearRef(a, w.wqkv, w.bqkv, D, 3 * D);
  const attended = new Float64Array(B * T * D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const scores: number[] = [];
        for (let j = 0; j <= i; j++) {
          let s = 0;
          for (let d = 0; d < HD; d++) s += qkv[(b * T + i) * 3 * D + h * HD + d] * qkv[(b * T + j) * 3 * D + D + h * HD + d];
          scores.push(s / Math.sqrt(HD));
        }
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((p, q) => p + q, 0);
        for (let d = 0; d < HD; d++) {
          let s = 0;
          for (let j = 0; j <= i; j++) s += (e[j] / z) * qkv[(b * T + j) * 3 * D + 2 * D + h * HD + d];
          attended[(b * T + i) * D + h * HD + d] = s;
        }
      }
    }
  }
  const proj = linearRef(attended, w.wo, w.bo, D, D);
  const h1 = x.map((v, i) => v + proj[i]);
  const m = layerNormRef(h1, w.ln2g, w.ln2b);
  const hidden = linearRef(m, w.w1, w.b1, D, F).map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
  const out = linearRef(hidden, w.w2, w.b2, F, D);
  return h1.map((v, i) => v + out[i]);
}

// ---- the engine graph ----
function blockGraph(): Graph {
  const g = new Graph('block');
  const x = g.input('x', 'float32', ['B', 'T', D]);
  const mask = g.input('mask', 'float32', [1, 1, 'T', 'T']);
  const w = Object.fromEntries(Object.entries(SHAPES).map(([k, s]) => [k, g.input(k, 'float32', s)])) as Record<keyof Weights, Tensor>;
  const r = g.input('r', 'float32', ['B', 'T', D]);
  const heads = (t: Tensor) => ops.transpose(ops.reshape(t, [0, 0, H, HD]), [0, 2, 1, 3]);
  const a = nn.layerNorm(x, w.ln1g, w.ln1b);
  const [q, k, v] = ops.split(nn.linear(a, w.wqkv, w.bqkv), [D, D, D], -1).map(heads);
  const attended = ops.reshape(ops.transpose(nn.attention(q, k, v, mask), [0, 2, 1, 3]), [0, 0, D]);
  const h1 = ops.add(x, nn.linear(attended, w.wo, w.bo));
  const m = nn.layerNorm(h1, w.ln2g, w.ln2b);
  const out = ops.add(h1, nn.linear(nn.geluTanh(nn.linear(m, w.w1, w.b1)), w.w2, w.b2));
  const loss = ops.sumAll(ops.mul(out, r));
  const grads = gradients(loss, [x, w.wqkv, w.ln1g, w.w1]);
  g.output(out, 'out');
  ['x', 'wqkv', 'ln1g', 'w1'].forEach((n, i) => g.output(grads[i], `grad_${n}`));
  return g;
}

const rt = new Runtime({ threads: 1 });
after(() => rt.close());

it('transformer block matches a plain-TS float64 reference in values and gradients', async () => {
  const rng = new Rng(7);
  const rand = (n: number, std: number, mean = 0) => Float64Array.from({ length: n }, () => mean + std * rng.normal());
  const x = rand(B * T * D, 1);
  const r = rand(B * T * D, 1);
  const w = Object.fromEntries(
    Object.entries(SHAPES).map(([k, s]) => [k, rand(s.reduce((p, q) => p * q, 1), k.startsWith('ln') && k.endsWith('g') ? 0.1 : 0.3, k.startsWith('ln') && k.endsWith('g') ? 1 : 0)]),
  ) as Weights;
  const causal = new Float32Array(T * T).map((_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0));

  const session = await rt.session(blockGraph());
  const feeds: Record<string, ReturnType<typeof float32>> = {
    x: float32(Float32Array.from(x), [B, T, D]),
    r: float32(Float32Array.from(r), [B, T, D]),
    mask: float32(causal, [1, 1, T, T]),
  };
  for (const [k, s] of Object.entries(SHAPES)) feeds[k] = float32(Float32Array.from(w[k as keyof Weights]), s);
  const got = await session.run(feeds);

  const expected = blockRef(x, w);
  const out = got.out.data as Float32Array;
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(out[i] - expected[i]) < 1e-4, `out[${i}]: ${out[i]} vs reference ${expected[i]}`);

  // Reference gradients: float64 central differences of sum(block(x) * r).
  const lossRef = (xx: Float64Array, ww: Weights) => blockRef(xx, ww).reduce((s, v, i) => s + v * r[i], 0);
  const eps = 1e-6;
  const check = (name: string, grad: Float32Array, perturb: (delta: number, i: number) => number) => {
    for (let i = 0; i < grad.length; i += Math.max(1, Math.floor(grad.length / 40))) {
      const numeric = (perturb(eps, i) - perturb(-eps, i)) / (2 * eps);
      assert.ok(Math.abs(grad[i] - numeric) < 1e-3 + 1e-3 * Math.abs(numeric), `grad ${name}[${i}]: engine ${grad[i]} vs reference ${numeric}`);
    }
  };
  check('x', got.grad_x.data as Float32Array, (delta, i) => {
    const xx = x.slice();
    xx[i] += delta;
    return lossRef(xx, w);
  });
  for (const name of ['wqkv', 'ln1g', 'w1'] as const) {
    check(name, got[`grad_${name}`].data as Float32Array, (delta, i) => {
      const ww = { ...w, [name]: w[name].slice() };
      ww[name][i] += delta;
      return lossRef(x, ww);
    });
  }
});
