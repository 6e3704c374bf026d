/**
 * A directory laid out like the demo's outputs, made the way the demo makes them but small and with
 * a tiny random LM instead of the house LM:
 *
 *   <dir>/lm/            tiny GPT-2-layout checkpoint
 *   <dir>/data/          `userip data prepare` on the first `users` MovieLens users
 *   <dir>/profile/       `userip profile tune` (bank.sqlite, profiles.safetensors, config.json)
 *   <dir>/serve-model/   `userip ctr train`: a DCN on user, item, genre and one field per slot, with features.json
 *
 * The serve CLI test uses it; `node -e` can call it to give `npm run bench -- serve <dir>` a stand-in
 * for the demo's outputs.
 */
import { join } from 'node:path';
import { prepareData } from '../../src/data/index.js';
import { tuneRun, tuneSchema } from '../../src/profile/index.js';
import { trainServingModel } from '../../src/features/index.js';
import { writeTinyCheckpoint, type TinyCheckpointOptions } from '../helpers/tinyCheckpoint.js';

export interface DemoLikeOptions {
  users: number;
  /** Profile tuning steps per user (also the lm mode's default EM steps). */
  userSteps?: number;
  behaviourTokens?: number;
  ctrEpochs?: number;
  /** LM shape; the default is tiny. The house LM's shape: hidden 256, 4 layers, GPT-2's 50257 tokens. */
  lm?: Pick<TinyCheckpointOptions, 'hiddenSize' | 'numLayers' | 'numHeads' | 'vocabSize' | 'maxPositions'>;
}

export async function writeDemoLikeRun(dir: string, options: DemoLikeOptions): Promise<void> {
  const lmDir = join(dir, 'lm');
  await writeTinyCheckpoint(lmDir, { architecture: 'gpt2', seed: 4, hiddenSize: 32, numLayers: 2, numHeads: 4, maxPositions: 128, ...options.lm });
  const data = join(dir, 'data');
  await prepareData({ dataset: 'embedded', out: data, threshold: 3, skipBadRows: false, maxUsers: options.users });
  const profile = join(dir, 'profile');
  await tuneRun(tuneSchema.parse({ data, out: profile, lm: lmDir, behaviourTokens: options.behaviourTokens ?? 40, userSteps: options.userSteps ?? 2, emRounds: 2, populationSteps: 4, batchTokens: 512, diagnosticsUsers: 4, lr: 0.05, threads: 1 }));

  await trainServingModel({ data, run: profile, out: join(dir, 'serve-model'), seed: 0, threads: 1, ctr: { epochs: options.ctrEpochs ?? 1 } });
}
