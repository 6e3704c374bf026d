/** The HTTP API on the tiny fixture: the contract of each endpoint, bad inputs, and startup refusals. */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteFeatureBank, versionId } from '../../src/bank/index.js';
import { Runtime } from '../../src/engine/index.js';
import { FEATURE_MAP_FILE } from '../../src/features/index.js';
import { MAX_ITEMS, SCORE_STAGES, ServeSetupError } from '../../src/serve/index.js';
import { BANK_VERSION, directScores, genreOf, ITEMS, openFixtureServer, profileOf, servedProbabilities, writeServeFixture, type FixtureServer, type ServeFixture } from './fixtures.js';

const runtime = new Runtime({ threads: 1 });
let dir: string;
let fx: ServeFixture;
let server: FixtureServer;
const BANK_ID = versionId(BANK_VERSION);
/** Most frequent IDs in the fixture bank: hobby 2 (10 users), background 0 (a three-way tie of 12, smallest wins). */
const DEFAULT_IDS = [2, 0];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'userip-serve-'));
  fx = await writeServeFixture(dir, runtime);
  server = await openFixtureServer(fx, runtime);
});
after(async () => {
  await server.close();
  await runtime.close();
  await rm(dir, { recursive: true, force: true });
});

const score = (body: unknown) => server.app.inject({ method: 'POST', url: '/v1/score', payload: body as object });
const slots = (ids: number[]) => [{ name: 'hobby', id: ids[0] }, { name: 'background', id: ids[1] }];

describe('GET /v1/users/:id/profile', () => {
  it('returns the bank IDs with slot names, source and bank version', async () => {
    const res = await server.app.inject({ method: 'GET', url: '/v1/users/u3/profile' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { user: 'u3', bank_version: BANK_ID, mode: 'bank', unknown_user: false, source: 'tuned', slots: slots(profileOf(3)) });
    const newcomer = await server.app.inject({ method: 'GET', url: '/v1/users/newcomer/profile' });
    assert.deepEqual(newcomer.json().slots, slots([2, 2]));
    assert.equal(newcomer.json().source, 'cold-start');
  });

  it('gives an unknown user the default profile, flagged', async () => {
    for (const user of ['u36', 'stranger', 'with space/%2F']) {
      const res = await server.app.inject({ method: 'GET', url: `/v1/users/${encodeURIComponent(user)}/profile` });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { user, bank_version: BANK_ID, mode: 'bank', unknown_user: true, source: 'default', slots: slots(DEFAULT_IDS) });
    }
  });
});

describe('POST /v1/score', () => {
  it('returns the model\'s probabilities for a banked user, in the request\'s item order', async () => {
    const items = [7, 0, 59, 7, 13];
    const res = await score({ user: 'u3', items: items.map((i) => ITEMS[i]) });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.deepEqual({ ...body, scores: undefined }, { user: 'u3', bank_version: BANK_ID, mode: 'bank', unknown_user: false, source: 'tuned', slots: slots(profileOf(3)), scores: undefined });
    assert.deepEqual(body.scores.map((s: { item: string }) => s.item), items.map((i) => ITEMS[i]));
    assert.deepEqual(servedProbabilities(body), await directScores(server.model, 3, profileOf(3), items));
    assert.equal(body.scores[0].probability, body.scores[3].probability, 'a repeated item scores the same');
    // Each probability is printed with the 9 significant digits that identify a float32.
    const printed = [...res.body.matchAll(/"probability":([^}]*)\}/g)].map((m) => m[1]);
    assert.equal(printed.length, items.length);
    for (const text of printed) assert.equal(text, Math.fround(Number(text)).toPrecision(9));
  });

  it('scores users without an index with the unknown row: their own profile if banked, else the default', async () => {
    const items = [1, 2, 3];
    const newcomer = (await score({ user: 'newcomer', items: items.map((i) => ITEMS[i]) })).json();
    assert.equal(newcomer.unknown_user, false);
    assert.deepEqual(servedProbabilities(newcomer), await directScores(server.model, -1, [2, 2], items));
    const stranger = (await score({ user: 'stranger', items: items.map((i) => ITEMS[i]) })).json();
    assert.equal(stranger.unknown_user, true);
    assert.equal(stranger.source, 'default');
    assert.deepEqual(stranger.slots, slots(DEFAULT_IDS));
    assert.deepEqual(servedProbabilities(stranger), await directScores(server.model, -1, DEFAULT_IDS, items));
    // u36 has a user index but no profile.
    const u36 = (await score({ user: 'u36', items: items.map((i) => ITEMS[i]) })).json();
    assert.equal(u36.unknown_user, true);
    assert.deepEqual(servedProbabilities(u36), await directScores(server.model, 36, DEFAULT_IDS, items));
  });

  it('the profile fields carry the learned signal: a profile-only user prefers the genres its hobby matches', async () => {
    const all = ITEMS.map((_, i) => i);
    const res = (await score({ user: 'newcomer', items: all.map((i) => ITEMS[i]) })).json();
    const p = res.scores.map((s: { probability: number }) => s.probability) as number[];
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const matching = all.filter((i) => genreOf(i) % 4 === 2).map((i) => p[i]);
    const other = all.filter((i) => genreOf(i) % 4 !== 2).map((i) => p[i]);
    assert.ok(mean(matching) > mean(other) + 0.1, `matching ${mean(matching)} vs other ${mean(other)}`);
  });

  it('accepts integer ids and a flat context object', async () => {
    const res = await score({ user: 12345, items: ['i1'], context: { device: 'mobile', hour: 13, weekend: false } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().user, '12345');
    assert.equal(res.json().unknown_user, true);
  });
});

describe('bad input gets a 4xx with a clear message, never a 5xx', () => {
  const cases: [string, unknown, number, RegExp][] = [
    ['items not an array', { user: 'u1', items: 'i1' }, 400, /body\/items must be array/],
    ['no items', { user: 'u1', items: [] }, 400, /body\/items must NOT have fewer than 1 items/],
    ['too many items', { user: 'u1', items: Array(MAX_ITEMS + 1).fill('i1') }, 400, new RegExp(`must NOT have more than ${MAX_ITEMS} items`)],
    ['user missing', { items: ['i1'] }, 400, /must have required property 'user'/],
    ['items missing', { user: 'u1' }, 400, /must have required property 'items'/],
    ['user null', { user: null, items: ['i1'] }, 400, /body\/user must/],
    ['user boolean', { user: true, items: ['i1'] }, 400, /body\/user must/],
    ['user a fraction', { user: 1.5, items: ['i1'] }, 400, /body\/user must/],
    ['user an object', { user: { id: 1 }, items: ['i1'] }, 400, /body\/user must/],
    ['user empty', { user: '', items: ['i1'] }, 400, /body\/user must/],
    ['user too long', { user: 'x'.repeat(300), items: ['i1'] }, 400, /body\/user must/],
    ['item null', { user: 'u1', items: ['i1', null] }, 400, /body\/items\/1 must/],
    ['item an array', { user: 'u1', items: [['i1']] }, 400, /body\/items\/0 must/],
    ['an unknown property', { user: 'u1', items: ['i1'], extra: 1 }, 400, /^body must NOT have additional properties: "extra"$/],
    ['context an array', { user: 'u1', items: ['i1'], context: ['x'] }, 400, /body\/context must be object/],
    ['context nested', { user: 'u1', items: ['i1'], context: { a: { b: 1 } } }, 400, /body\/context\/a must/],
    ['a top-level array', [{ user: 'u1', items: ['i1'] }], 400, /body must be object/],
  ];
  for (const [what, body, status, message] of cases) {
    it(what, async () => {
      const res = await score(body);
      assert.equal(res.statusCode, status, res.body);
      assert.match(res.json().message, message);
      assert.equal(res.json().error, 'Bad Request');
    });
  }

  it('scores a body the byte reader leaves to JSON.parse (escapes, a context) as the plain body', async () => {
    const raw = (payload: string) => server.app.inject({ method: 'POST', url: '/v1/score', payload, headers: { 'content-type': 'application/json' } });
    const plain = await raw('{"user":"u3","items":["i7","i0","i59"]}');
    assert.equal(plain.statusCode, 200);
    const escaped = await raw('{"items":["i\\u0037","i0","i59"],"user":"u\\u0033","context":{"page":"home"}}');
    assert.deepEqual(escaped.json(), plain.json());
    const unknownNumber = await raw('{"user":"u3","items":[59]}');
    assert.equal(unknownNumber.statusCode, 422);
    assert.deepEqual(unknownNumber.json().unknown_items, ['59']);
  });

  it('unknown items: 422 naming them, with their count', async () => {
    const res = await score({ user: 'u1', items: ['i1', 'nope', 'i2', 'gone', 'nope'] });
    assert.equal(res.statusCode, 422);
    assert.deepEqual(res.json(), {
      error: 'Unprocessable Entity',
      message: '2 of the candidate items are not in the model\'s catalog: nope, gone',
      unknown_items: ['nope', 'gone'],
      unknown_item_count: 2,
    });
    const many = await score({ user: 'u1', items: Array.from({ length: 50 }, (_, i) => `x${i}`) });
    assert.equal(many.json().unknown_items.length, 20);
    assert.equal(many.json().unknown_item_count, 50);
    assert.match(many.json().message, /^50 of the candidate items .*x19, \.\.\.$/);
  });

  it('malformed JSON, an empty body, and a non-JSON content type', async () => {
    const raw = (payload: string, contentType = 'application/json') =>
      server.app.inject({ method: 'POST', url: '/v1/score', payload, headers: { 'content-type': contentType } });
    const malformed = await raw('{"user": "u1", "items": ["i1"');
    assert.equal(malformed.statusCode, 400);
    assert.match(malformed.json().message, /JSON/);
    const empty = await raw('');
    assert.equal(empty.statusCode, 400);
    assert.match(empty.json().message, /empty/i);
    const text = await raw('user=u1', 'text/plain');
    assert.equal(text.statusCode, 400);
    assert.match(text.json().message, /body must be object/);
    const bodiless = await server.app.inject({ method: 'POST', url: '/v1/score' });
    assert.equal(bodiless.statusCode, 400);
    assert.match(bodiless.json().message, /body must be object/);
    const form = await raw('user=u1', 'application/x-www-form-urlencoded');
    assert.equal(form.statusCode, 415);
    assert.match(form.json().message, /Unsupported Media Type/i);
  });

  it('an oversize body over real HTTP: 413, and the server keeps serving', async () => {
    await server.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = server.app.server.address() as { port: number };
    const body = JSON.stringify({ user: 'u1', items: Array(900).fill('i'.repeat(100)) });
    assert.ok(body.length > 64 * 1024);
    const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest({ port, host: '127.0.0.1', method: 'POST', path: '/v1/score', headers: { 'content-type': 'application/json' } }, (r) => {
        let text = '';
        r.on('data', (d) => (text += d));
        r.on('end', () => resolve({ status: r.statusCode!, text }));
      });
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(res.status, 413);
    assert.match(JSON.parse(res.text).message, /Request body is too large/);
    const ok = await fetch(`http://127.0.0.1:${port}/v1/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'u1', items: ['i1'] }) });
    assert.equal(ok.status, 200);
  });

  it('bad paths and methods, and an overlong user id in the path', async () => {
    const longest = await server.app.inject({ method: 'GET', url: `/v1/users/${'x'.repeat(256)}/profile` });
    assert.equal(longest.statusCode, 200);
    const long = await server.app.inject({ method: 'GET', url: `/v1/users/${'x'.repeat(257)}/profile` });
    assert.equal(long.statusCode, 414);
    assert.equal(long.json().error, 'URI Too Long');
    const missing = await server.app.inject({ method: 'GET', url: '/v1/nothing?x=1' });
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(missing.json(), { error: 'Not Found', message: 'no route GET /v1/nothing' });
    assert.equal((await server.app.inject({ method: 'GET', url: '/v1/score' })).statusCode, 404);
    assert.equal((await server.app.inject({ method: 'DELETE', url: '/v1/users/u1/profile' })).statusCode, 404);
  });

  it('garbage bodies never give a 5xx', async () => {
    const bodies = ['null', '0', '"x"', 'true', '[]', '{}', '{"user":{},"items":{}}', '{"user":"u1","items":[1e400]}', '{"__proto__":{"x":1},"user":"u1","items":["i1"]}', '\u0000', '{"user":"u1","items":["i1"]}garbage', '{"constructor":{"prototype":{}}}'];
    for (const payload of bodies) {
      const res = await server.app.inject({ method: 'POST', url: '/v1/score', payload, headers: { 'content-type': 'application/json' } });
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${JSON.stringify(payload)} -> ${res.statusCode} ${res.body}`);
      assert.equal(typeof res.json().message, 'string');
    }
  });
});

describe('GET /healthz and /metrics', () => {
  it('healthz reports the mode, bank version and default profile', async () => {
    const res = await server.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'ok', mode: 'bank', bank_version: BANK_ID, default_profile: slots(DEFAULT_IDS) });
  });

  it('healthz turns 503 when the bank is re-stamped under the running server', async () => {
    const path = join(dir, 'restamped.sqlite');
    await copyFile(fx.bankPath, path);
    const own = await openFixtureServer(fx, runtime, { bank: await SqliteFeatureBank.open(path, { readonly: true }) });
    const writer = await SqliteFeatureBank.open(path);
    try {
      assert.equal((await own.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
      const next = { ...BANK_VERSION, codebook_hash: 'cb9' };
      await writer.setVersion(next, { replace: true });
      const res = await own.app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(res.statusCode, 503);
      assert.equal(res.json().status, 'stale');
      assert.match(res.json().message, new RegExp(`version is now ${versionId(next)}; this server was started on ${BANK_ID}`));
    } finally {
      await writer.close();
      await own.close();
    }
  });

  it('metrics are Prometheus text: request counts by route and status, a cumulative latency histogram, profile sources', async () => {
    const fresh = await openFixtureServer(fx, runtime);
    try {
      for (let i = 0; i < 3; i++) await fresh.app.inject({ method: 'POST', url: '/v1/score', payload: { user: 'u1', items: ['i1'] } });
      await fresh.app.inject({ method: 'POST', url: '/v1/score', payload: { user: 'stranger', items: ['i1'] } });
      await fresh.app.inject({ method: 'POST', url: '/v1/score', payload: { user: 'u1', items: 'i1' } });
      await fresh.app.inject({ method: 'GET', url: '/v1/users/u1/profile' });
      await fresh.app.inject({ method: 'GET', url: '/nowhere' });
      const res = await fresh.app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
      const lines = res.body.trim().split('\n');
      const value = (series: string) => {
        const line = lines.find((l) => l.startsWith(series + ' '));
        assert.ok(line, `no series ${series} in:\n${res.body}`);
        return Number(line.slice(series.length + 1));
      };
      assert.equal(value(`userip_info{mode="bank",bank_version="${BANK_ID}"}`), 1);
      assert.equal(value('userip_http_requests_total{method="POST",route="/v1/score",status="200"}'), 4);
      assert.equal(value('userip_http_requests_total{method="POST",route="/v1/score",status="400"}'), 1);
      assert.equal(value('userip_http_requests_total{method="GET",route="/v1/users/:id/profile",status="200"}'), 1);
      assert.equal(value('userip_http_requests_total{method="GET",route="(unmatched)",status="404"}'), 1);
      assert.equal(value('userip_profiles_total{source="tuned"}'), 4);
      assert.equal(value('userip_profiles_total{source="default"}'), 1);
      const buckets = lines.filter((l) => l.startsWith('userip_http_request_duration_seconds_bucket{method="POST",route="/v1/score",'));
      const counts = buckets.map((l) => Number(l.split(' ')[1]));
      assert.deepEqual(counts, [...counts].sort((a, b) => a - b), 'buckets are cumulative');
      assert.match(buckets.at(-1)!, /le="\+Inf"\} 5$/);
      assert.equal(value('userip_http_request_duration_seconds_count{method="POST",route="/v1/score"}'), 5);
      assert.ok(value('userip_http_request_duration_seconds_sum{method="POST",route="/v1/score"}') > 0);
      assert.ok(lines.includes('# TYPE userip_http_request_duration_seconds histogram'));
      assert.ok(lines.includes('# TYPE userip_http_requests_total counter'));
      // Every stage of the four answered scoring requests is timed; the one rejected by the schema is not.
      assert.ok(lines.includes('# TYPE userip_score_stage_duration_seconds histogram'));
      for (const stage of SCORE_STAGES) {
        assert.equal(value(`userip_score_stage_duration_seconds_count{stage="${stage}"}`), 4, stage);
        assert.equal(value(`userip_score_stage_duration_seconds_bucket{stage="${stage}",le="+Inf"}`), 4, stage);
        assert.ok(value(`userip_score_stage_duration_seconds_sum{stage="${stage}"}`) > 0, stage);
      }
    } finally {
      await fresh.close();
    }
  });
});

describe('startup refuses what does not belong together', () => {
  it('a bank of another version: both versions named', async () => {
    const otherPath = join(dir, 'other.sqlite');
    const other = await SqliteFeatureBank.open(otherPath);
    const otherVersion = { ...BANK_VERSION, codebook_hash: 'cb2' };
    await other.setVersion(otherVersion);
    await assert.rejects(openFixtureServer(fx, runtime, { bank: other }), (error: Error) => {
      assert.ok(error instanceof ServeSetupError);
      assert.match(error.message, new RegExp(`feature bank has version ${versionId(otherVersion)} .*model was trained on bank version ${BANK_ID}`));
      return true;
    });
    await other.close();
  });

  it('a bank without a version', async () => {
    const empty = await SqliteFeatureBank.open(':memory:');
    await assert.rejects(openFixtureServer(fx, runtime, { bank: empty }), { name: 'ServeSetupError', message: /has no version/ });
    await empty.close();
  });

  it('a feature map that does not fit the model or the bank', async () => {
    const path = join(fx.modelDir, FEATURE_MAP_FILE);
    const original = await readFile(path, 'utf8');
    const map = JSON.parse(original);
    const tryMap = async (changed: object, message: RegExp) => {
      await writeFile(path, JSON.stringify({ ...map, ...changed }));
      await assert.rejects(openFixtureServer(fx, runtime), { message });
    };
    try {
      await tryMap({ fields: { ...map.fields, attribute: 'category' } }, /the model reads sparse field "genre", which the feature map does not provide/);
      await tryMap({ items: map.items.slice(0, 50), item_attribute: map.item_attribute.slice(0, 50) }, /sparse field "item": the model has 60 ids, the feature map or bank 50/);
      await tryMap({ slots: [...map.slots].reverse() }, /the bank's profile slots \(hobby, background\) differ from the feature map's \(background, hobby\)/);
      await tryMap({ item_attribute: map.item_attribute.slice(1) }, /59 entries for 60 items\n.*at item_attribute/);
      await writeFile(path, '{"format": ');
      await assert.rejects(openFixtureServer(fx, runtime), /cannot read the feature map .*features\.json/);
    } finally {
      await writeFile(path, original);
    }
  });
});
