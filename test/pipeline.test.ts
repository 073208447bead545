import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildPipelineParts } from '../src/components.js';
import { configSchema, type Config } from '../src/config/schema.js';
import { createPipeline } from '../src/pipeline.js';
import type { SourceBatch } from '../src/sources/types.js';
import { openStore, type Store } from '../src/store/store.js';
import { createMetrics } from '../src/telemetry/metrics.js';

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

function batch(lines: string[], offset0 = 0): SourceBatch {
  let offset = offset0;
  const records = lines.map((text) => {
    const r = { text, offset };
    offset += Buffer.byteLength(text) + 1;
    return r;
  });
  return {
    source: 'app',
    file: '/x/a.log',
    streamId: 'stream-1',
    records,
    checkpoint: {
      source: 'app',
      fileId: 'f',
      path: '/x/a.log',
      dev: 1,
      ino: 1,
      offset,
      headHash: 'h',
      headLen: 1,
      tailHash: 't',
      updatedAt: 0,
    },
    bytesRead: offset - offset0,
    linesRead: lines.length,
    oversized: 0,
  };
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
