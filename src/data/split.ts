/**
 * The leakage-free split of the evaluation protocol, rule for rule, so that results line up with
 * other tools on the same data: each user's interactions ordered by (timestamp, item id); n_test = n_valid =
 * max(1, floor(0.1 n)); the last n_test go to test, the n_valid before them to validation, the rest to
 * train; users with fewer than n_test + n_valid + 1 interactions go entirely to train.
 */
import { csvField, writeChunksAtomic } from '../io/index.js';
import { clickLabel, type Interaction } from './dataset.js';

export interface Split {
  train: Interaction[];
  valid: Interaction[];
  test: Interaction[];
}

const INTEGER_ID = /^(0|[1-9]\d{0,14})$/;

/** True when every item id is a plain integer: then ids compare as numbers, as a table tool (pandas) sorting the column would. */
function integerItems(interactions: readonly Interaction[]): boolean {
  return interactions.every((interaction) => INTEGER_ID.test(interaction.item));
}

function timeOrder(numericItems: boolean): (a: Interaction, b: Interaction) => number {
  const compareItems = numericItems
    ? (a: string, b: string) => Number(a) - Number(b)
    : (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return (a, b) => a.timestamp - b.timestamp || compareItems(a.item, b.item);
}

/** Orders interactions by (timestamp, item id); exact ties keep their input order (sort is stable). */
export function sortByTime(interactions: readonly Interaction[]): Interaction[] {
  return [...interactions].sort(timeOrder(integerItems(interactions)));
}

/** Positions of each user's interactions, in input order; users in order of first appearance. */
export function positionsByUser(interactions: readonly Interaction[]): Map<string, number[]> {
  const byUser = new Map<string, number[]>();
  interactions.forEach((interaction, position) => {
    const positions = byUser.get(interaction.user);
    if (positions) positions.push(position);
    else byUser.set(interaction.user, [position]);
  });
  return byUser;
}

const PARTS = ['train', 'valid', 'test'] as const;

/** Each part keeps the input order of `interactions`. */
export function splitByTime(interactions: readonly Interaction[]): Split {
  // One id order for the whole dataset, as a sort of the whole table would use.
  const order = timeOrder(integerItems(interactions));
  const part = new Uint8Array(interactions.length); // index into PARTS; 0 = train
  for (const positions of positionsByUser(interactions).values()) {
    const n = positions.length;
    const held = Math.max(1, Math.floor(n * 0.1)); // n_test = n_valid
    if (n < 2 * held + 1) continue;
    positions.sort((a, b) => order(interactions[a], interactions[b]));
    for (let rank = n - 2 * held; rank < n; rank++) part[positions[rank]] = rank < n - held ? 1 : 2;
  }
  const split: Split = { train: [], valid: [], test: [] };
  interactions.forEach((interaction, position) => split[PARTS[part[position]]].push(interaction));
  return split;
}

/**
 * Writes `user,item,rating,timestamp,label,split` rows (train, then valid, then test); the file appears
 * whole or not at all (`writeChunksAtomic`), so a reader never sees a half-written one.
 */
export async function writeSplitCsv(path: string, split: Split, threshold = 3): Promise<void> {
  function* chunks(): Generator<string> {
    let chunk = 'user,item,rating,timestamp,label,split\n';
    for (const name of PARTS) {
      for (const i of split[name]) {
        const label = clickLabel(i.rating, threshold) ? 1 : 0;
        chunk += `${csvField(i.user)},${csvField(i.item)},${i.rating},${i.timestamp},${label},${name}\n`;
        if (chunk.length >= 1 << 16) {
          yield chunk;
          chunk = '';
        }
      }
    }
    yield chunk;
  }
  await writeChunksAtomic(path, chunks());
}
