/**
 * Reading input files record by record: gzip detection, line streaming, CSV via csv-parse, JSON lines,
 * typed field access, and bad-row errors located as `file:line:field`. Every reader goes through here.
 */
import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { parse as parseCsv } from 'csv-parse';
import { parseJsonOrPython } from './pyliteral.js';

/** A bad value in an input file. The message reads `ratings.csv:17:rating: "abc" is not a number`. */
export class DataError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string,
    readonly reason: string,
    /** A problem with the whole file (e.g. a missing column): never skipped, since every row would fail. */
    readonly fatal = false,
  ) {
    super(`${basename(file)}:${line}:${field}: ${reason}`);
    this.name = 'DataError';
  }
}

export interface BadRowReport {
  badRows: number;
  /** The first few messages, enough to see what is wrong without flooding a log. */
  examples: string[];
}

const MAX_EXAMPLES = 10;

/** Throws the first bad row, or, when skipping, counts bad rows and keeps the first messages. */
export class BadRows {
  readonly report: BadRowReport = { badRows: 0, examples: [] };

  constructor(private readonly skip: boolean) {}

  add(error: DataError): void {
    if (!this.skip || error.fatal) throw error;
    this.report.badRows++;
    if (this.report.examples.length < MAX_EXAMPLES) this.report.examples.push(error.message);
  }
}

export type TableFormat =
  | {
      type: 'delimited';
      delimiter: string;
      /** `'header'`: the first record names the columns; otherwise the names of a headerless file. */
      columns: 'header' | readonly string[];
      /** False for formats that never quote (MovieLens .dat, u.item), where a `"` is an ordinary character. */
      quote: boolean;
      encoding: BufferEncoding;
    }
  | { type: 'jsonl' };

export const CSV: TableFormat = { type: 'delimited', delimiter: ',', columns: 'header', quote: true, encoding: 'utf8' };
export const JSONL: TableFormat = { type: 'jsonl' };

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
/** An ISO date or date-time without a zone offset. */
const ISO_LOCAL = /^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/;

/** The lowest and highest rating a dataset can hold (MovieLens latest 0.5 to 5, Amazon 1 to 5, ...). */
export interface RatingScale {
  min: number;
  max: number;
}

/** Whole stars, 1 to 5: Amazon, Yelp, MovieLens 100K and 1M. */
export const FIVE_STARS: RatingScale = { min: 1, max: 5 };

/** One record of a file, with typed field access whose failures name the file, line and field. */
export class Row {
  line = 0;
  private values: unknown = undefined;
  private columns: Map<string, number> | undefined;

  constructor(readonly file: string) {}

  /** Raw value; a dotted name walks into nested JSON objects (`attributes.RestaurantsPriceRange2`). */
  get(field: string): unknown {
    if (this.columns) {
      const index = this.columns.get(field);
      if (index === undefined) {
        throw new DataError(this.file, 1, field, `no such column (columns: ${[...this.columns.keys()].join(', ')})`, true);
      }
      return (this.values as string[])[index];
    }
    const object = this.values as Record<string, unknown>;
    if (field in object || !field.includes('.')) return object[field];
    let value: unknown = object;
    for (const key of field.split('.')) {
      value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
    }
    return value;
  }

  fail(field: string, reason: string): never {
    throw new DataError(this.file, this.line, field, reason);
  }

  /** Optional text: missing, null and empty read as undefined. */
  text(field: string): string | undefined {
    const value = this.get(field);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    return this.fail(field, `expected text, got ${show(value)}`);
  }

  /** A required identifier. */
  id(field: string): string {
    return this.text(field) ?? this.fail(field, 'missing');
  }

  number(field: string): number {
    return this.optionalNumber(field) ?? this.fail(field, 'missing');
  }

  /** A required rating on the dataset's scale; without a scale, any number. */
  rating(field: string, scale: RatingScale | undefined): number {
    const value = this.number(field);
    if (scale && !(value >= scale.min && value <= scale.max)) this.fail(field, `${value} is outside the rating scale ${scale.min} to ${scale.max}`);
    return value;
  }

  optionalNumber(field: string): number | undefined {
    const value = this.get(field);
    if (value === undefined || value === null || value === '') return undefined;
    const number = typeof value === 'string' && NUMBER.test(value.trim()) ? Number(value) : value;
    if (typeof number === 'number' && Number.isFinite(number)) return number;
    return this.fail(field, `${show(value)} is not a number`);
  }

  /** Unix seconds, from a number or an ISO date (`2016-03-09`, `2016-03-09 00:44:35`, with or without a zone). */
  time(field: string): number {
    const value = this.get(field);
    if (value === undefined || value === null || value === '') return this.fail(field, 'missing');
    if (typeof value === 'number' || (typeof value === 'string' && NUMBER.test(value.trim()))) return this.number(field);
    if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value)) {
      // Date.parse reads a date-time without a zone in the machine's zone; read it as UTC instead.
      const ms = Date.parse(ISO_LOCAL.test(value) && value.length > 10 ? `${value.replace(' ', 'T')}Z` : value);
      if (Number.isFinite(ms)) return Math.floor(ms / 1000);
    }
    return this.fail(field, `${show(value)} is not a unix time or ISO date`);
  }

  /** A list given as separated text (`Action|Comedy`, `Bars, Pubs`) or as a JSON array, nested arrays flattened; duplicates dropped. */
  list(field: string, separator: string): string[] | undefined {
    const value = this.get(field);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value === 'string') return unique(value.split(separator).map((part) => part.trim()));
    if (Array.isArray(value)) {
      const flat = value.flat(Infinity);
      if (flat.every((part) => typeof part === 'string')) return unique(flat.map((part) => part.trim()));
    }
    return this.fail(field, `expected a list of text, got ${show(value)}`);
  }

  /** Called by readRows for each record. */
  set(line: number, values: unknown): void {
    this.line = line;
    this.values = values;
  }

  setColumns(names: readonly string[]): void {
    this.columns = new Map(names.map((name, index) => [name, index]));
  }
}

function unique(parts: string[]): string[] | undefined {
  const kept = [...new Set(parts.filter((part) => part !== ''))];
  return kept.length > 0 ? kept : undefined;
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The file's bytes, gunzipped when it starts with the gzip magic bytes (whatever its name says). */
export async function openInput(file: string): Promise<Readable> {
  const handle = await open(file, 'r');
  const magic = Buffer.alloc(2);
  const { bytesRead } = await handle.read(magic, 0, 2, 0).finally(() => handle.close());
  const raw = createReadStream(file);
  if (bytesRead < 2 || magic[0] !== 0x1f || magic[1] !== 0x8b) return raw;
  const gunzip = createGunzip();
  raw.on('error', (error) => gunzip.destroy(error));
  // A reader that stops early destroys the gunzip stream; the file must close with it.
  gunzip.on('close', () => raw.destroy());
  return raw.pipe(gunzip);
}

/** Calls `visit` for each line (1-based number, without its line ending), streaming the file. */
export async function forEachLine(file: string, visit: (line: string, number: number) => void): Promise<void> {
  const raw = await openInput(file);
  const input = raw.pipe(utf8Lines(file));
  raw.on('error', (error) => input.destroy(error));
  input.setEncoding('utf8');
  let rest = '';
  let number = 0;
  for await (const chunk of input as AsyncIterable<string>) {
    // A byte-order mark would make the first JSON line unreadable.
    const lines = (number === 0 && rest === '' ? chunk.replace(/^\uFEFF/, '') : rest + chunk).split('\n');
    rest = lines.pop()!;
    for (const line of lines) visit(line.endsWith('\r') ? line.slice(0, -1) : line, ++number);
  }
  if (rest !== '') visit(rest, ++number);
}

/**
 * Streams the records of `file`, calling `visit` with a Row for each. A DataError thrown by `visit`
 * (or a malformed record) goes to `bad`, which throws it or counts it.
 */
export async function readRows(file: string, format: TableFormat, bad: BadRows, visit: (row: Row) => void): Promise<void> {
  const row = new Row(file);
  const guarded = (read: () => void): void => {
    try {
      read();
    } catch (error) {
      if (!(error instanceof DataError)) throw error;
      bad.add(error);
    }
  };

  if (format.type === 'jsonl') {
    await forEachLine(file, (line, number) => {
      if (line.trim() === '') return;
      guarded(() => {
        row.set(number, jsonObject(line, file, number));
        visit(row);
      });
    });
    return;
  }

  if (format.columns !== 'header') row.setColumns(format.columns);
  let columnCount = format.columns === 'header' ? undefined : format.columns.length;
  /**
   * Parses from `fromLine` to the end. An unterminated quote would swallow every line after it as one
   * field; the line after the last good record (where that field opened) is returned instead, so that
   * the caller reports it and parses again past it.
   */
  const parseFrom = async (fromLine: number): Promise<number | undefined> => {
    let lastLine = fromLine - 1;
    let unclosedAt: number | undefined;
    const parser = parseCsv({
      delimiter: format.delimiter,
      quote: format.quote ? '"' : false,
      encoding: format.encoding,
      bom: true,
      skip_empty_lines: true,
      // Short rows reach `visit`, which names the missing field, rather than failing as a whole record.
      relax_column_count: true,
      skip_records_with_error: true,
      on_skip: (error) => {
        if (!error) return;
        if (error.code === 'CSV_QUOTE_NOT_CLOSED') unclosedAt = lastLine + 1;
        else {
          lastLine = Number(error.lines);
          bad.add(new DataError(file, lastLine, 'row', error.message));
        }
      },
      // Visiting inside on_record (and dropping the record) gives the exact line number cheaply.
      on_record: (record: string[], context) => {
        lastLine = context.lines + fromLine - 1;
        if (columnCount === undefined) {
          row.setColumns(record);
          columnCount = record.length;
          return null;
        }
        guarded(() => {
          if (record.length > columnCount!) throw new DataError(file, lastLine, 'row', `${record.length} fields, but the file has ${columnCount} columns`);
          row.set(lastLine, record);
          visit(row);
        });
        return null;
      },
    });
    const stages: Transform[] = [...(format.encoding === 'utf8' ? [utf8Lines(file)] : []), ...(fromLine > 1 ? [withoutLines(fromLine - 1)] : [])];
    await pipeline([await openInput(file), ...stages, parser]);
    return unclosedAt;
  };
  for (let fromLine = 1; ; ) {
    const unclosedAt = await parseFrom(fromLine);
    if (unclosedAt === undefined) return;
    bad.add(new DataError(file, unclosedAt, 'row', 'a quoted field opens here and is never closed'));
    fromLine = unclosedAt + 1;
  }
}

/** Drops the first `count` lines of a byte stream (csv-parse's own `from_line` still parses them). */
function withoutLines(count: number): Transform {
  let left = count;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      let start = 0;
      while (left > 0 && start < chunk.length) {
        const end = chunk.indexOf(0x0a, start);
        if (end === -1) return done();
        left--;
        start = end + 1;
      }
      done(null, start === 0 ? chunk : chunk.subarray(start));
    },
  });
}

/**
 * Passes bytes through, checking that every line is valid UTF-8; the first that is not is a fatal
 * DataError naming its line (decoding would silently turn it into U+FFFD).
 */
function utf8Lines(file: string): Transform {
  let line = 1;
  let carry = Buffer.alloc(0);
  const check = (bytes: Buffer): void => {
    let start = 0;
    for (let end = bytes.indexOf(0x0a); end !== -1; end = bytes.indexOf(0x0a, start)) {
      if (!isUtf8(bytes.subarray(start, end))) throw new DataError(file, line, 'row', 'not valid UTF-8 (give the file\'s encoding, e.g. latin1, or convert it)', true);
      line++;
      start = end + 1;
    }
    if (!isUtf8(bytes.subarray(start))) throw new DataError(file, line, 'row', 'not valid UTF-8 (give the file\'s encoding, e.g. latin1, or convert it)', true);
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      // Only whole lines are checked: a character may be split across chunks, never across a newline.
      const bytes = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      const cut = bytes.lastIndexOf(0x0a) + 1;
      carry = Buffer.from(bytes.subarray(cut));
      try {
        check(bytes.subarray(0, cut));
      } catch (error) {
        return done(error as Error);
      }
      done(null, chunk);
    },
    flush(done) {
      try {
        check(carry);
      } catch (error) {
        return done(error as Error);
      }
      done();
    },
  });
}

function jsonObject(line: string, file: string, number: number): object {
  let value: unknown;
  try {
    value = parseJsonOrPython(line);
  } catch (error) {
    throw new DataError(file, number, 'row', (error as Error).message);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DataError(file, number, 'row', `expected a JSON object, got ${show(value)}`);
  }
  return value;
}

/** A file's name without its data extensions: `reviews_Musical_Instruments_5.json.gz` → `reviews_Musical_Instruments_5`. */
export function fileStem(file: string): string {
  return basename(file).replace(/(\.(json|jsonl|ndjson|csv|tsv|txt|dat))?(\.gz)?$/i, '');
}
