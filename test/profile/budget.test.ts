/** The behaviour-text budget of a tune run is cut so that template plus text fit the LM's context. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { behaviourOptions, tuneSchema } from '../../src/profile/index.js';
import { gpt2Tokenizer } from '../../src/lm/index.js';

const tokenizer = gpt2Tokenizer();
const config = tuneSchema.parse({ data: 'd', out: 'o', behaviourTokens: 500, slots: [{ name: 'hobby', text: 'The user likes', k: 4 }], behaviourPrefix: 'Seen:' });
// Start token, "The user likes", its soft token, ". Seen:\n": counted here from the strings themselves.
const templateLength = 1 + tokenizer.encode('The user likes').length + 1 + tokenizer.encode('. Seen:\n').length;

it('cuts the budget to the context left after the template', () => {
  assert.equal(behaviourOptions(config, tokenizer, 128, 3).maxTokens, 128 - templateLength);
  assert.equal(behaviourOptions(config, tokenizer, 1024, 3).maxTokens, 500);
});

it('refuses a template that fills the context', () => {
  assert.throws(() => behaviourOptions(config, tokenizer, templateLength, 3), /the template takes \d+ tokens, the LM's whole context of \d+/);
});

it('writes the rating as liked or disliked at the data\'s click threshold by default, as a number when asked', () => {
  assert.equal(behaviourOptions(tuneSchema.parse({ data: 'd', out: 'o' }), tokenizer, 1024, 3.5).likedAbove, 3.5);
  assert.equal(behaviourOptions(tuneSchema.parse({ data: 'd', out: 'o', ratingText: 'number' }), tokenizer, 1024, 3.5).likedAbove, undefined);
});
