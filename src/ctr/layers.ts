/**
 * The shared layer library the CTR models are written in (FuxiCTR style: a model file only wires
 * these together). Shapes: B examples, F fields (sparse then dense), k the embedding size.
 */
import { ops, type Tensor } from '../engine/index.js';
import * as nn from '../engine/nn.js';
import type { Net, TableSpec } from './net.js';

/** First-order weights: one scalar per id, zero at the start as in LR. */
export const FIRST_ORDER: TableSpec = { name: 'linear', width: 1, normalStd: 0 };

/** Latent factors of size k; small random values so that interactions have a gradient from the start. */
export function factors(k: number): TableSpec {
  return { name: 'factor', width: k, normalStd: 0.01 };
}

/**
 * Every field as a vector, [B, F, width]: sparse fields are looked up in the family's tables; a dense
 * field (e.g. a soft token of width d) is projected by a learned [d, width] matrix, so it takes part
 * in every interaction as one more field.
 */
export function fieldEmbeddings(net: Net, spec: TableSpec): Tensor {
  const parts = [ops.gather(net.table(spec), net.rows)];
  for (const f of net.schema.dense) {
    const w = net.param(`${spec.name}.${f.name}`, [f.width, spec.width], spec.normalStd === 0 ? 'zeros' : 'xavier');
    parts.push(ops.unsqueeze(nn.linear(net.dense(f.name), w), [1]));
  }
  return parts.length === 1 ? parts[0] : ops.concat(parts, 1);
}

/** The logistic-regression term: bias + Σ_fields w_field, [B, 1]. */
export function firstOrder(net: Net): Tensor {
  const perField = fieldEmbeddings(net, FIRST_ORDER);
  return ops.add(ops.reduceSum(perField, [1], false), net.param('linear.bias', [1], 'zeros'));
}

/** [B, F, k] -> [B, F·k]: the fields side by side, as DNNs and cross networks take them. */
export function flatten(fields: Tensor): Tensor {
  return ops.reshape(fields, [0, -1]);
}

/** Linear -> ReLU -> dropout per hidden size. */
export function mlp(net: Net, x: Tensor, sizes: number[], dropout: number): Tensor {
  let h = x;
  sizes.forEach((size, i) => {
    const inputs = h.shape[1] as number;
    const w = net.param(`mlp.${i}.weight`, [inputs, size], 'xavier');
    const b = net.param(`mlp.${i}.bias`, [size], 'zeros');
    h = net.dropout(ops.relu(nn.linear(h, w, b)), dropout);
  });
  return h;
}

/**
 * `layers` cross layers on x0 [B, D]: v1 (DCN) learns a vector w_l [D, 1] per layer, v2 (DCN-V2) a
 * full matrix W_l [D, D]. With no layers this is x0 itself.
 */
export function crossNetwork(net: Net, x0: Tensor, layers: number, version: 1 | 2): Tensor {
  const d = x0.shape[1] as number;
  let x = x0;
  for (let l = 0; l < layers; l++) {
    const w = net.param(`cross.${l}.weight`, version === 1 ? [d, 1] : [d, d], 'xavier');
    const b = net.param(`cross.${l}.bias`, [d], 'zeros');
    x = version === 1 ? crossLayer(x0, x, w, b) : crossLayerV2(x0, x, w, b);
  }
  return x;
}

/** Factorization-machine pairwise term: 0.5 * sum_k ((sum_f e)^2 - sum_f e^2), e: [B, F, K] -> [B, 1]. */
export function fmInteraction(embeddings: Tensor): Tensor {
  const sum = ops.reduceSum(embeddings, [1], false);
  const sumOfSquares = ops.reduceSum(ops.mul(embeddings, embeddings), [1], false);
  return ops.mul(ops.reduceSum(ops.sub(ops.mul(sum, sum), sumOfSquares), [1], true), 0.5);
}

/** DCN (v1) cross layer: x_{l+1} = x0 * (x_l . w) + b + x_l, with w [D, 1], b [D]. */
export function crossLayer(x0: Tensor, x: Tensor, w: Tensor, b: Tensor): Tensor {
  return ops.add(ops.add(ops.mul(x0, ops.matmul(x, w)), b), x);
}

/** DCN-v2 cross layer: x_{l+1} = x0 * (x_l W + b) + x_l, with W [D, D], b [D]. */
export function crossLayerV2(x0: Tensor, x: Tensor, w: Tensor, b: Tensor): Tensor {
  return ops.add(ops.mul(x0, nn.linear(x, w, b)), x);
}

/** The output unit: x [B, D] -> [B, 1]. */
export function head(net: Net, x: Tensor): Tensor {
  const w = net.param('head.weight', [x.shape[1] as number, 1], 'xavier');
  return nn.linear(x, w, net.param('head.bias', [1], 'zeros'));
}
