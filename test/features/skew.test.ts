/**
 * Train/serve skew: a model trained by the pipeline (`userip ctr train` on a tune run) answers
 * `/v1/score` with the probabilities offline `predict` gives on the same rows, built by the training
 * side of the feature pipeline from the same data and the same bank.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { SqliteFeatureBank } from '../../src/bank/index.js';
import { loadCtrModel } from '../../src/ctr/index.js';
import { loadPrepared } from '../../src/data/index.js';
import { Runtime } from '../../src/engine/index.js';
import { buildVocab, ctrTable, encodeRows, slotIdFields } from '../../src/features/index.js';
import { openServer, serveSchema } from '../../src/serve/index.js';
import { writeDemoLikeRun } from '../serve/demoFixture.js';

let dir: string;
const runtime = new Runtime({ threads: 1 });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'userip-skew-'));
  await writeDemoLikeRun(dir, { users: 12, ctrEpochs: 2 });
});
after(async () => {
  await runtime.close();
  await rm(dir, { recursive: true, force: true });
});

it('/v1/score on a pipeline-trained model equals offline predict on the same rows, to 1e-6', async () => {
  const bankPath = join(dir, 'profile', 'bank.sqlite');
  const prepared = await loadPrepared(join(dir, 'data'));
  const bank = await SqliteFeatureBank.open(bankPath, { readonly: true });
  const ids = new Map<string, number[]>();
  let slots;
  try {
    slots = (await bank.version())!.slots;
    for await (const entry of bank.users()) ids.set(entry.user, entry.ids);
  } finally {
    await bank.close();
  }
  const vocab = buildVocab(prepared.dataset.interactions, prepared.dataset.items);
  const users = [...vocab.users.keys()];
  const columns = slots.map((_, j) => Int32Array.from(users, (u) => ids.get(u)?.[j] ?? -1));
  // Every test interaction of a banked user: the server looks each of them up in the bank.
  const rows = prepared.split.test.filter((i) => ids.has(i.user));
  assert.ok(rows.length > 100, `${rows.length} test rows`);
  const table = ctrTable(encodeRows(rows, vocab, prepared.config.threshold), { sparse: slotIdFields('userip', slots, columns) });
  const { model } = await loadCtrModel(join(dir, 'serve-model'), { runtime });
  const offline = await model.predict(table);

  const opened = await openServer(serveSchema.parse({ model: join(dir, 'serve-model'), bank: bankPath }));
  try {
    const byUser = new Map<string, number[]>();
    rows.forEach((row, r) => byUser.set(row.user, [...(byUser.get(row.user) ?? []), r]));
    assert.ok(byUser.size >= 5, `${byUser.size} users`);
    let worst = 0;
    for (const [user, at] of byUser) {
      const res = await opened.app.inject({ method: 'POST', url: '/v1/score', payload: { user, items: at.map((r) => rows[r].item) } });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.unknown_user, false);
      body.scores.forEach((score: { item: string; probability: number }, k: number) => {
        assert.equal(score.item, rows[at[k]].item);
        worst = Math.max(worst, Math.abs(score.probability - offline[at[k]]));
      });
    }
    assert.ok(worst <= 1e-6, `largest difference ${worst}`);
  } finally {
    await opened.close();
  }
});
