/**
 * The AuditEvent fields a routing condition may name, and fast getters for them.
 *
 * A field path is dotted: `severity`, `target.resource`, `detail.metadata.x`. Its first
 * segment must be an AuditEvent field, and the fixed sub-objects (actor, target, source,
 * redacted) only have their known keys, so a typo such as `target.resouce` is a config
 * error rather than a route that silently never matches. Only `detail` (the app's own,
 * free-form metadata) may be followed by arbitrary segments.
 */
import type { Actor, AuditEvent, EventSource, RedactionSummary, Target } from '../event/types.js';
import { closest, didYouMean } from './suggest.js';

/** What a field holds; decides which matchers make sense on it. */
export type FieldKind = 'string' | 'number' | 'severity' | 'outcome' | 'list' | 'object' | 'free';

interface ObjectSpec<T> {
  kind: 'object';
  children: { readonly [K in keyof T]-?: Exclude<FieldKind, 'object' | 'free'> };
}

/**
 * Mapped over the shared types on purpose: adding a field to AuditEvent (or Actor, …)
 * without adding it here is a type error, so the catalog cannot drift.
 */
const ACTOR: ObjectSpec<Actor> = {
  kind: 'object',
  children: { id: 'string', email: 'string', ip: 'string', user_agent: 'string' },
};
const TARGET: ObjectSpec<Target> = {
  kind: 'object',
  children: { type: 'string', id: 'string', name: 'string', app: 'string', resource: 'string' },
};
const SOURCE: ObjectSpec<EventSource> = {
  kind: 'object',
  children: { name: 'string', host: 'string', file: 'string', offset: 'number' },
};
const REDACTED: ObjectSpec<RedactionSummary> = {
  kind: 'object',
  children: { count: 'number', rules: 'list' },
};

type TopSpec = Exclude<FieldKind, 'object'> | ObjectSpec<unknown>;

const AUDIT_FIELDS: { readonly [K in keyof AuditEvent]-?: TopSpec } = {
  id: 'string',
  app_event_id: 'string',
  timestamp: 'string',
  product: 'string',
  action: 'string',
  category: 'string',
  severity: 'severity',
  outcome: 'outcome',
  actor: ACTOR,
  target: TARGET,
  organization_id: 'string',
  duration_ms: 'number',
  detail: 'free',
  redacted: REDACTED,
  source: SOURCE,
};

/** The first segments a field path may start with, in AuditEvent order. */
export const AUDIT_FIELD_NAMES: readonly string[] = Object.keys(AUDIT_FIELDS);

export type FieldPathResult =
  { ok: true; segments: readonly string[]; kind: FieldKind } | { ok: false; message: string };

function childNames(spec: ObjectSpec<unknown>): string[] {
  return Object.keys(spec.children);
}

/** Validate a dotted field path against the AuditEvent shape. */
export function resolveFieldPath(path: string): FieldPathResult {
  const segments = path.split('.');
  if (segments.some((s) => s === '')) {
    return { ok: false, message: `field path ${JSON.stringify(path)} has an empty segment` };
  }
  const [root, ...rest] = segments as [string, ...string[]];
  const spec = Object.hasOwn(AUDIT_FIELDS, root)
    ? AUDIT_FIELDS[root as keyof AuditEvent]
    : undefined;
  if (spec === undefined) {
    return {
      ok: false,
      message:
        `unknown field ${JSON.stringify(root)}${didYouMean(root, AUDIT_FIELD_NAMES)}: ` +
        `a field path starts with one of ${AUDIT_FIELD_NAMES.join(', ')}`,
    };
  }
  if (spec === 'free') return { ok: true, segments, kind: rest.length === 0 ? 'object' : 'free' };
  if (typeof spec === 'string') {
    if (rest.length > 0) {
      return {
        ok: false,
        message: `${JSON.stringify(root)} is a single value and has no sub-field ${JSON.stringify(rest.join('.'))}`,
      };
    }
    return { ok: true, segments, kind: spec };
  }
  if (rest.length === 0) return { ok: true, segments, kind: 'object' };
  const [child, ...deeper] = rest as [string, ...string[]];
  const names = childNames(spec);
  const kind = Object.hasOwn(spec.children, child)
    ? (spec.children as Record<string, FieldKind>)[child]
    : undefined;
  if (kind === undefined) {
    const near = closest(child, names);
    const hint = near === undefined ? '' : ` (did you mean ${JSON.stringify(`${root}.${near}`)}?)`;
    return {
      ok: false,
      message: `unknown field ${JSON.stringify(`${root}.${child}`)}${hint}: ${root} has ${names.join(', ')}`,
    };
  }
  if (deeper.length > 0) {
    return {
      ok: false,
      message: `${JSON.stringify(`${root}.${child}`)} is a single value and has no sub-field ${JSON.stringify(deeper.join('.'))}`,
    };
  }
  return { ok: true, segments, kind };
}

/** Reads one field of a route subject (an AuditEvent, or the source of a non-audit line). */
export type FieldGetter = (subject: object) => unknown;

type Rec = Record<string, unknown>;

/*
 * Getters for the fixed fields are written out with literal property names on purpose: V8
 * turns `e.target` into a fast monomorphic load, while `e[name]` with a name held in a closure
 * is a keyed load, measured at about 2.5x slower. route() runs these for every event.
 * The mapped types make a field added to AuditEvent without a getter a type error.
 */
const ev = (s: object): Partial<AuditEvent> => s;
const obj = (v: unknown): Rec | undefined =>
  v !== null && typeof v === 'object' ? (v as Rec) : undefined;

const TOP_GETTERS: { readonly [K in keyof AuditEvent]-?: FieldGetter } = {
  id: (s) => ev(s).id,
  app_event_id: (s) => ev(s).app_event_id,
  timestamp: (s) => ev(s).timestamp,
  product: (s) => ev(s).product,
  action: (s) => ev(s).action,
  category: (s) => ev(s).category,
  severity: (s) => ev(s).severity,
  outcome: (s) => ev(s).outcome,
  actor: (s) => ev(s).actor,
  target: (s) => ev(s).target,
  organization_id: (s) => ev(s).organization_id,
  duration_ms: (s) => ev(s).duration_ms,
  detail: (s) => ev(s).detail,
  redacted: (s) => ev(s).redacted,
  source: (s) => ev(s).source,
};

const SUB_GETTERS: {
  readonly actor: { readonly [K in keyof Actor]-?: FieldGetter };
  readonly target: { readonly [K in keyof Target]-?: FieldGetter };
  readonly source: { readonly [K in keyof EventSource]-?: FieldGetter };
  readonly redacted: { readonly [K in keyof RedactionSummary]-?: FieldGetter };
} = {
  actor: {
    id: (s) => obj(ev(s).actor)?.id,
    email: (s) => obj(ev(s).actor)?.email,
    ip: (s) => obj(ev(s).actor)?.ip,
    user_agent: (s) => obj(ev(s).actor)?.user_agent,
  },
  target: {
    type: (s) => obj(ev(s).target)?.type,
    id: (s) => obj(ev(s).target)?.id,
    name: (s) => obj(ev(s).target)?.name,
    app: (s) => obj(ev(s).target)?.app,
    resource: (s) => obj(ev(s).target)?.resource,
  },
  source: {
    name: (s) => obj(ev(s).source)?.name,
    host: (s) => obj(ev(s).source)?.host,
    file: (s) => obj(ev(s).source)?.file,
    offset: (s) => obj(ev(s).source)?.offset,
  },
  redacted: {
    count: (s) => obj(ev(s).redacted)?.count,
    rules: (s) => obj(ev(s).redacted)?.rules,
  },
};

/**
 * A getter for a path validated by resolveFieldPath. `detail` segments come from the app, so
 * they are read only as own properties (`detail.constructor` must not reach Object.prototype).
 */
export function makeGetter(segments: readonly string[]): FieldGetter {
  const [a, b] = segments as [string, string | undefined];
  const top = Object.hasOwn(TOP_GETTERS, a) ? TOP_GETTERS[a as keyof AuditEvent] : undefined;
  if (top === undefined) return () => undefined;
  if (segments.length === 1) return top;
  if (a !== 'detail') {
    const group = Object.hasOwn(SUB_GETTERS, a)
      ? (SUB_GETTERS as Record<string, Record<string, FieldGetter>>)[a]
      : undefined;
    const sub =
      group !== undefined && b !== undefined && Object.hasOwn(group, b) ? group[b] : undefined;
    return segments.length === 2 && sub !== undefined ? sub : () => undefined;
  }
  const rest = segments.slice(1);
  return (s) => {
    let cur: unknown = ev(s).detail;
    for (let i = 0; i < rest.length; i++) {
      if (cur === null || typeof cur !== 'object') return undefined;
      const k = rest[i]!;
      if (!Object.hasOwn(cur, k)) return undefined;
      cur = (cur as Rec)[k];
    }
    return cur;
  };
}
