import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, eventId } from '../../src/event/canonical.js';
import type { AuditEvent } from '../../src/event/types.js';

function sample(): AuditEvent {
  return {
    id: eventId('file-1', 18234),
    app_event_id: '48213',
    timestamp: '2026-11-21T10:00:00.123Z',
    product: 'retool',
    action: 'QUERY_RUN',
    category: 'query',
    severity: 'info',
    outcome: 'success',
    actor: { id: '42', email: 'ana@example.com', ip: '203.0.113.7', user_agent: 'UA "quoted"' },
    target: {
      type: 'query',
      id: null,
      name: 'getCustomers',
      app: 'Support Console',
      resource: 'prod-postgres',
    },
    organization_id: '1',
    duration_ms: 87.5,
    detail: {
      geoLocation: { country: 'PT' },
      metadata: { query: 'select 1', list: [1, 'two', null] },
    },
    redacted: { count: 3, rules: ['credit_card', 'headers'] },
    source: { name: 'retool', host: 'node-1', file: '/var/log/pods/x/0.log', offset: 18234 },
  };
}

/** The same event with every object's properties assigned in reverse order. */
function reversed<T>(v: T): T {
  if (Array.isArray(v)) return v.map(reversed) as T;
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).reverse()) out[k] = reversed((v as Record<string, unknown>)[k]);
    return out as T;
  }
  return v;
}

describe('eventId', () => {
  it('is 32 hex chars of sha256 over "streamId\\noffset"', () => {
    const expected = createHash('sha256').update('abc\n42').digest('hex').slice(0, 32);
    expect(eventId('abc', 42)).toBe(expected);
    expect(eventId('abc', 42)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('is deterministic and position-derived', () => {
    expect(eventId('s', 0)).toBe(eventId('s', 0));
    expect(eventId('s', 0)).not.toBe(eventId('s', 1));
    expect(eventId('s', 0)).not.toBe(eventId('t', 0));
    // The separator keeps (stream, offset) pairs apart.
    expect(eventId('a1', 2)).not.toBe(eventId('a', 12));
  });
});

describe('canonicalJson', () => {
  const ORDER = [
    'id',
    'app_event_id',
    'timestamp',
    'product',
    'action',
    'category',
    'severity',
    'outcome',
    'actor',
    'target',
    'organization_id',
    'duration_ms',
    'detail',
    'redacted',
    'source',
  ];

  it('writes the interface key order at every level', () => {
    const parsed = JSON.parse(canonicalJson(reversed(sample())));
    expect(Object.keys(parsed)).toEqual(ORDER);
    expect(Object.keys(parsed.actor)).toEqual(['id', 'email', 'ip', 'user_agent']);
    expect(Object.keys(parsed.target)).toEqual(['type', 'id', 'name', 'app', 'resource']);
    expect(Object.keys(parsed.redacted)).toEqual(['count', 'rules']);
    expect(Object.keys(parsed.source)).toEqual(['name', 'host', 'file', 'offset']);
  });

  it('is stable: same event → same bytes, whatever the assignment order', () => {
    const e = sample();
    expect(canonicalJson(e)).toBe(canonicalJson(sample()));
    const r = reversed(e);
    r.detail = e.detail; // detail keeps the app's order by design
    expect(canonicalJson(r)).toBe(canonicalJson(e));
  });

  it('equals JSON.stringify of an event built in interface order, and round-trips', () => {
    const e = sample();
    expect(canonicalJson(e)).toBe(JSON.stringify(e));
    expect(JSON.parse(canonicalJson(e))).toEqual(e);
  });

  it('writes nulls, drops keys outside the interface, and never emits invalid numbers', () => {
    const e = sample();
    e.app_event_id = null;
    e.actor = { id: null, email: null, ip: null, user_agent: null };
    e.duration_ms = Number.NaN;
    e.source = { name: 'pipe', host: 'h', file: null, offset: null };
    (e as unknown as Record<string, unknown>).extra = 'not in the contract';
    const parsed = JSON.parse(canonicalJson(e));
    expect(parsed.app_event_id).toBeNull();
    expect(parsed.duration_ms).toBeNull();
    expect(parsed.actor).toEqual({ id: null, email: null, ip: null, user_agent: null });
    expect(parsed.source).toEqual({ name: 'pipe', host: 'h', file: null, offset: null });
    expect(parsed).not.toHaveProperty('extra');
  });

  it('escapes hostile strings into valid JSON', () => {
    const e = sample();
    e.action = 'a"b\\c\n\u0000\u2028\uD800';
    e.detail = { '"k"': 'v\r\n', __proto__x: 1 };
    const parsed = JSON.parse(canonicalJson(e));
    expect(parsed.action).toBe(e.action);
    expect(parsed.detail).toEqual(e.detail);
  });
});

/**
 * The previous implementation (one JSON.stringify per field, concatenated), kept as the
 * reference the single-stringify version must match byte for byte.
 */
function referenceCanonicalJson(e: AuditEvent): string {
  const q = JSON.stringify;
  const str = (v: string | null | undefined): string =>
    v === null || v === undefined ? 'null' : q(v);
  const num = (v: number | null | undefined): string =>
    typeof v === 'number' && Number.isFinite(v) ? String(v) : 'null';
  const { actor: a, target: t, redacted: r, source: s } = e;
  return (
    `{"id":${str(e.id)},"app_event_id":${str(e.app_event_id)},"timestamp":${str(e.timestamp)}` +
    `,"product":${str(e.product)},"action":${str(e.action)},"category":${str(e.category)}` +
    `,"severity":${str(e.severity)},"outcome":${str(e.outcome)}` +
    `,"actor":{"id":${str(a.id)},"email":${str(a.email)},"ip":${str(a.ip)},"user_agent":${str(a.user_agent)}}` +
    `,"target":{"type":${str(t.type)},"id":${str(t.id)},"name":${str(t.name)},"app":${str(t.app)},"resource":${str(t.resource)}}` +
    `,"organization_id":${str(e.organization_id)},"duration_ms":${num(e.duration_ms)}` +
    `,"detail":${e.detail === null || e.detail === undefined ? '{}' : q(e.detail)}` +
    `,"redacted":{"count":${num(r.count)},"rules":${q(r.rules ?? [])}}` +
    `,"source":{"name":${str(s.name)},"host":${str(s.host)},"file":${str(s.file)},"offset":${num(s.offset)}}}`
  );
}

describe('canonicalJson matches the per-field reference byte for byte', () => {
  // Strings of every kind JSON must escape: quotes, backslashes, controls, lone
  // surrogates, U+2028, astral characters.
  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({
      unit: fc.constantFrom(
        '"',
        '\\',
        '\n',
        '\u0000',
        '\u001f',
        '\u2028',
        '\uD800',
        '\uDC00',
        '😀',
        'a',
      ),
      maxLength: 12,
    }),
  );
  /** A string field as it may really arrive: a string, null, or (untyped code) missing. */
  const field = fc.oneof(text, fc.constant(null), fc.constant(undefined));
  const number = fc.oneof(
    fc.double(),
    fc.integer(),
    fc.constantFrom(NaN, Infinity, -Infinity, -0, 1e21, 5e-324, Number.MAX_SAFE_INTEGER),
    fc.constant(null),
    fc.constant(undefined),
  );
  const detail = fc.oneof(
    fc.dictionary(
      fc.oneof(text, fc.constantFrom('__proto__', 'constructor', '')),
      fc.jsonValue({ maxDepth: 3 }),
    ),
    fc.object({ maxDepth: 2 }),
    fc.constant(null),
    fc.constant(undefined),
  );
  const event = fc.record({
    id: field,
    app_event_id: field,
    timestamp: field,
    product: field,
    action: field,
    category: field,
    severity: field,
    outcome: field,
    actor: fc.record({ id: field, email: field, ip: field, user_agent: field }),
    target: fc.record({ id: field, type: field, name: field, app: field, resource: field }),
    organization_id: field,
    duration_ms: number,
    detail,
    redacted: fc.record({
      count: number,
      rules: fc.oneof(fc.array(text, { maxLength: 4 }), fc.constant(undefined)),
    }),
    source: fc.record({ name: field, host: field, file: field, offset: number }),
    // Keys outside the interface, at the top and in the nested objects, are never written.
    extra: fc.option(fc.jsonValue({ maxDepth: 1 }), { nil: undefined }),
  });

  it('for arbitrary events, including nulls, missing fields, odd numbers and extra keys', () => {
    fc.assert(
      fc.property(event, (raw) => {
        const e = raw as unknown as AuditEvent;
        (e.actor as unknown as Record<string, unknown>).extra = raw.extra;
        (e.source as unknown as Record<string, unknown>).extra = 'x';
        const got = canonicalJson(e);
        expect(got).toBe(referenceCanonicalJson(e));
        expect(() => JSON.parse(got)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });

  it('for events whose properties were assigned in any order', () => {
    const e = sample();
    expect(canonicalJson(reversed(e))).toBe(referenceCanonicalJson(reversed(e)));
    expect(canonicalJson(e)).toBe(referenceCanonicalJson(e));
  });
});
