/**
 * `lm adapt` on a tiny random GPT-2 and a 12-user slice of MovieLens latest-small: the held-out
 * behaviour NLL falls; only included users' train rows reach train.txt; a run stopped with
 * `stopAfter` and resumed ends with the weights of an uninterrupted run; the result is a new model
 * (its own id) that `profile tune` takes.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { behaviourLines, loadPrepared, prepareData, type Interaction, type Prepared } from '../../src/data/index.js';
import { adapt, splitCorpusDocuments, type AdaptOptions, type AdaptResult } from '../../src/houselm/index.js';
import { CausalLm } from '../../src/lm/index.js';
import { openSafetensors } from '../../src/io/index.js';
import { tuneRun, tuneSchema } from '../../src/profile/index.js';
import { writeTinyCheckpoint } from '../helpers/tinyCheckpoint.js';

const PREFIX = 'Recently the user watched:';

async function modelWeights(dir: string): Promise<Map<string, Float32Array>> {
  const reader = await openSafetensors(join(dir, 'model.safetensors'));
  try {
    const out = new Map<string, Float32Array>();
    for (const name of reader.tensors.keys()) out.set(name, await reader.readFloat32(name));
    return out;
  } finally {
    await reader.close();
  }
}

/** Each line of every document, the prefix lines left out. */
function corpusLines(text: string): string[] {
  return splitCorpusDocuments(text).flatMap((doc) => {
    const [head, ...lines] = doc.split('\n');
    assert.equal(head, PREFIX, 'every document starts with the behaviour prefix');
    return lines;
  });
}

function counts(lines: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of lines) out.set(line, (out.get(line) ?? 0) + 1);
  return out;
}

describe('lm adapt (tiny GPT-2, 12 MovieLens users)', () => {
  let root: string;
  let base: string;
  let data: string;
  let prepared: Prepared;
  let excluded: string[];
  let full: AdaptResult & { finished: true };
  const settings = (out: string, extra: Partial<AdaptOptions> = {}): AdaptOptions => ({
    lm: base,
    data,
    out,
    excludeUsers: join(root, 'cold-users.txt'),
    behaviourFormat: 'title',
    steps: 12,
    batch: 4,
    lr: 1e-2,
    warmup: 2,
    evalEvery: 0,
    checkpointEvery: 5,
    threads: 1,
    ...extra,
  });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'userip-adapt-'));
    base = join(root, 'base');
    data = join(root, 'data');
    await writeTinyCheckpoint(base, { architecture: 'gpt2', seed: 7, hiddenSize: 32, numLayers: 2, numHeads: 4, maxPositions: 128 });
    await prepareData({ dataset: 'embedded', out: data, threshold: 3, skipBadRows: false, maxUsers: 12 });
    prepared = await loadPrepared(data);
    const withValidation = [...new Set(prepared.split.valid.map((row) => row.user))];
    excluded = [withValidation[1], withValidation[3]];
    await writeFile(join(root, 'cold-users.txt'), `${excluded.join('\n')}\n\n`);
    const result = await adapt(settings(join(root, 'full')), 'userip lm adapt (test)');
    assert.ok(result.finished);
    full = result;
  });
  after(() => rm(root, { recursive: true, force: true }));

  test('lowers the held-out behaviour NLL and reports what it was adapted on', () => {
    const s = full.summary;
    assert.ok(s.heldout_nll_after < s.heldout_nll_before - 0.1, `held-out NLL ${s.heldout_nll_before} -> ${s.heldout_nll_after}`);
    assert.equal(s.excluded_users, 2);
    assert.equal(s.excluded_users_in_data, 2);
    assert.equal(s.train.users, 10);
    assert.equal(s.steps, 12);
    assert.equal(s.tokens_seen, 12 * 4 * 128);
    assert.equal(s.base.dir, base);
  });

  test('train.txt holds exactly the included users\' train rows; no validation, test or excluded rows', async () => {
    const isExcluded = (row: Interaction) => excluded.includes(row.user);
    // The tune settings' defaults: titles, ratings written as liked / disliked at the data's threshold.
    const options = { countTokens: () => 0, itemFields: ['title'] as const, ratings: true, likedAbove: prepared.config.threshold };
    const linesOf = (rows: readonly Interaction[]) => [...behaviourLines(rows, prepared.dataset.items, options).values()].flat();
    const train = await readFile(join(root, 'full', 'corpus', 'train.txt'), 'utf8');
    const valid = await readFile(join(root, 'full', 'corpus', 'valid.txt'), 'utf8');
    const included = prepared.split.train.filter((row) => !isExcluded(row));

    assert.equal(splitCorpusDocuments(train).length, new Set(included.map((row) => row.user)).size);
    assert.deepEqual(counts(corpusLines(train)), counts(linesOf(included)));
    assert.deepEqual(counts(corpusLines(valid)), counts(linesOf(prepared.split.valid.filter((row) => !isExcluded(row)))));

    // Lines that only a forbidden row produces: none may appear (and there must be some to look for).
    const allowed = new Set(linesOf(included));
    const forbidden = [...prepared.split.valid, ...prepared.split.test, ...prepared.split.train.filter(isExcluded)];
    const tell = linesOf(forbidden).filter((line) => !allowed.has(line));
    assert.ok(tell.length > 20, `only ${tell.length} lines to look for`);
    const written = new Set(corpusLines(train));
    assert.deepEqual(tell.filter((line) => written.has(line)), []);
  });

  test('a run stopped with stopAfter and resumed ends with the uninterrupted run\'s weights', async () => {
    const out = join(root, 'resumed');
    const stopped = await adapt(settings(out, { stopAfter: 5 }), 'first');
    assert.equal(stopped.finished, false);
    assert.equal(stopped.step, 5);
    const resumed = await adapt(settings(out), 'second');
    assert.ok(resumed.finished);
    assert.equal(resumed.summary.heldout_nll_before, full.summary.heldout_nll_before);
    assert.equal(resumed.summary.heldout_nll_after, full.summary.heldout_nll_after);
    assert.deepEqual(await modelWeights(out), await modelWeights(join(root, 'full')));

    // The checkpoint belongs to this text: other excluded users may not continue it.
    await writeFile(join(root, 'fewer.txt'), `${excluded[0]}\n`);
    await assert.rejects(adapt(settings(out, { excludeUsers: join(root, 'fewer.txt') }), 'third'), /other behaviour text/);
  });

  test('the result loads as a new model, with its own id, and profile tune takes it', async () => {
    const [original, adapted] = [await CausalLm.load(base), await CausalLm.load(join(root, 'full'))];
    assert.notEqual(adapted.id, original.id);
    assert.equal(full.summary.model.id, adapted.id);
    assert.equal(full.summary.base.id, original.id);
    assert.deepEqual(adapted.config, original.config);

    const tuned = await tuneRun(
      tuneSchema.parse({ data, out: join(root, 'tune'), lm: join(root, 'full'), behaviourTokens: 40, populationSteps: 2, userSteps: 1, emRounds: 1, batchTokens: 512, diagnosticsUsers: 0, threads: 1 }),
    );
    assert.equal(tuned.lm, adapted.id);
    assert.equal(tuned.users, 12);
  });
});
