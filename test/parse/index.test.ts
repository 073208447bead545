import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, eventId } from '../../src/event/canonical.js';
import type { AuditEvent } from '../../src/event/types.js';
import type { LogRecord } from '../../src/framing/types.js';
import type { CustomProfile } from '../../src/parse/config.js';
import type { ParseResult } from '../../src/parse/index.js';
import { BUILTIN_PROFILES, compileParser, markerPrecheck } from '../../src/parse/index.js';
import { DEPTH_MARKER } from '../../src/parse/values.js';
import { RETOOL_ROW, TOOLJET_FILE_RECORD, TOOLJET_ROW } from './fixtures.js';

const CTX = { file: '/var/log/pods/ns_retool-0_uid/backend/0.log', streamId: 'file-1' };

function parser(profile = 'auto', profiles: Record<string, CustomProfile> = {}) {
  return compileParser({ profile, profiles, host: 'node-1', source: 'retool' });
}

const auto = parser();

function rec(text: string, extra: Partial<LogRecord> = {}): LogRecord {
  return { text, offset: 18234, ...extra };
}

function audit(r: ParseResult): AuditEvent {
  if (r.kind !== 'audit') throw new Error(`expected an audit event, got ${JSON.stringify(r)}`);
  return r.event;
}

const line = (o: unknown) => JSON.stringify(o);

describe('retool', () => {
  it('flat row → the full AuditEvent', () => {
    const r = auto(rec(line(RETOOL_ROW)), CTX);
    expect(r).toEqual({
      kind: 'audit',
      knownAction: true,
      event: {
        id: eventId('file-1', 18234),
        app_event_id: '48213',
        timestamp: '2024-01-31T14:11:37.340Z',
        product: 'retool',
        action: 'QUERY_RUN',
        category: 'query',
        severity: 'info',
        outcome: 'unknown',
        actor: { id: '42', email: 'ana@example.com', ip: '10.0.0.5', user_agent: 'Mozilla/5.0' },
        target: {
          type: 'query',
          id: null,
          name: 'getCustomers',
          app: 'Support Console',
          resource: 'prod-postgres',
        },
        organization_id: '1',
        duration_ms: 87,
        detail: {
          geoLocation: RETOOL_ROW.geoLocation,
          updatedAt: RETOOL_ROW.updatedAt,
          metadata: RETOOL_ROW.metadata,
        },
        redacted: { count: 0, rules: [] },
        source: { name: 'retool', host: 'node-1', file: CTX.file, offset: 18234 },
      },
    });
  });

  it('fields merged into a logger envelope: the logger fields land in detail', () => {
    const e = audit(auto(rec(line({ level: 'info', message: 'audit event', ...RETOOL_ROW })), CTX));
    expect(e.action).toBe('QUERY_RUN');
    expect(e.detail).toMatchObject({ level: 'info', message: 'audit event' });
  });

  it('nested under a key: the envelope is kept in detail.envelope', () => {
    const e = audit(auto(rec(line({ level: 'info', auditEvent: RETOOL_ROW })), CTX));
    expect(e.actor.email).toBe('ana@example.com');
    expect(e.detail.envelope).toEqual({ level: 'info' });
  });

  it('nested up to three levels deep, but not four', () => {
    expect(audit(auto(rec(line({ a: { b: { c: RETOOL_ROW } } })), CTX)).action).toBe('QUERY_RUN');
    expect(auto(rec(line({ a: { b: { c: { d: RETOOL_ROW } } } })), CTX)).toEqual({
      kind: 'non_audit',
    });
  });

  it('JSON text in message / msg', () => {
    for (const key of ['message', 'msg']) {
      const e = audit(
        auto(rec(line({ level: 30, time: 1706710297000, [key]: line(RETOOL_ROW) })), CTX),
      );
      expect(e.target.name).toBe('getCustomers');
      expect(e.detail.envelope).toEqual({ level: 30, time: 1706710297000 });
    }
  });

  it('metadata as a JSON string is parsed into detail.metadata', () => {
    const e = audit(auto(rec(line({ ...RETOOL_ROW, metadata: line(RETOOL_ROW.metadata) })), CTX));
    expect(e.detail.metadata).toEqual(RETOOL_ROW.metadata);
    expect(e.actor.email).toBe('ana@example.com');
  });

  it('IPv4-mapped addresses become IPv4', () => {
    const e = audit(auto(rec(line({ actionType: 'LOGIN', ipAddress: '::ffff:192.168.7.1' })), CTX));
    expect(e.actor.ip).toBe('192.168.7.1');
  });

  it('a failed login is critical and a failure', () => {
    const e = audit(auto(rec(line({ actionType: 'LOGIN', success: false })), CTX));
    expect(e).toMatchObject({
      outcome: 'failure',
      severity: 'critical',
      category: 'authentication',
    });
    expect(e.detail).toEqual({ success: false }); // the exact field stays
  });

  it('an action missing from the table is parsed and reported as unknown', () => {
    const r = auto(rec(line({ actionType: 'BRAND_NEW_THING', userId: 1 })), CTX);
    expect(r).toMatchObject({
      kind: 'audit',
      knownAction: false,
      event: { severity: 'info', category: 'other' },
    });
  });
});

describe('tooljet', () => {
  it('snake_case row', () => {
    const r = auto(rec(line(TOOLJET_ROW)), CTX);
    expect(r).toMatchObject({
      kind: 'audit',
      knownAction: true,
      event: {
        product: 'tooljet',
        action: 'USER_LOGIN',
        app_event_id: TOOLJET_ROW.id,
        timestamp: '2024-03-01T08:00:00.000Z',
        actor: { id: 'user-7', ip: '172.16.0.9', user_agent: 'curl/8' },
        target: { type: 'USER', id: 'user-7', name: 'ana@example.com' },
        organization_id: 'org-1',
      },
    });
  });

  it('camelCase log-file line (auditLog under a winston envelope)', () => {
    const text = line({
      level: 'info',
      message: 'PERFORM APP_CREATE OF awdasdawdwd APP',
      timestamp: '2023-11-02 17:12:40',
      auditLog: TOOLJET_FILE_RECORD,
      label: 'APP',
    });
    // The envelope time names no zone: the runtime's (zoned) time wins when there is one...
    const withRuntime = audit(auto(rec(text, { time: '2023-11-02T17:12:40.123456789Z' }), CTX));
    expect(withRuntime).toMatchObject({
      product: 'tooljet',
      action: 'APP_CREATE',
      severity: 'warn',
      timestamp: '2023-11-02T17:12:40.123Z',
      target: { type: 'APP', name: 'awdasdawdwd', app: 'awdasdawdwd' },
    });
    expect(withRuntime.detail.envelope).toEqual({
      level: 'info',
      message: 'PERFORM APP_CREATE OF awdasdawdwd APP',
      timestamp: '2023-11-02 17:12:40',
      label: 'APP',
    });
    // ...and without one it is read as UTC.
    expect(audit(auto(rec(text), CTX)).timestamp).toBe('2023-11-02T17:12:40.000Z');
  });
});

describe('generic', () => {
  const g = {
    actor: 'ana@example.com',
    action: 'user.role_change',
    target: { type: 'user', id: '7', name: 'bo' },
    severity: 'low',
    ip: '203.0.113.7',
    timestamp: '2024-01-31T14:11:37.340Z',
    detail: { from: 'viewer', to: 'admin' },
  };

  it('flat', () => {
    const r = auto(rec(line(g)), { file: null, streamId: 'stdin-run-1' });
    expect(r).toMatchObject({
      kind: 'audit',
      knownAction: true,
      event: {
        id: eventId('stdin-run-1', 18234),
        product: 'generic',
        action: 'user.role_change',
        category: 'permission',
        severity: 'critical', // the app's "low" never lowers the table
        actor: { email: 'ana@example.com', ip: '203.0.113.7' },
        target: { type: 'user', id: '7', name: 'bo' },
        detail: { from: 'viewer', to: 'admin', severity: 'low' },
        source: { name: 'retool', host: 'node-1', file: null, offset: null },
      },
    });
  });

  it('own severity raises the table', () => {
    const e = audit(
      auto(rec(line({ actor: 'a@b.co', action: 'document.view', severity: 'critical' })), CTX),
    );
    expect(e.severity).toBe('critical');
  });

  it('nested under any key and in msg', () => {
    expect(audit(auto(rec(line({ level: 'info', audit: g })), CTX)).action).toBe(
      'user.role_change',
    );
    expect(audit(auto(rec(line({ msg: line(g) })), CTX)).action).toBe('user.role_change');
  });

  it('failure in the action name sets the outcome', () => {
    const e = audit(auto(rec(line({ actor: 'a@b.co', action: 'auth.login_failure' })), CTX));
    expect(e).toMatchObject({ outcome: 'failure', severity: 'critical' });
  });
});

describe('profile selection', () => {
  const billing = {
    product: 'billing',
    match: { field: 'kind', equals: 'audit' },
    fields: { action: 'op', actor_email: 'who' },
  } satisfies CustomProfile;

  it('auto tries custom profiles before the built-ins', () => {
    const p = parser('auto', { billing });
    const e = audit(
      p(rec(line({ kind: 'audit', op: 'charge.refund', who: 'a@b.co', actionType: 'LOGIN' })), CTX),
    );
    expect(e.product).toBe('billing');
    // A line the custom profile does not match still goes to the built-ins.
    expect(audit(p(rec(line(RETOOL_ROW)), CTX)).product).toBe('retool');
  });

  it('a custom profile finds its record nested, or at its envelope path', () => {
    const p = parser('billing', { billing });
    expect(
      audit(p(rec(line({ level: 'info', data: { kind: 'audit', op: 'x.y' } })), CTX)).action,
    ).toBe('x.y');
    const fixed = parser('billing', { billing: { ...billing, envelope: 'payload' } });
    const text = line({
      payload: line({ kind: 'audit', op: 'a.b' }),
      other: { kind: 'audit', op: 'wrong' },
    });
    expect(audit(fixed(rec(text), CTX)).action).toBe('a.b');
    expect(fixed(rec(line({ kind: 'audit', op: 'x' })), CTX)).toEqual({ kind: 'non_audit' });
  });

  it('an explicit profile only recognises its own shape', () => {
    expect(parser('tooljet')(rec(line({ actor: 'a@b.co', action: 'x.y' })), CTX).kind).toBe(
      'non_audit',
    );
    expect(parser('generic')(rec(line(RETOOL_ROW)), CTX).kind).toBe('non_audit');
    expect(audit(parser('retool')(rec(line({ auditLog: TOOLJET_FILE_RECORD })), CTX)).product).toBe(
      'retool',
    );
    expect(audit(parser('tooljet')(rec(line(RETOOL_ROW)), CTX)).product).toBe('tooljet');
    expect(parser('billing', { billing })(rec(line(RETOOL_ROW)), CTX).kind).toBe('non_audit');
  });

  it('an unknown profile name is refused at compile time', () => {
    expect(() => parser('nope')).toThrow(/unknown profile "nope"/);
    expect(BUILTIN_PROFILES).toEqual(['retool', 'tooljet', 'generic']);
  });
});

describe('ids, sources and time', () => {
  it('the id is position-derived; the app id is only kept for correlation', () => {
    const a = audit(auto(rec(line(RETOOL_ROW)), { file: '/a.log', streamId: 'stream-a' }));
    const b = audit(auto(rec(line(RETOOL_ROW)), { file: '/b.log', streamId: 'stream-b' }));
    expect(a.app_event_id).toBe(b.app_event_id);
    expect(a.id).not.toBe(b.id);
    const again = audit(auto(rec(line(RETOOL_ROW)), { file: '/a.log', streamId: 'stream-a' }));
    expect(again.id).toBe(a.id);
    expect(audit(auto(rec(line(RETOOL_ROW), { offset: 0 }), CTX)).id).toBe(eventId('file-1', 0));
  });

  it('time: the record, else the runtime time, else now', () => {
    const noTime = line({ actionType: 'LOGIN' });
    expect(audit(auto(rec(noTime, { time: '2024-01-31T14:11:37.340999Z' }), CTX)).timestamp).toBe(
      '2024-01-31T14:11:37.340Z',
    );
    const before = Date.now();
    const ts = Date.parse(audit(auto(rec(noTime), CTX)).timestamp);
    expect(ts).toBeGreaterThanOrEqual(before);
    expect(ts).toBeLessThanOrEqual(Date.now());
    const epoch = line({ actionType: 'LOGIN', createdAt: 1706710297340 });
    expect(audit(auto(rec(epoch, { time: '2030-01-01T00:00:00Z' }), CTX)).timestamp).toBe(
      '2024-01-31T14:11:37.340Z',
    );
    // An unreadable createdAt falls back and stays in detail.
    const bad = audit(
      auto(
        rec(line({ actionType: 'LOGIN', createdAt: 'soon' }), { time: '2030-01-01T00:00:00Z' }),
        CTX,
      ),
    );
    expect(bad.timestamp).toBe('2030-01-01T00:00:00.000Z');
    expect(bad.detail.createdAt).toBe('soon');
  });

  it('the event serialises canonically', () => {
    const e = audit(auto(rec(line({ level: 'info', auditEvent: RETOOL_ROW })), CTX));
    expect(JSON.parse(canonicalJson(e))).toEqual(e);
  });
});

describe('input that is not an audit event', () => {
  it.each([
    [''],
    ['   '],
    ['plain log line with action and actionType words'],
    ['2024-01-31 INFO action=QUERY_RUN'],
    ['{"level":"info","msg":"server started"}'],
    ['{"action":"index","controller":"home"}'],
    ['{"actionType":""}'],
    ['[{"actionType":"QUERY_RUN"}]'],
    ['"{\\"actionType\\":\\"QUERY_RUN\\"}"'],
    ['null'],
    ['42'],
    ['{"message":"{\\"nothing\\":\\"action\\"}"}'],
    ['{"message":"{not json action"}'],
  ])('%j → non_audit', (text) => {
    expect(auto(rec(text), CTX)).toEqual({ kind: 'non_audit' });
  });

  it('binary garbage and invalid UTF-8 → non_audit', () => {
    const bytes = Buffer.from([
      0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x61, 0x63, 0x74, 0x69, 0x6f, 0x6e,
    ]);
    expect(auto(rec(bytes.toString('utf8')), CTX)).toEqual({ kind: 'non_audit' });
    expect(auto(rec('\u0000\u0001action\u0002'), CTX)).toEqual({ kind: 'non_audit' });
  });

  it('replacement characters inside an audit record do not stop it', () => {
    const text = Buffer.concat([
      Buffer.from('{"actionType":"LOGIN","x":"'),
      Buffer.from([0xff, 0xc3]),
      Buffer.from('"}'),
    ]);
    const e = audit(auto(rec(text.toString('utf8')), CTX));
    expect(e.detail.x).toBe('\uFFFD\uFFFD');
  });

  it('a byte-order mark or leading space is skipped', () => {
    expect(audit(auto(rec('\uFEFF ' + line(RETOOL_ROW)), CTX)).action).toBe('QUERY_RUN');
  });
});

describe('malformed', () => {
  it('broken JSON that may hold an audit event is malformed, and the reason never quotes it', () => {
    const r = auto(rec('{"actionType":"LOGIN","password":"hunter2"'), CTX);
    expect(r.kind).toBe('malformed');
    if (r.kind === 'malformed') {
      expect(r.reason).toMatch(/^invalid JSON/);
      expect(r.reason).not.toContain('hunter2');
    }
    expect(auto(rec('[{"action": oops]'), CTX).kind).toBe('malformed');
    expect(auto(rec('{"actionType":"LOGIN"}}'), CTX).kind).toBe('malformed');
  });

  it('says why when the framer cut or lost the record', () => {
    const cut = auto(rec('{"actionType":"LOGIN","metadata":{"q":"sel', { truncated: true }), CTX);
    expect(cut).toMatchObject({
      kind: 'malformed',
      reason: expect.stringMatching(/cut at the line size limit/),
    });
    const partial = auto(rec('{"actionType":"LOGIN",', { incomplete: true }), CTX);
    expect(partial).toMatchObject({
      kind: 'malformed',
      reason: expect.stringMatching(/partial record/),
    });
  });

  it('broken JSON without any action marker is skipped unparsed (non_audit)', () => {
    expect(auto(rec('{"level":"info",'), CTX)).toEqual({ kind: 'non_audit' });
  });
});

describe('the pre-check never hides an audit event', () => {
  it('keys spelled with \\u escapes are still found', () => {
    const e = audit(auto(rec('{"\\u0061ctionType":"QUERY_RUN","userId":1}'), CTX));
    expect(e.action).toBe('QUERY_RUN');
    const g = audit(auto(rec('{"\\u0061\\u0063tion":"x.delete","actor":"a@b.co"}'), CTX));
    expect(g.severity).toBe('critical');
  });

  it('custom profiles add their action key as a marker', () => {
    const p = parser('auto', {
      win: {
        product: 'win',
        match: { field: 'EventID', exists: true },
        fields: { action: 'EventID' },
      },
    });
    expect(audit(p(rec('{"EventID":4625,"Computer":"dc1"}'), CTX)).product).toBe('win');
    expect(audit(p(rec('{"EventID":4625,"Computer":"dc1"}'), CTX)).action).toBe('4625');
  });
});

describe('markerPrecheck: a marker counts only as a key', () => {
  const builtin = markerPrecheck(['actionType', 'action_type', 'action', 'actionType']);

  it('passes keys, at any depth and inside JSON-in-string values', () => {
    expect(builtin('{"actionType":"LOGIN"}')).toBe(true);
    expect(builtin('{"level":"info","auditLog":{"action_type":"APP_VIEW"}}')).toBe(true);
    expect(builtin('{"action":"model.deploy","actor":"a"}')).toBe(true);
    expect(builtin(line({ msg: line({ actionType: 'LOGIN' }) }))).toBe(true);
    expect(builtin(line({ msg: line({ inner: line({ action: 'x' }) }) }))).toBe(true);
  });

  it('rejects ordinary log lines that only mention the word', () => {
    expect(builtin('{"msg":"transaction committed","level":30}')).toBe(false);
    expect(builtin('{"msg":"the action required: rotate the key"}')).toBe(false);
    // A string VALUE that starts with the word also passes (it follows a quote): that
    // only costs a parse, never an answer.
    expect(builtin('{"msg":"action required"}')).toBe(true);
    expect(builtin('{"reaction":"ok","transactionId":"t-1","interaction_type":"x"}')).toBe(false);
    expect(builtin('{"sql":"BEGIN TRANSACTION","actions":"are values here"}')).toBe(true); // "actions" is a key
  });

  it('still passes any text with a \\u escape', () => {
    expect(builtin('{"\\u0061ctionType":"LOGIN"}')).toBe(true);
    expect(builtin('{"msg":"caf\\u00e9"}')).toBe(true);
  });

  it('keeps markers that are not prefixes of one another (custom keys)', () => {
    const check = markerPrecheck(['type', 'event_type']);
    expect(check('{"event_type":"x"}')).toBe(true);
    expect(check('{"type":"x"}')).toBe(true);
    expect(check('{"subtype":"x","msg":"a type"}')).toBe(false);
  });

  it('finds keys a writer may escape: `/` as `\\/`, quotes, control characters', () => {
    // A custom profile's action key `event/name`, written by a writer that escapes `/`.
    const slash = markerPrecheck(['event/name']);
    expect(slash('{"event\\/name":"deleted"}')).toBe(true);
    expect(slash('{"event/name":"deleted"}')).toBe(true);
    expect(slash('{"other":"x"}')).toBe(false);
    // A key starting with an escapable character can only be found by parsing.
    expect(markerPrecheck(['/x'])('{"\\/x":1}')).toBe(true);
    expect(markerPrecheck(['"q'])('{"\\"q":1}')).toBe(true);
    expect(markerPrecheck(['a\tb'])('{"a\\tb":1}')).toBe(true);
  });

  /** Every key of `v` at any depth, also inside strings that hold JSON. */
  function keysDeep(v: unknown, out = new Set<string>()): Set<string> {
    if (typeof v === 'string') {
      try {
        keysDeep(JSON.parse(v), out);
      } catch {
        // not JSON
      }
    } else if (Array.isArray(v)) {
      for (const x of v) keysDeep(x, out);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        out.add(k);
        keysDeep(x, out);
      }
    }
    return out;
  }

  /** JSON writers differ in what they escape; each output is valid JSON for the same value. */
  const writers: Array<(v: unknown) => string> = [
    (v) => JSON.stringify(v),
    (v) => JSON.stringify(v).replace(/\//g, '\\/'),
    (v) =>
      JSON.stringify(v).replace(
        /[\u0080-\uffff]/g,
        (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'),
      ),
    // Letters that are never part of an escape or a literal (true/false/null) as \u.
    (v) => JSON.stringify(v).replace(/[io]/g, (c) => '\\u00' + c.charCodeAt(0).toString(16)),
  ];
  const KEYS = [
    'action',
    'actionType',
    'action_type',
    'transaction',
    'reaction',
    'event/type',
    'type',
    'évent',
    'a"b',
    'k',
  ];
  const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: 'small' },
      fc.constantFrom(...KEYS, 'text with action and transaction', 1, null, true),
      fc.dictionary(fc.constantFrom(...KEYS), tie('node'), { maxKeys: 3 }),
      fc.array(tie('node'), { maxLength: 3 }),
      tie('node').map((x) => JSON.stringify(x)), // JSON in a string value
    ),
  })).node;

  it('never rejects a text in which a marker is a key (property)', () => {
    const markerSets = [
      ['action', 'actionType', 'action_type'],
      ['event/type'],
      ['type', 'évent'],
      ['a"b'],
    ];
    fc.assert(
      fc.property(
        value,
        fc.nat({ max: writers.length - 1 }),
        fc.nat({ max: markerSets.length - 1 }),
        (v, w, m) => {
          const markers = markerSets[m]!;
          const text = writers[w]!({ root: v });
          const keys = keysDeep(JSON.parse(text));
          if (markers.some((k) => keys.has(k))) expect(markerPrecheck(markers)(text)).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('the pre-check changes no answer: parsing with and without it agrees on every audit event', () => {
  const profiles: Record<string, CustomProfile> = {
    slashy: {
      product: 'slashy',
      match: { field: 'event/type', prefix: 'svc.' },
      fields: { action: 'event/type', timestamp: 'at' },
    },
    meta: {
      product: 'meta',
      match: { field: 'metadata.kind', equals: 'audit' },
      fields: { action: 'metadata.op' },
    },
  };
  const record = fc.record(
    {
      actionType: fc.constantFrom('QUERY_RUN', 'LOGIN', 'DELETE_USER', ''),
      action_type: fc.constantFrom('APP_VIEW', 'USER_LOGIN'),
      action: fc.constantFrom('auth.login_failure', 'model.deploy', 'transaction'),
      actor: fc.constantFrom('ana@example.com', 42),
      target: fc.constantFrom('db', { type: 'app', id: 7 }),
      resourceType: fc.constant('APP'),
      'event/type': fc.constantFrom('svc.delete', 'other'),
      metadata: fc.oneof(
        fc.constant({ kind: 'audit', op: 'rotate' }),
        fc.constant(JSON.stringify({ kind: 'audit', op: 'rotate' })),
        fc.constant({ note: 'transaction action' }),
      ),
      msg: fc.constantFrom('transaction committed', 'action required', 'ok'),
      createdAt: fc.constant('2026-11-21T10:00:00.123Z'),
      at: fc.constant('2026-11-21T10:00:00Z'),
    },
    { requiredKeys: [] },
  );
  const lineOf = fc.oneof(
    record.map(line),
    record.map((r) => line({ level: 'info', message: 'audit', ...r })),
    record.map((r) => line({ level: 'info', auditLog: r })),
    record.map((r) => line({ level: 30, msg: line(r) })),
    record.map((r) => line(r).replace(/\//g, '\\/')),
    record.map((r) => line(r).replace(/o/g, '\\u006f')),
    record.map((r) => line(r).slice(0, 30)),
  );

  it('for every profile choice (property)', () => {
    const names = ['auto', 'retool', 'tooljet', 'generic', 'slashy', 'meta'];
    const both = names.map((profile) => [
      compileParser({ profile, profiles, host: 'h', source: 's' }),
      compileParser({ profile, profiles, host: 'h', source: 's', precheck: false }),
    ]);
    fc.assert(
      fc.property(lineOf, (text) => {
        const r = rec(text, { time: '2026-11-21T10:00:00.000Z' });
        for (const [fast, slow] of both) {
          const want = slow!(r, CTX);
          const got = fast!(r, CTX);
          // Broken JSON with no marker key is skipped unparsed: non_audit, not malformed.
          if (want.kind === 'malformed' && got.kind === 'non_audit') continue;
          expect(got).toEqual(want);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('hostile input', () => {
  it('nesting 100k deep is cut, and the event still serialises', () => {
    const n = 100_000;
    const text = '{"actionType":"LOGIN","metadata":{"x":' + '['.repeat(n) + ']'.repeat(n) + '}}';
    const e = audit(auto(rec(text), CTX));
    const json = canonicalJson(e);
    expect(json).toContain(DEPTH_MARKER);
  });

  it('a huge line is parsed whole', () => {
    const big = 'a'.repeat(4 * 1024 * 1024);
    const e = audit(auto(rec(line({ ...RETOOL_ROW, metadata: { query: big } })), CTX));
    expect((e.detail.metadata as { query: string }).query.length).toBe(big.length);
  });

  it('__proto__ keys stay data and pollute nothing', () => {
    const e = audit(
      auto(
        rec(
          '{"actionType":"LOGIN","__proto__":{"polluted":true},"metadata":{"__proto__":{"p":1}}}',
        ),
        CTX,
      ),
    );
    expect(Object.hasOwn(e.detail, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.parse(canonicalJson(e)).detail.__proto__).toEqual({ polluted: true });
  });

  it('never throws, and always answers one of the three kinds', () => {
    const kinds = ['audit', 'non_audit', 'malformed'];
    const texts = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.json({ maxDepth: 4 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => line({ actionType: 'QUERY_RUN', metadata: v })),
      fc
        .jsonValue({ maxDepth: 3 })
        .map((v) => line({ action: v, actor: v, target: v, timestamp: v })),
      fc
        .tuple(fc.string({ maxLength: 40 }), fc.nat({ max: 60 }))
        .map(([s, cut]) => line({ actionType: 'LOGIN', s }).slice(0, cut)),
    );
    fc.assert(
      fc.property(texts, (text) => {
        const r = auto(rec(text), CTX);
        expect(kinds).toContain(r.kind);
        if (r.kind === 'audit') expect(() => JSON.parse(canonicalJson(r.event))).not.toThrow();
      }),
      { numRuns: 400 },
    );
  });

  it('never loses a field the app wrote (unmapped fields all reach detail)', () => {
    const extra = fc.dictionary(
      fc.string({ minLength: 1, maxLength: 8 }).map((k) => 'x_' + k),
      fc.jsonValue({ maxDepth: 2 }),
      { maxKeys: 6 },
    );
    fc.assert(
      fc.property(extra, fc.constantFrom('flat', 'nested', 'string'), (fields, shape) => {
        const row = { ...RETOOL_ROW, ...fields };
        const text =
          shape === 'flat'
            ? line(row)
            : shape === 'nested'
              ? line({ level: 'info', ev: row })
              : line({ msg: line(row) });
        const e = audit(auto(rec(text), CTX));
        for (const [k, v] of Object.entries(fields))
          expect(e.detail[k]).toEqual(JSON.parse(line(v)));
      }),
      { numRuns: 200 },
    );
  });
});
