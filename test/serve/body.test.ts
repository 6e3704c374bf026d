/**
 * The scoring body read from its bytes (`ScoreBodyReader`): on every body it accepts it must give
 * what JSON.parse, the schema and the feature map's lookup give; everything else it must leave to
 * them (undefined), valid or not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../src/engine/index.js';
import { ScoreBodyReader } from '../../src/serve/body.js';

const CATALOG = ['1', '10', '2', '29', '300', 'a-b_c', 'item 7', 'x:y', '0', '-4', '123456789012345', 'dup', 'dup'];
const LIMITS = { maxItems: 20, maxIdLength: 16 };
const reader = new ScoreBodyReader(CATALOG, LIMITS);
/** As the feature map builds its item index. */
const indexOf = new Map(CATALOG.map((id, i) => [id, i]));

/** What the JSON path gives for a body the schema accepts: String(user), each item's index (-1 unknown), the unknown ids once each. */
function reference(text: string) {
  const { user, items } = JSON.parse(text) as { user: string | number; items: (string | number)[] };
  const unknown = new Set<string>();
  const indices = items.map((item) => indexOf.get(String(item)) ?? (unknown.add(String(item)), -1));
  return { user: String(user), indices, ids: items.map(String), unknown: [...unknown] };
}

const fresh = { fit: (n: number) => ({ indices: new Int32Array(n), spans: new Int32Array(2 * n) }) };
/** The reader's ask, its ids as the strings their spans hold. */
const read = (text: string) => {
  const ask = reader.read(Buffer.from(text), fresh);
  if (!ask) return undefined;
  const { bytes, spans } = ask.ids;
  const ids = Array.from({ length: ask.indices.length }, (_, i) => Buffer.from(bytes.subarray(spans[2 * i], spans[2 * i + 1])).toString());
  return { user: ask.user, indices: [...ask.indices], ids, unknown: ask.unknown };
};

describe('ScoreBodyReader', () => {
  it('reads plain bodies exactly as JSON.parse and the catalog lookup do', () => {
    const rng = new Rng(7);
    const spaces = ['', ' ', '\n', '\t ', '\r\n  '];
    const space = () => spaces[rng.int(spaces.length)];
    const ids = [...CATALOG, 'nope', 'Z', '7', '99', '1000000', 12, 0, -4, 29, 300, 123456789012345, 41];
    for (let trial = 0; trial < 500; trial++) {
      const items = Array.from({ length: 1 + rng.int(LIMITS.maxItems) }, () => ids[rng.int(ids.length)]);
      const user = rng.int(3) === 0 ? rng.int(1000) - 10 : `u${rng.int(50)}`;
      const members = [`"user"${space()}:${space()}${JSON.stringify(user)}`, `"items"${space()}:${space()}[${items.map((i) => space() + JSON.stringify(i) + space()).join(',')}]`];
      if (rng.int(2) === 0) members.reverse();
      const text = `${space()}{${members.map((m) => space() + m + space()).join(',')}}${space()}`;
      assert.deepEqual(read(text), reference(text), text);
    }
  });

  it('leaves every other body to the JSON parser and the schema', () => {
    const declined = [
      '',
      '[]',
      'null',
      '{}',
      '{"user":"u1"}',
      '{"items":["1"]}',
      '{"user":"u1","items":[]}',
      `{"user":"u1","items":[${Array(LIMITS.maxItems + 1).fill('"1"').join(',')}]}`,
      '{"user":"","items":["1"]}',
      `{"user":"${'x'.repeat(LIMITS.maxIdLength + 1)}","items":["1"]}`,
      '{"user":"u1","items":[""]}',
      '{"user":"u1","items":["1"],"context":{"page":"home"}}',
      '{"user":"u1","items":["1"],"extra":1}',
      '{"user":"u1","user":"u2","items":["1"]}',
      '{"user":"u1","items":["1"],"items":["2"]}',
      '{"user":"u\\u0031","items":["1"]}',
      '{"user":"u1","items":["\\"1"]}',
      '{"user":"ü","items":["1"]}',
      '{"user":"u1","items":["1\t"]}',
      '{"user":-0,"items":["1"]}',
      '{"user":1.0,"items":["1"]}',
      '{"user":1e3,"items":["1"]}',
      '{"user":01,"items":["1"]}',
      '{"user":1234567890123456,"items":["1"]}',
      '{"user":"u1","items":[null]}',
      '{"user":"u1","items":[true]}',
      '{"user":"u1","items":[["1"]]}',
      '{"user":{},"items":["1"]}',
      '{"user":"u1","items":["1",]}',
      '{"user":"u1","items":["1"],}',
      '{"user":"u1","items":["1"]}garbage',
      '{"user":"u1","items":["1"]',
      '{"user":"u1","items":["1"',
      '\uFEFF{"user":"u1","items":["1"]}',
      '{"user" "u1","items":["1"]}',
      '{user:"u1","items":["1"]}',
    ];
    for (const text of declined) assert.equal(reader.read(Buffer.from(text), fresh), undefined, text);
  });

  it('gives a repeated catalog id its last index, as the feature map does', () => {
    assert.deepEqual(read('{"user":"u","items":["dup"]}')!.indices, [CATALOG.lastIndexOf('dup')]);
  });
});
