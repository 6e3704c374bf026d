/**
 * LM benchmark: the speed of the two calls the profile trainer makes on a frozen LM, forward-only
 * scoring (`tokenNll`) and forward + backward to the input embeddings (`lossAndGrad`), at 8 sequences
 * x 64 tokens, for the shipped house LM and for a GPT-2-small-shaped checkpoint with random weights;
 * then the house LM's validation perplexity and the unigram baseline, recomputed on its held-out text.
 *
 * `npm run bench -- lm [--corpus DIR]`: DIR holds valid.txt and either train.txt (a full corpus from
 * `buildCorpus`) or train-unigram.json. The default, models/house-lm/heldout, ships with the repo.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Runtime } from '../src/engine/index.js';
import { writeJson } from '../src/io/files.js';
import { CausalLm, causalMask, parameterCount, resolveLmDir, type LmConfig } from '../src/lm/index.js';
import { writeSafetensors, type TensorToWrite } from '../src/io/index.js';
import { heldOutPerplexity, hfGpt2Config, initGpt2Weights, tokenizeCorpusText, writeGpt2TokenizerFiles } from '../src/houselm/pretrain.js';
import { GPT2_SMALL } from './engine.js';
import { emit, peakRssMb, round, timeMedian } from './util.js';

const BATCH = 8;
const SEQ = 64;

interface Throughput {
  params: number;
  fwd_tokens_per_s: number;
  tune_steps_per_s: number;
  tune_tokens_per_s: number;
  fwd_seconds: number;
  tune_step_seconds: number;
  /** Building both sessions plus their first runs. */
  setup_seconds: number;
  /** Mean next-token loss of the timed batch (a check that the model computes something sensible). */
  batch_loss: number;
}

/** Times `tokenNll` and `lossAndGrad` on BATCH windows of SEQ + 1 consecutive held-out tokens. */
async function throughput(lm: CausalLm, tokens: Uint16Array, repeats: number): Promise<Throughput> {
  const [B, T] = [BATCH, SEQ];
  if (tokens.length < B * (T + 1)) throw new Error(`the held-out text has ${tokens.length} tokens, need ${B * (T + 1)}`);
  const inputs: number[] = [];
  const targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      inputs.push(tokens[b * (T + 1) + t]);
      targets[b * T + t] = tokens[b * (T + 1) + t + 1];
    }
  }
  const batch = { batch: B, seq: T, inputsEmbeds: lm.embedTokens(inputs), attentionMask: causalMask(T, new Array<number>(B).fill(T)), targets };
  const lossBatch = { ...batch, weights: new Float32Array(B * T).fill(1) };

  let t0 = performance.now();
  const nll = await lm.tokenNll(batch);
  let setup = performance.now() - t0;
  const fwdSeconds = await timeMedian(() => lm.tokenNll(batch), 2, repeats);
  t0 = performance.now();
  const { loss } = await lm.lossAndGrad(lossBatch);
  setup += performance.now() - t0;
  const stepSeconds = await timeMedian(() => lm.lossAndGrad(lossBatch), 2, repeats);

  const meanNll = nll.reduce((a, b) => a + b, 0) / nll.length;
  if (!(Math.abs(meanNll - loss) < 1e-3 * Math.max(1, loss))) throw new Error(`forward graph mean NLL ${meanNll} differs from train graph loss ${loss}`);
  return {
    params: parameterCount(lm.config),
    fwd_tokens_per_s: round((B * T) / fwdSeconds, 1),
    tune_steps_per_s: round(1 / stepSeconds, 3),
    tune_tokens_per_s: round((B * T) / stepSeconds, 1),
    fwd_seconds: round(fwdSeconds, 4),
    tune_step_seconds: round(stepSeconds, 4),
    setup_seconds: round(setup / 1000, 2),
    batch_loss: round(loss, 4),
  };
}

/**
 * A Hugging Face gpt2 checkpoint of shape `c` with random weights (the pretrain command's GPT-2
 * initialisation, F32) and GPT-2's tokenizer files.
 */
async function writeRandomGpt2(dir: string, c: LmConfig, seed: number): Promise<void> {
  const tensors: Record<string, TensorToWrite> = {};
  for (const w of initGpt2Weights(c, seed)) tensors[w.name] = { dtype: 'F32', shape: w.shape, data: w.data };
  await writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  await writeJson(join(dir, 'config.json'), hfGpt2Config({ context: c.maxPositions, hidden: c.hiddenSize, layers: c.numLayers, heads: c.numHeads }, 'float32'));
  await writeGpt2TokenizerFiles(dir);
}

function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

function closeTo(a: number, b: unknown): boolean {
  return typeof b === 'number' && Math.abs(a - b) <= 1e-4 * Math.abs(b);
}

export async function lmBench(args: string[] = []): Promise<void> {
  let values: { corpus?: string };
  try {
    ({ values } = parseArgs({ args, options: { corpus: { type: 'string' } }, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new Error(`${(err as Error).message}\nusage: npm run bench -- lm [--corpus DIR]`);
  }
  const started = performance.now();
  const threads = availableParallelism();
  const load = loadavg()[0];
  const houseDir = resolveLmDir('house');
  const corpusDir = values.corpus ?? join(houseDir, 'heldout');
  const validText = await readFile(join(corpusDir, 'valid.txt'), 'utf8');

  // 1. The house LM's speed (on its own tokens of the held-out text).
  let rt = new Runtime({ threads });
  const house = await CausalLm.load(houseDir, { runtime: rt });
  const houseSpeed = await throughput(house, tokenizeCorpusText(validText, house.tokenizer), 15);
  await rt.close();
  emit({ bench: 'lm', event: 'throughput', threads, model: 'house', model_id: house.id, batch: BATCH, seq: SEQ, ...houseSpeed, peak_rss_mb: peakRssMb() });

  // 2. Its held-out perplexity and the unigram baseline, recomputed (never read from the summary).
  let t0 = performance.now();
  const heldOut = await heldOutPerplexity(houseDir, corpusDir, { threads });
  const reported = JSON.parse(await readFile(join(houseDir, 'pretrain-summary.json'), 'utf8')) as Record<string, unknown>;
  const agrees = closeTo(heldOut.valPpl, reported.val_ppl) && closeTo(heldOut.unigramPpl, reported.unigram_ppl);
  emit({
    bench: 'lm',
    event: 'heldout',
    threads,
    model: 'house',
    corpus: shown(corpusDir),
    unigram_source: heldOut.unigramSource,
    val_tokens: heldOut.tokens,
    val_ppl: round(heldOut.valPpl, 4),
    unigram_ppl: round(heldOut.unigramPpl, 4),
    ratio: round(heldOut.valPpl / heldOut.unigramPpl, 4),
    agrees_with_pretrain_summary: agrees,
    seconds: round((performance.now() - t0) / 1000, 1),
  });

  // 3. A GPT-2-small-shaped checkpoint with random weights, loaded like any downloaded one.
  t0 = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'userip-bench-lm-'));
  let gpt2Speed: Throughput;
  try {
    await writeRandomGpt2(dir, GPT2_SMALL, 0);
    rt = new Runtime({ threads });
    const gpt2 = await CausalLm.load(dir, { runtime: rt });
    for (const [key, value] of Object.entries(GPT2_SMALL)) {
      const loaded = (gpt2.config as unknown as Record<string, unknown>)[key];
      if (loaded !== value) throw new Error(`the written GPT-2-small checkpoint loads with ${key} = ${String(loaded)}, not ${String(value)}`);
    }
    const written = round((performance.now() - t0) / 1000, 1);
    gpt2Speed = await throughput(gpt2, tokenizeCorpusText(validText, gpt2.tokenizer), 5);
    await rt.close();
    emit({
      bench: 'lm',
      event: 'throughput',
      threads,
      model: 'gpt2-small shape, random weights',
      batch: BATCH,
      seq: SEQ,
      ...gpt2Speed,
      write_and_load_seconds: written,
      peak_rss_mb: peakRssMb(),
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  emit({
    bench: 'lm',
    threads,
    batch: BATCH,
    seq: SEQ,
    house_params: houseSpeed.params,
    house_fwd_tokens_per_s: houseSpeed.fwd_tokens_per_s,
    house_tune_steps_per_s: houseSpeed.tune_steps_per_s,
    gpt2_small_params: gpt2Speed.params,
    gpt2_small_fwd_tokens_per_s: gpt2Speed.fwd_tokens_per_s,
    gpt2_small_tune_steps_per_s: gpt2Speed.tune_steps_per_s,
    val_ppl: round(heldOut.valPpl, 4),
    unigram_ppl: round(heldOut.unigramPpl, 4),
    agrees_with_pretrain_summary: agrees,
    load_avg_1m_at_start: round(load, 2),
    seconds: round((performance.now() - started) / 1000, 1),
    peak_rss_mb: peakRssMb(),
  });
}
