/** Plain text files, gzipped or not: paragraphs of wrapped lines, one document per file (chunked). */
import { readFile } from 'node:fs/promises';
import { chunkDocument, maybeGunzip, normalizeDocument, paragraphsFromLines } from './text.js';

export async function plainTextDocuments(files: readonly string[]): Promise<string[]> {
  const docs: string[] = [];
  for (const f of files) {
    const text = maybeGunzip(await readFile(f)).toString('utf8');
    const doc = normalizeDocument(paragraphsFromLines(text.replace(/\r\n?/g, '\n').split('\n')).join('\n'));
    docs.push(...chunkDocument(doc));
  }
  return docs;
}
