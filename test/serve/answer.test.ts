/** The `/v1/score` answer's bytes: valid JSON of the profile and scores, each probability exactly as `toPrecision(9)` prints it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../src/engine/index.js';
import { idBytesOf, ScoreAnswers, ScoresWriter } from '../../src/serve/answer.js';

const single = new ScoreAnswers();
const bareProfile = { user: 'u', bank_version: 'v1', mode: 'bank', unknown_user: false, source: 'tuned', slots: [] };
/** How an answer of one candidate prints `p`: each answer goes through the WebAssembly writer or, for the probabilities that one leaves, the TypeScript one. */
const printed = (p: number) => {
  const answer = single.write(bareProfile, idBytesOf(['i'], new Int32Array(2)), Float32Array.of(p)).toString('latin1');
  const tail = '}]}';
  assert.ok(answer.endsWith(tail), answer);
  return answer.slice(answer.lastIndexOf(':') + 1, -tail.length);
};

it('prints every probability as toPrecision(9) does', () => {
  const rng = new Rng(5);
  const values = [0, 1, 0.5, 1e-6, 1e-7, 0.1, 0.01, 0.001, 0.99999994, 1.401298464e-45, 3.4028235e38, -0.25];
  // Around each power of ten (where the digit count changes), and uniform and log-uniform draws over (0, 1).
  for (let e = 1; e <= 7; e++) {
    const edge = Math.fround(10 ** -e);
    for (let k = -2000; k <= 2000; k++) values.push(edge + k * 2 ** (-24 - Math.ceil(e * Math.log2(10))));
  }
  for (let i = 0; i < 200_000; i++) values.push(rng.next(), 10 ** (-8 * rng.next()));
  for (const value of values) {
    const p = Math.fround(value);
    assert.equal(printed(p), p.toPrecision(9), `float32 ${p}`);
  }
  for (const p of [NaN, Infinity, -Infinity]) assert.equal(printed(p), 'null');
});

it('writes nearly every probability in [1e-6, 1) in WebAssembly, and leaves the rest', () => {
  const writer = new ScoresWriter();
  const rng = new Rng(7);
  const ids = idBytesOf(['a'], new Int32Array(2));
  let written = 0;
  for (let i = 0; i < 10_000; i++) if (writer.write(ids, Float32Array.of(10 ** (-6 * rng.next())), 64)) written++;
  assert.ok(written >= 9_990, `${written} of 10,000 written`);
  for (const p of [0, 1, 1e-7, NaN, Infinity, -0.5]) assert.equal(writer.write(ids, Float32Array.of(p), 64), undefined, `float32 ${p}`);
});

describe('writes the profile, then one {item, probability} per candidate in request order', () => {
  const ids = (items: (string | number)[]) => idBytesOf(items, new Int32Array(2 * items.length));
  const profile = { user: 'u\u20281', bank_version: 'v1', mode: 'bank', unknown_user: false, source: 'tuned', slots: [{ name: 'hobby', id: 3 }] };
  const items = ['ünïcode', 10, 'a "quoted" id', 'ünïcode'];
  // The first set is the WebAssembly writer's; NaN and 1e-9 leave the second to TypeScript.
  for (const values of [[0.25, 0.123456789, 0.0001, 0.999], [0.25, 0.123456789, 1e-9, NaN]]) {
    it(values.join(', '), () => {
      const answers = new ScoreAnswers();
      const probabilities = Float32Array.from(values);
      const body = answers.write(profile, ids(items), probabilities);
      assert.deepEqual(JSON.parse(body.toString('utf8')), {
        ...profile,
        scores: items.map((item, i) => ({ item: String(item), probability: Number.isNaN(probabilities[i]) ? null : Number(probabilities[i].toPrecision(9)) })),
      });
      assert.equal(answers.write(profile, ids([]), new Float32Array(0)).toString(), JSON.stringify({ ...profile, scores: [] }));
    });
  }
});

it('writes an answer larger than the kernel memory held before it (the memory grows), then a small one', () => {
  const answers = new ScoreAnswers();
  const profile = { ...bareProfile, user: 'big' };
  const items = Array.from({ length: 3000 }, (_, i) => `item-${i}-${'x'.repeat(30)}`);
  for (const n of [3000, 2]) {
    const probabilities = Float32Array.from({ length: n }, (_, i) => ((i % 997) + 1) / 1000);
    const body = answers.write(profile, idBytesOf(items.slice(0, n), new Int32Array(2 * n)), probabilities);
    assert.deepEqual(JSON.parse(body.toString('utf8')), {
      ...profile,
      scores: items.slice(0, n).map((item, i) => ({ item, probability: Number(probabilities[i].toPrecision(9)) })),
    });
  }
});
