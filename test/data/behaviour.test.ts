import assert from 'node:assert/strict';
import { test } from 'node:test';
import { behaviourLines, type BehaviourOptions, type Interaction, type ItemInfo } from '../../src/data/index.js';

/** A stand-in tokenizer: one token per whitespace-separated word. */
const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

/** user → the user's lines joined by the separator, as a window holds them. */
const behaviourText = (interactions: readonly Interaction[], catalog: ReadonlyMap<string, ItemInfo>, options: Omit<BehaviourOptions, 'maxTokens'>) =>
  new Map([...behaviourLines(interactions, catalog, options)].map(([user, lines]) => [user, lines.join(options.separator ?? '\n')]));

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
  const texts = behaviourText(history, items, { countTokens: words });
  assert.equal(
    texts.get('a'),
    'Toy Story (1995); Animation, Comedy\nHeat (1995); Crime\nAlien (1979)\nUp; Pixar; price 9.99',
  );
  // User b's only item is not in the catalog, so there is no text for b.
  assert.deepEqual([...texts.keys()], ['a']);

  const chosen = behaviourText(history, items, { countTokens: words, itemFields: ['description', 'year'], separator: ' | ' });
  assert.equal(chosen.get('a'), '1995 | 1995 | 1979 | A house flies.');
});

test('ratings end each line, before any review text', () => {
  const rated = behaviourText(history, items, { countTokens: words, ratings: true, itemFields: ['title'] });
  assert.equal(rated.get('a'), 'Toy Story; rated 4\nHeat; rated 3\nAlien; rated 5\nUp; rated 3');
  // Without catalog text the rating is still behaviour.
  assert.equal(rated.get('b'), 'rated 2');
  const liked = behaviourText(history, items, { countTokens: words, ratings: true, likedAbove: 3, itemFields: ['title'] });
  assert.equal(liked.get('a'), 'Toy Story; liked\nHeat; disliked\nAlien; liked\nUp; disliked');
  const withReviews = behaviourText(history, items, { countTokens: words, ratings: true, source: 'both', itemFields: ['title'] });
  assert.equal(withReviews.get('a')?.split('\n')[2], 'Alien; rated 5: Scary - In space no one hears.');
});

test('review text and both, with whitespace inside a review flattened', () => {
  const reviews = behaviourText(history, items, { countTokens: words, source: 'reviews' });
  assert.equal(reviews.get('a'), 'Fun\nScary - In space no one hears.');
  const both = behaviourText(history, items, { countTokens: words, source: 'both', itemFields: ['title'] });
  assert.equal(both.get('a'), 'Toy Story: Fun\nHeat\nAlien: Scary - In space no one hears.\nUp');
});

test('per-interaction cut', () => {
  const cut = behaviourText(history, items, { countTokens: words, source: 'reviews', maxTokensPerInteraction: 2 });
  assert.equal(cut.get('a'), 'Fun\nScary -');
});
