/**
 * The build context of a CTR network. Everything trainable is a graph input (so its gradient can be a
 * graph output), declared here by name and shape; the same network function builds the training
 * graph and the scoring graph, and the declarations it makes are the model's weight layout.
 *
 * Graph inputs: `rows` int32 [B, F] (each sparse field's row in the batch's local tables, see bag.ts;
 * in a frozen scoring graph, its row in the stacked whole tables),
 * `table.<family>` [U, width], `dense.<field>` [B, width], `param.<name>`, `mask.<i>` [B, width]
 * (dropout, training only) and `labels` [B] (training only).
 */
import { Graph, gradients, ops, type Tensor } from '../engine/index.js';
import * as nn from '../engine/nn.js';
import type { CtrConfig } from './config.js';
import type { CtrWeights } from './model.js';
import type { FieldSchema } from './schema.js';

/** `xavier`: normal with std √(2 / (fan_in + fan_out)), as FuxiCTR initializes linear layers. */
export type ParamInit = 'zeros' | 'xavier';

export interface ParamSpec {
  name: string;
  shape: number[];
  init: ParamInit;
}

/**
 * A family of embedding tables: one table per sparse field, `vocabSize + 1` rows of `width`, row 0
 * being the unknown id. `normalStd` 0 means zeros.
 */
export interface TableSpec {
  name: string;
  width: number;
  normalStd: number;
}

export interface MaskSpec {
  name: string;
  width: number;
  keep: number;
}

export class Net {
  readonly tables: TableSpec[] = [];
  readonly params: ParamSpec[] = [];
  readonly masks: MaskSpec[] = [];
  private readonly memo = new Map<string, Tensor>();

  /** With `frozen` weights, tables and parameters are graph constants instead of inputs (a scoring graph for serving). */
  constructor(
    readonly g: Graph,
    readonly training: boolean,
    readonly schema: FieldSchema,
    private readonly frozen?: CtrWeights,
  ) {}

  /** A frozen weight as a graph constant, made once per name. */
  private constant(name: string, make: () => { data: Float32Array; shape: number[] }): Tensor {
    let t = this.memo.get(name);
    if (!t) {
      const { data, shape } = make();
      t = this.g.constant(data, shape, name);
      this.memo.set(name, t);
    }
    return t;
  }

  private input(name: string, dtype: 'float32' | 'int32', shape: (number | string)[]): Tensor {
    let t = this.memo.get(name);
    if (!t) {
      t = this.g.input(name, dtype, shape);
      this.memo.set(name, t);
    }
    return t;
  }

  /** Each example's local row per sparse field, [B, F]. */
  get rows(): Tensor {
    return this.input('rows', 'int32', ['B', this.schema.sparse.length]);
  }

  /** The batch's local table of a family, [U, width]. */
  table(spec: TableSpec): Tensor {
    const known = this.tables.find((t) => t.name === spec.name);
    if (!known) this.tables.push(spec);
    else if (known.width !== spec.width || known.normalStd !== spec.normalStd) throw new Error(`table family "${spec.name}" declared twice differently`);
    const frozen = this.frozen;
    if (frozen) {
      // Every field's whole table, stacked in schema order; `rows` then holds rows of this stack.
      return this.constant(`table.${spec.name}`, () => {
        const tables = frozen.tables.get(spec.name)!;
        const data = new Float32Array(tables.reduce((n, t) => n + t.length, 0));
        tables.reduce((offset, t) => (data.set(t, offset), offset + t.length), 0);
        return { data, shape: [data.length / spec.width, spec.width] };
      });
    }
    return this.input(`table.${spec.name}`, 'float32', ['U', spec.width]);
  }

  dense(field: string): Tensor {
    const f = this.schema.dense.find((d) => d.name === field);
    if (!f) throw new Error(`no dense field "${field}"`);
    return this.input(`dense.${field}`, 'float32', ['B', f.width]);
  }

  param(name: string, shape: number[], init: ParamInit): Tensor {
    if (this.params.some((p) => p.name === name)) throw new Error(`parameter "${name}" declared twice`);
    this.params.push({ name, shape, init });
    const frozen = this.frozen;
    if (frozen) return this.constant(`param.${name}`, () => ({ data: frozen.params.get(name)!, shape }));
    return this.input(`param.${name}`, 'float32', shape);
  }

  /** Every trainable input, tables first, in declaration order, as [input name, tensor]. */
  trainables(): [string, Tensor][] {
    const names = [...this.tables.map((t) => `table.${t.name}`), ...this.params.map((p) => `param.${p.name}`)];
    return names.map((n) => [n, this.memo.get(n) as Tensor]);
  }

  /** Inverted dropout through a fed mask of 0 and 1/keep, drawn by the trainer's seeded Rng. */
  dropout(x: Tensor, p: number): Tensor {
    if (!this.training || p === 0) return x;
    const width = x.shape[1] as number;
    const name = `mask.${this.masks.length}`;
    this.masks.push({ name, width, keep: 1 - p });
    return ops.mul(x, this.input(name, 'float32', ['B', width]));
  }
}

/** A network maps the context to one logit per example, [B, 1]. */
export type Network = (net: Net, config: CtrConfig) => Tensor;

export interface BuiltGraph {
  graph: Graph;
  net: Net;
}

/**
 * The scoring graph outputs `logit` [B]; the training graph outputs `loss` (mean BCE with logits)
 * and `grad.<input>` for every table family and parameter.
 */
export function buildGraph(network: Network, config: CtrConfig, schema: FieldSchema, training: boolean, frozen?: CtrWeights): BuiltGraph {
  if (training && frozen) throw new Error('a training graph cannot have frozen weights');
  const g = new Graph(`ctr-${config.model}-${training ? 'train' : frozen ? 'serve' : 'score'}`);
  const net = new Net(g, training, schema, frozen);
  const logit = ops.squeeze(network(net, config), [1]);
  if (!training) {
    g.output(logit, 'logit');
    return { graph: g, net };
  }
  const loss = nn.bceWithLogits(logit, g.input('labels', 'float32', ['B']));
  g.output(loss, 'loss');
  const trainables = net.trainables();
  const grads = gradients(loss, trainables.map(([, t]) => t));
  grads.forEach((t, i) => g.output(t, `grad.${trainables[i][0]}`));
  return { graph: g, net };
}
