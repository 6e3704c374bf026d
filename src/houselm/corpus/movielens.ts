/** The MovieLens catalog (titles and genres only, never ratings or tags) as sentences. */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { normalizeDocument } from './text.js';

export interface MovieRecord {
  movieId: string;
  title: string;
  genres: string[];
}

/** Parses movies.csv (movieId,title,genres). Any other column is ignored. */
export function parseMoviesCsv(text: string): MovieRecord[] {
  const rows = parseCsv(text, { columns: true, skip_empty_lines: true, bom: true, relax_column_count: true }) as Record<string, string>[];
  const out: MovieRecord[] = [];
  for (const r of rows) {
    const title = (r['title'] ?? '').trim();
    if (!title) continue;
    const g = (r['genres'] ?? '').trim();
    const genres = g && g !== '(no genres listed)' ? g.split('|').map((x) => x.trim()).filter(Boolean) : [];
    out.push({ movieId: String(r['movieId'] ?? ''), title, genres });
  }
  return out;
}

/** "Toy Story (1995) is an Adventure, Animation, Children, Comedy, Fantasy movie." */
export function movieSentence(m: MovieRecord): string {
  if (!m.genres.length) return `${m.title} is a movie.`;
  const article = /^[AEIOU]/i.test(m.genres[0]!) ? 'an' : 'a';
  return `${m.title} is ${article} ${m.genres.join(', ')} movie.`;
}

function movieYear(title: string): string | null {
  const m = /\((\d{4})(?:[-\u2013]\d{0,4})?\)\s*$/.exec(title);
  return m ? m[1]! : null;
}

/** Catalog documents: movie sentences in groups, plus per-genre title lists. */
export function movieCatalogDocuments(movies: readonly MovieRecord[]): string[] {
  const docs: string[] = [];
  const yearTemplates = [(y: string) => `It was released in ${y}.`, (y: string) => `It came out in ${y}.`, (y: string) => `The film is from ${y}.`];
  const lines = movies.map((m, i) => {
    const y = movieYear(m.title);
    return y ? `${movieSentence(m)} ${yearTemplates[i % yearTemplates.length]!(y)}` : movieSentence(m);
  });
  for (let i = 0; i < lines.length; i += 8) docs.push(lines.slice(i, i + 8).join('\n'));
  const byGenre = new Map<string, string[]>();
  for (const m of movies) for (const g of m.genres) (byGenre.get(g) ?? byGenre.set(g, []).get(g)!).push(m.title);
  for (const [genre, titles] of [...byGenre.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    for (let i = 0; i < titles.length; i += 12) {
      const group = titles.slice(i, i + 12);
      const list = group.length === 1 ? group[0]! : `${group.slice(0, -1).join(', ')} and ${group[group.length - 1]!}`;
      docs.push(`${genre} movies include ${list}.`);
    }
  }
  return docs;
}

export async function movieLensDocuments(files: readonly string[]): Promise<string[]> {
  const csv = files.find((f) => basename(f) === 'movies.csv');
  if (!csv) throw new Error('MovieLens source needs movies.csv');
  const movies = parseMoviesCsv(await readFile(csv, 'utf8'));
  return movieCatalogDocuments(movies).map(normalizeDocument).filter(Boolean);
}
