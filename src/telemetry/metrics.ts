/**
 * The agent's Prometheus metrics (prom-client). Naming follows Prometheus practice:
 * `auditshipper_` prefix, `_total` for counters, base units (bytes, seconds).
 * Label values are component names, products, severities, rule names and error classes:
 * never event content, never a secret.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaultMetrics !== false)
    collectDefaultMetrics({ register: registry, prefix: 'auditshipper_' });
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] });
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry] });

  return {
    registry,
    linesRead: counter('auditshipper_lines_read_total', 'Physical lines read from sources', [
      'source',
    ]),
    bytesRead: counter('auditshipper_bytes_read_total', 'Bytes read from sources', ['source']),
    records: counter(
      'auditshipper_records_total',
      'Records by outcome: audit, non_audit, malformed, oversized, filtered (below min_severity), dropped (buffer full)',
      ['source', 'outcome'],
    ),
    eventsIngested: counter(
      'auditshipper_events_ingested_total',
      'Audit events stored in the buffer',
      ['product', 'severity'],
    ),
    duplicates: counter(
      'auditshipper_events_duplicate_total',
      'Events not stored again because their id was already buffered (re-read after a crash)',
      ['source'],
    ),
    unknownActions: counter(
      'auditshipper_unknown_actions_total',
      'Audit events with an action not in the tables',
      ['product'],
    ),
    redactions: counter('auditshipper_redactions_total', 'Events changed by a redaction rule', [
      'rule',
    ]),
    routed: counter('auditshipper_events_routed_total', 'Events matched by a route', ['route']),
    unrouted: counter(
      'auditshipper_events_unrouted_total',
      'Events no route and no default matched',
      [],
    ),
    queueDepth: gauge('auditshipper_queue_depth_events', 'Events waiting for delivery', ['sink']),
    oldestPending: gauge(
      'auditshipper_queue_oldest_age_seconds',
      'Age of the oldest event waiting for delivery',
      ['sink'],
    ),
    delivered: counter('auditshipper_events_delivered_total', 'Events the sink acknowledged', [
      'sink',
    ]),
    deliveredBytes: counter(
      'auditshipper_delivered_bytes_total',
      'Bytes of events delivered (uncompressed)',
      ['sink'],
    ),
    deliveryErrors: counter(
      'auditshipper_delivery_errors_total',
      'Failed delivery attempts by class',
      ['sink', 'class'],
    ),
    retries: counter(
      'auditshipper_delivery_retries_total',
      'Batches scheduled for another attempt',
      ['sink'],
    ),
    deadLettered: counter(
      'auditshipper_dead_lettered_total',
      'Events moved to the dead-letter queue',
      ['sink'],
    ),
    dlqSize: gauge('auditshipper_dlq_events', 'Events in the dead-letter queue', ['sink']),
    sinkHealthy: gauge(
      'auditshipper_sink_healthy',
      '1 when the sink accepts our credentials, else 0',
      ['sink'],
    ),
    requestSeconds: new Histogram({
      name: 'auditshipper_request_duration_seconds',
      help: 'Time per delivery request',
      labelNames: ['sink'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    bufferBytes: gauge('auditshipper_buffer_bytes', 'Bytes held in the buffer', []),
    bufferMaxBytes: gauge('auditshipper_buffer_max_bytes', 'buffer.max_bytes', []),
    sourceLag: gauge(
      'auditshipper_source_lag_bytes',
      'Bytes written to a file but not yet committed',
      ['source', 'file'],
    ),
    filesMissingAtStart: gauge(
      'auditshipper_source_files_missing_at_start',
      'Files a source was reading when the agent last stopped that were gone at start (rotated away or deleted): lines written after their checkpoint were not read',
      ['source'],
    ),
    reloads: counter('auditshipper_config_reloads_total', 'Config reloads by result', ['result']),
    workerUp: gauge(
      'auditshipper_pipeline_worker_up',
      '1 while the stage worker thread (AUDITSHIPPER_WORKERS=1) is ready, 0 when off, starting or failed',
      [],
    ),
    offloaded: counter(
      'auditshipper_pipeline_offloaded_records_total',
      'Records parsed, redacted and routed in the stage worker thread',
      [],
    ),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
