/**
 * What `auditshipper route --explain` shows: for each route whether it matched and why,
 * then the sinks reached and whether routes_default applied. The data is built by
 * Router.explain (index.ts); this module only defines it and renders it as text.
 */
import type { ConditionTrace } from './condition.js';

export type { ConditionTrace } from './condition.js';

export interface RouteExplanation {
  name: string;
  /** skipped: not evaluated because an earlier matching route was final. */
  status: 'matched' | 'not_matched' | 'skipped';
  final: boolean;
  to: string[];
  /**
   * One trace per condition the route has, in evaluation order: `when`, then
   * `min_severity`. Empty for a route without conditions (it matches every event) and for
   * skipped routes.
   */
  conditions: ConditionTrace[];
}

export interface Explanation {
  /** audit: an AuditEvent through the audit routes; non_audit: a non-audit line through non_audit routes. */
  kind: 'audit' | 'non_audit';
  routes: RouteExplanation[];
  /** Names of the routes that matched, in order. */
  matched: string[];
  /** Sinks the event goes to, unique, in first-seen order (same as Router.route). */
  sinks: string[];
  /** No route matched and routes_default supplied the sinks. */
  defaultApplied: boolean;
  /** Delivered nowhere: counted by the pipeline, never silent. */
  unrouted: boolean;
  /** The final route that stopped evaluation, if any. */
  stoppedBy: string | null;
}

function mark(matched: boolean): string {
  return matched ? '✓' : '✗';
}

function traceLines(t: ConditionTrace, indent: string, out: string[]): void {
  out.push(`${indent}${mark(t.matched)} ${t.text}${t.children ? ':' : ''}`);
  if (t.children) for (const c of t.children) traceLines(c, `${indent}  `, out);
}

/** Render an explanation as indented text lines (no trailing newline). */
export function formatExplanation(x: Explanation): string {
  const out: string[] = [];
  for (const r of x.routes) {
    const finalNote = r.final ? ', final' : '';
    if (r.status === 'skipped') {
      out.push(
        `route ${JSON.stringify(r.name)}: skipped (route ${JSON.stringify(x.stoppedBy)} matched and is final)`,
      );
      continue;
    }
    const head =
      r.status === 'matched'
        ? `route ${JSON.stringify(r.name)}: matched${finalNote} → ${r.to.join(', ')}`
        : `route ${JSON.stringify(r.name)}: not matched`;
    out.push(
      r.conditions.length === 0
        ? `${head} (no conditions: matches every ${x.kind === 'audit' ? 'event' : 'line'})`
        : head,
    );
    for (const c of r.conditions) traceLines(c, '  ', out);
  }
  if (x.routes.length === 0)
    out.push(x.kind === 'audit' ? 'no routes configured' : 'no non_audit routes configured');
  if (x.defaultApplied) out.push(`no route matched: routes_default → ${x.sinks.join(', ')}`);
  else if (x.unrouted) {
    out.push(
      x.kind === 'audit'
        ? 'no route matched and routes_default is not set: unrouted (counted, delivered nowhere)'
        : 'no non_audit route matched: dropped (counted)',
    );
  } else out.push(`sinks: ${x.sinks.join(', ')}`);
  return out.join('\n');
}
