/**
 * The scoring graph evaluated in this thread, in plain TypeScript. A serving request scores about a
 * hundred rows through a network of a few thousand weights: microseconds of arithmetic, much less
 * than a message round trip to the onnxruntime worker. The graph is the very one ORT runs (the same
 * nodes, feeds and weights), so the two agree to float rounding.
 *
 * Only the ops the CTR networks emit are implemented; a graph with another op is refused when the
 * evaluator is made, not when it runs. Values are float32 after every node, as in ORT; dot products
 * accumulate in double.
 */
import type { Graph, HostTensor } from '../engine/index.js';

interface Value {
  shape: number[];
  data: Float32Array | Int32Array;
}

/** One node, bound to the value slots it reads and writes. */
type Step = (values: Value[]) => void;

export class InProcessGraph {
  private readonly steps: Step[] = [];
  private readonly slots = new Map<string, number>();
  private readonly inputs: { name: string; slot: number }[] = [];
  private readonly constants: { slot: number; value: Value }[] = [];
  private readonly output: number;

  /** `outputName` must be one of the graph's outputs. */
  constructor(graph: Graph, outputName: string) {
    const slot = (name: string) => {
      let s = this.slots.get(name);
      if (s === undefined) this.slots.set(name, (s = this.slots.size));
      return s;
    };
    for (const t of graph.inputs) this.inputs.push({ name: t.name, slot: slot(t.name) });
    const constantValues = new Map<string, number[]>();
    for (const { tensor, data } of graph.initializers) {
      const numbers = data instanceof BigInt64Array ? Array.from(data, Number) : Array.from(data);
      constantValues.set(tensor.name, numbers);
      const value = { shape: tensor.shape as number[], data: data instanceof Float32Array ? data : Int32Array.from(numbers) };
      this.constants.push({ slot: slot(tensor.name), value });
    }
    /** The integer list a shape-like input (axes, target shape) holds; those are graph constants here. */
    const constantInts = (name: string, op: string): number[] => {
      const values = constantValues.get(name);
      if (!values) throw new Error(`graph ${graph.name}: ${op} needs a constant for ${name}, which is computed at run time; score it with ORT`);
      return values;
    };
    for (const node of graph.nodes) {
      const ins = node.inputs.map((t) => slot(t.name));
      const out = slot(node.outputs[0].name);
      this.steps.push(bindStep(node.op, node.attrs, ins, out, (i) => constantInts(node.inputs[i].name, node.op), graph.name));
    }
    const target = graph.outputs.find((t) => t.name === outputName);
    if (!target) throw new Error(`graph ${graph.name} has no output "${outputName}"`);
    this.output = slot(target.name);
  }

  /** The output for `feeds` (every graph input, as for `Session.run`). */
  run(feeds: Record<string, HostTensor>): Float32Array {
    const values = new Array<Value>(this.slots.size);
    for (const { slot, value } of this.constants) values[slot] = value;
    for (const { name, slot } of this.inputs) {
      const feed = feeds[name];
      if (!feed) throw new Error(`no feed for graph input "${name}"`);
      if (!(feed.data instanceof Float32Array || feed.data instanceof Int32Array)) throw new Error(`graph input "${name}": ${feed.dtype} is not evaluated in process`);
      values[slot] = { shape: feed.shape, data: feed.data };
    }
    for (const step of this.steps) step(values);
    return values[this.output].data as Float32Array;
  }
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function bindStep(op: string, attrs: Graph['nodes'][number]['attrs'], ins: number[], out: number, ints: (input: number) => number[], graphName: string): Step {
  switch (op) {
    case 'Identity':
      return (v) => (v[out] = v[ins[0]]);
    case 'Relu':
      return (v) => {
        const x = v[ins[0]];
        v[out] = { shape: x.shape, data: (x.data as Float32Array).map((a) => (a > 0 ? a : 0)) };
      };
    case 'Add':
      return binary(ins, out, (a, b) => a + b);
    case 'Sub':
      return binary(ins, out, (a, b) => a - b);
    case 'Mul':
      return binary(ins, out, (a, b) => a * b);
    case 'MatMul':
      return (v) => (v[out] = matmul(v[ins[0]], v[ins[1]]));
    case 'Gather':
      if (attrs.axis !== 0) break;
      return (v) => (v[out] = gatherRows(v[ins[0]], v[ins[1]]));
    case 'Concat': {
      const axis = attrs.axis as number;
      return (v) => (v[out] = concat(ins.map((i) => v[i]), axis));
    }
    case 'ReduceSum': {
      const axes = ints(1);
      const keepDims = attrs.keepdims !== 0;
      return (v) => (v[out] = reduceSum(v[ins[0]], axes, keepDims));
    }
    case 'Reshape': {
      const target = ints(1);
      return (v) => {
        const x = v[ins[0]];
        const shape = target.map((d, i) => (d === 0 ? x.shape[i] : d));
        const infer = shape.indexOf(-1);
        if (infer >= 0) shape[infer] = size(x.shape) / -size(shape);
        v[out] = { shape, data: x.data };
      };
    }
    case 'Unsqueeze': {
      const axes = ints(1);
      return (v) => {
        const x = v[ins[0]];
        const shape = [...x.shape];
        for (const a of [...axes].sort((p, q) => p - q)) shape.splice(a < 0 ? a + shape.length + 1 : a, 0, 1);
        v[out] = { shape, data: x.data };
      };
    }
    case 'Squeeze': {
      const axes = ints(1);
      return (v) => {
        const x = v[ins[0]];
        const drop = axes.map((a) => (a < 0 ? a + x.shape.length : a));
        v[out] = { shape: x.shape.filter((_, i) => !drop.includes(i)), data: x.data };
      };
    }
  }
  throw new Error(`graph ${graphName}: op ${op}${op === 'Gather' ? ` on axis ${String(attrs.axis)}` : ''} is not evaluated in process; score it with ORT`);
}

/** Element-wise with numpy broadcasting. */
function binary(ins: number[], out: number, f: (a: number, b: number) => number): Step {
  return (v) => {
    const x = v[ins[0]];
    const y = v[ins[1]];
    const rank = Math.max(x.shape.length, y.shape.length);
    const xs = padShape(x.shape, rank);
    const ys = padShape(y.shape, rank);
    const shape = xs.map((d, i) => {
      if (d !== ys[i] && d !== 1 && ys[i] !== 1) throw new Error(`cannot broadcast [${x.shape}] with [${y.shape}]`);
      return Math.max(d, ys[i]);
    });
    const n = size(shape);
    const result = new Float32Array(n);
    const a = x.data;
    const b = y.data;
    if (a.length === n && b.length === n) {
      for (let i = 0; i < n; i++) result[i] = f(a[i], b[i]);
    } else {
      // Strides of 0 along broadcast axes; walk the output in row-major order.
      const xStride = broadcastStrides(xs, shape);
      const yStride = broadcastStrides(ys, shape);
      const index = new Array<number>(rank).fill(0);
      let xi = 0;
      let yi = 0;
      for (let i = 0; i < n; i++) {
        result[i] = f(a[xi], b[yi]);
        for (let d = rank - 1; d >= 0; d--) {
          xi += xStride[d];
          yi += yStride[d];
          if (++index[d] < shape[d]) break;
          xi -= xStride[d] * shape[d];
          yi -= yStride[d] * shape[d];
          index[d] = 0;
        }
      }
    }
    v[out] = { shape, data: result };
  };
}

function padShape(shape: readonly number[], rank: number): number[] {
  return [...new Array<number>(rank - shape.length).fill(1), ...shape];
}

function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = shape[d] === 1 && outShape[d] !== 1 ? 0 : stride;
    stride *= shape[d];
  }
  return strides;
}

/** [M, K] x [K, N]. */
function matmul(x: Value, w: Value): Value {
  if (x.shape.length !== 2 || w.shape.length !== 2) throw new Error(`MatMul in process takes two matrices, not [${x.shape}] x [${w.shape}]`);
  const [m, k] = x.shape;
  const n = w.shape[1];
  const a = x.data;
  const b = w.data;
  const result = new Float32Array(m * n);
  const row = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    row.fill(0);
    for (let p = 0; p < k; p++) {
      const s = a[i * k + p];
      if (s === 0) continue;
      const offset = p * n;
      for (let j = 0; j < n; j++) row[j] += s * b[offset + j];
    }
    result.set(row, i * n);
  }
  return { shape: [m, n], data: result };
}

/** Rows of a [U, W] table at integer indices of any shape: [...indices, W]. */
function gatherRows(table: Value, indices: Value): Value {
  const width = size(table.shape.slice(1));
  const idx = indices.data;
  const result = new Float32Array(idx.length * width);
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i];
    if (r < 0 || r >= table.shape[0]) throw new Error(`Gather: index ${r} outside [0, ${table.shape[0]})`);
    result.set((table.data as Float32Array).subarray(r * width, (r + 1) * width), i * width);
  }
  return { shape: [...indices.shape, ...table.shape.slice(1)], data: result };
}

function concat(parts: Value[], axis: number): Value {
  const outer = size(parts[0].shape.slice(0, axis));
  const inner = parts.map((p) => size(p.shape.slice(axis)));
  const total = inner.reduce((a, b) => a + b, 0);
  const result = new Float32Array(outer * total);
  for (let o = 0; o < outer; o++) {
    let offset = o * total;
    parts.forEach((p, j) => {
      result.set((p.data as Float32Array).subarray(o * inner[j], (o + 1) * inner[j]), offset);
      offset += inner[j];
    });
  }
  const shape = [...parts[0].shape];
  shape[axis] = parts.reduce((a, p) => a + p.shape[axis], 0);
  return { shape, data: result };
}

/** Sum over `axes` (one axis at a time; the networks reduce one). */
function reduceSum(x: Value, axes: readonly number[], keepDims: boolean): Value {
  let current = x;
  for (const a of [...axes].map((a) => (a < 0 ? a + x.shape.length : a)).sort((p, q) => q - p)) {
    const outer = size(current.shape.slice(0, a));
    const count = current.shape[a];
    const inner = size(current.shape.slice(a + 1));
    const result = new Float32Array(outer * inner);
    const data = current.data;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let sum = 0;
        for (let c = 0; c < count; c++) sum += data[(o * count + c) * inner + i];
        result[o * inner + i] = sum;
      }
    }
    const shape = [...current.shape];
    shape[a] = 1;
    current = { shape, data: result };
  }
  const reduced = new Set(axes.map((a) => (a < 0 ? a + x.shape.length : a)));
  return keepDims ? current : { shape: current.shape.filter((_, i) => !reduced.has(i)), data: current.data };
}
