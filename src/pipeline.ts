/**
 * Wires the in-memory stages and owns backpressure:
 *
 *   SourceBatch ─▶ parse ─▶ min_severity ─▶ redact ─▶ route ─▶ store.ingestBatch (one transaction)
 *
 * Everything before the store is pure and synchronous per batch. The handler resolves only
 * after the batch and its checkpoint are committed, and it does not start committing while
 * the buffer is over `buffer.max_bytes` (when_full: block) — so a source stops reading and
 * the log file stays the upstream buffer. Memory stays flat: at most one batch per file
 * is in flight.
 */
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import { canonicalJson } from './event/canonical.js';
import { HOST } from './host.js';
import { severityRank } from './event/types.js';
import { emptyActor, emptyTarget, type AuditEvent } from './event/types.js';
import { eventId } from './event/canonical.js';
import type { LogRecord } from './framing/types.js';
import type { RecordParser } from './parse/index.js';
import type { RedactionPlan } from './redact/index.js';
import type { Router } from './route/index.js';
import type { BatchHandler, SourceBatch } from './sources/types.js';
import type { IngestItem, Store } from './store/store.js';
import type { Metrics } from './telemetry/metrics.js';

export type { RecordParser };

export interface PipelineParts {
  /** One parser per source (profiles are chosen per source). */
  parsers: Map<string, RecordParser>;
  redaction: RedactionPlan;
  router: Router;
  minSeverity: Config['audit']['min_severity'];
}

export interface PipelineDeps {
  store: Store;
  buffer: Config['buffer'];
  logger: Logger;
  metrics: Metrics;
  /** Called after a commit with the sinks that received new rows. */
  onQueued(sinks: ReadonlySet<string>): void;
}

export interface Pipeline {
  /** The handler a source hands its batches to. */
  handler: BatchHandler;
  /** Swap parsers/redaction/routes (config reload); batches already committed keep their routing. */
  swap(parts: PipelineParts): void;
  /** Wake sources blocked on a full buffer (call after deliveries free space). */
  spaceFreed(): void;
  /** Stop waiting for buffer space (shutdown): blocked handlers reject. */
  close(): void;
  readonly stats: PipelineStats;
}

export interface PipelineStats {
  audit: number;
  nonAudit: number;
  malformed: number;
  filtered: number;
  dropped: number;
  inserted: number;
  duplicates: number;
  unrouted: number;
}

/** Rate-limited warnings: the first occurrence, then at most one per interval with a count. */
export function rateLimitedLog(logger: Logger, intervalMs = 60_000) {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (key: string, fields: Record<string, unknown>, msg: string) => {
    const t = Date.now();
    const s = last.get(key);
    if (s && t - s.at < intervalMs) {
      s.suppressed++;
      return;
    }
    last.set(key, { at: t, suppressed: 0 });
    logger.warn({ ...fields, suppressed: s?.suppressed ?? 0 }, msg);
  };
}

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

function bump(m: Map<string, number>, key: string): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}

const MIN_RANK: Record<Config['audit']['min_severity'], number> = {
  off: 99,
  critical: 2,
  warn: 1,
  info: 0,
};

export class PipelineClosed extends Error {}

export function createPipeline(initial: PipelineParts, deps: PipelineDeps): Pipeline {
  let parts = initial;
  const { store, metrics } = deps;
  const warn = rateLimitedLog(deps.logger);
  const stats: PipelineStats = {
    audit: 0,
    nonAudit: 0,
    malformed: 0,
    filtered: 0,
    dropped: 0,
    inserted: 0,
    duplicates: 0,
    unrouted: 0,
  };
  let closed = false;
  let spaceWaiters: (() => void)[] = [];
  metrics.bufferMaxBytes.set(deps.buffer.max_bytes);

  const bufferFull = () => store.bytesUsed() >= deps.buffer.max_bytes;

  const waitForSpace = async (source: string) => {
    let logged = false;
    while (bufferFull()) {
      if (closed) throw new PipelineClosed('pipeline closed while waiting for buffer space');
      if (!logged) {
        logged = true;
        warn(
          'buffer_full',
          { source, used: store.bytesUsed(), max: deps.buffer.max_bytes },
          'buffer full: reading paused until sinks deliver (buffer.when_full: block)',
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, 500);
        function done() {
          clearTimeout(t);
          resolve();
        }
        spaceWaiters.push(done);
      });
    }
  };

  const process = (batch: SourceBatch): { items: IngestItem[]; sinks: Set<string> } => {
    const p = parts;
    const parse = p.parsers.get(batch.source);
    if (!parse) throw new Error(`no parser for source ${batch.source}`);
    const minRank = MIN_RANK[p.minSeverity];
    const items: IngestItem[] = [];
    const sinks = new Set<string>();
    const ctx = { file: batch.file, streamId: batch.streamId };
    // Labelled counters are summed per batch and added once: a prom-client inc() per event
    // and label set showed in the throughput profile.
    const byRoute = new Map<string, number>();
    const byRule = new Map<string, number>();
    const byProductSeverity = new Map<string, number>();
    const unknownByProduct = new Map<string, number>();
    let audit = 0;
    let nonAudit = 0;
    let malformed = 0;
    let filtered = 0;
    const forward = (record: LogRecord, kind: 'non_audit' | 'malformed') => {
      const event = p.redaction.apply(
        nonAuditEvent(record, batch.source, batch.file, batch.streamId, kind),
      );
      const routed = p.router.routeNonAudit({ source: event.source });
      for (const name of routed.matched) bump(byRoute, name);
      if (routed.sinks.length === 0) return;
      for (const s of routed.sinks) sinks.add(s);
      items.push({ id: event.id, body: canonicalJson(event), sinks: routed.sinks });
    };
    for (const record of batch.records) {
      const r = parse(record, ctx);
      if (r.kind === 'non_audit') {
        nonAudit++;
        if (p.router.hasNonAuditRoutes) forward(record, 'non_audit');
        continue;
      }
      if (r.kind === 'malformed') {
        malformed++;
        if (p.router.hasNonAuditRoutes) forward(record, 'malformed');
        warn(
          `malformed:${batch.source}`,
          { source: batch.source, file: batch.file, offset: record.offset, reason: r.reason },
          'malformed record skipped',
        );
        continue;
      }
      audit++;
      let event = r.event;
      if (!r.knownAction) bump(unknownByProduct, event.product);
      if (severityRank(event.severity) < minRank) {
        filtered++;
        continue;
      }
      event = p.redaction.apply(event);
      for (const rule of event.redacted.rules) bump(byRule, rule);
      const routed = p.router.route(event);
      for (const name of routed.matched) bump(byRoute, name);
      if (routed.sinks.length === 0) {
        stats.unrouted++;
        metrics.unrouted.inc();
        continue;
      }
      for (const s of routed.sinks) sinks.add(s);
      bump(byProductSeverity, `${event.product}\u0000${event.severity}`);
      items.push({ id: event.id, body: canonicalJson(event), sinks: routed.sinks });
    }
    for (const [route, n] of byRoute) metrics.routed.inc({ route }, n);
    for (const [rule, n] of byRule) metrics.redactions.inc({ rule }, n);
    for (const [product, n] of unknownByProduct) metrics.unknownActions.inc({ product }, n);
    for (const [key, n] of byProductSeverity) {
      const [product, severity] = key.split('\u0000') as [string, string];
      metrics.eventsIngested.inc({ product, severity }, n);
    }
    stats.audit += audit;
    stats.nonAudit += nonAudit;
    stats.malformed += malformed;
    stats.filtered += filtered;
    const src = batch.source;
    if (audit) metrics.records.inc({ source: src, outcome: 'audit' }, audit);
    if (nonAudit) metrics.records.inc({ source: src, outcome: 'non_audit' }, nonAudit);
    if (malformed) metrics.records.inc({ source: src, outcome: 'malformed' }, malformed);
    if (filtered) metrics.records.inc({ source: src, outcome: 'filtered' }, filtered);
    if (batch.oversized) {
      metrics.records.inc({ source: src, outcome: 'oversized' }, batch.oversized);
      warn(
        `oversized:${src}`,
        { source: src, file: batch.file, lines: batch.oversized },
        'lines longer than max_line_bytes were cut or skipped',
      );
    }
    return { items, sinks };
  };

  const handler: BatchHandler = async (batch) => {
    metrics.linesRead.inc({ source: batch.source }, batch.linesRead);
    metrics.bytesRead.inc({ source: batch.source }, batch.bytesRead);
    let { items, sinks } = process(batch);
    if (items.length > 0 && bufferFull()) {
      if (deps.buffer.when_full === 'drop_newest') {
        stats.dropped += items.length;
        metrics.records.inc({ source: batch.source, outcome: 'dropped' }, items.length);
        warn(
          'buffer_drop',
          { source: batch.source, events: items.length },
          'buffer full: events dropped (buffer.when_full: drop_newest)',
        );
        items = [];
        sinks = new Set();
      } else {
        await waitForSpace(batch.source);
      }
    }
    if (items.length === 0 && !batch.checkpoint) return;
    const r =
      items.length > 0 || batch.checkpoint
        ? store.ingestBatch(items, batch.checkpoint)
        : { inserted: 0, duplicates: 0 };
    stats.inserted += r.inserted;
    stats.duplicates += r.duplicates;
    if (r.duplicates) metrics.duplicates.inc({ source: batch.source }, r.duplicates);
    metrics.bufferBytes.set(store.bytesUsed());
    if (sinks.size > 0) deps.onQueued(sinks);
  };

  return {
    handler,
    swap(next) {
      parts = next;
    },
    spaceFreed() {
      const w = spaceWaiters;
      spaceWaiters = [];
      for (const f of w) f();
    },
    close() {
      closed = true;
      this.spaceFreed();
    },
    stats,
  };
}
