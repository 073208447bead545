import { describe, expect, it } from 'vitest';
import { genericProfile, retoolProfile, tooljetProfile } from '../../src/parse/builtin.js';
import { RETOOL_ROW, TOOLJET_FILE_RECORD, TOOLJET_ROW } from './fixtures.js';

describe('retool profile', () => {
  const strict = retoolProfile(true);

  it('maps every audit_trail_events column', () => {
    const m = strict.map(RETOOL_ROW);
    expect(m).toMatchObject({
      product: 'retool',
      action: 'QUERY_RUN',
      appEventId: '48213',
      time: { iso: '2024-01-31T14:11:37.340Z', zoned: true },
      actor: { id: '42', email: 'ana@example.com', ip: '10.0.0.5', user_agent: 'Mozilla/5.0' },
      target: {
        type: 'query',
        id: null,
        name: 'getCustomers',
        app: 'Support Console',
        resource: 'prod-postgres',
      },
      organizationId: '1',
      durationMs: 87,
      outcome: null,
      ownSeverity: null,
    });
    // Unmapped columns and the whole metadata stay, in the row's order.
    expect(m.detail).toEqual({
      geoLocation: RETOOL_ROW.geoLocation,
      updatedAt: RETOOL_ROW.updatedAt,
      metadata: RETOOL_ROW.metadata,
    });
    expect(Object.keys(m.detail)).toEqual(['geoLocation', 'updatedAt', 'metadata']);
  });

  it('parses metadata given as a JSON string', () => {
    const m = strict.map({ ...RETOOL_ROW, metadata: JSON.stringify(RETOOL_ROW.metadata) });
    expect(m.detail.metadata).toEqual(RETOOL_ROW.metadata);
    expect(m.actor.email).toBe('ana@example.com');
    const plain = strict.map({ ...RETOOL_ROW, metadata: 'not json {' });
    expect(plain.detail.metadata).toBe('not json {');
  });

  it('prefers a top-level e-mail and consumes it', () => {
    const m = strict.map({ ...RETOOL_ROW, userEmail: 'bo@example.com' });
    expect(m.actor.email).toBe('bo@example.com');
    expect(m.detail).not.toHaveProperty('userEmail');
  });

  it('keeps values of unexpected types in detail instead of dropping them', () => {
    const m = strict.map({
      actionType: 'LOGIN',
      userId: { weird: true },
      createdAt: 'not a time',
      responseTimeMs: 'slow',
    });
    expect(m.actor.id).toBeNull();
    expect(m.time).toBeNull();
    expect(m.detail).toEqual({
      userId: { weird: true },
      createdAt: 'not a time',
      responseTimeMs: 'slow',
    });
  });

  it('sets target.type from what the row names', () => {
    expect(strict.map({ actionType: 'PAGE_VIEW', pageName: 'P' }).target).toMatchObject({
      type: 'app',
      app: 'P',
    });
    expect(strict.map({ actionType: 'CREATE_RESOURCE', resourceName: 'db' }).target).toMatchObject({
      type: 'resource',
      resource: 'db',
    });
    expect(strict.map({ actionType: 'LOGIN' }).target.type).toBeNull();
  });

  it('matches actionType records, leaving ToolJet-looking ones to tooljet in auto mode', () => {
    expect(strict.match(RETOOL_ROW)).toBe(RETOOL_ROW);
    expect(strict.match({ actionType: '' })).toBeNull();
    expect(strict.match({ actionType: 5 })).toBeNull();
    expect(strict.match({ action_type: 'LOGIN' })).toBeNull();
    expect(strict.match(TOOLJET_FILE_RECORD)).toBeNull();
    expect(strict.match({ actionType: 'APP_VIEW' })).toBeNull(); // a ToolJet-only action name
    expect(strict.match({ actionType: 'X', metadata: { tooljetVersion: '2' } })).toBeNull();
    // Chosen explicitly, retool takes any actionType record.
    expect(retoolProfile(false).match(TOOLJET_FILE_RECORD)).toBe(TOOLJET_FILE_RECORD);
  });
});

describe('tooljet profile', () => {
  const strict = tooljetProfile(true);

  it('maps the snake_case audit_logs fields', () => {
    const m = strict.map(TOOLJET_ROW);
    expect(m).toMatchObject({
      product: 'tooljet',
      action: 'USER_LOGIN',
      appEventId: TOOLJET_ROW.id,
      time: { iso: '2024-03-01T08:00:00.000Z' },
      actor: { id: 'user-7', email: null, ip: '172.16.0.9', user_agent: 'curl/8' },
      target: { type: 'USER', id: 'user-7', name: 'ana@example.com', app: null, resource: null },
      organizationId: 'org-1',
    });
    expect(m.detail).toEqual({ metadata: TOOLJET_ROW.metadata });
  });

  it('maps the camelCase log-file record, APP resources filling target.app', () => {
    const m = strict.map(TOOLJET_FILE_RECORD);
    expect(m).toMatchObject({
      action: 'APP_CREATE',
      actor: { id: TOOLJET_FILE_RECORD.userId, ip: '::1', user_agent: 'Mozilla/5.0 (Macintosh)' },
      target: {
        type: 'APP',
        id: TOOLJET_FILE_RECORD.resourceId,
        name: 'awdasdawdwd',
        app: 'awdasdawdwd',
      },
      organizationId: TOOLJET_FILE_RECORD.organizationId,
    });
    expect(m.detail).toEqual({ metadata: TOOLJET_FILE_RECORD.metadata });
  });

  it('matches snake_case always, camelCase when it looks like ToolJet (or when chosen)', () => {
    expect(strict.match(TOOLJET_ROW)).toBe(TOOLJET_ROW);
    expect(strict.match(TOOLJET_FILE_RECORD)).toBe(TOOLJET_FILE_RECORD);
    expect(strict.match(RETOOL_ROW)).toBeNull();
    expect(tooljetProfile(false).match(RETOOL_ROW)).toBe(RETOOL_ROW);
    expect(strict.match({ action: 'x' })).toBeNull();
  });
});

describe('generic profile', () => {
  const g = genericProfile();

  it('maps a flat record with an e-mail actor', () => {
    const rec = {
      id: 'evt-1',
      actor: 'ana@example.com',
      action: 'model.deploy',
      target: { type: 'model', id: 'm-9', name: 'ranker', owner: 'ml-team' },
      severity: 'high',
      ip: '::ffff:203.0.113.7',
      timestamp: 1706710297340,
      outcome: 'success',
      detail: { version: 3 },
      request_id: 'r-1',
    };
    const m = g.map(rec);
    expect(m).toMatchObject({
      product: 'generic',
      action: 'model.deploy',
      appEventId: 'evt-1',
      time: { iso: '2024-01-31T14:11:37.340Z' },
      actor: { id: null, email: 'ana@example.com', ip: '203.0.113.7', user_agent: null },
      target: { type: 'model', id: 'm-9', name: 'ranker', app: null, resource: null },
      outcome: 'success',
      ownSeverity: 'critical',
    });
    // The app's detail, then unmapped fields (the exact severity word too), then leftovers.
    expect(m.detail).toEqual({
      version: 3,
      severity: 'high',
      request_id: 'r-1',
      target: { owner: 'ml-team' },
    });
  });

  it('maps an actor object and keeps its unmapped keys', () => {
    const m = g.map({
      action: 'user.delete',
      actor: { id: 7, email: 'ops@example.com', ip: '10.1.1.1', userAgent: 'cli', name: 'Ops' },
      ip: '10.9.9.9',
    });
    expect(m.actor).toEqual({
      id: '7',
      email: 'ops@example.com',
      ip: '10.1.1.1',
      user_agent: 'cli',
    });
    expect(m.detail).toEqual({ ip: '10.9.9.9', actor: { name: 'Ops' } });
  });

  it('a non-email actor string is an id; a string target is a name', () => {
    const m = g.map({ action: 'job.run', actor: 'svc-batch', target: 'nightly' });
    expect(m.actor.id).toBe('svc-batch');
    expect(m.target.name).toBe('nightly');
  });

  it('never overwrites: unmapped fields colliding with detail keys get a prefix', () => {
    const m = g.map({ action: 'a.b', actor: 'x', detail: { level: 'inner' }, level: 'outer' });
    expect(m.detail).toEqual({ level: 'inner', _level: 'outer' });
  });

  it('a non-object detail stays as written', () => {
    expect(g.map({ action: 'a.b', actor: 'x', detail: 'text' }).detail).toEqual({ detail: 'text' });
  });

  it('consumes a severity already in our vocabulary', () => {
    const m = g.map({ action: 'a.b', actor: 'x', severity: 'warn' });
    expect(m.ownSeverity).toBe('warn');
    expect(m.detail).toEqual({});
  });

  it('needs an action plus an actor or a target', () => {
    expect(g.match({ action: 'login', actor: 'a@b.c' })).not.toBeNull();
    expect(g.match({ action: 'login', target: { id: 1 } })).not.toBeNull();
    expect(g.match({ action: 'index', controller: 'home' })).toBeNull();
    expect(g.match({ action: '', actor: 'x' })).toBeNull();
    expect(g.match({ action: 3, actor: 'x' })).toBeNull();
  });
});
