/**
 * Routing: which sinks each event goes to, decided once at ingest (DESIGN.md "Data flow").
 *
 * Semantics: routes are evaluated in order; every matching route adds its `to`; a matching
 * route with `final: true` stops evaluation; `min_severity` is an extra condition. If no
 * route matched, the event goes to `routes_default`; with no default it is unrouted, which
 * the pipeline counts (never silent). Routes with `non_audit: true` form a separate list
 * that applies only to lines that are not audit events (routes_default does not apply there).
 *
 * compileRoutes validates the whole routing config (including sink names, which the route
 * schema alone cannot know) and compiles every condition into closures once; route() is the
 * hot path and allocates only its result.
 */
import type { z } from 'zod';
import type { AuditEvent, EventSource, Severity } from '../event/types.js';
import {
  compileCondition,
  type CompiledCondition,
  type ConditionTrace,
  type Predicate,
  type RouteIssue,
} from './condition.js';
import {
  NON_AUDIT_ROOTS,
  routesDefaultSchema,
  routesSchema,
  type Route,
  type RouteConfig,
} from './config.js';
import type { Explanation, RouteExplanation } from './explain.js';
import { closest } from './suggest.js';

export { formatExplanation } from './explain.js';
export type { Explanation, RouteExplanation } from './explain.js';
export type { ConditionTrace, ConfigPath, RouteIssue } from './condition.js';
export type { Condition, Route, RouteConfig } from './config.js';
export { conditionSchema, routeSchema, routesDefaultSchema, routesSchema } from './config.js';

/** A line that is not an audit event: only where it came from is known. */
export interface NonAuditRecord {
  source: EventSource;
}

export interface RouteResult {
  /** Unique, in first-seen order. */
  sinks: string[];
  /** Names of the routes that matched, in order. */
  matched: string[];
  /** No route matched and there is no default: delivered nowhere, to be counted. */
  unrouted: boolean;
}

export interface Router {
  /** Hot path: called for every event. */
  route(event: AuditEvent): RouteResult;
  /** For a line that is not an audit event, through the non_audit routes. */
  routeNonAudit(record: NonAuditRecord): RouteResult;
  /** Why route() decides what it decides (`auditshipper route --explain`). */
  explain(event: AuditEvent): Explanation;
  explainNonAudit(record: NonAuditRecord): Explanation;
  /** True when some route has `non_audit: true`: the pipeline need not route non-audit lines otherwise. */
  readonly hasNonAuditRoutes: boolean;
}

export interface CompileRoutesInput {
  routes: Route[];
  routes_default?: string[];
  /** The names of the configured sinks (keys of `sinks`). */
  sinks: string[];
}

export type CompileRoutesResult =
  { ok: true; router: Router; warnings: RouteIssue[] } | { ok: false; errors: RouteIssue[] };

interface CompiledRoute {
  name: string;
  to: string[];
  final: boolean;
  /** when and min_severity together; undefined when the route matches everything. */
  test: Predicate | undefined;
  when: CompiledCondition | undefined;
  minSeverity: Severity | undefined;
}

const RANK: Record<Severity, number> = { info: 0, warn: 1, critical: 2 };

function rankOf(v: unknown): number {
  return v === 'critical' ? 2 : v === 'warn' ? 1 : v === 'info' ? 0 : -1;
}

/** zod issues → RouteIssues rooted at the config top level, pointing at the offending key where zod points at its parent. */
function fromZod(error: z.ZodError, prefix: string): RouteIssue[] {
  const out: RouteIssue[] = [];
  for (const i of error.issues) {
    const path = [prefix, ...i.path.filter((p): p is string | number => typeof p !== 'symbol')];
    if (i.code === 'unrecognized_keys' && i.keys.length === 1)
      out.push({ path: [...path, i.keys[0]!], message: i.message });
    else out.push({ path, message: i.message });
  }
  return out;
}

function unknownSinkMessage(name: string, sinks: readonly string[]): string {
  if (sinks.length === 0) return `unknown sink ${JSON.stringify(name)}: no sinks are defined`;
  const near = closest(name, sinks);
  const hint = near === undefined ? '' : ` (did you mean ${JSON.stringify(near)}?)`;
  return `unknown sink ${JSON.stringify(name)}${hint}: defined sinks are ${sinks.join(', ')}`;
}

/** Sink references are checked on the raw input so they are reported together with schema errors. */
function checkSinkRefs(
  input: CompileRoutesInput,
  sinkSet: ReadonlySet<string>,
  errors: RouteIssue[],
  warnings: RouteIssue[],
): void {
  const check = (list: unknown, path: (string | number)[]): void => {
    if (!Array.isArray(list)) return;
    const seen = new Set<string>();
    list.forEach((s, j) => {
      if (typeof s !== 'string' || s === '') return;
      if (!sinkSet.has(s))
        errors.push({ path: [...path, j], message: unknownSinkMessage(s, input.sinks) });
      else if (seen.has(s))
        warnings.push({ path: [...path, j], message: `sink ${JSON.stringify(s)} is listed twice` });
      seen.add(s);
    });
  };
  if (Array.isArray(input.routes)) {
    input.routes.forEach((r, i) => {
      if (r !== null && typeof r === 'object')
        check((r as { to?: unknown }).to, ['routes', i, 'to']);
    });
  }
  check(input.routes_default, ['routes_default']);
}

function compileRoute(r: RouteConfig, index: number, errors: RouteIssue[]): CompiledRoute {
  const when =
    r.when === undefined
      ? undefined
      : compileCondition(
          r.when,
          ['routes', index, 'when'],
          errors,
          r.non_audit ? { allowedRoots: NON_AUDIT_ROOTS } : {},
        );
  const min = r.min_severity === undefined ? -1 : RANK[r.min_severity];
  const w = when?.test;
  let test: Predicate | undefined;
  if (w !== undefined && min >= 0) test = (s) => rankOf((s as AuditEvent).severity) >= min && w(s);
  else if (min >= 0) test = (s) => rankOf((s as AuditEvent).severity) >= min;
  else test = w;
  return {
    name: r.name,
    to: [...new Set(r.to)],
    final: r.final,
    test,
    when,
    minSeverity: r.min_severity,
  };
}

/** Routes after an unconditional final route are dead; a default after an unconditional route is too. */
function reachabilityWarnings(
  parsed: RouteConfig[],
  kindLabel: 'audit' | 'non_audit',
  hasDefault: boolean,
  warnings: RouteIssue[],
): void {
  let catchAll: { name: string; index: number } | undefined;
  let finalCatchAll: { name: string; index: number } | undefined;
  parsed.forEach((r, i) => {
    if (r.non_audit !== (kindLabel === 'non_audit')) return;
    if (finalCatchAll !== undefined) {
      warnings.push({
        path: ['routes', i],
        message: `route ${JSON.stringify(r.name)} is never evaluated: route ${JSON.stringify(finalCatchAll.name)} (routes[${finalCatchAll.index}]) matches every ${kindLabel === 'audit' ? 'event' : 'line'} and is final`,
      });
      return;
    }
    if (r.when === undefined && r.min_severity === undefined) {
      catchAll ??= { name: r.name, index: i };
      if (r.final) finalCatchAll = { name: r.name, index: i };
    }
  });
  if (kindLabel === 'audit' && hasDefault && catchAll !== undefined) {
    warnings.push({
      path: ['routes_default'],
      message: `routes_default never applies: route ${JSON.stringify(catchAll.name)} (routes[${catchAll.index}]) matches every event`,
    });
  }
}

function appendUnique(target: string[], items: readonly string[]): void {
  for (let i = 0; i < items.length; i++) {
    const s = items[i]!;
    if (!target.includes(s)) target.push(s);
  }
}

function evaluate(
  routes: readonly CompiledRoute[],
  defaults: readonly string[],
  subject: object,
): RouteResult {
  const sinks: string[] = [];
  const matched: string[] = [];
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i]!;
    if (r.test !== undefined && !r.test(subject)) continue;
    matched.push(r.name);
    appendUnique(sinks, r.to);
    if (r.final) break;
  }
  if (matched.length === 0) {
    if (defaults.length > 0) return { sinks: defaults.slice(), matched, unrouted: false };
    return { sinks, matched, unrouted: true };
  }
  return { sinks, matched, unrouted: false };
}

function explainRoutes(
  kind: 'audit' | 'non_audit',
  routes: readonly CompiledRoute[],
  defaults: readonly string[],
  subject: object,
): Explanation {
  const explained: RouteExplanation[] = [];
  const sinks: string[] = [];
  const matched: string[] = [];
  let stoppedBy: string | null = null;
  for (const r of routes) {
    const base = { name: r.name, final: r.final, to: [...r.to] };
    if (stoppedBy !== null) {
      explained.push({ ...base, status: 'skipped', conditions: [] });
      continue;
    }
    const conditions: ConditionTrace[] = [];
    if (r.when !== undefined) conditions.push(r.when.explain(subject));
    if (r.minSeverity !== undefined) {
      const sev: unknown = (subject as { severity?: unknown }).severity;
      const ok = rankOf(sev) >= RANK[r.minSeverity];
      const shown = typeof sev === 'string' ? sev : '(missing)';
      conditions.push({
        matched: ok,
        text: `min_severity: severity ${shown} ${ok ? '>=' : '<'} ${r.minSeverity}`,
      });
    }
    const isMatch = conditions.every((c) => c.matched);
    explained.push({ ...base, status: isMatch ? 'matched' : 'not_matched', conditions });
    if (!isMatch) continue;
    matched.push(r.name);
    appendUnique(sinks, r.to);
    if (r.final) stoppedBy = r.name;
  }
  const defaultApplied = kind === 'audit' && matched.length === 0 && defaults.length > 0;
  if (defaultApplied) appendUnique(sinks, defaults);
  return {
    kind,
    routes: explained,
    matched,
    sinks,
    defaultApplied,
    unrouted: sinks.length === 0,
    stoppedBy,
  };
}

/** Validate the routing config against the sink names and compile it into a Router. */
export function compileRoutes(input: CompileRoutesInput): CompileRoutesResult {
  const errors: RouteIssue[] = [];
  const warnings: RouteIssue[] = [];
  const sinkSet = new Set(input.sinks);

  const routesParsed = routesSchema.safeParse(input.routes);
  if (!routesParsed.success) errors.push(...fromZod(routesParsed.error, 'routes'));
  const defaultParsed = routesDefaultSchema.optional().safeParse(input.routes_default);
  if (!defaultParsed.success) errors.push(...fromZod(defaultParsed.error, 'routes_default'));
  checkSinkRefs(input, sinkSet, errors, warnings);
  if (!routesParsed.success || !defaultParsed.success || errors.length > 0)
    return { ok: false, errors };

  const parsed = routesParsed.data;
  const defaults = [...new Set(defaultParsed.data ?? [])];
  const audit: CompiledRoute[] = [];
  const nonAudit: CompiledRoute[] = [];
  parsed.forEach((r, i) => (r.non_audit ? nonAudit : audit).push(compileRoute(r, i, errors)));
  // The schema already ran the same checks, so this only fires if the two ever diverge.
  if (errors.length > 0) return { ok: false, errors };

  const used = new Set<string>(defaults);
  for (const r of parsed) for (const s of r.to) used.add(s);
  for (const s of input.sinks) {
    if (!used.has(s)) {
      warnings.push({
        path: ['sinks', s],
        message: `sink ${JSON.stringify(s)} is not used by any route or routes_default: it will receive no events`,
      });
    }
  }
  if (audit.length === 0 && defaults.length === 0) {
    warnings.push({
      path: ['routes'],
      message:
        'no routes and no routes_default: every audit event is counted as unrouted and delivered nowhere',
    });
  }
  reachabilityWarnings(parsed, 'audit', defaults.length > 0, warnings);
  reachabilityWarnings(parsed, 'non_audit', false, warnings);

  const router: Router = {
    route: (event) => evaluate(audit, defaults, event),
    routeNonAudit: (record) => evaluate(nonAudit, [], record),
    explain: (event) => explainRoutes('audit', audit, defaults, event),
    explainNonAudit: (record) => explainRoutes('non_audit', nonAudit, [], record),
    hasNonAuditRoutes: nonAudit.length > 0,
  };
  return { ok: true, router, warnings };
}
