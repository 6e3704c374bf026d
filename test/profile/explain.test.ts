import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../src/engine/index.js';
import { causalMask, gpt2Tokenizer } from '../../src/lm/index.js';
import { contrastWords, describeCodesWithLm, explainCodes, wordAfter } from '../../src/profile/explain.js';
import { buildPrompt, templateTokens, writeMask, type MaskMode, type Slot } from '../../src/profile/template.js';
import { referenceLogits } from '../helpers/referenceLm.js';
import { tinyLm } from '../helpers/tinyLm.js';

it('ranks attributes by lift against the whole population, with counts by hand', () => {
  // code 0: users 0,1 watch Comedy; code 1: user 2 watches Horror x3 and Comedy x1.
  const attributes = [['Comedy', 'Comedy'], ['Comedy', 'Drama'], ['Horror', 'Horror', 'Horror', 'Comedy']];
  const [c0, c1] = explainCodes([0, 0, 1], 2, attributes, { top: 3, minCount: 1 });
  assert.equal(c0.users, 2);
  assert.equal(c1.users, 1);
  // Population: 8 interactions; Comedy 4, Drama 1, Horror 3.
  // Code 0: 4 interactions; Drama share 1/4, lift (1/4)/(1/8) = 2; Comedy share 3/4, lift (3/4)/(4/8) = 1.5.
  assert.deepEqual(c0.top.map((t) => [t.attribute, t.share, t.lift]), [['Drama', 0.25, 2], ['Comedy', 0.75, 1.5]]);
  // Code 1: Horror share 3/4, lift (3/4)/(3/8) = 2; Comedy share 1/4, lift 0.5.
  assert.deepEqual(c1.top.map((t) => [t.attribute, t.lift]), [['Horror', 2], ['Comedy', 0.5]]);
});

it('drops attributes below the minimum count and handles an empty code', () => {
  const [c0, c1] = explainCodes([0, 0], 2, [['A', 'B'], ['A']], { top: 5, minCount: 2 });
  assert.deepEqual(c0.top.map((t) => t.attribute), ['A']);
  assert.deepEqual(c1, { code: 1, users: 0, top: [] });
});

it('contrastWords ranks plausible words by log-probability against the mean over codes, by hand', () => {
  // Three codes over five tokens (probabilities; each row's log is what the LM gives).
  const rows = [
    [0.5, 0.2, 0.2, 0.0999, 0.0001],
    [0.25, 0.25, 0.25, 0.2499, 0.0001],
    [0.25, 0.25, 0.4, 0.0999, 0.0001],
  ].map((p) => Float32Array.from(p, Math.log));
  const names = ['a', 'b', 'c', 'd', 'e'];
  const word = (t: number) => names[t];
  const contrast = (c: number, t: number) => rows[c][t] - rows.reduce((s, r) => s + r[t], 0) / 3;
  // Geometric means over the codes: a .315, b .232, c .271, d .136, e .0001 (all codes equal: contrast 0, never listed).
  // Code 0 beats them only on a; code 1 on d (x1.84) then b (x1.08); code 2 on c (x1.47) then b.
  const [c0, c1, c2] = contrastWords(rows, { words: 5, minRelativeProb: 0, word });
  assert.deepEqual(c0, [{ word: 'a', token: 0, contrast: contrast(0, 0) }]);
  assert.ok(Math.abs(c0[0].contrast - Math.log(0.5 / Math.cbrt(0.5 * 0.25 * 0.25))) < 1e-6);
  assert.deepEqual(c1.map((w) => [w.word, w.contrast]), [['d', contrast(1, 3)], ['b', contrast(1, 1)]]);
  assert.deepEqual(c2.map((w) => w.word), ['c', 'b']);
  assert.deepEqual(contrastWords(rows, { words: 1, minRelativeProb: 0, word })[1].map((w) => w.word), ['d']);
  // Tokens that are not words are skipped, not counted.
  assert.deepEqual(contrastWords(rows, { words: 1, minRelativeProb: 0, word: (t) => (t === 3 ? undefined : names[t]) })[1].map((w) => w.word), ['b']);
  // Plausibility floor: at 0.9 of code 1's best probability (0.25) d (0.2499) stays; at 1 only the ties at 0.25 do.
  assert.deepEqual(contrastWords(rows, { words: 5, minRelativeProb: 0.9, word })[1].map((w) => w.word), ['d', 'b']);
  assert.deepEqual(contrastWords(rows, { words: 5, minRelativeProb: 1, word })[1].map((w) => w.word), ['b']);
  // A word two tokens decode to is listed once, at its better token.
  assert.deepEqual(contrastWords(rows, { words: 5, minRelativeProb: 0, word: (t) => (t === 1 || t === 3 ? 'x' : undefined) })[1], [
    { word: 'x', token: 3, contrast: contrast(1, 3) },
  ]);
});

it('wordAfter keeps whole words that start a new word after the given text', () => {
  const tokenizer = gpt2Tokenizer();
  const id = (s: string) => {
    const ids = tokenizer.encode(s);
    assert.equal(ids.length, 1, `${JSON.stringify(s)} is one token`);
    return ids[0];
  };
  const afterWord = wordAfter(tokenizer, tokenizer.encode('a'));
  assert.equal(afterWord(id(' Horror')), 'Horror');
  assert.equal(afterWord(id('ified')), undefined, 'a word piece glued to the previous word');
  assert.equal(afterWord(id(' (')), undefined);
  assert.equal(afterWord(id(' a')), undefined, 'one letter');
  assert.equal(afterWord(id(' 1995')), undefined);
  const afterLine = wordAfter(tokenizer, tokenizer.encode('watched:\n'));
  assert.equal(afterLine(id('Toy')), 'Toy', 'after a newline every token starts a word');
});

describe('describeCodesWithLm on a tiny GPT-2, against the reference forward', () => {
  const tiny = tinyLm('userip-explain-', { architecture: 'gpt2', seed: 17, maxPositions: 48 }, { amplify: 8 });

  const slots: Slot[] = [
    { name: 'hobby', text: 'the cat is', k: 2 },
    { name: 'background', text: 'the movie is', k: 2 },
  ];

  const logSoftmaxLast = (logits: Float64Array, T: number, V: number) => {
    const row = Array.from(logits.subarray((T - 1) * V, T * V));
    const max = Math.max(...row);
    const z = Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0)) + max;
    return row.map((x) => x - z);
  };
  /** The top `n` accepted tokens by contrast (> 0) of each code, one word once. */
  const expectedWords = (lps: number[][], accept: (t: number) => string | undefined, n: number) =>
    lps.map((lp) => {
      const contrast = lp.map((x, t) => x - lps.reduce((s, r) => s + r[t], 0) / lps.length);
      const order = contrast.map((_, t) => t).filter((t) => contrast[t] > 0 && accept(t) !== undefined);
      order.sort((a, b) => contrast[b] - contrast[a]);
      const words: { word: string; contrast: number }[] = [];
      for (const t of order) if (words.length < n && !words.some((w) => w.word === accept(t))) words.push({ word: accept(t)!, contrast: contrast[t] });
      return words;
    });

  for (const mode of ['paper', 'causal'] as MaskMode[]) {
    it(`${mode} mask: words, behaviour words and continuation of slot 1 come from the soft token's training context`, async () => {
      const D = tiny.checkpoint.config.hiddenSize;
      const V = tiny.checkpoint.config.vocabSize;
      const template = templateTokens(tiny.lm.tokenizer, slots, 'the world');
      const rng = new Rng(3);
      const centroids = new Float32Array(2 * D);
      rng.fillNormal(centroids, 1);
      const fill = [new Float32Array(D), new Float32Array(D)];
      rng.fillNormal(fill[0], 1);
      const got = await describeCodesWithLm(tiny.lm, template, mode, 1, centroids, fill, { tokens: 5, words: 3, noRepeatNgram: 0, minRelativeProb: 0 });

      // Slot 1's soft token in training: under the paper mask it sees the start token and its own
      // name, under the causal mask everything before it (slot 0's soft token holding fill[0]); at
      // the positions these have in the full prompt, with causal attention among them.
      const n0 = template.names[0].length;
      const n1 = template.names[1].length;
      const slot1 = range(n1 + 1, n0 + 2);
      const positions = mode === 'paper' ? [0, ...slot1] : range(n0 + n1 + 3);
      const tokensAt = [template.start, ...template.names[0], -1, ...template.names[1], -1];
      const embedsFor = (c: number) => {
        const out: number[] = [];
        for (const p of positions) {
          const t = tokensAt[p];
          out.push(...(t >= 0 ? tiny.lm.embedTokens([t]) : p === n0 + 1 ? fill[0] : centroids.subarray(c * D, (c + 1) * D)));
        }
        return out;
      };
      const T = positions.length;
      const lps = [0, 1].map((c) => logSoftmaxLast(referenceLogits(tiny.checkpoint.config, tiny.checkpoint.weights, { inputsEmbeds: embedsFor(c), attentionMask: causalMask(T), positionIds: positions }), T, V));
      // Word tokens of the fixture vocabulary after a word: the Ġ-prefixed whole words.
      const spaced = new Map(['Ġthe', 'Ġcat', 'Ġis', 'Ġmovie', 'Ġworld'].map((w) => [tiny.checkpoint.vocab[w], w.slice(1)]));
      const expected = expectedWords(lps, (t) => spaced.get(t), 3);
      for (const c of [0, 1]) {
        assert.deepEqual(got[c].words.map((w) => w.word), expected[c].map((w) => w.word), `code ${c}`);
        got[c].words.forEach((w, i) => assert.ok(Math.abs(w.contrast - expected[c][i].contrast) < 1e-3, `${w.word}: ${w.contrast} vs ${expected[c][i].contrast}`));
      }
      // With two codes the contrasts are opposite, so the lists are disjoint; both must be non-empty.
      assert.ok(got[0].words.length > 0 && got[1].words.length > 0);
      assert.ok(!got[0].words.some((w) => got[1].words.some((v) => v.word === w.word)));

      // Behaviour words: the whole prompt with behaviour empty, scored at its last (prefix) token, under the training mask.
      const prompt = buildPrompt(template, []);
      const P = prompt.tokens.length;
      const mask = new Float32Array(P * P);
      writeMask(prompt, mode, P, mask);
      const fullEmbeds = (c: number) =>
        prompt.tokens.flatMap((t, p) => Array.from(t >= 0 ? tiny.lm.embedTokens([t]) : p === prompt.softPositions[0] ? fill[0] : centroids.subarray(c * D, (c + 1) * D)));
      const blps = [0, 1].map((c) => logSoftmaxLast(referenceLogits(tiny.checkpoint.config, tiny.checkpoint.weights, { inputsEmbeds: fullEmbeds(c), attentionMask: mask, positionIds: range(P) }), P, V));
      const bexpected = expectedWords(blps, wordAfter(tiny.lm.tokenizer, template.prefix), 3);
      for (const c of [0, 1]) assert.deepEqual(got[c].behaviour_words.map((w) => w.word), bexpected[c].map((w) => w.word), `behaviour, code ${c}`);
      assert.ok(got[0].behaviour_words.length > 0 && got[1].behaviour_words.length > 0);

      // The continuation: reference greedy from the same context, the generated tokens at the next positions.
      for (const c of [0, 1]) {
        let embeds = embedsFor(c);
        const pos = [...positions];
        const ids: number[] = [];
        while (ids.length < 5) {
          const n = pos.length;
          const logits = referenceLogits(tiny.checkpoint.config, tiny.checkpoint.weights, { inputsEmbeds: embeds, attentionMask: causalMask(n), positionIds: pos });
          const lp = logSoftmaxLast(logits, n, V);
          const next = lp.indexOf(Math.max(...lp));
          if (next === tiny.checkpoint.config.eosTokenId) break;
          ids.push(next);
          embeds = [...embeds, ...tiny.lm.embedTokens([next])];
          pos.push(pos[n - 1] + 1);
        }
        assert.equal(got[c].continuation, tiny.lm.tokenizer.decode(ids), `continuation of code ${c}`);
      }
    });
  }
});

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);
