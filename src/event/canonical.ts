/**
 * Deterministic event ids and the canonical JSON form of an AuditEvent.
 *
 * The id is derived from the stream identity and the record's byte offset, so a
 * line re-read after a crash gets the same id and the store's `INSERT OR IGNORE`
 * keeps it once (DESIGN.md, durability protocol).
 */
import { hash } from 'node:crypto';
import type { AuditEvent } from './types.js';

/**
 * 32 hex chars (128 bits) of sha256 over `${streamId}\n${offset}`. One-shot
 * `crypto.hash` (Node ≥ 20.12) is about twice as fast as createHash for input this small.
 */
export function eventId(streamId: string, offset: number): string {
  return hash('sha256', `${streamId}\n${offset}`, 'hex').slice(0, 32);
}

/** A string-or-null field: `undefined` (a key left unset) is written as null, not omitted. */
function orNull<T>(v: T | undefined): T | null {
  return v === undefined ? null : v;
}

/** A number field: anything but a finite number is written as null. */
function finite(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

const NO_DETAIL: Record<string, unknown> = Object.freeze({});
const NO_RULES: readonly string[] = Object.freeze([]);

/**
 * JSON with the key order of the AuditEvent interface, so the same event always
 * serialises to the same bytes whatever order its properties were assigned in.
 * Keys outside the interface are not written. `detail` keeps its own key order
 * (the order the app wrote, which parsing preserves); it is not re-sorted because
 * that would cost a deep walk on the hot path.
 *
 * Built as one object literal in interface order and serialised with a single
 * JSON.stringify: V8 serialises a literal's fixed shape in one native pass and
 * returns a flat string. Measured against writing each field with its own
 * JSON.stringify and concatenating (bench/stages.ts), which pays the builtin's
 * per-call cost ~25 times an event and leaves a cons string to flatten later.
 * A missing string field is written as null (never omitted), a number that is not
 * finite as null, a missing `detail` as {} and missing `rules` as [].
 */
export function canonicalJson(e: AuditEvent): string {
  const a = e.actor;
  const t = e.target;
  const r = e.redacted;
  const s = e.source;
  return JSON.stringify({
    id: orNull(e.id),
    app_event_id: orNull(e.app_event_id),
    timestamp: orNull(e.timestamp),
    product: orNull(e.product),
    action: orNull(e.action),
    category: orNull(e.category),
    severity: orNull(e.severity),
    outcome: orNull(e.outcome),
    actor: {
      id: orNull(a.id),
      email: orNull(a.email),
      ip: orNull(a.ip),
      user_agent: orNull(a.user_agent),
    },
    target: {
      type: orNull(t.type),
      id: orNull(t.id),
      name: orNull(t.name),
      app: orNull(t.app),
      resource: orNull(t.resource),
    },
    organization_id: orNull(e.organization_id),
    duration_ms: finite(e.duration_ms),
    detail: e.detail ?? NO_DETAIL,
    redacted: { count: finite(r.count), rules: r.rules ?? NO_RULES },
    source: {
      name: orNull(s.name),
      host: orNull(s.host),
      file: orNull(s.file),
      offset: finite(s.offset),
    },
  });
}
