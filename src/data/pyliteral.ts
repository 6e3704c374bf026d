/**
 * The 2014 Amazon metadata dumps are not JSON: each line is a Python dict printed with repr() and was
 * meant to be read with `eval` (`{'asin': '0000031852', 'title': "Kid's Tutu", 'price': 3.17, ...}`).
 * This reads that literal subset without evaluating anything: dicts, lists, tuples, strings (with
 * Python escapes), numbers, True, False and None.
 */

/** JSON.parse (fast, strict) first; then the Python literal form. */
export function parseJsonOrPython(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (jsonError) {
    try {
      return parsePythonLiteral(text);
    } catch {
      throw new Error(`not JSON (${(jsonError as Error).message}) nor a Python literal`);
    }
  }
}

export function parsePythonLiteral(text: string): unknown {
  const reader = new LiteralReader(text);
  const value = reader.value();
  reader.skipSpace();
  if (reader.at < text.length) reader.fail('unexpected text after the value');
  return value;
}

const ESCAPES: Record<string, string> = {
  '\\': '\\', "'": "'", '"': '"', n: '\n', r: '\r', t: '\t', b: '\b', f: '\f', v: '\v', a: '\x07', '\n': '',
};
const utf8 = new TextDecoder('utf-8', { fatal: true });

class LiteralReader {
  at = 0;

  constructor(private readonly text: string) {}

  fail(why: string): never {
    throw new Error(`Python literal: ${why} at column ${this.at + 1}`);
  }

  skipSpace(): void {
    while (this.at < this.text.length && ' \t\r\n'.includes(this.text[this.at])) this.at++;
  }

  value(): unknown {
    this.skipSpace();
    const c = this.text[this.at];
    if (c === '{') return this.dict();
    if (c === '[') return this.sequence(']');
    if (c === '(') return this.sequence(')');
    if (c === "'" || c === '"') return this.string();
    // Python 2 printed unicode strings as u'...'.
    if (c === 'u' && (this.text[this.at + 1] === "'" || this.text[this.at + 1] === '"')) {
      this.at++;
      return this.string();
    }
    for (const [word, value] of [['True', true], ['False', false], ['None', null]] as const) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return value;
      }
    }
    const number = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(this.text.slice(this.at, this.at + 40));
    if (number) {
      this.at += number[0].length;
      return Number(number[0]);
    }
    return this.fail(c === undefined ? 'unexpected end' : `unexpected ${JSON.stringify(c)}`);
  }

  private expect(c: string): void {
    this.skipSpace();
    if (this.text[this.at] !== c) this.fail(`expected ${JSON.stringify(c)}`);
    this.at++;
  }

  /** True (and consumes it) when the next character closes the container; handles trailing commas. */
  private closes(close: string, first: boolean): boolean {
    this.skipSpace();
    if (this.text[this.at] === close) {
      this.at++;
      return true;
    }
    if (!first) {
      this.expect(',');
      this.skipSpace();
      if (this.text[this.at] === close) {
        this.at++;
        return true;
      }
    }
    return false;
  }

  private dict(): Record<string, unknown> {
    this.at++;
    const object: Record<string, unknown> = {};
    for (let first = true; !this.closes('}', first); first = false) {
      const key = String(this.value());
      this.expect(':');
      // defineProperty so that a '__proto__' key stays an ordinary key, as JSON.parse keeps it.
      Object.defineProperty(object, key, { value: this.value(), enumerable: true, writable: true, configurable: true });
    }
    return object;
  }

  private sequence(close: string): unknown[] {
    this.at++;
    const items: unknown[] = [];
    for (let first = true; !this.closes(close, first); first = false) items.push(this.value());
    return items;
  }

  private string(): string {
    const quote = this.text[this.at++];
    let out = '';
    let bytes: number[] = [];
    const flushBytes = (): void => {
      if (bytes.length === 0) return;
      // Python 2 printed UTF-8 byte strings as runs of \xNN; a run that is not UTF-8 is Latin-1 code points.
      try {
        out += utf8.decode(Uint8Array.from(bytes));
      } catch {
        out += String.fromCharCode(...bytes);
      }
      bytes = [];
    };
    for (;;) {
      const c = this.text[this.at++];
      if (c === undefined) this.fail('unterminated string');
      if (c === quote) break;
      if (c !== '\\') {
        flushBytes();
        out += c;
        continue;
      }
      const e = this.text[this.at++];
      if (e === 'x') {
        bytes.push(this.hex(2));
        continue;
      }
      flushBytes();
      if (e === 'u' || e === 'U') out += String.fromCodePoint(this.hex(e === 'u' ? 4 : 8));
      else if (e >= '0' && e <= '7') {
        const octal = /^[0-7]{1,3}/.exec(this.text.slice(this.at - 1, this.at + 2))![0];
        this.at += octal.length - 1;
        out += String.fromCharCode(parseInt(octal, 8));
      } else if (e in ESCAPES) out += ESCAPES[e];
      else out += `\\${e}`; // Python keeps unknown escapes as written
    }
    flushBytes();
    return out;
  }

  private hex(digits: number): number {
    const hex = this.text.slice(this.at, this.at + digits);
    if (!new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(hex)) this.fail('bad escape');
    this.at += digits;
    return parseInt(hex, 16);
  }
}
