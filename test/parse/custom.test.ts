import { describe, expect, it } from 'vitest';
import { customProfileSchema } from '../../src/parse/config.js';
import { compileCondition, compileCustomProfile } from '../../src/parse/custom.js';

describe('compileCondition', () => {
  const rec = {
    kind: 'audit',
    v: 2,
    ok: true,
    nil: null,
    name: 'billing.charge',
    deep: { x: 'y' },
  };
  const t = (c: Parameters<typeof compileCondition>[0]) => compileCondition(c)(rec);

  it('equals is strict', () => {
    expect(t({ field: 'kind', equals: 'audit' })).toBe(true);
    expect(t({ field: 'v', equals: 2 })).toBe(true);
    expect(t({ field: 'v', equals: '2' })).toBe(false);
    expect(t({ field: 'ok', equals: true })).toBe(true);
    expect(t({ field: 'deep.x', equals: 'y' })).toBe(true);
    expect(t({ field: 'missing', equals: 'audit' })).toBe(false);
  });

  it('in, prefix, exists', () => {
    expect(t({ field: 'v', in: [1, 2] })).toBe(true);
    expect(t({ field: 'v', in: ['2'] })).toBe(false);
    expect(t({ field: 'name', prefix: 'billing.' })).toBe(true);
    expect(t({ field: 'v', prefix: '2' })).toBe(false);
    expect(t({ field: 'kind', exists: true })).toBe(true);
    expect(t({ field: 'nil', exists: true })).toBe(false);
    expect(t({ field: 'nil', exists: false })).toBe(true);
    expect(t({ field: 'missing', exists: false })).toBe(true);
  });

  it('every test on a field must hold', () => {
    expect(t({ field: 'name', prefix: 'billing', equals: 'billing.charge' })).toBe(true);
    expect(t({ field: 'name', prefix: 'billing', equals: 'other' })).toBe(false);
  });

  it('all / any combine', () => {
    const yes = { field: 'kind', equals: 'audit' };
    const no = { field: 'kind', equals: 'other' };
    expect(t({ all: [yes, yes] })).toBe(true);
    expect(t({ all: [yes, no] })).toBe(false);
    expect(t({ any: [no, yes] })).toBe(true);
    expect(t({ any: [no, { all: [no] }] })).toBe(false);
  });
});

function profile(def: unknown) {
  return compileCustomProfile('billing', customProfileSchema.parse(def));
}

describe('compileCustomProfile', () => {
  const def = {
    product: 'billing',
    match: { field: 'kind', equals: 'audit' },
    fields: {
      action: 'event.name',
      timestamp: 'at',
      app_event_id: 'uid',
      actor_id: 'user.id',
      actor_email: 'user.email',
      actor_ip: 'client_ip',
      actor_user_agent: 'ua',
      target_type: 'object.kind',
      target_id: 'object.id',
      target_name: 'object.label',
      target_app: 'app',
      target_resource: 'db',
      organization_id: 'tenant',
      duration_ms: 'took',
      outcome: 'result',
      severity: 'level',
      detail: 'extra',
    },
  };
  const rec = {
    kind: 'audit',
    event: { name: 'invoice.delete' },
    at: '2024-05-01T10:00:00+02:00',
    uid: 991,
    user: { id: 5, email: 'ana@example.com' },
    client_ip: '::ffff:198.51.100.4',
    ua: 'browser',
    object: { kind: 'invoice', id: 'inv-1', label: 'INV 1' },
    app: 'Billing',
    db: 'pg',
    tenant: 't1',
    took: 12,
    result: 'failure',
    level: 'low',
    extra: { reason: 'duplicate', kind: 'inner' },
  };

  it('maps every field by path', () => {
    const p = profile(def);
    const matched = p.match(rec);
    expect(matched).not.toBeNull();
    const m = p.map(matched!);
    expect(m).toMatchObject({
      product: 'billing',
      action: 'invoice.delete',
      appEventId: '991',
      time: { iso: '2024-05-01T08:00:00.000Z' },
      actor: { id: '5', email: 'ana@example.com', ip: '198.51.100.4', user_agent: 'browser' },
      target: { type: 'invoice', id: 'inv-1', name: 'INV 1', app: 'Billing', resource: 'pg' },
      organizationId: 't1',
      durationMs: 12,
      outcome: 'failure',
      ownSeverity: 'info',
    });
    // detail = the `extra` object + unmapped top-level fields; multi-segment sources
    // stay whole (nothing lost), names already taken get a prefix.
    expect(m.detail).toEqual({
      reason: 'duplicate',
      kind: 'inner',
      _kind: 'audit',
      event: rec.event,
      user: rec.user,
      object: rec.object,
      level: 'low',
    });
  });

  it('marker is the key of the action path', () => {
    expect(profile(def).markers).toEqual(['name']);
    expect(profile({ ...def, fields: { action: 'events.0' } }).markers).toEqual(['events']);
  });

  it('does not match when the condition fails or the action is missing', () => {
    const p = profile(def);
    expect(p.match({ ...rec, kind: 'other' })).toBeNull();
    expect(p.match({ kind: 'audit', event: {} })).toBeNull();
    expect(p.match({ kind: 'audit', event: { name: '' } })).toBeNull();
    expect(p.match({ kind: 'audit', event: { name: { x: 1 } } })).toBeNull();
  });

  it('a numeric action is accepted as text', () => {
    const p = profile({
      product: 'win',
      match: { field: 'EventID', exists: true },
      fields: { action: 'EventID' },
    });
    const m = p.map(p.match({ EventID: 4624, Computer: 'dc1' })!);
    expect(m.action).toBe('4624');
    expect(m.detail).toEqual({ Computer: 'dc1' });
  });

  it('reaches into metadata given as a JSON string, for match and fields', () => {
    const p = profile({
      product: 'retool',
      match: { field: 'metadata.kind', equals: 'x' },
      fields: { action: 'actionType', actor_email: 'metadata.user.email' },
    });
    const raw = {
      actionType: 'LOGIN',
      metadata: JSON.stringify({ kind: 'x', user: { email: 'a@b.co' } }),
    };
    const matched = p.match(raw);
    expect(matched).not.toBeNull();
    const m = p.map(matched!);
    expect(m.actor.email).toBe('a@b.co');
    expect(m.detail).toEqual({ metadata: { kind: 'x', user: { email: 'a@b.co' } } });
  });

  it('values of the wrong type stay in detail', () => {
    const p = profile({
      product: 'p',
      match: { field: 'a', exists: true },
      fields: {
        action: 'a',
        timestamp: 'when',
        duration_ms: 'took',
        severity: 'sev',
        outcome: 'res',
      },
    });
    const m = p.map(
      p.match({ a: 'x', when: 'sometime', took: 'long', sev: 'extreme', res: 'maybe' })!,
    );
    expect(m.time).toBeNull();
    expect(m.durationMs).toBeNull();
    expect(m.ownSeverity).toBeNull();
    expect(m.outcome).toBeNull();
    expect(m.detail).toEqual({ when: 'sometime', took: 'long', sev: 'extreme', res: 'maybe' });
  });

  it('carries its envelope path', () => {
    expect(profile({ ...def, envelope: 'payload.audit' }).envelope).toEqual(['payload', 'audit']);
    expect(profile(def).envelope).toBeUndefined();
  });
});
