/**
 * A directory laid out like the demo's outputs, made the way the demo makes them but small and with
 * a tiny random LM instead of the house LM:
 *
 *   <dir>/lm/            tiny GPT-2-layout checkpoint
 *   <dir>/data/          `userip data prepare` on the first `users` MovieLens users
 *   <dir>/profile/       `userip profile tune` (bank.sqlite, profiles.safetensors, config.json)
 *   <dir>/serve-model/   a DCN on user, item, genre and one field per slot, with features.json
 *
 * The serve CLI test uses it; `node -e` can call it to give `npm run bench -- serve <dir>` a stand-in
 * for the demo's outputs.
 */
import { join } from 'node:path';
import { SqliteFeatureBank } from '../../src/bank/index.js';
import { loadPrepared, prepareData } from '../../src/cli/data.js';
import { tuneCommand, tuneSchema } from '../../src/cli/profile.js';
import { CtrModel, saveCtrModel, trainCtr } from '../../src/ctr/index.js';
import { clickLabel, indexIds } from '../../src/data/index.js';
import { Runtime } from '../../src/engine/index.js';
import { buildFeatureMap, saveFeatureMap } from '../../src/serve/index.js';
import { writeTinyCheckpoint, type TinyCheckpointOptions } from '../helpers/tinyCheckpoint.js';

export interface DemoLikeOptions {
  users: number;
  /** Profile tuning epochs (also the lm mode's default EM steps). */
  epochs?: number;
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
  const tune = await tuneCommand(tuneSchema.parse({ data, out: profile, lm: lmDir, behaviourTokens: options.behaviourTokens ?? 40, epochs: options.epochs ?? 2, lr: 0.05, threads: 1 }));

  const { dataset, split } = await loadPrepared(data);
  const users = indexIds(dataset.interactions.map((i) => i.user));
  const items = indexIds([...dataset.items.keys(), ...dataset.interactions.map((i) => i.item)]);
  const genreNames = [...items.keys()].map((item) => dataset.items.get(item)?.genres?.[0] ?? '(none)');
  const attributes = indexIds(genreNames);
  const itemAttribute = Int32Array.from(genreNames, (g) => attributes.get(g)!);
  const slots = tune.codebooks.map((c) => ({ name: c.slot, k: c.k }));

  const bank = await SqliteFeatureBank.open(tune.bank, { readonly: true });
  const bankIds = new Map<string, number[]>();
  for await (const entry of bank.users()) bankIds.set(entry.user, entry.ids);
  await bank.close();

  const train = split.train;
  const item = Int32Array.from(train, (i) => items.get(i.item)!);
  const sparse: Record<string, Int32Array> = {
    user: Int32Array.from(train, (i) => users.get(i.user)!),
    item,
    genre: Int32Array.from(item, (i) => itemAttribute[i]),
  };
  slots.forEach((s, j) => (sparse[`userip_${s.name}`] = Int32Array.from(train, (i) => bankIds.get(i.user)?.[j] ?? -1)));
  const schema = {
    sparse: [
      { name: 'user', vocabSize: users.size },
      { name: 'item', vocabSize: items.size },
      { name: 'genre', vocabSize: attributes.size },
      ...slots.map((s) => ({ name: `userip_${s.name}`, vocabSize: s.k })),
    ],
  };
  const runtime = new Runtime({ threads: 1 });
  try {
    const model = new CtrModel({ model: 'dcn', epochs: options.ctrEpochs ?? 1, lr: 3e-3 }, schema, { runtime });
    await trainCtr(model, { sparse, labels: Float32Array.from(train, (i) => (clickLabel(i.rating, 3) ? 1 : 0)) });
    const modelDir = join(dir, 'serve-model');
    await saveCtrModel(model, modelDir, { bankVersion: tune.bank_version });
    await saveFeatureMap(modelDir, buildFeatureMap({ users, items, attributes, itemAttribute }, slots));
  } finally {
    await runtime.close();
  }
}
