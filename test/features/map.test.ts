/** The feature map: built from a training vocabulary, saved next to the model, read back with lookups. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { buildFeatureMap, loadFeatureMap, saveFeatureMap } from '../../src/features/index.js';

const vocab = {
  users: new Map([['alice', 0], ['bob', 1]]),
  items: new Map([['m1', 0], ['m2', 1], ['m3', 2]]),
  attributes: new Map([['Comedy', 0], ['(none)', 1]]),
  itemAttribute: Int32Array.from([0, 1, 0]),
};

it('round-trips through features.json with the default field names', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'userip-features-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const map = buildFeatureMap(vocab, [{ name: 'hobby' }, { name: 'background' }]);
  assert.deepEqual(map.fields, { user: 'user', item: 'item', attribute: 'genre' });
  assert.deepEqual(map.slots, [{ name: 'hobby', field: 'userip_hobby' }, { name: 'background', field: 'userip_background' }]);
  const path = await saveFeatureMap(join(dir, 'model'), map);
  assert.equal(path, join(dir, 'model', 'features.json'));
  assert.deepEqual(await readdir(join(dir, 'model')), ['features.json']);
  const loaded = await loadFeatureMap(join(dir, 'model'));
  assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), map);
  assert.equal(loaded.userIndex.get('bob'), 1);
  assert.equal(loaded.itemIndex.get('m3'), 2);
  assert.deepEqual(loaded.item_attribute, [0, 1, 0]);
  assert.deepEqual(loaded.attributes, ['Comedy', '(none)']);
});

it('takes other field names', () => {
  const map = buildFeatureMap(vocab, [{ name: 'hobby', field: 'p_hobby' }], { attribute: 'category' });
  assert.deepEqual(map.fields, { user: 'user', item: 'item', attribute: 'category' });
  assert.equal(map.slots[0].field, 'p_hobby');
});

it('refuses vocabularies that are not dense, or attributes out of range, or clashing field names', () => {
  assert.throws(() => buildFeatureMap({ ...vocab, users: new Map([['alice', 0], ['bob', 2]]) }, [{ name: 'hobby' }]), /users: index 2 of "bob" is not a unique index in \[0, 2\)/);
  assert.throws(() => buildFeatureMap({ ...vocab, items: new Map([['m1', 0], ['m2', 0], ['m3', 1]]) }, [{ name: 'hobby' }]), /items: index 0 of "m2"/);
  assert.throws(() => buildFeatureMap({ ...vocab, itemAttribute: [0, 2, 0] }, [{ name: 'hobby' }]), /attribute 2 is not below 2/);
  assert.throws(() => buildFeatureMap(vocab, [{ name: 'hobby', field: 'item' }]), /field "item" is named twice/);
  assert.throws(() => buildFeatureMap(vocab, []), /slots/);
});

it('a missing feature map is named with how it is made', async () => {
  await assert.rejects(loadFeatureMap(join(tmpdir(), 'no-such-model-dir')), /cannot read the feature map .*features\.json \(written next to the model by buildFeatureMap \+ saveFeatureMap\)/);
});
