/**
 * Config pieces every sink carries: batch limits, request settings, retry policy, and (for
 * the HTTP sinks that can talk to private endpoints) TLS. Each sink module spreads
 * `commonSinkKeys(defaults)` into its own z.strictObject so the keys and their meaning are
 * identical across sink types, while the defaults follow each receiver's documented limits.
 */
import { z } from 'zod';
import { zDuration, zSize } from '../config/zod-units.js';
import type { BatchLimits } from './types.js';

/** Per-sink defaults (and hard ceilings) for the batch keys. */
export interface BatchDefaults {
  maxEvents: number;
  maxBytes: number;
  timeout: string;
  /** Send a partial batch early once no new event has arrived for this long. */
  idleFlush?: string;
  /** Receiver-imposed ceilings: a config above them can only ever produce rejected requests. */
  ceilingEvents?: number;
  ceilingBytes?: number;
  /** Named in the error message when a ceiling is exceeded, e.g. "Datadog accepts at most ...". */
  receiver?: string;
}

/**
 * How long the input must be quiet before a partial batch is sent without waiting out
 * `batch.timeout`. Long enough that events arriving in a steady stream (a few a second
 * or more) still fill batches, short enough that the last events of a burst are not held
 * back for the whole timeout when nothing more is coming.
 */
export const DEFAULT_IDLE_FLUSH = '200ms';

export function batchSchema(d: BatchDefaults) {
  return z
    .strictObject({
      max_events: z.number().int().positive().default(d.maxEvents),
      max_bytes: zSize.prefault(d.maxBytes),
      timeout: zDuration.prefault(d.timeout),
      idle_flush: zDuration.prefault(d.idleFlush ?? DEFAULT_IDLE_FLUSH),
    })
    .superRefine((b, ctx) => {
      if (b.max_bytes <= 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['max_bytes'],
          message: 'max_bytes must be positive',
        });
      }
      if (d.ceilingEvents !== undefined && b.max_events > d.ceilingEvents) {
        ctx.addIssue({
          code: 'custom',
          path: ['max_events'],
          message: `${d.receiver ?? 'this receiver'} accepts at most ${d.ceilingEvents} events per request`,
        });
      }
      if (d.ceilingBytes !== undefined && b.max_bytes > d.ceilingBytes) {
        ctx.addIssue({
          code: 'custom',
          path: ['max_bytes'],
          message: `${d.receiver ?? 'this receiver'} accepts at most ${d.ceilingBytes} bytes (uncompressed) per request`,
        });
      }
    });
}

export const requestSchema = z.strictObject({
  /** Whole-request deadline (connect + send + response). Timeouts are retried. */
  timeout: zDuration.prefault('30s'),
  /** Requests in flight at once for this sink; the delivery loop keeps batch order. */
  concurrency: z.number().int().min(1).max(64).default(1),
});

export const retrySchema = z
  .strictObject({
    initial_backoff: zDuration.prefault('1s'),
    max_backoff: zDuration.prefault('60s'),
    /** Events older than this (since ingest) stop being retried and go to the DLQ. Unset: retry forever. */
    max_age: zDuration.optional(),
    /** Wait between tries while the receiver refuses our credentials (401/403): slow, never dropping. */
    unhealthy_backoff: zDuration.prefault('30s'),
  })
  .superRefine((r, ctx) => {
    if (r.initial_backoff <= 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['initial_backoff'],
        message: 'initial_backoff must be positive',
      });
    }
    if (r.max_backoff < r.initial_backoff) {
      ctx.addIssue({
        code: 'custom',
        path: ['max_backoff'],
        message: 'max_backoff must be at least initial_backoff',
      });
    }
    if (r.max_age !== undefined && r.max_age <= 0) {
      ctx.addIssue({ code: 'custom', path: ['max_age'], message: 'max_age must be positive' });
    }
  });

/**
 * TLS for endpoints with a private CA or mutual TLS. Paths are read once when the sink is
 * created; the files themselves are never logged.
 */
export const tlsSchema = z
  .strictObject({
    ca_file: z.string().min(1).optional(),
    cert_file: z.string().min(1).optional(),
    key_file: z.string().min(1).optional(),
    /** Verify the server certificate and host name. Turning it off is logged at every start. */
    verify: z.boolean().default(true),
  })
  .superRefine((t, ctx) => {
    if ((t.cert_file === undefined) !== (t.key_file === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [t.cert_file === undefined ? 'cert_file' : 'key_file'],
        message:
          'cert_file and key_file must be given together (client certificate for mutual TLS)',
      });
    }
  });

/** The keys every sink config has; spread into the sink's z.strictObject. */
export function commonSinkKeys(d: BatchDefaults) {
  return {
    batch: batchSchema(d).prefault({}),
    request: requestSchema.prefault({}),
    retry: retrySchema.prefault({}),
  };
}

/** For sinks whose receiver has a health/validation endpoint: run it at start-up (warns, never blocks). */
export const healthcheckKey = z.boolean().default(true);

export type BatchConfig = z.output<ReturnType<typeof batchSchema>>;
export type RequestConfig = z.output<typeof requestSchema>;
export type RetryConfig = z.output<typeof retrySchema>;
export type TlsConfig = z.output<typeof tlsSchema>;

export function resolveBatchLimits(b: BatchConfig): BatchLimits {
  return {
    maxEvents: b.max_events,
    maxBytes: b.max_bytes,
    timeoutMs: b.timeout,
    idleMs: b.idle_flush,
  };
}

/** Absolute http(s) URL; credentials in the URL are refused so they cannot end up in logs. */
export const zHttpUrl = z.string().superRefine((s, ctx) => {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    ctx.addIssue({
      code: 'custom',
      message: 'must be an absolute URL such as https://host:port/path',
    });
    return;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    ctx.addIssue({
      code: 'custom',
      message: `unsupported scheme ${u.protocol} (use http or https)`,
    });
  }
  if (u.username !== '' || u.password !== '') {
    ctx.addIssue({
      code: 'custom',
      message:
        'credentials in the URL are not allowed: use the auth keys (with ${ENV} interpolation)',
    });
  }
  if (u.hash !== '') {
    ctx.addIssue({ code: 'custom', message: 'a URL fragment (#...) is never sent: remove it' });
  }
});
