/** The `/v1/score` answer's bytes: valid JSON of the profile and scores, each probability exactly as `toPrecision(9)` prints it. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Rng } from '../../src/engine/index.js';
import { idBytesOf, ScoreAnswers, writeProbability } from '../../src/serve/answer.js';

const printed = (p: number) => {
  const out = Buffer.alloc(32);
  return out.toString('latin1', 0, writeProbability(out, 0, p));
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

it('writes the profile, then one {item, probability} per candidate in request order', () => {
  const answers = new ScoreAnswers();
  const ids = (items: (string | number)[]) => idBytesOf(items, new Int32Array(2 * items.length));
  const profile = { user: 'u\u20281', bank_version: 'v1', mode: 'bank', unknown_user: false, source: 'tuned', slots: [{ name: 'hobby', id: 3 }] };
  const probabilities = Float32Array.from([0.25, 0.123456789, 1e-9, NaN]);
  const body = answers.write(profile, ids(['ünïcode', 10, 'a "quoted" id', 'ünïcode']), probabilities);
  assert.deepEqual(JSON.parse(body.toString('utf8')), {
    ...profile,
    scores: [
      { item: 'ünïcode', probability: Number(probabilities[0].toPrecision(9)) },
      { item: '10', probability: Number(probabilities[1].toPrecision(9)) },
      { item: 'a "quoted" id', probability: Number(probabilities[2].toPrecision(9)) },
      { item: 'ünïcode', probability: null },
    ],
  });
  assert.equal(answers.write(profile, ids([]), new Float32Array(0)).toString(), JSON.stringify({ ...profile, scores: [] }));
});
