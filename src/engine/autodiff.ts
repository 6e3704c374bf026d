/**
 * Reverse-mode autodiff over the graph IR: the backward pass is emitted as ordinary ONNX nodes in the
 * same graph, one gradient rule per op. Only nodes on a path from a chosen input to the loss are
 * differentiated, and a rule computes a gradient only for the inputs that need one, so a frozen
 * weight (an initializer) costs no weight-gradient matmul.
 */
import type { GraphNode, Shape, Tensor } from './graph.js';
import * as op from './ops.js';

/** dy is the first output's gradient; `dys` has every output's, for multi-output ops (Split). */
type Rule = (node: GraphNode, dy: Tensor, needs: boolean[], dys: (Tensor | undefined)[]) => (Tensor | undefined)[];

/** Sum a broadcast gradient back down to the operand's shape. */
export function sumToShape(dy: Tensor, target: Shape): Tensor {
  let t = dy;
  const lead = t.shape.length - target.length;
  if (lead > 0) t = op.reduceSum(t, [...Array(lead).keys()], false);
  const axes = target.flatMap((d, i) => (d === 1 && t.shape[i] !== 1 ? [i] : []));
  return axes.length ? op.reduceSum(t, axes, true) : t;
}

/** The values of a constant (initializer) input, which some rules need (axes, exponents, slices). */
function constantValues(t: Tensor): number[] {
  const init = t.graph.initializers.find((i) => i.tensor === t);
  if (!init) throw new Error(`autodiff: ${t.name} must be a constant`);
  return Array.from(init.data as ArrayLike<number | bigint>, Number);
}

/** Number of elements reduced over `axes` of x, as a float scalar (run-time if symbolic). */
function reducedCount(x: Tensor, axes: number[]): Tensor {
  const dims = axes.map((a) => x.shape[a]);
  if (dims.every((d) => typeof d === 'number')) {
    return op.scalar(x.graph, (dims as number[]).reduce((p, d) => p * d, 1));
  }
  const g = x.graph;
  return op.cast(op.reduceProd(op.gather(op.shapeOf(x), op.int64s(g, axes)), [0], false), 'float32');
}

function expandReduced(node: GraphNode, dy: Tensor): Tensor {
  const [x, axesT] = node.inputs;
  const axes = constantValues(axesT);
  const keep = node.attrs.keepdims !== 0;
  return op.expandAs(keep ? dy : op.unsqueeze(dy, axes), x);
}

function isFloat(t: Tensor): boolean {
  return t.dtype === 'float32';
}

const rules: Record<string, Rule> = {
  Identity: (_n, dy) => [dy],
  Add: (n, dy, needs) => [needs[0] ? sumToShape(dy, n.inputs[0].shape) : undefined, needs[1] ? sumToShape(dy, n.inputs[1].shape) : undefined],
  Sub: (n, dy, needs) => [needs[0] ? sumToShape(dy, n.inputs[0].shape) : undefined, needs[1] ? sumToShape(op.neg(dy), n.inputs[1].shape) : undefined],
  Mul: (n, dy, needs) => {
    const [a, b] = n.inputs;
    return [needs[0] ? sumToShape(op.mul(dy, b), a.shape) : undefined, needs[1] ? sumToShape(op.mul(dy, a), b.shape) : undefined];
  },
  Div: (n, dy, needs) => {
    const [a, b] = n.inputs;
    const y = n.outputs[0];
    return [
      needs[0] ? sumToShape(op.div(dy, b), a.shape) : undefined,
      needs[1] ? sumToShape(op.neg(op.div(op.mul(dy, y), b)), b.shape) : undefined,
    ];
  },
  Pow: (n, dy) => {
    const [x, pT] = n.inputs;
    const [p] = constantValues(pT);
    return [op.mul(dy, op.mul(op.pow(x, p - 1), p))];
  },
  Neg: (_n, dy) => [op.neg(dy)],
  Exp: (n, dy) => [op.mul(dy, n.outputs[0])],
  Log: (n, dy) => [op.div(dy, n.inputs[0])],
  Sqrt: (n, dy) => [op.div(op.mul(dy, 0.5), n.outputs[0])],
  Reciprocal: (n, dy) => {
    const y = n.outputs[0];
    return [op.neg(op.mul(dy, op.mul(y, y)))];
  },
  Tanh: (n, dy) => {
    const y = n.outputs[0];
    return [op.mul(dy, op.sub(1, op.mul(y, y)))];
  },
  Sigmoid: (n, dy) => {
    const y = n.outputs[0];
    return [op.mul(dy, op.mul(y, op.sub(1, y)))];
  },
  Relu: (n, dy) => [op.where(op.greater(n.inputs[0], 0), dy, 0)],
  Abs: (n, dy) => [op.mul(dy, op.sign(n.inputs[0]))],
  Erf: (n, dy) => {
    const x = n.inputs[0];
    return [op.mul(dy, op.mul(op.exp(op.neg(op.mul(x, x))), 2 / Math.sqrt(Math.PI)))];
  },
  Sin: (n, dy) => [op.mul(dy, op.cos(n.inputs[0]))],
  Cos: (n, dy) => [op.neg(op.mul(dy, op.sin(n.inputs[0])))],
  Cast: (n, dy) => [isFloat(n.inputs[0]) ? dy : undefined],
  Where: (n, dy, needs) => {
    const [cond, a, b] = n.inputs;
    return [
      undefined,
      needs[1] ? sumToShape(op.where(cond, dy, 0), a.shape) : undefined,
      needs[2] ? sumToShape(op.where(cond, 0, dy), b.shape) : undefined,
    ];
  },
  Softmax: (n, dy) => {
    const y = n.outputs[0];
    const axis = n.attrs.axis as number;
    return [op.mul(y, op.sub(dy, op.reduceSum(op.mul(dy, y), [axis], true)))];
  },
  LogSoftmax: (n, dy) => {
    const y = n.outputs[0];
    const axis = n.attrs.axis as number;
    return [op.sub(dy, op.mul(op.exp(y), op.reduceSum(dy, [axis], true)))];
  },
  ReduceSum: (n, dy) => [expandReduced(n, dy)],
  ReduceMean: (n, dy) => [op.div(expandReduced(n, dy), reducedCount(n.inputs[0], constantValues(n.inputs[1])))],
  MatMul: (n, dy, needs) => {
    const [a, b] = n.inputs;
    let da: Tensor | undefined;
    let db: Tensor | undefined;
    // A 2-D b (a weight) is read transposed in place rather than copied transposed.
    if (needs[0]) da = b.shape.length === 2 ? op.matmulTransposed(dy, b) : sumToShape(op.matmul(dy, op.transposeLast2(b)), a.shape);
    if (needs[1]) {
      if (b.shape.length === 2 && a.shape.length > 2) {
        // A shared weight: fold the batch axes into rows, one matmul instead of a batch then a sum.
        const k = a.shape[a.shape.length - 1];
        const m = dy.shape[dy.shape.length - 1];
        db = op.matmul(op.transpose(op.reshape(a, [-1, k])), op.reshape(dy, [-1, m]));
      } else db = sumToShape(op.matmul(op.transposeLast2(a), dy), b.shape);
    }
    return [da, db];
  },
  // Only the form matmulTransposed emits: y = a b^T with a [M, K], b [N, K].
  Gemm: (n, dy, needs) => {
    const [a, b] = n.inputs;
    if (n.inputs.length !== 2 || n.attrs.transB !== 1 || n.attrs.transA) throw new Error('autodiff Gemm: only a @ b^T without C is differentiable');
    return [needs[0] ? op.matmul(dy, b) : undefined, needs[1] ? op.matmul(op.transpose(dy), a) : undefined];
  },
  Transpose: (n, dy) => {
    const perm = n.attrs.perm as number[];
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [op.transpose(dy, inverse)];
  },
  Reshape: (n, dy) => {
    const x = n.inputs[0];
    return [x.graph.addNode('Reshape', [dy, op.shapeOf(x)], [{ dtype: dy.dtype, shape: x.shape }])[0]];
  },
  Unsqueeze: (n, dy) => [op.squeeze(dy, constantValues(n.inputs[1]))],
  Squeeze: (n, dy) => [op.unsqueeze(dy, constantValues(n.inputs[1]))],
  Expand: (n, dy) => [sumToShape(dy, n.inputs[0].shape)],
  Concat: (n, dy, needs) => {
    const axis = n.attrs.axis as number;
    const g = dy.graph;
    const sizes = n.inputs.map((x) => x.shape[axis]);
    if (sizes.every((s) => typeof s === 'number')) {
      let offset = 0;
      return n.inputs.map((x, i) => {
        const start = offset;
        offset += sizes[i] as number;
        return needs[i] ? withShape(op.slice(dy, axis, start, offset), x.shape) : undefined;
      });
    }
    // Symbolic sizes: compute each piece's offsets at run time.
    let offset = op.int64s(g, [0]);
    return n.inputs.map((x, i) => {
      const start = offset;
      offset = op.add(offset, op.shapeOf(x, axis, axis + 1));
      return needs[i] ? withShape(op.slice(dy, axis, start, offset), x.shape) : undefined;
    });
  },
  Split: (n, _dy, _needs, dys) => [op.concat(dys.map((d, i) => d ?? op.zerosLike(n.outputs[i])), n.attrs.axis as number)],
  Slice: (n, dy) => {
    const [x, startT, endT, axesT] = n.inputs;
    const [start] = constantValues(startT);
    const [end] = constantValues(endT);
    const [axis] = constantValues(axesT);
    const dim = x.shape[axis];
    let before: number;
    let after: number;
    if (typeof dim === 'number') {
      before = Math.min(Math.max(start < 0 ? start + dim : start, 0), dim);
      after = dim - Math.max(Math.min(end < 0 ? end + dim : end, dim), before);
    } else if (start >= 0) {
      before = start;
      if (end >= Number.MAX_SAFE_INTEGER) after = 0;
      else if (end < 0) after = -end;
      else throw new Error(`autodiff Slice: cannot pad back a slice ending at ${end} of symbolic dimension ${dim}`);
    } else throw new Error(`autodiff Slice: negative start on symbolic dimension ${dim}`);
    const pads = x.shape.map(() => 0).concat(x.shape.map(() => 0));
    pads[axis] = before;
    pads[axis + x.shape.length] = after;
    return [withShape(op.pad(dy, pads), x.shape)];
  },
  Gather: (n, dy) => {
    const [data, indices] = n.inputs;
    if (n.attrs.axis !== 0) throw new Error('autodiff Gather: only axis 0 is differentiable');
    const idx = op.unsqueeze(indices.dtype === 'int64' ? indices : op.cast(indices, 'int64'), [-1]);
    return [op.scatterNDAdd(op.zerosLike(data), idx, dy)];
  },
  GatherElements: (n, dy) => {
    const [data, indices] = n.inputs;
    return [op.scatterElements(op.zerosLike(data), indices, dy, n.attrs.axis as number, 'add')];
  },
};

/** The same tensor, recorded with the shape it is known to have (symbolic bookkeeping only). */
function withShape(t: Tensor, shape: Shape): Tensor {
  return { ...t, shape };
}

// Ops whose outputs carry no gradient (comparisons, shapes, piecewise-constant Sign). Any other op
// without a rule is an error rather than a silent zero.
const NON_DIFFERENTIABLE = new Set(['Shape', 'Equal', 'Greater', 'Less', 'Not', 'Sign']);

/**
 * Append the gradient of scalar `loss` with respect to each of `wrt` to loss's graph. An input the
 * loss does not depend on gets zeros.
 */
export function gradients(loss: Tensor, wrt: Tensor[]): Tensor[] {
  const g = loss.graph;
  if (loss.shape.length !== 0) throw new Error(`gradients: loss ${loss.name} must be a scalar, has shape [${loss.shape}]`);
  if (!isFloat(loss)) throw new Error('gradients: loss must be float32');
  const nodes = [...g.nodes]; // the backward nodes appended below are not revisited

  const reached = new Set<string>(wrt.map((t) => t.name));
  for (const node of nodes) {
    if (NON_DIFFERENTIABLE.has(node.op)) continue;
    if (node.inputs.some((t) => reached.has(t.name))) for (const o of node.outputs) reached.add(o.name);
  }

  const pending = new Map<string, Tensor[]>([[loss.name, [op.scalar(g, 1)]]]);
  const total = (name: string): Tensor | undefined => {
    const parts = pending.get(name);
    if (!parts || parts.length === 0) return undefined;
    const sum = parts.reduce((acc, p) => op.add(acc, p));
    pending.set(name, [sum]);
    return sum;
  };

  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    const custom = g.customGradients.get(node.outputs[0].name);
    const inputs = custom ? custom.inputs : node.inputs;
    const needs = inputs.map((t) => reached.has(t.name) && isFloat(t));
    if (!needs.some(Boolean)) continue;
    const dys = node.outputs.map((o) => total(o.name));
    const dy = dys.find((d) => d !== undefined);
    if (!dy) continue;
    let dxs: (Tensor | undefined)[];
    if (custom) dxs = custom.vjp(dy, needs);
    else {
      const rule = rules[node.op];
      if (!rule) throw new Error(`autodiff: no gradient rule for ${node.op} (node output ${node.outputs[0].name})`);
      dxs = rule(node, dys[0] ?? op.zerosLike(node.outputs[0]), needs, dys);
    }
    inputs.forEach((x, j) => {
      const dx = dxs[j];
      if (!needs[j] || !dx) return;
      const list = pending.get(x.name) ?? [];
      list.push(dx);
      pending.set(x.name, list);
    });
  }
  return wrt.map((t) => total(t.name) ?? op.zerosLike(t));
}
