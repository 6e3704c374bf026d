import assert from 'node:assert/strict';
import { it } from 'node:test';
import { gpt2Tokenizer } from '../../src/lm/index.js';
import { MASKED } from '../../src/lm/index.js';
import { buildPrompt, DEFAULT_SLOTS, SOFT_TOKEN, templateTokens, writeMask } from '../../src/profile/template.js';

const tokenizer = gpt2Tokenizer();
const template = templateTokens(tokenizer, DEFAULT_SLOTS, 'Recently the user watched:');
const behaviour = tokenizer.encode('Toy Story (1995); Heat (1995)');

it('lays the soft tokens right after their profile names and predicts only behaviour', () => {
  const p = buildPrompt(template, behaviour);
  assert.equal(p.tokens[0], 50256);
  assert.equal(tokenizer.decode(p.tokens.slice(1, p.softPositions[0])), "The user's hobby is");
  assert.equal(p.tokens[p.softPositions[0]], SOFT_TOKEN);
  assert.equal(tokenizer.decode(p.tokens.slice(p.softPositions[0] + 1, p.softPositions[1])), ". The user's background is");
  assert.equal(tokenizer.decode(p.tokens.slice(p.behaviourStart)), 'Toy Story (1995); Heat (1995)');
  assert.deepEqual(p.tokens.slice(p.behaviourStart), behaviour);
  assert.equal(p.segments[p.softPositions[0]], 1);
  assert.equal(p.segments[p.softPositions[1]], 2);
  assert.equal(p.segments[p.behaviourStart], 3);
});

function maskOf(mode: 'paper' | 'causal', T?: number) {
  const p = buildPrompt(template, behaviour);
  const n = T ?? p.tokens.length;
  const m = new Float32Array(n * n);
  writeMask(p, mode, n, m);
  return { p, n, allowed: (i: number, j: number) => m[i * n + j] === 0, m };
}

it('paper mask: a soft token sees only its own profile name, itself and the start token', () => {
  const { p, allowed } = maskOf('paper');
  const [h, b] = p.softPositions;
  for (let j = 0; j < p.tokens.length; j++) {
    assert.equal(allowed(h, j), j <= h, `hobby token vs position ${j}`);
    const inOwnName = j === 0 || (j > h && j <= b);
    assert.equal(allowed(b, j), inOwnName, `background token vs position ${j}`);
  }
  // The background name's tokens do not see the hobby slot either (no indirect path).
  assert.equal(allowed(h + 1, h), false);
  assert.equal(allowed(h + 1, 1), false);
  // Behaviour tokens see everything before them and nothing after.
  const last = p.tokens.length - 1;
  for (let j = 0; j <= last; j++) assert.equal(allowed(p.behaviourStart, j), j <= p.behaviourStart);
  assert.equal(allowed(last, h), true);
});

it('causal mask is plain lower-triangular', () => {
  const { n, allowed } = maskOf('causal');
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) assert.equal(allowed(i, j), j <= i);
});

it('padding rows attend only to themselves and the block is fully written', () => {
  const { p, n, m } = maskOf('paper', buildPrompt(template, behaviour).tokens.length + 3);
  for (let i = p.tokens.length; i < n; i++) {
    for (let j = 0; j < n; j++) assert.equal(m[i * n + j], i === j ? 0 : MASKED);
  }
  for (let i = 0; i < p.tokens.length; i++) for (let j = p.tokens.length; j < n; j++) assert.equal(m[i * n + j], MASKED);
});
