/** WordNet `data.*` files: one line per synset. */
import { readFile } from 'node:fs/promises';
import { DICT_DOC_CHARS, normalizeParagraph, packEntries } from './text.js';

const WN_SS_TYPE: Record<string, string> = { n: 'noun', v: 'verb', a: 'adjective', s: 'adjective', r: 'adverb' };

/** One line per synset: "word, word (pos): gloss". Licence header lines (leading spaces) are skipped. */
export function extractWordnetData(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith(' ')) continue;
    const bar = line.indexOf(' | ');
    if (bar < 0) continue;
    const fields = line.slice(0, bar).split(' ');
    const ssType = fields[2] ?? '';
    const wCnt = parseInt(fields[3] ?? '', 16);
    if (!Number.isFinite(wCnt) || wCnt <= 0) continue;
    const words: string[] = [];
    for (let i = 0; i < wCnt; i++) {
      const w = fields[4 + 2 * i];
      if (w) words.push(w.replace(/\((?:a|p|ip)\)$/, '').replace(/_/g, ' '));
    }
    const gloss = line.slice(bar + 3).trim();
    if (!gloss || !words.length) continue;
    out.push(`${words.join(', ')} (${WN_SS_TYPE[ssType] ?? ssType}): ${gloss}`);
  }
  return out;
}

export async function wordnetDocuments(files: readonly string[]): Promise<string[]> {
  const lines: string[] = [];
  for (const f of files) lines.push(...extractWordnetData(await readFile(f, 'utf8')));
  return packEntries(lines.map(normalizeParagraph).filter(Boolean), DICT_DOC_CHARS);
}
