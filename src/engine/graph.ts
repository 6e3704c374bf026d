/**
 * The graph IR. A graph is a list of ONNX nodes in build (= topological) order, plus graph inputs,
 * initializers (frozen constants) and outputs. Every tensor carries a dtype and a shape whose
 * dimensions are numbers or symbols ("B", "T", or products such as "B*T"), so one graph serves every
 * batch and sequence length. Op functions (ops.ts) infer output shapes as they build; the gradient
 * rules (autodiff.ts) are written with the same op functions.
 */

import { freeNow } from './free.js';

export type DType = 'float32' | 'int64' | 'int32' | 'bool';
export type Dim = number | string;
export type Shape = Dim[];
export type AttrValue = number | string | number[] | { float: number } | { floats: number[] };

export interface Tensor {
  readonly graph: Graph;
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
}

export interface GraphNode {
  readonly op: string;
  readonly inputs: Tensor[];
  readonly outputs: Tensor[];
  readonly attrs: Record<string, AttrValue>;
}

export type ConstantData = Float32Array | BigInt64Array | Int32Array | Uint8Array;

export interface Initializer {
  readonly tensor: Tensor;
  readonly data: ConstantData;
}

/**
 * A hand-written vector-Jacobian product for a composite: given the gradient of its output, the
 * gradients of its inputs (undefined where not needed). Composites use one when the gradient the
 * primitive rules would emit takes more passes over memory (cross-entropy, normalizations, GELU).
 */
export type Vjp = (dy: Tensor, needs: boolean[]) => (Tensor | undefined)[];

export class Graph {
  readonly inputs: Tensor[] = [];
  readonly outputs: Tensor[] = [];
  readonly nodes: GraphNode[] = [];
  readonly initializers: Initializer[] = [];
  /** Which graph input and axis carries each symbolic dimension, for reshapes that need its value. */
  readonly symbolSources = new Map<string, { tensor: Tensor; axis: number }>();
  private readonly names = new Set<string>();
  private counter = 0;
  /** Cache of small helper tensors (scalar constants, runtime dimension values). */
  readonly memo = new Map<string, Tensor>();
  /** Custom gradients of composites, by output tensor name. */
  readonly customGradients = new Map<string, { inputs: Tensor[]; vjp: Vjp }>();

  constructor(readonly name = 'userip') {}

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`graph ${this.name}: duplicate tensor name "${name}"`);
    this.names.add(name);
    return name;
  }

  freshName(hint: string): string {
    let name: string;
    do name = `${hint}_${this.counter++}`;
    while (this.names.has(name));
    return this.claim(name);
  }

  /** A runtime-fed graph input. Symbolic dimensions are recorded so later reshapes can read them. */
  input(name: string, dtype: DType, shape: Shape): Tensor {
    const tensor: Tensor = { graph: this, name: this.claim(name), dtype, shape: [...shape] };
    this.inputs.push(tensor);
    shape.forEach((dim, axis) => {
      if (typeof dim === 'string' && isSymbol(dim) && !this.symbolSources.has(dim)) {
        this.symbolSources.set(dim, { tensor, axis });
      }
    });
    return tensor;
  }

  /** A frozen constant baked into the model; ORT constant-folds whatever depends only on these. */
  constant(data: ConstantData, shape: number[], name?: string): Tensor {
    const size = shape.reduce((a, b) => a * b, 1);
    if (data.length !== size) {
      throw new Error(`constant ${name ?? ''}: ${data.length} values for shape [${shape.join(',')}]`);
    }
    const tensor: Tensor = {
      graph: this,
      name: name ? this.claim(name) : this.freshName('const'),
      dtype: dtypeOfData(data),
      shape: [...shape],
    };
    this.initializers.push({ tensor, data });
    return tensor;
  }

  addNode(op: string, inputs: Tensor[], outputs: { dtype: DType; shape: Shape; name?: string }[], attrs: Record<string, AttrValue> = {}): Tensor[] {
    for (const t of inputs) {
      if (t.graph !== this) throw new Error(`${op}: input ${t.name} belongs to another graph`);
    }
    const outs: Tensor[] = outputs.map((o) => ({
      graph: this,
      name: o.name ? this.claim(o.name) : this.freshName(op.toLowerCase()),
      dtype: o.dtype,
      shape: o.shape,
    }));
    this.nodes.push({ op, inputs, outputs: outs, attrs });
    return outs;
  }

  /** Differentiate `output` with `vjp` instead of through the primitive nodes that compute it. */
  defineGradient(output: Tensor, inputs: Tensor[], vjp: Vjp): void {
    this.customGradients.set(output.name, { inputs, vjp });
  }

  /**
   * Frees the constants' memory now (see `freeNow`), for a caller that made them for this graph
   * alone and has serialized it: the graph cannot be serialized again.
   */
  releaseConstants(): void {
    freeNow(this.initializers.map((i) => i.data));
  }

  /** Mark a tensor as a graph output under a chosen name (an Identity node gives it that name). */
  output(tensor: Tensor, name?: string): Tensor {
    let out = tensor;
    if (name && name !== tensor.name) {
      [out] = this.addNode('Identity', [tensor], [{ dtype: tensor.dtype, shape: tensor.shape, name }]);
    }
    this.outputs.push(out);
    return out;
  }
}

function dtypeOfData(data: ConstantData): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  return 'bool';
}

const SYMBOL = /^[A-Za-z_][A-Za-z0-9_]*$/;
function isSymbol(s: string): boolean {
  return SYMBOL.test(s);
}

/**
 * Symbolic dimension algebra: a dimension is a number or a product "c*A*B" of symbols. Enough to
 * infer reshapes such as [B, T, D] -> [-1, D] = ["B*T", D] and back.
 */
export interface DimProduct {
  coef: number;
  symbols: string[];
}

export function parseDim(dim: Dim): DimProduct {
  if (typeof dim === 'number') return { coef: dim, symbols: [] };
  let coef = 1;
  const symbols: string[] = [];
  for (const part of dim.split('*')) {
    if (/^\d+$/.test(part)) coef *= Number(part);
    else if (isSymbol(part)) symbols.push(part);
    else throw new Error(`bad symbolic dimension "${dim}"`);
  }
  return { coef, symbols: symbols.sort() };
}

export function formatDim(p: DimProduct): Dim {
  if (p.symbols.length === 0) return p.coef;
  return p.coef === 1 ? p.symbols.join('*') : [String(p.coef), ...p.symbols].join('*');
}

export function multiplyDims(dims: Dim[]): Dim {
  const acc: DimProduct = { coef: 1, symbols: [] };
  for (const d of dims) {
    const p = parseDim(d);
    acc.coef *= p.coef;
    acc.symbols.push(...p.symbols);
  }
  acc.symbols.sort();
  return formatDim(acc);
}

export function divideDims(num: Dim, den: Dim): Dim {
  const a = parseDim(num);
  const b = parseDim(den);
  const symbols = [...a.symbols];
  for (const s of b.symbols) {
    const i = symbols.indexOf(s);
    if (i < 0) throw new Error(`cannot divide dimension ${num} by ${den}`);
    symbols.splice(i, 1);
  }
  if (a.coef % b.coef !== 0) throw new Error(`cannot divide dimension ${num} by ${den}`);
  return formatDim({ coef: a.coef / b.coef, symbols });
}

export function sameDim(a: Dim, b: Dim): boolean {
  return formatDim(parseDim(a)) === formatDim(parseDim(b));
}

export function shapeToString(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}
