/** MovieLens readers: latest/25M/20M (CSV), 100K (u.data, u.item, u.user) and 1M (.dat). */
import { basename, join } from 'node:path';
import { z } from 'zod';
import { withoutUndefined, type Dataset, type Interaction, type ItemInfo } from './dataset.js';
import { BadRows, CSV, FIVE_STARS, readRows, type RatingScale, type Row, type TableFormat } from './rows.js';

/** MovieLens latest, 20M and 25M rate in half stars (100K and 1M in whole ones). */
const HALF_STARS: RatingScale = { min: 0.5, max: 5 };

const dirSpec = { name: z.string().optional(), dir: z.string() };

export const movieLensSpec = z
  .object({
    format: z.literal('movielens'),
    ...dirSpec,
    /** Attach a user's tags on a movie to that rating as its review text (tags without a rating are dropped). */
    tags: z.boolean().default(false),
  })
  .strict();
export const movieLens100kSpec = z.object({ format: z.literal('movielens-100k'), ...dirSpec }).strict();
export const movieLens1mSpec = z.object({ format: z.literal('movielens-1m'), ...dirSpec }).strict();

const YEAR = /\s*\((\d{4})(?:\s*[-–]\s*\d{0,4}\s*)?\)\s*$/;
// MovieLens files titles as "American President, The"; the LM reads the natural order better.
const TRAILING_ARTICLE = /^(.*?), (The|A|An|La|Le|Les|El|Il|Das|Der|Die)( \(.*\))?$/;

/** `"American President, The (1995)"` → `{ title: "The American President", year: 1995 }`. */
function parseMovieTitle(raw: string): { title: string; year?: number } {
  const year = YEAR.exec(raw);
  const title = year ? raw.slice(0, year.index) : raw.trim();
  const article = TRAILING_ARTICLE.exec(title);
  const natural = article ? `${article[2]} ${article[1]}${article[3] ?? ''}` : title;
  return year ? { title: natural, year: Number(year[1]) } : { title: natural };
}

function movie(row: Row, item: string, titleField: string, genres: string[] | undefined): ItemInfo {
  const raw = row.text(titleField);
  return withoutUndefined({ item, ...(raw === undefined ? {} : parseMovieTitle(raw)), genres });
}

function rating(row: Row, user: string, item: string, ratingField: string, timeField: string, scale: RatingScale): Interaction {
  return { user: row.id(user), item: row.id(item), rating: row.rating(ratingField, scale), timestamp: row.time(timeField) };
}

export async function readMovieLens(spec: z.output<typeof movieLensSpec>, bad: BadRows): Promise<Dataset> {
  const interactions: Interaction[] = [];
  await readRows(join(spec.dir, 'ratings.csv'), CSV, bad, (row) => {
    interactions.push(rating(row, 'userId', 'movieId', 'rating', 'timestamp', HALF_STARS));
  });
  const items = new Map<string, ItemInfo>();
  await readRows(join(spec.dir, 'movies.csv'), CSV, bad, (row) => {
    const item = row.id('movieId');
    const genres = row.list('genres', '|')?.filter((genre) => genre !== '(no genres listed)');
    items.set(item, movie(row, item, 'title', genres?.length ? genres : undefined));
  });
  if (spec.tags) await attachTags(join(spec.dir, 'tags.csv'), interactions, bad);
  return { name: spec.name ?? basename(spec.dir), interactions, items };
}

async function attachTags(file: string, interactions: Interaction[], bad: BadRows): Promise<void> {
  const tags = new Map<string, string[]>();
  await readRows(file, CSV, bad, (row) => {
    const key = `${row.id('userId')}\t${row.id('movieId')}`;
    const tag = row.id('tag');
    const list = tags.get(key);
    if (list) list.push(tag);
    else tags.set(key, [tag]);
  });
  for (const interaction of interactions) {
    const tagged = tags.get(`${interaction.user}\t${interaction.item}`);
    if (tagged) interaction.review = tagged.join(', ');
  }
}

const GENRES_100K = [
  'unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy',
  'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western',
];

/** Headerless, unquoted, Latin-1 tables (the 100K and 1M files), with the column names their READMEs use. */
function table(delimiter: string, columns: string[]): TableFormat {
  return { type: 'delimited', delimiter, columns, quote: false, encoding: 'latin1' };
}

async function readUsers(file: string, format: TableFormat, bad: BadRows): Promise<Map<string, Record<string, string>>> {
  const users = new Map<string, Record<string, string>>();
  await readRows(file, format, bad, (row) => {
    const attributes = { age: row.id('age'), gender: row.id('gender'), occupation: row.id('occupation'), zip: row.id('zip') };
    users.set(row.id('user_id'), attributes);
  });
  return users;
}

export async function readMovieLens100k(spec: z.output<typeof movieLens100kSpec>, bad: BadRows): Promise<Dataset> {
  const interactions: Interaction[] = [];
  await readRows(join(spec.dir, 'u.data'), table('\t', ['user_id', 'item_id', 'rating', 'timestamp']), bad, (row) => {
    interactions.push(rating(row, 'user_id', 'item_id', 'rating', 'timestamp', FIVE_STARS));
  });
  const items = new Map<string, ItemInfo>();
  const itemColumns = ['movie_id', 'title', 'release_date', 'video_release_date', 'imdb_url', ...GENRES_100K];
  await readRows(join(spec.dir, 'u.item'), table('|', itemColumns), bad, (row) => {
    const item = row.id('movie_id');
    const genres = GENRES_100K.filter((genre) => row.number(genre) === 1);
    const info = movie(row, item, 'title', genres.length ? genres : undefined);
    // A few titles lack "(year)"; the release date ("01-Jan-1995") still has it.
    const released = /(\d{4})$/.exec(row.text('release_date') ?? '');
    items.set(item, info.year === undefined && released ? { ...info, year: Number(released[1]) } : info);
  });
  const users = await readUsers(join(spec.dir, 'u.user'), table('|', ['user_id', 'age', 'gender', 'occupation', 'zip']), bad);
  return { name: spec.name ?? basename(spec.dir), interactions, items, users };
}

export async function readMovieLens1m(spec: z.output<typeof movieLens1mSpec>, bad: BadRows): Promise<Dataset> {
  const interactions: Interaction[] = [];
  await readRows(join(spec.dir, 'ratings.dat'), table('::', ['UserID', 'MovieID', 'Rating', 'Timestamp']), bad, (row) => {
    interactions.push(rating(row, 'UserID', 'MovieID', 'Rating', 'Timestamp', FIVE_STARS));
  });
  const items = new Map<string, ItemInfo>();
  await readRows(join(spec.dir, 'movies.dat'), table('::', ['MovieID', 'Title', 'Genres']), bad, (row) => {
    const item = row.id('MovieID');
    items.set(item, movie(row, item, 'Title', row.list('Genres', '|')));
  });
  // users.dat keeps the 1M codes as they are: age is a bucket (1, 18, 25, ...), occupation a number 0-20.
  const users = await readUsers(join(spec.dir, 'users.dat'), table('::', ['user_id', 'gender', 'age', 'occupation', 'zip']), bad);
  return { name: spec.name ?? basename(spec.dir), interactions, items, users };
}
