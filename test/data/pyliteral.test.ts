import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseJsonOrPython, parsePythonLiteral } from '../../src/data/pyliteral.js';

test('Python literals as repr() prints them', () => {
  assert.deepEqual(
    parsePythonLiteral(`{'a': 'it\\'s', "b": "Kid's", 'c': [1, -2.5, 3e2], 'd': (1,), 'e': True, 'f': False, 'g': None, 'h': {}, 'i': []}`),
    { a: "it's", b: "Kid's", c: [1, -2.5, 300], d: [1], e: true, f: false, g: null, h: {}, i: [] },
  );
  assert.equal(parsePythonLiteral(`'tab\\there\\nnewline \\\\ \\u00e9 \\U0001F600 \\101 \\q'`), 'tab\there\nnewline \\ é 😀 A \\q');
  assert.equal(parsePythonLiteral(`u'unicode'`), 'unicode');
  assert.deepEqual(parsePythonLiteral(`[1, 2, ]`), [1, 2]);
  // Python 2 byte strings: a \x run that is UTF-8 decodes as UTF-8, otherwise as Latin-1.
  assert.equal(parsePythonLiteral(`'caf\\xc3\\xa9 \\xe2\\x80\\x99'`), 'café \u2019');
  assert.equal(parsePythonLiteral(`'caf\\xe9'`), 'café');
  // '__proto__' stays an ordinary key.
  const object = parsePythonLiteral(`{'__proto__': 1}`) as Record<string, unknown>;
  assert.deepEqual(Object.keys(object), ['__proto__']);
  assert.equal(Object.getPrototypeOf(object), Object.prototype);
});

test('malformed literals fail with a position', () => {
  assert.throws(() => parsePythonLiteral(`{'a': 1`), /Python literal: expected "," at column 8/);
  assert.throws(() => parsePythonLiteral(`{'a' 1}`), /expected ":"/);
  assert.throws(() => parsePythonLiteral(`'open`), /unterminated string/);
  assert.throws(() => parsePythonLiteral(`'\\xZZ'`), /bad escape/);
  assert.throws(() => parsePythonLiteral(`{'a': 1} x`), /unexpected text after the value/);
  assert.throws(() => parsePythonLiteral(`{'a': eval('1')}`), /unexpected "e"/);
});

test('JSON first, Python literal second', () => {
  assert.deepEqual(parseJsonOrPython('{"a": [true, null]}'), { a: [true, null] });
  assert.deepEqual(parseJsonOrPython("{'a': [True, None]}"), { a: [true, null] });
  assert.throws(() => parseJsonOrPython('{"a": }'), /^Error: not JSON \(.+\) nor a Python literal$/);
});
