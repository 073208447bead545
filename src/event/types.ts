/**
 * The AuditEvent: the one normalised shape every stage after parsing works on,
 * and what sinks receive before their own mapping. See DESIGN.md "The AuditEvent".
 */

export const SEVERITIES = ['info', 'warn', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Rank for comparisons: info < warn < critical. */
export function severityRank(s: Severity): number {
  return s === 'critical' ? 2 : s === 'warn' ? 1 : 0;
}

export type Outcome = 'success' | 'failure' | 'unknown';

export interface Actor {
  id: string | null;
  email: string | null;
  ip: string | null;
  user_agent: string | null;
}

export interface Target {
  type: string | null;
  id: string | null;
  name: string | null;
  app: string | null;
  resource: string | null;
}

export interface RedactionSummary {
  /** How many values were removed, masked, hashed or rewritten. */
  count: number;
  /** Names of the rules that fired, sorted, no duplicates. Never the values. */
  rules: string[];
}

export interface EventSource {
  /** The configured source name (`sources.<name>`). */
  name: string;
  host: string;
  /** Path the line was read from; null for stdin and generated sources. */
  file: string | null;
  /** Byte offset of the line's first byte in that file; null where there is no file. */
  offset: number | null;
}

export interface AuditEvent {
  /**
   * Stable id derived from the source identity + byte offset (event/canonical.ts `eventId`),
   * so re-reading a line after a crash yields the same id. Used for de-duplication.
   */
  id: string;
  /**
   * The app's own event id, kept for correlation only: ids from two installs of the same
   * app can collide, so they are never used for de-duplication. Null when the app wrote none.
   */
  app_event_id: string | null;
  /** ISO 8601 UTC with milliseconds. */
  timestamp: string;
  product: string;
  action: string;
  category: string;
  severity: Severity;
  outcome: Outcome;
  actor: Actor;
  target: Target;
  organization_id: string | null;
  duration_ms: number | null;
  /** The app's metadata, redacted before it reaches the store. */
  detail: Record<string, unknown>;
  redacted: RedactionSummary;
  source: EventSource;
}

export function emptyActor(): Actor {
  return { id: null, email: null, ip: null, user_agent: null };
}

export function emptyTarget(): Target {
  return { type: null, id: null, name: null, app: null, resource: null };
}
