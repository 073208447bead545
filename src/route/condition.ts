/**
 * Routing conditions: validated and compiled once per config into closures.
 *
 * A condition is a mapping. Its keys are combinators (`all: [..]`, `any: [..]`, `not: {..}`)
 * or AuditEvent field paths (`severity`, `target.resource`, `detail.metadata.x`) mapped to
 * a matcher; several keys in one mapping must all hold. A matcher is
 *   - a scalar: equality; a string containing `*`, `?` or `[` is a glob (see glob.ts),
 *   - a list: any of its items (scalars or matcher mappings),
 *   - a mapping of `eq` (literal, never a glob), `in` (literal list), `regex` (RE2 syntax,
 *     unanchored search), `gte` / `lte` (severity only), `exists` (present and not null);
 *     several keys must all hold.
 * Value matchers on a list-valued field (`redacted.rules`, arrays in `detail`) hold when any
 * element matches; `exists` looks at the field itself.
 *
 * One walker both validates and compiles, so the zod schema (which reports errors at parse
 * time) and compileRoutes can never disagree about what is valid. Every issue carries the
 * path into the config (`['routes', 2, 'when', 'target.resource', 'regex']`) so the loader
 * can point at file:line:col.
 */
import { RE2JS } from 're2js';
import { SEVERITIES, type Severity } from '../event/types.js';
import {
  AUDIT_FIELD_NAMES,
  makeGetter,
  resolveFieldPath,
  type FieldGetter,
  type FieldKind,
} from './fields.js';
import { compileGlob, isGlob } from './glob.js';
import { closest, didYouMean } from './suggest.js';

export type Scalar = string | number | boolean | null;

export interface MatcherObject {
  /** Literal equality; a string is never treated as a glob here. */
  eq?: Scalar;
  /** Any of these literal values. */
  in?: Scalar[];
  /** RE2 syntax, unanchored (`^…$` to anchor); linear time in the value's length. */
  regex?: string;
  /** Severity at least this (info < warn < critical). Only on `severity`. */
  gte?: Severity;
  /** Severity at most this. Only on `severity`. */
  lte?: Severity;
  /** The field is present and not null (true), or missing or null (false). */
  exists?: boolean;
}

export type MatcherListItem = Scalar | MatcherObject;
export type Matcher = Scalar | MatcherObject | MatcherListItem[];

export interface Condition {
  all?: Condition[];
  any?: Condition[];
  not?: Condition;
  /** Any other key is an AuditEvent field path. */
  [fieldPath: string]: Matcher | Condition | Condition[] | undefined;
}

export type ConfigPath = (string | number)[];

export interface RouteIssue {
  /** Where in the config the problem is, e.g. ['routes', 2, 'when', 'target.resource', 'regex']. */
  path: ConfigPath;
  message: string;
}

/** Why a condition held or not, for `auditshipper route --explain`. */
export interface ConditionTrace {
  matched: boolean;
  /** e.g. `target.resource "prod-pg" matches glob "prod-*"`, `severity info < warn`, `all of`. */
  text: string;
  children?: ConditionTrace[];
}

/** Route subjects are AuditEvents, or `{ source }` for lines that are not audit events. */
export type Predicate = (subject: object) => boolean;

export interface CompiledCondition {
  /** Hot path: no allocation. */
  test: Predicate;
  /** Slow path: builds a trace. Always agrees with test. */
  explain: (subject: object) => ConditionTrace;
}

export interface CompileConditionOptions {
  /** Restrict field paths to these first segments (non_audit routes only see `source`). */
  allowedRoots?: readonly string[];
  /** Shown in the error when a field outside allowedRoots is named. */
  allowedRootsReason?: string;
}

const COMBINATORS = ['all', 'any', 'not'] as const;
const MATCHER_KEYS = ['eq', 'in', 'regex', 'gte', 'lte', 'exists'] as const;
/** Words people reach for from other rule languages. */
const COMBINATOR_ALIASES: Record<string, string> = {
  and: 'all',
  or: 'any',
  none: 'not',
  nor: 'not',
};
const OUTCOMES = ['success', 'failure', 'unknown'] as const;
/** Values longer than this are cut in explain output: it is for reading, not for copying data. */
const MAX_RENDERED = 80;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isScalar(v: unknown): v is Scalar {
  return (
    v === null ||
    typeof v === 'string' ||
    typeof v === 'boolean' ||
    (typeof v === 'number' && Number.isFinite(v))
  );
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `a ${typeof v}`;
}

function severityRank(v: unknown): number {
  return v === 'critical' ? 2 : v === 'warn' ? 1 : v === 'info' ? 0 : -1;
}

function cut(s: string): string {
  return s.length > MAX_RENDERED ? `${s.slice(0, MAX_RENDERED - 1)}…` : s;
}

/** How a config value is shown in explain text. */
function renderLiteral(v: unknown): string {
  if (typeof v === 'string') return cut(JSON.stringify(v));
  if (v === undefined) return '(missing)';
  try {
    return cut(JSON.stringify(v) ?? typeof v);
  } catch {
    return typeof v;
  }
}

/** How an event's value is shown in explain text. Severity is shown bare: `severity info < warn`. */
function renderValue(v: unknown, kind: FieldKind): string {
  if (v === undefined) return '(missing)';
  if (kind === 'severity' && typeof v === 'string' && severityRank(v) >= 0) return v;
  if (Array.isArray(v)) return renderLiteral(v);
  if (v !== null && typeof v === 'object') return '{…}';
  return renderLiteral(v);
}

// ---------------------------------------------------------------------------------------
// Value matchers: one per scalar, list item or matcher-mapping key.

interface ValueMatcher {
  test: (v: unknown) => boolean;
  /** Explain phrase for the outcome: `matches glob "prod-*"` / `does not match glob "prod-*"`. */
  phrase: (ok: boolean) => string;
  /**
   * Applies to each element of a list-valued field. False for `exists` and `null` (about the
   * field itself) and for mixed lists, whose alternatives each decide for themselves.
   */
  elementwise: boolean;
}

/**
 * Literal equality across the types YAML produces: `organization_id: 1` (a number in YAML)
 * matches the string "1" the event carries, and `"87"` matches `duration_ms: 87`.
 * No string is built at match time: the twin is computed here.
 */
function literalTest(expected: Scalar): (v: unknown) => boolean {
  if (expected === null) return (v) => v === null || v === undefined;
  if (typeof expected === 'number') {
    const asString = String(expected);
    return (v) => v === expected || v === asString;
  }
  if (typeof expected === 'string') {
    const n = Number(expected);
    const twin =
      expected.trim() !== '' && Number.isFinite(n) && String(n) === expected ? n : undefined;
    if (twin === undefined) return (v) => v === expected;
    return (v) => v === expected || v === twin;
  }
  return (v) => v === expected;
}

function literalSet(values: readonly Scalar[]): (v: unknown) => boolean {
  const set = new Set<unknown>();
  let hasNull = false;
  for (const e of values) {
    if (e === null) {
      hasNull = true;
      continue;
    }
    set.add(e);
    if (typeof e === 'number') set.add(String(e));
    else if (typeof e === 'string') {
      const n = Number(e);
      if (e.trim() !== '' && Number.isFinite(n) && String(n) === e) set.add(n);
    }
  }
  return (v) => (v === null || v === undefined ? hasNull : set.has(v));
}

/** Globs and regexes look at strings; numbers are compared in their decimal form. */
function asText(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

interface MatcherContext {
  kind: FieldKind;
  field: string;
  issues: RouteIssue[];
}

function checkEnumLiteral(value: Scalar, ctx: MatcherContext, path: ConfigPath): void {
  if (typeof value !== 'string') {
    if ((ctx.kind === 'severity' || ctx.kind === 'outcome') && value !== null) {
      const allowed = ctx.kind === 'severity' ? SEVERITIES : OUTCOMES;
      ctx.issues.push({
        path,
        message: `${ctx.field} is one of ${allowed.join(', ')}; ${renderLiteral(value)} never matches`,
      });
    }
    return;
  }
  const allowed: readonly string[] | undefined =
    ctx.kind === 'severity' ? SEVERITIES : ctx.kind === 'outcome' ? OUTCOMES : undefined;
  if (allowed !== undefined && !allowed.includes(value)) {
    ctx.issues.push({
      path,
      message: `unknown ${ctx.field} ${JSON.stringify(value)}${didYouMean(value, allowed)}: ${ctx.field} is one of ${allowed.join(', ')}`,
    });
  }
}

/** A scalar written directly (or as a list item): strings with glob characters are globs. */
function compileScalar(
  value: Scalar,
  ctx: MatcherContext,
  path: ConfigPath,
): ValueMatcher | undefined {
  if (typeof value === 'string' && isGlob(value)) {
    const g = compileGlob(value);
    if (!g.ok) {
      ctx.issues.push({ path, message: g.message });
      return undefined;
    }
    const shown = JSON.stringify(value);
    const globTest = g.test;
    return {
      test: (v) => {
        const s = asText(v);
        return s !== undefined && globTest(s);
      },
      phrase: (ok) => (ok ? `matches glob ${shown}` : `does not match glob ${shown}`),
      elementwise: true,
    };
  }
  checkEnumLiteral(value, ctx, path);
  return equalityMatcher(value);
}

function equalityMatcher(value: Scalar): ValueMatcher {
  const shown = renderLiteral(value);
  if (value === null) {
    return {
      test: literalTest(null),
      phrase: (ok) => (ok ? 'is null or missing' : 'is not null'),
      elementwise: false,
    };
  }
  return {
    test: literalTest(value),
    phrase: (ok) => (ok ? `equals ${shown}` : `does not equal ${shown}`),
    elementwise: true,
  };
}

function compileRegex(
  pattern: unknown,
  ctx: MatcherContext,
  path: ConfigPath,
): ValueMatcher | undefined {
  if (typeof pattern !== 'string') {
    ctx.issues.push({ path, message: `regex must be a string, not ${kindOf(pattern)}` });
    return undefined;
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (e) {
    const detail = (e as Error).message.replace(/^error parsing regexp: /, '');
    ctx.issues.push({
      path,
      message: `invalid regex ${cut(JSON.stringify(pattern))}: ${detail} (RE2 syntax: no backreferences or lookaround)`,
    });
    return undefined;
  }
  const shown = `/${cut(pattern)}/`;
  return {
    test: (v) => {
      const s = asText(v);
      return s !== undefined && re.test(s);
    },
    phrase: (ok) => (ok ? `matches regex ${shown}` : `does not match regex ${shown}`),
    elementwise: true,
  };
}

function compileSeverityBound(
  op: 'gte' | 'lte',
  bound: unknown,
  ctx: MatcherContext,
  path: ConfigPath,
): ValueMatcher | undefined {
  if (ctx.kind !== 'severity') {
    ctx.issues.push({
      path,
      message: `${op} compares severities (info < warn < critical) and only applies to the severity field, not ${ctx.field}`,
    });
    return undefined;
  }
  const rank = severityRank(bound);
  if (rank < 0) {
    const hint = typeof bound === 'string' ? didYouMean(bound, SEVERITIES) : '';
    ctx.issues.push({
      path,
      message: `unknown severity ${renderLiteral(bound)}${hint}: use one of ${SEVERITIES.join(', ')}`,
    });
    return undefined;
  }
  const name = bound as Severity;
  if (op === 'gte') {
    return {
      test: (v) => severityRank(v) >= rank,
      phrase: (ok) => (ok ? `>= ${name}` : `< ${name}`),
      elementwise: true,
    };
  }
  return {
    // An unknown severity has rank -1: it must not pass an upper bound by accident.
    test: (v) => {
      const r = severityRank(v);
      return r >= 0 && r <= rank;
    },
    phrase: (ok) => (ok ? `<= ${name}` : `> ${name}`),
    elementwise: true,
  };
}

function compileLiteralList(
  values: unknown,
  ctx: MatcherContext,
  path: ConfigPath,
): ValueMatcher | undefined {
  if (!Array.isArray(values) || values.length === 0) {
    ctx.issues.push({
      path,
      message: `in takes a non-empty list of values, not ${Array.isArray(values) ? 'an empty list' : kindOf(values)}`,
    });
    return undefined;
  }
  let ok = true;
  values.forEach((e, i) => {
    if (!isScalar(e)) {
      ctx.issues.push({
        path: [...path, i],
        message: `in lists plain values (string, number, boolean, null), not ${kindOf(e)}`,
      });
      ok = false;
    } else checkEnumLiteral(e, ctx, [...path, i]);
  });
  if (!ok) return undefined;
  const shown = renderLiteral(values);
  return {
    test: literalSet(values as Scalar[]),
    phrase: (y) => (y ? `is one of ${shown}` : `is not one of ${shown}`),
    elementwise: true,
  };
}

/** `{ eq, in, regex, gte, lte, exists }`: every key present must hold. */
function compileMatcherObject(
  obj: Record<string, unknown>,
  ctx: MatcherContext,
  path: ConfigPath,
): ValueMatcher[] | undefined {
  const keys = Object.keys(obj);
  if (keys.length === 0) {
    ctx.issues.push({
      path,
      message: `empty matcher: use one or more of ${MATCHER_KEYS.join(', ')}`,
    });
    return undefined;
  }
  const out: ValueMatcher[] = [];
  let ok = true;
  for (const key of keys) {
    const value = obj[key];
    const at = [...path, key];
    let m: ValueMatcher | undefined;
    switch (key) {
      case 'eq':
        if (!isScalar(value)) {
          ctx.issues.push({
            path: at,
            message: `eq takes a plain value (string, number, boolean, null), not ${kindOf(value)}; for several values use in`,
          });
        } else {
          checkEnumLiteral(value, ctx, at);
          m = equalityMatcher(value);
        }
        break;
      case 'in':
        m = compileLiteralList(value, ctx, at);
        break;
      case 'regex':
        m = compileRegex(value, ctx, at);
        break;
      case 'gte':
      case 'lte':
        m = compileSeverityBound(key, value, ctx, at);
        break;
      case 'exists':
        if (typeof value !== 'boolean') {
          ctx.issues.push({
            path: at,
            message: `exists takes true or false, not ${kindOf(value)}`,
          });
        } else {
          const want = value;
          m = {
            test: (v) => (v !== undefined && v !== null) === want,
            phrase: (y) => ((y ? want : !want) ? 'exists' : 'does not exist'),
            elementwise: false,
          };
        }
        break;
      default:
        ctx.issues.push({
          path: at,
          message: `unknown matcher ${JSON.stringify(key)}${didYouMean(key, MATCHER_KEYS)}: a matcher mapping takes ${MATCHER_KEYS.join(', ')}`,
        });
    }
    if (m === undefined) ok = false;
    else out.push(m);
  }
  return ok ? out : undefined;
}

/** A list: any item holds. Items are scalars (globs allowed) or matcher mappings. */
function compileAnyOf(
  items: unknown[],
  ctx: MatcherContext,
  path: ConfigPath,
): ValueMatcher | undefined {
  if (items.length === 0) {
    ctx.issues.push({
      path,
      message: 'an empty list matches nothing: list one or more values, or remove the condition',
    });
    return undefined;
  }
  const shown = renderLiteral(items);
  // The common case, a list of plain literal values, is one Set lookup.
  if (items.every((e) => isScalar(e) && !(typeof e === 'string' && isGlob(e)))) {
    (items as Scalar[]).forEach((e, i) => checkEnumLiteral(e, ctx, [...path, i]));
    return {
      test: literalSet(items as Scalar[]),
      phrase: (y) => (y ? `is one of ${shown}` : `is not one of ${shown}`),
      elementwise: true,
    };
  }
  const alts: ValueMatcher[][] = [];
  let ok = true;
  items.forEach((e, i) => {
    let ms: ValueMatcher[] | undefined;
    if (isScalar(e)) {
      const m = compileScalar(e, ctx, [...path, i]);
      ms = m && [m];
    } else if (isPlainObject(e)) {
      ms = compileMatcherObject(e, ctx, [...path, i]);
    } else {
      ctx.issues.push({
        path: [...path, i],
        message: `a list item is a value or a matcher mapping, not ${kindOf(e)}`,
      });
    }
    if (ms === undefined) ok = false;
    else alts.push(ms);
  });
  if (!ok) return undefined;
  // Each alternative sees the raw field value so `exists` inside a list still means the field.
  const altTests = alts.map((ms) => fieldTest(ms, ctx.kind));
  return {
    test: (v) => {
      for (let i = 0; i < altTests.length; i++) if (altTests[i]!(v)) return true;
      return false;
    },
    phrase: (y) => (y ? `matches one of ${shown}` : `matches none of ${shown}`),
    elementwise: false,
  };
}

/** Only these kinds can hold a list; the fixed scalar fields skip the per-call Array.isArray. */
function mayBeList(kind: FieldKind): boolean {
  return kind === 'list' || kind === 'free';
}

/** All matchers hold on the field value; elementwise ones look inside list values. */
function fieldTest(ms: readonly ValueMatcher[], kind: FieldKind): (v: unknown) => boolean {
  const one = (m: ValueMatcher): ((v: unknown) => boolean) => {
    if (!m.elementwise || !mayBeList(kind)) return m.test;
    const t = m.test;
    return (v) => {
      if (!Array.isArray(v)) return t(v);
      for (let i = 0; i < v.length; i++) if (t(v[i])) return true;
      return false;
    };
  };
  if (ms.length === 1) return one(ms[0]!);
  const tests = ms.map(one);
  return (v) => {
    for (let i = 0; i < tests.length; i++) if (!tests[i]!(v)) return false;
    return true;
  };
}

function unknownFieldMessage(field: string, fallback: string): string {
  const root = field.split('.')[0]!;
  if (AUDIT_FIELD_NAMES.includes(root)) return fallback;
  if (!field.includes('.')) {
    const near =
      COMBINATOR_ALIASES[field.toLowerCase()] ??
      closest(field, [...COMBINATORS, ...AUDIT_FIELD_NAMES]);
    const hint = near === undefined ? '' : ` (did you mean ${JSON.stringify(near)}?)`;
    return `unknown key ${JSON.stringify(field)}${hint}: a condition key is all, any, not, or a field path starting with ${AUDIT_FIELD_NAMES.join(', ')}`;
  }
  return fallback;
}

function compileField(
  field: string,
  raw: unknown,
  issues: RouteIssue[],
  path: ConfigPath,
  options: CompileConditionOptions,
): CompiledCondition | undefined {
  const resolved = resolveFieldPath(field);
  if (!resolved.ok) {
    issues.push({ path, message: unknownFieldMessage(field, resolved.message) });
    return undefined;
  }
  const root = resolved.segments[0]!;
  if (options.allowedRoots !== undefined && !options.allowedRoots.includes(root)) {
    issues.push({
      path,
      message: `field ${JSON.stringify(field)} cannot be used here: ${options.allowedRootsReason ?? `only ${options.allowedRoots.join(', ')} fields are available`}`,
    });
    return undefined;
  }
  if (resolved.kind === 'object' && !isExistsOnly(raw)) {
    issues.push({
      path,
      message: `${field} is a mapping of fields: match one of them (e.g. ${field}.<name>) or use { exists: true } / { exists: false }`,
    });
    return undefined;
  }
  const ctx: MatcherContext = { kind: resolved.kind, field, issues };
  let ms: ValueMatcher[] | undefined;
  if (isScalar(raw)) {
    const m = compileScalar(raw, ctx, path);
    ms = m && [m];
  } else if (Array.isArray(raw)) {
    const m = compileAnyOf(raw, ctx, path);
    ms = m && [m];
  } else if (isPlainObject(raw)) {
    ms = compileMatcherObject(raw, ctx, path);
  } else {
    issues.push({
      path,
      message: `${field} needs a value, a list, or a matcher mapping (${MATCHER_KEYS.join(', ')}), not ${kindOf(raw)}`,
    });
  }
  if (ms === undefined) return undefined;
  const get: FieldGetter = makeGetter(resolved.segments);
  const test = fieldTest(ms, resolved.kind);
  const kind = resolved.kind;
  const matchers = ms;
  return {
    test: (s) => test(get(s)),
    explain: (s) => {
      const v = get(s);
      const phrases = matchers.map((m) => {
        if (m.elementwise && mayBeList(kind) && Array.isArray(v)) {
          return fieldTest([m], kind)(v)
            ? `has an element that ${m.phrase(true)}`
            : `has no element that ${m.phrase(true)}`;
        }
        return m.phrase(m.test(v));
      });
      return {
        matched: test(v),
        text: `${field} ${renderValue(v, kind)} ${phrases.join(' and ')}`,
      };
    },
  };
}

function isExistsOnly(raw: unknown): boolean {
  return isPlainObject(raw) && Object.keys(raw).every((k) => k === 'exists');
}

function compileList(
  key: 'all' | 'any',
  raw: unknown,
  issues: RouteIssue[],
  path: ConfigPath,
  options: CompileConditionOptions,
): CompiledCondition | undefined {
  if (!Array.isArray(raw) || raw.length === 0) {
    issues.push({
      path,
      message: `${key} takes a non-empty list of conditions, not ${Array.isArray(raw) ? 'an empty list' : kindOf(raw)}`,
    });
    return undefined;
  }
  const parts: CompiledCondition[] = [];
  let ok = true;
  raw.forEach((c, i) => {
    const compiled = compileConditionAt(c, issues, [...path, i], options);
    if (compiled === undefined) ok = false;
    else parts.push(compiled);
  });
  if (!ok) return undefined;
  return key === 'all' ? allOf(parts, 'all of') : anyOf(parts);
}

function allOf(parts: CompiledCondition[], label: string): CompiledCondition {
  const tests = parts.map((p) => p.test);
  const test: Predicate =
    tests.length === 1
      ? tests[0]!
      : tests.length === 2
        ? (
            (a: Predicate, b: Predicate): Predicate =>
            (s) =>
              a(s) && b(s)
          )(tests[0]!, tests[1]!)
        : (s) => {
            for (let i = 0; i < tests.length; i++) if (!tests[i]!(s)) return false;
            return true;
          };
  return {
    test,
    explain: (s) => {
      const children = parts.map((p) => p.explain(s));
      return { matched: children.every((c) => c.matched), text: label, children };
    },
  };
}

function anyOf(parts: CompiledCondition[]): CompiledCondition {
  const tests = parts.map((p) => p.test);
  return {
    test: (s) => {
      for (let i = 0; i < tests.length; i++) if (tests[i]!(s)) return true;
      return false;
    },
    explain: (s) => {
      const children = parts.map((p) => p.explain(s));
      return { matched: children.some((c) => c.matched), text: 'any of', children };
    },
  };
}

function compileConditionAt(
  raw: unknown,
  issues: RouteIssue[],
  path: ConfigPath,
  options: CompileConditionOptions,
): CompiledCondition | undefined {
  if (!isPlainObject(raw)) {
    issues.push({
      path,
      message: `a condition is a mapping of AuditEvent field paths (e.g. severity, target.resource) or all/any/not to matchers, not ${kindOf(raw)}`,
    });
    return undefined;
  }
  const keys = Object.keys(raw);
  if (keys.length === 0) {
    issues.push({
      path,
      message:
        'empty condition: name at least one field, or all/any/not (omit `when` to match every event)',
    });
    return undefined;
  }
  const parts: CompiledCondition[] = [];
  let ok = true;
  for (const key of keys) {
    const value = raw[key];
    const at = [...path, key];
    let c: CompiledCondition | undefined;
    if (key === 'all' || key === 'any') c = compileList(key, value, issues, at, options);
    else if (key === 'not') {
      const inner = compileConditionAt(value, issues, at, options);
      if (inner !== undefined) {
        const t = inner.test;
        c = {
          test: (s) => !t(s),
          explain: (s) => {
            const child = inner.explain(s);
            return { matched: !child.matched, text: 'not', children: [child] };
          },
        };
      }
    } else c = compileField(key, value, issues, at, options);
    if (c === undefined) ok = false;
    else parts.push(c);
  }
  if (!ok) return undefined;
  return parts.length === 1 ? parts[0]! : allOf(parts, 'all of');
}

/**
 * Validate and compile a condition. Problems are appended to `issues` (paths start with
 * `path`); the result is undefined when there was any.
 */
export function compileCondition(
  raw: unknown,
  path: ConfigPath,
  issues: RouteIssue[],
  options: CompileConditionOptions = {},
): CompiledCondition | undefined {
  const before = issues.length;
  const c = compileConditionAt(raw, issues, path, options);
  return issues.length === before ? c : undefined;
}
