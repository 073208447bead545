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

const q = JSON.stringify;

function str(v: string | null | undefined): string {
  return v === null || v === undefined ? 'null' : q(v);
}

function num(v: number | null | undefined): string {
  return typeof v === 'number' && Number.isFinite(v) ? String(v) : 'null';
}

/**
 * JSON with the key order of the AuditEvent interface, so the same event always
 * serialises to the same bytes whatever order its properties were assigned in.
 * Keys outside the interface are not written. `detail` keeps its own key order
 * (the order the app wrote, which parsing preserves); it is not re-sorted because
 * that would cost a deep walk on the hot path. Written by hand rather than with a
 * replacer for speed.
 */
export function canonicalJson(e: AuditEvent): string {
  const a = e.actor;
  const t = e.target;
  const r = e.redacted;
  const s = e.source;
  return (
    '{"id":' +
    str(e.id) +
    ',"app_event_id":' +
    str(e.app_event_id) +
    ',"timestamp":' +
    str(e.timestamp) +
    ',"product":' +
    str(e.product) +
    ',"action":' +
    str(e.action) +
    ',"category":' +
    str(e.category) +
    ',"severity":' +
    str(e.severity) +
    ',"outcome":' +
    str(e.outcome) +
    ',"actor":{"id":' +
    str(a.id) +
    ',"email":' +
    str(a.email) +
    ',"ip":' +
    str(a.ip) +
    ',"user_agent":' +
    str(a.user_agent) +
    '},"target":{"type":' +
    str(t.type) +
    ',"id":' +
    str(t.id) +
    ',"name":' +
    str(t.name) +
    ',"app":' +
    str(t.app) +
    ',"resource":' +
    str(t.resource) +
    '},"organization_id":' +
    str(e.organization_id) +
    ',"duration_ms":' +
    num(e.duration_ms) +
    ',"detail":' +
    (e.detail === null || e.detail === undefined ? '{}' : q(e.detail)) +
    ',"redacted":{"count":' +
    num(r.count) +
    ',"rules":' +
    q(r.rules ?? []) +
    '},"source":{"name":' +
    str(s.name) +
    ',"host":' +
    str(s.host) +
    ',"file":' +
    str(s.file) +
    ',"offset":' +
    num(s.offset) +
    '}}'
  );
}
