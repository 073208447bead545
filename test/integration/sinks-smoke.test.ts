/**
 * One end-to-end run per network sink type through the built CLI, against fake receivers
 * on 127.0.0.1 that check what the real APIs check (research/sinks.md):
 *  - datadog: DD-API-KEY from ${ENV}, gzip JSON array, reserved attributes mapped;
 *  - splunk_hec: HEC envelopes, gzip, index, indexer acknowledgement (queue rows stay until
 *    Splunk confirms indexing);
 *  - http: gzip NDJSON with bearer auth over mutual TLS (test certificates made at test time);
 * and sink isolation: a slow sink (5 s per request) does not hold up a fast one.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  jsonLogsConfig,
  startCli,
  tempDir,
  waitFor,
  writeConfig,
  type Running,
} from '../helpers/agent.js';
import {
  generateTestPki,
  hasOpenssl,
  startDatadogReceiver,
  startGenericReceiver,
  startSplunkReceiver,
  type BaseReceiver,
} from '../helpers/receivers/index.js';
import { retoolAuditLine, rng } from '../helpers/workload.js';

type OnFinished = (fn: () => Promise<void> | void) => void;

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An agent tailing one JSON log file, routing everything to `sinks`. */
function agentSetup(onFinished: OnFinished, sinks: string, receivers: BaseReceiver[]) {
  const dir = tempDir('as-smoke-');
  mkdirSync(join(dir, 'logs'));
  const names = [...sinks.matchAll(/^ {2}([A-Za-z0-9_-]+):$/gm)].map((m) => m[1]);
  const cfg = writeConfig(
    dir,
    `
${jsonLogsConfig(dir, { logLevel: 'info', shutdownTimeout: '5s', rescanInterval: '100ms' })}sinks:
${sinks}
routes:
  - name: all
    to: [${names.join(', ')}]
`,
  );
  let next = 0;
  const r = rng(5);
  const s = {
    dir,
    cfg,
    agent: undefined as Running | undefined,
    env: {} as Record<string, string>,
    write(n: number) {
      const lines: string[] = [];
      for (let k = 0; k < n; k++) lines.push(retoolAuditLine(next++, r));
      appendFileSync(join(dir, 'logs', 'app.log'), lines.join('\n') + '\n');
    },
    start(env: Record<string, string> = {}) {
      s.env = env;
      s.agent = startCli(['run', '-c', cfg], { env });
      return s.agent;
    },
    async stop() {
      s.agent!.child.kill('SIGTERM');
      const ex = await s.agent!.exited;
      expect(ex.code, s.agent!.stderr()).toBe(0);
    },
    async depth(sink: string): Promise<number> {
      // Same environment as the agent: the config interpolates secrets from it.
      const st = startCli(['status', '--json', '-c', cfg], { env: s.env });
      expect((await st.exited).code, st.stderr()).toBe(0);
      const j = JSON.parse(st.stdout()) as { sinks: { sink: string; depth: number }[] };
      return j.sinks.find((x) => x.sink === sink)?.depth ?? 0;
    },
  };
  onFinished(async () => {
    s.agent?.child.kill('SIGKILL');
    await Promise.all(receivers.map((x) => x.close()));
  });
  return s;
}

function onceEach(appIds: unknown[], n: number) {
  const ids = appIds.map(String);
  expect(ids.length).toBe(n);
  expect(new Set(ids).size).toBe(n);
  for (let i = 0; i < n; i++) expect(ids.includes(String(i)), `event ${i}`).toBe(true);
}

describe.concurrent('network sinks, one per type (integration)', { timeout: 60_000 }, () => {
  it('datadog: gzip JSON array with the API key from ${ENV}, reserved attributes mapped', async ({
    onTestFinished,
  }) => {
    const dd = await startDatadogReceiver();
    const s = agentSetup(
      onTestFinished,
      `  dd:
    type: datadog
    endpoint: ${dd.url}
    api_key: "\${DD_API_KEY}"
    tags: ["env:test"]
    batch: { timeout: 300ms }`,
      [dd],
    );
    s.write(120);
    s.start({ DD_API_KEY: dd.apiKey, AUDITSHIPPER_HOSTNAME: 'node-7' });
    await dd.waitForEvents(120, 30_000);
    await s.stop();
    onceEach(
      dd.received.map((l) => l.app_event_id),
      120,
    );
    const posts = dd.requests.filter((r) => r.path === '/api/v2/logs');
    expect(posts.every((r) => r.headers['content-encoding'] === 'gzip' && r.status === 202)).toBe(
      true,
    );
    expect(posts.every((r) => r.wireBytes < r.body.length)).toBe(true);
    // Start-up healthcheck validated the key.
    expect(dd.requests.some((r) => r.path === '/api/v1/validate' && r.status === 200)).toBe(true);
    const log = dd.received[0]!;
    expect(log).toMatchObject({
      ddsource: 'retool',
      service: 'retool-audit-log',
      hostname: 'node-7',
      evt: { name: expect.any(String) as string },
    });
    expect(String(log.ddtags)).toMatch(
      /^env:test,action:[^,]+,category:[^,]+,severity:(info|warn|critical)$/,
    );
    expect(['info', 'warning', 'critical', 'error', 'notice']).toContain(log.status);
    expect(typeof log.timestamp).toBe('number');
    expect(typeof log.message).toBe('string');
    expect((log.usr as { id: string }).id).toMatch(/^\d+$/);
    expect(s.agent!.stderr()).toMatch(/healthcheck ok/);
    expect(s.agent!.stderr()).not.toContain(dd.apiKey);
  });

  it('splunk_hec: gzip envelopes into the index; queue rows acked only once Splunk confirms indexing', async ({
    onTestFinished,
  }) => {
    const hec = await startSplunkReceiver({ useAck: true, allowedIndexes: ['audit'] });
    const s = agentSetup(
      onTestFinished,
      `  splunk:
    type: splunk_hec
    endpoint: ${hec.url}
    token: "\${HEC_TOKEN}"
    index: audit
    compression: gzip
    acknowledgements: { enabled: true, poll_interval: 100ms }
    batch: { timeout: 300ms }`,
      [hec],
    );
    // The start-up healthcheck fails (queues full): a warning, never a blocked start.
    hec.setHealth('queues_full');
    // Indexing stalls: events are received, but never confirmed.
    hec.setAckMode('never');
    s.write(80);
    s.start({ HEC_TOKEN: hec.token });
    await hec.waitForEvents(80, 30_000);
    await waitFor('ack queries', () => hec.ackQueries >= 3 || undefined, 10_000);
    expect(await s.depth('splunk')).toBe(80); // not confirmed: still buffered
    hec.setAckMode('normal');
    const t0 = Date.now();
    for (;;) {
      if ((await s.depth('splunk')) === 0) break;
      expect(Date.now() - t0, 'acked after indexing resumed').toBeLessThan(20_000);
      await new Promise((r) => setTimeout(r, 200));
    }
    await s.stop();
    // Waiting for an ack re-sends nothing.
    onceEach(
      hec.events.map((e) => (e as { app_event_id: unknown }).app_event_id),
      80,
    );
    const env = hec.received[0]!;
    expect(env).toMatchObject({ index: 'audit', sourcetype: 'auditshipper:retool' });
    expect(typeof env.time).toBe('number');
    expect(String(env.time)).toMatch(/^\d{10}(\.\d{1,3})?$/);
    expect(typeof env.host).toBe('string');
    const posts = hec.requests.filter((r) => r.path === '/services/collector/event');
    expect(posts.every((r) => r.headers['content-encoding'] === 'gzip' && r.status === 200)).toBe(
      true,
    );
    expect(hec.channels.size).toBe(1);
    expect([...hec.channels][0]).toMatch(GUID_RE);
    expect(s.agent!.stderr()).toMatch(/healthcheck failed: .*HEC code 18/);
    expect(s.agent!.stderr()).not.toContain(hec.token);
  });

  it.skipIf(!hasOpenssl())(
    'http: gzip NDJSON, bearer auth, mutual TLS, Idempotency-Key of first and last id',
    async ({ onTestFinished }) => {
      const pki = generateTestPki();
      onTestFinished(() => pki.cleanup());
      const token = 'siem-bearer-abcdef0123456789';
      const siem = await startGenericReceiver({
        auth: { bearer: token },
        tls: pki.serverTls({ requireClientCert: true }),
        path: '/ingest',
      });
      const s = agentSetup(
        onTestFinished,
        `  siem:
    type: http
    url: ${siem.url}/ingest
    encoding: ndjson
    compression: gzip
    auth: { strategy: bearer, token: "\${SIEM_TOKEN}" }
    tls: { ca_file: ${pki.caFile}, cert_file: ${pki.clientCertFile}, key_file: ${pki.clientKeyFile} }
    batch: { max_events: 40, timeout: 300ms }`,
        [siem],
      );
      s.write(100);
      s.start({ SIEM_TOKEN: token });
      await siem.waitForEvents(100, 30_000);
      await s.stop();
      onceEach(
        siem.received.map((e) => e.app_event_id),
        100,
      );
      expect(siem.requests.length).toBeGreaterThanOrEqual(3); // 40-event batches
      for (const r of siem.requests) {
        expect(r.status).toBe(200);
        expect(r.headers['content-type']).toBe('application/x-ndjson');
        expect(r.headers['content-encoding']).toBe('gzip');
        expect(r.clientAuthorized).toBe(true);
        expect(r.clientCN).toBe('auditshipper-client');
        const lines = r.body.toString().trimEnd().split('\n');
        const first = (JSON.parse(lines[0]!) as { id: string }).id;
        const last = (JSON.parse(lines.at(-1)!) as { id: string }).id;
        expect(r.headers['idempotency-key']).toBe(`${first}:${last}`);
      }
      expect(s.agent!.stderr()).not.toContain(token);
    },
  );
});

describe('sink isolation (integration)', () => {
  it('a slow sink (5 s per request) does not delay a fast one', async ({ onTestFinished }) => {
    const slow = await startGenericReceiver();
    const fast = await startGenericReceiver();
    slow.setMode({ delayMs: 5000 });
    const batch = 'batch: { max_events: 1000, timeout: 200ms }';
    const s = agentSetup(
      onTestFinished,
      `  slow:
    type: http
    url: ${slow.url}/ingest
    ${batch}
  fast:
    type: http
    url: ${fast.url}/ingest
    ${batch}`,
      [slow, fast],
    );
    s.start();
    await waitFor(
      'agent started',
      () => /auditshipper started/.test(s.agent!.stderr()) || undefined,
      30_000,
      20,
    );
    // Wave 1: both sinks get a batch; the slow one is now busy for 5 s.
    const t1 = Date.now();
    s.write(300);
    await fast.waitForEvents(300, 10_000);
    const fastWave1 = Date.now() - t1;
    await waitFor(
      'slow request in flight',
      () => slow.requests.length >= 1 || undefined,
      10_000,
      20,
    );
    // Wave 2, while the slow sink is still stuck in its first request.
    const t2 = Date.now();
    s.write(300);
    await fast.waitForEvents(600, 10_000);
    const fastWave2 = Date.now() - t2;
    const slowDoneAtWave2 = slow.received.length;
    // Generous bounds for a loaded 2-core machine: batch timeout is 200 ms, the slow sink takes 5 s.
    expect(fastWave1).toBeLessThan(3000);
    expect(fastWave2).toBeLessThan(2500);
    expect(slowDoneAtWave2).toBe(0);
    // The slow sink gets everything too, just later.
    await slow.waitForEvents(600, 30_000);
    await s.stop();
    onceEach(
      fast.received.map((e) => e.app_event_id),
      600,
    );
    onceEach(
      slow.received.map((e) => e.app_event_id),
      600,
    );
  }, 60_000);
});
