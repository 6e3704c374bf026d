/** dictd dictionaries (`.index` + `.dict[.dz]`): the index, the data, and per-dictionary entry cleaners. */
import { readFile } from 'node:fs/promises';
import { DICT_DOC_CHARS, chunkDocument, maybeGunzip, normalizeDocument, packEntries, paragraphsFromLines } from './text.js';

const DICTD_B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Decodes a dictd index number (base64 digits, most significant first). */
export function decodeDictdNumber(s: string): number {
  let n = 0;
  for (const ch of s) {
    const d = DICTD_B64.indexOf(ch);
    if (d < 0) throw new Error(`invalid dictd base64 number ${JSON.stringify(s)}`);
    n = n * 64 + d;
  }
  return n;
}

export interface DictdEntry {
  headword: string;
  text: string;
}

/** Reads dictd entries in data order; one entry per distinct (offset, length); skips 00-database entries. */
export function readDictd(indexText: string, data: Buffer): DictdEntry[] {
  const seen = new Map<string, { headword: string; off: number; len: number }>();
  for (const line of indexText.split('\n')) {
    if (!line) continue;
    const parts = line.split('\t');
    if (parts.length < 3) continue;
    const headword = parts[0]!;
    if (/^00-?database/i.test(headword) || /^00-[a-z0-9]+-(long|short|url|info)$/i.test(headword)) continue;
    const off = decodeDictdNumber(parts[1]!);
    const len = decodeDictdNumber(parts[2]!);
    const key = `${off}:${len}`;
    if (!seen.has(key)) seen.set(key, { headword, off, len });
  }
  const entries = [...seen.values()].sort((a, b) => a.off - b.off || a.len - b.len);
  const out: DictdEntry[] = [];
  for (const e of entries) {
    if (e.off + e.len > data.length) throw new Error(`dictd entry ${JSON.stringify(e.headword)} lies past the end of the data`);
    out.push({ headword: e.headword, text: data.subarray(e.off, e.off + e.len).toString('utf8') });
  }
  return out;
}

function stripBraces(s: string): string {
  return s.replace(/\{([^{}]*)\}/g, '$1').replace(/[{}]/g, '');
}

function stripUrlsAndEmails(s: string): string {
  return s
    .replace(/<?\b(?:https?|ftp|gopher|news|telnet|mailto):[^\s>)\]]*>?/gi, '')
    .replace(/<?[\w.+-]+@[\w-]+(?:\.[\w-]+)+>?/g, '');
}

function removeBracketGroups(s: string): string {
  let prev = '';
  let cur = s;
  while (cur !== prev) {
    prev = cur;
    cur = cur.replace(/\[[^\[\]]*\]/g, '');
  }
  return cur;
}

function tidyPunctuation(s: string): string {
  return s
    .replace(/\s+/g, ' ')
    .replace(/ ([,.;:!?)])(?=\s|$)/g, '$1')
    .replace(/([,;:])(?:\s*[,;:])+/g, '$1')
    .replace(/[,;:]\s*\./g, '.')
    .replace(/\.(\s*\.)+/g, '.')
    .replace(/\(\s*\)/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

const GREEK = 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega'.split(' ');
const GCIDE_NAMED: Record<string, string> = {
  imac: '\u012B', aum: '\u00E4', add: '\u00E4', udd: '\u00FC', asl: 'a', ae: '\u00E6', AE: '\u00C6', oe: '\u0153', OE: '\u0152',
  eth: '\u00F0', thorn: '\u00FE', th: 'th', ng: 'ng', yogh: '\u021D', schwa: '\u0259', deg: '\u00B0', sect: '\u00A7',
  root: '\u221A', cuberoot: '\u221B', pounds: '\u00A3', times: '\u00D7', divby: '\u00F7', div: '\u00F7', middot: '\u00B7',
  nbsp: ' ', ldqo: '"', rdqo: '"', lsquo: "'", rsquo: "'", dagger: '\u2020', dag: '\u2020', para: '\u00B6',
  flat: '\u266D', sharp: '\u266F', natural: '\u266E', prime: '\u2032', bprime: '\u2033', rarr: '\u2192', sigmat: '\u03C2',
  filig: 'fi', ffllig: 'ffl', ffilig: 'ffi', fflig: 'ff', fllig: 'fl',
};
for (let i = 0; i < GREEK.length; i++) {
  const lower = String.fromCodePoint(0x03b1 + i + (i >= 17 ? 1 : 0)); // skip final sigma (U+03C2)
  GCIDE_NAMED[GREEK[i]!] = lower;
  GCIDE_NAMED[GREEK[i]![0]!.toUpperCase() + GREEK[i]!.slice(1)] = lower.toUpperCase();
}
const GCIDE_MARKS: Record<string, string> = { '=': '\u0304', "'": '\u0301', '`': '\u0300', '"': '\u0308', '~': '\u0303', '*': '\u030A', ',': '\u0327' };

/** GCIDE writes accented and special characters as bracketed codes: "caf['e]", "[=a]", "[alpha]". */
export function decodeGcideCharacters(s: string): string {
  return s
    .replace(/\[([='`"~*,])([a-zA-Z])\]/g, (_, mark: string, ch: string) => (ch + GCIDE_MARKS[mark]!).normalize('NFC'))
    .replace(/\[=(ae|oo)\]/g, (_, v: string) => (v === 'ae' ? '\u01E3' : 'oo'))
    .replace(/\[\^([a-zA-Z])\]/g, (_, ch: string) => (ch + '\u0302').normalize('NFC'))
    .replace(/\[([a-zA-Z]{1,2})\^\]/g, (_, v: string) => (v.length === 1 ? (v + '\u0306').normalize('NFC') : v))
    .replace(/\[[.-]([a-zA-Z])\]/g, '$1')
    .replace(/\[([a-zA-Z]{2,9})\]/g, (m, name: string) => GCIDE_NAMED[name] ?? m);
}

/** GCIDE: drop pronunciations, etymologies and source tags; keep headword, senses, quotations. */
export function cleanGcideEntry(text: string): string {
  const paras = paragraphsFromLines(text.split('\n'))
    .map((p, i) => {
      let s = p.replace(/\\[^\\]*\\/g, '');
      // A second, parenthesized pronunciation right after the headword: "Zythem (z[imac]"th[e^]m), n."
      if (i === 0) s = s.replace(/\((?=[^()\s]*["*`])[^()\s]+\)/g, '');
      if (i === 0) s = s.replace(/^([^,()]{1,80}?)\s*\((?=[^()\s]*[-"*`[])[^()\s]+\)(?=\s*,)/, '$1');
      if (i === 0) s = s.replace(/\((?=[^()]*\?)[^()a-zA-Z]*\)/g, '');
      s = decodeGcideCharacters(s);
      // Run-on entries keep syllable marks: "En"ti*ta*tive*ly" -> "Entitatively".
      s = s.replace(/\S*\p{L}\*\p{L}\S*/gu, (w) => w.replace(/(?<=\p{L})["*`]+(?=\p{L})/gu, ''));
      s = removeBracketGroups(s);
      s = stripBraces(s);
      s = s.replace(/\s--\s*(?=\S)/g, ' \u2014 ').replace(/--/g, ' \u2014 ');
      s = stripUrlsAndEmails(s);
      return tidyPunctuation(s);
    })
    .filter((p) => /[\p{L}]{2}/u.test(p));
  return paras.join('\n');
}

const WN_POS: Record<string, string> = { n: 'noun', v: 'verb', adj: 'adjective', adv: 'adverb' };

/** dict-wn: "headword\n  n 1: gloss [syn: ...]" -> one line per sense, "headword (noun): gloss". */
export function cleanWnEntry(text: string): string {
  const lines = text.split('\n');
  const headword = (lines[0] ?? '').trim();
  const body = lines.slice(1).join(' ').replace(/\s+/g, ' ');
  const cleaned = body.replace(/\[(?:syn|ant|also|see also)\s*:[^\]]*\]/gi, '').replace(/\{([^{}]*)\}/g, '$1');
  const out: string[] = [];
  const re = /(?:^|\s)(?:(n|v|adj|adv)\s+)?(\d+):\s/g;
  const marks: { at: number; end: number; pos?: string }[] = [];
  for (let m = re.exec(cleaned); m; m = re.exec(cleaned)) marks.push({ at: m.index, end: m.index + m[0].length, pos: m[1] });
  let pos = '';
  for (let i = 0; i < marks.length; i++) {
    const mk = marks[i]!;
    if (mk.pos) pos = WN_POS[mk.pos] ?? mk.pos;
    const gloss = tidyPunctuation(cleaned.slice(mk.end, i + 1 < marks.length ? marks[i + 1]!.at : cleaned.length));
    if (gloss) out.push(`${headword}${pos ? ` (${pos})` : ''}: ${gloss}`);
  }
  return out.join('\n');
}

/** The Devil's Dictionary: paragraphs of prose and verse. */
export function cleanDevilEntry(text: string): string {
  return paragraphsFromLines(text.split('\n'))
    .map((p) => tidyPunctuation(stripBraces(removeBracketGroups(p)).replace(/_([^_]+)_/g, '$1').replace(/--/g, ' \u2014 ')))
    .filter((p) => /\p{L}/u.test(p))
    .join('\n');
}

/** Jargon File: headword line, "/pronunciation/, pos." line, then paragraphs. */
export function cleanJargonEntry(text: string): string {
  const lines = text.split('\n');
  const headword = (lines[0] ?? '').trim();
  let i = 1;
  let pos = '';
  if (i < lines.length && /^\s\S/.test(lines[i] ?? '') && !/^\s{2,}/.test(lines[i] ?? '')) {
    pos = (lines[i] ?? '').trim().replace(/\/[^/]*\/,?\s*/g, '').replace(/^,\s*/, '').trim();
    i++;
  }
  const paras = paragraphsFromLines(lines.slice(i))
    .map((p) => tidyPunctuation(stripUrlsAndEmails(stripBraces(p))))
    .filter((p) => /\p{L}/u.test(p));
  const head = pos ? `${headword}, ${pos}` : headword;
  return [head, ...paras].join('\n');
}

/** FOLDOC: alias lines, then "<topic> text" paragraphs, a "(yyyy-mm-dd)" date and contact lines. */
export function cleanFoldocEntry(text: string): string {
  const paras = paragraphsFromLines(text.split('\n'));
  if (!paras.length) return '';
  const head = (text.split('\n')[0] ?? '').trim();
  const body = paras
    .slice(1)
    .filter((p) => !/^\(\d{4}-\d{2}-\d{2}\)$/.test(p))
    .filter((p) => !/\.html\b|\bhttps?:|\bftp:/i.test(p))
    .filter((p) => !/^(E-?mail|Address|Telephone|Tel|Fax|FTP|URL|Home page|Mailing list|Latest version|Usenet newsgroup|Web)\b/i.test(p))
    .map((p) => tidyPunctuation(stripUrlsAndEmails(stripBraces(p.replace(/^<[^>]*>\s*/, '')))))
    .filter((p) => /\p{L}{2}/u.test(p));
  return body.length ? [head, ...body].join('\n') : '';
}

/** Any other dictd database: paragraphs with braces, URLs and e-mail addresses removed. */
export function cleanGenericDictdEntry(text: string): string {
  return paragraphsFromLines(text.split('\n'))
    .map((p) => tidyPunctuation(stripUrlsAndEmails(stripBraces(p))))
    .filter((p) => /\p{L}{2}/u.test(p))
    .join('\n');
}

async function readDictdFiles(files: readonly string[]): Promise<DictdEntry[]> {
  const indexFile = files.find((f) => f.endsWith('.index'));
  const dataFile = files.find((f) => /\.dict(\.dz)?$/.test(f));
  if (!indexFile || !dataFile) throw new Error(`dictd source needs a .index and a .dict[.dz] file, got ${files.join(', ')}`);
  const [idx, raw] = await Promise.all([readFile(indexFile, 'utf8'), readFile(dataFile)]);
  return readDictd(idx, maybeGunzip(raw));
}

/** A dictd database's entries, cleaned by `clean`, packed into documents of up to DICT_DOC_CHARS. */
export async function dictdDocuments(files: readonly string[], clean: (text: string) => string): Promise<string[]> {
  const entries = (await readDictdFiles(files)).map((e) => normalizeDocument(clean(e.text))).filter(Boolean);
  return packEntries(entries.flatMap((e) => chunkDocument(e, DICT_DOC_CHARS)), DICT_DOC_CHARS);
}
