/**
 * The seam between the shared delivery loop (src/sinks/delivery.ts) and the
 * per-type sink modules. A sink module knows how to turn a batch into a
 * request and how to read the receiver's answer; batching, leasing,
 * retries, splitting, the DLQ and metrics live once, in the delivery loop.
 */

/** A buffered event as the delivery loop hands it to a sink. */
export interface QueuedEvent {
  /** Store sequence number (monotonic). */
  seq: number;
  /** The AuditEvent id. */
  id: string;
  /** Canonical JSON of the redacted AuditEvent. */
  readonly body: string;
  /**
   * The body's UTF-8 bytes, when the store kept them as bytes: a sink that sends bodies as
   * they are (NDJSON, a JSON array, a file) copies these instead of encoding `body` again.
   * Events leased from the store have it (then `body` is decoded only if a sink reads it).
   */
  readonly raw?: Buffer;
  /** UTF-8 byte length of body. */
  bytes: number;
  /** Epoch ms the event was ingested. */
  ingestedAt: number;
}

/** What the receiver's answer means for the batch. */
export type Verdict =
  | { kind: 'ok' }
  /** Transient: keep the rows, back off (at least `afterMs` when the receiver said so). */
  | { kind: 'retry'; reason: string; status?: number; afterMs?: number }
  /** Too large: split the batch in two and send the halves. */
  | { kind: 'split'; reason: string; status?: number }
  /** Malformed: bisect to find the poison event(s); a single event goes to the DLQ. */
  | { kind: 'reject'; reason: string; status?: number; body?: string }
  /** Misconfigured (401/403): mark unhealthy, retry slowly, never drop. */
  | { kind: 'unhealthy'; reason: string; status?: number };

export interface SinkDriver {
  readonly name: string;
  readonly type: string;
  /** Send one batch. Must not throw for receiver errors: map them to a Verdict. */
  send(batch: QueuedEvent[], signal: AbortSignal): Promise<Verdict>;
  /** Optional start-up check; failures are warnings, never block start. */
  healthcheck?(signal: AbortSignal): Promise<{ ok: boolean; message: string }>;
  /** Flush and release resources. */
  close(): Promise<void>;
}

/** Batching limits every sink config carries (resolved to numbers). */
export interface BatchLimits {
  maxEvents: number;
  maxBytes: number;
  /** Send a partial batch after this long. */
  timeoutMs: number;
  /**
   * Send a partial batch as soon as no new event has been queued for this sink for this
   * long (the input went quiet: nothing more is coming to fill it). Absent or 0: a partial
   * batch always waits out `timeoutMs`.
   */
  idleMs?: number;
}
