import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDeliveryLoop, type DeliveryOptions } from '../../src/sinks/delivery.js';
import type { QueuedEvent, SinkDriver, Verdict } from '../../src/sinks/types.js';
import { openStore, type Store } from '../../src/store/store.js';

let dir: string;
let store: Store;
const logger = pino({ level: 'silent' });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'as-deliv-'));
  store = openStore({ dataDir: dir, sync: 'normal', keepDeliveredMs: 0 });
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function ingest(n: number, from = 0) {
  store.ingestBatch(
    Array.from({ length: n }, (_, i) => ({
      id: `e${from + i}`,
      body: JSON.stringify({ id: `e${from + i}` }),
      sinks: ['s'],
    })),
    null,
  );
}

/** A scripted sink: `answer` decides the verdict per call; records every batch it saw. */
function fakeSink(answer: (batch: QueuedEvent[], call: number) => Verdict | Promise<Verdict>) {
  const calls: string[][] = [];
  const delivered: string[] = [];
  const driver: SinkDriver = {
    name: 's',
    type: 'fake',
    async send(batch) {
      calls.push(batch.map((e) => e.id));
      const v = await answer(batch, calls.length);
      if (v.kind === 'ok') delivered.push(...batch.map((e) => e.id));
      return v;
    },
    close: () => Promise.resolve(),
  };
  return { driver, calls, delivered };
}

function loop(driver: SinkDriver, over: Partial<DeliveryOptions> = {}) {
  return createDeliveryLoop({
    sink: driver,
    store,
    limits: { maxEvents: 10, maxBytes: 1e6, timeoutMs: 0 },
    concurrency: 1,
    retry: { initialBackoffMs: 5, maxBackoffMs: 20, unhealthyBackoffMs: 10 },
    logger,
    ...over,
  });
}

const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `e${from + i}`);

describe('delivery loop', () => {
  it('delivers everything in order and acks it', async () => {
    ingest(25);
    const f = fakeSink(() => ({ kind: 'ok' }));
    const l = loop(f.driver);
    l.start();
    await l.idle();
    expect(f.delivered).toEqual(ids(25));
    expect(f.calls.map((c) => c.length)).toEqual([10, 10, 5]);
    expect(store.queueDepth('s')).toBe(0);
    await l.stop(Date.now());
  });

  it('retries transient failures with the same batch until it succeeds', async () => {
    ingest(3);
    const f = fakeSink((_b, call) =>
      call < 4 ? { kind: 'retry', reason: 'HTTP 503', status: 503 } : { kind: 'ok' },
    );
    const l = loop(f.driver);
    l.start();
    await l.idle();
    expect(f.calls).toEqual([ids(3), ids(3), ids(3), ids(3)]);
    expect(l.state().lastError?.status).toBe(503);
    await l.stop(Date.now());
  });

  it('waits at least Retry-After before the next try', async () => {
    ingest(1);
    const times: number[] = [];
    const f = fakeSink((_b, call) => {
      times.push(Date.now());
      return call === 1
        ? { kind: 'retry', reason: '429', status: 429, afterMs: 300 }
        : { kind: 'ok' };
    });
    const l = loop(f.driver);
    l.start();
    await l.idle();
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(290);
    await l.stop(Date.now());
  });

  it('splits a batch the receiver finds too large, and dead-letters a single oversize event', async () => {
    ingest(8);
    const f = fakeSink((b) =>
      b.some((e) => e.id === 'e5')
        ? b.length > 1
          ? { kind: 'split', reason: '413' }
          : { kind: 'split', reason: '413', status: 413 }
        : b.length > 2
          ? { kind: 'split', reason: '413' }
          : { kind: 'ok' },
    );
    const l = loop(f.driver);
    l.start();
    await l.idle();
    expect(f.delivered.sort()).toEqual(
      ids(8)
        .filter((i) => i !== 'e5')
        .sort(),
    );
    const dl = store.listDeadLetters();
    expect(dl.map((d) => d.eventId)).toEqual(['e5']);
    expect(dl[0]!.reason).toMatch(/too large/);
    await l.stop(Date.now());
  });

  it('bisects a rejected batch: only the poison event reaches the DLQ', async () => {
    ingest(10);
    const f = fakeSink((b) =>
      b.some((e) => e.id === 'e7')
        ? { kind: 'reject', reason: 'HTTP 400', status: 400, body: '{"error":"bad"}' }
        : { kind: 'ok' },
    );
    const l = loop(f.driver);
    l.start();
    await l.idle();
    expect(f.delivered).toEqual(ids(10).filter((i) => i !== 'e7'));
    const dl = store.listDeadLetters();
    expect(dl).toHaveLength(1);
    expect(dl[0]).toMatchObject({ eventId: 'e7', status: 400, response: '{"error":"bad"}' });
    expect(l.state().deadLettered).toBe(1);
    await l.stop(Date.now());
  });

  it('keeps events while credentials are refused, and recovers', async () => {
    ingest(2);
    const health: boolean[] = [];
    const f = fakeSink((_b, call) =>
      call <= 3 ? { kind: 'unhealthy', reason: 'HTTP 403', status: 403 } : { kind: 'ok' },
    );
    const l = loop(f.driver, { hooks: { health: (_s, ok) => health.push(ok) } });
    l.start();
    await l.idle();
    expect(f.delivered).toEqual(ids(2));
    expect(store.listDeadLetters()).toHaveLength(0);
    expect(health).toEqual([false, true]);
    expect(l.state().healthy).toBe(true);
    await l.stop(Date.now());
  });

  it('dead-letters a batch that keeps failing past retry.max_age', async () => {
    ingest(2);
    const f = fakeSink(() => ({ kind: 'retry', reason: 'connection refused' }));
    const l = loop(f.driver, { retry: { initialBackoffMs: 5, maxBackoffMs: 10, maxAgeMs: 50 } });
    l.start();
    await l.idle();
    const dl = store.listDeadLetters();
    expect(dl.map((d) => d.eventId)).toEqual(ids(2));
    expect(dl[0]!.reason).toMatch(/max_age/);
    await l.stop(Date.now());
  });

  it('stops promptly while a batch waits to retry, leaving it queued', async () => {
    ingest(3);
    const f = fakeSink(() => ({ kind: 'retry', reason: 'down' }));
    const l = loop(f.driver, {
      retry: { initialBackoffMs: 60_000, maxBackoffMs: 60_000 },
      random: () => 1,
    });
    l.start();
    while (f.calls.length === 0) await new Promise((r) => setTimeout(r, 5));
    const t0 = Date.now();
    await l.stop(Date.now() + 30_000);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(store.queueDepth('s')).toBe(3);
  });

  it('drains queued events on stop without waiting for batches to fill', async () => {
    ingest(25);
    const f = fakeSink(() => ({ kind: 'ok' }));
    const l = loop(f.driver, { limits: { maxEvents: 10, maxBytes: 1e6, timeoutMs: 60_000 } });
    l.start();
    await new Promise((r) => setTimeout(r, 50));
    await l.stop(Date.now() + 5_000);
    expect(f.delivered).toEqual(ids(25));
    expect(store.queueDepth('s')).toBe(0);
  });

  it('aborts an in-flight request at the shutdown deadline, leaving it queued', async () => {
    ingest(1);
    const f = fakeSink(() => new Promise<Verdict>(() => {}));
    const l = loop(f.driver);
    l.start();
    while (f.calls.length === 0) await new Promise((r) => setTimeout(r, 5));
    await l.stop(Date.now() + 100);
    expect(store.queueDepth('s')).toBe(1);
  });

  it('waits for a partial batch to fill until the batch timeout', async () => {
    ingest(3);
    const f = fakeSink(() => ({ kind: 'ok' }));
    const l = loop(f.driver, { limits: { maxEvents: 10, maxBytes: 1e6, timeoutMs: 300 } });
    l.start();
    await new Promise((r) => setTimeout(r, 50));
    ingest(4, 3);
    l.notify();
    await l.idle();
    expect(f.calls).toEqual([ids(7)]);
    await l.stop(Date.now());
  });

  it('sends a partial batch once nothing new has been queued for idle_flush', async () => {
    ingest(3);
    const f = fakeSink(() => ({ kind: 'ok' }));
    const limits = { maxEvents: 10, maxBytes: 1e6, timeoutMs: 60_000, idleMs: 100 };
    const l = loop(f.driver, { limits });
    l.notify();
    const t0 = Date.now();
    l.start();
    await l.idle();
    // Without the idle flush the three events would wait out the 60 s batch timeout.
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect(f.calls).toEqual([ids(3)]);
    await l.stop(Date.now());
  });

  it('keeps filling a partial batch while events keep arriving faster than idle_flush', async () => {
    const f = fakeSink(() => ({ kind: 'ok' }));
    const limits = { maxEvents: 100, maxBytes: 1e6, timeoutMs: 60_000, idleMs: 400 };
    const l = loop(f.driver, { limits });
    l.start();
    for (let i = 0; i < 6; i++) {
      ingest(2, i * 2);
      l.notify();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(f.calls).toEqual([]);
    await l.idle();
    expect(f.calls).toEqual([ids(12)]);
    await l.stop(Date.now());
  });

  it('sends at the batch timeout even while events keep arriving', async () => {
    const f = fakeSink(() => ({ kind: 'ok' }));
    const limits = { maxEvents: 1000, maxBytes: 1e6, timeoutMs: 150, idleMs: 60_000 };
    const l = loop(f.driver, { limits });
    l.start();
    const t0 = Date.now();
    for (let i = 0; f.calls.length === 0 && Date.now() - t0 < 10_000; i++) {
      ingest(1, i);
      l.notify();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(f.calls.length).toBe(1);
    expect(f.calls[0]!.length).toBeGreaterThan(1);
    await l.stop(Date.now() + 1000);
  });

  it('keeps several requests in flight with concurrency > 1', async () => {
    ingest(40);
    let inFlight = 0;
    let peak = 0;
    const f = fakeSink(async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 30));
      inFlight--;
      return { kind: 'ok' };
    });
    const l = loop(f.driver, { concurrency: 3 });
    l.start();
    await l.idle();
    expect(peak).toBe(3);
    expect(f.delivered.sort()).toEqual(ids(40).sort());
    await l.stop(Date.now());
  });

  it('treats a throwing driver as a transient failure', async () => {
    ingest(1);
    const f = fakeSink((_b, call) => {
      if (call === 1) throw new Error('boom');
      return { kind: 'ok' };
    });
    const l = loop(f.driver);
    l.start();
    await l.idle();
    expect(f.delivered).toEqual(['e0']);
    await l.stop(Date.now());
  });
});
