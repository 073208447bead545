/**
 * The pure per-batch work: parse → min_severity → redact → route → canonical JSON.
 *
 * One function, used by both threads (src/pipeline.ts runs it in-thread, src/pipeline/worker.ts
 * runs it on a slice of a large batch). It touches no metrics, logger or store: everything the
 * pipeline feeds to metrics and to its rate-limited log comes back as plain data in
 * `counters`, so the main thread applies metrics and logging once per batch and the output is
 * the same whichever thread did the work. Results are structured-clonable (strings, numbers,
 * arrays, Maps).
 */
import type { Config } from '../config/schema.js';
import { canonicalJson, eventId } from '../event/canonical.js';
import { emptyActor, emptyTarget, severityRank, type AuditEvent } from '../event/types.js';
import type { LogRecord } from '../framing/types.js';
import { HOST } from '../host.js';
import type { RecordParser } from '../parse/index.js';
import type { RedactionPlan } from '../redact/index.js';
import type { Router } from '../route/index.js';
import type { IngestItem } from '../store/store.js';

export interface PipelineParts {
  /** One parser per source (profiles are chosen per source). */
  parsers: Map<string, RecordParser>;
  redaction: RedactionPlan;
  router: Router;
  minSeverity: Config['audit']['min_severity'];
}

/** What the stages need of a SourceBatch: the records and where they came from. */
export interface StageInput {
  source: string;
  file: string | null;
  streamId: string;
  records: readonly LogRecord[];
}

/** A malformed record, for the pipeline's rate-limited warning (never its content). */
export interface MalformedNote {
  offset: number;
  reason: string;
}

/**
 * Everything process() used to feed to metrics and the log. Labelled counts are Maps in
 * first-seen order, so merging two contiguous slices in record order gives the same label
 * order (and the same /metrics text) as one pass over the whole batch.
 */
export interface StageCounters {
  audit: number;
  nonAudit: number;
  malformed: number;
  filtered: number;
  unrouted: number;
  byRoute: Map<string, number>;
  byRule: Map<string, number>;
  /** Key: `${product}\u0000${severity}`. */
  byProductSeverity: Map<string, number>;
  unknownByProduct: Map<string, number>;
  /** One entry per malformed record, in record order. */
  malformedNotes: MalformedNote[];
}

export interface StageResult {
  items: IngestItem[];
  /** Sinks that receive at least one item, in first-seen order. */
  sinks: string[];
  counters: StageCounters;
}

const MIN_RANK: Record<Config['audit']['min_severity'], number> = {
  off: 99,
  critical: 2,
  warn: 1,
  info: 0,
};

/**
 * A line that is not an audit event, wrapped so it can travel the same path (redaction,
 * store, sinks) when a `non_audit: true` route asks for it: product `log`, action
 * `non_audit`, the line under `detail` (parsed when it is JSON). Redaction runs on it
 * like on any event.
 */
export function nonAuditEvent(
  record: LogRecord,
  source: string,
  file: string | null,
  streamId: string,
  kind: 'non_audit' | 'malformed',
): AuditEvent {
  let detail: Record<string, unknown> = { message: record.text };
  if (kind === 'non_audit' && record.text.startsWith('{')) {
    try {
      const v: unknown = JSON.parse(record.text);
      if (v && typeof v === 'object' && !Array.isArray(v)) detail = v as Record<string, unknown>;
    } catch {
      // stays a message
    }
  }
  const t = record.time ? Date.parse(record.time) : NaN;
  return {
    id: eventId(streamId, record.offset),
    app_event_id: null,
    timestamp: new Date(Number.isFinite(t) ? t : Date.now()).toISOString(),
    product: 'log',
    action: kind,
    category: 'other',
    severity: 'info',
    outcome: 'unknown',
    actor: emptyActor(),
    target: emptyTarget(),
    organization_id: null,
    duration_ms: null,
    detail,
    redacted: { count: 0, rules: [] },
    source: { name: source, host: HOST, file, offset: file ? record.offset : null },
  };
}

/** Sizes of the buffers a batch's bodies are encoded into: doubling from the first to the
 * largest (a body larger than that gets a buffer of its own). */
const FIRST_BODY_CHUNK = 16 * 1024;
const BODY_CHUNK = 256 * 1024;

/**
 * Encodes a batch's canonical JSON bodies as UTF-8 into a few large buffers and returns a
 * view of each. A body kept as a string lives until the batch is committed: long enough to
 * survive two young-generation collections, so every body used to be promoted (about 1 KB
 * of old space per audit event, most of what the main thread's mark-compacts collected).
 * Encoded, the string dies young; the bytes sit outside the JavaScript heap in buffers the
 * store copies from (and the worker transfers to the main thread without copying).
 * Buffers are never pooled, so transferring one cannot take another's memory with it.
 */
export function bodyWriter(): (json: string) => Buffer {
  let buf = Buffer.allocUnsafeSlow(0);
  let at = 0;
  let next = FIRST_BODY_CHUNK; // small batches (a quiet source) get small buffers
  return (json) => {
    const room = json.length * 3; // UTF-8 bytes per UTF-16 unit, at most
    if (buf.length - at < room) {
      buf = Buffer.allocUnsafeSlow(Math.max(next, room));
      next = Math.min(BODY_CHUNK, next * 2);
      at = 0;
    }
    const n = buf.write(json, at, 'utf8');
    const view = buf.subarray(at, at + n);
    at += n;
    return view;
  };
}

function bump(m: Map<string, number>, key: string, n = 1): void {
  m.set(key, (m.get(key) ?? 0) + n);
}

export function emptyCounters(): StageCounters {
  return {
    audit: 0,
    nonAudit: 0,
    malformed: 0,
    filtered: 0,
    unrouted: 0,
    byRoute: new Map(),
    byRule: new Map(),
    byProductSeverity: new Map(),
    unknownByProduct: new Map(),
    malformedNotes: [],
  };
}

/**
 * Parse, filter, redact, route and serialise `input.records` with `parts`.
 * Throws only when the source has no parser (a batch from a source the parts do not know).
 */
export function processRecords(parts: PipelineParts, input: StageInput): StageResult {
  const parse = parts.parsers.get(input.source);
  if (!parse) throw new Error(`no parser for source ${input.source}`);
  const { redaction, router } = parts;
  const minRank = MIN_RANK[parts.minSeverity];
  const items: IngestItem[] = [];
  const sinks = new Set<string>();
  const c = emptyCounters();
  const ctx = { file: input.file, streamId: input.streamId };
  const encode = bodyWriter();
  const forwardNonAudit = router.hasNonAuditRoutes;
  const forward = (record: LogRecord, kind: 'non_audit' | 'malformed') => {
    const event = redaction.apply(
      nonAuditEvent(record, input.source, input.file, input.streamId, kind),
    );
    const routed = router.routeNonAudit({ source: event.source });
    for (const name of routed.matched) bump(c.byRoute, name);
    if (routed.sinks.length === 0) return;
    for (const s of routed.sinks) sinks.add(s);
    items.push({
      id: event.id,
      offset: record.offset,
      body: encode(canonicalJson(event)),
      sinks: routed.sinks,
    });
  };
  for (const record of input.records) {
    const r = parse(record, ctx);
    if (r.kind === 'non_audit') {
      c.nonAudit++;
      if (forwardNonAudit) forward(record, 'non_audit');
      continue;
    }
    if (r.kind === 'malformed') {
      c.malformed++;
      if (forwardNonAudit) forward(record, 'malformed');
      c.malformedNotes.push({ offset: record.offset, reason: r.reason });
      continue;
    }
    c.audit++;
    let event = r.event;
    if (!r.knownAction) bump(c.unknownByProduct, event.product);
    if (severityRank(event.severity) < minRank) {
      c.filtered++;
      continue;
    }
    event = redaction.apply(event);
    for (const rule of event.redacted.rules) bump(c.byRule, rule);
    const routed = router.route(event);
    for (const name of routed.matched) bump(c.byRoute, name);
    if (routed.sinks.length === 0) {
      c.unrouted++;
      continue;
    }
    for (const s of routed.sinks) sinks.add(s);
    bump(c.byProductSeverity, `${event.product}\u0000${event.severity}`);
    items.push({
      id: event.id,
      offset: record.offset,
      body: encode(canonicalJson(event)),
      sinks: routed.sinks,
    });
  }
  return { items, sinks: [...sinks], counters: c };
}

function mergeInto(into: Map<string, number>, from: Map<string, number>): void {
  for (const [k, n] of from) bump(into, k, n);
}

/**
 * Concatenate the results of contiguous slices given in record order. Label Maps keep their
 * first-seen order, so the merged result equals one pass over the whole batch.
 */
export function concatResults(parts: readonly StageResult[]): StageResult {
  if (parts.length === 1) return parts[0]!;
  const items: IngestItem[] = [];
  const sinks = new Set<string>();
  const c = emptyCounters();
  for (const p of parts) {
    for (const it of p.items) items.push(it);
    for (const s of p.sinks) sinks.add(s);
    const pc = p.counters;
    c.audit += pc.audit;
    c.nonAudit += pc.nonAudit;
    c.malformed += pc.malformed;
    c.filtered += pc.filtered;
    c.unrouted += pc.unrouted;
    mergeInto(c.byRoute, pc.byRoute);
    mergeInto(c.byRule, pc.byRule);
    mergeInto(c.byProductSeverity, pc.byProductSeverity);
    mergeInto(c.unknownByProduct, pc.unknownByProduct);
    for (const m of pc.malformedNotes) c.malformedNotes.push(m);
  }
  return { items, sinks: [...sinks], counters: c };
}
