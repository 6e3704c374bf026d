import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Adam,
  AdamW,
  clipGradNorm,
  optimizerFromState,
  Sgd,
  type Optimizer,
  type OptimizerState,
  type Param,
} from '../../src/engine/optim.js';
import { Rng } from '../../src/engine/random.js';

/** Optimizer output is float32; the hand computations are double. */
function assertClose(actual: ArrayLike<number>, expected: readonly number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

function assertBits(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.deepEqual(new Uint32Array(actual.buffer, actual.byteOffset, actual.length), new Uint32Array(expected.buffer, expected.byteOffset, expected.length), what);
}

// Shared 3-step Adam/AdamW scenario; the lr drops at step 3 to exercise schedules.
const P0 = [0.5, -1.0, 2.0];
const GRADS = [
  [0.2, -0.4, 0.0],
  [0.1, 0.3, -0.5],
  [-0.3, 0.2, 0.25],
];
const LRS = [0.1, 0.1, 0.05];

/** The torch.optim.Adam/AdamW equations written out with plain Math, in double. */
function adamByHand(wd: number, decoupled: boolean): number[][] {
  const p = [...P0];
  const m = [0, 0, 0];
  const v = [0, 0, 0];
  const trajectory: number[][] = [];
  for (let t = 1; t <= 3; t++) {
    const lr = LRS[t - 1];
    for (let i = 0; i < 3; i++) {
      let g = GRADS[t - 1][i];
      if (decoupled) p[i] = p[i] * (1 - lr * wd);
      else g = g + wd * p[i];
      m[i] = 0.9 * m[i] + 0.1 * g;
      v[i] = 0.999 * v[i] + 0.001 * g * g;
      const mHat = m[i] / (1 - Math.pow(0.9, t));
      const vHat = v[i] / (1 - Math.pow(0.999, t));
      p[i] = p[i] - (lr * mHat) / (Math.sqrt(vHat) + 1e-8);
    }
    trajectory.push([...p]);
  }
  return trajectory;
}

function runAdam(opt: Optimizer): number[][] {
  const param: Param = { name: 'w', data: Float32Array.from(P0) };
  const trajectory: number[][] = [];
  for (let t = 0; t < 3; t++) {
    opt.lr = LRS[t];
    opt.step([param], [Float32Array.from(GRADS[t])]);
    trajectory.push([...param.data]);
  }
  return trajectory;
}

test('Adam matches the hand computation for 3 steps', () => {
  // Step 1 with bias correction: m̂ = g, v̂ = g², so each element moves by lr·g/(|g|+1e-8) ≈ ±lr,
  // and a zero gradient leaves its element alone: [0.5, -1, 2] → [0.4, -0.9, 2].
  // Independently computed (Python, double), steps 1-3:
  const expected = [
    [0.40000000499999966, -0.9000000024999999, 2.0],
    [0.30678204701536566, -0.8910675020121356, 2.074413680252488],
    [0.3108808867182002, -0.8997332309200636, 2.085845698686409],
  ];
  const hand = adamByHand(0, false);
  const got = runAdam(new Adam({ lr: 0.1 }));
  for (let t = 0; t < 3; t++) {
    assertClose(hand[t], expected[t], 1e-12, `hand step ${t + 1}`);
    assertClose(got[t], hand[t], 1e-6, `Adam step ${t + 1}`);
  }
});

test('Adam with weight decay adds L2 to the gradient', () => {
  // Step 1: g = [0.2 + 0.05, -0.4 - 0.1, 0 + 0.2], so the third element now moves by ≈ lr too.
  const expected = [
    [0.40000000399999974, -0.9000000019999999, 1.9000000049999997],
    [0.3051713839635993, -0.8670541169066928, 1.926225934974955],
    [0.30037680375251724, -0.8611276086519166, 1.9081710319837124],
  ];
  const hand = adamByHand(0.1, false);
  const got = runAdam(new Adam({ lr: 0.1, weightDecay: 0.1 }));
  for (let t = 0; t < 3; t++) {
    assertClose(hand[t], expected[t], 1e-12, `hand step ${t + 1}`);
    assertClose(got[t], hand[t], 1e-6, `Adam+L2 step ${t + 1}`);
  }
});

test('AdamW decays the parameter before the Adam update', () => {
  // Step 1: p ← p·(1 − 0.1·0.1) = [0.495, -0.99, 1.98], then the plain Adam move of ≈ ±0.1.
  const expected = [
    [0.39500000499999965, -0.8900000024999999, 1.98],
    [0.29783204696536564, -0.8721675019871356, 2.034613680252488],
    [0.30044172643337336, -0.876472393385128, 2.0358726302851466],
  ];
  const hand = adamByHand(0.1, true);
  const got = runAdam(new AdamW({ lr: 0.1, weightDecay: 0.1 }));
  for (let t = 0; t < 3; t++) {
    assertClose(hand[t], expected[t], 1e-12, `hand step ${t + 1}`);
    assertClose(got[t], hand[t], 1e-6, `AdamW step ${t + 1}`);
  }
  assert.equal(new AdamW({ lr: 0.1 }).weightDecay, 0.01);
});

test('SGD with momentum and weight decay matches the hand computation', () => {
  // lr 0.1, momentum 0.9, wd 0.01, p = [1, -2].
  // step 1: g = [0.5 + 0.01, -1 - 0.02] = [0.51, -1.02]; b = g; p = [1 - 0.051, -2 + 0.102] = [0.949, -1.898]
  // step 2: g = [0.25 + 0.00949, 0.5 - 0.01898] = [0.25949, 0.48102]
  //         b = [0.9·0.51 + 0.25949, 0.9·(-1.02) + 0.48102] = [0.71849, -0.43698]
  //         p = [0.949 - 0.071849, -1.898 + 0.043698] = [0.877151, -1.854302]
  // step 3: g = [-1 + 0.00877151, 0.75 - 0.01854302] = [-0.99122849, 0.73145698]
  //         b = [0.9·0.71849 - 0.99122849, 0.9·(-0.43698) + 0.73145698] = [-0.34458749, 0.33817498]
  //         p = [0.877151 + 0.034458749, -1.854302 - 0.033817498] = [0.911609749, -1.888119498]
  const expected = [
    [0.949, -1.898],
    [0.877151, -1.854302],
    [0.911609749, -1.888119498],
  ];
  const grads = [
    [0.5, -1.0],
    [0.25, 0.5],
    [-1.0, 0.75],
  ];
  const opt = new Sgd({ lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
  const param: Param = { name: 'w', data: Float32Array.from([1, -2]) };
  for (let t = 0; t < 3; t++) {
    opt.step([param], [Float32Array.from(grads[t])]);
    assertClose(param.data, expected[t], 1e-6, `SGD step ${t + 1}`);
  }
  assertClose(opt.state().tensors['momentum_buffer:w'], [-0.34458749, 0.33817498], 1e-6, 'momentum buffer');
  // Plain SGD keeps no state tensors.
  const plain = new Sgd({ lr: 0.5 });
  const q: Param = { name: 'q', data: Float32Array.from([1, 2]) };
  plain.step([q], [Float32Array.from([0.5, -1])]);
  assert.deepEqual([...q.data], [0.75, 2.5]);
  assert.deepEqual(Object.keys(plain.state().tensors), []);
});

const makers: Record<string, () => Optimizer> = {
  sgd: () => new Sgd({ lr: 0.1, momentum: 0.9, weightDecay: 0.01 }),
  adam: () => new Adam({ lr: 0.05, weightDecay: 0.01 }),
  adamw: () => new AdamW({ lr: 0.05 }),
};

for (const [kind, make] of Object.entries(makers)) {
  test(`${kind}: stepRows equals dense steps on each row as its own parameter`, () => {
    const W = 3;
    const numRows = 5;
    const rng = new Rng(7);
    const init = rng.fillNormal(new Float32Array(numRows * W));
    const table: Param = { name: 'emb', data: init.slice() };
    const rowParams: Param[] = Array.from({ length: numRows }, (_, r) => ({ name: `row${r}`, data: init.slice(r * W, (r + 1) * W) }));
    const sparse = make();
    const dense = make();
    // Row r of a state tensor: row step counts have one value per row, moments rowWidth.
    const rowOf = (st: OptimizerState, key: string, r: number) => {
      const width = key.startsWith('row_step:') ? 1 : W;
      return st.tensors[key].subarray(r * width, (r + 1) * width);
    };
    const row = (a: Float32Array, r: number) => a.subarray(r * W, (r + 1) * W);
    const schedule: number[][] = [[3, 0], [0], [4, 3, 1], [1, 0]];
    let before = sparse.state();
    let beforeData = table.data.slice();
    schedule.forEach((rows, s) => {
      const grads = rng.fillNormal(new Float32Array(rows.length * W));
      sparse.lr = dense.lr = 0.05 / (s + 1);
      sparse.stepRows(table, W, Int32Array.from(rows), grads);
      dense.step(
        rows.map((r) => rowParams[r]),
        rows.map((_, i) => grads.slice(i * W, (i + 1) * W)),
      );
      const after = sparse.state();
      const denseState = dense.state();
      const keys = Object.keys(after.tensors);
      for (let r = 0; r < numRows; r++) {
        if (rows.includes(r)) {
          assertBits(row(table.data, r), rowParams[r].data, `step ${s} row ${r}`);
          for (const key of keys.filter((k) => !k.startsWith('row_step:'))) {
            const slot = key.slice(0, key.indexOf(':'));
            assertBits(rowOf(after, key, r), denseState.tensors[`${slot}:row${r}`], `step ${s} row ${r} ${slot}`);
          }
          const meta = denseState.params[`row${r}`];
          assert.ok(meta.mode === 'dense');
          assert.equal(after.tensors['row_step:emb'][r], meta.step);
        } else {
          assertBits(row(table.data, r), row(beforeData, r), `step ${s} untouched row ${r}`);
          for (const key of keys) {
            if (before.tensors[key]) assertBits(rowOf(after, key, r), rowOf(before, key, r), `step ${s} untouched row ${r} ${key}`);
          }
        }
      }
      before = after;
      beforeData = table.data.slice();
    });
    // Row 2 never appeared: still its initial values, zero moments, zero steps.
    assertBits(row(table.data, 2), row(init, 2), 'row 2');
    for (const key of Object.keys(before.tensors)) {
      assert.ok(rowOf(before, key, 2).every((x) => x === 0), `row 2 ${key}`);
    }
  });

  test(`${kind}: save, load, continue is bit-identical to an uninterrupted run`, () => {
    const rng = new Rng(11);
    const w0 = rng.fillNormal(new Float32Array(4));
    const e0 = rng.fillNormal(new Float32Array(8));
    const steps = Array.from({ length: 6 }, (_, s) => ({
      lr: 0.1 * (1 - s / 6),
      gw: rng.fillNormal(new Float32Array(4)),
      rows: s % 2 === 0 ? [1, 3] : [0, 1],
      ge: rng.fillNormal(new Float32Array(4)),
    }));
    const run = (opt: Optimizer, w: Param, e: Param, from: number, to: number) => {
      for (let s = from; s < to; s++) {
        opt.lr = steps[s].lr;
        opt.step([w], [steps[s].gw]);
        opt.stepRows(e, 2, steps[s].rows, steps[s].ge);
      }
    };
    const wA: Param = { name: 'w', data: w0.slice() };
    const eA: Param = { name: 'e', data: e0.slice() };
    const a = make();
    run(a, wA, eA, 0, 6);

    const wB: Param = { name: 'w', data: w0.slice() };
    const eB: Param = { name: 'e', data: e0.slice() };
    const b = make();
    run(b, wB, eB, 0, 3);
    const snapshot = b.state();
    const wC: Param = { name: 'w', data: wB.data.slice() };
    const eC: Param = { name: 'e', data: eB.data.slice() };
    run(b, wB, eB, 3, 4); // the snapshot is a copy: training on must not change it
    const { tensors, ...meta } = snapshot;
    const restored: OptimizerState = { ...JSON.parse(JSON.stringify(meta)), tensors };
    const c = optimizerFromState(restored);
    assert.equal(c.kind, kind);
    for (const t of Object.values(tensors)) t.fill(NaN); // loadState copied them
    run(c, wC, eC, 3, 6);
    assertBits(wC.data, wA.data, 'dense param');
    assertBits(eC.data, eA.data, 'table');
    const sa = a.state();
    const sc = c.state();
    assert.deepEqual(sc.params, sa.params);
    assert.deepEqual(Object.keys(sc.tensors).sort(), Object.keys(sa.tensors).sort());
    for (const k of Object.keys(sa.tensors)) assertBits(sc.tensors[k], sa.tensors[k], k);
  });
}

test('loadState rejects a different kind or different hyperparameters', () => {
  const adam = new Adam({ lr: 0.1 });
  adam.step([{ name: 'w', data: new Float32Array(2) }], [Float32Array.from([1, 2])]);
  const s = adam.state();
  assert.throws(() => new AdamW({ lr: 0.1 }).loadState(s), /adam/);
  assert.throws(() => new Adam({ lr: 0.1, beta2: 0.99 }).loadState(s), /beta2/);
  const other = new Adam({ lr: 0.5 });
  other.loadState(s);
  assert.equal(other.lr, 0.1);
  assert.throws(() => other.loadState({ ...s, tensors: { ...s.tensors, 'exp_avg:x': new Float32Array(1) } }), /unexpected/);
});

test('stepRows rejects duplicate or out-of-range rows without changing anything', () => {
  const opt = new Adam({ lr: 0.1 });
  const table: Param = { name: 'emb', data: Float32Array.from([1, 2, 3, 4, 5, 6]) };
  assert.throws(() => opt.stepRows(table, 2, [0, 2, 0], new Float32Array(6)), /duplicate row 0/);
  assert.throws(() => opt.stepRows(table, 2, Int32Array.from([1, 3]), new Float32Array(4)), /out of range/);
  assert.throws(() => opt.stepRows(table, 2, [0.5], new Float32Array(2)), /out of range/);
  assert.throws(() => opt.stepRows(table, 4, [0], new Float32Array(4)), /row width/);
  assert.throws(() => opt.stepRows(table, 2, [0, 1], new Float32Array(2)), /need 4 grads/);
  assert.deepEqual([...table.data], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(opt.state().params, {});
  // A table is updated either sparsely or densely, never both.
  opt.stepRows(table, 2, [1], Float32Array.from([1, 1]));
  assert.throws(() => opt.step([table], [new Float32Array(6)]), /stepRows/);
  assert.throws(() => opt.stepRows(table, 3, [1], new Float32Array(3)), /state is 3 rows × 2/);
});

test('step rejects mismatched grads and repeated names', () => {
  const opt = new Sgd({ lr: 0.1 });
  const w: Param = { name: 'w', data: new Float32Array(2) };
  assert.throws(() => opt.step([w], []), /1 params but 0 grads/);
  assert.throws(() => opt.step([w], [new Float32Array(3)]), /3 elements/);
  assert.throws(() => opt.step([w, w], [new Float32Array(2), new Float32Array(2)]), /twice/);
});

test('clipGradNorm scales by maxNorm / (norm + 1e-6) and returns the norm before clipping', () => {
  // ‖[3, 4, 12]‖ = 13
  const a = Float32Array.from([3, 4]);
  const b = Float32Array.from([12]);
  assert.equal(clipGradNorm([a, b], 6.5), 13);
  const coef = 6.5 / (13 + 1e-6);
  assertClose([...a, ...b], [3 * coef, 4 * coef, 12 * coef], 1e-6, 'clipped');
  // Below the limit nothing changes, bit for bit.
  const c = Float32Array.from([0.1, -0.2]);
  const copy = c.slice();
  assert.equal(clipGradNorm([c], 1), Math.hypot(0.10000000149011612, -0.20000000298023224));
  assertBits(c, copy, 'unclipped');
  assert.equal(clipGradNorm([], 1), 0);
  // The 1e-6 matters at small norms: ‖[3e-6, 4e-6]‖ = 5e-6, coefficient 1e-6 / 6e-6 = 1/6.
  const tiny = Float32Array.from([3e-6, 4e-6]);
  clipGradNorm([tiny], 1e-6);
  assertClose(tiny, [0.5e-6, 4e-6 / 6], 1e-12, 'tiny');
});
