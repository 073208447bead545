import { describe, expect, it } from 'vitest';
import {
  compileCondition,
  type ConditionTrace,
  type RouteIssue,
} from '../../src/route/condition.js';
import { makeEvent, type EventOverrides } from './event-fixture.js';

function compile(raw: unknown) {
  const issues: RouteIssue[] = [];
  const c = compileCondition(raw, ['when'], issues);
  if (c === undefined) throw new Error(`unexpected issues: ${JSON.stringify(issues)}`);
  return c;
}

/** Does the condition hold for an event with these overrides? Also checks explain agrees. */
function holds(raw: unknown, o: EventOverrides = {}): boolean {
  const c = compile(raw);
  const e = makeEvent(o);
  const result = c.test(e);
  expect(c.explain(e).matched).toBe(result);
  return result;
}

function issuesOf(raw: unknown, options = {}): RouteIssue[] {
  const issues: RouteIssue[] = [];
  const c = compileCondition(raw, ['routes', 0, 'when'], issues, options);
  expect(c).toBeUndefined();
  expect(issues.length).toBeGreaterThan(0);
  return issues;
}

function explainText(raw: unknown, o: EventOverrides = {}): ConditionTrace {
  return compile(raw).explain(makeEvent(o));
}

describe('scalar matchers', () => {
  it('string equality is exact and case-sensitive', () => {
    expect(holds({ action: 'QUERY_RUN' })).toBe(true);
    expect(holds({ action: 'query_run' })).toBe(false);
    expect(holds({ action: 'QUERY_RUN ' })).toBe(false);
  });

  it('a string with *, ? or [ is a glob on the value', () => {
    expect(holds({ 'target.resource': 'prod-*' })).toBe(true);
    expect(holds({ 'target.resource': 'prod-*' }, { target: { resource: 'dev-postgres' } })).toBe(
      false,
    );
    expect(holds({ action: 'QUERY_?UN' })).toBe(true);
    expect(holds({ action: '[QP]UERY_RUN' })).toBe(true);
  });

  it('{ eq } forces a literal match even with glob characters', () => {
    expect(holds({ 'target.resource': { eq: 'prod-*' } })).toBe(false);
    expect(holds({ 'target.resource': { eq: 'prod-*' } }, { target: { resource: 'prod-*' } })).toBe(
      true,
    );
    expect(holds({ 'target.name': { eq: '[INFO]' } }, { target: { name: '[INFO]' } })).toBe(true);
    expect(holds({ 'target.name': { eq: '[INFO]' } }, { target: { name: 'I' } })).toBe(false);
    // …while the bare string is a class matching one character.
    expect(holds({ 'target.name': '[INFO]' }, { target: { name: 'I' } })).toBe(true);
  });

  it('numbers and numeric strings compare across types (YAML writes organization_id: 1 as a number)', () => {
    expect(holds({ organization_id: 1 })).toBe(true);
    expect(holds({ organization_id: '1' })).toBe(true);
    expect(holds({ organization_id: 2 })).toBe(false);
    expect(holds({ duration_ms: 87 })).toBe(true);
    expect(holds({ duration_ms: '87' })).toBe(true);
    expect(holds({ duration_ms: '87.0' })).toBe(false); // not the canonical form
    expect(holds({ duration_ms: 88 })).toBe(false);
    expect(holds({ 'detail.flag': true }, { detail: { flag: true } })).toBe(true);
    expect(holds({ 'detail.flag': true }, { detail: { flag: 'true' } })).toBe(false);
  });

  it('null matches null or missing values', () => {
    expect(holds({ 'target.id': null })).toBe(true);
    expect(holds({ 'detail.nope': null })).toBe(true);
    expect(holds({ 'target.name': null })).toBe(false);
  });

  it('globs and regexes see numbers in decimal form, never objects', () => {
    expect(holds({ duration_ms: '8*' })).toBe(true);
    expect(holds({ 'detail.m': '*' }, { detail: { m: { a: 1 } } })).toBe(false);
    expect(holds({ 'detail.m': { regex: 'object' } }, { detail: { m: { a: 1 } } })).toBe(false);
    expect(holds({ 'target.id': '*' })).toBe(false); // null is not a string
  });
});

describe('lists', () => {
  it('a list matches any of its values', () => {
    const c = { action: ['QUERY_RUN', 'PLAYGROUND_QUERY_RUN'] };
    expect(holds(c)).toBe(true);
    expect(holds(c, { action: 'PLAYGROUND_QUERY_RUN' })).toBe(true);
    expect(holds(c, { action: 'PAGE_VIEW' })).toBe(false);
  });

  it('list items may be globs, literals and matcher mappings', () => {
    const c = { action: ['USER_*', { regex: '^APP_(CREATE|DELETE)$' }, { eq: 'X*' }] };
    expect(holds(c, { action: 'USER_INVITED' })).toBe(true);
    expect(holds(c, { action: 'APP_DELETE' })).toBe(true);
    expect(holds(c, { action: 'APP_DELETED' })).toBe(false);
    expect(holds(c, { action: 'X*' })).toBe(true);
    expect(holds(c, { action: 'XY' })).toBe(false);
  });

  it('a list with null also matches missing values; numbers cross-match', () => {
    expect(holds({ 'detail.x': [null, 'a'] })).toBe(true);
    expect(holds({ organization_id: [1, 2] })).toBe(true);
    expect(holds({ duration_ms: ['87', '88'] })).toBe(true);
  });

  it('{ in } is a literal list', () => {
    expect(holds({ action: { in: ['QUERY_RUN', 'X'] } })).toBe(true);
    expect(holds({ 'target.resource': { in: ['prod-*'] } })).toBe(false);
    expect(holds({ 'target.resource': { in: ['prod-postgres'] } })).toBe(true);
  });

  it('value matchers on a list-valued field match any element', () => {
    expect(
      holds(
        { 'redacted.rules': 'credit_card' },
        { redacted: { rules: ['headers', 'credit_card'] } },
      ),
    ).toBe(true);
    expect(holds({ 'redacted.rules': 'cookie*' }, { redacted: { rules: ['headers'] } })).toBe(
      false,
    );
    expect(
      holds({ 'redacted.rules': { regex: '^head' } }, { redacted: { rules: ['headers'] } }),
    ).toBe(true);
    expect(holds({ 'detail.tags': ['pii', 'gdpr'] }, { detail: { tags: ['x', 'gdpr'] } })).toBe(
      true,
    );
    expect(holds({ 'redacted.rules': 'x' }, { redacted: { rules: [] } })).toBe(false);
    // exists looks at the field itself: an empty list exists.
    expect(holds({ 'redacted.rules': { exists: true } }, { redacted: { rules: [] } })).toBe(true);
  });
});

describe('regex', () => {
  it('is an unanchored RE2 search', () => {
    expect(holds({ 'target.resource': { regex: 'postgres' } })).toBe(true);
    expect(holds({ 'target.resource': { regex: '^postgres' } })).toBe(false);
    expect(holds({ 'target.resource': { regex: '^prod-(pg|postgres)$' } })).toBe(true);
    expect(holds({ 'actor.email': { regex: '(?i)@EXAMPLE\\.COM$' } })).toBe(true);
  });

  it('does not match missing or null values', () => {
    expect(holds({ 'actor.user_agent': { regex: '.*' } })).toBe(false);
    expect(holds({ 'detail.q': { regex: '' } })).toBe(false);
  });

  it('runs in linear time on long values', () => {
    // (a+)+b is the textbook catastrophic pattern for backtracking engines.
    expect(
      holds({ 'detail.q': { regex: '^(a+)+b$' } }, { detail: { q: 'a'.repeat(100_000) } }),
    ).toBe(false);
  });
});

describe('severity bounds', () => {
  it('gte / lte order info < warn < critical', () => {
    expect(holds({ severity: { gte: 'warn' } }, { severity: 'info' })).toBe(false);
    expect(holds({ severity: { gte: 'warn' } }, { severity: 'warn' })).toBe(true);
    expect(holds({ severity: { gte: 'warn' } }, { severity: 'critical' })).toBe(true);
    expect(holds({ severity: { lte: 'warn' } }, { severity: 'critical' })).toBe(false);
    expect(holds({ severity: { lte: 'warn' } }, { severity: 'info' })).toBe(true);
    expect(holds({ severity: { gte: 'warn', lte: 'warn' } }, { severity: 'warn' })).toBe(true);
    expect(holds({ severity: { gte: 'warn', lte: 'warn' } }, { severity: 'critical' })).toBe(false);
  });

  it('an unknown severity value passes no bound', () => {
    const bogus = { severity: 'debug' } as unknown as EventOverrides;
    expect(holds({ severity: { gte: 'info' } }, bogus)).toBe(false);
    expect(holds({ severity: { lte: 'critical' } }, bogus)).toBe(false);
  });

  it('severity equality and lists', () => {
    expect(holds({ severity: 'critical' }, { severity: 'critical' })).toBe(true);
    expect(holds({ severity: ['warn', 'critical'] }, { severity: 'info' })).toBe(false);
  });
});

describe('exists', () => {
  it('is true for present, non-null values', () => {
    expect(holds({ 'actor.email': { exists: true } })).toBe(true);
    expect(holds({ 'actor.user_agent': { exists: true } })).toBe(false); // null
    expect(holds({ 'actor.user_agent': { exists: false } })).toBe(true);
    expect(
      holds({ 'detail.metadata.x': { exists: true } }, { detail: { metadata: { x: 0 } } }),
    ).toBe(true);
    expect(holds({ 'detail.metadata.x': { exists: true } }, { detail: { metadata: {} } })).toBe(
      false,
    );
    expect(holds({ 'detail.metadata.x': { exists: false } }, { detail: {} })).toBe(true);
    expect(holds({ 'detail.s': { exists: true } }, { detail: { s: '' } })).toBe(true);
  });

  it('combines with other matcher keys (all must hold)', () => {
    expect(
      holds({ 'detail.q': { exists: true, regex: 'DROP' } }, { detail: { q: 'DROP TABLE x' } }),
    ).toBe(true);
    expect(
      holds({ 'detail.q': { exists: true, regex: 'DROP' } }, { detail: { q: 'SELECT 1' } }),
    ).toBe(false);
  });

  it('may be used on whole sub-objects', () => {
    expect(holds({ detail: { exists: true } })).toBe(true);
    expect(holds({ actor: { exists: false } })).toBe(false);
  });
});

describe('nested field paths and missing fields', () => {
  it('reads deep detail paths', () => {
    const o = { detail: { metadata: { request: { headers: { host: 'api.internal' } } } } };
    expect(holds({ 'detail.metadata.request.headers.host': '*.internal' }, o)).toBe(true);
    expect(holds({ 'detail.metadata.request.method': 'POST' }, o)).toBe(false);
    expect(holds({ 'detail.metadata.request.headers.host.x': { exists: true } }, o)).toBe(false);
  });

  it('missing fields never equal a value and do not crash on odd detail shapes', () => {
    for (const detail of [
      {},
      { metadata: null },
      { metadata: 'str' },
      { metadata: [1, 2] },
      { metadata: 5 },
    ]) {
      expect(holds({ 'detail.metadata.x': 'a' }, { detail })).toBe(false);
      expect(holds({ 'detail.metadata.x': { regex: 'a' } }, { detail })).toBe(false);
    }
  });
});

describe('combinators', () => {
  it('several keys in one mapping must all hold', () => {
    const c = { action: 'QUERY_RUN', 'target.resource': 'prod-*' };
    expect(holds(c)).toBe(true);
    expect(holds(c, { target: { resource: 'dev' } })).toBe(false);
    expect(holds(c, { action: 'PAGE_VIEW' })).toBe(false);
  });

  it('all, any, not', () => {
    expect(holds({ all: [{ action: 'QUERY_RUN' }, { product: 'retool' }] })).toBe(true);
    expect(holds({ all: [{ action: 'QUERY_RUN' }, { product: 'tooljet' }] })).toBe(false);
    expect(
      holds({ all: [{ action: 'QUERY_RUN' }, { product: 'retool' }, { severity: 'warn' }] }),
    ).toBe(false);
    expect(holds({ any: [{ action: 'X' }, { product: 'retool' }] })).toBe(true);
    expect(holds({ any: [{ action: 'X' }, { product: 'Y' }] })).toBe(false);
    expect(holds({ not: { action: 'QUERY_RUN' } })).toBe(false);
    expect(holds({ not: { action: 'PAGE_VIEW' } })).toBe(true);
  });

  it('nest arbitrarily and mix with fields', () => {
    const c = {
      product: 'retool',
      any: [
        { severity: { gte: 'warn' } },
        { all: [{ action: 'QUERY_RUN' }, { not: { 'target.resource': 'dev-*' } }] },
      ],
    };
    expect(holds(c)).toBe(true);
    expect(holds(c, { target: { resource: 'dev-pg' } })).toBe(false);
    expect(holds(c, { target: { resource: 'dev-pg' }, severity: 'critical' })).toBe(true);
    expect(holds(c, { product: 'tooljet', severity: 'critical' })).toBe(false);
  });
});

describe('compile-time errors, with their config paths', () => {
  it('invalid regex', () => {
    expect(issuesOf({ 'target.resource': { regex: '(prod' } })).toEqual([
      {
        path: ['routes', 0, 'when', 'target.resource', 'regex'],
        message: expect.stringMatching(/^invalid regex "\(prod": missing closing \)/),
      },
    ]);
    expect(issuesOf({ action: { regex: '(?<=a)b' } })[0]!.message).toMatch(
      /no backreferences or lookaround/,
    );
    expect(issuesOf({ action: { regex: 5 } })[0]!.message).toBe(
      'regex must be a string, not a number',
    );
  });

  it('gte/lte on a field other than severity, or an unknown severity', () => {
    expect(issuesOf({ duration_ms: { gte: 'warn' } })).toEqual([
      {
        path: ['routes', 0, 'when', 'duration_ms', 'gte'],
        message: expect.stringMatching(/only applies to the severity field, not duration_ms/),
      },
    ]);
    expect(issuesOf({ severity: { gte: 'warning' } })).toEqual([
      {
        path: ['routes', 0, 'when', 'severity', 'gte'],
        message:
          'unknown severity "warning" (did you mean "warn"?): use one of info, warn, critical',
      },
    ]);
    expect(issuesOf({ severity: { lte: 3 } })[0]!.path).toEqual([
      'routes',
      0,
      'when',
      'severity',
      'lte',
    ]);
  });

  it('unknown severity or outcome literals', () => {
    expect(issuesOf({ severity: 'high' })).toEqual([
      {
        path: ['routes', 0, 'when', 'severity'],
        message: 'unknown severity "high": severity is one of info, warn, critical',
      },
    ]);
    expect(issuesOf({ severity: ['warn', 'critcal'] })).toEqual([
      {
        path: ['routes', 0, 'when', 'severity', 1],
        message: expect.stringMatching(/unknown severity "critcal" \(did you mean "critical"\?\)/),
      },
    ]);
    expect(issuesOf({ outcome: { eq: 'failed' } })[0]!.path).toEqual([
      'routes',
      0,
      'when',
      'outcome',
      'eq',
    ]);
    expect(issuesOf({ severity: { in: ['info', 'bad'] } })[0]!.path).toEqual([
      'routes',
      0,
      'when',
      'severity',
      'in',
      1,
    ]);
  });

  it('unknown top-level field, with a suggestion', () => {
    expect(issuesOf({ actoin: 'X' })).toEqual([
      {
        path: ['routes', 0, 'when', 'actoin'],
        message: expect.stringMatching(/^unknown key "actoin" \(did you mean "action"\?\)/),
      },
    ]);
    expect(issuesOf({ 'user.email': 'x' })[0]!.message).toMatch(/unknown field "user"/);
    expect(issuesOf({ 'target.resouce': 'x' })[0]!.message).toMatch(
      /did you mean "target.resource"/,
    );
    expect(issuesOf({ 'severity.x': 'x' })[0]!.message).toMatch(/single value/);
  });

  it('combinator words from other languages get a hint', () => {
    expect(issuesOf({ or: [{ action: 'X' }] })[0]!.message).toMatch(
      /unknown key "or" \(did you mean "any"\?\)/,
    );
    expect(issuesOf({ and: [{ action: 'X' }] })[0]!.message).toMatch(/did you mean "all"/);
    expect(issuesOf({ nott: { action: 'X' } })[0]!.message).toMatch(/did you mean "not"/);
  });

  it('malformed conditions and matchers', () => {
    expect(issuesOf(null)[0]).toEqual({
      path: ['routes', 0, 'when'],
      message: expect.stringMatching(/a condition is a mapping/),
    });
    expect(issuesOf(['a'])[0]!.message).toMatch(/not a list/);
    expect(issuesOf({})[0]!.message).toMatch(/empty condition/);
    expect(issuesOf({ all: [] })[0]).toEqual({
      path: ['routes', 0, 'when', 'all'],
      message: expect.stringMatching(/non-empty list/),
    });
    expect(issuesOf({ any: { action: 'x' } })[0]!.message).toMatch(
      /any takes a non-empty list of conditions, not a mapping/,
    );
    expect(issuesOf({ not: 'x' })[0]!.path).toEqual(['routes', 0, 'when', 'not']);
    expect(issuesOf({ action: [] })[0]!.message).toMatch(/empty list matches nothing/);
    expect(issuesOf({ action: {} })[0]!.message).toMatch(/empty matcher/);
    expect(issuesOf({ action: { regexp: 'x' } })).toEqual([
      {
        path: ['routes', 0, 'when', 'action', 'regexp'],
        message: expect.stringMatching(/unknown matcher "regexp" \(did you mean "regex"\?\)/),
      },
    ]);
    expect(issuesOf({ action: { eq: ['a'] } })[0]!.message).toMatch(/eq takes a plain value/);
    expect(issuesOf({ action: { in: 'a' } })[0]!.message).toMatch(/in takes a non-empty list/);
    expect(issuesOf({ action: { in: [{ x: 1 }] } })[0]!.path).toEqual([
      'routes',
      0,
      'when',
      'action',
      'in',
      0,
    ]);
    expect(issuesOf({ action: { exists: 'yes' } })[0]!.message).toMatch(
      /exists takes true or false/,
    );
    expect(issuesOf({ action: [['nested']] })[0]!.path).toEqual(['routes', 0, 'when', 'action', 0]);
    expect(issuesOf({ duration_ms: Number.NaN })[0]!.message).toMatch(/needs a value/);
    expect(issuesOf({ action: '[unclosed' })[0]!.message).toMatch(/unclosed "\["/);
    expect(issuesOf({ actor: 'ana' })[0]!.message).toMatch(/actor is a mapping of fields/);
    expect(issuesOf({ detail: { regex: 'x' } })[0]!.message).toMatch(
      /detail is a mapping of fields/,
    );
  });

  it('reports every problem at once, each at its own path', () => {
    const issues = issuesOf({
      all: [
        { severity: { gte: 'bad' } },
        { any: [{ 'target.resource': { regex: '[' } }, { nope: 1 }] },
      ],
    });
    expect(issues.map((i) => i.path)).toEqual([
      ['routes', 0, 'when', 'all', 0, 'severity', 'gte'],
      ['routes', 0, 'when', 'all', 1, 'any', 0, 'target.resource', 'regex'],
      ['routes', 0, 'when', 'all', 1, 'any', 1, 'nope'],
    ]);
  });

  it('restricts fields when asked (non_audit routes see only source)', () => {
    const opts = { allowedRoots: ['source'], allowedRootsReason: 'only source here' };
    expect(issuesOf({ action: 'X' }, opts)).toEqual([
      {
        path: ['routes', 0, 'when', 'action'],
        message: 'field "action" cannot be used here: only source here',
      },
    ]);
    const issues: RouteIssue[] = [];
    expect(compileCondition({ 'source.name': 'retool' }, [], issues, opts)).toBeDefined();
    expect(issues).toEqual([]);
  });
});

describe('explain traces', () => {
  it('says why a field matched or not', () => {
    expect(
      explainText({ 'target.resource': 'prod-*' }, { target: { resource: 'prod-pg' } }),
    ).toEqual({
      matched: true,
      text: 'target.resource "prod-pg" matches glob "prod-*"',
    });
    expect(
      explainText({ 'target.resource': 'prod-*' }, { target: { resource: 'dev-pg' } }).text,
    ).toBe('target.resource "dev-pg" does not match glob "prod-*"');
    expect(explainText({ severity: { gte: 'warn' } }).text).toBe('severity info < warn');
    expect(explainText({ severity: { gte: 'warn' } }, { severity: 'critical' }).text).toBe(
      'severity critical >= warn',
    );
    expect(explainText({ severity: { lte: 'warn' } }, { severity: 'critical' }).text).toBe(
      'severity critical > warn',
    );
    expect(explainText({ action: 'QUERY_RUN' }).text).toBe('action "QUERY_RUN" equals "QUERY_RUN"');
    expect(explainText({ action: 'PAGE_VIEW' }).text).toBe(
      'action "QUERY_RUN" does not equal "PAGE_VIEW"',
    );
    expect(explainText({ action: ['A', 'B'] }).text).toBe(
      'action "QUERY_RUN" is not one of ["A","B"]',
    );
    expect(explainText({ action: ['A*', 'Q*'] }).text).toBe(
      'action "QUERY_RUN" matches one of ["A*","Q*"]',
    );
    expect(explainText({ action: { regex: '^Q' } }).text).toBe(
      'action "QUERY_RUN" matches regex /^Q/',
    );
    expect(explainText({ 'actor.user_agent': { exists: true } })).toEqual({
      matched: false,
      text: 'actor.user_agent null does not exist',
    });
    expect(explainText({ 'detail.x': { exists: false } })).toEqual({
      matched: true,
      text: 'detail.x (missing) does not exist',
    });
    expect(explainText({ 'target.id': null }).text).toBe('target.id null is null or missing');
    expect(
      explainText({ 'redacted.rules': 'cookie' }, { redacted: { rules: ['headers'] } }).text,
    ).toBe('redacted.rules ["headers"] has no element that equals "cookie"');
    expect(
      explainText({ severity: { gte: 'info', lte: 'warn' } }, { severity: 'critical' }),
    ).toEqual({
      matched: false,
      text: 'severity critical >= info and > warn',
    });
  });

  it('shows combinators as trees', () => {
    const t = explainText({
      action: 'QUERY_RUN',
      not: { any: [{ product: 'retool' }, { product: 'tooljet' }] },
    });
    expect(t).toEqual({
      matched: false,
      text: 'all of',
      children: [
        { matched: true, text: 'action "QUERY_RUN" equals "QUERY_RUN"' },
        {
          matched: false,
          text: 'not',
          children: [
            {
              matched: true,
              text: 'any of',
              children: [
                { matched: true, text: 'product "retool" equals "retool"' },
                { matched: false, text: 'product "retool" does not equal "tooljet"' },
              ],
            },
          ],
        },
      ],
    });
  });

  it('cuts long values', () => {
    const t = explainText({ 'detail.q': 'x' }, { detail: { q: 'y'.repeat(10_000) } });
    expect(t.text.length).toBeLessThan(200);
    expect(t.text).toContain('…');
  });
});
