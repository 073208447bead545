/**
 * The per-sink delivery loop, shared by every sink type.
 *
 * lease → send → verdict:
 *   ok         ack the rows (one transaction)
 *   retry      keep the rows; exponential backoff with full jitter, at least Retry-After
 *   split      413: send the halves (a single event that is still too large goes to the DLQ)
 *   reject     400: bisect until the poison event(s) are isolated; only those go to the DLQ
 *   unhealthy  401/403: mark the sink unhealthy, log once, retry slowly, never drop
 * Retry policy follows the consensus in research/sinks.md §4.4 (retry network errors,
 * timeouts, 408, 429, 5xx; split on 413; never retry 400; pause on 401/403).
 *
 * Leases live in memory: a cursor over the sink's queue. After a crash the rows are still
 * queued and are simply sent again (at-least-once, same event ids).
 */
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import type { BatchLimits, QueuedEvent, SinkDriver, Verdict } from './types.js';

export interface RetryPolicy {
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** After this long since ingest, a batch that still fails goes to the DLQ. Undefined = forever. */
  maxAgeMs?: number;
  /** Wait between tries while the sink is unhealthy (401/403). */
  unhealthyBackoffMs?: number;
}

/** Hooks the telemetry module attaches to; all optional. */
export interface DeliveryHooks {
  delivered?(sink: string, events: number, bytes: number): void;
  failed?(sink: string, errorClass: string, status: number | undefined): void;
  retried?(sink: string): void;
  deadLettered?(sink: string, events: number): void;
  latency?(sink: string, seconds: number): void;
  health?(sink: string, healthy: boolean): void;
}

export interface DeliveryOptions {
  sink: SinkDriver;
  store: Store;
  limits: BatchLimits;
  /** Requests in flight at once (batches stay in order within themselves). */
  concurrency: number;
  retry: RetryPolicy;
  logger: Logger;
  hooks?: DeliveryHooks;
  now?: () => number;
  random?: () => number;
}

export interface SinkState {
  sink: string;
  healthy: boolean;
  /** Epoch ms since when the sink is unhealthy (auth failures), null when healthy. */
  unhealthySince: number | null;
  /** Epoch ms since when deliveries keep failing (any verdict but ok), null when the last one succeeded. */
  failingSince: number | null;
  lastError: { at: number; message: string; status?: number } | null;
  inFlight: number;
  delivered: number;
  deadLettered: number;
}

export interface DeliveryLoop {
  readonly name: string;
  start(): void;
  /** New rows may be queued for this sink. */
  notify(): void;
  /** Stop leasing; let in-flight batches finish until `deadline` (epoch ms), then abort them. */
  stop(deadline: number): Promise<void>;
  state(): SinkState;
  /** Resolves when the queue is empty and nothing is in flight (used by stdin mode and tests). */
  idle(): Promise<void>;
}

class Stopped extends Error {}

/** The longest Retry-After we honour (beyond max_backoff). */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

export function createDeliveryLoop(o: DeliveryOptions): DeliveryLoop {
  const now = o.now ?? Date.now;
  const random = o.random ?? Math.random;
  const name = o.sink.name;
  const log = o.logger.child({ sink: name });
  // `abort` cancels requests (at the shutdown deadline); `halt` cancels backoff sleeps at once
  // when shutdown starts: a batch waiting to retry has nothing to flush.
  const abort = new AbortController();
  const halt = new AbortController();
  let running = false;
  /** Shutdown: send what is queued without waiting for batches to fill, until empty or the deadline. */
  let draining = false;
  let cursor = 0;
  let inFlight = 0;
  /** When notify() last said new rows were queued (0: not since start, so quiet already). */
  let lastQueuedAt = 0;
  const idleMs = o.limits.idleMs ?? 0;
  let wake: (() => void) | null = null;
  let mainLoop: Promise<void> | null = null;
  const inflightDone = new Set<Promise<void>>();
  const idleWaiters: (() => void)[] = [];
  const state: SinkState = {
    sink: name,
    healthy: true,
    unhealthySince: null,
    failingSince: null,
    lastError: null,
    inFlight: 0,
    delivered: 0,
    deadLettered: 0,
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve, reject) => {
      if (halt.signal.aborted) return reject(new Stopped());
      const t = setTimeout(
        () => {
          halt.signal.removeEventListener('abort', onAbort);
          resolve();
        },
        Math.max(0, ms),
      );
      const onAbort = () => {
        clearTimeout(t);
        reject(new Stopped());
      };
      halt.signal.addEventListener('abort', onAbort, { once: true });
    });

  /** Wait for notify() or `ms`, whichever first. */
  const waitForWork = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        wake = null;
        resolve();
      }
      wake = done;
    });

  const checkIdle = () => {
    if (inFlight === 0 && o.store.queueDepth(name) === 0) {
      for (const w of idleWaiters.splice(0)) w();
    }
  };

  const setHealthy = (healthy: boolean) => {
    if (state.healthy === healthy) return;
    state.healthy = healthy;
    state.unhealthySince = healthy ? null : now();
    o.hooks?.health?.(name, healthy);
  };

  /**
   * Backoff for attempt n (1-based): full jitter over min(max, initial·2^(n-1)), floored by the
   * receiver's Retry-After — itself capped, so a hostile or broken header cannot park a sink for days.
   */
  const backoff = (attempt: number, floorMs = 0) => {
    const cap = Math.min(
      o.retry.maxBackoffMs,
      o.retry.initialBackoffMs * 2 ** Math.min(attempt - 1, 30),
    );
    const floor = Math.min(floorMs, Math.max(o.retry.maxBackoffMs, MAX_RETRY_AFTER_MS));
    return Math.max(floor, Math.floor(random() * cap));
  };

  const bytesOf = (b: readonly QueuedEvent[]) => b.reduce((n, e) => n + e.bytes, 0);

  const sendOnce = async (batch: QueuedEvent[]): Promise<Verdict> => {
    const t0 = performance.now();
    let onAbort: (() => void) | undefined;
    try {
      // Race the driver against shutdown: a driver that ignores the signal cannot hold up exit.
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(new Stopped());
        if (abort.signal.aborted) onAbort();
        else abort.signal.addEventListener('abort', onAbort, { once: true });
      });
      return await Promise.race([o.sink.send(batch, abort.signal), aborted]);
    } catch (err) {
      if (abort.signal.aborted) throw new Stopped();
      // A driver should map every failure to a verdict; a throw is treated as transient.
      return { kind: 'retry', reason: `unexpected error: ${(err as Error).message}` };
    } finally {
      if (onAbort) abort.signal.removeEventListener('abort', onAbort);
      o.hooks?.latency?.(name, (performance.now() - t0) / 1000);
    }
  };

  const deadLetter = (
    batch: QueuedEvent[],
    why: { status?: number; reason: string; response?: string },
  ) => {
    o.store.deadLetter(name, batch, why);
    state.deadLettered += batch.length;
    o.hooks?.deadLettered?.(name, batch.length);
    log.error(
      {
        events: batch.length,
        status: why.status,
        reason: why.reason,
        ids: batch.slice(0, 5).map((e) => e.id),
      },
      'events moved to the dead-letter queue',
    );
  };

  /** Deliver one batch to completion: acked or dead-lettered. Throws Stopped on shutdown. */
  const deliver = async (batch: QueuedEvent[]): Promise<void> => {
    let attempt = 0;
    let unhealthyLogged = false;
    for (;;) {
      if (abort.signal.aborted) throw new Stopped();
      const v = await sendOnce(batch);
      if (v.kind === 'ok') state.failingSince = null;
      else if (v.kind === 'retry' || v.kind === 'unhealthy') state.failingSince ??= now();
      switch (v.kind) {
        case 'ok': {
          o.store.ackBatch(
            name,
            batch.map((e) => e.seq),
          );
          state.delivered += batch.length;
          o.hooks?.delivered?.(name, batch.length, bytesOf(batch));
          if (!state.healthy) log.info('sink recovered');
          setHealthy(true);
          return;
        }
        case 'split':
        case 'reject': {
          o.hooks?.failed?.(name, v.kind === 'split' ? 'too_large' : 'rejected', v.status);
          if (batch.length === 1) {
            deadLetter(batch, {
              status: v.status,
              reason:
                v.kind === 'split' ? `event too large for the receiver: ${v.reason}` : v.reason,
              response: v.kind === 'reject' ? v.body : undefined,
            });
            return;
          }
          // Bisect, in order: the good halves are delivered, only poison reaches the DLQ.
          const mid = Math.ceil(batch.length / 2);
          await deliver(batch.slice(0, mid));
          await deliver(batch.slice(mid));
          return;
        }
        case 'unhealthy': {
          o.hooks?.failed?.(name, 'unauthorized', v.status);
          state.lastError = { at: now(), message: v.reason, status: v.status };
          setHealthy(false);
          if (!unhealthyLogged) {
            unhealthyLogged = true;
            log.error(
              { status: v.status },
              `sink ${name} refuses our credentials (${v.reason}); check its api key or token. ` +
                'Events stay buffered and are retried.',
            );
          }
          await sleep(o.retry.unhealthyBackoffMs ?? Math.max(o.retry.maxBackoffMs, 30_000));
          continue;
        }
        case 'retry': {
          attempt++;
          o.hooks?.failed?.(name, v.status ? `http_${v.status}` : 'network', v.status);
          o.hooks?.retried?.(name);
          state.lastError = { at: now(), message: v.reason, status: v.status };
          const oldest = Math.min(...batch.map((e) => e.ingestedAt));
          if (o.retry.maxAgeMs !== undefined && now() - oldest > o.retry.maxAgeMs) {
            deadLetter(batch, {
              status: v.status,
              reason: `gave up after ${attempt} attempts (retry.max_age exceeded): ${v.reason}`,
            });
            return;
          }
          const wait = backoff(attempt, v.afterMs ?? 0);
          if (attempt === 1 || attempt % 10 === 0) {
            log.warn(
              { attempt, status: v.status, retryInMs: wait },
              `delivery failed, will retry: ${v.reason}`,
            );
          }
          await sleep(wait);
          continue;
        }
      }
    }
  };

  const dispatch = (batch: QueuedEvent[]) => {
    inFlight++;
    leasedEvents += batch.length;
    state.inFlight = inFlight;
    const p = deliver(batch)
      .catch((err) => {
        // A batch that cannot be sent during shutdown stays queued; stop draining this sink.
        if (err instanceof Stopped) running = false;
        else log.error({ err: (err as Error).message }, 'delivery loop error');
      })
      .finally(() => {
        inFlight--;
        leasedEvents -= batch.length;
        state.inFlight = inFlight;
        inflightDone.delete(p);
        wake?.();
        checkIdle();
      });
    inflightDone.add(p);
  };

  /** Events leased and not yet acked or dead-lettered (still counted in the queue depth). */
  let leasedEvents = 0;
  /** Moving average of event size, to tell from counts alone when a batch would be full. */
  let avgBytes = 1024;

  const run = async () => {
    while (running) {
      if (inFlight >= o.concurrency) {
        await waitForWork(1000);
        continue;
      }
      // Decide from the in-memory depth whether a batch is ready before reading any body:
      // leasing rows only to find the batch too small (and leasing them again later) was
      // a large part of the store's cost under load.
      const pending = o.store.queueDepth(name) - leasedEvents;
      const fullCount = Math.max(
        1,
        Math.min(o.limits.maxEvents, Math.floor(o.limits.maxBytes / avgBytes)),
      );
      if (pending <= 0) {
        checkIdle();
        if (draining && inFlight === 0) break;
        await waitForWork(draining ? 50 : 1000);
        continue;
      }
      if (pending < fullCount && !draining) {
        // A partial batch waits until its oldest event is `timeoutMs` old, to fill up, unless
        // nothing has been queued for `idleMs`: then nothing is coming to fill it (the
        // source caught up, the burst is over) and waiting only delays delivery.
        let oldest: number | null;
        try {
          oldest = o.store.peekOldest(name, cursor);
        } catch (err) {
          log.error({ err: (err as Error).message }, 'cannot read the buffer; retrying');
          await waitForWork(1000);
          continue;
        }
        if (oldest === null) {
          // Depth counted rows we cannot see yet (another process changed the buffer).
          await waitForWork(200);
          continue;
        }
        const t = now();
        const age = t - oldest;
        const quiet = t - lastQueuedAt;
        if (age < o.limits.timeoutMs && (idleMs <= 0 || quiet < idleMs)) {
          const untilQuiet = idleMs > 0 ? idleMs - quiet : Infinity;
          await waitForWork(Math.min(o.limits.timeoutMs - age, untilQuiet));
          continue;
        }
      }
      let batch: QueuedEvent[];
      try {
        batch = o.store.leaseBatch(name, cursor, o.limits.maxEvents, o.limits.maxBytes);
      } catch (err) {
        log.error({ err: (err as Error).message }, 'cannot read the buffer; retrying');
        await waitForWork(1000);
        continue;
      }
      if (batch.length === 0) {
        await waitForWork(200);
        continue;
      }
      avgBytes = Math.max(1, Math.round(avgBytes * 0.8 + (bytesOf(batch) / batch.length) * 0.2));
      cursor = batch[batch.length - 1]!.seq;
      dispatch(batch);
    }
  };

  return {
    name,
    start() {
      if (running) return;
      running = true;
      mainLoop = run();
    },
    notify() {
      lastQueuedAt = now();
      wake?.();
    },
    async stop(deadline) {
      // Drain: keep sending what is queued (no batch-fill waits) until the queue is empty,
      // a send fails (backoff sleeps are cancelled at once: a failing sink is not waited
      // for), or the deadline passes; then abort what is still in flight. Anything unsent
      // stays buffered for the next start.
      draining = true;
      halt.abort();
      wake?.();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>(
        (r) => (timer = setTimeout(() => r('timeout'), Math.max(0, deadline - now()))),
      );
      const drained = (async () => {
        await mainLoop;
        await Promise.all([...inflightDone]);
        return 'done' as const;
      })();
      const r = await Promise.race([drained, timedOut]);
      clearTimeout(timer);
      running = false;
      wake?.();
      if (r === 'timeout') {
        log.warn(
          { inFlight, queued: o.store.queueDepth(name) },
          'shutdown timeout reached; undelivered events stay buffered for the next start',
        );
      }
      abort.abort();
      await mainLoop;
      await Promise.allSettled([...inflightDone]);
      await o.sink.close();
    },
    state: () => ({ ...state }),
    idle() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        checkIdle();
      });
    },
  };
}
