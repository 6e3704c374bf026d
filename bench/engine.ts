/**
 * Engine benchmark: the speed of a plain matrix product against a GPT-2-small-shaped forward plus
 * backward-to-input-embeddings step built with the engine, both run through the engine's runtime, and
 * the step's peak resident memory (docs/models.md, "Memory").
 */
import { availableParallelism } from 'node:os';
import { Graph, Rng, Runtime, float32, gradients, int64, ops } from '../src/engine/index.js';
import * as nn from '../src/engine/nn.js';
import type { LmConfig } from '../src/lm/config.js';
import { gpt2Logits } from '../src/lm/transformer.js';
import { emit, peakRssMb, memoryNow, timeMedian, round } from './util.js';

/** GPT-2 small (124M parameters): the shape the engine and lm benchmarks time. */
export const GPT2_SMALL: LmConfig = {
  architecture: 'gpt2',
  vocabSize: 50257,
  hiddenSize: 768,
  numLayers: 12,
  numHeads: 12,
  numKvHeads: 12,
  headDim: 64,
  intermediateSize: 3072,
  maxPositions: 1024,
  normEps: 1e-5,
  tiedEmbeddings: true,
  attentionBias: true,
  activation: 'gelu_new',
};

/** Weights used in matrix products: every linear layer plus the tied output head. */
export function matmulParams(c: LmConfig): number {
  const D = c.hiddenSize;
  return c.numLayers * (3 * D * D + D * D + 2 * D * c.intermediateSize) + c.vocabSize * D;
}

/** GFLOP/s of a 512x768 by 768x3072 product (a frozen weight, as in the model), through the runtime. */
export async function gemmGflops(rt: Runtime, rng: Rng): Promise<number> {
  const [m, k, n] = [512, 768, 3072];
  const g = new Graph('gemm');
  const a = g.input('a', 'float32', [m, k]);
  g.output(ops.matmul(a, g.constant(rng.fillNormal(new Float32Array(k * n)), [k, n])), 'c');
  const session = await rt.session(g);
  const feed = { a: float32(rng.fillNormal(new Float32Array(m * k)), [m, k]) };
  const seconds = await timeMedian(() => session.run(feed), 3, 30);
  return (2 * m * k * n) / seconds / 1e9;
}

/** The step graph, with random weights as constants. */
function gpt2StepGraph(c: LmConfig, rng: Rng): Graph {
  const g = new Graph('gpt2-small-step');
  const inputsEmbeds = g.input('inputs_embeds', 'float32', ['B', 'T', c.hiddenSize]);
  const positionIds = g.input('position_ids', 'int64', ['B', 'T']);
  const attentionMask = g.input('attention_mask', 'float32', ['B', 'T', 'T']);
  const targets = g.input('targets', 'int64', ['B', 'T']);
  const weights = g.input('target_weights', 'float32', ['B', 'T']);
  const param = (name: string, shape: number[]) =>
    g.constant(rng.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1)), name.includes('ln_') ? 0 : 0.02, name.includes('ln_') && name.endsWith('weight') ? 1 : 0), shape, name);
  const logits = gpt2Logits(c, param, { inputsEmbeds, positionIds, attentionMask });
  const loss = nn.maskedTokenCrossEntropy(logits, targets, weights);
  const [gradEmbeds] = gradients(loss, [inputsEmbeds]);
  g.output(loss, 'loss');
  g.output(gradEmbeds, 'grad_inputs_embeds');
  emit({ bench: 'engine', event: 'graph_built', nodes: g.nodes.length, ...memoryNow() });
  return g;
}

async function gpt2Step(rt: Runtime, rng: Rng, batch: number, seq: number): Promise<number> {
  const c = GPT2_SMALL;
  const graph = gpt2StepGraph(c, rng);
  const session = await rt.session(graph);
  // The session has the weights now; the JS copies would otherwise wait for a garbage collection.
  graph.releaseConstants();
  emit({ bench: 'engine', event: 'session_ready', ...memoryNow(), peak_rss_mb: peakRssMb() });

  const n = batch * seq;
  const mask = new Float32Array(batch * seq * seq);
  for (let b = 0; b < batch; b++) for (let i = 0; i < seq; i++) for (let j = i + 1; j < seq; j++) mask[(b * seq + i) * seq + j] = -1e9;
  const feeds = {
    inputs_embeds: float32(rng.fillNormal(new Float32Array(n * c.hiddenSize), 0.1), [batch, seq, c.hiddenSize]),
    position_ids: int64(Array.from({ length: n }, (_, i) => i % seq), [batch, seq]),
    attention_mask: float32(mask, [batch, seq, seq]),
    targets: int64(Array.from({ length: n }, () => rng.int(c.vocabSize)), [batch, seq]),
    target_weights: float32(new Float32Array(n).fill(1), [batch, seq]),
  };
  const seconds = await timeMedian(() => session.run(feeds), 2, 7);
  emit({ bench: 'engine', event: 'step_done', ...memoryNow(), peak_rss_mb: peakRssMb() });
  return seconds;
}

/**
 * The GEMM rate with onnxruntime's defaults (pre-packed weight: what a small model gets) and with
 * the lean settings the step runs with, the better kept.
 */
async function bestGemmGflops(runtimes: Runtime[], rng: Rng): Promise<number> {
  let best = 0;
  for (const [i, rt] of runtimes.entries()) {
    const gflops = await gemmGflops(rt, rng);
    emit({ bench: 'engine', event: 'gemm', lean_memory: i > 0, gemm_gflops: round(gflops) });
    best = Math.max(best, gflops);
  }
  return best;
}

export async function engineBench(): Promise<void> {
  const threads = availableParallelism();
  // The step's 500 MB of weights go to an external data file, so its session is lean by default.
  const rt = new Runtime({ threads });
  const lean = new Runtime({ threads, leanMemory: true });
  const rng = new Rng(0);
  // The baseline is measured before and after the step, with and without the lean settings, and
  // the best kept: a noisy machine then lowers the reported ratio, never raises it.
  const gemmBefore = await bestGemmGflops([rt, lean], rng);
  const [batch, seq] = [8, 64];
  const stepSeconds = await gpt2Step(rt, rng, batch, seq);
  const gemm = Math.max(gemmBefore, await bestGemmGflops([rt, lean], rng));
  const stepGflops = (4 * batch * seq * matmulParams(GPT2_SMALL)) / stepSeconds / 1e9;
  emit({
    bench: 'engine',
    threads,
    gemm_gflops: round(gemm),
    step_seconds: round(stepSeconds, 4),
    step_gflops: round(stepGflops),
    ratio: round(stepGflops / gemm, 3),
    matmul_params: matmulParams(GPT2_SMALL),
    peak_rss_mb: peakRssMb(),
  });
  await Promise.all([rt.close(), lean.close()]);
}

