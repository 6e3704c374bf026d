/** SWORD zText / zCom modules (Bible text and commentaries) and their OSIS markup. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { exists } from '../../io/index.js';
import { chunkDocument, decodeEntities, normalizeDocument } from './text.js';

export interface SwordEntry {
  /** Testament file prefix ("ot" or "nt"). */
  testament: string;
  /** Index of the entry in the verse index. */
  index: number;
  /** Raw markup (OSIS / ThML / plain). */
  markup: string;
}

/**
 * Reads every non-empty entry of a compressed SWORD verse-keyed module directory (zText, zText4,
 * zCom, zCom4), in index order; entries that are links to the same text are returned once.
 * Block files are `{ot,nt}.{b,c,v}z{s,v,z}`; blocks must be zlib-compressed (CompressType=ZIP).
 * The verse-index record size (10 bytes for zText/zCom, 12 for the "4" variants) is detected
 * from the files themselves.
 */
export async function readSwordModule(dir: string): Promise<SwordEntry[]> {
  const out: SwordEntry[] = [];
  let found = false;
  for (const testament of ['ot', 'nt']) {
    let prefix: string | null = null;
    for (const bt of ['b', 'c', 'v']) {
      if (await exists(join(dir, `${testament}.${bt}zs`))) {
        prefix = join(dir, `${testament}.${bt}z`);
        break;
      }
    }
    if (!prefix) continue;
    found = true;
    const [bs, bv, bz] = await Promise.all([readFile(`${prefix}s`), readFile(`${prefix}v`), readFile(`${prefix}z`)]);
    if (bs.length % 12 !== 0) throw new Error(`${prefix}s: block index size ${bs.length} is not a multiple of 12`);
    const nBlocks = bs.length / 12;
    const block = (i: number) => ({ off: bs.readUInt32LE(i * 12), csize: bs.readUInt32LE(i * 12 + 4), usize: bs.readUInt32LE(i * 12 + 8) });
    const recordSize = detectSwordRecordSize(bv, nBlocks, (i) => block(i).usize);
    if (recordSize === null) throw new Error(`${prefix}v: cannot read the verse index (neither 10- nor 12-byte records fit the block index)`);
    const cache = new Map<number, Buffer>();
    const getBlock = (b: number): Buffer => {
      let buf = cache.get(b);
      if (!buf) {
        const { off, csize } = block(b);
        const raw = bz.subarray(off, off + csize);
        if (raw.length && raw[0] !== 0x78) throw new Error(`${prefix}z: block ${b} is not zlib-compressed (only CompressType=ZIP is supported)`);
        buf = raw.length ? inflateSync(raw) : Buffer.alloc(0);
        cache.clear(); // entries are read in order; one block at a time is enough
        cache.set(b, buf);
      }
      return buf;
    };
    const seen = new Set<string>();
    for (let i = 0, idx = 0; i + recordSize <= bv.length; i += recordSize, idx++) {
      const b = bv.readUInt32LE(i);
      const off = bv.readUInt32LE(i + 4);
      const size = recordSize === 10 ? bv.readUInt16LE(i + 8) : bv.readUInt32LE(i + 8);
      if (size === 0) continue;
      const key = `${b}:${off}:${size}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const text = getBlock(b).subarray(off, off + size).toString('utf8');
      out.push({ testament, index: idx, markup: text });
    }
  }
  if (!found) throw new Error(`${dir}: no SWORD ot/nt block files found`);
  return out;
}

function detectSwordRecordSize(bv: Buffer, nBlocks: number, usize: (i: number) => number): 10 | 12 | null {
  for (const rs of [10, 12] as const) {
    if (bv.length % rs !== 0) continue;
    let ok = true;
    for (let i = 0; i + rs <= bv.length && ok; i += rs) {
      const b = bv.readUInt32LE(i);
      const off = bv.readUInt32LE(i + 4);
      const size = rs === 10 ? bv.readUInt16LE(i + 8) : bv.readUInt32LE(i + 8);
      if (size === 0) continue;
      if (b >= nBlocks || off + size > usize(b)) ok = false;
    }
    if (ok) return rs;
  }
  return null;
}

/**
 * OSIS/ThML markup -> plain text. Footnotes and cross-reference notes are dropped; titles,
 * paragraphs, line groups and chapter starts become line breaks; all other tags are unwrapped.
 */
export function osisToText(markup: string): string {
  return normalizeDocument(osisToRawText(markup));
}

/** Like `osisToText` but without normalization: paragraph breaks are "\n", spacing is raw. */
export function osisToRawText(markup: string): string {
  const s = markup
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/<note\b[^>]*\/>/gi, ' ')
    .replace(/<note\b[^>]*>[\s\S]*?<\/note>/gi, ' ')
    .replace(/<(rdg|seg type="x-alternative")\b[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<milestone\b[^>]*type="x-p"[^>]*\/>/gi, '\n')
    .replace(/<(?:title|p|div|lg|l|lb|chapter|br|head|h\d|list|item|table|row|cell)\b[^>]*>/gi, '\n')
    .replace(/<\/(?:title|p|div|lg|l|head|h\d|list|item|table|row|cell)\s*>/gi, '\n')
    .replace(/<[^>]*>/g, '');
  return decodeEntities(s).replace(/\{\d+\}/g, '').replace(/\u00B6\s*/g, '\n').replace(/ *\n */g, '\n');
}

/** Commentaries: one document per entry. Bible text: one document per chapter. */
export async function swordDocuments(dirs: readonly string[], kind: 'text' | 'commentary'): Promise<string[]> {
  const docs: string[] = [];
  for (const dir of dirs) {
    const entries = await readSwordModule(dir);
    if (kind === 'commentary') {
      for (const e of entries) docs.push(...chunkDocument(osisToText(e.markup)));
    } else {
      // A new chapter starts at a <chapter sID> entry. Verses are joined with spaces; OSIS paragraph
      // markers become line breaks.
      let cur: string[] = [];
      const flush = () => {
        const doc = normalizeDocument(cur.join(' '));
        if (doc) docs.push(...chunkDocument(doc));
        cur = [];
      };
      for (const e of entries) {
        if (/<chapter\b[^>]*\bsID=/i.test(e.markup) || /<div\b(?=[^>]*\btype="book")(?=[^>]*\bsID=)[^>]*>/i.test(e.markup)) flush();
        cur.push(osisToRawText(e.markup));
      }
      flush();
    }
  }
  return docs.filter(Boolean);
}
