import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { AuditEvent } from '../../src/event/types.js';
import {
  compileRoutes,
  formatExplanation,
  type CompileRoutesInput,
  type Route,
  type Router,
} from '../../src/route/index.js';
import { makeEvent, type EventOverrides } from './event-fixture.js';

const SINKS = ['archive', 'datadog', 'splunk', 'siem'];

function router(routes: Route[], routes_default?: string[], sinks = SINKS): Router {
  const r = compileRoutes({ routes, routes_default, sinks });
  if (!r.ok) throw new Error(`unexpected errors: ${JSON.stringify(r.errors)}`);
  return r.router;
}

function errorsOf(input: Partial<CompileRoutesInput>) {
  const r = compileRoutes({ routes: [], sinks: SINKS, ...input });
  if (r.ok) throw new Error('expected errors');
  return r.errors;
}

function warningsOf(input: Partial<CompileRoutesInput>) {
  const r = compileRoutes({ routes: [], sinks: SINKS, ...input });
  if (!r.ok) throw new Error(`unexpected errors: ${JSON.stringify(r.errors)}`);
  return r.warnings;
}

const ev = (o: EventOverrides = {}): AuditEvent => makeEvent(o);

/** The DESIGN.md routing example. */
const designExample = parseYaml(`
- name: security-events
  when: { severity: { gte: warn } }
  to: [splunk, archive]
- name: prod-queries
  when:
    action: [QUERY_RUN, PLAYGROUND_QUERY_RUN]
    target.resource: "prod-*"
  to: [datadog]
  final: true
- name: everything
  to: [archive]
`) as Route[];

describe('Router.route', () => {
  const r = router(designExample);

  it('follows the DESIGN.md example', () => {
    expect(r.route(ev({ severity: 'critical' }))).toEqual({
      sinks: ['splunk', 'archive', 'datadog'],
      matched: ['security-events', 'prod-queries'],
      unrouted: false,
    });
    expect(r.route(ev())).toEqual({
      sinks: ['datadog'],
      matched: ['prod-queries'],
      unrouted: false,
    });
    expect(r.route(ev({ target: { resource: 'dev-pg' } }))).toEqual({
      sinks: ['archive'],
      matched: ['everything'],
      unrouted: false,
    });
    expect(r.route(ev({ severity: 'warn', action: 'USER_INVITED' }))).toEqual({
      sinks: ['splunk', 'archive'],
      matched: ['security-events', 'everything'],
      unrouted: false,
    });
  });

  it('adds the sinks of every matching route, unique, in first-seen order', () => {
    const rr = router([
      { name: 'a', to: ['splunk', 'archive'] },
      { name: 'b', to: ['archive', 'datadog', 'splunk'] },
      { name: 'c', when: { action: 'nope' }, to: ['siem'] },
      { name: 'd', to: ['siem', 'siem'] },
    ]);
    expect(rr.route(ev())).toEqual({
      sinks: ['splunk', 'archive', 'datadog', 'siem'],
      matched: ['a', 'b', 'd'],
      unrouted: false,
    });
  });

  it('evaluates in order and stops at the first matching final route only', () => {
    const rr = router([
      { name: 'first', when: { action: 'X' }, to: ['siem'], final: true }, // final but not matching: no stop
      { name: 'second', to: ['archive'], final: true },
      { name: 'third', to: ['datadog'] },
    ]);
    expect(rr.route(ev())).toEqual({ sinks: ['archive'], matched: ['second'], unrouted: false });
    expect(rr.route(ev({ action: 'X' }))).toEqual({
      sinks: ['siem'],
      matched: ['first'],
      unrouted: false,
    });
  });

  it('treats min_severity as an extra condition', () => {
    const rr = router([
      { name: 'loud', min_severity: 'warn', to: ['splunk'] },
      {
        name: 'prod-loud',
        when: { 'target.resource': 'prod-*' },
        min_severity: 'critical',
        to: ['siem'],
      },
    ]);
    expect(rr.route(ev({ severity: 'info' })).matched).toEqual([]);
    expect(rr.route(ev({ severity: 'warn' })).matched).toEqual(['loud']);
    expect(rr.route(ev({ severity: 'critical' })).matched).toEqual(['loud', 'prod-loud']);
    expect(rr.route(ev({ severity: 'critical', target: { resource: 'dev' } })).matched).toEqual([
      'loud',
    ]);
  });

  it('uses routes_default when no route matched', () => {
    const rr = router(
      [{ name: 'q', when: { action: 'QUERY_RUN' }, to: ['datadog'] }],
      ['archive', 'siem'],
    );
    expect(rr.route(ev({ action: 'PAGE_VIEW' }))).toEqual({
      sinks: ['archive', 'siem'],
      matched: [],
      unrouted: false,
    });
    expect(rr.route(ev())).toEqual({ sinks: ['datadog'], matched: ['q'], unrouted: false });
  });

  it('marks events unrouted when nothing matched and there is no default', () => {
    const rr = router([{ name: 'q', when: { action: 'QUERY_RUN' }, to: ['datadog'] }]);
    expect(rr.route(ev({ action: 'PAGE_VIEW' }))).toEqual({
      sinks: [],
      matched: [],
      unrouted: true,
    });
    expect(router([], []).route(ev())).toEqual({ sinks: [], matched: [], unrouted: true });
  });

  it('returns fresh arrays: a caller mutating a result cannot change later routing', () => {
    const rr = router([{ name: 'q', when: { action: 'X' }, to: ['datadog'] }], ['archive']);
    const first = rr.route(ev());
    first.sinks.push('siem');
    expect(rr.route(ev()).sinks).toEqual(['archive']);
    const second = rr.route(ev({ action: 'X' }));
    second.sinks.length = 0;
    expect(rr.route(ev({ action: 'X' })).sinks).toEqual(['datadog']);
  });

  it('does not throw on malformed events', () => {
    const rr = router(
      [
        {
          name: 'a',
          when: { 'target.resource': 'prod-*', 'detail.a.b': { exists: true } },
          to: ['siem'],
        },
        { name: 'b', min_severity: 'warn', to: ['splunk'] },
      ],
      ['archive'],
    );
    const broken = { ...ev(), target: null, detail: null, severity: 42 } as unknown as AuditEvent;
    expect(rr.route(broken)).toEqual({ sinks: ['archive'], matched: [], unrouted: false });
    expect(rr.explain(broken).sinks).toEqual(['archive']);
  });

  it('handles many routes and huge field values', () => {
    const routes: Route[] = Array.from({ length: 500 }, (_, i) => ({
      name: `r${i}`,
      when: { 'detail.n': i },
      to: [SINKS[i % 4]!],
    }));
    const rr = router(routes);
    expect(rr.route(ev({ detail: { n: 499 } }))).toEqual({
      sinks: ['siem'],
      matched: ['r499'],
      unrouted: false,
    });
    const big = router([{ name: 'q', when: { 'detail.q': '*DROP TABLE*' }, to: ['siem'] }]);
    expect(
      big.route(ev({ detail: { q: `${'x'.repeat(1_000_000)}DROP TABLE users` } })).matched,
    ).toEqual(['q']);
  });
});

describe('non_audit routes', () => {
  const rr = router(
    [
      { name: 'audit', to: ['archive'] },
      { name: 'retool-noise', non_audit: true, when: { 'source.name': 'retool' }, to: ['siem'] },
      { name: 'all-noise', non_audit: true, to: ['datadog'] },
    ],
    ['splunk'],
  );
  const record = (name: string) => ({ source: { name, host: 'h', file: null, offset: null } });

  it('apply only to lines that are not audit events', () => {
    expect(rr.hasNonAuditRoutes).toBe(true);
    expect(rr.route(ev())).toEqual({ sinks: ['archive'], matched: ['audit'], unrouted: false });
    expect(rr.routeNonAudit(record('retool'))).toEqual({
      sinks: ['siem', 'datadog'],
      matched: ['retool-noise', 'all-noise'],
      unrouted: false,
    });
    expect(rr.routeNonAudit(record('pipe'))).toEqual({
      sinks: ['datadog'],
      matched: ['all-noise'],
      unrouted: false,
    });
  });

  it('do not use routes_default: unmatched non-audit lines are unrouted', () => {
    const only = router(
      [{ name: 'n', non_audit: true, when: { 'source.name': 'x' }, to: ['siem'] }],
      ['archive'],
    );
    expect(only.routeNonAudit(record('y'))).toEqual({ sinks: [], matched: [], unrouted: true });
    expect(only.route(ev())).toEqual({ sinks: ['archive'], matched: [], unrouted: false });
    expect(router([{ name: 'a', to: ['archive'] }]).hasNonAuditRoutes).toBe(false);
    expect(router([{ name: 'a', to: ['archive'] }]).routeNonAudit(record('y')).unrouted).toBe(true);
  });

  it('explain covers them too', () => {
    const x = rr.explainNonAudit(record('pipe'));
    expect(x.kind).toBe('non_audit');
    expect(x.routes.map((r) => [r.name, r.status])).toEqual([
      ['retool-noise', 'not_matched'],
      ['all-noise', 'matched'],
    ]);
    expect(x.routes[0]!.conditions[0]!.text).toBe('source.name "pipe" does not equal "retool"');
  });
});

describe('compileRoutes errors (with config paths)', () => {
  it('unknown sink names, with the closest name', () => {
    expect(
      errorsOf({ routes: [{ name: 'a', to: ['archive', 'splnk'] }], routes_default: ['datdog'] }),
    ).toEqual([
      {
        path: ['routes', 0, 'to', 1],
        message:
          'unknown sink "splnk" (did you mean "splunk"?): defined sinks are archive, datadog, splunk, siem',
      },
      {
        path: ['routes_default', 0],
        message:
          'unknown sink "datdog" (did you mean "datadog"?): defined sinks are archive, datadog, splunk, siem',
      },
    ]);
    expect(errorsOf({ routes: [{ name: 'a', to: ['kafka'] }] })[0]!.message).toBe(
      'unknown sink "kafka": defined sinks are archive, datadog, splunk, siem',
    );
    expect(errorsOf({ routes: [{ name: 'a', to: ['x'] }], sinks: [] })[0]!.message).toBe(
      'unknown sink "x": no sinks are defined',
    );
  });

  it('invalid regex', () => {
    expect(
      errorsOf({
        routes: [
          { name: 'a', to: ['archive'] },
          { name: 'b', to: ['archive'] },
          { name: 'c', when: { 'target.resource': { regex: 'prod-(' } }, to: ['siem'] },
        ],
      }),
    ).toEqual([
      {
        path: ['routes', 2, 'when', 'target.resource', 'regex'],
        message: expect.stringMatching(/^invalid regex "prod-\(": missing closing \)/),
      },
    ]);
  });

  it('gte/lte outside severity, and unknown severities', () => {
    expect(
      errorsOf({ routes: [{ name: 'a', when: { action: { gte: 'warn' } }, to: ['siem'] }] })[0]!
        .path,
    ).toEqual(['routes', 0, 'when', 'action', 'gte']);
    expect(
      errorsOf({ routes: [{ name: 'a', when: { severity: { lte: 'error' } }, to: ['siem'] }] })[0],
    ).toEqual({
      path: ['routes', 0, 'when', 'severity', 'lte'],
      message: 'unknown severity "error": use one of info, warn, critical',
    });
  });

  it('unknown field paths', () => {
    expect(
      errorsOf({ routes: [{ name: 'a', when: { resource: 'prod-*' }, to: ['siem'] }] })[0],
    ).toEqual({
      path: ['routes', 0, 'when', 'resource'],
      message: expect.stringMatching(/^unknown key "resource"/),
    });
    expect(
      errorsOf({ routes: [{ name: 'a', when: { 'target.resourc': 'x' }, to: ['siem'] }] })[0]!
        .message,
    ).toMatch(/did you mean "target.resource"/);
  });

  it('duplicate route names', () => {
    expect(
      errorsOf({
        routes: [
          { name: 'a', to: ['siem'] },
          { name: 'a', to: ['archive'] },
        ],
      }),
    ).toEqual([
      { path: ['routes', 1, 'name'], message: expect.stringMatching(/^duplicate route name "a"/) },
    ]);
  });

  it('unknown route keys point at the key', () => {
    expect(
      errorsOf({ routes: [{ name: 'a', to: ['siem'], finale: true } as unknown as Route] }),
    ).toEqual([
      {
        path: ['routes', 0, 'finale'],
        message: expect.stringMatching(/unknown route key "finale" \(did you mean "final"\?\)/),
      },
    ]);
  });

  it('reports schema and sink errors together', () => {
    const errors = errorsOf({
      routes: [
        { name: 'a', when: { severity: { gte: 'hi' } }, to: ['splnk'] },
        { name: 'b', to: ['nope'] },
      ],
      routes_default: ['zzz'],
    });
    expect(errors.map((e) => e.path)).toEqual([
      ['routes', 0, 'when', 'severity', 'gte'],
      ['routes', 0, 'to', 0],
      ['routes', 1, 'to', 0],
      ['routes_default', 0],
    ]);
  });

  it('rejects garbage input without throwing', () => {
    for (const routes of [null, 'x', 5, { a: 1 }, [null], [5], [[]], [{}]]) {
      const r = compileRoutes({ routes: routes as unknown as Route[], sinks: SINKS });
      expect(r.ok).toBe(false);
      if (!r.ok) for (const e of r.errors) expect(e.path[0]).toBe('routes');
    }
    const r = compileRoutes({
      routes: [],
      routes_default: [5] as unknown as string[],
      sinks: SINKS,
    });
    expect(r.ok).toBe(false);
  });
});

describe('compileRoutes warnings', () => {
  it('sinks no route and no default uses', () => {
    expect(
      warningsOf({
        routes: [{ name: 'a', when: { action: 'X' }, to: ['archive'] }],
        routes_default: ['datadog'],
      }),
    ).toEqual([
      {
        path: ['sinks', 'splunk'],
        message:
          'sink "splunk" is not used by any route or routes_default: it will receive no events',
      },
      {
        path: ['sinks', 'siem'],
        message:
          'sink "siem" is not used by any route or routes_default: it will receive no events',
      },
    ]);
    expect(warningsOf({ routes: [{ name: 'a', to: SINKS }] })).toEqual([]);
    // A sink used only by a non_audit route is used.
    expect(
      warningsOf({
        routes: [
          { name: 'a', to: ['archive', 'datadog', 'splunk'] },
          { name: 'n', non_audit: true, to: ['siem'] },
        ],
      }),
    ).toEqual([]);
  });

  it('a sink listed twice', () => {
    expect(
      warningsOf({
        routes: [{ name: 'a', to: ['archive', 'datadog', 'splunk', 'siem', 'archive'] }],
      }),
    ).toEqual([{ path: ['routes', 0, 'to', 4], message: 'sink "archive" is listed twice' }]);
  });

  it('routes after a final route that matches everything', () => {
    expect(
      warningsOf({
        routes: [
          { name: 'all', to: SINKS, final: true },
          { name: 'late', to: ['archive'] },
          { name: 'n', non_audit: true, to: ['siem'] }, // a separate list: still reachable
        ],
      }),
    ).toEqual([
      {
        path: ['routes', 1],
        message:
          'route "late" is never evaluated: route "all" (routes[0]) matches every event and is final',
      },
    ]);
    // min_severity or when make a route conditional: no warning.
    expect(
      warningsOf({
        routes: [
          { name: 'x', to: SINKS, final: true, min_severity: 'warn' },
          { name: 'y', to: ['archive'] },
        ],
      }),
    ).toEqual([]);
  });

  it('a default that can never apply', () => {
    expect(
      warningsOf({ routes: [{ name: 'all', to: SINKS }], routes_default: ['archive'] }),
    ).toEqual([
      {
        path: ['routes_default'],
        message: 'routes_default never applies: route "all" (routes[0]) matches every event',
      },
    ]);
  });

  it('no routes and no default', () => {
    expect(warningsOf({ routes: [], sinks: [] })).toEqual([
      {
        path: ['routes'],
        message:
          'no routes and no routes_default: every audit event is counted as unrouted and delivered nowhere',
      },
    ]);
  });
});

describe('Router.explain', () => {
  const r = router(
    [...designExample, { name: 'loud', min_severity: 'critical', to: ['siem'] }],
    undefined,
  );

  it('says per route whether it matched and why, then the sinks', () => {
    const x = r.explain(ev({ target: { resource: 'dev-pg' } }));
    expect(x).toEqual({
      kind: 'audit',
      routes: [
        {
          name: 'security-events',
          status: 'not_matched',
          final: false,
          to: ['splunk', 'archive'],
          conditions: [{ matched: false, text: 'severity info < warn' }],
        },
        {
          name: 'prod-queries',
          status: 'not_matched',
          final: true,
          to: ['datadog'],
          conditions: [
            {
              matched: false,
              text: 'all of',
              children: [
                {
                  matched: true,
                  text: 'action "QUERY_RUN" is one of ["QUERY_RUN","PLAYGROUND_QUERY_RUN"]',
                },
                { matched: false, text: 'target.resource "dev-pg" does not match glob "prod-*"' },
              ],
            },
          ],
        },
        { name: 'everything', status: 'matched', final: false, to: ['archive'], conditions: [] },
        {
          name: 'loud',
          status: 'not_matched',
          final: false,
          to: ['siem'],
          conditions: [{ matched: false, text: 'min_severity: severity info < critical' }],
        },
      ],
      matched: ['everything'],
      sinks: ['archive'],
      defaultApplied: false,
      unrouted: false,
      stoppedBy: null,
    });
  });

  it('marks routes after a matching final route as skipped', () => {
    const x = r.explain(ev({ severity: 'critical' }));
    expect(x.routes.map((e) => e.status)).toEqual(['matched', 'matched', 'skipped', 'skipped']);
    expect(x.stoppedBy).toBe('prod-queries');
    expect(x.sinks).toEqual(['splunk', 'archive', 'datadog']);
    expect(x.routes[0]!.conditions).toEqual([{ matched: true, text: 'severity critical >= warn' }]);
  });

  it('reports the default and unrouted cases', () => {
    const withDefault = router(
      [{ name: 'q', when: { action: 'X' }, to: ['siem'] }],
      ['archive'],
    ).explain(ev());
    expect(withDefault).toMatchObject({
      matched: [],
      sinks: ['archive'],
      defaultApplied: true,
      unrouted: false,
    });
    const none = router([{ name: 'q', when: { action: 'X' }, to: ['siem'] }]).explain(ev());
    expect(none).toMatchObject({ matched: [], sinks: [], defaultApplied: false, unrouted: true });
    expect(formatExplanation(none)).toContain(
      'no route matched and routes_default is not set: unrouted',
    );
  });

  it('renders as text', () => {
    expect(formatExplanation(r.explain(ev({ target: { resource: 'dev-pg' } })))).toBe(
      [
        'route "security-events": not matched',
        '  ✗ severity info < warn',
        'route "prod-queries": not matched',
        '  ✗ all of:',
        '    ✓ action "QUERY_RUN" is one of ["QUERY_RUN","PLAYGROUND_QUERY_RUN"]',
        '    ✗ target.resource "dev-pg" does not match glob "prod-*"',
        'route "everything": matched → archive (no conditions: matches every event)',
        'route "loud": not matched',
        '  ✗ min_severity: severity info < critical',
        'sinks: archive',
      ].join('\n'),
    );
  });

  it('always agrees with route() (random configs and events)', () => {
    const sink = fc.constantFrom(...SINKS);
    const leaf = fc.oneof(
      fc.record({
        severity: fc.oneof(
          fc.constantFrom('info', 'warn', 'critical'),
          fc.record({ gte: fc.constantFrom('info', 'warn', 'critical') }),
        ),
      }),
      fc.record({ action: fc.oneof(fc.constantFrom('A', 'B', 'A*'), fc.constant(['A', 'C'])) }),
      fc.record({ 'target.resource': fc.constantFrom('prod-*', 'dev', '*-pg', '[pd]*') }),
      fc.record({
        'detail.x': fc.oneof(
          fc.record({ exists: fc.boolean() }),
          fc.record({ regex: fc.constantFrom('^1', 'a|b') }),
          fc.constant(null),
        ),
      }),
    );
    const cond = fc.letrec<{ c: unknown }>((tie) => ({
      c: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.record({ all: fc.array(tie('c'), { minLength: 1, maxLength: 3 }) }),
        fc.record({ any: fc.array(tie('c'), { minLength: 1, maxLength: 3 }) }),
        fc.record({ not: tie('c') }),
      ),
    })).c;
    const route = fc.record(
      {
        when: cond,
        to: fc.uniqueArray(sink, { minLength: 1, maxLength: 3 }),
        final: fc.boolean(),
        min_severity: fc.constantFrom('info', 'warn', 'critical'),
      },
      { requiredKeys: ['to'] },
    );
    const event = fc.record({
      severity: fc.constantFrom('info', 'warn', 'critical'),
      action: fc.constantFrom('A', 'B', 'C', 'AB'),
      resource: fc.constantFrom('prod-pg', 'dev', 'dev-pg', 'x'),
      x: fc.oneof(fc.constant(undefined), fc.constantFrom('1a', 'b', 'c')),
    });
    fc.assert(
      fc.property(
        fc.array(route, { maxLength: 5 }),
        fc.option(fc.uniqueArray(sink, { maxLength: 2 })),
        fc.array(event, { minLength: 1, maxLength: 5 }),
        (routes, def, events) => {
          const named = routes.map((r, i) => ({ ...r, name: `r${i}` })) as Route[];
          const rr = router(named, def ?? undefined);
          for (const e of events) {
            const evt = ev({
              severity: e.severity,
              action: e.action,
              target: { resource: e.resource },
              detail: e.x === undefined ? {} : { x: e.x },
            });
            const got = rr.route(evt);
            const x = rr.explain(evt);
            expect({ sinks: x.sinks, matched: x.matched, unrouted: x.unrouted }).toEqual(got);
            expect(x.routes.filter((r) => r.status === 'matched').map((r) => r.name)).toEqual(
              got.matched,
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
