/**
 * Profile benchmark: tuning every user of MovieLens latest-small with the house LM (the demo's
 * settings), reporting throughput, validation NLL before and after, and codebook perplexity per slot.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareData } from '../src/data/index.js';
import { readJson } from '../src/io/files.js';
import { tuneRun, tuneSchema } from '../src/profile/index.js';
import { emit, peakRssMb, round } from './util.js';

export async function profileBench(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'userip-bench-profile-'));
  try {
    await prepareData({ dataset: 'embedded', out: join(dir, 'data'), threshold: 3, skipBadRows: false });
    const demo = await readJson<{ tune: object }>('configs/demo.json');
    const summary = await tuneRun(tuneSchema.parse({ ...demo.tune, data: join(dir, 'data'), out: join(dir, 'run'), lm: 'house' }));
    emit({
      bench: 'profile',
      lm: summary.lm,
      users: summary.users,
      em_rounds: summary.history.length,
      steps_per_user: summary.steps_per_user,
      steps: summary.steps,
      seconds: round(summary.seconds),
      users_per_s: round(summary.users_per_s),
      tokens_per_s: round(summary.tokens_per_s),
      val_nll_start: round(summary.val_nll_start, 4),
      val_nll_end: round(summary.val_nll_end, 4),
      codebook_perplexity: Object.fromEntries(summary.codebooks.map((c) => [c.slot, { k: c.k, perplexity: round(c.perplexity, 3) }])),
      peak_rss_mb: peakRssMb(),
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

