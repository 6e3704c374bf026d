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
 *
 * Each source format has its own reader in this folder; this file picks the reader of each source,
 * removes duplicates, caps and splits, and writes the files.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { AtomicFile, exists, writeFileAtomic } from '../../io/index.js';
import { cleanDevilEntry, cleanFoldocEntry, cleanGcideEntry, cleanGenericDictdEntry, cleanJargonEntry, cleanWnEntry, dictdDocuments } from './dictd.js';
import { movieLensDocuments } from './movielens.js';
import { plainTextDocuments } from './plaintext.js';
import { rDataBookDocuments } from './rdata.js';
import { CORPUS_DOCUMENT_SEPARATOR, CORPUS_MANIFEST_VERSION, CORPUS_SOURCES, type BuildCorpusOptions, type CorpusManifest, type CorpusSource, type CorpusSourceReport } from './sources.js';
import { swordDocuments } from './sword.js';
import { docHash } from './text.js';
import { wordnetDocuments } from './wordnet.js';

/** The entry cleaner of each dictd source: the dictionaries differ only in their markup. */
const DICTD_CLEANERS = {
  'dictd-gcide': cleanGcideEntry,
  'dictd-wn': cleanWnEntry,
  'dictd-devil': cleanDevilEntry,
  'dictd-jargon': cleanJargonEntry,
  'dictd-foldoc': cleanFoldocEntry,
  'dictd-generic': cleanGenericDictdEntry,
} as const;
const isDictd = (extractor: string): extractor is keyof typeof DICTD_CLEANERS => extractor in DICTD_CLEANERS;

/** Extracts the documents of one source from its (resolved) files. */
export async function extractSource(source: CorpusSource, files: readonly string[]): Promise<string[]> {
  const extractor = source.extractor;
  if (isDictd(extractor)) return dictdDocuments(files, DICTD_CLEANERS[extractor]);
  switch (extractor) {
    case 'wordnet-data':
      return wordnetDocuments(files);
    case 'sword-text':
      return swordDocuments(files, 'text');
    case 'sword-commentary':
      return swordDocuments(files, 'commentary');
    case 'r-lazyload-lines':
    case 'r-lazyload-gutenberg':
      return rDataBookDocuments(files, listParam(source, 'objects'), extractor === 'r-lazyload-gutenberg');
    case 'gzip-text':
      return plainTextDocuments(files);
    case 'movielens-catalog':
      return movieLensDocuments(files);
  }
}

function listParam(source: CorpusSource, key: string): string[] {
  const v = source.params?.[key];
  return v === undefined ? [] : typeof v === 'string' ? [v] : [...v];
}

// ---------------------------------------------------------------------------------------------
// Filesystem helpers
// ---------------------------------------------------------------------------------------------

async function sizeOf(p: string): Promise<number> {
  const st = await stat(p);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const name of await readdir(p)) total += await sizeOf(path.join(p, name));
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
    dpkg = parseDpkgStatus(await readFile(path.join(root, 'var/lib/dpkg/status'), 'utf8'));
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
      licence_note: source.licenceNote,
      copyright_file: copyright && (await exists(copyright)) ? copyright : null,
      kind: source.kind,
      extractor: source.extractor,
      files,
      status: 'skipped',
      raw_bytes: 0,
      extracted_bytes: 0,
      extracted_documents: 0,
      max_bytes: null,
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
    for (const f of files) report.raw_bytes += await sizeOf(f);
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
    report.extracted_documents = unique.length;
    report.extracted_bytes = unique.reduce((a, d) => a + d.bytes, 0);
    const cap = options.maxBytesPerSource ?? source.defaultMaxBytes ?? null;
    report.max_bytes = cap;
    let kept = unique;
    if (cap !== null && report.extracted_bytes > cap) {
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

  await mkdir(options.outDir, { recursive: true });
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
    manifest_version: CORPUS_MANIFEST_VERSION,
    description:
      'Pretraining corpus of the userip house LM: openly licensed English text from Debian packages plus MovieLens catalog sentences (titles and genres only, no user behaviour).',
    format: {
      encoding: 'utf-8',
      document_separator: CORPUS_DOCUMENT_SEPARATOR,
      paragraph_separator: '\n',
      order: 'documents sorted by a seeded hash of their text (sources interleaved)',
    },
    seed,
    valid_fraction: validFraction,
    max_bytes_per_source: options.maxBytesPerSource ?? null,
    split: 'a document is in valid.txt when sha256("userip-corpus:<seed>\\0" + text) read as a 48-bit fraction is < validFraction',
    train: { path: 'train.txt', documents: counts.train, bytes: writers.train.bytes, sha256: trainHash },
    valid: { path: 'valid.txt', documents: counts.valid, bytes: writers.valid.bytes, sha256: validHash },
    sources: reports,
  };
  await writeFileAtomic(path.join(options.outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  log(`corpus: wrote ${counts.train} train documents (${writers.train.bytes} bytes) and ${counts.valid} valid documents (${writers.valid.bytes} bytes)`);
  return manifest;
}
