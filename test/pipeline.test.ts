import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildPipelineParts } from '../src/components.js';
import { configSchema, type Config } from '../src/config/schema.js';
import { createPipeline, type Pipeline } from '../src/pipeline.js';
import type { SourceBatch } from '../src/sources/types.js';
import { openStore, type IngestItem, type Store } from '../src/store/store.js';
import { createMetrics } from '../src/telemetry/metrics.js';
import { batchOf, capture, mixedLines, richConfig, TS_WORKER } from './pipeline/fixtures.js';

let dir: string;
let store: Store;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'as-pipe-'));
  store = openStore({ dataDir: dir, sync: 'normal', keepDeliveredMs: 0 });
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function config(extra: Record<string, unknown> = {}): Config {
  return configSchema.parse({
    sources: { app: { type: 'file', include: ['/x/*.log'], format: 'json' } },
    sinks: { a: { type: 'file', path: '/tmp/a' }, logs: { type: 'file', path: '/tmp/logs' } },
    routes: [{ name: 'all', to: ['a'] }],
    ...extra,
  });
}

const audit = (id: number, action = 'QUERY_RUN') =>
  JSON.stringify({
    id,
    userId: 1,
    actionType: action,
    createdAt: '2026-11-21T10:00:00Z',
    metadata: { headers: { Cookie: 'sid=secret-cookie' } },
  });

/** A file-source batch of `lines` starting at byte `offset0`. */
function batch(lines: string[], offset0 = 0): SourceBatch {
  return batchOf(lines, { offset: offset0 });
}

function pipeline(cfg: Config, queued: string[] = []) {
  const metrics = createMetrics({ defaultMetrics: false });
  const p = createPipeline(buildPipelineParts(cfg), {
    store,
    buffer: cfg.buffer,
    logger: pino({ level: 'silent' }),
    metrics,
    onQueued: (s) => queued.push(...s),
  });
  return { p, metrics };
}

describe('pipeline', () => {
  it('parses, redacts, routes and commits records with the checkpoint', async () => {
    const queued: string[] = [];
    const { p } = pipeline(config(), queued);
    await p.handler(batch([audit(1), '{"msg":"plain"}', '{"actionType": oops', audit(2)]));
    expect(p.stats).toMatchObject({ audit: 2, nonAudit: 1, malformed: 1, inserted: 2 });
    expect(queued).toEqual(['a']);
    const rows = store.leaseBatch('a', 0, 10, 1e9);
    expect(rows).toHaveLength(2);
    expect(rows[0]!.body).not.toContain('secret-cookie');
    expect(store.loadCheckpoints('app')[0]!.offset).toBeGreaterThan(0);
  });

  it('commits the checkpoint of a batch without events', async () => {
    const { p } = pipeline(config());
    await p.handler(batch(['{"msg":"plain"}'], 100));
    expect(store.loadCheckpoints('app')[0]!.offset).toBe(116);
  });

  it('drops events below audit.min_severity, counting them', async () => {
    const { p, metrics } = pipeline(config({ audit: { min_severity: 'critical' } }));
    await p.handler(batch([audit(1), audit(2, 'DELETE_GROUP')]));
    expect(p.stats).toMatchObject({ filtered: 1, inserted: 1 });
    const m = await metrics.records.get();
    expect(m.values.find((v) => v.labels.outcome === 'filtered')?.value).toBe(1);
  });

  it('counts unrouted events and never stores them', async () => {
    const { p, metrics } = pipeline(
      config({ routes: [{ name: 'crit', when: { severity: 'critical' }, to: ['a'] }] }),
    );
    await p.handler(batch([audit(1)]));
    expect(p.stats.unrouted).toBe(1);
    expect((await metrics.unrouted.get()).values[0]!.value).toBe(1);
    expect(store.queueDepth('a')).toBe(0);
  });

  it('forwards non-audit and malformed lines to non_audit routes, redacted', async () => {
    const { p } = pipeline(
      config({
        routes: [
          { name: 'all', to: ['a'] },
          { name: 'rest', non_audit: true, to: ['logs'] },
        ],
      }),
    );
    await p.handler(
      batch([
        audit(1),
        '{"msg":"login","password":"hunter2"}',
        'plain text Bearer abc123def456ghi789jkl',
      ]),
    );
    const logs = store.leaseBatch('logs', 0, 10, 1e9).map((r) => JSON.parse(r.body));
    expect(logs).toHaveLength(2);
    expect(logs[0]).toMatchObject({
      product: 'log',
      action: 'non_audit',
      detail: { msg: 'login', password: '[REDACTED]' },
    });
    expect(JSON.stringify(logs)).not.toContain('hunter2');
    expect(JSON.stringify(logs)).not.toContain('abc123def456ghi789jkl');
    expect(store.queueDepth('a')).toBe(1);
  });

  it('re-reading a batch after a crash inserts nothing twice', async () => {
    const { p } = pipeline(config());
    await p.handler(batch([audit(1), audit(2)]));
    await p.handler(batch([audit(1), audit(2)]));
    expect(p.stats).toMatchObject({ inserted: 2, duplicates: 2 });
  });

  it('blocks while the buffer is full and resumes when space is freed', async () => {
    const cfg = config({ buffer: { max_bytes: 1 } });
    const { p } = pipeline(cfg);
    await p.handler(batch([audit(1)]));
    let done = false;
    const second = p.handler(batch([audit(2)], 1000)).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(done).toBe(false);
    const rows = store.leaseBatch('a', 0, 10, 1e9);
    store.ackBatch(
      'a',
      rows.map((r) => r.seq),
    );
    p.spaceFreed();
    await second;
    expect(done).toBe(true);
    expect(store.queueDepth('a')).toBe(1);
  });

  it('drops and counts with when_full: drop_newest, still advancing the checkpoint', async () => {
    const { p, metrics } = pipeline(config({ buffer: { max_bytes: 1, when_full: 'drop_newest' } }));
    await p.handler(batch([audit(1)]));
    await p.handler(batch([audit(2), audit(3)], 1000));
    expect(p.stats.dropped).toBe(2);
    expect(store.queueDepth('a')).toBe(1);
    expect(store.loadCheckpoints('app')[0]!.offset).toBeGreaterThan(1000);
    const m = await metrics.records.get();
    expect(m.values.find((v) => v.labels.outcome === 'dropped')?.value).toBe(2);
  });

  it('a blocked handler gives up when the pipeline closes (shutdown)', async () => {
    const { p } = pipeline(config({ buffer: { max_bytes: 1 } }));
    await p.handler(batch([audit(1)]));
    const blocked = p.handler(batch([audit(2)], 1000));
    p.close();
    await expect(blocked).rejects.toThrow(/closed/);
  });
});

/** A body as text, whichever form the pipeline handed the store (a string or UTF-8 bytes). */
const bodyText = (b: string | Uint8Array) =>
  typeof b === 'string' ? b : Buffer.from(b.buffer, b.byteOffset, b.length).toString('utf8');

/** A store that also records every ingestBatch call's items (bodies as text). */
function recording(s: Store) {
  const calls: (IngestItem & { body: string })[][] = [];
  const proxy = new Proxy(s, {
    get(target, key, receiver) {
      if (key === 'ingestBatch')
        return (items: IngestItem[], cp: Parameters<Store['ingestBatch']>[1]) => {
          calls.push(items.map((i) => ({ ...i, body: bodyText(i.body) })));
          return target.ingestBatch(items, cp);
        };
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  return { store: proxy, calls };
}

const TIME = '2026-11-21T10:00:00.123Z';

describe('pipeline with a stage worker', () => {
  const opened: { p: Pipeline; s?: Store; dir?: string }[] = [];
  afterEach(() => {
    for (const o of opened.splice(0)) {
      o.p.close();
      o.s?.close();
      if (o.dir) rmSync(o.dir, { recursive: true, force: true });
    }
  });

  function withWorker(cfg: Config, opts: { url?: URL; own?: boolean } = {}) {
    let s = store;
    let d: string | undefined;
    if (opts.own) {
      d = mkdtempSync(join(tmpdir(), 'as-pipe-w-'));
      s = openStore({ dataDir: d, sync: 'normal', keepDeliveredMs: 0 });
    }
    const rec = recording(s);
    const metrics = createMetrics({ defaultMetrics: false });
    const log = capture();
    const p = createPipeline(buildPipelineParts(cfg), {
      store: rec.store,
      buffer: cfg.buffer,
      logger: log.logger,
      metrics,
      onQueued: () => {},
      worker: { config: cfg, url: opts.url ?? TS_WORKER },
    });
    opened.push({ p, s: opts.own ? s : undefined, dir: d });
    return { p, metrics, log, calls: rec.calls, store: s };
  }
  const ready = (p: Pipeline) =>
    vi.waitFor(() => expect(p.workerState).toBe('ready'), { timeout: 20_000, interval: 20 });
  /** Log lines without the fields that differ between any two runs. */
  const logOf = (lines: Record<string, unknown>[]) =>
    lines
      .filter((l) => (l.level as number) >= 30) // debug: the worker's own start-up line
      .map(({ time: _t, pid: _p, hostname: _h, ...rest }) => rest);

  it('the worker path stores, counts and logs exactly what the in-thread path does', async () => {
    const cfg = richConfig();
    const here = withWorker(cfg);
    const there = withWorker(cfg, { own: true });
    // The in-thread twin: same config, no worker.
    here.p.swap(buildPipelineParts(cfg));
    expect(here.p.workerState).toBe('off');
    await ready(there.p);
    const batches = [
      batchOf(mixedLines(400, 3), { time: TIME, oversized: 2 }),
      batchOf(mixedLines(1000, 4), { offset: 1_000_000, time: TIME }),
      batchOf(mixedLines(30, 5), { offset: 3_000_000, time: TIME }),
      batchOf(mixedLines(700, 6), { offset: 4_000_000, time: TIME }),
    ];
    for (const b of batches) {
      await here.p.handler(b);
      await there.p.handler(b);
    }
    expect(there.p.stats.offloaded).toBeGreaterThan(0);
    expect(here.p.stats.offloaded).toBe(0);
    expect(there.p.workerState).toBe('ready');
    // One ingestBatch per batch, byte-identical items, in record order.
    expect(there.calls).toHaveLength(batches.length);
    expect(JSON.stringify(there.calls)).toBe(JSON.stringify(here.calls));
    const bodies = there.calls.flat().map((i) => i.body);
    expect(bodies.some((b) => b.includes('"action":"non_audit"'))).toBe(true);
    expect(bodies.some((b) => b.includes('"action":"malformed"'))).toBe(true);
    expect(bodies.some((b) => b.includes('hmac:v1:'))).toBe(true);
    expect(bodies.join('\n')).not.toContain('example.com');
    const { offloaded: _a, ...hereStats } = here.p.stats;
    const { offloaded: _b, ...thereStats } = there.p.stats;
    expect(thereStats).toEqual(hereStats);
    const text = async (m: typeof here.metrics) =>
      (await m.registry.metrics())
        .replace(/^auditshipper_buffer_bytes .*$/m, '')
        .replace(/^auditshipper_pipeline_offloaded_records_total .*$/m, '');
    expect(await text(there.metrics)).toBe(await text(here.metrics));
    expect(await there.metrics.registry.metrics()).toContain(
      `auditshipper_pipeline_offloaded_records_total ${there.p.stats.offloaded}\n`,
    );
    expect(logOf(there.log.lines)).toEqual(logOf(here.log.lines));
    expect(there.log.lines.some((l) => l.msg === 'malformed record skipped')).toBe(true);
  });

  it('keeps small batches on the main thread', async () => {
    const { p } = withWorker(richConfig());
    await ready(p);
    await p.handler(batchOf(mixedLines(63, 9), { time: TIME }));
    expect(p.stats.offloaded).toBe(0);
    await p.handler(batchOf(mixedLines(64, 9), { offset: 100_000, time: TIME }));
    expect(p.stats.offloaded).toBeGreaterThan(0);
  });

  it('a batch handed over after swap is processed with the new config', async () => {
    const { p, calls } = withWorker(richConfig());
    await ready(p);
    const next = richConfig({ routes: [{ name: 'only', to: ['logs'] }] });
    p.swap(buildPipelineParts(next), next);
    const lines = Array.from({ length: 200 }, (_, i) => audit(i + 1));
    await p.handler(batchOf(lines, { time: TIME }));
    expect(p.stats.offloaded).toBeGreaterThan(0);
    expect(calls[0]).toHaveLength(200);
    expect(calls[0]!.every((i) => i.sinks.length === 1 && i.sinks[0] === 'logs')).toBe(true);
  });

  it('a batch prepared ahead (source read-ahead) is started then, and stores what the in-thread path does', async () => {
    const cfg = richConfig();
    const here = withWorker(cfg);
    here.p.swap(buildPipelineParts(cfg));
    const there = withWorker(cfg, { own: true });
    await ready(there.p);
    const batches = [
      batchOf(mixedLines(800, 3), { time: TIME }),
      batchOf(mixedLines(600, 4), { offset: 1_000_000, time: TIME }),
    ];
    for (const b of batches) there.p.handler.prepare!(b);
    // Started at prepare: a config swapped in before the hand-over does not apply to them
    // (as with any batch whose processing had begun), so the routes stay the old ones.
    const next = richConfig({ routes: [{ name: 'only', to: ['logs'] }] });
    there.p.swap(buildPipelineParts(next), next);
    for (const b of batches) {
      await here.p.handler(b);
      await there.p.handler(b);
    }
    expect(there.p.stats.offloaded).toBeGreaterThan(0);
    expect(JSON.stringify(there.calls)).toBe(JSON.stringify(here.calls));
    // The next batch, not prepared, follows the new config.
    await there.p.handler(batchOf([audit(1)], { offset: 5_000_000, time: TIME }));
    expect(there.calls[2]![0]!.sinks).toEqual(['logs']);
  });

  it('a prepared batch whose worker slice fails is processed here, once', async () => {
    const { p, calls } = withWorker(richConfig(), {
      url: new URL('./pipeline/fake-workers/fail.js', import.meta.url),
    });
    await ready(p);
    const b = batchOf(Array.from({ length: 300 }, (_, i) => audit(i + 1)));
    p.handler.prepare!(b);
    await p.handler(b);
    expect(p.workerState).toBe('failed');
    expect(calls).toHaveLength(1);
    expect(calls[0]).toHaveLength(300);
    expect(p.stats).toMatchObject({ audit: 300, inserted: 300, offloaded: 0 });
  });

  it('swap without a config stops the worker: it could not follow', async () => {
    const { p } = withWorker(richConfig());
    await ready(p);
    p.swap(buildPipelineParts(richConfig()));
    expect(p.workerState).toBe('off');
    await p.handler(batchOf(mixedLines(200, 2), { time: TIME }));
    expect(p.stats.offloaded).toBe(0);
  });

  for (const mode of ['exit', 'throw', 'fail'] as const) {
    it(`a worker that ${mode === 'fail' ? 'fails a slice' : 'dies'} mid-batch loses nothing and is not used again`, async () => {
      const { p, log, calls } = withWorker(richConfig(), {
        url: new URL(`./pipeline/fake-workers/${mode}.js`, import.meta.url),
      });
      await ready(p);
      const lines = Array.from({ length: 300 }, (_, i) => audit(i + 1));
      await p.handler(batchOf(lines));
      expect(p.workerState).toBe('failed');
      expect(calls).toHaveLength(1);
      expect(calls[0]).toHaveLength(300);
      expect(p.stats).toMatchObject({ audit: 300, inserted: 300, offloaded: 0 });
      expect(store.queueDepth('a')).toBe(300);
      await p.handler(
        batchOf(
          lines.map((_, i) => audit(1000 + i)),
          { offset: 1_000_000 },
        ),
      );
      expect(store.queueDepth('a')).toBe(600);
      const errors = log.errors();
      expect(errors).toHaveLength(1);
      expect(JSON.stringify(errors)).not.toContain('secret-cookie');
    });
  }

  it('a worker that never starts changes nothing', async () => {
    const { p, log } = withWorker(richConfig(), {
      url: new URL('./pipeline/no-such-worker.js', import.meta.url),
    });
    await p.handler(batchOf(mixedLines(200, 1), { time: TIME }));
    await vi.waitFor(() => expect(p.workerState).toBe('failed'));
    await p.handler(batchOf(mixedLines(200, 2), { offset: 1_000_000, time: TIME }));
    expect(p.stats.offloaded).toBe(0);
    expect(p.stats.audit).toBeGreaterThan(0);
    expect(log.errors()).toHaveLength(1);
  });

  it('close() stops the worker; a batch in flight still commits', async () => {
    const { p, calls, log } = withWorker(richConfig());
    await ready(p);
    const lines = Array.from({ length: 500 }, (_, i) => audit(i + 1));
    const inFlight = p.handler(batchOf(lines));
    p.close();
    await inFlight;
    expect(p.workerState).toBe('off');
    expect(calls[0]).toHaveLength(500);
    await p.handler(
      batchOf(
        lines.map((_, i) => audit(1000 + i)),
        { offset: 1_000_000 },
      ),
    );
    expect(calls[1]).toHaveLength(500);
    expect(log.errors()).toHaveLength(0);
  });
});
