/**
 * Running it in production, through the built CLI: exact metrics after a known workload,
 * /healthz and /readyz flipping with a sink outage and an unwritable buffer, and the
 * signal lifecycle (SIGTERM under load, a second SIGTERM, SIGHUP).
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  readNdjsonTree,
  runCli,
  startCli,
  tempDir,
  waitFor,
  writeConfig,
  type Running,
} from '../helpers/agent.js';
import { metric, parseExposition } from '../helpers/metrics.js';
import { startGenericReceiver } from '../helpers/receivers/index.js';
import { appLogLine, retoolAuditLine, rng } from '../helpers/workload.js';

const apiPort = async (a: Running) => {
  const m = await waitFor(
    'api port',
    () =>
      (/"msg":"api listening"/.test(a.stderr()) && /"port":(\d+)/.exec(a.stderr())) || undefined,
    30_000,
  );
  return Number(m[1]);
};
const get = async (port: number, path: string) => {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text() };
};

function baseConfig(dir: string, sinks: string, routes: string, extra = '') {
  return writeConfig(
    dir,
    `data_dir: ${join(dir, 'data')}
log: { level: info }
api: { listen: "127.0.0.1:0", unhealthy_after: 1s }
sources:
  app:
    type: file
    include: ["${join(dir, 'logs')}/*.log"]
    format: json
    max_line_bytes: 2KiB
    rescan_interval: 200ms
sinks:
${sinks}
routes:
${routes}
${extra}`,
  );
}

const fileSink = (dir: string, name: string) =>
  `  ${name}:\n    type: file\n    path: ${join(dir, 'out', name)}.ndjson\n    batch: { timeout: 100ms }`;

describe('operations (integration)', () => {
  const cleanups: (() => void)[] = [];
  afterAll(() => cleanups.forEach((c) => c()));

  it('exposes exact counts in /metrics after a known workload', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'logs'));
    const actions = ['QUERY_RUN', 'LOGIN', 'DELETE_GROUP', 'UPDATE_RESOURCE'];
    const lines: string[] = [];
    for (let i = 0; i < 120; i++) {
      lines.push(
        JSON.stringify({
          id: i,
          userId: 1,
          actionType: actions[i % 4],
          createdAt: '2026-11-21T10:00:00Z',
          metadata: { headers: { Authorization: 'Bearer x' } },
        }),
      );
    }
    for (let i = 0; i < 50; i++) lines.push(JSON.stringify({ level: 'info', msg: `GET /x/${i}` }));
    for (let i = 0; i < 10; i++) lines.push(`{"actionType": "QUERY_RUN", broken ${i}`);
    lines.push('y'.repeat(5000)); // oversized: cut at max_line_bytes, then not an audit event
    writeFileSync(join(dir, 'logs', 'app.log'), lines.join('\n') + '\n');
    const cfg = baseConfig(
      dir,
      `${fileSink(dir, 'archive')}\n${fileSink(dir, 'sec')}`,
      '  - name: everything\n    to: [archive]\n  - name: security\n    when: { severity: critical }\n    to: [sec]',
    );
    const a = startCli(['run', '-c', cfg]);
    const port = await apiPort(a);
    await waitFor(
      'delivery',
      () => readNdjsonTree(join(dir, 'out')).length >= 150 || undefined,
      30_000,
    );
    await new Promise((r) => setTimeout(r, 300));
    const s = parseExposition((await get(port, '/metrics')).body);
    a.child.kill('SIGTERM');
    await a.exited;
    expect(metric(s, 'auditshipper_lines_read_total', { source: 'app' })).toBe(181);
    expect(metric(s, 'auditshipper_records_total', { outcome: 'audit' })).toBe(120);
    expect(metric(s, 'auditshipper_records_total', { outcome: 'non_audit' })).toBe(51);
    expect(metric(s, 'auditshipper_records_total', { outcome: 'malformed' })).toBe(10);
    expect(metric(s, 'auditshipper_records_total', { outcome: 'oversized' })).toBe(1);
    expect(
      metric(s, 'auditshipper_events_ingested_total', { product: 'retool', severity: 'info' }),
    ).toBe(60);
    expect(
      metric(s, 'auditshipper_events_ingested_total', { product: 'retool', severity: 'warn' }),
    ).toBe(30);
    expect(
      metric(s, 'auditshipper_events_ingested_total', { product: 'retool', severity: 'critical' }),
    ).toBe(30);
    expect(metric(s, 'auditshipper_events_routed_total', { route: 'everything' })).toBe(120);
    expect(metric(s, 'auditshipper_events_routed_total', { route: 'security' })).toBe(30);
    expect(metric(s, 'auditshipper_events_delivered_total', { sink: 'archive' })).toBe(120);
    expect(metric(s, 'auditshipper_events_delivered_total', { sink: 'sec' })).toBe(30);
    expect(metric(s, 'auditshipper_queue_depth_events', { sink: 'archive' })).toBe(0);
    expect(metric(s, 'auditshipper_redactions_total', { rule: 'headers' })).toBe(120);
    expect(metric(s, 'auditshipper_events_unrouted_total')).toBe(0);
    expect(metric(s, 'auditshipper_buffer_max_bytes')).toBe(2 * 1024 ** 3);
    expect(metric(s, 'auditshipper_source_lag_bytes', { source: 'app' })).toBe(0);
    // A file source that found every file it had been reading.
    expect(metric(s, 'auditshipper_source_files_missing_at_start', { source: 'app' })).toBe(0);
    expect(metric(s, 'auditshipper_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(metric(s, 'auditshipper_pipeline_worker_up')).toBe(0); // opt-in, off by default
    expect(metric(s, 'auditshipper_pipeline_offloaded_records_total')).toBe(0);
    expect(metric(s, 'auditshipper_sink_healthy', { sink: 'archive' })).toBe(1);
    expect(metric(s, 'auditshipper_delivered_bytes_total', { sink: 'archive' })).toBeGreaterThan(
      120 * 100,
    );
  }, 60_000);

  it('reports a file rotated away while the agent was stopped, and keeps no checkpoint of ended files', async () => {
    const dir = tempDir();
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, 'logs'));
    const line = (i: number) =>
      JSON.stringify({ actionType: 'LOGIN', userId: i, createdAt: '2026-11-21T10:00:00Z' });
    writeFileSync(join(dir, 'logs', 'keep.log'), `${line(1)}\n`);
    writeFileSync(join(dir, 'logs', 'gone.log'), `${line(2)}\n`);
    writeFileSync(join(dir, 'logs', 'drained.log'), `${line(3)}\n`);
    const cfg = baseConfig(dir, fileSink(dir, 'archive'), '  - name: all\n    to: [archive]');
    const first = startCli(['run', '-c', cfg]);
    await waitFor(
      '3 events',
      () => readNdjsonTree(join(dir, 'out')).length >= 3 || undefined,
      30_000,
    );
    // Deleted while the agent runs: read to its end, closed, its checkpoint deleted.
    rmSync(join(dir, 'logs', 'drained.log'));
    // Closed once drained and unfindable: it leaves the per-file lag gauge.
    const firstPort = await apiPort(first);
    await waitFor(
      'drained file closed',
      async () => !(await get(firstPort, '/metrics')).body.includes('drained.log') || undefined,
      30_000,
    );
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    // While it is stopped, gone.log gets a line and is compressed away.
    appendFileSync(join(dir, 'logs', 'gone.log'), `${line(4)}\n`);
    const gone = join(dir, 'logs', 'gone.log');
    writeFileSync(`${gone}.1.gz`, gzipSync(readFileSync(gone)));
    rmSync(gone);
    const second = startCli(['run', '-c', cfg]);
    const port = await apiPort(second);
    // The gauge is set once the source's first scan is done.
    const s = await waitFor(
      'first scan',
      async () => {
        const m = parseExposition((await get(port, '/metrics')).body);
        return metric(m, 'auditshipper_source_files_missing_at_start', { source: 'app' }) === 1
          ? m
          : undefined;
      },
      30_000,
    );
    expect(metric(s, 'auditshipper_source_files_missing_at_start', { source: 'app' })).toBe(1);
    const warnings = second
      .stderr()
      .split('\n')
      .filter((l) => l.includes('a file this source was reading when the agent stopped is gone'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({
      file: join(dir, 'logs', 'gone.log'),
      offset: line(2).length + 1,
    });
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
    // Only the live file's checkpoint is left in the buffer.
    const db = new Database(join(dir, 'data', 'buffer.db'), { readonly: true });
    const paths = db.prepare('SELECT path FROM checkpoints ORDER BY path').pluck().all();
    db.close();
    expect(paths).toEqual([join(dir, 'logs', 'gone.log'), join(dir, 'logs', 'keep.log')]);
  }, 90_000);

  it('AUDITSHIPPER_WORKERS=1: a worker thread takes most records; every event arrives once, redacted', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'logs'));
    const cfg = baseConfig(dir, fileSink(dir, 'archive'), '  - name: all\n    to: [archive]');
    const a = startCli(['run', '-c', cfg], { env: { AUDITSHIPPER_WORKERS: '1' } });
    const port = await apiPort(a);
    const scrape = async () => parseExposition((await get(port, '/metrics')).body);
    // The worker starts beside the agent; once it is ready, large batches go to it.
    await waitFor(
      'worker ready',
      async () =>
        metric(await scrape(), 'auditshipper_pipeline_worker_up') === 1 ? true : undefined,
      30_000,
    );
    const r = rng(11);
    const lines: string[] = [];
    let audits = 0;
    for (let i = 0; i < 6000; i++) {
      if (r() < 0.5) lines.push(retoolAuditLine(++audits, r));
      else lines.push(appLogLine(i));
    }
    writeFileSync(join(dir, 'logs', 'app.log'), lines.join('\n') + '\n');
    const events = await waitFor(
      'delivery',
      () => {
        const got = readNdjsonTree(join(dir, 'out'));
        return got.length >= audits ? got : undefined;
      },
      60_000,
    );
    const s = await scrape();
    a.child.kill('SIGTERM');
    await a.exited;
    expect(events).toHaveLength(audits);
    expect(new Set(events.map((e) => e.id)).size).toBe(audits);
    expect(JSON.stringify(events)).not.toContain('Bearer tok-');
    expect(metric(s, 'auditshipper_pipeline_worker_up')).toBe(1);
    // 1000-line batches, read ahead: most records are parsed and redacted in the worker.
    expect(metric(s, 'auditshipper_pipeline_offloaded_records_total')).toBeGreaterThan(3000);
    expect(metric(s, 'auditshipper_records_total', { outcome: 'audit' })).toBe(audits);
    expect(a.stderr()).not.toMatch(/"level":50/);
  }, 90_000);

  it('/readyz fails while a sink keeps failing and recovers with it; /healthz stays up', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'logs'));
    const rcv = await startGenericReceiver();
    cleanups.push(() => void rcv.close());
    const cfg = baseConfig(
      dir,
      `  siem:\n    type: http\n    url: ${rcv.url}\n    encoding: ndjson\n    batch: { timeout: 100ms }\n    retry: { initial_backoff: 100ms, max_backoff: 300ms }`,
      '  - name: all\n    to: [siem]',
    );
    const a = startCli(['run', '-c', cfg]);
    const port = await apiPort(a);
    expect((await get(port, '/readyz')).status).toBe(200);
    await rcv.stop();
    appendFileSync(join(dir, 'logs', 'app.log'), retoolAuditLine(1, rng(1)) + '\n');
    const down = await waitFor(
      'readyz 503',
      async () => (await get(port, '/readyz')).status === 503 || undefined,
      20_000,
      200,
    );
    expect(down).toBe(true);
    const body = JSON.parse((await get(port, '/readyz')).body);
    expect(body.checks['sink:siem']).toMatchObject({ ok: false });
    expect(body.checks['sink:siem'].message).toMatch(/deliveries failing since/);
    expect((await get(port, '/healthz')).status).toBe(200);
    await rcv.restart();
    await waitFor(
      'readyz 200 again',
      async () => (await get(port, '/readyz')).status === 200 || undefined,
      20_000,
      200,
    );
    await waitFor('delivered', () => rcv.received.length >= 1 || undefined, 10_000);
    a.child.kill('SIGTERM');
    expect((await a.exited).code).toBe(0);
  }, 60_000);

  it('with api.ready_requires_sinks: false (sidecars), a failing sink does not fail /readyz', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'logs'));
    const rcv = await startGenericReceiver();
    await rcv.close(); // nothing listens on this port any more
    const cfg = baseConfig(
      dir,
      `  siem:\n    type: http\n    url: ${rcv.url}\n    batch: { timeout: 100ms }\n    retry: { initial_backoff: 100ms, max_backoff: 200ms }`,
      '  - name: all\n    to: [siem]',
    );
    writeFileSync(
      cfg,
      readFileSync(cfg, 'utf8').replace(
        'unhealthy_after: 1s }',
        'unhealthy_after: 1s, ready_requires_sinks: false }',
      ),
    );
    const a = startCli(['run', '-c', cfg]);
    const port = await apiPort(a);
    appendFileSync(join(dir, 'logs', 'app.log'), retoolAuditLine(1, rng(1)) + '\n');
    await waitFor(
      'a failed delivery',
      () => /delivery failed, will retry/.test(a.stderr()) || undefined,
      20_000,
    );
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await get(port, '/readyz')).status).toBe(200);
    a.child.kill('SIGTERM');
    expect((await a.exited).code).toBe(0);
  }, 60_000);

  it('/healthz fails while the buffer cannot be written (disk full) and recovers; nothing is lost', async () => {
    const dir = tempDir();
    const data = join(dir, 'data');
    mkdirSync(data);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', data], { stdio: 'ignore' });
    } catch {
      console.warn('skipping the disk-full test: cannot mount a small tmpfs here (needs root)');
      return;
    }
    cleanups.push(() => {
      try {
        execFileSync('umount', ['-l', data], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    });
    mkdirSync(join(dir, 'logs'));
    const cfg = baseConfig(dir, fileSink(dir, 'archive'), '  - name: all\n    to: [archive]');
    const a = startCli(['run', '-c', cfg]);
    const port = await apiPort(a);
    expect((await get(port, '/healthz')).status).toBe(200);
    // Fill the filesystem under the buffer, then write events.
    const filler = join(data, 'filler');
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'ignore' });
    } catch {
      // dd stops with ENOSPC: that is the point
    }
    const r = rng(3);
    appendFileSync(
      join(dir, 'logs', 'app.log'),
      Array.from({ length: 3_000 }, (_, i) => retoolAuditLine(i, r)).join('\n') + '\n',
    );
    await waitFor(
      'a batch refused by the full disk',
      () => /could not store a batch/.test(a.stderr()) || undefined,
      20_000,
    );
    await waitFor(
      'healthz 503',
      async () => (await get(port, '/healthz')).status === 503 || undefined,
      20_000,
      200,
    );
    const bad = JSON.parse((await get(port, '/healthz')).body);
    expect(bad.checks.database.ok).toBe(false);
    expect(bad.checks.database.message).toMatch(/full/i);
    rmSync(filler);
    await waitFor(
      'healthz 200',
      async () => (await get(port, '/healthz')).status === 200 || undefined,
      20_000,
      200,
    );
    await waitFor(
      'all delivered after the disk freed up',
      () => readNdjsonTree(join(dir, 'out')).length >= 3_000 || undefined,
      30_000,
    );
    a.child.kill('SIGTERM');
    expect((await a.exited).code).toBe(0);
    const ids = new Set(readNdjsonTree(join(dir, 'out')).map((e) => e.app_event_id));
    expect(ids.size).toBe(3_000);
  }, 90_000);

  it('SIGTERM during heavy delivery exits 0 within shutdown_timeout and loses nothing', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'logs'));
    const rcv = await startGenericReceiver();
    cleanups.push(() => void rcv.close());
    rcv.setMode({ delayMs: 200 });
    const r = rng(9);
    writeFileSync(
      join(dir, 'logs', 'app.log'),
      Array.from({ length: 20_000 }, (_, i) => retoolAuditLine(i, r)).join('\n') + '\n',
    );
    const cfg = baseConfig(
      dir,
      `  siem:\n    type: http\n    url: ${rcv.url}\n    encoding: ndjson\n    batch: { max_events: 500 }`,
      '  - name: all\n    to: [siem]',
      'shutdown_timeout: 3s\n',
    );
    const a = startCli(['run', '-c', cfg]);
    await waitFor('delivery under way', () => rcv.received.length >= 500 || undefined, 30_000);
    const t0 = Date.now();
    a.child.kill('SIGTERM');
    const ex = await a.exited;
    expect(ex.code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(3_000 + 2_000);
    rcv.setMode('normal');
    const b = startCli(['run', '-c', cfg]);
    await waitFor(
      'everything delivered after restart',
      () =>
        new Set(rcv.received.map((e) => (e as { app_event_id: string }).app_event_id)).size >=
          20_000 || undefined,
      60_000,
      250,
    );
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  }, 120_000);

  it('a second SIGTERM exits at once; the buffer opens cleanly and nothing is lost', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'logs'));
    const rcv = await startGenericReceiver();
    cleanups.push(() => void rcv.close());
    rcv.setMode('hang');
    const r = rng(4);
    writeFileSync(
      join(dir, 'logs', 'app.log'),
      Array.from({ length: 2_000 }, (_, i) => retoolAuditLine(i, r)).join('\n') + '\n',
    );
    const cfg = baseConfig(
      dir,
      `  siem:\n    type: http\n    url: ${rcv.url}\n    encoding: ndjson\n    request: { timeout: 60s }`,
      '  - name: all\n    to: [siem]',
      'shutdown_timeout: 60s\n',
    );
    const a = startCli(['run', '-c', cfg]);
    await waitFor('a request in flight', () => rcv.requestCount >= 1 || undefined, 30_000);
    a.child.kill('SIGTERM');
    await new Promise((res) => setTimeout(res, 300));
    const t0 = Date.now();
    a.child.kill('SIGTERM');
    const ex = await a.exited;
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(ex.code).toBe(143);
    const status = runCli(['status', '-c', cfg, '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).sinks[0]).toMatchObject({ sink: 'siem' });
    rcv.setMode('normal');
    const b = startCli(['run', '-c', cfg]);
    await waitFor(
      'everything delivered after restart',
      () =>
        new Set(rcv.received.map((e) => (e as { app_event_id: string }).app_event_id)).size >=
          2_000 || undefined,
      30_000,
    );
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  }, 90_000);

  it('SIGHUP reloads (or says the config is unchanged) without interrupting delivery', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'logs'));
    const cfg = baseConfig(dir, fileSink(dir, 'archive'), '  - name: all\n    to: [archive]');
    const a = startCli(['run', '-c', cfg]);
    await apiPort(a);
    writeFileSync(
      cfg,
      (await import('node:fs')).readFileSync(cfg, 'utf8').replace('level: info', 'level: debug'),
    );
    a.child.kill('SIGHUP');
    // On a timeout, show what the agent logged (a rare CI failure here left no trace).
    await waitFor('reloaded', () => /config reloaded/.test(a.stderr()) || undefined, 10_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}; agent stderr:\n${a.stderr().slice(-4000)}`);
      },
    );
    appendFileSync(join(dir, 'logs', 'app.log'), retoolAuditLine(1, rng(2)) + '\n');
    await waitFor(
      'delivered',
      () => readNdjsonTree(join(dir, 'out')).length >= 1 || undefined,
      10_000,
    );
    a.child.kill('SIGTERM');
    expect((await a.exited).code).toBe(0);
  }, 30_000);
});
