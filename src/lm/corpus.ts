/**
 * Pretraining corpus for the house LM.
 *
 * The corpus is built from openly licensed English text that Debian packages install on the
 * machine (dictionaries, public-domain novels, Bible text and commentaries) plus catalog
 * sentences made from MovieLens movie titles and genres. It never reads MovieLens ratings,
 * tags or any other user behaviour.
 *
 * `buildCorpus` reads each source in its on-disk format (dictd `.index` + `.dict.dz`, WordNet
 * `data.*`, SWORD zText/zCom modules, R lazy-load data `Rdata.rdx`/`Rdata.rdb`, gzip text,
 * MovieLens `movies.csv`), turns it into clean plain-text documents, assigns every document to
 * train or validation by a seeded hash of its own text (so the split of a document never
 * depends on anything else), and writes `train.txt`, `valid.txt` and `manifest.json`
 * atomically into `outDir`.
 *
 * Output format: UTF-8; documents are separated by one blank line ("\n\n"); inside a document,
 * paragraphs are separated by a single "\n" and there are no blank lines. Use
 * `splitCorpusDocuments` to read the documents back.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { gunzipSync, inflateSync } from 'node:zlib';
import { parse as parseCsv } from 'csv-parse/sync';
import { AtomicFile, writeFileAtomic } from '../io/atomic.js';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/** Separator written between documents in train.txt / valid.txt. */
export const CORPUS_DOCUMENT_SEPARATOR = '\n\n';

/** Version of the manifest layout. */
export const CORPUS_MANIFEST_VERSION = 1;

export type ExtractorName =
  | 'wordnet-data'
  | 'dictd-gcide'
  | 'dictd-wn'
  | 'dictd-devil'
  | 'dictd-jargon'
  | 'dictd-foldoc'
  | 'dictd-generic'
  | 'sword-text'
  | 'sword-commentary'
  | 'r-lazyload-lines'
  | 'r-lazyload-gutenberg'
  | 'gzip-text'
  | 'movielens-catalog';

export interface CorpusSource {
  /** Stable id used in `buildCorpus({ sources })` and in the manifest. */
  readonly id: string;
  /** Human-readable name of the work. */
  readonly title: string;
  /** Debian package that installs the files ("" for MovieLens, which is a data directory). */
  readonly debianPackage: string;
  /**
   * Files (or, for SWORD modules, the module directory) read by the extractor, as absolute
   * paths on a Debian system. They are resolved under `options.root`. For MovieLens the path is
   * relative to `options.movielensDir`.
   */
  readonly files: readonly string[];
  /** Short licence identifier (SPDX where one exists). */
  readonly licence: string;
  /** One-line licence summary taken from the package's copyright file. */
  readonly licenceNote: string;
  /** Copyright file of the package, for the manifest (resolved under `root`). */
  readonly copyrightFile?: string;
  /** What kind of text it is. */
  readonly kind: 'dictionary' | 'prose' | 'scripture' | 'commentary' | 'catalog';
  /** How the files are read. */
  readonly extractor: ExtractorName;
  /** Included when `options.sources` is not given. Opt-in sources need `sources: [...]`. */
  readonly defaultEnabled: boolean;
  /** This source is only used when the named source is not available (same underlying text). */
  readonly fallbackFor?: string;
  /** Cap on the extracted text (UTF-8 bytes) when `maxBytesPerSource` is not given. */
  readonly defaultMaxBytes?: number;
  /** Extractor-specific parameters. */
  readonly params?: Readonly<Record<string, string | readonly string[]>>;
}

export interface BuildCorpusOptions {
  /** Source ids to use (default: every source with `defaultEnabled`). Unknown ids throw. */
  sources?: string[];
  /** Directory holding MovieLens `movies.csv`. Without it the MovieLens source is skipped. */
  movielensDir?: string;
  /** Output directory; created if missing. */
  outDir: string;
  /** Fraction of documents held out for validation (default 0.01). */
  validFraction?: number;
  /** Seed of the split hash and of the document order (default 0). */
  seed?: number;
  /**
   * Cap on the extracted text of every source, in UTF-8 bytes. When given it replaces the
   * per-source `defaultMaxBytes`. A capped source keeps a seeded-hash sample of its documents.
   */
  maxBytesPerSource?: number;
  /** Filesystem root under which the Debian paths are looked up (default "/"; tests use a temp dir). */
  root?: string;
  /** Replace the file list of a source: id -> absolute paths (not resolved under `root`). */
  files?: Record<string, string[]>;
  /** Progress messages. */
  onProgress?: (message: string) => void;
}

export interface CorpusSplitStats {
  documents: number;
  bytes: number;
}

export interface CorpusSourceReport {
  id: string;
  title: string;
  package: string;
  /** Installed Debian package version from the dpkg status file, or null if unknown. */
  version: string | null;
  licence: string;
  licenceNote: string;
  copyrightFile: string | null;
  kind: CorpusSource['kind'];
  extractor: ExtractorName;
  files: string[];
  status: 'included' | 'skipped' | 'not-selected';
  /** Why a source was skipped or not selected, or what was dropped. */
  note?: string;
  /** Size of the input files on disk. */
  rawBytes: number;
  /** Extracted text before the cap (UTF-8 bytes of the documents). */
  extractedBytes: number;
  extractedDocuments: number;
  /** Cap applied to this source, or null. */
  maxBytes: number | null;
  train: CorpusSplitStats;
  valid: CorpusSplitStats;
}

export interface CorpusFileStats extends CorpusSplitStats {
  path: string;
  sha256: string;
}

export interface CorpusManifest {
  manifestVersion: number;
  description: string;
  format: {
    encoding: 'utf-8';
    documentSeparator: string;
    paragraphSeparator: string;
    order: string;
  };
  seed: number;
  validFraction: number;
  maxBytesPerSource: number | null;
  split: string;
  train: CorpusFileStats;
  valid: CorpusFileStats;
  sources: CorpusSourceReport[];
}

// ---------------------------------------------------------------------------------------------
// Source catalogue
// ---------------------------------------------------------------------------------------------

const MB = 1024 * 1024;

export const CORPUS_SOURCES: readonly CorpusSource[] = [
  {
    id: 'wordnet',
    title: 'WordNet 3.0 synset glosses and usage examples',
    debianPackage: 'wordnet-base',
    files: ['/usr/share/wordnet/data.noun', '/usr/share/wordnet/data.verb', '/usr/share/wordnet/data.adj', '/usr/share/wordnet/data.adv'],
    licence: 'WordNet-3.0',
    licenceNote:
      'WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved. Use, copy, modify and distribute for any purpose without fee, provided the copyright notice and disclaimer appear on all copies.',
    copyrightFile: '/usr/share/doc/wordnet-base/copyright',
    kind: 'dictionary',
    extractor: 'wordnet-data',
    defaultEnabled: true,
  },
  {
    id: 'wordnet-dict',
    title: 'WordNet 3.0 in dictd format (used only when wordnet-base is missing)',
    debianPackage: 'dict-wn',
    files: ['/usr/share/dictd/wn.index', '/usr/share/dictd/wn.dict.dz'],
    licence: 'WordNet-3.0',
    licenceNote: 'WordNet 3.0 Copyright 2006 by Princeton University. Same licence as wordnet-base.',
    copyrightFile: '/usr/share/doc/dict-wn/copyright',
    kind: 'dictionary',
    extractor: 'dictd-wn',
    defaultEnabled: true,
    fallbackFor: 'wordnet',
  },
  {
    id: 'gcide',
    title: "GNU Collaborative International Dictionary of English (Webster's 1913 + additions)",
    debianPackage: 'dict-gcide',
    files: ['/usr/share/dictd/gcide.index', '/usr/share/dictd/gcide.dict.dz'],
    licence: 'GPL-2.0-or-later',
    licenceNote: 'GCIDE is free software under the GNU General Public License, version 2 or later.',
    copyrightFile: '/usr/share/doc/dict-gcide/copyright',
    kind: 'dictionary',
    extractor: 'dictd-gcide',
    defaultEnabled: true,
    defaultMaxBytes: 16 * MB,
  },
  {
    id: 'devil',
    title: "The Devil's Dictionary by Ambrose Bierce",
    debianPackage: 'dict-devil',
    files: ['/usr/share/dictd/devil.index', '/usr/share/dictd/devil.dict.dz'],
    licence: 'public-domain',
    licenceNote: "The Devil's Dictionary (1911) is in the public domain; its copyright has expired.",
    copyrightFile: '/usr/share/doc/dict-devil/copyright',
    kind: 'dictionary',
    extractor: 'dictd-devil',
    defaultEnabled: true,
  },
  {
    id: 'jargon',
    title: 'The Jargon File 4.4.7',
    debianPackage: 'dict-jargon',
    files: ['/usr/share/dictd/jargon.index', '/usr/share/dictd/jargon.dict.dz'],
    licence: 'public-domain',
    licenceNote: 'The Jargon File is in the public domain, to be freely used, shared, and modified ("Jargon File 4.4.7").',
    copyrightFile: '/usr/share/doc/dict-jargon/copyright',
    kind: 'dictionary',
    extractor: 'dictd-jargon',
    defaultEnabled: true,
  },
  {
    id: 'foldoc',
    title: 'Free On-line Dictionary of Computing',
    debianPackage: 'dict-foldoc',
    files: ['/usr/share/dictd/foldoc.index', '/usr/share/dictd/foldoc.dict.dz'],
    licence: 'GFDL-1.1-or-later',
    licenceNote: 'Copyright 1993 by Denis Howe; GNU FDL 1.1 or later, no Invariant Sections. Opt-in: technical text with copyleft terms.',
    copyrightFile: '/usr/share/doc/dict-foldoc/copyright',
    kind: 'dictionary',
    extractor: 'dictd-foldoc',
    defaultEnabled: false,
  },
  {
    id: 'vera',
    title: 'V.E.R.A. (Virtual Entity of Relevant Acronyms)',
    debianPackage: 'dict-vera',
    files: ['/usr/share/dictd/vera.index', '/usr/share/dictd/vera.dict.dz'],
    licence: 'GFDL-1.1-or-later',
    licenceNote: 'Copyright 1993-2020 Oliver Heidelbach; GNU FDL 1.1 or later, no Invariant Sections. Opt-in: acronym lists, little prose.',
    copyrightFile: '/usr/share/doc/dict-vera/copyright',
    kind: 'dictionary',
    extractor: 'dictd-generic',
    defaultEnabled: false,
  },
  {
    id: 'austen',
    title: "Jane Austen's six completed novels",
    debianPackage: 'r-cran-janeaustenr',
    files: ['/usr/lib/R/site-library/janeaustenr/data/Rdata.rdx', '/usr/lib/R/site-library/janeaustenr/data/Rdata.rdb'],
    licence: 'public-domain',
    licenceNote: 'The novels (1811-1817) are in the public domain; the R package that carries them is MIT-licensed (Julia Silge).',
    copyrightFile: '/usr/share/doc/r-cran-janeaustenr/copyright',
    kind: 'prose',
    extractor: 'r-lazyload-lines',
    defaultEnabled: true,
    params: { objects: ['sensesensibility', 'prideprejudice', 'mansfieldpark', 'emma', 'northangerabbey', 'persuasion'] },
  },
  {
    id: 'mobydick',
    title: 'Moby Dick; or The Whale by Herman Melville',
    debianPackage: 'r-cran-tokenizers',
    files: ['/usr/lib/R/site-library/tokenizers/data/Rdata.rdx', '/usr/lib/R/site-library/tokenizers/data/Rdata.rdb'],
    licence: 'public-domain',
    licenceNote:
      'The novel (1851) is in the public domain; the R package is MIT-licensed. The Project Gutenberg header and licence footer are stripped.',
    copyrightFile: '/usr/share/doc/r-cran-tokenizers/copyright',
    kind: 'prose',
    extractor: 'r-lazyload-gutenberg',
    defaultEnabled: true,
    params: { objects: ['mobydick'] },
  },
  {
    id: 'us-documents',
    title: 'The Declaration of Independence and the US Constitution',
    debianPackage: 'miscfiles',
    files: ['/usr/share/state/us-declaration.gz', '/usr/share/state/us-constitution.gz'],
    licence: 'public-domain',
    licenceNote: 'US government founding documents, public domain (shipped in GNU miscfiles, GPL-2+ packaging).',
    copyrightFile: '/usr/share/doc/miscfiles/copyright',
    kind: 'prose',
    extractor: 'gzip-text',
    defaultEnabled: true,
  },
  {
    id: 'web-bible',
    title: 'World English Bible (modern English, with Deuterocanon)',
    debianPackage: 'sword-text-web',
    files: ['/usr/share/sword/modules/texts/ztext/engWEB2015eb'],
    licence: 'public-domain',
    licenceNote: 'The World English Bible is in the public domain ("World English Bible" is a trademark of eBible.org).',
    copyrightFile: '/usr/share/doc/sword-text-web/copyright',
    kind: 'scripture',
    extractor: 'sword-text',
    defaultEnabled: true,
  },
  {
    id: 'kjv-bible',
    title: 'King James Version (1769 text, SWORD module)',
    debianPackage: 'sword-text-kjv',
    files: ['/usr/share/sword/modules/texts/ztext/engKJV2006eb'],
    licence: 'public-domain',
    licenceNote:
      'Public domain outside the United Kingdom (Crown letters patent apply inside the UK). Opt-in: the World English Bible already covers the same books in modern English.',
    copyrightFile: '/usr/share/doc/sword-text-kjv/copyright',
    kind: 'scripture',
    extractor: 'sword-text',
    defaultEnabled: false,
  },
  {
    id: 'mhcc',
    title: "Matthew Henry's Concise Commentary on the Whole Bible",
    debianPackage: 'sword-comm-mhcc',
    files: ['/usr/share/sword/modules/comments/zcom/mhcc'],
    licence: 'public-domain',
    licenceNote: 'Public Domain--Copy Freely (Bible Foundation 2001).',
    copyrightFile: '/usr/share/doc/sword-comm-mhcc/copyright',
    kind: 'commentary',
    extractor: 'sword-commentary',
    defaultEnabled: true,
  },
  {
    id: 'tdavid',
    title: "C. H. Spurgeon's The Treasury of David",
    debianPackage: 'sword-comm-tdavid',
    files: ['/usr/share/sword/modules/comments/zcom/tdavid'],
    licence: 'public-domain',
    licenceNote: "The work's final volume was released in 1885; it is in the public domain.",
    copyrightFile: '/usr/share/doc/sword-comm-tdavid/copyright',
    kind: 'commentary',
    extractor: 'sword-commentary',
    defaultEnabled: true,
    defaultMaxBytes: 6 * MB,
  },
  {
    id: 'scofield',
    title: 'Scofield Reference Notes (1917 edition)',
    debianPackage: 'sword-comm-scofield',
    files: ['/usr/share/sword/modules/comments/zcom/scofield'],
    licence: 'public-domain',
    licenceNote: 'This work is in the public domain.',
    copyrightFile: '/usr/share/doc/sword-comm-scofield/copyright',
    kind: 'commentary',
    extractor: 'sword-commentary',
    defaultEnabled: true,
  },
  {
    id: 'movielens',
    title: 'MovieLens latest-small movie titles and genres (catalog sentences only)',
    debianPackage: '',
    files: ['movies.csv'],
    licence: 'MovieLens-research',
    licenceNote:
      'GroupLens MovieLens licence: research use, acknowledgement required, no commercial use without permission, redistribution of transformations under the same terms. Only movies.csv (titles, genres) is read; ratings and tags are never opened.',
    kind: 'catalog',
    extractor: 'movielens-catalog',
    defaultEnabled: true,
  },
];

// ---------------------------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------------------------

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
function docHash(seed: number, doc: string): { split: number; order: number; sample: number } {
  const h = createHash('sha256').update(`userip-corpus:${seed}\u0000`).update(doc).digest();
  const u = (o: number) => h.readUIntBE(o, 6) / 2 ** 48;
  return { split: u(0), order: u(6), sample: u(12) };
}

/** Whether a document goes to the validation split (depends only on its text and the seed). */
export function isValidationDocument(doc: string, seed: number, validFraction: number): boolean {
  return docHash(seed, doc).split < validFraction;
}

// ---------------------------------------------------------------------------------------------
// dictd
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// WordNet data.* files
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// SWORD zText / zCom modules
// ---------------------------------------------------------------------------------------------

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
      if (await exists(path.join(dir, `${testament}.${bt}zs`))) {
        prefix = path.join(dir, `${testament}.${bt}z`);
        break;
      }
    }
    if (!prefix) continue;
    found = true;
    const [bs, bv, bz] = await Promise.all([fsp.readFile(`${prefix}s`), fsp.readFile(`${prefix}v`), fsp.readFile(`${prefix}z`)]);
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

// ---------------------------------------------------------------------------------------------
// R serialization (lazy-load databases: Rdata.rdx + Rdata.rdb)
// ---------------------------------------------------------------------------------------------

export type RObject =
  | { kind: 'null' }
  | { kind: 'character'; value: (string | null)[]; attributes: Map<string, RObject> }
  | { kind: 'integer' | 'logical'; value: number[]; attributes: Map<string, RObject> }
  | { kind: 'double'; value: number[]; attributes: Map<string, RObject> }
  | { kind: 'list'; value: RObject[]; attributes: Map<string, RObject> }
  | { kind: 'raw'; value: Buffer; attributes: Map<string, RObject> }
  | { kind: 'symbol'; name: string }
  | { kind: 'pairlist'; value: { tag: string | null; value: RObject }[]; attributes: Map<string, RObject> }
  | { kind: 'other'; type: number };

const R_NULL: RObject = { kind: 'null' };

/** Unserializes an R object written in XDR format (versions 2 and 3), enough for data objects. */
export function unserializeR(buf: Buffer): RObject {
  const fmt = buf.subarray(0, 2).toString('latin1');
  if (fmt !== 'X\n') throw new Error(`unsupported R serialization format ${JSON.stringify(fmt)} (only XDR "X\\n" is read)`);
  let pos = 2;
  const refs: RObject[] = [];
  const int = (): number => {
    if (pos + 4 > buf.length) throw new Error('R serialization: unexpected end of data');
    const v = buf.readInt32BE(pos);
    pos += 4;
    return v;
  };
  const length = (): number => {
    const n = int();
    if (n !== -1) return n;
    const hi = int();
    const lo = int() >>> 0;
    return hi * 2 ** 32 + lo;
  };
  const version = int();
  int(); // writer version
  int(); // minimal reader version
  if (version === 3) {
    const n = int();
    pos += n; // native encoding name
  } else if (version !== 2) {
    throw new Error(`unsupported R serialization version ${version}`);
  }

  const attrsOf = (pl: RObject): Map<string, RObject> => {
    const m = new Map<string, RObject>();
    if (pl.kind === 'pairlist') for (const { tag, value } of pl.value) if (tag !== null) m.set(tag, value);
    return m;
  };
  const stringVec = (): (string | null)[] => {
    if (int() !== 0) throw new Error('R serialization: bad string vector');
    const n = int();
    const out: (string | null)[] = [];
    for (let i = 0; i < n; i++) {
      const it = readItem();
      out.push(it.kind === 'character' ? (it.value[0] ?? null) : null);
    }
    return out;
  };

  const readItem = (): RObject => {
    const flags = int();
    const type = flags & 0xff;
    const levels = flags >>> 12;
    const hasAttr = (flags & (1 << 9)) !== 0;
    switch (type) {
      case 254: // NILVALUE_SXP
        return R_NULL;
      case 242: case 241: case 253: case 252: case 251: case 250: // special environments / values
        return { kind: 'other', type };
      case 255: { // REFSXP
        let idx = flags >>> 8;
        if (idx === 0) idx = int();
        const r = refs[idx - 1];
        if (!r) throw new Error(`R serialization: bad reference ${idx}`);
        return r;
      }
      case 247: case 249: case 248: { // PERSISTSXP, NAMESPACESXP, PACKAGESXP
        stringVec();
        const o: RObject = { kind: 'other', type };
        refs.push(o);
        return o;
      }
      case 1: { // SYMSXP
        const p = readItem();
        const o: RObject = { kind: 'symbol', name: p.kind === 'character' ? (p.value[0] ?? '') : '' };
        refs.push(o);
        return o;
      }
      case 4: { // ENVSXP
        int(); // locked
        const o: RObject = { kind: 'other', type };
        refs.push(o);
        readItem(); readItem(); readItem(); readItem(); // enclos, frame, hashtab, attributes
        return o;
      }
      case 2: case 3: case 5: case 6: case 17: case 239: case 240: { // pairlist-like
        const items: { tag: string | null; value: RObject }[] = [];
        let attributes = new Map<string, RObject>();
        let f = flags;
        for (;;) {
          const t = f & 0xff;
          const attr = (f & (1 << 9)) !== 0 ? readItem() : null;
          const tag = (f & (1 << 10)) !== 0 ? readItem() : null;
          const car = readItem();
          if (items.length === 0 && attr) attributes = attrsOf(attr);
          items.push({ tag: tag && tag.kind === 'symbol' ? tag.name : null, value: car });
          // Read the CDR iteratively when it is another pairlist cell of the same kind.
          const next = int();
          const nt = next & 0xff;
          if (nt === t && (t === 2 || t === 239)) {
            f = next;
            continue;
          }
          pos -= 4;
          readItem();
          break;
        }
        return { kind: 'pairlist', value: items, attributes };
      }
      case 9: { // CHARSXP
        const n = int();
        if (n === -1) return { kind: 'character', value: [null], attributes: new Map() };
        const bytes = buf.subarray(pos, pos + n);
        pos += n;
        const latin1 = (levels & 4) !== 0;
        return { kind: 'character', value: [bytes.toString(latin1 ? 'latin1' : 'utf8')], attributes: new Map() };
      }
      case 10: case 13: { // LGLSXP, INTSXP
        const n = length();
        const v = new Array<number>(n);
        for (let i = 0; i < n; i++) v[i] = int();
        return withAttrs({ kind: type === 10 ? 'logical' : 'integer', value: v, attributes: new Map() }, hasAttr);
      }
      case 14: { // REALSXP
        const n = length();
        const v = new Array<number>(n);
        for (let i = 0; i < n; i++, pos += 8) v[i] = buf.readDoubleBE(pos);
        return withAttrs({ kind: 'double', value: v, attributes: new Map() }, hasAttr);
      }
      case 15: { // CPLXSXP
        const n = length();
        pos += 16 * n;
        return withAttrs({ kind: 'double', value: [], attributes: new Map() }, hasAttr);
      }
      case 16: { // STRSXP
        const n = length();
        const v = new Array<string | null>(n);
        for (let i = 0; i < n; i++) {
          const it = readItem();
          v[i] = it.kind === 'character' ? (it.value[0] ?? null) : null;
        }
        return withAttrs({ kind: 'character', value: v, attributes: new Map() }, hasAttr);
      }
      case 19: case 20: { // VECSXP, EXPRSXP
        const n = length();
        const v = new Array<RObject>(n);
        for (let i = 0; i < n; i++) v[i] = readItem();
        return withAttrs({ kind: 'list', value: v, attributes: new Map() }, hasAttr);
      }
      case 24: { // RAWSXP
        const n = length();
        const v = Buffer.from(buf.subarray(pos, pos + n));
        pos += n;
        return withAttrs({ kind: 'raw', value: v, attributes: new Map() }, hasAttr);
      }
      case 25: { // S4SXP
        return withAttrs({ kind: 'list', value: [], attributes: new Map() }, hasAttr);
      }
      case 238: { // ALTREP_SXP
        const info = readItem();
        const state = readItem();
        const attr = readItem();
        const cls = info.kind === 'pairlist' && info.value[0]?.value.kind === 'symbol' ? info.value[0].value.name : '?';
        let o: RObject;
        if ((cls === 'compact_intseq' || cls === 'compact_realseq') && state.kind === 'double') {
          const [n = 0, n1 = 0, inc = 1] = state.value;
          const v = Array.from({ length: n }, (_, i) => n1 + i * inc);
          o = { kind: cls === 'compact_intseq' ? 'integer' : 'double', value: v, attributes: new Map() };
        } else if (cls.startsWith('wrap_') && state.kind === 'list' && state.value[0]) {
          o = state.value[0];
        } else {
          throw new Error(`R serialization: unsupported ALTREP class ${cls}`);
        }
        if (attr.kind === 'pairlist' && 'attributes' in o) o = { ...o, attributes: attrsOf(attr) } as RObject;
        return o;
      }
      default:
        throw new Error(`R serialization: unsupported SEXP type ${type}`);
    }
  };
  const withAttrs = <T extends RObject & { attributes: Map<string, RObject> }>(o: T, hasAttr: boolean): T => {
    if (hasAttr) o.attributes = attrsOf(readItem());
    return o;
  };
  return readItem();
}

function namesOf(o: RObject): (string | null)[] {
  if (!('attributes' in o)) return [];
  const n = o.attributes.get('names');
  return n && n.kind === 'character' ? n.value : [];
}

function decompressRChunk(chunk: Buffer, compressed: number): Buffer {
  if (chunk.length < 4) throw new Error('R lazy-load chunk too short');
  const outLen = chunk.readUInt32BE(0);
  let body: Buffer;
  if (compressed === 0) return chunk;
  if (compressed === 1) {
    body = inflateSync(chunk.subarray(4));
  } else {
    const t = String.fromCharCode(chunk[4] ?? 0);
    if (t === '0') body = chunk.subarray(5);
    else if (t === '1') body = inflateSync(chunk.subarray(5));
    else throw new Error(`R lazy-load chunk uses ${t === 'Z' ? 'xz' : t === '2' ? 'bzip2' : `type ${JSON.stringify(t)}`} compression, which Node cannot decode`);
  }
  if (body.length !== outLen) throw new Error(`R lazy-load chunk: expected ${outLen} bytes, got ${body.length}`);
  return body;
}

/** Reads named objects from an R lazy-load database (`X.rdx` index + `X.rdb` data). */
export async function readRLazyLoad(rdxPath: string, rdbPath: string, names?: readonly string[]): Promise<Map<string, RObject>> {
  const rdxRaw = await fsp.readFile(rdxPath);
  const index = unserializeR(rdxRaw[0] === 0x1f && rdxRaw[1] === 0x8b ? gunzipSync(rdxRaw) : rdxRaw);
  if (index.kind !== 'list') throw new Error(`${rdxPath}: not an R lazy-load index`);
  const fields = namesOf(index);
  const field = (n: string) => index.value[fields.indexOf(n)];
  const variables = field('variables');
  const comp = field('compressed');
  const compressed = comp && (comp.kind === 'logical' || comp.kind === 'integer' || comp.kind === 'double') ? (comp.value[0] ?? 1) : 1;
  if (!variables || variables.kind !== 'list') throw new Error(`${rdxPath}: no "variables" in the lazy-load index`);
  const varNames = namesOf(variables);
  const rdb = await fsp.readFile(rdbPath);
  const out = new Map<string, RObject>();
  for (let i = 0; i < variables.value.length; i++) {
    const name = varNames[i];
    if (!name || (names && !names.includes(name))) continue;
    const loc = variables.value[i]!;
    if (loc.kind !== 'integer' && loc.kind !== 'double') throw new Error(`${rdxPath}: bad location for ${name}`);
    const [off = 0, len = 0] = loc.value;
    out.set(name, unserializeR(decompressRChunk(rdb.subarray(off, off + len), compressed)));
  }
  if (names) for (const n of names) if (!out.has(n)) throw new Error(`${rdbPath}: object ${JSON.stringify(n)} not found`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Novels (R data) and Gutenberg texts
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// MovieLens catalog
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Extraction
// ---------------------------------------------------------------------------------------------

const DICT_DOC_CHARS = 2000;

async function readDictdFiles(files: readonly string[]): Promise<DictdEntry[]> {
  const indexFile = files.find((f) => f.endsWith('.index'));
  const dataFile = files.find((f) => /\.dict(\.dz)?$/.test(f));
  if (!indexFile || !dataFile) throw new Error(`dictd source needs a .index and a .dict[.dz] file, got ${files.join(', ')}`);
  const [idx, raw] = await Promise.all([fsp.readFile(indexFile, 'utf8'), fsp.readFile(dataFile)]);
  const data = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
  return readDictd(idx, data);
}

/** Extracts the documents of one source from its (resolved) files. */
export async function extractSource(source: CorpusSource, files: readonly string[]): Promise<string[]> {
  const dictd = async (clean: (t: string) => string) => {
    const entries = (await readDictdFiles(files)).map((e) => normalizeDocument(clean(e.text))).filter(Boolean);
    return packEntries(entries.flatMap((e) => chunkDocument(e, DICT_DOC_CHARS)), DICT_DOC_CHARS);
  };
  switch (source.extractor) {
    case 'wordnet-data': {
      const lines: string[] = [];
      for (const f of files) lines.push(...extractWordnetData(await fsp.readFile(f, 'utf8')));
      return packEntries(lines.map(normalizeParagraph).filter(Boolean), DICT_DOC_CHARS);
    }
    case 'dictd-gcide':
      return dictd(cleanGcideEntry);
    case 'dictd-wn':
      return dictd(cleanWnEntry);
    case 'dictd-devil':
      return dictd(cleanDevilEntry);
    case 'dictd-jargon':
      return dictd(cleanJargonEntry);
    case 'dictd-foldoc':
      return dictd(cleanFoldocEntry);
    case 'dictd-generic':
      return dictd(cleanGenericDictdEntry);
    case 'sword-text':
    case 'sword-commentary': {
      const docs: string[] = [];
      for (const dir of files) {
        const entries = await readSwordModule(dir);
        if (source.extractor === 'sword-commentary') {
          for (const e of entries) docs.push(...chunkDocument(osisToText(e.markup)));
        } else {
          // Bible text: one document per chapter (a new chapter starts at a <chapter sID> entry).
          // Verses are joined with spaces; OSIS paragraph markers become line breaks.
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
    case 'r-lazyload-lines':
    case 'r-lazyload-gutenberg': {
      const rdx = files.find((f) => f.endsWith('.rdx'));
      const rdb = files.find((f) => f.endsWith('.rdb'));
      if (!rdx || !rdb) throw new Error(`R lazy-load source needs .rdx and .rdb files, got ${files.join(', ')}`);
      const wanted = listParam(source, 'objects');
      const objs = await readRLazyLoad(rdx, rdb, wanted.length ? wanted : undefined);
      const docs: string[] = [];
      for (const name of wanted.length ? wanted : [...objs.keys()]) {
        const o = objs.get(name);
        if (!o || o.kind !== 'character') throw new Error(`${rdb}: ${name} is not a character vector`);
        const strings = o.value.map((s) => s ?? '');
        const lines = source.extractor === 'r-lazyload-gutenberg' ? stripGutenberg(strings.join('\n')).split('\n') : strings.join('\n').replace(/\r\n?/g, '\n').split('\n');
        docs.push(...bookToDocuments(lines));
      }
      return docs;
    }
    case 'gzip-text': {
      const docs: string[] = [];
      for (const f of files) {
        const raw = await fsp.readFile(f);
        const text = (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8');
        const doc = normalizeDocument(paragraphsFromLines(text.replace(/\r\n?/g, '\n').split('\n')).join('\n'));
        docs.push(...chunkDocument(doc));
      }
      return docs;
    }
    case 'movielens-catalog': {
      const csv = files.find((f) => path.basename(f) === 'movies.csv');
      if (!csv) throw new Error('MovieLens source needs movies.csv');
      const movies = parseMoviesCsv(await fsp.readFile(csv, 'utf8'));
      return movieCatalogDocuments(movies).map(normalizeDocument).filter(Boolean);
    }
  }
}

function listParam(source: CorpusSource, key: string): string[] {
  const v = source.params?.[key];
  return v === undefined ? [] : typeof v === 'string' ? [v] : [...v];
}

// ---------------------------------------------------------------------------------------------
// Filesystem helpers
// ---------------------------------------------------------------------------------------------

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}

async function sizeOf(p: string): Promise<number> {
  const st = await fsp.stat(p);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const name of await fsp.readdir(p)) total += await sizeOf(path.join(p, name));
  return total;
}

function underRoot(root: string, p: string): string {
  return path.isAbsolute(p) ? path.join(root, p) : path.resolve(root, p);
}

/** Installed versions from a dpkg status file: package -> version. */
export function parseDpkgStatus(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const para of text.split(/\n\s*\n/)) {
    const pkg = /^Package:\s*(\S+)/m.exec(para)?.[1];
    const status = /^Status:\s*(.+)$/m.exec(para)?.[1] ?? '';
    const version = /^Version:\s*(\S+)/m.exec(para)?.[1];
    if (pkg && version && /\binstalled\b/.test(status) && !/not-installed|config-files/.test(status)) out.set(pkg, version);
  }
  return out;
}

class AtomicTextWriter {
  private file: AtomicFile | null = null;
  private chunks: string[] = [];
  private pending = 0;
  private readonly hash = createHash('sha256');
  bytes = 0;

  constructor(readonly finalPath: string) {}

  async open(): Promise<void> {
    this.file = await AtomicFile.create(this.finalPath);
  }

  async write(s: string): Promise<void> {
    this.chunks.push(s);
    this.pending += s.length;
    if (this.pending >= 1 << 20) await this.flush();
  }

  private async flush(): Promise<void> {
    if (!this.chunks.length || !this.file) return;
    const buf = Buffer.from(this.chunks.join(''), 'utf8');
    this.chunks = [];
    this.pending = 0;
    this.hash.update(buf);
    this.bytes += buf.length;
    await this.file.write(buf);
  }

  /** Flushes, then commits the checked write over the final path; returns the sha256 of the content. */
  async commit(): Promise<string> {
    await this.flush();
    await this.file?.commit();
    this.file = null;
    return this.hash.digest('hex');
  }

  async abort(): Promise<void> {
    await this.file?.abort();
    this.file = null;
  }
}

// ---------------------------------------------------------------------------------------------
// buildCorpus
// ---------------------------------------------------------------------------------------------

interface Doc {
  text: string;
  source: number;
  bytes: number;
  valid: boolean;
  order: number;
}

function installHint(s: CorpusSource): string {
  return s.debianPackage ? ` (apt-get install ${s.debianPackage})` : '';
}

/**
 * Builds the corpus into `outDir`: `train.txt`, `valid.txt` and `manifest.json`, each written
 * to a temporary file and renamed into place. Returns the manifest.
 */
export async function buildCorpus(options: BuildCorpusOptions): Promise<CorpusManifest> {
  const validFraction = options.validFraction ?? 0.01;
  if (!(validFraction >= 0 && validFraction < 1)) throw new Error(`validFraction must be in [0, 1), got ${validFraction}`);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  if (options.maxBytesPerSource !== undefined && !(options.maxBytesPerSource > 0)) throw new Error('maxBytesPerSource must be positive');
  const root = options.root ?? '/';
  const log = options.onProgress ?? (() => undefined);
  const known = new Set(CORPUS_SOURCES.map((s) => s.id));
  for (const id of options.sources ?? []) if (!known.has(id)) throw new Error(`unknown corpus source ${JSON.stringify(id)}; known: ${[...known].join(', ')}`);
  for (const id of Object.keys(options.files ?? {})) if (!known.has(id)) throw new Error(`unknown corpus source in files: ${JSON.stringify(id)}`);
  const selected = new Set(options.sources ?? CORPUS_SOURCES.filter((s) => s.defaultEnabled).map((s) => s.id));

  let dpkg = new Map<string, string>();
  try {
    dpkg = parseDpkgStatus(await fsp.readFile(path.join(root, 'var/lib/dpkg/status'), 'utf8'));
  } catch {
    // no dpkg database (not Debian, or a test root): versions stay unknown
  }

  const reports: CorpusSourceReport[] = [];
  const docs: Doc[] = [];
  const seenText = new Set<string>();
  const included = new Set<string>();

  // Primary sources first so that fallbacks know whether they are needed.
  const order = [...CORPUS_SOURCES].sort((a, b) => Number(!!a.fallbackFor) - Number(!!b.fallbackFor));
  const reportById = new Map<string, CorpusSourceReport>();
  for (const source of order) {
    const override = options.files?.[source.id];
    let files: string[];
    if (override) files = [...override];
    else if (source.extractor === 'movielens-catalog') files = options.movielensDir ? source.files.map((f) => path.resolve(options.movielensDir!, f)) : [];
    else files = source.files.map((f) => underRoot(root, f));
    const copyright = source.copyrightFile ? underRoot(root, source.copyrightFile) : null;
    const report: CorpusSourceReport = {
      id: source.id,
      title: source.title,
      package: source.debianPackage,
      version: source.debianPackage ? (dpkg.get(source.debianPackage) ?? null) : null,
      licence: source.licence,
      licenceNote: source.licenceNote,
      copyrightFile: copyright && (await exists(copyright)) ? copyright : null,
      kind: source.kind,
      extractor: source.extractor,
      files,
      status: 'skipped',
      rawBytes: 0,
      extractedBytes: 0,
      extractedDocuments: 0,
      maxBytes: null,
      train: { documents: 0, bytes: 0 },
      valid: { documents: 0, bytes: 0 },
    };
    reportById.set(source.id, report);
    if (!selected.has(source.id)) {
      report.status = 'not-selected';
      report.note = source.defaultEnabled ? 'not in the requested source list' : 'opt-in source: pass it in `sources` to include it';
      continue;
    }
    if (source.fallbackFor && included.has(source.fallbackFor)) {
      report.note = `not needed: ${source.fallbackFor} (same text) is included`;
      continue;
    }
    if (source.extractor === 'movielens-catalog' && !files.length) {
      report.note = 'no movielensDir given';
      continue;
    }
    const missing: string[] = [];
    for (const f of files) if (!(await exists(f))) missing.push(f);
    if (missing.length) {
      report.note = `not installed: missing ${missing.join(', ')}${installHint(source)}`;
      log(`corpus: skip ${source.id}: ${report.note}`);
      continue;
    }
    for (const f of files) report.rawBytes += await sizeOf(f);
    log(`corpus: extracting ${source.id} from ${files.join(', ')}`);
    let extracted: string[];
    try {
      extracted = await extractSource(source, files);
    } catch (e) {
      throw new Error(`corpus source ${source.id}: ${(e as Error).message}`);
    }
    // Drop exact duplicates (inside the source and across sources).
    const unique: { text: string; bytes: number; h: ReturnType<typeof docHash> }[] = [];
    for (const text of extracted) {
      if (!text || seenText.has(text)) continue;
      seenText.add(text);
      unique.push({ text, bytes: Buffer.byteLength(text, 'utf8'), h: docHash(seed, text) });
    }
    report.extractedDocuments = unique.length;
    report.extractedBytes = unique.reduce((a, d) => a + d.bytes, 0);
    const cap = options.maxBytesPerSource ?? source.defaultMaxBytes ?? null;
    report.maxBytes = cap;
    let kept = unique;
    if (cap !== null && report.extractedBytes > cap) {
      // Seeded sample by a hash independent of the split hash, so the cap keeps the train/valid ratio.
      const ranked = [...unique].sort((a, b) => a.h.sample - b.h.sample);
      const keep = new Set<string>();
      let total = 0;
      for (const d of ranked) {
        if (total + d.bytes > cap) continue;
        keep.add(d.text);
        total += d.bytes;
      }
      kept = unique.filter((d) => keep.has(d.text));
      report.note = `capped at ${cap} bytes: kept ${kept.length} of ${unique.length} documents`;
    }
    const srcIndex = CORPUS_SOURCES.indexOf(source);
    for (const d of kept) {
      const valid = d.h.split < validFraction;
      docs.push({ text: d.text, source: srcIndex, bytes: d.bytes, valid, order: d.h.order });
      const split = valid ? report.valid : report.train;
      split.documents++;
      split.bytes += d.bytes;
    }
    report.status = 'included';
    included.add(source.id);
    log(`corpus: ${source.id}: ${kept.length} documents, ${report.train.bytes + report.valid.bytes} bytes`);
  }
  for (const s of CORPUS_SOURCES) reports.push(reportById.get(s.id)!);

  await fsp.mkdir(options.outDir, { recursive: true });
  docs.sort((a, b) => a.order - b.order || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
  const writers = { train: new AtomicTextWriter(path.join(options.outDir, 'train.txt')), valid: new AtomicTextWriter(path.join(options.outDir, 'valid.txt')) };
  const counts = { train: 0, valid: 0 };
  let trainHash = '';
  let validHash = '';
  try {
    await writers.train.open();
    await writers.valid.open();
    for (const d of docs) {
      const which = d.valid ? 'valid' : 'train';
      await writers[which].write(d.text + CORPUS_DOCUMENT_SEPARATOR);
      counts[which]++;
    }
    trainHash = await writers.train.commit();
    validHash = await writers.valid.commit();
  } catch (e) {
    await writers.train.abort();
    await writers.valid.abort();
    throw e;
  }

  const manifest: CorpusManifest = {
    manifestVersion: CORPUS_MANIFEST_VERSION,
    description:
      'Pretraining corpus of the userip house LM: openly licensed English text from Debian packages plus MovieLens catalog sentences (titles and genres only, no user behaviour).',
    format: {
      encoding: 'utf-8',
      documentSeparator: CORPUS_DOCUMENT_SEPARATOR,
      paragraphSeparator: '\n',
      order: 'documents sorted by a seeded hash of their text (sources interleaved)',
    },
    seed,
    validFraction,
    maxBytesPerSource: options.maxBytesPerSource ?? null,
    split: 'a document is in valid.txt when sha256("userip-corpus:<seed>\\0" + text) read as a 48-bit fraction is < validFraction',
    train: { path: 'train.txt', documents: counts.train, bytes: writers.train.bytes, sha256: trainHash },
    valid: { path: 'valid.txt', documents: counts.valid, bytes: writers.valid.bytes, sha256: validHash },
    sources: reports,
  };
  await writeFileAtomic(path.join(options.outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  log(`corpus: wrote ${counts.train} train documents (${writers.train.bytes} bytes) and ${counts.valid} valid documents (${writers.valid.bytes} bytes)`);
  return manifest;
}
