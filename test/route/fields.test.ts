import { describe, expect, it } from 'vitest';
import { AUDIT_FIELD_NAMES, makeGetter, resolveFieldPath } from '../../src/route/fields.js';
import { makeEvent } from './event-fixture.js';

function resolve(path: string) {
  const r = resolveFieldPath(path);
  if (!r.ok) throw new Error(r.message);
  return r;
}

function failure(path: string): string {
  const r = resolveFieldPath(path);
  if (r.ok) throw new Error(`expected ${path} to be rejected`);
  return r.message;
}

describe('resolveFieldPath', () => {
  it('knows every top-level AuditEvent field', () => {
    const keys = Object.keys(makeEvent());
    expect([...AUDIT_FIELD_NAMES].sort()).toEqual(keys.sort());
  });

  it('classifies fields', () => {
    expect(resolve('severity').kind).toBe('severity');
    expect(resolve('outcome').kind).toBe('outcome');
    expect(resolve('action').kind).toBe('string');
    expect(resolve('duration_ms').kind).toBe('number');
    expect(resolve('target.resource').kind).toBe('string');
    expect(resolve('source.offset').kind).toBe('number');
    expect(resolve('redacted.rules').kind).toBe('list');
    expect(resolve('actor').kind).toBe('object');
    expect(resolve('detail').kind).toBe('object');
    expect(resolve('detail.metadata.x').kind).toBe('free');
    expect(resolve('detail.metadata.x').segments).toEqual(['detail', 'metadata', 'x']);
  });

  it('rejects an unknown first segment with a suggestion', () => {
    expect(failure('severty')).toMatch(/unknown field "severty" \(did you mean "severity"\?\)/);
    expect(failure('user.email')).toMatch(
      /a field path starts with one of id, app_event_id, timestamp/,
    );
  });

  it('rejects an unknown key of a fixed sub-object with a suggestion', () => {
    expect(failure('target.resouce')).toBe(
      'unknown field "target.resouce" (did you mean "target.resource"?): target has type, id, name, app, resource',
    );
    expect(failure('actor.mail')).toMatch(/did you mean "actor.email"/);
    expect(failure('source.constructor')).toMatch(/unknown field "source.constructor"/);
  });

  it('rejects sub-fields of single values and of fixed sub-object leaves', () => {
    expect(failure('severity.level')).toMatch(
      /"severity" is a single value and has no sub-field "level"/,
    );
    expect(failure('target.resource.name')).toMatch(/"target.resource" is a single value/);
  });

  it('rejects empty segments', () => {
    for (const p of ['', '.', 'detail.', '.action', 'detail..x'])
      expect(failure(p)).toMatch(/empty segment/);
  });
});

describe('makeGetter', () => {
  const e = makeEvent({ detail: { metadata: { x: 1, list: [{ n: 'a' }] }, s: 'text' } });
  const get = (p: string) => makeGetter(resolve(p).segments)(e);

  it('reads top-level, fixed and nested detail fields', () => {
    expect(get('action')).toBe('QUERY_RUN');
    expect(get('target.resource')).toBe('prod-postgres');
    expect(get('actor.user_agent')).toBeNull();
    expect(get('detail.metadata.x')).toBe(1);
    expect(get('detail.metadata.list.0.n')).toBe('a');
  });

  it('returns undefined for missing or non-object intermediate values', () => {
    expect(get('detail.nope')).toBeUndefined();
    expect(get('detail.metadata.x.y')).toBeUndefined();
    expect(get('detail.s.length')).toBeUndefined(); // a string's length is not a field
    expect(makeGetter(['target', 'name'])({ target: null })).toBeUndefined();
    expect(makeGetter(['target', 'name'])({})).toBeUndefined();
  });

  it('never reads inherited properties from detail', () => {
    expect(get('detail.constructor')).toBeUndefined();
    expect(get('detail.__proto__')).toBeUndefined();
    expect(get('detail.metadata.toString')).toBeUndefined();
    const parsed = JSON.parse('{"__proto__": {"x": "own"}}') as Record<string, unknown>;
    expect(makeGetter(['detail', '__proto__', 'x'])({ detail: parsed })).toBe('own');
  });
});
