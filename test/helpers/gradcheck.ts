/**
 * Gradient checking: the engine's symbolic gradient (run in ORT) against central finite differences
 * of the forward graph (also run in ORT), on fresh random inputs. The checked scalar is
 * sum(output * R) with a random R, so every output element contributes with its own weight.
 */
import assert from 'node:assert/strict';
import { Graph, gradients, ops, Rng, type Dim, type HostTensor, type Runtime, type Tensor } from '../../src/engine/index.js';

export type InputSpec =
  | { shape: number[]; dims?: Dim[]; init?: 'normal' | 'positive' | 'awayFromZero'; scale?: number }
  | { int64: number[]; shape: number[]; dims?: Dim[] };

export interface GradCheck {
  inputs: Record<string, InputSpec>;
  build: (inputs: Record<string, Tensor>, g: Graph) => Tensor;
  seed?: number;
  eps?: number;
  atol?: number;
  rtol?: number;
}

function makeData(spec: InputSpec, rng: Rng): HostTensor {
  if ('int64' in spec) return { dtype: 'int64', shape: spec.shape, data: BigInt64Array.from(spec.int64, BigInt) };
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  const scale = spec.scale ?? 1;
  for (let i = 0; i < n; i++) {
    const z = rng.normal();
    data[i] = scale * (spec.init === 'positive' ? 0.5 + Math.abs(z) : spec.init === 'awayFromZero' ? Math.sign(z || 1) * (0.3 + Math.abs(z)) : z);
  }
  return { dtype: 'float32', shape: spec.shape, data };
}

function buildGraph(check: GradCheck, withGrads: boolean): { g: Graph; floatNames: string[] } {
  const g = new Graph(withGrads ? 'gradcheck' : 'forward');
  const inputs: Record<string, Tensor> = {};
  const floatNames: string[] = [];
  for (const [name, spec] of Object.entries(check.inputs)) {
    const isInt = 'int64' in spec;
    inputs[name] = g.input(name, isInt ? 'int64' : 'float32', spec.dims ?? spec.shape);
    if (!isInt) floatNames.push(name);
  }
  const out = check.build(inputs, g);
  const weights = g.input('__R', 'float32', out.shape.map((d, i) => (typeof d === 'number' ? d : `r${i}`)));
  const loss = ops.sumAll(ops.mul(out, weights));
  g.output(loss, 'loss');
  if (withGrads) {
    const grads = gradients(loss, floatNames.map((n) => inputs[n]));
    grads.forEach((t, i) => g.output(t, `grad_${floatNames[i]}`));
  }
  return { g, floatNames };
}

/** Run the check; throws an assertion error naming the input and element that disagree. */
export async function checkGradients(rt: Runtime, check: GradCheck): Promise<void> {
  const rng = new Rng(check.seed ?? 1);
  const eps = check.eps ?? 3e-3;
  const atol = check.atol ?? 3e-3;
  const rtol = check.rtol ?? 3e-2;
  const feeds: Record<string, HostTensor> = {};
  for (const [name, spec] of Object.entries(check.inputs)) feeds[name] = makeData(spec, rng);

  const fwd = buildGraph(check, false);
  const full = buildGraph(check, true);
  const fwdSession = await rt.session(fwd.g);
  const fullSession = await rt.session(full.g);

  // The output may have symbolic dimensions: a shape-only graph gives its run-time shape, for R.
  const probe = new Graph('probe');
  const probeInputs: Record<string, Tensor> = {};
  for (const [name, spec] of Object.entries(check.inputs)) probeInputs[name] = probe.input(name, 'int64' in spec ? 'int64' : 'float32', spec.dims ?? spec.shape);
  probe.output(ops.shapeOf(check.build(probeInputs, probe)), 'shape');
  const shapeOut = await (await rt.session(probe)).run(feeds);
  const outShape = Array.from(shapeOut.shape.data as BigInt64Array, Number);
  const rCount = outShape.reduce((a, b) => a * b, 1);
  feeds.__R = { dtype: 'float32', shape: outShape, data: rng.fillNormal(new Float32Array(rCount)) };

  const analytic = await fullSession.run(feeds);
  const lossAt = async (name: string, i: number, delta: number): Promise<number> => {
    const data = (feeds[name].data as Float32Array).slice();
    data[i] += delta;
    const out = await fwdSession.run({ ...feeds, [name]: { ...feeds[name], data } });
    return (out.loss.data as Float32Array)[0];
  };
  for (const name of full.floatNames) {
    const grad = analytic[`grad_${name}`].data as Float32Array;
    const n = feeds[name].data.length;
    assert.equal(grad.length, n, `gradient of ${name} has ${grad.length} elements, input has ${n}`);
    for (let i = 0; i < n; i++) {
      const numeric = ((await lossAt(name, i, eps)) - (await lossAt(name, i, -eps))) / (2 * eps);
      const err = Math.abs(grad[i] - numeric);
      assert.ok(err <= atol + rtol * Math.abs(numeric), `d loss / d ${name}[${i}]: autodiff ${grad[i]} vs finite difference ${numeric}`);
    }
  }
}
