/** Books: novels (from R data or gzip text) as chapter documents, and Project Gutenberg boilerplate removal. */
import { chunkDocument, normalizeDocument, paragraphsFromLines } from './text.js';

const CHAPTER_LINE = /^\s*(?:CHAPTER|Chapter)\s+(?:[0-9]+|[IVXLC]+)\b[^\n]{0,70}$/;

/** Lines of a book -> chapter documents (chapter heading kept as the first paragraph). */
export function bookToDocuments(lines: readonly string[]): string[] {
  const chapters: string[][] = [[]];
  for (const line of lines) {
    if (CHAPTER_LINE.test(line)) chapters.push([]);
    chapters[chapters.length - 1]!.push(line);
  }
  const docs: string[] = [];
  for (const ch of chapters) {
    const paras = paragraphsFromLines(ch).map((p) => p.replace(/_([^_]+)_/g, '$1').replace(/--/g, ' \u2014 '));
    const doc = normalizeDocument(paras.join('\n'));
    docs.push(...chunkDocument(doc));
  }
  return docs.filter((d) => d.length > 0);
}

/** Removes the Project Gutenberg header, licence footer and production notes. */
export function stripGutenberg(text: string): string {
  const lines = text.replace(/\r\n?/g, '\n').replace(/^\uFEFF/, '').split('\n');
  let start = 0;
  let end = lines.length;
  for (let i = 0; i < lines.length; i++) {
    if (/^\*{3}\s*START OF (THIS|THE) PROJECT GUTENBERG/i.test(lines[i]!)) {
      start = i + 1;
      break;
    }
  }
  for (let i = start; i < lines.length; i++) {
    if (/^\*{3}\s*END OF (THIS|THE) PROJECT GUTENBERG/i.test(lines[i]!) || /^End of (the )?Project Gutenberg/i.test(lines[i]!)) {
      end = i;
      break;
    }
  }
  // Drop paragraphs about the e-text itself: production credits and transcriber's notes.
  const kept: string[] = [];
  let inNote = false;
  for (const block of lines.slice(start, end).join('\n').split(/\n[ \t]*\n/)) {
    const para = block.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
    if (!para) continue;
    if (/^(Original )?Transcriber'?s? Notes?:?$/i.test(para)) {
      inNote = true;
      continue;
    }
    if (inNote && (!/[a-z]/.test(para) || CHAPTER_LINE.test(para))) inNote = false; // a heading ends the note
    if (inNote || /Project Gutenberg|gutenberg\.org|^Produced by\b/i.test(para)) continue;
    kept.push(block);
  }
  return kept.join('\n\n');
}
