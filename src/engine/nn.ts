/**
 * Composite layers built from the primitive ops, so their gradients come from the primitive rules.
 * The language models (GPT-2, Llama family) are made of these; the CTR models' own interaction layers
 * (FM, cross layers) are in the CTR layer library, src/ctr/layers.ts.
 */
import { sumToShape } from './autodiff.js';
import type { Tensor } from './graph.js';
import * as op from './ops.js';

/** x @ w + b, with w in [in, out] layout. */
export function linear(x: Tensor, w: Tensor, b?: Tensor): Tensor {
  const y = op.matmul(x, w);
  return b ? op.add(y, b) : y;
}

/**
 * Gradient of a normalization y = xhat * gamma (+ beta), xhat = (x - centre) * rstd, along the last
 * axis: dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * gamma (RMSNorm drops the
 * mean(g) term, as it does not centre).
 */
function normVjp(xhat: Tensor, rstd: Tensor, gamma: Tensor, beta: Tensor | undefined, centred: boolean) {
  return (dy: Tensor, needs: boolean[]) => {
    let dx: Tensor | undefined;
    if (needs[0]) {
      const g = op.mul(dy, gamma);
      let inner = op.sub(g, op.mul(xhat, op.reduceMean(op.mul(g, xhat), [-1], true)));
      if (centred) inner = op.sub(inner, op.reduceMean(g, [-1], true));
      dx = op.mul(inner, rstd);
    }
    const dGamma = needs[1] ? sumToShape(op.mul(dy, xhat), gamma.shape) : undefined;
    const dBeta = beta && needs[2] ? sumToShape(dy, beta.shape) : undefined;
    return [dx, dGamma, dBeta];
  };
}

/** LayerNorm over the last axis. */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
  const centered = op.sub(x, op.reduceMean(x, [-1], true));
  const rstd = op.reciprocal(op.sqrt(op.add(op.reduceMean(op.mul(centered, centered), [-1], true), eps)));
  const xhat = op.mul(centered, rstd);
  const y = op.add(op.mul(xhat, gamma), beta);
  x.graph.defineGradient(y, [x, gamma, beta], normVjp(xhat, rstd, gamma, beta, true));
  return y;
}

/** RMSNorm over the last axis (Llama): x / sqrt(mean(x^2) + eps) * gamma. */
export function rmsNorm(x: Tensor, gamma: Tensor, eps = 1e-6): Tensor {
  const rstd = op.reciprocal(op.sqrt(op.add(op.reduceMean(op.mul(x, x), [-1], true), eps)));
  const xhat = op.mul(x, rstd);
  const y = op.mul(xhat, gamma);
  x.graph.defineGradient(y, [x, gamma], normVjp(xhat, rstd, gamma, undefined, false));
  return y;
}

/**
 * GELU, tanh approximation (GPT-2's "gelu_new"): x/2 (1 + tanh(k (x + c x^3))), computed as
 * y = x * s with s = sigmoid(z), z = 2k (x + c x^3), since (1 + tanh(u))/2 = sigmoid(2u).
 * dy/dx = s + y (1 - s) dz/dx with dz/dx = 2k + 6kc x^2, reusing the forward's x^2, s and y:
 * 13 elementwise passes for forward and backward instead of the 17 the primitive rules take.
 */
export function geluTanh(x: Tensor): Tensor {
  const k = Math.sqrt(2 / Math.PI);
  const c = 0.044715;
  const x2 = op.mul(x, x);
  const s = op.sigmoid(op.mul(x, op.add(op.mul(x2, 2 * k * c), 2 * k)));
  const y = op.mul(x, s);
  x.graph.defineGradient(y, [x], (dy) => {
    const slope = op.add(op.mul(x2, 6 * k * c), 2 * k);
    const local = op.add(op.mul(op.mul(y, op.sub(1, s)), slope), s);
    return [op.mul(dy, local)];
  });
  return y;
}

/** GELU, exact (erf). */
export function geluErf(x: Tensor): Tensor {
  return op.mul(op.mul(x, 0.5), op.add(op.erf(op.mul(x, Math.SQRT1_2)), 1));
}

/** SiLU / swish: x * sigmoid(x). */
export function silu(x: Tensor): Tensor {
  return op.mul(x, op.sigmoid(x));
}

/**
 * Rotary position embedding in the Hugging Face "rotate half" layout: x * cos + rotateHalf(x) * sin.
 * x is [..., T, headDim]; cos and sin are [..., T, headDim] (broadcastable), built by the caller.
 */
export function rope(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const half = (x.shape[x.shape.length - 1] as number) / 2;
  const [x1, x2] = op.split(x, [half, half], -1);
  const rotated = op.concat([op.neg(x2), x1], -1);
  return op.add(op.mul(x, cos), op.mul(rotated, sin));
}

/**
 * Scaled dot-product attention with an additive mask and grouped-query heads.
 * q: [B, H, T, hd]; k, v: [B, KV, T, hd] with H a multiple of KV; mask: additive, broadcastable to
 * [B, 1, T, T] (0 where allowed, a large negative number where not). Returns [B, H, T, hd].
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor): Tensor {
  const [, heads, , headDim] = q.shape as [unknown, number, unknown, number];
  const kvHeads = k.shape[1] as number;
  const scale = 1 / Math.sqrt(headDim);
  if (heads === kvHeads) {
    const scores = op.add(op.mul(op.matmul(q, op.transposeLast2(k)), scale), mask);
    return op.matmul(op.softmax(scores, -1), v);
  }
  // Grouped-query: view q as [B, KV, G, T, hd] and let MatMul broadcast each k/v head over its group.
  const group = heads / kvHeads;
  const qg = op.reshape(q, [0, kvHeads, group, -1, headDim]);
  const kg = op.unsqueeze(k, [2]);
  const vg = op.unsqueeze(v, [2]);
  const scores = op.add(op.mul(op.matmul(qg, op.transposeLast2(kg)), scale), op.unsqueeze(mask, [1]));
  const out = op.matmul(op.softmax(scores, -1), vg);
  return op.reshape(out, [0, heads, -1, headDim]);
}

/**
 * Mean token cross-entropy: -sum_t w_t log softmax(logits_t)[target_t] / sum_t w_t.
 * logits [..., V]; targets int64 [...]; weights float [...] (0 ignores a position, e.g. padding or
 * prompt tokens). Ignored positions must still hold a valid target id (any, e.g. 0).
 */
export function maskedTokenCrossEntropy(logits: Tensor, targets: Tensor, weights: Tensor): Tensor {
  const logProbs = op.logSoftmax(logits, -1);
  const index = op.unsqueeze(targets, [-1]);
  const picked = op.squeeze(op.gatherElements(logProbs, index, -1), [-1]);
  const totalWeight = op.sumAll(weights);
  const loss = op.div(op.neg(op.sumAll(op.mul(picked, weights))), totalWeight);
  // d loss / d logits = (softmax - onehot(target)) * w / sum(w): three passes over the logits
  // instead of the six the primitive rules would take.
  logits.graph.defineGradient(loss, [logits, weights], (dy, needs) => {
    const scale = op.unsqueeze(op.div(op.mul(weights, dy), totalWeight), [-1]);
    const dLogits = needs[0] ? op.scatterElements(op.mul(op.exp(logProbs), scale), index, op.neg(scale), -1, 'add') : undefined;
    const dWeights = needs[1] ? op.mul(op.div(op.sub(op.neg(picked), loss), totalWeight), dy) : undefined;
    return [dLogits, dWeights];
  });
  return loss;
}

/** Per-position token negative log-likelihood, [...] (for per-user scoring). */
export function tokenNll(logits: Tensor, targets: Tensor): Tensor {
  const logProbs = op.logSoftmax(logits, -1);
  return op.neg(op.squeeze(op.gatherElements(logProbs, op.unsqueeze(targets, [-1]), -1), [-1]));
}

/** Mean binary cross-entropy with logits, in the stable form max(x,0) - x*y + log(1 + exp(-|x|)). */
export function bceWithLogits(logits: Tensor, labels: Tensor): Tensor {
  const perRow = op.add(op.sub(op.relu(logits), op.mul(logits, labels)), op.log(op.add(op.exp(op.neg(op.abs(logits))), 1)));
  return op.reduceMean(perRow, perRow.shape.map((_, i) => i), false);
}
