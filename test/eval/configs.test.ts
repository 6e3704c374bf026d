/** Every experiment file under configs/ is one `userip demo --config` reads: its data, tune and compare settings parse. */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { prepareSchema } from '../../src/data/index.js';
import { compareSchema, demoTuneConfig, readDemoConfig } from '../../src/eval/index.js';

const CONFIGS = fileURLToPath(new URL('../../../configs', import.meta.url));

test('each experiment config parses into data, tune and compare settings', async () => {
  const files = (await readdir(CONFIGS, { recursive: true })).filter((f) => f.endsWith('.json'));
  assert.ok(files.includes('demo.json') && files.includes('amazon.json'), files.join(', '));
  for (const file of files) {
    const config = await readDemoConfig(join(CONFIGS, file));
    prepareSchema.parse({ ...config.data, out: 'o' });
    demoTuneConfig(config, 'd', 'r');
    compareSchema.parse({ ...config.compare, data: 'd', run: 'r', out: 'o' });
  }
});

test('the Amazon run reads its reviews from ../shared/data and tunes on review text', async () => {
  const amazon = await readDemoConfig(join(CONFIGS, 'amazon.json'));
  assert.match(amazon.data?.dataset ?? '', /^\.\.\/shared\/data\/amazon-musical-instruments-5core-2014$/);
  assert.equal(demoTuneConfig(amazon, 'd', 'r').behaviourSource, 'reviews');
});

test('a config with a misspelt key is refused, naming the file and the key', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'userip-configs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'bad.json');
  await writeFile(file, JSON.stringify({ tune: {}, seeds: 1, seed: 2 }));
  await assert.rejects(readDemoConfig(file), /bad\.json: not a demo config:[\s\S]*seed/);
});
