import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import { buildCorpus, parseDpkgStatus } from '../../src/houselm/corpus/build.js';
import { cleanGcideEntry, decodeDictdNumber, readDictd } from '../../src/houselm/corpus/dictd.js';
import { stripGutenberg } from '../../src/houselm/corpus/gutenberg.js';
import { movieSentence } from '../../src/houselm/corpus/movielens.js';
import { unserializeR } from '../../src/houselm/corpus/rdata.js';
import { CORPUS_SOURCES, type CorpusManifest } from '../../src/houselm/corpus/sources.js';
import { osisToText } from '../../src/houselm/corpus/sword.js';
import { chunkDocument, isValidationDocument, splitCorpusDocuments } from '../../src/houselm/corpus/text.js';
import { extractWordnetData } from '../../src/houselm/corpus/wordnet.js';

// ---------------------------------------------------------------------------------------------
// Fixture writers, one per on-disk format
// ---------------------------------------------------------------------------------------------

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
function dictdNumber(n: number): string {
  let s = '';
  do {
    s = B64[n % 64]! + s;
    n = Math.floor(n / 64);
  } while (n > 0);
  return s;
}

/** Writes NAME.index and NAME.dict.dz (gzip, as dictzip files are) into dir. */
async function writeDictd(dir: string, name: string, entries: { headwords: string[]; text: string }[]): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  const parts: Buffer[] = [];
  const index: string[] = [];
  let off = 0;
  for (const e of entries) {
    const buf = Buffer.from(e.text, 'utf8');
    for (const h of e.headwords) index.push(`${h}\t${dictdNumber(off)}\t${dictdNumber(buf.length)}`);
    parts.push(buf);
    off += buf.length;
  }
  index.sort();
  await fsp.writeFile(path.join(dir, `${name}.index`), index.join('\n') + '\n');
  await fsp.writeFile(path.join(dir, `${name}.dict.dz`), gzipSync(Buffer.concat(parts)));
}

/** Writes a one-block SWORD zText/zCom testament: TESTAMENT.bz{s,v,z}. Empty strings are empty index slots. */
async function writeSword(dir: string, testament: string, entries: (string | number)[], recordSize: 10 | 12): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  const texts: Buffer[] = [];
  const slots: { off: number; size: number }[] = [];
  let off = 0;
  for (const e of entries) {
    if (typeof e === 'number') {
      slots.push({ ...slots[e]! }); // a link: same text as entry e
      continue;
    }
    const buf = Buffer.from(e, 'utf8');
    slots.push({ off: buf.length ? off : 0, size: buf.length });
    texts.push(buf);
    off += buf.length;
  }
  const block = Buffer.concat(texts);
  const bzz = deflateSync(block);
  const bzs = Buffer.alloc(12);
  bzs.writeUInt32LE(0, 0);
  bzs.writeUInt32LE(bzz.length, 4);
  bzs.writeUInt32LE(block.length, 8);
  const bzv = Buffer.alloc(slots.length * recordSize);
  slots.forEach((s, i) => {
    bzv.writeUInt32LE(0, i * recordSize);
    bzv.writeUInt32LE(s.off, i * recordSize + 4);
    if (recordSize === 10) bzv.writeUInt16LE(s.size, i * recordSize + 8);
    else bzv.writeUInt32LE(s.size, i * recordSize + 8);
  });
  await fsp.writeFile(path.join(dir, `${testament}.bzs`), bzs);
  await fsp.writeFile(path.join(dir, `${testament}.bzv`), bzv);
  await fsp.writeFile(path.join(dir, `${testament}.bzz`), bzz);
}

// Minimal R XDR serializer (version 2), enough for lazy-load indexes and character vectors.
const rInt = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const rHeader = () => Buffer.concat([Buffer.from('X\n', 'latin1'), rInt(2), rInt(0x040202), rInt(0x020300)]);
const rChar = (s: string | null) =>
  s === null ? Buffer.concat([rInt(9), rInt(-1)]) : Buffer.concat([rInt(9 | (8 << 12)), rInt(Buffer.byteLength(s)), Buffer.from(s, 'utf8')]);
const rStr = (v: (string | null)[]) => Buffer.concat([rInt(16), rInt(v.length), ...v.map(rChar)]);
const rNamesAttr = (names: string[]) => Buffer.concat([rInt(2 | (1 << 10)), rInt(1), rChar('names'), rStr(names), rInt(254)]);
const rInts = (v: number[]) => Buffer.concat([rInt(13), rInt(v.length), ...v.map(rInt)]);
const rLgl = (v: number) => Buffer.concat([rInt(10), rInt(1), rInt(v)]);
const rList = (items: Buffer[], names?: string[]) =>
  Buffer.concat([rInt(19 | (names ? 1 << 9 : 0)), rInt(items.length), ...items, ...(names ? [rNamesAttr(names)] : [])]);

/** Writes DIR/Rdata.rdx (gzip) and DIR/Rdata.rdb (zlib chunks) holding character vectors. */
async function writeRLazyLoad(dir: string, objects: Record<string, string[]>): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  const chunks: Buffer[] = [];
  const locs: Buffer[] = [];
  let off = 0;
  for (const v of Object.values(objects)) {
    const ser = Buffer.concat([rHeader(), rStr(v)]);
    const chunk = Buffer.concat([Buffer.alloc(4), deflateSync(ser)]);
    chunk.writeUInt32BE(ser.length, 0);
    locs.push(rInts([off, chunk.length]));
    chunks.push(chunk);
    off += chunk.length;
  }
  const index = Buffer.concat([
    rHeader(),
    rList([rList(locs, Object.keys(objects)), rList([]), rLgl(1)], ['variables', 'references', 'compressed']),
  ]);
  await fsp.writeFile(path.join(dir, 'Rdata.rdx'), gzipSync(index));
  await fsp.writeFile(path.join(dir, 'Rdata.rdb'), Buffer.concat(chunks));
}

const GCIDE_ENTRIES = [
  { headwords: ['00-database-info'], text: '00-database-info\n   This file was converted from the original database.\n   GCIDE LICENCE HEADER TEXT\n\n' },
  {
    headwords: ['Abjure'],
    text:
      'Abjure \\Ab*jure"\\, v. t. [imp. & p. p. {Abjured}; p. pr. & vb.\n   n. {Abjuring}.] [L. abjurare to deny upon oath.]\n   1. To renounce upon oath; to forswear; as, to abjure\n      allegiance to a prince.\n      [1913 Webster]\n\n   2. To renounce or reject with solemnity. "Magic I here abjure." --Shak.\n      [1913 Webster]\n\n',
  },
  { headwords: ['Cafe', 'Caf\u00e9'], text: 'Cafe \\Caf`e"\\, n. [F.]\n   A coffee house; a caf[\'e]; a restaurant.\n   [1913 Webster]\n\n' },
];

const WORDNET_DATA = [
  '  1 This software and database is being provided to you, the LICENSEE, by  ',
  '  2 Princeton University under the following license.  ',
  '00001740 00 a 01 able 0 005 = 05200169 n 0000 | (usually followed by `to\') having the necessary means or skill; "able to swim"  ',
  '00002098 00 a 02 unable 0 ill-equipped(a) 0 000 | not having the necessary means or skill  ',
  '',
].join('\n');

const WEB_OT = [
  '',
  '<milestone type="x-importer" subType="x-osis2mod" n="$Rev: 1 $"/>',
  '<div sID="b1" type="book"/><title type="main">The First Book of Moses, Commonly Called Genesis</title>',
  '<chapter n="1" osisID="Gen.1" sID="Gen.1"/>',
  '<w lemma="strong:H0430">In</w> <w lemma="strong:H0853">the</w> beginning, <w>God</w><note placement="foot"><reference type="annotateRef">1:1 </reference>FOOTNOTE SHOULD VANISH</note><w>created</w> the heavens and the earth. ',
  'The earth was formless and empty. <div eID="gen25" type="x-p"/>',
  '<div sID="gen26" type="x-p"/>God said, \u201cLet there be light,\u201d and there was light. ',
  '<chapter n="2" osisID="Gen.2" sID="Gen.2"/>',
  'The heavens, the earth, and all their vast array were finished.',
];

const MHCC_OT = [
  '',
  '',
  '<hi type="bold">Verses 1-2</hi> <div sID="g1" type="x-p"/> The first verse of the Bible gives us a satisfying account of the origin of the earth. <div eID="g1" type="x-p"/>',
  2, // linked verse: the same commentary text must appear once
  '<title type="x-s">TITLE.</title> Spurgeon said &quot;blessed&quot; is plural{1}.',
  '',
];

const AUSTEN = {
  sensesensibility: ['SENSE AND SENSIBILITY', '', 'by Jane Austen', '', 'CHAPTER 1', '', 'The family of Dashwood had long been settled', 'in Sussex.', '', '"Not _so_ long," said she.'],
  prideprejudice: ['PRIDE AND PREJUDICE', '', 'Chapter 1', '', 'It is a truth universally acknowledged, that a single man in possession', 'of a good fortune, must be in want of a wife.'],
  mansfieldpark: ['CHAPTER I', '', 'About thirty years ago Miss Maria Ward had the good luck to captivate Sir Thomas.'],
  emma: ['CHAPTER I', '', 'Emma Woodhouse, handsome, clever, and rich.'],
  northangerabbey: ['CHAPTER 1', '', 'No one who had ever seen Catherine Morland in her infancy would have supposed her born to be a heroine.'],
  persuasion: ['Chapter 1', '', 'Sir Walter Elliot, of Kellynch Hall, never took up any book but the Baronetage.'],
};

const MOBY = [
  '\uFEFFThe Project Gutenberg EBook of Moby Dick; or The Whale, by Herman Melville\r\n\r\nThis eBook is for the use of anyone anywhere at no cost\r\n\r\n',
  '*** START OF THIS PROJECT GUTENBERG EBOOK MOBY DICK; OR THE WHALE ***\r\n\r\nProduced by Daniel Lazarus and Jonesey\r\n\r\n',
  'MOBY DICK; OR THE WHALE\r\n\r\nOriginal Transcriber\'s Notes:\r\n\r\nIn chapters 24, 89, and 90, we substituted a capital L.\r\n\r\n',
  'CHAPTER 1. Loomings.\r\n\r\nCall me Ishmael. Some years ago--never mind how long precisely--having\r\nlittle or no money in my purse.\r\n\r\n',
  'End of Project Gutenberg\'s Moby Dick\r\n\r\n*** END OF THIS PROJECT GUTENBERG EBOOK MOBY DICK ***\r\nGUTENBERG LICENCE FOOTER\r\n',
].join('');

const MOVIES_CSV = [
  'movieId,title,genres',
  '1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy',
  '11,"American President, The (1995)",Comedy|Drama|Romance',
  '99,Untitled Thing,(no genres listed)',
  '',
].join('\n');
const RATINGS_CSV = 'userId,movieId,rating,timestamp\n424242,1,4.5,964982703\n424242,11,0.5,964981247\n';
const TAGS_CSV = 'userId,movieId,tag,timestamp\n424242,1,QQSECRETTAGQQ,1445714994\n';

const DPKG_STATUS = [
  'Package: dict-gcide\nStatus: install ok installed\nVersion: 0.48.5+nmu2\n',
  'Package: wordnet-base\nStatus: install ok installed\nVersion: 1:3.0-37\n',
  'Package: dict-devil\nStatus: deinstall ok config-files\nVersion: 1.0-13.1\n',
].join('\n');

const tempDirs: string[] = [];
async function tempDir(prefix: string): Promise<string> {
  const d = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}
after(async () => {
  for (const d of tempDirs) await fsp.rm(d, { recursive: true, force: true });
});

/** A fake Debian root with a subset of the sources installed, plus a MovieLens directory. */
async function makeRoot(opts: { withGcide?: boolean; withWordnet?: boolean; withDevil?: boolean } = {}): Promise<{ root: string; movielens: string }> {
  const root = await tempDir('userip-corpus-');
  await fsp.mkdir(path.join(root, 'var/lib/dpkg'), { recursive: true });
  await fsp.writeFile(path.join(root, 'var/lib/dpkg/status'), DPKG_STATUS);
  if (opts.withGcide !== false) await writeDictd(path.join(root, 'usr/share/dictd'), 'gcide', GCIDE_ENTRIES);
  if (opts.withDevil) {
    await writeDictd(path.join(root, 'usr/share/dictd'), 'devil', [
      { headwords: ['00databaseshort'], text: '00-database-short\n     The Devil\'s Dictionary\n\n' },
      { headwords: ['abasement'], text: 'ABASEMENT, n.  A decent and customary mental attitude in the presence\nof wealth of power.\n\n' },
    ]);
  }
  if (opts.withWordnet !== false) {
    await fsp.mkdir(path.join(root, 'usr/share/wordnet'), { recursive: true });
    for (const pos of ['noun', 'verb', 'adv']) await fsp.writeFile(path.join(root, `usr/share/wordnet/data.${pos}`), '  1 licence header line  \n');
    await fsp.writeFile(path.join(root, 'usr/share/wordnet/data.adj'), WORDNET_DATA);
  }
  await writeSword(path.join(root, 'usr/share/sword/modules/texts/ztext/engWEB2015eb'), 'ot', WEB_OT, 10);
  await writeSword(path.join(root, 'usr/share/sword/modules/comments/zcom/mhcc'), 'ot', MHCC_OT, 12);
  await writeRLazyLoad(path.join(root, 'usr/lib/R/site-library/janeaustenr/data'), AUSTEN);
  await writeRLazyLoad(path.join(root, 'usr/lib/R/site-library/tokenizers/data'), { mobydick: [MOBY] });
  await fsp.mkdir(path.join(root, 'usr/share/state'), { recursive: true });
  await fsp.writeFile(path.join(root, 'usr/share/state/us-declaration.gz'), gzipSync('The Declaration of Independence\n\n\nWhen in the Course of human events, it becomes\nnecessary for one people to dissolve the political bands.\n'));
  await fsp.writeFile(path.join(root, 'usr/share/state/us-constitution.gz'), gzipSync('We the People of the United States, in Order to form\na more perfect Union.\n'));
  const movielens = path.join(root, 'movielens');
  await fsp.mkdir(movielens);
  await fsp.writeFile(path.join(movielens, 'movies.csv'), MOVIES_CSV);
  await fsp.writeFile(path.join(movielens, 'ratings.csv'), RATINGS_CSV);
  await fsp.writeFile(path.join(movielens, 'tags.csv'), TAGS_CSV);
  return { root, movielens };
}

async function readOut(dir: string): Promise<{ train: string; valid: string; manifest: CorpusManifest }> {
  return {
    train: await fsp.readFile(path.join(dir, 'train.txt'), 'utf8'),
    valid: await fsp.readFile(path.join(dir, 'valid.txt'), 'utf8'),
    manifest: JSON.parse(await fsp.readFile(path.join(dir, 'manifest.json'), 'utf8')) as CorpusManifest,
  };
}

function report(m: CorpusManifest, id: string) {
  const r = m.sources.find((s) => s.id === id);
  assert.ok(r, `no report for ${id}`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Format readers
// ---------------------------------------------------------------------------------------------

test('dictd numbers and entries: base64 offsets, one entry per location, database header skipped', () => {
  assert.equal(decodeDictdNumber('A'), 0);
  assert.equal(decodeDictdNumber('5I'), 57 * 64 + 8);
  assert.equal(decodeDictdNumber(dictdNumber(1234567)), 1234567);
  const data = Buffer.from('00-database-info\nheader\n\nalpha\n  first\n\nbeta\n  second\n');
  const at = (s: string) => dictdNumber(data.indexOf(s));
  const index = [`00-database-info\tA\t${at('alpha')}`, `alpha\t${at('alpha')}\tP`, `also-alpha\t${at('alpha')}\tP`, `beta\t${at('beta')}\tO`].join('\n');
  const entries = readDictd(index, data);
  assert.deepEqual(entries.map((e) => e.text), ['alpha\n  first\n\n', 'beta\n  second\n']);
});

test('GCIDE cleaning drops pronunciations, etymologies and tags and decodes character codes', () => {
  const out = cleanGcideEntry(GCIDE_ENTRIES[1]!.text);
  assert.equal(
    out,
    'Abjure, v. t. 1. To renounce upon oath; to forswear; as, to abjure allegiance to a prince.\n2. To renounce or reject with solemnity. "Magic I here abjure." \u2014 Shak.',
  );
  assert.equal(cleanGcideEntry(GCIDE_ENTRIES[2]!.text), 'Cafe, n. A coffee house; a caf\u00e9; a restaurant.');
  assert.equal(cleanGcideEntry('Zythem \\Zy"them\\ (z[imac]"th[e^]m), n.\n   See {Zythum}.\n'), 'Zythem, n. See Zythum.');
  assert.equal(cleanGcideEntry('Transcriber \\Tran*scrib"er\\ (-[~e]r), n.\n   One who transcribes. --Ellis. -- En"ti*ta*tive*ly, adv.\n'), 'Transcriber, n. One who transcribes. \u2014 Ellis. \u2014 Entitatively, adv.');
});

test('WordNet data lines become "words (pos): gloss"; licence header lines are skipped', () => {
  assert.deepEqual(extractWordnetData(WORDNET_DATA), [
    'able (adjective): (usually followed by `to\') having the necessary means or skill; "able to swim"',
    'unable, ill-equipped (adjective): not having the necessary means or skill',
  ]);
});

test('OSIS markup: notes dropped, words unwrapped, paragraphs and titles on their own lines', () => {
  assert.equal(
    osisToText('<title>Psalm 1</title><w lemma="x">Blessed</w> is the man<note>n1</note>, who &amp; <hi>walks</hi>.<div eID="p" type="x-p"/>Next'),
    'Psalm 1\nBlessed is the man, who & walks.\nNext',
  );
});

test('R unserialize reads real R output (XDR v3 strings with NA and UTF-8; v2 and v3 named lists with ALTREP)', () => {
  const v3 = Buffer.from(
    '580a000000030004020200030500000000055554462d3800000010000000060004000900000009434841505445522031000400090000000000040009000000274974206973206120747275746820756e6976657273616c6c792061636b6e6f776c65646765642c00040009000000117468617420612073696e676c65206d616e00000009ffffffff0000800900000005636166c3a9',
    'hex',
  );
  const s = unserializeR(v3);
  assert.equal(s.kind, 'character');
  assert.deepEqual(s.kind === 'character' && s.value, ['CHAPTER 1', '', 'It is a truth universally acknowledged,', 'that a single man', null, 'caf\u00e9']);
  for (const hex of [
    '580a00000002000402020002030000000213000000030000000d000000030000000100000002000000030000000e00000002400400000000000040100000000000000000001000000001000400090000000178000004020000000100040009000000056e616d65730000001000000003000400090000000161000400090000000162000400090000000173000000fe',
    '580a000000030004020200030500000000055554462d380000021300000003000000ee0000000200000001000400090000000e636f6d706163745f696e747365710000000200000001000400090000000462617365000000020000000d000000010000000d000000fe0000000e0000000340080000000000003ff00000000000003ff0000000000000000000fe0000000e00000002400400000000000040100000000000000000001000000001000400090000000178000004020000000100040009000000056e616d65730000001000000003000400090000000161000400090000000162000400090000000173000000fe',
  ]) {
    const l = unserializeR(Buffer.from(hex, 'hex'));
    assert.equal(l.kind, 'list');
    if (l.kind !== 'list') return;
    const names = l.attributes.get('names');
    assert.deepEqual(names?.kind === 'character' && names.value, ['a', 'b', 's']);
    assert.deepEqual(l.value.map((v) => ('value' in v ? v.value : null)), [[1, 2, 3], [2.5, 4], ['x']]);
  }
});

test('Project Gutenberg header, notes and licence footer are stripped', () => {
  const out = stripGutenberg(MOBY);
  assert.match(out, /CHAPTER 1\. Loomings\./);
  assert.match(out, /Call me Ishmael/);
  for (const bad of [/Gutenberg/i, /Produced by/, /substituted/, /LICENCE FOOTER/, /anyone anywhere/]) assert.doesNotMatch(out, bad);
});

test('helpers: catalog sentence, chunking, dpkg status, document split', () => {
  assert.equal(
    movieSentence({ movieId: '1', title: 'Toy Story (1995)', genres: ['Adventure', 'Animation', 'Children', 'Comedy', 'Fantasy'] }),
    'Toy Story (1995) is an Adventure, Animation, Children, Comedy, Fantasy movie.',
  );
  assert.equal(movieSentence({ movieId: '2', title: 'Heat (1995)', genres: ['Action', 'Crime'] }), 'Heat (1995) is an Action, Crime movie.');
  assert.equal(movieSentence({ movieId: '3', title: 'X (2000)', genres: [] }), 'X (2000) is a movie.');
  const long = Array.from({ length: 50 }, (_, i) => `Sentence number ${i} is here.`).join(' ');
  const pieces = chunkDocument(`${long}\nshort`, 200);
  assert.ok(pieces.length > 1 && pieces.every((p) => p.length <= 200));
  assert.equal(pieces.join(' ').replace(/\s+/g, ' '), `${long} short`.replace(/\n/g, ' '));
  const v = parseDpkgStatus(DPKG_STATUS);
  assert.equal(v.get('dict-gcide'), '0.48.5+nmu2');
  assert.equal(v.has('dict-devil'), false);
  assert.deepEqual(splitCorpusDocuments('a\nb\n\nc\n\n'), ['a\nb', 'c']);
});

// ---------------------------------------------------------------------------------------------
// buildCorpus end to end
// ---------------------------------------------------------------------------------------------

test('buildCorpus extracts every installed fixture source and never reads MovieLens ratings or tags', async () => {
  const { root, movielens } = await makeRoot({ withDevil: true });
  const out = path.join(root, 'out');
  const m = await buildCorpus({ root, movielensDir: movielens, outDir: out, validFraction: 0.3, seed: 7 });
  const { train, valid, manifest } = await readOut(out);
  assert.deepEqual(manifest, m);
  const all = train + valid;
  const docs = [...splitCorpusDocuments(train), ...splitCorpusDocuments(valid)];
  assert.equal(docs.length, m.train.documents + m.valid.documents);
  assert.equal(Buffer.byteLength(train), m.train.bytes);
  for (const d of docs) assert.doesNotMatch(d, /\n\s*\n/, 'no blank line inside a document');

  // Sources and versions.
  for (const id of ['gcide', 'wordnet', 'devil', 'web-bible', 'mhcc', 'austen', 'mobydick', 'us-documents', 'movielens']) {
    assert.equal(report(m, id).status, 'included', id);
    const r = report(m, id);
    assert.ok(r.train.documents + r.valid.documents > 0, id);
  }
  assert.equal(report(m, 'gcide').version, '0.48.5+nmu2');
  assert.equal(report(m, 'devil').version, null, 'config-files only is not installed');
  assert.equal(report(m, 'gcide').licence, 'GPL-2.0-or-later');

  // Dictionaries.
  assert.match(all, /Abjure, v\. t\. 1\. To renounce upon oath/);
  assert.match(all, /a caf\u00e9; a restaurant/);
  assert.equal(all.split('A coffee house').length - 1, 1, 'two headwords on one entry give one entry');
  assert.doesNotMatch(all, /LICENCE HEADER|database|1913 Webster|\\Ab\*jure/);
  assert.match(all, /unable, ill-equipped \(adjective\): not having the necessary means or skill/);
  assert.doesNotMatch(all, /LICENSEE/);
  assert.match(all, /ABASEMENT, n\. A decent and customary mental attitude in the presence of wealth of power\./);
  // SWORD: chapter documents, footnotes gone, verses joined, paragraphs split, links deduplicated.
  assert.match(all, /In the beginning, God created the heavens and the earth\. The earth was formless and empty\.\nGod said, "Let there be light," and there was light\./);
  assert.doesNotMatch(all, /FOOTNOTE|strong:|<|>/);
  assert.ok(docs.some((d) => d === 'The heavens, the earth, and all their vast array were finished.'), 'chapter 2 is its own document');
  assert.equal(all.split('The first verse of the Bible').length - 1, 1);
  assert.match(all, /TITLE\.\nSpurgeon said "blessed" is plural\./);
  // Novels and documents.
  assert.match(all, /CHAPTER 1\nThe family of Dashwood had long been settled in Sussex\.\n"Not so long," said she\./);
  assert.match(all, /It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife\./);
  assert.match(all, /Call me Ishmael\. Some years ago \u2014 never mind how long precisely \u2014 having little or no money in my purse\./);
  assert.doesNotMatch(all, /Gutenberg|LICENCE FOOTER/);
  assert.match(all, /When in the Course of human events, it becomes necessary for one people/);
  // MovieLens: catalog sentences only.
  assert.match(all, /Toy Story \(1995\) is an Adventure, Animation, Children, Comedy, Fantasy movie\./);
  assert.match(all, /American President, The \(1995\) is a Comedy, Drama, Romance movie\./);
  assert.match(all, /Untitled Thing is a movie\./);
  assert.match(all, /Comedy movies include Toy Story \(1995\) and American President, The \(1995\)\./);
  for (const leak of ['424242', 'QQSECRETTAGQQ', '964982703', '964981247', '4.5', '0.5', 'userId', 'timestamp']) assert.ok(!all.includes(leak), `leaked ${leak}`);
  assert.deepEqual(report(m, 'movielens').files, [path.join(movielens, 'movies.csv')]);
});

test('missing and unselected sources are skipped with a note; unknown ids are rejected', async () => {
  const { root, movielens } = await makeRoot({ withGcide: false, withWordnet: false });
  const out = path.join(root, 'out');
  const m = await buildCorpus({ root, outDir: out, movielensDir: path.join(root, 'nope') });
  const gcide = report(m, 'gcide');
  assert.equal(gcide.status, 'skipped');
  assert.match(gcide.note ?? '', /not installed: missing .*gcide\.index.*apt-get install dict-gcide/);
  assert.equal(report(m, 'wordnet').status, 'skipped');
  assert.equal(report(m, 'wordnet-dict').status, 'skipped', 'the fallback is tried and is missing too');
  assert.match(report(m, 'wordnet-dict').note ?? '', /apt-get install dict-wn/);
  assert.equal(report(m, 'foldoc').status, 'not-selected');
  assert.equal(report(m, 'kjv-bible').status, 'not-selected');
  assert.equal(report(m, 'movielens').status, 'skipped');
  assert.equal(report(m, 'austen').status, 'included');
  assert.equal(m.sources.length, CORPUS_SOURCES.length);

  // A machine with nothing installed still writes (empty) files and a complete manifest.
  const empty = await tempDir('userip-corpus-empty-');
  const m2 = await buildCorpus({ root: empty, outDir: path.join(empty, 'out') });
  assert.ok(m2.sources.every((s) => s.status !== 'included'));
  assert.equal(m2.train.documents, 0);
  assert.equal(await fsp.readFile(path.join(empty, 'out', 'train.txt'), 'utf8'), '');
  assert.equal(report(m2, 'movielens').note, 'no movielensDir given');

  // The fallback dictd WordNet is used when wordnet-base is absent, and not when it is present.
  await writeDictd(path.join(root, 'usr/share/dictd'), 'wn', [{ headwords: ['abet'], text: 'abet\n    v 1: assist or encourage, usually in some wrongdoing [syn: {abet}]\n' }]);
  const m3 = await buildCorpus({ root, outDir: out, sources: ['wordnet', 'wordnet-dict'] });
  assert.equal(report(m3, 'wordnet-dict').status, 'included');
  assert.match(await fsp.readFile(path.join(out, 'train.txt'), 'utf8') + (await fsp.readFile(path.join(out, 'valid.txt'), 'utf8')), /abet \(verb\): assist or encourage, usually in some wrongdoing/);
  void movielens;

  await assert.rejects(buildCorpus({ root, outDir: out, sources: ['gcide', 'nope'] }), /unknown corpus source "nope"/);
  await assert.rejects(buildCorpus({ root, outDir: out, validFraction: 1 }), /validFraction/);
});

test('the split is deterministic, depends only on each document and the seed, and caps keep a sample', async () => {
  const { root, movielens } = await makeRoot({ withDevil: true });
  const a = path.join(root, 'a');
  const b = path.join(root, 'b');
  await buildCorpus({ root, movielensDir: movielens, outDir: a, validFraction: 0.25, seed: 3 });
  await buildCorpus({ root, movielensDir: movielens, outDir: b, validFraction: 0.25, seed: 3 });
  const ra = await readOut(a);
  const rb = await readOut(b);
  assert.equal(ra.train, rb.train);
  assert.equal(ra.valid, rb.valid);
  assert.deepEqual(ra.manifest, rb.manifest);
  assert.ok(ra.manifest.valid.documents > 0 && ra.manifest.train.documents > 0);
  for (const d of splitCorpusDocuments(ra.valid)) assert.equal(isValidationDocument(d, 3, 0.25), true);
  for (const d of splitCorpusDocuments(ra.train)) assert.equal(isValidationDocument(d, 3, 0.25), false);

  // Removing other sources does not move any document between splits.
  const c = path.join(root, 'c');
  await buildCorpus({ root, movielensDir: movielens, outDir: c, validFraction: 0.25, seed: 3, sources: ['movielens'] });
  const rc = await readOut(c);
  const validA = new Set(splitCorpusDocuments(ra.valid));
  const trainA = new Set(splitCorpusDocuments(ra.train));
  for (const d of splitCorpusDocuments(rc.valid)) assert.ok(validA.has(d));
  for (const d of splitCorpusDocuments(rc.train)) assert.ok(trainA.has(d));

  // Another seed gives another split of the same documents.
  const d = path.join(root, 'd');
  await buildCorpus({ root, movielensDir: movielens, outDir: d, validFraction: 0.25, seed: 4 });
  const rd = await readOut(d);
  assert.notEqual(rd.valid, ra.valid);
  assert.deepEqual(
    [...splitCorpusDocuments(rd.train), ...splitCorpusDocuments(rd.valid)].sort(),
    [...splitCorpusDocuments(ra.train), ...splitCorpusDocuments(ra.valid)].sort(),
  );

  // A per-source cap keeps a subset of whole documents within the cap.
  const e = path.join(root, 'e');
  const me = await buildCorpus({ root, movielensDir: movielens, outDir: e, sources: ['austen'], maxBytesPerSource: 200 });
  const austen = report(me, 'austen');
  assert.ok(austen.train.bytes + austen.valid.bytes <= 200);
  assert.ok(austen.extracted_bytes > 200);
  assert.match(austen.note ?? '', /capped at 200 bytes/);
});

test('outputs are replaced atomically: no temp files, old files kept when a build fails', async () => {
  const { root, movielens } = await makeRoot();
  const out = path.join(root, 'out');
  await fsp.mkdir(out);
  await fsp.writeFile(path.join(out, 'train.txt'), 'OLD TRAIN');
  await buildCorpus({ root, movielensDir: movielens, outDir: out, sources: ['movielens'] });
  assert.deepEqual((await fsp.readdir(out)).sort(), ['manifest.json', 'train.txt', 'valid.txt']);
  const good = await readOut(out);
  assert.doesNotMatch(good.train, /OLD TRAIN/);

  // A corrupt source fails the build before anything is replaced.
  await fsp.writeFile(path.join(root, 'usr/share/sword/modules/texts/ztext/engWEB2015eb/ot.bzz'), Buffer.from('not zlib data at all'));
  await assert.rejects(buildCorpus({ root, movielensDir: movielens, outDir: out }), /corpus source web-bible: .*not zlib-compressed/);
  assert.deepEqual(await readOut(out), good);

  // A failure while renaming into place leaves no temporary files behind.
  const out2 = path.join(root, 'out2');
  await fsp.mkdir(path.join(out2, 'train.txt'), { recursive: true }); // a directory where the file should go
  await fsp.writeFile(path.join(out2, 'train.txt', 'keep'), 'x');
  await assert.rejects(buildCorpus({ root, movielensDir: movielens, outDir: out2, sources: ['movielens'] }));
  assert.deepEqual((await fsp.readdir(out2)).sort(), ['train.txt']);
});

test('CORPUS_SOURCES describes every source with package, files, licence and extractor', () => {
  const ids = new Set<string>();
  for (const s of CORPUS_SOURCES) {
    assert.ok(!ids.has(s.id), `duplicate id ${s.id}`);
    ids.add(s.id);
    assert.ok(s.files.length > 0 && s.licence && s.licenceNote && s.extractor, s.id);
    if (s.id !== 'movielens') assert.ok(s.debianPackage && s.files.every((f) => path.isAbsolute(f)), s.id);
    if (s.fallbackFor) assert.ok(CORPUS_SOURCES.some((p) => p.id === s.fallbackFor));
  }
  for (const id of ['wordnet', 'gcide', 'web-bible', 'movielens', 'austen']) assert.ok(ids.has(id));
});
