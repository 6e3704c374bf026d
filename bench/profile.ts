/**
 * Profile benchmark. First: tuning every user of MovieLens latest-small with the default house LM and
 * the demo's settings (configs/demo.json): throughput, validation NLL before and after, codebook
 * perplexity per slot, steps per user. Then, measured in the same run on the same users and behaviour
 * lines: tuning throughput of the house LM against the v1 house LM (models/house-lm-v1), their bits per
 * byte on the same held-out text, the FLOPs of a tuning step per token, and the share of the GEMM rate
 * (measured here too) that tuning reaches.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPrepared, prepareData } from '../src/data/index.js';
import { Rng, Runtime } from '../src/engine/index.js';
import { demoTuneConfig, readDemoConfig } from '../src/eval/index.js';
import { CausalLm, type LmConfig } from '../src/lm/index.js';
import { heldOutPerplexity } from '../src/houselm/index.js';
import { behaviourOptions, templateTokens, trainerOptions, tuneProfiles, tuneRun, trainBehaviour, userWindows, type TuneConfig } from '../src/profile/index.js';
import { gemmGflops, matmulParams } from './engine.js';
import { emit, peakRssMb, round } from './util.js';

const HOUSE = 'models/house-lm';
const HOUSE_V1 = 'models/house-lm-v1';
/** Users in the throughput comparison, and their steps. */
const COMPARE_USERS = 96;
const COMPARE_STEPS = 2;

export async function profileBench(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'userip-bench-profile-'));
  try {
    await prepareData({ dataset: 'embedded', out: join(dir, 'data'), threshold: 3, skipBadRows: false });
    const config = demoTuneConfig(await readDemoConfig(), join(dir, 'data'), join(dir, 'run'));
    const summary = await tuneRun(config);
    const demoRun = {
      lm: summary.lm,
      users: summary.users,
      em_rounds: summary.history.length,
      steps: summary.steps,
      steps_per_user: summary.steps_per_user,
      seconds: round(summary.seconds),
      users_per_s: round(summary.users_per_s),
      val_nll_start: round(summary.val_nll_start, 4),
      val_nll_end: round(summary.val_nll_end, 4),
      codebook_perplexity: Object.fromEntries(summary.codebooks.map((c) => [c.slot, { k: c.k, perplexity: round(c.perplexity, 3) }])),
    };
    emit({ bench: 'profile', event: 'demo-settings', ...demoRun, tokens_per_s: round(summary.tokens_per_s) });

    const runtime = new Runtime();
    try {
      const gemm = await gemmGflops(runtime, new Rng(1));
      const v2 = await tuningThroughput(HOUSE, runtime, config);
      const v1 = await tuningThroughput(HOUSE_V1, runtime, config);
      emit({ bench: 'profile', event: 'compare', gemm_gflops: round(gemm), v2, v1 });
      const [q2, q1] = [await heldOutPerplexity(HOUSE, join(HOUSE, 'heldout')), await heldOutPerplexity(HOUSE_V1, join(HOUSE_V1, 'heldout'))];
      emit({
        bench: 'profile',
        ...demoRun,
        tokens_per_s: round(v2.tokens_per_s),
        baseline_tokens_per_s: round(v1.tokens_per_s),
        speedup: round(v2.tokens_per_s / v1.tokens_per_s),
        bits_per_byte: round(q2.bitsPerByte, 4),
        baseline_bits_per_byte: round(q1.bitsPerByte, 4),
        flops_per_token: Math.round(v2.flops_per_token),
        baseline_flops_per_token: Math.round(v1.flops_per_token),
        gemm_gflops: round(gemm),
        flop_utilisation: round((v2.tokens_per_s * v2.flops_per_token) / (gemm * 1e9), 3),
        baseline_flop_utilisation: round((v1.tokens_per_s * v1.flops_per_token) / (gemm * 1e9), 3),
        peak_rss_mb: peakRssMb(),
      });
    } finally {
      await runtime.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A tuning step's FLOPs per token: the forward and the backward to the inputs (no weight gradients), each
 * about 2 FLOPs per weight of every product plus attention's two products over the mean sequence length.
 */
function tuningFlopsPerToken(c: LmConfig, meanSeq: number): number {
  const attention = c.numLayers * 2 * 2 * meanSeq * c.hiddenSize;
  return 2 * (2 * matmulParams(c) + attention);
}

/** Tuning throughput (behaviour tokens per second) of one LM on the first users' whole-history windows (its own tokenizer and context). */
async function tuningThroughput(lmDir: string, runtime: Runtime, config: TuneConfig): Promise<{ tokens_per_s: number; flops_per_token: number; tokens: number; seconds: number }> {
  const lm = await CausalLm.load(lmDir, { runtime });
  const prepared = await loadPrepared(config.data);
  const users = new Set([...new Set(prepared.split.train.map((i) => i.user))].slice(0, COMPARE_USERS));
  const options = behaviourOptions(config, lm.tokenizer, lm.config.maxPositions, prepared.config.threshold);
  const windows = userWindows(prepared.split.train.filter((i) => users.has(i.user)), prepared.dataset.items, lm.tokenizer, options);
  const behaviour = [...windows].map(([user, w]) => trainBehaviour(user, w));
  const template = templateTokens(lm.tokenizer, config.slots, config.behaviourPrefix);
  const trainer = { ...trainerOptions(config, lm.id, undefined), populationSteps: 0, emRounds: 1, userSteps: COMPARE_STEPS, convergence: 0 };
  const result = await tuneProfiles(lm, template, behaviour, trainer);
  const prompts = behaviour.flatMap((u) => u.train);
  const meanBehaviour = prompts.reduce((s, w) => s + w.length, 0) / prompts.length;
  const meanSeq = meanBehaviour + template.prefix.length + template.names.flat().length + template.names.length + 1;
  // Throughput counts behaviour tokens (what is scored); each costs its share of the template's too.
  const flopsPerToken = (tuningFlopsPerToken(lm.config, meanSeq) * meanSeq) / meanBehaviour;
  return { tokens_per_s: result.tokens / result.seconds, flops_per_token: flopsPerToken, tokens: result.tokens, seconds: round(result.seconds) };
}
