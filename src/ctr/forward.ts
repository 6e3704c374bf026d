/**
 * A scoring graph evaluated in this thread, in plain TypeScript, with no message round trip to the
 * onnxruntime worker (`ServingModel.logitsInProcess`). The graph is the very one ORT runs (the same
 * nodes, feeds and weights), so the two agree to float rounding.
 *
 * Only the ops the CTR networks emit are implemented; a graph with another op is refused when the
 * evaluator is made, not when it runs. Values are float32, as in ORT.
 */
import type { Graph, HostTensor } from '../engine/index.js';

interface Value {
  shape: number[];
  data: Float32Array | Int32Array;
}

/** One node, bound to the value slots it reads and writes. */
type Step = (values: Value[]) => void;

/**
 * A node's output buffers, kept from one run to the next: a run allocates nothing while the batch
 * size stays the same. `which` tells a node's buffers apart (its output, broadcast temporaries).
 */
type Scratch = (n: number, which?: number) => Float32Array;

function scratch(): Scratch {
  const buffers: Float32Array[] = [];
  return (n, which = 0) => {
    const buffer = buffers[which];
    return buffer?.length === n ? buffer : (buffers[which] = new Float32Array(n));
  };
}

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
    /** Integer constants as numbers (axes, shapes); float constants (weights) are used as they are. */
    const constantValues = new Map<string, number[]>();
    for (const { tensor, data } of graph.initializers) {
      let values: Float32Array | Int32Array;
      if (data instanceof Float32Array) values = data;
      else {
        const numbers = data instanceof BigInt64Array ? Array.from(data, Number) : Array.from(data);
        constantValues.set(tensor.name, numbers);
        values = Int32Array.from(numbers);
      }
      this.constants.push({ slot: slot(tensor.name), value: { shape: tensor.shape as number[], data: values } });
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
      this.steps.push(bindStep(node.op, node.attrs, ins, out, (i) => constantInts(node.inputs[i].name, node.op), scratch(), graph.name));
    }
    const target = graph.outputs.find((t) => t.name === outputName);
    if (!target) throw new Error(`graph ${graph.name} has no output "${outputName}"`);
    this.output = slot(target.name);
  }

  /** The output for `feeds` (every graph input, as for `Session.run`), in a new array. */
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
    return Float32Array.from(values[this.output].data);
  }
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function bindStep(op: string, attrs: Graph['nodes'][number]['attrs'], ins: number[], out: number, ints: (input: number) => number[], alloc: Scratch, graphName: string): Step {
  switch (op) {
    case 'Identity':
      return (v) => (v[out] = v[ins[0]]);
    case 'Relu':
      return (v) => {
        const x = v[ins[0]];
        const result = alloc(x.data.length);
        for (let i = 0; i < result.length; i++) result[i] = x.data[i] > 0 ? x.data[i] : 0;
        v[out] = { shape: x.shape, data: result };
      };
    case 'Add':
    case 'Sub':
    case 'Mul':
      return binary(op, ins, out, alloc);
    case 'MatMul':
      return (v) => (v[out] = matmul(v[ins[0]], v[ins[1]], alloc));
    case 'Gather':
      if (attrs.axis !== 0) break;
      return (v) => (v[out] = gatherRows(v[ins[0]], v[ins[1]], alloc));
    case 'Concat': {
      const axis = attrs.axis as number;
      return (v) => (v[out] = concat(ins.map((i) => v[i]), axis, alloc));
    }
    case 'ReduceSum': {
      const axes = ints(1);
      const keepDims = attrs.keepdims !== 0;
      return (v) => (v[out] = reduceSum(v[ins[0]], axes, keepDims, alloc));
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

/**
 * Element-wise with numpy broadcasting: each operand is first expanded to the output's size (a
 * bias row tiled, a column repeated), then one plain loop per op does the arithmetic.
 */
function binary(op: 'Add' | 'Sub' | 'Mul', ins: number[], out: number, alloc: Scratch): Step {
  return (v) => {
    const x = v[ins[0]];
    const y = v[ins[1]];
    const rank = Math.max(x.shape.length, y.shape.length);
    const xs = padShape(x.shape, rank);
    const ys = padShape(y.shape, rank);
    const shape = xs.map((d, i) => {
      if (d !== ys[i] && d !== 1 && ys[i] !== 1) throw new Error(`${op}: cannot broadcast [${x.shape}] with [${y.shape}]`);
      return Math.max(d, ys[i]);
    });
    const n = size(shape);
    const a = x.data.length === n ? x.data : expand(x.data, xs, shape, alloc(n, 1));
    const b = y.data.length === n ? y.data : expand(y.data, ys, shape, alloc(n, 2));
    const result = alloc(n);
    if (op === 'Add') for (let i = 0; i < n; i++) result[i] = a[i] + b[i];
    else if (op === 'Sub') for (let i = 0; i < n; i++) result[i] = a[i] - b[i];
    else for (let i = 0; i < n; i++) result[i] = a[i] * b[i];
    v[out] = { shape, data: result };
  };
}

/** `data` of (padded) shape `from` broadcast to `to`, written into `result`. */
function expand(data: Float32Array | Int32Array, from: readonly number[], to: readonly number[], result: Float32Array): Float32Array {
  const n = result.length;
  if (data.length === 1) return result.fill(data[0]);
  // The operand's shape is 1s then the output's trailing dims (a bias row): tile it.
  const lead = from.findIndex((d) => d !== 1);
  if (from.slice(lead).every((d, i) => d === to[lead + i])) {
    for (let o = 0; o < n; o += data.length) result.set(data, o);
    return result;
  }
  // The output's leading dims then 1s (a column): repeat each value.
  const trail = from.length - [...from].reverse().findIndex((d) => d !== 1);
  if (from.slice(0, trail).every((d, i) => d === to[i])) {
    const repeat = n / data.length;
    for (let i = 0; i < data.length; i++) result.fill(data[i], i * repeat, (i + 1) * repeat);
    return result;
  }
  // Anything else: strides of 0 along broadcast axes, walking the output in row-major order.
  const strides = broadcastStrides(from, to);
  const index = new Array<number>(to.length).fill(0);
  let at = 0;
  for (let i = 0; i < n; i++) {
    result[i] = data[at];
    for (let d = to.length - 1; d >= 0; d--) {
      at += strides[d];
      if (++index[d] < to[d]) break;
      at -= strides[d] * to[d];
      index[d] = 0;
    }
  }
  return result;
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

/** [M, K] x [K, N], accumulated in float32 as ORT's kernels do. */
function matmul(x: Value, w: Value, alloc: Scratch): Value {
  if (x.shape.length !== 2 || w.shape.length !== 2) throw new Error(`MatMul in process takes two matrices, not [${x.shape}] x [${w.shape}]`);
  const [m, k] = x.shape;
  const n = w.shape[1];
  const a = x.data;
  const b = w.data;
  const result = alloc(m * n).fill(0);
  for (let i = 0; i < m; i++) {
    const row = i * n;
    for (let p = 0; p < k; p++) {
      const s = a[i * k + p];
      if (s === 0) continue;
      const offset = p * n;
      for (let j = 0; j < n; j++) result[row + j] += s * b[offset + j];
    }
  }
  return { shape: [m, n], data: result };
}

/** Rows of a [U, W] table at integer indices of any shape: [...indices, W]. */
function gatherRows(table: Value, indices: Value, alloc: Scratch): Value {
  const width = size(table.shape.slice(1));
  const idx = indices.data;
  const result = alloc(idx.length * width);
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i];
    if (r < 0 || r >= table.shape[0]) throw new Error(`Gather: index ${r} outside [0, ${table.shape[0]})`);
    result.set((table.data as Float32Array).subarray(r * width, (r + 1) * width), i * width);
  }
  return { shape: [...indices.shape, ...table.shape.slice(1)], data: result };
}

function concat(parts: Value[], axis: number, alloc: Scratch): Value {
  const outer = size(parts[0].shape.slice(0, axis));
  const inner = parts.map((p) => size(p.shape.slice(axis)));
  const total = inner.reduce((a, b) => a + b, 0);
  const result = alloc(outer * total);
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
function reduceSum(x: Value, axes: readonly number[], keepDims: boolean, alloc: Scratch): Value {
  let current = x;
  const order = [...axes].map((a) => (a < 0 ? a + x.shape.length : a)).sort((p, q) => q - p);
  for (const [step, a] of order.entries()) {
    const outer = size(current.shape.slice(0, a));
    const count = current.shape[a];
    const inner = size(current.shape.slice(a + 1));
    const result = alloc(outer * inner, step);
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
