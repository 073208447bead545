import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { AuditEvent } from '../../src/event/types.js';
import type { RedactionConfigInput } from '../../src/redact/config.js';
import { compileRedaction } from '../../src/redact/redactor.js';
import { redactionConfigSchema } from '../../src/redact/config.js';
import { createHasher } from '../../src/redact/hash.js';
import { HMAC_KEY, event, keyedPlan, plan, redactDetail } from './fixtures.js';

const R = '[REDACTED]';
const H = (v: string): string => createHasher(HMAC_KEY, 'v1').token(v);
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.abc_DEF-1';
const PEM = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq\n-----END RSA PRIVATE KEY-----';
const UUID = '123e4567-e89b-12d3-a456-426614174000';
const KEYED = { hash: { key: HMAC_KEY, key_id: 'v1' } };
const HEADERS_KEPT = { hide_all_headers: false };

interface Row {
  name: string;
  cfg?: RedactionConfigInput;
  /** target.name for the event (hide_query_parameters). */
  query?: string;
  input: Record<string, unknown>;
  expected: Record<string, unknown>;
  /** Rules that must be reported (exactly, sorted). */
  rules: string[];
}

const TABLE: Row[] = [
  // --- headers and cookies -------------------------------------------------
  {
    name: 'header, exact case',
    cfg: HEADERS_KEPT,
    input: { Authorization: 'Bearer abc.def' },
    expected: { Authorization: R },
    rules: ['secret_key'],
  },
  {
    name: 'header casings keep the key spelling',
    cfg: HEADERS_KEPT,
    input: { COOKIE: 'sid=1', 'x-API-key': 'k', 'Proxy-Authorization': 'Basic dXNlcjpwYXNz' },
    expected: { COOKIE: R, 'x-API-key': R, 'Proxy-Authorization': R },
    rules: ['secret_key'],
  },
  {
    name: 'multi-value set-cookie',
    cfg: HEADERS_KEPT,
    input: { 'set-cookie': ['a=1; HttpOnly', 'b=2'] },
    expected: { 'set-cookie': [R, R] },
    rules: ['secret_key'],
  },
  {
    name: 'headers as a [{key, value}] list',
    cfg: HEADERS_KEPT,
    input: {
      headers: [
        { key: 'authorization', value: 't' },
        { key: 'accept', value: '*/*' },
      ],
    },
    expected: {
      headers: [
        { key: 'authorization', value: R },
        { key: 'accept', value: '*/*' },
      ],
    },
    rules: ['secret_key'],
  },
  {
    name: 'a [{name, value}] list under another key',
    input: {
      resource: {
        extra: [
          { name: 'X-Api-Key', value: 'k1' },
          { name: 'X-Trace', value: 't' },
        ],
      },
    },
    expected: {
      resource: {
        extra: [
          { name: 'X-Api-Key', value: R },
          { name: 'X-Trace', value: 't' },
        ],
      },
    },
    rules: ['secret_key'],
  },
  {
    name: 'headers as [name, value] pairs',
    cfg: HEADERS_KEPT,
    input: {
      headers: [
        ['Authorization', 'Bearer x'],
        ['Accept', 'json'],
      ],
    },
    expected: {
      headers: [
        ['Authorization', R],
        ['Accept', 'json'],
      ],
    },
    rules: ['secret_key'],
  },
  {
    name: 'hide_all_headers drops header and cookie containers at any depth',
    input: {
      metadata: { request: { headers: { cookie: 'x' }, url: '/x' }, cookies: { sid: '1' } },
    },
    expected: { metadata: { request: { url: '/x' } } },
    rules: ['headers'],
  },
  {
    name: 'hide_all_headers drops list forms and any casing',
    input: { RequestHeaders: [{ key: 'a', value: 'b' }], response_headers: [['x', 'y']], keep: 1 },
    expected: { keep: 1 },
    rules: ['headers'],
  },
  {
    name: 'deep nesting, siblings untouched',
    cfg: HEADERS_KEPT,
    input: { metadata: { request: { headers: { cookie: 'x', accept: 'json' }, method: 'GET' } } },
    expected: { metadata: { request: { headers: { cookie: R, accept: 'json' }, method: 'GET' } } },
    rules: ['secret_key'],
  },
  // --- names ----------------------------------------------------------------
  {
    name: 'credential-named keys; null and empty stay',
    input: {
      databasePassword: 'pw',
      amazon_secret_access_key: 's',
      clientSecret: 'c',
      private_key: 'k',
      passwd: 'p',
      password: null,
      token: '',
    },
    expected: {
      databasePassword: R,
      amazon_secret_access_key: R,
      clientSecret: R,
      private_key: R,
      passwd: R,
      password: null,
      token: '',
    },
    rules: ['secret_key'],
  },
  {
    name: 'every leaf under a credential key; booleans stay',
    input: { credentials: { user: 'u', pass: 'p', port: 5432, ssl: true, list: ['a', null] } },
    expected: { credentials: { user: R, pass: R, port: R, ssl: true, list: [R, null] } },
    rules: ['secret_key'],
  },
  {
    name: 'Retool resource definition',
    input: {
      options: {
        amazon_access_key_id: 'AKIAIOSFODNN7EXAMPLE',
        amazon_secret_access_key: '',
        host: 'db',
        port: 5432,
      },
      databaseUsername: 'svc',
      databasePassword: 'S3cret!',
    },
    expected: {
      options: { amazon_access_key_id: R, amazon_secret_access_key: '', host: 'db', port: 5432 },
      databaseUsername: 'svc',
      databasePassword: R,
    },
    rules: ['secret_key'],
  },
  // --- strings holding structure -----------------------------------------------
  {
    name: 'stringified JSON is redacted and stays JSON',
    input: { body: '{"password":"hunter2","q":1}' },
    expected: { body: '{"password":"[REDACTED]","q":1}' },
    rules: ['secret_key'],
  },
  {
    name: 'stringified JSON without secrets keeps its formatting',
    input: { body: '{ "a": 1, "b": [1, 2] }' },
    expected: { body: '{ "a": 1, "b": [1, 2] }' },
    rules: [],
  },
  {
    name: 'JSON inside JSON inside a string',
    input: { body: JSON.stringify({ inner: JSON.stringify({ apiKey: 'k' }) }) },
    expected: { body: JSON.stringify({ inner: JSON.stringify({ apiKey: R }) }) },
    rules: ['secret_key'],
  },
  {
    name: 'JSON nested deeper than json_in_strings.max_depth is masked whole',
    cfg: { json_in_strings: { max_depth: 1 } },
    input: { body: JSON.stringify({ inner: JSON.stringify({ harmless: 1 }) }) },
    expected: { body: JSON.stringify({ inner: R }) },
    rules: ['json_in_strings'],
  },
  {
    name: 'URL query token',
    input: { url: 'https://api.x.io/v1?access_token=abc123&page=2' },
    expected: { url: 'https://api.x.io/v1?access_token=[REDACTED]&page=2' },
    rules: ['url_credentials'],
  },
  {
    name: 'URL userinfo',
    input: { dsnish: 'postgres://admin:S3cret@db:5432/app', other: 'https://u:p@host/' },
    expected: {
      dsnish: 'postgres://admin:[REDACTED]@db:5432/app',
      other: 'https://u:[REDACTED]@host/',
    },
    rules: ['url_credentials'],
  },
  {
    name: 'SQL literals stripped when enabled',
    cfg: { sql_literals: true },
    input: { query: "SELECT * FROM t WHERE email='jane@x.com' AND ssn='123-45-6789' AND id=42" },
    expected: { query: 'SELECT * FROM t WHERE email=? AND ssn=? AND id=?' },
    rules: ['sql_literals'],
  },
  {
    name: 'SQL text without literal stripping still loses its secrets',
    input: { query: "SELECT * FROM t WHERE email='jane@x.com' AND ssn='123-45-6789' AND id=42" },
    expected: {
      query: "SELECT * FROM t WHERE email='[REDACTED]@x.com' AND ssn='[REDACTED]' AND id=42",
    },
    rules: ['email', 'ssn'],
  },
  // --- content ----------------------------------------------------------------
  {
    name: 'parameters with mixed types; a card as a JSON number',
    cfg: KEYED,
    input: { parameters: ['jane@x.com', 4111111111111111, 'ok', 7] },
    expected: { parameters: [H('jane@x.com'), '************1111', 'ok', 7] },
    rules: ['card', 'email'],
  },
  {
    name: 'arrays of objects: each e-mail hashed, order and length kept',
    cfg: KEYED,
    input: { users: [{ email: 'a@b.co' }, { email: 'c@d.org' }] },
    expected: { users: [{ email: H('a@b.co') }, { email: H('c@d.org') }] },
    rules: ['email'],
  },
  {
    name: 'JWT in free text whatever the key',
    input: { note: `retry with token=${JWT} later` },
    expected: { note: 'retry with token=[REDACTED] later' },
    rules: ['jwt'],
  },
  {
    name: 'cards with separators',
    input: { a: '4111 1111 1111 1111', b: '5555-5555-5555-4444', c: 'amex 3782 822463 10005' },
    expected: { a: '**** **** **** 1111', b: '****-****-****-4444', c: 'amex **** ****** *0005' },
    rules: ['card'],
  },
  {
    name: 'Luhn-failing 16 digits stay',
    input: { note: 'order 4111111111111112', n: 4111111111111112 },
    expected: { note: 'order 4111111111111112', n: 4111111111111112 },
    rules: [],
  },
  {
    name: 'timestamps, ids and response times survive',
    input: {
      createdAt: '2024-01-31T14:11:37.340Z',
      epochMs: 1706710297340,
      epochUs: 1706710297340001,
      epochUsText: '1706710297340001',
      resourceName: UUID,
      responseTimeMs: 5167,
      userId: 42,
      zip: '12345-6789',
      version: '3.52.1',
    },
    expected: {
      createdAt: '2024-01-31T14:11:37.340Z',
      epochMs: 1706710297340,
      epochUs: 1706710297340001,
      epochUsText: '1706710297340001',
      resourceName: UUID,
      responseTimeMs: 5167,
      userId: 42,
      zip: '12345-6789',
      version: '3.52.1',
    },
    rules: [],
  },
  {
    name: 'SSN with boundaries',
    input: { a: '123-45-6789', b: '078-05-1120', c: '123-45-1203', d: '1123-45-67890' },
    expected: { a: R, b: R, c: R, d: '1123-45-67890' },
    rules: ['ssn'],
  },
  {
    name: 'cloud and vendor keys in text',
    input: {
      log: 'aws AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      gh: 'ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8',
      slack: 'xoxb-123456789012-abcdefghijkl',
      stripe: 'sk_live_A1b2C3d4E5f6G7h8I9j0K1l2',
    },
    expected: { log: `aws ${R} / ${R}`, gh: R, slack: R, stripe: R },
    rules: ['aws', 'vendor_tokens'],
  },
  {
    name: 'PEM private key in a resource field',
    input: { sshTunnel: { keyText: PEM }, cert: `prefix ${PEM}` },
    expected: { sshTunnel: { keyText: R }, cert: `prefix ${R}` },
    rules: ['private_key'],
  },
  {
    name: 'Unicode and emoji around secrets',
    input: {
      note: '🔑 password=hunter2 🔑 écrire à ana@example.com 👍',
      cjk: '卡号4111111111111111です',
    },
    expected: {
      note: '🔑 password=[REDACTED] 🔑 écrire à [REDACTED]@example.com 👍',
      cjk: '卡号************1111です',
    },
    rules: ['card', 'email', 'secret_key'],
  },
  {
    name: 'e-mail addresses as object keys',
    input: { byEmail: { 'ana@example.com': { role: 'admin' } } },
    expected: { byEmail: { '[REDACTED]@example.com': { role: 'admin' } } },
    rules: ['email'],
  },
  {
    name: 'rewritten keys that collide are kept apart',
    input: { 'ana@example.com': 1, 'bob@example.com': 2 },
    expected: { '[REDACTED]@example.com': 1, '[REDACTED]@example.com~2': 2 },
    rules: ['email'],
  },
  {
    name: 'IP truncation inside detail',
    cfg: { detectors: { ip: 'truncate' } },
    input: { geoLocation: { ip: '203.0.113.7', v6: '2001:db8:85a3::8a2e:370:7334' } },
    expected: { geoLocation: { ip: '203.0.113.0', v6: '2001:db8:85a3::' } },
    rules: ['ip'],
  },
  // --- path rules ---------------------------------------------------------------
  {
    name: 'drop a path',
    cfg: { drop: ['detail.geoLocation'] },
    input: { geoLocation: { city: 'Warsaw' }, pageName: 'Home' },
    expected: { pageName: 'Home' },
    rules: ['drop'],
  },
  {
    name: 'mask with ** at any depth, any casing',
    cfg: { mask: ['detail.**.phone'] },
    input: { phone: '+48 600', a: { b: { Phone: '+1 555' }, list: [{ phone: '1' }] } },
    expected: { phone: R, a: { b: { Phone: R }, list: [{ phone: R }] } },
    rules: ['mask'],
  },
  {
    name: 'mask a whole subtree',
    cfg: { mask: ['detail.metadata.user'] },
    input: { metadata: { user: { email: 'a@b.co', id: 1 }, q: 1 } },
    expected: { metadata: { user: R, q: 1 } },
    rules: ['mask'],
  },
  {
    name: 'hash a path (numbers too)',
    cfg: {
      hash: { key: HMAC_KEY, key_id: 'v1', paths: ['detail.metadata.user.id', 'detail.customer'] },
    },
    input: { metadata: { user: { id: 42 } }, customer: 'ACME Corp' },
    expected: { metadata: { user: { id: H('42') } }, customer: H('ACME Corp') },
    rules: ['hash'],
  },
  {
    name: 'partial keeps the last N characters',
    cfg: {
      partial: [
        { path: 'detail.account', keep_last: 4 },
        { path: 'detail.short', keep_last: 4 },
      ],
    },
    input: { account: 'DE89370400440532013000', short: 'abc' },
    expected: { account: '******************3000', short: '***' },
    rules: ['partial'],
  },
  {
    name: 'drop wins over mask on the same field',
    cfg: { mask: ['detail.x'], drop: ['detail.x'] },
    input: { x: 1, y: 2 },
    expected: { y: 2 },
    rules: ['drop'],
  },
  {
    name: 'paths reach into stringified JSON',
    cfg: { mask: ['detail.body.ssnLast4'] },
    input: { body: '{"ssnLast4":"6789","ok":true}' },
    expected: { body: '{"ssnLast4":"[REDACTED]","ok":true}' },
    rules: ['mask'],
  },
  {
    name: 'drop array elements by path',
    cfg: { drop: ['detail.tags.*', 'detail.users.password'] },
    input: { tags: ['a', 'b', 'c'], users: [{ id: 1, password: 'x' }, { id: 2 }] },
    expected: { tags: [], users: [{ id: 1 }, { id: 2 }] },
    rules: ['drop'],
  },
  // --- switches -------------------------------------------------------------------
  {
    name: 'hide_query_parameters for a matching query',
    cfg: { hide_query_parameters: ['resetPassword*'] },
    query: 'resetPasswordForUser',
    input: {
      metadata: {
        parameters: { userId: 7, newPassword: 'x' },
        queryParams: [1, 2],
        query: 'select 1',
      },
    },
    expected: { metadata: { parameters: R, queryParams: R, query: 'select 1' } },
    rules: ['query_parameters'],
  },
  {
    name: 'hide_query_parameters leaves other queries alone',
    cfg: { hide_query_parameters: ['resetPassword*'] },
    query: 'getCustomers',
    input: { metadata: { parameters: { userId: 7 } } },
    expected: { metadata: { parameters: { userId: 7 } } },
    rules: [],
  },
  {
    name: 'always_secret_keys.extra adds names and globs',
    cfg: { always_secret_keys: { extra: ['x-session-*', 'employeeNumber'] } },
    input: { 'X-Session-Id': 's1', employee_number: 123, other: 'o' },
    expected: { 'X-Session-Id': R, employee_number: R, other: 'o' },
    rules: ['secret_key'],
  },
  {
    name: 'always_secret_keys.except keeps a name',
    cfg: { always_secret_keys: { except: ['tokenType'] } },
    input: { tokenType: 'refresh', token: 't' },
    expected: { tokenType: 'refresh', token: R },
    rules: ['secret_key'],
  },
  {
    name: 'always_secret_keys off: values still scanned',
    cfg: { always_secret_keys: false, hide_all_headers: false },
    input: { password: 'hunter2', authorization: `Bearer ${JWT}` },
    expected: { password: 'hunter2', authorization: 'Bearer [REDACTED]' },
    rules: ['jwt'],
  },
  {
    name: 'custom detector',
    cfg: {
      detectors: {
        custom: [{ name: 'employee_id', pattern: '\\bEMP-[0-9]{6}\\b', replace: 'EMP-******' }],
      },
    },
    input: { note: 'escalated by EMP-123456 and EMP-1234567' },
    expected: { note: 'escalated by EMP-****** and EMP-1234567' },
    rules: ['custom:employee_id'],
  },
  {
    name: 'a detector switched off',
    cfg: { detectors: { card: false } },
    input: { n: 4111111111111111, s: '4111 1111 1111 1111' },
    expected: { n: 4111111111111111, s: '4111 1111 1111 1111' },
    rules: [],
  },
  {
    name: 'email keep',
    cfg: { detectors: { email: 'keep' } },
    input: { who: 'ana@example.com' },
    expected: { who: 'ana@example.com' },
    rules: [],
  },
];

describe('redaction table', () => {
  it.each(TABLE.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const p = plan(row.cfg ?? {});
    const ev = event(structuredClone(row.input));
    if (row.query !== undefined) ev.target.name = row.query;
    const out = p.apply(ev);
    expect(out.detail).toEqual(row.expected);
    expect(out.redacted.rules).toEqual(row.rules);
    expect(out.redacted.count > 0).toBe(row.rules.length > 0);
    // Idempotent: a second pass changes nothing, summary included.
    const again = p.apply(structuredClone(out));
    expect(again).toEqual(out);
  });

  it('has at least 40 cases', () => {
    expect(TABLE.length).toBeGreaterThanOrEqual(40);
  });
});

describe('actor and target', () => {
  const who = {
    id: '42',
    email: 'Ana@Example.com',
    ip: '::ffff:10.0.0.5',
    user_agent: 'curl/8.5 token=abcdef123',
  };

  it('masks actor.email by default; ids and IP stay in clear', () => {
    const ev = plan().apply(event({}, { actor: { ...who } }));
    expect(ev.actor).toEqual({
      id: '42',
      email: '[REDACTED]@Example.com',
      ip: '::ffff:10.0.0.5',
      user_agent: 'curl/8.5 token=[REDACTED]',
    });
    expect(ev.organization_id).toBe('1');
    expect(ev.target.id).toBeNull();
    expect(ev.redacted.rules).toEqual(['email', 'secret_key']);
  });

  it('hashes actor.email when a key is configured, matching the same address in detail', () => {
    const ev = keyedPlan().apply(
      event({ user: { email: 'ana@example.com' } }, { actor: { ...who } }),
    );
    expect(ev.actor.email).toBe(H('ana@example.com'));
    expect((ev.detail.user as { email: string }).email).toBe(ev.actor.email);
  });

  it('a hash path and the e-mail detector give the same token', () => {
    const p = plan({ hash: { key: HMAC_KEY, key_id: 'v1', paths: ['actor.email'] } });
    const ev = p.apply(event({ note: 'ana@example.com' }, { actor: { ...who } }));
    expect(ev.actor.email).toBe(H('ana@example.com'));
    expect(ev.detail.note).toBe(ev.actor.email);
  });

  it('IP policy applies to actor.ip', () => {
    expect(
      plan({ detectors: { ip: 'truncate' } }).apply(event({}, { actor: { ...who } })).actor.ip,
    ).toBe('::ffff:10.0.0.0');
    const hashed = plan({ ...KEYED, detectors: { ip: 'hash' } }).apply(
      event({}, { actor: { ...who } }),
    ).actor.ip;
    expect(hashed).toBe(H('10.0.0.5'));
  });

  it('path rules on typed fields: drop means null', () => {
    const p = plan({
      drop: ['actor.ip', 'target.app'],
      partial: [{ path: 'organization_id', keep_last: 2 }],
    });
    const ev = p.apply(event({}, { actor: { ...who }, organization_id: '12345' }));
    expect(ev.actor.ip).toBeNull();
    expect(ev.target.app).toBeNull();
    expect(ev.organization_id).toBe('***45');
    expect(ev.redacted.rules).toEqual(['drop', 'email', 'partial', 'secret_key']);
  });

  it('never touches the pipeline fields', () => {
    const base = event({ x: 'ana@example.com' }, { actor: { ...who } });
    const ev = plan({ mask: ['*.email', 'detail.**.x'] }).apply(structuredClone(base));
    for (const k of [
      'id',
      'app_event_id',
      'timestamp',
      'product',
      'action',
      'category',
      'severity',
      'outcome',
      'duration_ms',
      'source',
    ] as const) {
      expect(ev[k]).toEqual(base[k]);
    }
  });
});

describe('summary', () => {
  it('merges into an existing summary: rules sorted and unique, names only', () => {
    const ev = event(
      { a: 'ana@example.com', b: '4111 1111 1111 1111', c: 'ssn 123-45-6789', password: 'pw' },
      { redacted: { count: 2, rules: ['zz_earlier', 'card'] } },
    );
    const out = plan().apply(ev);
    expect(out.redacted.rules).toEqual(['card', 'email', 'secret_key', 'ssn', 'zz_earlier']);
    expect(out.redacted.count).toBe(2 + 4);
    expect(JSON.stringify(out.redacted)).not.toMatch(/ana|4111|6789|pw/);
  });

  it('redacts in place and returns the same object', () => {
    const ev = event({ password: 'x' });
    expect(plan().apply(ev)).toBe(ev);
    expect(ev.detail.password).toBe(R);
  });

  it('leaves an event with nothing to redact exactly as it was', () => {
    const ev = event({ pageName: 'Home', n: 1, list: [true, null, 'x'] });
    const before = structuredClone(ev);
    expect(plan().apply(ev)).toEqual(before);
  });
});

describe('scan memo', () => {
  it('replays rules and counts for repeated values, across generations', () => {
    const p = plan();
    const first = p.apply(event({ a: 'mail ana@example.com', b: 'plain text' }));
    for (let i = 0; i < 9000; i++) p.apply(event({ filler: `value number ${i}` }));
    const again = p.apply(event({ a: 'mail ana@example.com', b: 'plain text' }));
    expect(again.detail).toEqual(first.detail);
    expect(again.redacted).toEqual(first.redacted);
    expect(again.redacted).toEqual({ count: 1, rules: ['email'] });
  });
});

describe('keyed hashing across plans', () => {
  it('same key → same token; rotated key id → different prefix and value', () => {
    const a = keyedPlan().apply(event({ e: 'ana@example.com' })).detail.e as string;
    const b = keyedPlan().apply(event({ e: 'ana@example.com' })).detail.e as string;
    const c = plan({ hash: { key: 'rotated-key-0123456789abcdef', key_id: 'v2' } }).apply(
      event({ e: 'ana@example.com' }),
    ).detail.e as string;
    expect(a).toBe(b);
    expect(a).toMatch(/^hmac:v1:[0-9a-f]{32}$/);
    expect(c).toMatch(/^hmac:v2:[0-9a-f]{32}$/);
    expect(c.slice(8)).not.toBe(a.slice(8));
  });

  it('tokens from an older key are not hashed again after rotation', () => {
    const v1 = keyedPlan({ hash: { paths: ['detail.x'] } }).apply(event({ x: 'value' }));
    const v2 = plan({
      hash: { key: 'rotated-key-0123456789abcdef', key_id: 'v2', paths: ['detail.x'] },
    }).apply(structuredClone(v1));
    expect(v2.detail.x).toBe(v1.detail.x);
    expect(v2.redacted).toEqual(v1.redacted);
  });
});

describe('robustness: fail closed, never raw', () => {
  const p = plan();

  it('a 1 MiB string is masked', () => {
    const ev = redactDetail(p, { s: 'a'.repeat(1 << 20) });
    expect(ev.detail.s).toBe(R);
    expect(ev.redacted.rules).toContain('limits');
  });

  it('10,000-deep nesting is cut at limits.max_depth with nothing raw below it', () => {
    let o: Record<string, unknown> = { leaf: 'ana@example.com', pw: 'x' };
    for (let i = 0; i < 10_000; i++) o = { n: o };
    const ev = p.apply(event(o));
    const text = JSON.stringify(ev.detail);
    expect(text).not.toContain('ana@');
    expect(text).not.toContain('leaf');
    expect(text).toContain(R);
    expect(ev.redacted.rules).toContain('limits');
    expect(p.apply(structuredClone(ev))).toEqual(ev);
  });

  it('10,000-deep nesting inside a JSON string is cut too', () => {
    const deep = '{"n":'.repeat(10_000) + '"ana@example.com"' + '}'.repeat(10_000);
    const ev = p.apply(event({ body: deep }));
    expect(JSON.stringify(ev.detail)).not.toContain('ana@');
  });

  it('a 100,000-element array keeps the first items plus one marker', () => {
    const ev = p.apply(
      event({ a: Array.from({ length: 100_000 }, (_, i) => `u${i}@example.com`) }),
    );
    const a = ev.detail.a as string[];
    expect(a).toHaveLength(1000);
    expect(a[999]).toBe(R);
    expect(a[0]).toBe('[REDACTED]@example.com');
    expect(JSON.stringify(a)).not.toContain('u99999');
    expect(p.apply(structuredClone(ev))).toEqual(ev);
  });

  it('an object with 100,000 keys keeps the first keys plus one marker', () => {
    const big: Record<string, string> = {};
    for (let i = 0; i < 100_000; i++) big[`k${i}`] = `v${i}`;
    const ev = p.apply(event({ big }));
    const keys = Object.keys(ev.detail.big as object);
    expect(keys).toHaveLength(1000);
    expect(keys).toContain(R);
    expect(keys).not.toContain('k99999');
    expect(p.apply(structuredClone(ev))).toEqual(ev);
  });

  it('a 1 MiB key is masked', () => {
    const ev = p.apply(event({ ['k'.repeat(1 << 20)]: 1 }));
    expect(Object.keys(ev.detail)).toEqual([R]);
  });

  it('an internal error empties detail instead of passing it on', () => {
    const detail: Record<string, unknown> = { ok: 1 };
    Object.defineProperty(detail, 'boom', {
      enumerable: true,
      get() {
        throw new Error('getter failed with ana@example.com');
      },
    });
    const ev = p.apply(
      event(detail, {
        actor: { id: '1', email: 'ana@example.com', ip: '10.0.0.1', user_agent: 'ua' },
      }),
    );
    expect(ev.detail).toEqual({});
    expect(ev.actor).toEqual({ id: '1', email: R, ip: R, user_agent: R });
    expect(ev.redacted.rules).toContain('error');
  });

  it('a "__proto__" key is kept as data, never as a prototype', () => {
    const detail = JSON.parse(
      '{"__proto__": {"polluted": "ana@example.com"}, "a@example.com": 1}',
    ) as Record<string, unknown>;
    const ev = p.apply(event(detail));
    expect(Object.getPrototypeOf(ev.detail)).toBe(Object.prototype);
    expect(JSON.stringify(ev.detail)).toBe(
      '{"__proto__":{"polluted":"[REDACTED]@example.com"},"[REDACTED]@example.com":1}',
    );
  });
});

describe('idempotence and no leaks (property)', () => {
  // Planted secrets, and a fragment of each that must not survive anywhere in the event.
  const SECRETS: [value: string, raw: string][] = [
    ['4111 1111 1111 1111', '4111 1111 1111'],
    ['4111111111111111', '41111111111'],
    ['123-45-6789', '123-45-6789'],
    [JWT, 'eyJzdWIiOiIxMjMifQ'],
    ['AKIAIOSFODNN7EXAMPLE', 'AKIAIOSFODNN7EXAMPLE'],
    ['wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'K7MDENG'],
    ['ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8', 'A1b2C3d4E5f6G7h8I9j0'],
    ['postgres://admin:S3cretPw@db/app', 'S3cretPw'],
    ['ana.secret@example.com', 'ana.secret'],
    ['Bearer abcdef123456', 'abcdef123456'],
    [PEM, 'MIIEowIBAAKCAQEA7bq'],
    ['password=hunter2x', 'hunter2x'],
    ['https://x.io/?access_token=tok998877', 'tok998877'],
    ['Basic dXNlcjpwYXNz', 'dXNlcjpwYXNz'],
  ];
  const secret = fc.constantFrom(...SECRETS.map((s) => s[0]));
  // Secrets embedded in text between separators, emoji and random noise.
  const sep = fc.constantFrom(
    ' ',
    ', ',
    '\n',
    '"',
    "'",
    '(',
    ')',
    '🔑',
    ' é ',
    '\t',
    ';',
    '[',
    ']',
    '{',
    '}',
    '<',
    '>',
  );
  const noise = fc.string({ maxLength: 12 }).map((s) => ` ${s} `);
  const text = fc.array(fc.oneof(secret, sep, noise), { maxLength: 8 }).map((a) => a.join(' '));
  const key = fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.constantFrom(
      'password',
      'headers',
      'email',
      'query',
      'parameters',
      'value',
      'key',
      'name',
      'body',
    ),
    text,
  );
  const leaf = fc.oneof(
    text,
    fc.string({ maxLength: 20 }),
    fc.constantFrom(
      '[REDACTED]',
      'hmac:v1:0123456789abcdef0123456789abcdef',
      '****1111',
      '{"token":"t"}',
    ),
    text.map((t) => JSON.stringify({ note: t, password: 'x' })),
    fc.integer(),
    fc.constant(4111111111111111),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
  );
  const detail = fc.object({ key, values: [leaf], maxDepth: 4, maxKeys: 6 });
  const configs: RedactionConfigInput[] = [
    {},
    { ...KEYED, detectors: { ip: 'truncate' }, sql_literals: true, hide_all_headers: false },
    {
      ...KEYED,
      partial: [{ path: 'detail.**.key', keep_last: 2 }],
      mask: ['detail.*.body'],
      json_in_strings: false,
    },
  ];

  it.each(configs.map((c, i) => [i, c] as const))(
    'config %i: twice equals once, no planted secret survives',
    (_i, cfg) => {
      const p = compileRedaction(redactionConfigSchema.parse(cfg));
      fc.assert(
        fc.property(detail, (d) => {
          const once = p.apply(event(structuredClone(d)));
          const text = JSON.stringify(once);
          for (const [, raw] of SECRETS) expect(text).not.toContain(raw);
          const twice = p.apply(structuredClone(once));
          expect(twice).toEqual(once);
        }),
        { numRuns: 200 },
      );
    },
  );
});

describe('describe()', () => {
  it('lists the active rules and never the hash key', () => {
    const lines = plan({
      ...KEYED,
      hash: { key: HMAC_KEY, key_id: 'v7', paths: ['actor.email'] },
      drop: ['detail.geoLocation'],
      hide_query_parameters: ['resetPassword*'],
      detectors: { custom: [{ name: 'emp', pattern: 'EMP-[0-9]+' }] },
    }).describe();
    const text = lines.join('\n');
    expect(text).not.toContain(HMAC_KEY);
    expect(text).toMatch(/drop: detail\.geoLocation/);
    expect(text).toMatch(/hash: actor\.email .*hmac:v7/);
    expect(text).toMatch(/hide_query_parameters: .*resetPassword\*/);
    expect(text).toMatch(/detector custom:emp/);
    expect(text).toMatch(/detector email: hash/);
    expect(text).toMatch(/detector ip: keep/);
  });
});

describe('fast paths agree with the general path (property)', () => {
  const secretish = fc.constantFrom(
    'ana@example.com',
    'Bearer abcdef123456',
    '4111 1111 1111 1111',
    'password=hunter2',
    'Mozilla/5.0 (X11; Linux x86_64)',
    '10.0.0.5',
    '2026-11-21T10:00:00.123Z',
    'production',
    '',
    R,
  );
  const text = fc.oneof(secretish, fc.string({ maxLength: 16 }));
  const field = fc.oneof(text, fc.constant(null));
  // Fields may also be missing altogether (untyped producers).
  const actor = fc.record(
    { id: field, email: field, ip: field, user_agent: field },
    { requiredKeys: [] },
  );
  const target = fc.record(
    { type: field, id: field, name: field, app: field, resource: field },
    { requiredKeys: [] },
  );
  const key = fc.oneof(
    fc.constantFrom(
      'headers',
      'Cookie',
      'set-cookie',
      'password',
      'query',
      'a@b.co',
      '__proto__',
      '0',
      'x',
    ),
    fc.string({ maxLength: 6 }),
  );
  const detail = fc.object({ key, values: [text, fc.integer()], maxDepth: 3, maxKeys: 5 });

  it.each([
    ['defaults', {}],
    ['headers kept, keyed', { hide_all_headers: false, ...KEYED }],
  ] as const)(
    '%s: no path rules (direct field access) = a path rule that never matches',
    (_n, cfg) => {
      const fast = plan(cfg);
      // A path rule forces the general path (computed field names, matcher steps) while
      // changing nothing: no field is ever named this.
      const general = plan({
        ...cfg,
        mask: ['detail.__no_such_field__', 'actor.__no_such_field__'],
      });
      fc.assert(
        fc.property(actor, target, detail, (a, t, d) => {
          const ev = event(d, { actor: a, target: t } as unknown as Partial<AuditEvent>);
          const x = fast.apply(structuredClone(ev));
          const y = general.apply(structuredClone(ev));
          expect(x).toEqual(y);
          // Fields that were missing stay missing (not added as undefined).
          expect(Object.keys(x.actor).sort()).toEqual(Object.keys(a).sort());
          expect(Object.keys(x.target).sort()).toEqual(Object.keys(t).sort());
        }),
        { numRuns: 300 },
      );
    },
  );

  it('an object that loses keys keeps the others in order, __proto__ and index keys included', () => {
    const headerish = new Set(['headers', 'Cookie', 'set-cookie', 'reqHeaders']);
    const keys = fc.uniqueArray(
      fc.constantFrom(
        'headers',
        'Cookie',
        'set-cookie',
        'reqHeaders',
        '__proto__',
        '0',
        '7',
        'b',
        'a',
        'z',
      ),
      { maxLength: 10 },
    );
    const p = plan();
    fc.assert(
      fc.property(keys, (ks) => {
        const obj = Object.fromEntries(ks.map((k) => [k, `v-${k}`]));
        const out = p.apply(event({ o: obj })).detail.o as Record<string, unknown>;
        const want = Object.fromEntries(
          ks.filter((k) => !headerish.has(k)).map((k) => [k, `v-${k}`]),
        );
        expect(Object.keys(out)).toEqual(Object.keys(want));
        expect(JSON.stringify(out)).toBe(JSON.stringify(want));
        expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
      }),
      { numRuns: 300 },
    );
  });
});
