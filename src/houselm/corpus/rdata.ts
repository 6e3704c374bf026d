/** R lazy-load databases (`Rdata.rdx` + `Rdata.rdb`): XDR unserialization of the data objects. */
import { readFile } from 'node:fs/promises';
import { inflateSync } from 'node:zlib';
import { bookToDocuments, stripGutenberg } from './gutenberg.js';
import { maybeGunzip } from './text.js';

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
  const rdxRaw = await readFile(rdxPath);
  const index = unserializeR(maybeGunzip(rdxRaw));
  if (index.kind !== 'list') throw new Error(`${rdxPath}: not an R lazy-load index`);
  const fields = namesOf(index);
  const field = (n: string) => index.value[fields.indexOf(n)];
  const variables = field('variables');
  const comp = field('compressed');
  const compressed = comp && (comp.kind === 'logical' || comp.kind === 'integer' || comp.kind === 'double') ? (comp.value[0] ?? 1) : 1;
  if (!variables || variables.kind !== 'list') throw new Error(`${rdxPath}: no "variables" in the lazy-load index`);
  const varNames = namesOf(variables);
  const rdb = await readFile(rdbPath);
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

/**
 * Books stored as character vectors (one line per element) in an R lazy-load database: the named
 * objects (default all), each as chapter documents; `gutenberg` strips Project Gutenberg boilerplate.
 */
export async function rDataBookDocuments(files: readonly string[], objects: readonly string[], gutenberg: boolean): Promise<string[]> {
  const rdx = files.find((f) => f.endsWith('.rdx'));
  const rdb = files.find((f) => f.endsWith('.rdb'));
  if (!rdx || !rdb) throw new Error(`R lazy-load source needs .rdx and .rdb files, got ${files.join(', ')}`);
  const objs = await readRLazyLoad(rdx, rdb, objects.length ? objects : undefined);
  const docs: string[] = [];
  for (const name of objects.length ? objects : [...objs.keys()]) {
    const o = objs.get(name);
    if (!o || o.kind !== 'character') throw new Error(`${rdb}: ${name} is not a character vector`);
    const strings = o.value.map((s) => s ?? '');
    const lines = gutenberg ? stripGutenberg(strings.join('\n')).split('\n') : strings.join('\n').replace(/\r\n?/g, '\n').split('\n');
    docs.push(...bookToDocuments(lines));
  }
  return docs;
}
