/**
 * Op builders over the graph IR. Each function adds one ONNX node (opset 18) and infers its output
 * shape, so shape errors surface when the graph is built, naming the op and the shapes.
 */
import {
  type Dim,
  type DType,
  type Graph,
  type Shape,
  type Tensor,
  divideDims,
  multiplyDims,
  sameDim,
  shapeToString,
} from './graph.js';

export type TensorLike = Tensor | number;

export const ONNX_DTYPE: Record<DType, number> = { float32: 1, int32: 6, int64: 7, bool: 9 };

function fail(op: string, message: string): never {
  throw new Error(`${op}: ${message}`);
}

function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(op, `axis ${axis} out of range for rank ${rank}`);
  return a;
}

function single(g: Graph, op: string, inputs: Tensor[], dtype: DType, shape: Shape, attrs = {}): Tensor {
  return g.addNode(op, inputs, [{ dtype, shape }], attrs)[0];
}

// ---------- constants ----------

/** A scalar constant, shared across the graph. */
export function scalar(g: Graph, value: number, dtype: DType = 'float32'): Tensor {
  const key = `scalar:${dtype}:${Object.is(value, -0) ? '-0' : value}`;
  let t = g.memo.get(key);
  if (!t) {
    const data =
      dtype === 'float32' ? Float32Array.of(value)
      : dtype === 'int64' ? BigInt64Array.of(BigInt(value))
      : dtype === 'int32' ? Int32Array.of(value)
      : Uint8Array.of(value ? 1 : 0);
    t = g.constant(data, []);
    g.memo.set(key, t);
  }
  return t;
}

/** A 1-D int64 constant (shapes, axes, pads). */
export function int64s(g: Graph, values: number[]): Tensor {
  const key = `int64s:${values.join(',')}`;
  let t = g.memo.get(key);
  if (!t) {
    t = g.constant(BigInt64Array.from(values, (v) => BigInt(v)), [values.length]);
    g.memo.set(key, t);
  }
  return t;
}

function lift(x: TensorLike, like: Tensor): Tensor {
  return typeof x === 'number' ? scalar(like.graph, x, like.dtype) : x;
}

function graphOf(...xs: TensorLike[]): Graph {
  for (const x of xs) if (typeof x !== 'number') return x.graph;
  throw new Error('at least one operand must be a tensor');
}

// ---------- broadcasting elementwise ----------

export function broadcastShapes(op: string, a: Shape, b: Shape): Shape {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da === 1) out.push(db);
    else if (db === 1 || sameDim(da, db)) out.push(da);
    else if (typeof da === 'number' && typeof db === 'number') {
      fail(op, `shapes ${shapeToString(a)} and ${shapeToString(b)} do not broadcast`);
    } else out.push(typeof da === 'number' ? da : db);
  }
  return out;
}

function binary(op: string, a: TensorLike, b: TensorLike, outDtype?: DType): Tensor {
  const g = graphOf(a, b);
  const ta = typeof a === 'number' ? lift(a, b as Tensor) : a;
  const tb = lift(b, ta);
  if (ta.dtype !== tb.dtype) fail(op, `dtype mismatch ${ta.dtype} vs ${tb.dtype}`);
  return single(g, op, [ta, tb], outDtype ?? ta.dtype, broadcastShapes(op, ta.shape, tb.shape));
}

export const add = (a: TensorLike, b: TensorLike) => binary('Add', a, b);
export const sub = (a: TensorLike, b: TensorLike) => binary('Sub', a, b);
export const mul = (a: TensorLike, b: TensorLike) => binary('Mul', a, b);
export const div = (a: TensorLike, b: TensorLike) => binary('Div', a, b);
/** x ** p for a constant exponent p. */
export const pow = (x: Tensor, p: number) => binary('Pow', x, p);
export const greater = (a: TensorLike, b: TensorLike) => binary('Greater', a, b, 'bool');
export const less = (a: TensorLike, b: TensorLike) => binary('Less', a, b, 'bool');
export const equal = (a: TensorLike, b: TensorLike) => binary('Equal', a, b, 'bool');

function unary(op: string, x: Tensor, dtype: DType = x.dtype, attrs = {}): Tensor {
  return single(x.graph, op, [x], dtype, x.shape, attrs);
}

export const neg = (x: Tensor) => unary('Neg', x);
export const exp = (x: Tensor) => unary('Exp', x);
export const log = (x: Tensor) => unary('Log', x);
export const sqrt = (x: Tensor) => unary('Sqrt', x);
export const reciprocal = (x: Tensor) => unary('Reciprocal', x);
export const tanh = (x: Tensor) => unary('Tanh', x);
export const sigmoid = (x: Tensor) => unary('Sigmoid', x);
export const relu = (x: Tensor) => unary('Relu', x);
export const abs = (x: Tensor) => unary('Abs', x);
export const sign = (x: Tensor) => unary('Sign', x);
export const erf = (x: Tensor) => unary('Erf', x);
export const sin = (x: Tensor) => unary('Sin', x);
export const cos = (x: Tensor) => unary('Cos', x);
export const not = (x: Tensor) => unary('Not', x);
export const identity = (x: Tensor) => unary('Identity', x);
export const cast = (x: Tensor, dtype: DType) => unary('Cast', x, dtype, { to: ONNX_DTYPE[dtype] });

export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const ta = typeof a === 'number' ? lift(a, b as Tensor) : a;
  const tb = lift(b, ta);
  const shape = broadcastShapes('Where', broadcastShapes('Where', cond.shape, ta.shape), tb.shape);
  return single(cond.graph, 'Where', [cond, ta, tb], ta.dtype, shape);
}

// ---------- softmax family ----------

export function softmax(x: Tensor, axis = -1): Tensor {
  return unary('Softmax', x, x.dtype, { axis: normAxis('Softmax', axis, x.shape.length) });
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return unary('LogSoftmax', x, x.dtype, { axis: normAxis('LogSoftmax', axis, x.shape.length) });
}

// ---------- reductions ----------

function reduce(op: string, x: Tensor, axes: number[], keepdims: boolean): Tensor {
  const rank = x.shape.length;
  const norm = [...new Set(axes.map((a) => normAxis(op, a, rank)))].sort((a, b) => a - b);
  const shape = keepdims ? x.shape.map((d, i) => (norm.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !norm.includes(i));
  return single(x.graph, op, [x, int64s(x.graph, norm)], x.dtype, shape, { keepdims: keepdims ? 1 : 0 });
}

export const reduceSum = (x: Tensor, axes: number[], keepdims = false) => reduce('ReduceSum', x, axes, keepdims);
export const reduceMean = (x: Tensor, axes: number[], keepdims = false) => reduce('ReduceMean', x, axes, keepdims);
export const reduceMax = (x: Tensor, axes: number[], keepdims = false) => reduce('ReduceMax', x, axes, keepdims);
export const reduceProd = (x: Tensor, axes: number[], keepdims = false) => reduce('ReduceProd', x, axes, keepdims);

/** Sum of all elements, as a scalar. */
export function sumAll(x: Tensor): Tensor {
  return reduceSum(x, x.shape.map((_, i) => i), false);
}

// ---------- linear algebra ----------

export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.shape.length < 2 || b.shape.length < 2) fail('MatMul', 'operands must have rank >= 2');
  const [m, k1] = a.shape.slice(-2);
  const [k2, n] = b.shape.slice(-2);
  if (!sameDim(k1, k2)) fail('MatMul', `inner dimensions differ: ${shapeToString(a.shape)} x ${shapeToString(b.shape)}`);
  const batch = broadcastShapes('MatMul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  return single(a.graph, 'MatMul', [a, b], a.dtype, [...batch, m, n]);
}

/**
 * a @ b^T for a 2-D b of shape [N, K] and a of shape [..., K], as one Gemm with transB (leading axes of
 * a folded into rows). Reading a frozen weight transposed in place, instead of through a Transpose
 * node, keeps onnxruntime from folding a second, transposed copy of it into the model.
 */
export function matmulTransposed(a: Tensor, b: Tensor): Tensor {
  if (a.shape.length < 2 || b.shape.length !== 2) fail('Gemm', `expected a of rank >= 2 and a 2-D b, got ${shapeToString(a.shape)} x ${shapeToString(b.shape)}`);
  const [n, k] = b.shape;
  if (!sameDim(a.shape[a.shape.length - 1], k)) fail('Gemm', `inner dimensions differ: ${shapeToString(a.shape)} x ${shapeToString(b.shape)}^T`);
  if (a.shape.length === 2) return single(a.graph, 'Gemm', [a, b], a.dtype, [a.shape[0], n], { transB: 1 });
  const rows = matmulTransposed(reshape(a, [-1, k]), b);
  const outShape = concat([shapeOf(a, 0, a.shape.length - 1), int64s(a.graph, [n as number])], 0);
  return single(a.graph, 'Reshape', [rows, outShape], a.dtype, [...a.shape.slice(0, -1), n]);
}

// ---------- shape manipulation ----------

export function transpose(x: Tensor, perm?: number[]): Tensor {
  const p = perm ?? x.shape.map((_, i) => x.shape.length - 1 - i);
  if (p.length !== x.shape.length) fail('Transpose', `perm [${p}] for rank ${x.shape.length}`);
  return single(x.graph, 'Transpose', [x], x.dtype, p.map((i) => x.shape[i]), { perm: p });
}

/** Swap the last two axes. */
export function transposeLast2(x: Tensor): Tensor {
  const r = x.shape.length;
  const perm = x.shape.map((_, i) => i);
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return transpose(x, perm);
}

/**
 * Reshape to `dims`, which may hold numbers, symbols, 0 (copy the input's dimension) and one -1.
 * Symbolic targets become 0 or -1 where possible; otherwise the shape is computed at run time.
 */
export function reshape(x: Tensor, dims: Dim[]): Tensor {
  const g = x.graph;
  const resolved: Dim[] = dims.map((d, i) => (d === 0 ? x.shape[i] : d));
  const inferAt = resolved.indexOf(-1);
  if (inferAt >= 0) {
    const known = multiplyDims(resolved.filter((_, i) => i !== inferAt));
    resolved[inferAt] = divideDims(multiplyDims(x.shape), known);
  } else if (!sameDim(multiplyDims(resolved), multiplyDims(x.shape))) {
    fail('Reshape', `cannot reshape ${shapeToString(x.shape)} to ${shapeToString(dims)}`);
  }
  // Encode for ONNX: copy-dims as 0, at most one unknown as -1, the rest must be numbers.
  const encoded: number[] = [];
  let minusOne = false;
  let dynamic = false;
  resolved.forEach((d, i) => {
    if (typeof d === 'number') encoded.push(d);
    else if (i < x.shape.length && sameDim(x.shape[i], d)) encoded.push(0);
    else if (!minusOne) {
      encoded.push(-1);
      minusOne = true;
    } else dynamic = true;
  });
  const shapeTensor = dynamic ? shapeTensorOf(g, resolved) : int64s(g, encoded);
  return single(g, 'Reshape', [x, shapeTensor], x.dtype, resolved);
}

/** A 1-D int64 tensor holding `dims` at run time (symbols read from the graph inputs). */
export function shapeTensorOf(g: Graph, dims: Dim[]): Tensor {
  const parts = dims.map((d) => dimValue(g, d));
  return parts.length === 1 ? parts[0] : concat(parts, 0);
}

/** A [1] int64 tensor holding one (possibly symbolic) dimension at run time. */
export function dimValue(g: Graph, dim: Dim): Tensor {
  if (typeof dim === 'number') return int64s(g, [dim]);
  const key = `dim:${dim}`;
  let t = g.memo.get(key);
  if (!t) {
    const factors = dim.split('*').map((part) => {
      if (/^\d+$/.test(part)) return int64s(g, [Number(part)]);
      const src = g.symbolSources.get(part);
      if (!src) throw new Error(`no graph input carries symbolic dimension "${part}"`);
      return shapeOf(src.tensor, src.axis, src.axis + 1);
    });
    t = factors.reduce((acc, f) => mul(acc, f));
    g.memo.set(key, t);
  }
  return t;
}

export function shapeOf(x: Tensor, start?: number, end?: number): Tensor {
  const attrs: Record<string, number> = {};
  if (start !== undefined) attrs.start = start;
  if (end !== undefined) attrs.end = end;
  const len = (end ?? x.shape.length) - (start ?? 0);
  return single(x.graph, 'Shape', [x], 'int64', [len], attrs);
}

export function unsqueeze(x: Tensor, axes: number[]): Tensor {
  const rank = x.shape.length + axes.length;
  const norm = axes.map((a) => normAxis('Unsqueeze', a, rank)).sort((a, b) => a - b);
  const shape: Dim[] = [];
  let src = 0;
  for (let i = 0; i < rank; i++) shape.push(norm.includes(i) ? 1 : x.shape[src++]);
  return single(x.graph, 'Unsqueeze', [x, int64s(x.graph, norm)], x.dtype, shape);
}

export function squeeze(x: Tensor, axes: number[]): Tensor {
  const norm = axes.map((a) => normAxis('Squeeze', a, x.shape.length));
  for (const a of norm) if (x.shape[a] !== 1) fail('Squeeze', `axis ${a} of ${shapeToString(x.shape)} is not 1`);
  return single(x.graph, 'Squeeze', [x, int64s(x.graph, norm)], x.dtype, x.shape.filter((_, i) => !norm.includes(i)));
}

/** Broadcast x to a run-time shape (the shape of `like`). */
export function expandAs(x: Tensor, like: Tensor): Tensor {
  return single(x.graph, 'Expand', [x, shapeOf(like)], x.dtype, broadcastShapes('Expand', x.shape, like.shape));
}

export function concat(xs: Tensor[], axis: number): Tensor {
  if (xs.length === 0) fail('Concat', 'no inputs');
  const rank = xs[0].shape.length;
  const a = normAxis('Concat', axis, rank);
  for (const x of xs) {
    if (x.shape.length !== rank || x.shape.some((d, i) => i !== a && !sameDim(d, xs[0].shape[i]))) {
      fail('Concat', `shapes ${xs.map((t) => shapeToString(t.shape)).join(' ')} differ off axis ${a}`);
    }
  }
  const shape = [...xs[0].shape];
  shape[a] = multiplyDimsSum(xs.map((x) => x.shape[a]));
  return single(xs[0].graph, 'Concat', xs, xs[0].dtype, shape, { axis: a });
}

function multiplyDimsSum(dims: Dim[]): Dim {
  if (dims.every((d) => typeof d === 'number')) return (dims as number[]).reduce((s, d) => s + d, 0);
  return derivedSymbol(dims.join('_plus_'));
}

/**
 * A symbol standing for a dimension computed from others (T - 1, A + B). It compares equal only to
 * itself; reshapes that need its value at run time fail with a clear error.
 */
function derivedSymbol(text: string): string {
  return text.replace(/[^A-Za-z0-9_]/g, 'x');
}

/**
 * x[start:end] along one axis (end exclusive, negative counts from the end, undefined = to the end).
 * `start`/`end` may also be run-time [1] int64 tensors, as the gradient of Concat needs.
 */
export function slice(x: Tensor, axis: number, start: number | Tensor, end?: number | Tensor): Tensor {
  const g = x.graph;
  const a = normAxis('Slice', axis, x.shape.length);
  const dim = x.shape[a];
  let len: Dim;
  if (typeof start === 'number' && (end === undefined || typeof end === 'number')) {
    if (typeof dim === 'number') {
      const s = Math.min(Math.max(start < 0 ? start + dim : start, 0), dim);
      const e = end === undefined ? dim : Math.min(Math.max(end < 0 ? end + dim : end, 0), dim);
      len = Math.max(e - s, 0);
    } else if (start >= 0 && end !== undefined && end >= 0) len = end - start;
    else if (start >= 0 && (end === undefined || end < 0)) len = start === 0 && end === undefined ? dim : derivedSymbol(`${dim}_minus_${start - (end ?? 0)}`);
    else fail('Slice', `negative start on symbolic dimension ${dim}`);
  } else len = derivedSymbol(`${x.name}_slice${a}`);
  const startT = typeof start === 'number' ? int64s(g, [start]) : start;
  const endT = end === undefined ? int64s(g, [Number.MAX_SAFE_INTEGER]) : typeof end === 'number' ? int64s(g, [end]) : end;
  const shape = [...x.shape];
  shape[a] = len;
  return single(g, 'Slice', [x, startT, endT, int64s(g, [a])], x.dtype, shape);
}

/** Split along an axis into pieces of the given (numeric) sizes. */
export function split(x: Tensor, sizes: number[], axis: number): Tensor[] {
  const a = normAxis('Split', axis, x.shape.length);
  const dim = x.shape[a];
  const total = sizes.reduce((s, n) => s + n, 0);
  if (typeof dim === 'number' && dim !== total) fail('Split', `sizes [${sizes}] do not add up to dimension ${dim}`);
  const outputs = sizes.map((n) => ({ dtype: x.dtype, shape: x.shape.map((d, i) => (i === a ? n : d)) }));
  return x.graph.addNode('Split', [x, int64s(x.graph, sizes)], outputs, { axis: a });
}

/** Rows of `data` (along axis 0 by default) picked by integer `indices`. */
export function gather(data: Tensor, indices: Tensor, axis = 0): Tensor {
  const a = normAxis('Gather', axis, data.shape.length);
  const shape = [...data.shape.slice(0, a), ...indices.shape, ...data.shape.slice(a + 1)];
  return single(data.graph, 'Gather', [data, indices], data.dtype, shape, { axis: a });
}

/** out[i][j] = data[i][indices[i][j]] along `axis` (indices has data's rank). */
export function gatherElements(data: Tensor, indices: Tensor, axis: number): Tensor {
  const a = normAxis('GatherElements', axis, data.shape.length);
  return single(data.graph, 'GatherElements', [data, indices], data.dtype, indices.shape, { axis: a });
}

export function scatterElements(data: Tensor, indices: Tensor, updates: Tensor, axis: number, reduction: 'none' | 'add' = 'none'): Tensor {
  const a = normAxis('ScatterElements', axis, data.shape.length);
  return single(data.graph, 'ScatterElements', [data, indices, updates], data.dtype, data.shape, { axis: a, reduction });
}

export function scatterNDAdd(data: Tensor, indices: Tensor, updates: Tensor): Tensor {
  return single(data.graph, 'ScatterND', [data, indices, updates], data.dtype, data.shape, { reduction: 'add' });
}

/** Zero-pad: pads = [begin_0..begin_{r-1}, end_0..end_{r-1}]. */
export function pad(x: Tensor, pads: number[]): Tensor {
  const r = x.shape.length;
  if (pads.length !== 2 * r) fail('Pad', `expected ${2 * r} pads`);
  const shape = x.shape.map((d, i) => (pads[i] === 0 && pads[i + r] === 0 ? d : typeof d === 'number' ? d + pads[i] + pads[i + r] : derivedSymbol(`${d}_plus_${pads[i] + pads[i + r]}`)));
  return single(x.graph, 'Pad', [x, int64s(x.graph, pads)], x.dtype, shape, { mode: 'constant' });
}

/** Zeros with the run-time shape of `like`. */
export function zerosLike(like: Tensor): Tensor {
  return expandAs(scalar(like.graph, 0, like.dtype), like);
}
