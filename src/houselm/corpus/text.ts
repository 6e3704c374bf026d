/** Plain-text helpers every reader shares: entity decoding, normalization, chunking, packing, the split hash. */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';

const ENTITY_MAP: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (m, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : ' ';
    }
    return ENTITY_MAP[e] ?? m;
  });
}

/**
 * Normalizes one paragraph: NFC, ASCII quotes, no control characters, single spaces, no space
 * before closing punctuation.
 */
export function normalizeParagraph(s: string): string {
  return s
    .normalize('NFC')
    .replace(/[\u2018\u2019\u201B\u2032]/g, "'")
    .replace(/[\u201C\u201D\u201F\u2033]/g, '"')
    .replace(/\u00AD/g, '')
    .replace(/[\u0000-\u001F\u007F-\u009F\u200B\uFEFF]/g, ' ')
    .replace(/[ \u00A0\u2000-\u200A\u202F\u205F\u3000]+/g, ' ')
    .replace(/ ([,.;:!?)\]])(?=\s|$)/g, '$1')
    .replace(/([(\[]) /g, '$1')
    .trim();
}

/**
 * Normalizes a document: every line is a paragraph; empty lines and lines with no letter or
 * digit are dropped. The result contains no blank line.
 */
export function normalizeDocument(text: string): string {
  const out: string[] = [];
  for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
    const p = normalizeParagraph(line);
    // Drop empty lines, lines without a letter or digit, and box-drawing tables.
    if (p && /[\p{L}\p{N}]/u.test(p) && !/[\u2500-\u257F]{3}/.test(p)) out.push(p);
  }
  return out.join('\n');
}

/** Joins wrapped lines into paragraphs; a blank line ends a paragraph. */
export function paragraphsFromLines(lines: readonly string[]): string[] {
  const paras: string[] = [];
  let cur: string[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '') {
      if (cur.length) paras.push(cur.join(' '));
      cur = [];
    } else {
      cur.push(line);
    }
  }
  if (cur.length) paras.push(cur.join(' '));
  return paras;
}

/** Largest document written; longer ones are cut at paragraph (then sentence) boundaries. */
export const MAX_DOCUMENT_CHARS = 8000;

/** Splits a normalized document into pieces of at most `maxChars` characters. */
export function chunkDocument(doc: string, maxChars = MAX_DOCUMENT_CHARS): string[] {
  if (doc.length <= maxChars) return doc ? [doc] : [];
  const pieces: string[] = [];
  for (const para of doc.split('\n')) {
    if (para.length <= maxChars) {
      pieces.push(para);
      continue;
    }
    // Split an over-long paragraph at sentence ends, then hard-cut at spaces if still too long.
    let buf = '';
    for (const sentence of para.match(/[^.!?]+(?:[.!?]+["')\]]*\s*|$)/g) ?? [para]) {
      if (buf.length + sentence.length > maxChars && buf) {
        pieces.push(buf.trim());
        buf = '';
      }
      buf += sentence;
      while (buf.length > maxChars) {
        let cut = buf.lastIndexOf(' ', maxChars);
        if (cut <= 0) cut = maxChars;
        pieces.push(buf.slice(0, cut).trim());
        buf = buf.slice(cut);
      }
    }
    if (buf.trim()) pieces.push(buf.trim());
  }
  return packEntries(pieces, maxChars);
}

/** Packs short entries (each one or more lines) into documents of at most `targetChars`. */
export function packEntries(entries: readonly string[], targetChars: number): string[] {
  const docs: string[] = [];
  let cur: string[] = [];
  let len = 0;
  for (const e of entries) {
    if (!e) continue;
    if (cur.length && len + 1 + e.length > targetChars) {
      docs.push(cur.join('\n'));
      cur = [];
      len = 0;
    }
    cur.push(e);
    len += (cur.length > 1 ? 1 : 0) + e.length;
  }
  if (cur.length) docs.push(cur.join('\n'));
  return docs;
}

/** Documents of a corpus file written by `buildCorpus`. */
export function splitCorpusDocuments(text: string): string[] {
  return text.split(/\n{2,}/).map((d) => d.trim()).filter((d) => d.length > 0);
}

/** 64-bit-ish seeded hash of a document: three independent uniforms in [0, 1). */
export function docHash(seed: number, doc: string): { split: number; order: number; sample: number } {
  const h = createHash('sha256').update(`userip-corpus:${seed}\u0000`).update(doc).digest();
  const u = (o: number) => h.readUIntBE(o, 6) / 2 ** 48;
  return { split: u(0), order: u(6), sample: u(12) };
}

/** Whether a document goes to the validation split (depends only on its text and the seed). */
export function isValidationDocument(doc: string, seed: number, validFraction: number): boolean {
  return docHash(seed, doc).split < validFraction;
}

/** Documents packed from dictionary entries (dictd, WordNet) hold up to this many characters. */
export const DICT_DOC_CHARS = 2000;

/** The bytes of a file that may be gzipped (by its magic number). */
export function maybeGunzip(raw: Buffer): Buffer {
  return raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
}
