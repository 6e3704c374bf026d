/**
 * The behaviour every FeatureBank store must show. A store's test file calls
 * `featureBankContract(name, makeBank)`; `makeBank` returns a fresh, empty bank each time.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { FeatureBankError, versionId, type BankVersion, type FeatureBank, type ProfileEntry } from '../../src/bank/index.js';

export const VERSION: BankVersion = {
  lm_id: 'house-lm@1',
  config_hash: 'c0ffee',
  codebook_hash: 'b00c',
  slots: [
    { name: 'hobby', k: 4 },
    { name: 'background', k: 3 },
  ],
  created_at: '2024-01-01T00:00:00.000Z',
};

export const OTHER_VERSION: BankVersion = { ...VERSION, codebook_hash: 'feed', created_at: '2024-02-01T00:00:00.000Z' };

/** A deterministic valid entry for user `u<i>`. */
export const entryFor = (i: number): ProfileEntry => ({ user: `u${i}`, ids: [i % 4, (i * 7) % 3], source: i % 5 === 0 ? 'cold-start' : 'tuned' });

async function collect(bank: FeatureBank): Promise<ProfileEntry[]> {
  const all: ProfileEntry[] = [];
  for await (const entry of bank.users()) all.push(entry);
  return all;
}

const byUser = (a: ProfileEntry, b: ProfileEntry) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0);

export function featureBankContract(name: string, makeBank: () => Promise<FeatureBank>): void {
  /** A fresh bank closed after the test; stamped with VERSION unless told otherwise. */
  async function bankFor(t: TestContext, stamp = true): Promise<FeatureBank> {
    const bank = await makeBank();
    t.after(() => bank.close());
    if (stamp) await bank.setVersion(VERSION);
    return bank;
  }

  describe(`FeatureBank contract: ${name}`, () => {
    test('a new bank is empty and has no version', async (t) => {
      const bank = await bankFor(t, false);
      assert.equal(await bank.version(), undefined);
      assert.equal(await bank.count(), 0);
      assert.equal(await bank.get('u1'), undefined);
      assert.deepEqual(await bank.getMany(['u1', 'u2']), [undefined, undefined]);
      assert.deepEqual(await collect(bank), []);
    });

    test('putMany before setVersion is an error and writes nothing', async (t) => {
      const bank = await bankFor(t, false);
      await assert.rejects(bank.putMany([entryFor(1)]), { name: 'FeatureBankError', message: /setVersion/ });
      assert.equal(await bank.count(), 0);
    });

    test('the version reads back as stored, and its id ignores created_at', async (t) => {
      const bank = await bankFor(t);
      assert.deepEqual(await bank.version(), VERSION);
      const id = versionId(VERSION);
      assert.match(id, /^[0-9a-f]{16}$/);
      const later: BankVersion = { ...VERSION, created_at: '2030-01-01T00:00:00.000Z' };
      assert.equal(versionId(later), id);
      assert.notEqual(versionId(OTHER_VERSION), id);
      assert.notEqual(versionId({ ...VERSION, lm_id: 'gpt2' }), id);
      assert.notEqual(versionId({ ...VERSION, config_hash: 'other' }), id);
    });

    test('entries round-trip, with and without a source', async (t) => {
      const bank = await bankFor(t);
      const entries: ProfileEntry[] = [
        { user: 'alice', ids: [3, 2], source: 'tuned' },
        { user: 'bob', ids: [0, 0], source: 'cold-start' },
        { user: 'carol, "the third"', ids: [1, 1] },
      ];
      await bank.putMany(entries);
      assert.equal(await bank.count(), 3);
      for (const entry of entries) assert.deepEqual(await bank.get(entry.user), entry);
      assert.equal('source' in (await bank.get('carol, "the third"'))!, false);
    });

    test('getMany answers in the asked order, undefined for unknown users, repeats included', async (t) => {
      const bank = await bankFor(t);
      await bank.putMany([entryFor(1), entryFor(2), entryFor(3)]);
      assert.deepEqual(await bank.getMany(['u3', 'nobody', 'u1', 'u3', 'u2', '']), [
        entryFor(3),
        undefined,
        entryFor(1),
        entryFor(3),
        entryFor(2),
        undefined,
      ]);
      assert.deepEqual(await bank.getMany([]), []);
    });

    test('putMany replaces the entry of a user already in the bank', async (t) => {
      const bank = await bankFor(t);
      await bank.putMany([{ user: 'u1', ids: [1, 1], source: 'cold-start' }]);
      await bank.putMany([{ user: 'u1', ids: [2, 0], source: 'tuned' }]);
      assert.equal(await bank.count(), 1);
      assert.deepEqual(await bank.get('u1'), { user: 'u1', ids: [2, 0], source: 'tuned' });
    });

    test('invalid entries are refused with the user, slot and value named', async (t) => {
      const bank = await bankFor(t);
      const cases: [ProfileEntry, RegExp][] = [
        [{ user: 'u1', ids: [4, 0] }, /user "u1": slot hobby id 4 is not an integer in \[0, 4\)/],
        [{ user: 'u2', ids: [0, 3] }, /user "u2": slot background id 3 is not an integer in \[0, 3\)/],
        [{ user: 'u3', ids: [-1, 0] }, /user "u3": slot hobby id -1/],
        [{ user: 'u4', ids: [0, 1.5] }, /user "u4": slot background id 1.5/],
        [{ user: 'u5', ids: [Number.NaN, 0] }, /user "u5": slot hobby id NaN/],
        [{ user: 'u6', ids: ['1' as unknown as number, 0] }, /user "u6": slot hobby id 1 is not an integer/],
        [{ user: 'u7', ids: [0] }, /user "u7": expected 2 ids \(hobby, background\), got 1/],
        [{ user: 'u8', ids: [0, 0, 0] }, /user "u8": expected 2 ids/],
        [{ user: '', ids: [0, 0] }, /user must be a non-empty string/],
        [{ user: 'u9', ids: [0, 0], source: 'guessed' as 'tuned' }, /user "u9": source must be one of tuned, cold-start/],
      ];
      for (const [entry, message] of cases) {
        await assert.rejects(bank.putMany([entry]), { name: 'FeatureBankError', message }, JSON.stringify(entry));
      }
      await assert.rejects(bank.putMany([entryFor(1), entryFor(1)]), { message: /user "u1" appears more than once/ });
      assert.equal(await bank.count(), 0);
    });

    test('putMany is all or nothing: one bad entry and the batch writes nothing', async (t) => {
      const bank = await bankFor(t);
      await bank.putMany([entryFor(1), entryFor(2)]);
      const batch = [{ user: 'u1', ids: [0, 0] }, entryFor(10), { user: 'bad', ids: [0, 9] }, entryFor(11)];
      await assert.rejects(bank.putMany(batch), { message: /user "bad": slot background id 9/ });
      assert.equal(await bank.count(), 2);
      assert.deepEqual(await bank.getMany(['u1', 'u2', 'u10', 'u11']), [entryFor(1), entryFor(2), undefined, undefined]);
    });

    test('lookup gives the entry with the version, and follows this bank\'s own writes', async (t) => {
      const bank = await bankFor(t, false);
      assert.deepEqual(await bank.lookup('u1'), { entry: undefined, version: undefined });
      await bank.setVersion(VERSION);
      assert.deepEqual(await bank.lookup('u1'), { entry: undefined, version: VERSION });
      await bank.putMany([entryFor(1)]);
      assert.deepEqual(await bank.lookup('u1'), { entry: entryFor(1), version: VERSION });
      await bank.putMany([{ ...entryFor(1), ids: [3, 2] }]);
      assert.deepEqual((await bank.lookup('u1')).entry?.ids, [3, 2]);
      await bank.setVersion(OTHER_VERSION, { replace: true });
      assert.deepEqual(await bank.lookup('u1'), { entry: undefined, version: OTHER_VERSION });
    });

    test('a different version is refused on a non-empty bank, naming both ids; replace clears the entries', async (t) => {
      const bank = await bankFor(t);
      await bank.putMany([entryFor(1)]);
      await assert.rejects(bank.setVersion(OTHER_VERSION), (error: Error) => {
        assert.ok(error instanceof FeatureBankError);
        assert.ok(error.message.includes(versionId(VERSION)) && error.message.includes(versionId(OTHER_VERSION)), error.message);
        assert.match(error.message, /replace: true/);
        return true;
      });
      assert.deepEqual(await bank.version(), VERSION);
      assert.equal(await bank.count(), 1);

      await bank.setVersion(OTHER_VERSION, { replace: true });
      assert.deepEqual(await bank.version(), OTHER_VERSION);
      assert.equal(await bank.count(), 0);
      assert.equal(await bank.get('u1'), undefined);
    });

    test('the same version again keeps entries and the first record, so cold-start users can be added', async (t) => {
      const bank = await bankFor(t);
      await bank.putMany([entryFor(1)]);
      await bank.setVersion({ ...VERSION, created_at: '2025-06-01T00:00:00.000Z' });
      await bank.putMany([{ user: 'new', ids: [1, 2], source: 'cold-start' }]);
      assert.deepEqual(await bank.version(), VERSION);
      assert.equal(await bank.count(), 2);
      assert.deepEqual(await bank.get('u1'), entryFor(1));
    });

    test('a different version on an empty bank needs no replace', async (t) => {
      const bank = await bankFor(t);
      await bank.setVersion(OTHER_VERSION);
      assert.deepEqual(await bank.version(), OTHER_VERSION);
    });

    test('the same version id with other slots is an error', async (t) => {
      const bank = await bankFor(t);
      await assert.rejects(bank.setVersion({ ...VERSION, slots: [{ name: 'hobby', k: 8 }] }), {
        name: 'FeatureBankError',
        message: /stored with slots hobby\/4,background\/3 but was given slots hobby\/8/,
      });
    });

    test('invalid versions are refused', async (t) => {
      const bank = await bankFor(t, false);
      const cases: [BankVersion, RegExp][] = [
        [{ ...VERSION, slots: [] }, /slots/],
        [{ ...VERSION, slots: [{ name: 'hobby', k: 0 }] }, /slots\.0\.k/],
        [{ ...VERSION, slots: [{ name: 'hobby', k: 2.5 }] }, /slots\.0\.k/],
        [{ ...VERSION, slots: [{ name: 'a', k: 2 }, { name: 'a', k: 3 }] }, /unique/],
        [{ ...VERSION, slots: [{ name: 'user', k: 2 }] }, /reserved/],
        [{ ...VERSION, slots: [{ name: 'Hobby', k: 2 }] }, /lower-case/],
        [{ ...VERSION, lm_id: '' }, /lm_id/],
      ];
      for (const [version, message] of cases) {
        await assert.rejects(bank.setVersion(version), { name: 'FeatureBankError', message }, JSON.stringify(version));
      }
      assert.equal(await bank.version(), undefined);
    });

    test('users() yields every entry exactly once, across pages, while the bank is used in between', async (t) => {
      const bank = await bankFor(t);
      const entries = Array.from({ length: 2500 }, (_, i) => entryFor(i));
      await bank.putMany(entries);
      const seen: ProfileEntry[] = [];
      for await (const entry of bank.users()) {
        seen.push(entry);
        if (seen.length % 700 === 0) assert.deepEqual(await bank.get(entry.user), entry);
      }
      assert.deepEqual(seen.sort(byUser), [...entries].sort(byUser));
    });

    test('100k users: putMany then getMany in mixed order with unknown users', async (t) => {
      const bank = await bankFor(t);
      const n = 100_000;
      const entries = Array.from({ length: n }, (_, i) => entryFor(i));
      await bank.putMany(entries);
      assert.equal(await bank.count(), n);
      // Every user once, in a scrambled order (7919 is prime to n), with an unknown user every 1000.
      const asked = Array.from({ length: n }, (_, i) => (i % 1000 === 999 ? `missing${i}` : `u${(i * 7919) % n}`));
      const got = await bank.getMany(asked);
      assert.equal(got.length, n);
      for (let i = 0; i < n; i++) {
        if (i % 1000 === 999) assert.equal(got[i], undefined, asked[i]);
        else assert.deepEqual(got[i], entryFor((i * 7919) % n), asked[i]);
      }
    });
  });
}
