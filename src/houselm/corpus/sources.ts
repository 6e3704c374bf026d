/**
 * The corpus's sources: what each Debian package (or the MovieLens catalog) holds, its licence, and
 * which reader extracts it; plus the option, report and manifest types of `buildCorpus`.
 */
/** Separator written between documents in train.txt / valid.txt. */
export const CORPUS_DOCUMENT_SEPARATOR = '\n\n';

/** Version of the manifest layout (2: snake_case fields). */
export const CORPUS_MANIFEST_VERSION = 2;

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
  licence_note: string;
  copyright_file: string | null;
  kind: CorpusSource['kind'];
  extractor: ExtractorName;
  files: string[];
  status: 'included' | 'skipped' | 'not-selected';
  /** Why a source was skipped or not selected, or what was dropped. */
  note?: string;
  /** Size of the input files on disk. */
  raw_bytes: number;
  /** Extracted text before the cap (UTF-8 bytes of the documents). */
  extracted_bytes: number;
  extracted_documents: number;
  /** Cap applied to this source, or null. */
  max_bytes: number | null;
  train: CorpusSplitStats;
  valid: CorpusSplitStats;
}

export interface CorpusFileStats extends CorpusSplitStats {
  path: string;
  sha256: string;
}

export interface CorpusManifest {
  manifest_version: number;
  description: string;
  format: {
    encoding: 'utf-8';
    document_separator: string;
    paragraph_separator: string;
    order: string;
  };
  seed: number;
  valid_fraction: number;
  max_bytes_per_source: number | null;
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
