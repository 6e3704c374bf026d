import assert from 'node:assert/strict';
import { test } from 'node:test';
import { behaviourText, splitBehaviourText, splitByTime, type Interaction, type ItemInfo } from '../../src/data/index.js';

/** A stand-in tokenizer: one token per whitespace-separated word. */
const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

const items = new Map<string, ItemInfo>([
  ['1', { item: '1', title: 'Toy Story', year: 1995, genres: ['Animation', 'Comedy'] }],
  ['2', { item: '2', title: 'Heat', year: 1995, genres: ['Crime'] }],
  ['3', { item: '3', title: 'Alien', year: 1979 }],
  ['4', { item: '4', title: 'Up', brand: 'Pixar', price: 9.99, description: 'A house flies.' }],
]);

// Input order is not time order.
const history: Interaction[] = [
  { user: 'a', item: '3', rating: 5, timestamp: 30, summary: 'Scary', review: 'In space\nno one hears.' },
  { user: 'a', item: '1', rating: 4, timestamp: 10, review: 'Fun' },
  { user: 'b', item: '9', rating: 2, timestamp: 5 },
  { user: 'a', item: '2', rating: 3, timestamp: 20 },
  { user: 'a', item: '4', rating: 3, timestamp: 40 },
];

test('item text per interaction, in time order, with the configured fields', () => {
  const texts = behaviourText(history, items, { countTokens: words, maxTokens: 1000 });
  assert.equal(
    texts.get('a'),
    'Toy Story (1995); Animation, Comedy\nHeat (1995); Crime\nAlien (1979)\nUp; Pixar; price 9.99',
  );
  // User b's only item is not in the catalog, so there is no text for b.
  assert.deepEqual([...texts.keys()], ['a']);

  const chosen = behaviourText(history, items, { countTokens: words, maxTokens: 1000, itemFields: ['description', 'year'], separator: ' | ' });
  assert.equal(chosen.get('a'), '1995 | 1995 | 1979 | A house flies.');
});

test('ratings end each line, before any review text', () => {
  const rated = behaviourText(history, items, { countTokens: words, maxTokens: 1000, ratings: true, itemFields: ['title'] });
  assert.equal(rated.get('a'), 'Toy Story; rated 4\nHeat; rated 3\nAlien; rated 5\nUp; rated 3');
  // Without catalog text the rating is still behaviour.
  assert.equal(rated.get('b'), 'rated 2');
  const liked = behaviourText(history, items, { countTokens: words, maxTokens: 1000, ratings: true, likedAbove: 3, itemFields: ['title'] });
  assert.equal(liked.get('a'), 'Toy Story; liked\nHeat; disliked\nAlien; liked\nUp; disliked');
  const withReviews = behaviourText(history, items, { countTokens: words, maxTokens: 1000, ratings: true, source: 'both', itemFields: ['title'] });
  assert.equal(withReviews.get('a')?.split('\n')[2], 'Alien; rated 5: Scary - In space no one hears.');
});

test('review text and both, with whitespace inside a review flattened', () => {
  const reviews = behaviourText(history, items, { countTokens: words, maxTokens: 1000, source: 'reviews' });
  assert.equal(reviews.get('a'), 'Fun\nScary - In space no one hears.');
  const both = behaviourText(history, items, { countTokens: words, maxTokens: 1000, source: 'both', itemFields: ['title'] });
  assert.equal(both.get('a'), 'Toy Story: Fun\nHeat\nAlien: Scary - In space no one hears.\nUp');
});

test('over budget: the most recent interactions are kept, presented in time order', () => {
  const options = { countTokens: words, itemFields: ['title'] as const, separator: ' / ' };
  // Up costs 1, Alien and Heat 1 + 1 for the " / " before them: 5 in all; Toy Story would add 3.
  assert.equal(behaviourText(history, items, { ...options, maxTokens: 5 }).get('a'), 'Heat / Alien / Up');
  assert.equal(behaviourText(history, items, { ...options, maxTokens: 6 }).get('a'), 'Heat / Alien / Up');
  assert.equal(behaviourText(history, items, { ...options, maxTokens: 1 }).get('a'), 'Up');
  // When even the newest interaction does not fit, its beginning is kept.
  const long: Interaction[] = [{ user: 'c', item: '4', rating: 5, timestamp: 1, review: 'one two three four five six' }];
  assert.equal(behaviourText(long, items, { countTokens: words, maxTokens: 4, source: 'reviews' }).get('c'), 'one two three four');
  assert.equal(behaviourText(long, items, { countTokens: words, maxTokens: 0, source: 'reviews' }).has('c'), false);
});

test('per-interaction cut, and a tokenizer whose count of a join is not the sum of the parts', () => {
  const cut = behaviourText(history, items, { countTokens: words, maxTokens: 100, source: 'reviews', maxTokensPerInteraction: 2 });
  assert.equal(cut.get('a'), 'Fun\nScary -');
  // Cheap on short text, dear on long: the sum of the parts underestimates the join, and the budget still holds.
  const lumpy = (text: string) => (text.length > 12 ? 100 : words(text));
  const text = behaviourText(history, items, { countTokens: lumpy, maxTokens: 5, itemFields: ['title'] }).get('a')!;
  assert.ok(lumpy(text) <= 5, `${JSON.stringify(text)} is over budget`);
  assert.equal(text, 'Alien\nUp');
});

test('training and validation text come from their own parts of the split only', () => {
  const many: Interaction[] = Array.from({ length: 10 }, (_, k) => ({ user: 'a', item: String(1 + (k % 4)), rating: 4, timestamp: k, review: `r${k}` }));
  const split = splitByTime(many);
  const texts = splitBehaviourText(split, items, { countTokens: words, maxTokens: 100, source: 'reviews' });
  assert.equal(texts.train.get('a'), 'r0\nr1\nr2\nr3\nr4\nr5\nr6\nr7');
  assert.equal(texts.valid.get('a'), 'r8');
});
