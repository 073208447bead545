import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  conditionSchema,
  routeSchema,
  routesDefaultSchema,
  routesSchema,
} from '../../src/route/config.js';

/** Compose the way the top-level config does, so paths are checked as the loader sees them. */
const top = z.strictObject({
  routes: routesSchema.prefault([]),
  routes_default: routesDefaultSchema.optional(),
});

function issues(input: unknown) {
  const r = top.safeParse(input);
  expect(r.success).toBe(false);
  return r.error!.issues.map((i) => ({ path: i.path, message: i.message }));
}

describe('routeSchema', () => {
  it('applies defaults and keeps conditions as plain data', () => {
    const r = routeSchema.parse({ name: 'a', to: ['x'], when: { severity: { gte: 'warn' } } });
    expect(r).toEqual({
      name: 'a',
      to: ['x'],
      final: false,
      non_audit: false,
      when: { severity: { gte: 'warn' } },
    });
  });

  it('rejects unknown keys with a suggestion', () => {
    expect(issues({ routes: [{ name: 'a', to: ['x'], whn: { action: 'X' } }] })).toEqual([
      {
        path: ['routes', 0],
        message:
          'unknown route key "whn" (did you mean "when"?): a route has name, when, to, final, min_severity, non_audit',
      },
    ]);
  });

  it('explains what to, name and min_severity must be', () => {
    expect(issues({ routes: [{ name: 'a', to: 'splunk' }] })).toEqual([
      { path: ['routes', 0, 'to'], message: 'to is a list of sink names, e.g. [archive, splunk]' },
    ]);
    expect(issues({ routes: [{ name: 'a', to: [] }] })[0]!.message).toBe(
      'to needs at least one sink name',
    );
    expect(issues({ routes: [{ name: 'a', to: [''] }] })[0]!.path).toEqual(['routes', 0, 'to', 0]);
    expect(issues({ routes: [{ to: ['x'] }] })[0]).toEqual({
      path: ['routes', 0, 'name'],
      message: expect.stringMatching(/name is required/),
    });
    expect(issues({ routes: [{ name: 'a\nb', to: ['x'] }] })[0]!.message).toMatch(
      /control characters/,
    );
    expect(issues({ routes: [{ name: 'a', to: ['x'], min_severity: 'high' }] })[0]).toEqual({
      path: ['routes', 0, 'min_severity'],
      message: 'min_severity is one of info, warn, critical',
    });
    expect(issues({ routes: [{ name: 'a', to: ['x'], final: 'yes' }] })[0]!.path).toEqual([
      'routes',
      0,
      'final',
    ]);
  });

  it('reports condition errors at their path inside the config', () => {
    expect(
      issues({
        routes: [
          { name: 'a', to: ['x'] },
          { name: 'b', to: ['x'], when: { 'target.resource': { regex: '(' } } },
        ],
      }),
    ).toEqual([
      {
        path: ['routes', 1, 'when', 'target.resource', 'regex'],
        message: expect.stringMatching(/^invalid regex/),
      },
    ]);
  });

  it('restricts non_audit routes to source fields and forbids min_severity there', () => {
    expect(
      routeSchema.safeParse({
        name: 'n',
        to: ['x'],
        non_audit: true,
        when: { 'source.name': 'retool' },
      }).success,
    ).toBe(true);
    expect(
      issues({
        routes: [
          {
            name: 'n',
            to: ['x'],
            non_audit: true,
            when: { any: [{ 'source.name': 'a' }, { action: 'X' }] },
          },
        ],
      }),
    ).toEqual([
      {
        path: ['routes', 0, 'when', 'any', 1, 'action'],
        message: expect.stringMatching(
          /cannot be used here: a non_audit route sees lines that are not audit events/,
        ),
      },
    ]);
    expect(
      issues({ routes: [{ name: 'n', to: ['x'], non_audit: true, min_severity: 'warn' }] }),
    ).toEqual([
      {
        path: ['routes', 0, 'min_severity'],
        message: expect.stringMatching(/does not apply to a non_audit route/),
      },
    ]);
  });

  it('reports a broken non_audit condition once', () => {
    const found = issues({
      routes: [{ name: 'n', to: ['x'], non_audit: true, when: { 'source.name': { regex: '(' } } }],
    });
    expect(found).toHaveLength(1);
    expect(found[0]!.path).toEqual(['routes', 0, 'when', 'source.name', 'regex']);
  });
});

describe('routesSchema', () => {
  it('defaults to an empty list and rejects a non-list', () => {
    expect(top.parse({})).toEqual({ routes: [] });
    expect(issues({ routes: { name: 'a' } })[0]!.message).toMatch(/routes is a list of routes/);
  });

  it('rejects duplicate route names at the second occurrence', () => {
    expect(
      issues({
        routes: [
          { name: 'a', to: ['x'] },
          { name: 'b', to: ['x'] },
          { name: 'a', to: ['y'] },
        ],
      }),
    ).toEqual([
      {
        path: ['routes', 2, 'name'],
        message: expect.stringMatching(/^duplicate route name "a": routes\[0\] already uses it/),
      },
    ]);
  });
});

describe('routesDefaultSchema', () => {
  it('is a list of sink names', () => {
    expect(routesDefaultSchema.parse(['archive'])).toEqual(['archive']);
    expect(issues({ routes_default: 'archive' })[0]).toEqual({
      path: ['routes_default'],
      message: 'routes_default is a list of sink names, e.g. [archive]',
    });
  });
});

describe('conditionSchema', () => {
  it('passes valid conditions through unchanged', () => {
    const c = { all: [{ action: ['A', 'B*'] }, { not: { 'detail.x': { exists: true } } }] };
    expect(conditionSchema.parse(c)).toEqual(c);
  });

  it('parses the DESIGN.md routing example from YAML', () => {
    const doc = parseYaml(`
routes:
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
routes_default: [archive]
`) as unknown;
    const parsed = top.parse(doc);
    expect(parsed.routes.map((r) => [r.name, r.final])).toEqual([
      ['security-events', false],
      ['prod-queries', true],
      ['everything', false],
    ]);
  });
});
