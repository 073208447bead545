import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DATADOG_MAX_LOG_BYTES,
  classify,
  createDatadogSink,
  datadogIntakeUrl,
  datadogSinkSchema,
  datadogStatus,
  datadogValidateUrl,
  encode,
  serializeDatadogLog,
  summarize,
  toDatadogLog,
} from '../../src/sinks/datadog.js';
import type { DatadogSinkConfig } from '../../src/sinks/datadog.js';
import { EncodeError } from '../../src/sinks/http-common.js';
import type { HttpResponse } from '../../src/sinks/http-common.js';
import type { SinkDriver } from '../../src/sinks/types.js';
import { startDatadogReceiver } from '../helpers/receivers/datadog.js';
import type { DatadogReceiver } from '../helpers/receivers/datadog.js';
import { auditEvent, batchOf, captureLogger, never, queued } from './fixtures.js';

const KEY = 'dd0123456789abcdef0123456789abcd';

function cfg(over: Record<string, unknown> = {}): DatadogSinkConfig {
  return datadogSinkSchema.parse({ type: 'datadog', api_key: KEY, ...over });
}

function issues(input: Record<string, unknown>): string {
  const r = datadogSinkSchema.safeParse({ type: 'datadog', api_key: KEY, ...input });
  return r.success ? '' : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
}

describe('datadogSinkSchema', () => {
  it('has the documented defaults', () => {
    const c = cfg();
    expect(c).toMatchObject({
      service: 'retool-audit-log',
      compression: 'gzip',
      tags: [],
      batch: { max_events: 1000, max_bytes: 4_250_000, timeout: 5000 },
      request: { timeout: 30_000, concurrency: 1 },
      retry: { initial_backoff: 1000, max_backoff: 60_000 },
    });
    expect(datadogIntakeUrl(c).href).toBe('https://http-intake.logs.datadoghq.com/api/v2/logs');
  });

  // research 1.1 table, one row per site
  it.each([
    ['datadoghq.com', 'https://http-intake.logs.datadoghq.com/api/v2/logs'],
    ['us3.datadoghq.com', 'https://http-intake.logs.us3.datadoghq.com/api/v2/logs'],
    ['us5.datadoghq.com', 'https://http-intake.logs.us5.datadoghq.com/api/v2/logs'],
    ['datadoghq.eu', 'https://http-intake.logs.datadoghq.eu/api/v2/logs'],
    ['ap1.datadoghq.com', 'https://http-intake.logs.ap1.datadoghq.com/api/v2/logs'],
    ['ap2.datadoghq.com', 'https://http-intake.logs.ap2.datadoghq.com/api/v2/logs'],
    ['uk1.datadoghq.com', 'https://http-intake.logs.uk1.datadoghq.com/api/v2/logs'],
    ['ddog-gov.com', 'https://http-intake.logs.ddog-gov.com/api/v2/logs'],
    ['us2.ddog-gov.com', 'https://http-intake.logs.us2.ddog-gov.com/api/v2/logs'],
    ['EU', 'https://http-intake.logs.datadoghq.eu/api/v2/logs'],
    ['app.datadoghq.eu', 'https://http-intake.logs.datadoghq.eu/api/v2/logs'],
    ['us1-fed', 'https://http-intake.logs.ddog-gov.com/api/v2/logs'],
    ['gov2', 'https://http-intake.logs.us2.ddog-gov.com/api/v2/logs'],
  ])('site %s → %s', (site, url) => {
    expect(datadogIntakeUrl(cfg({ site })).href).toBe(url);
  });

  it('derives the API key validation URL from the site', () => {
    expect(datadogValidateUrl(cfg({ site: 'datadoghq.eu' })).href).toBe(
      'https://api.datadoghq.eu/api/v1/validate',
    );
    expect(datadogValidateUrl(cfg()).href).toBe('https://api.datadoghq.com/api/v1/validate');
    expect(datadogValidateUrl(cfg({ endpoint: 'http://127.0.0.1:9/x' })).href).toBe(
      'http://127.0.0.1:9/api/v1/validate',
    );
  });

  it('lets endpoint override the site', () => {
    expect(
      datadogIntakeUrl(cfg({ site: 'datadoghq.eu', endpoint: 'http://127.0.0.1:8080' })).href,
    ).toBe('http://127.0.0.1:8080/api/v2/logs');
    expect(datadogIntakeUrl(cfg({ endpoint: 'https://proxy.internal/dd/intake' })).href).toBe(
      'https://proxy.internal/dd/intake',
    );
  });

  it('trims the api key (a ${file:} secret often ends in a newline)', () => {
    expect(cfg({ api_key: `${KEY}\n` }).api_key).toBe(KEY);
  });

  it.each([
    [{ site: 'datadoghq.moon' }, /site: unknown Datadog site/],
    [{ compression: 'zstd' }, /compression must be gzip or none.*Node 20/],
    [{ api_key: '   ' }, /api_key: api_key is empty/],
    [{ api_key: 'abc def' }, /api_key contains whitespace/],
    [{ tags: ['env:prod,team:x'] }, /tags\.0: a tag cannot contain a comma/],
    [{ batch: { max_events: 1001 } }, /Datadog accepts at most 1000 events/],
    [{ batch: { max_bytes: '6MB' } }, /Datadog accepts at most 5000000 bytes/],
    [{ endpoint: 'https://key:secret@host' }, /credentials in the URL/],
    [{ unknown_key: 1 }, /unknown_key/],
  ])('rejects %j', (input, re) => {
    const msg = issues(input);
    expect(msg).toMatch(re);
  });

  it('never quotes the api key in an error', () => {
    expect(issues({ api_key: 'secret value' })).not.toContain('secret value');
  });
});

describe('mapping an AuditEvent onto Datadog attributes', () => {
  const NOW = Date.parse('2026-11-21T10:05:00Z');
  const opts = { service: 'retool-audit-log', tagPrefix: 'env:prod,team:sec', now: NOW };

  it('fills reserved and standard attributes', () => {
    const log = toDatadogLog(JSON.parse(JSON.stringify(auditEvent())), opts, 1);
    expect(log).toEqual({
      ddsource: 'retool',
      service: 'retool-audit-log',
      hostname: 'node-1',
      ddtags: 'env:prod,team:sec,action:QUERY_RUN,category:query,severity:info',
      status: 'info',
      message: 'ana@example.com QUERY_RUN query "getCustomers" in Support Console: success',
      timestamp: Date.parse('2026-11-21T10:00:00.123Z'),
      id: 'evt-1',
      evt: { name: 'QUERY_RUN', category: 'query', outcome: 'success' },
      usr: { id: '42', email: 'ana@example.com' },
      network: { client: { ip: '203.0.113.7' } },
      http: { useragent: 'Mozilla/5.0' },
      duration: 87_000_000,
      severity: 'info',
      category: 'query',
      organization_id: '1',
      target: {
        type: 'query',
        id: null,
        name: 'getCustomers',
        app: 'Support Console',
        resource: 'prod-postgres',
      },
      detail: { rows: 12 },
      redacted: { count: 3, rules: ['credit_card', 'headers'] },
      auditshipper: {
        source: { name: 'retool', host: 'node-1', file: '/var/log/pods/x/0.log', offset: 18234 },
      },
    });
  });

  it('maps severity to Datadog status', () => {
    expect(datadogStatus('critical')).toBe('critical');
    expect(datadogStatus('warn')).toBe('warning');
    expect(datadogStatus('info')).toBe('info');
    expect(datadogStatus(undefined)).toBe('info');
  });

  it('leaves out what the event does not have', () => {
    const ev = auditEvent({
      actor: { id: null, email: null, ip: null, user_agent: null },
      target: { type: null, id: null, name: null, app: null, resource: null },
      duration_ms: null,
      organization_id: null,
      timestamp: 'garbage',
    });
    const log = toDatadogLog(
      JSON.parse(JSON.stringify(ev)),
      { service: 's', tagPrefix: '', now: 1234 },
      1234,
    );
    expect(log).not.toHaveProperty('usr');
    expect(log).not.toHaveProperty('network');
    expect(log).not.toHaveProperty('http');
    expect(log).not.toHaveProperty('duration');
    expect(log).not.toHaveProperty('organization_id');
    expect(log).not.toHaveProperty('app_event_id');
    expect(log.timestamp).toBe(1234);
    expect(log.ddtags).toBe('action:QUERY_RUN,category:query,severity:info');
    expect(log.message).toBe('unknown actor QUERY_RUN: success');
  });

  it.each([
    ['19 hours old', '2026-11-20T15:05:00.000Z'],
    ['3 hours ahead', '2026-11-21T13:05:00.000Z'],
  ])('re-stamps an event %s (outside the intake window) and keeps its audit time', (_what, iso) => {
    const log = toDatadogLog(JSON.parse(JSON.stringify(auditEvent({ timestamp: iso }))), opts, 1);
    expect(log).toMatchObject({ timestamp: NOW, audit_timestamp: iso, timestamp_adjusted: true });
  });

  it('keeps the timestamp of an event inside the window', () => {
    const iso = '2026-11-20T17:05:00.000Z'; // 17 h old
    const log = toDatadogLog(JSON.parse(JSON.stringify(auditEvent({ timestamp: iso }))), opts, 1);
    expect(log.timestamp).toBe(Date.parse(iso));
    expect(log).not.toHaveProperty('timestamp_adjusted');
  });

  it("keeps the app's own event id for correlation", () => {
    const log = toDatadogLog(
      JSON.parse(JSON.stringify(auditEvent({ app_event_id: 'r-9' }))),
      opts,
      1,
    );
    expect(log.app_event_id).toBe('r-9');
    expect(log.id).toBe('evt-1');
  });

  it('honours a configured hostname and keeps tags intact', () => {
    const ev = auditEvent({ action: 'weird, action name', category: 'a b' });
    const log = toDatadogLog(
      JSON.parse(JSON.stringify(ev)),
      { service: 's', hostname: 'h1', tagPrefix: '' },
      1,
    );
    expect(log.hostname).toBe('h1');
    expect(log.ddtags).toBe('action:weird_action_name,category:a_b,severity:info');
  });

  it('keeps unknown fields as attributes, moving reserved names aside', () => {
    const ev = {
      ...JSON.parse(JSON.stringify(auditEvent())),
      geo: 'NL',
      status: 'x',
      message: 'y',
    };
    const log = toDatadogLog(ev, opts, 1);
    expect(log.geo).toBe('NL');
    expect(log.status).toBe('info');
    expect(log.message).not.toBe('y');
    expect(log.auditshipper).toMatchObject({ extra: { status: 'x', message: 'y' } });
  });

  it('writes a bounded one-line message', () => {
    const ev = auditEvent({
      target: {
        type: 'app',
        id: null,
        name: 'a\nb\u2028c' + 'x'.repeat(2000),
        app: null,
        resource: null,
      },
    });
    const m = summarize(JSON.parse(JSON.stringify(ev)));
    expect(m).not.toMatch(/[\n\u2028]/);
    expect(m.length).toBeLessThanOrEqual(512);
  });
});

describe('per-log 1 MB limit (research 1.4)', () => {
  it('leaves a normal log alone', () => {
    const s = serializeDatadogLog({ a: 1 });
    expect(s).toEqual({ json: '{"a":1}', bytes: 7, truncated: false });
  });

  it('replaces an oversized detail with a marker and marks the log', () => {
    const ev = auditEvent({ detail: { blob: 'x'.repeat(1_500_000) } });
    const log = toDatadogLog(JSON.parse(JSON.stringify(ev)), { service: 's', tagPrefix: '' }, 1);
    const s = serializeDatadogLog(log);
    expect(s.truncated).toBe(true);
    expect(s.bytes).toBeLessThanOrEqual(DATADOG_MAX_LOG_BYTES);
    const out = JSON.parse(s.json);
    expect(out.truncated).toBe(true);
    expect(out.detail.auditshipper_truncated).toMatch(/over Datadog's 1 MB per-log limit/);
    expect(out.id).toBe('evt-1');
    expect(out.usr).toEqual({ id: '42', email: 'ana@example.com' });
  });

  it('also cuts long strings outside detail', () => {
    const ev = auditEvent({
      detail: {},
      target: { type: 't', id: null, name: 'n'.repeat(1_200_000), app: null, resource: null },
    });
    const s = serializeDatadogLog(
      toDatadogLog(JSON.parse(JSON.stringify(ev)), { service: 's', tagPrefix: '' }, 1),
    );
    expect(s.bytes).toBeLessThanOrEqual(DATADOG_MAX_LOG_BYTES);
    const out = JSON.parse(s.json);
    expect(out.truncated).toBe(true);
    expect(out.target.name).toMatch(/…\[truncated\]$/);
  });

  it('falls back to the core attributes when many small values are the problem', () => {
    const ev = {
      ...JSON.parse(JSON.stringify(auditEvent())),
      many: Array.from({ length: 200_000 }, () => 'abcdefgh'),
    };
    const s = serializeDatadogLog(toDatadogLog(ev, { service: 's', tagPrefix: '' }, 1));
    expect(s.bytes).toBeLessThanOrEqual(DATADOG_MAX_LOG_BYTES);
    const out = JSON.parse(s.json);
    expect(out).toMatchObject({ id: 'evt-1', ddsource: 'retool', truncated: true });
    expect(out).not.toHaveProperty('many');
  });
});

describe('encode', () => {
  it('builds a JSON array with the API key header', () => {
    const r = encode(batchOf(3), cfg({ tags: ['env:prod'] }));
    const logs = JSON.parse(r.body.toString());
    expect(logs).toHaveLength(3);
    expect(logs.map((l: { id: string }) => l.id)).toEqual(['evt-0', 'evt-1', 'evt-2']);
    expect(logs[0].ddtags).toMatch(/^env:prod,action:/);
    expect(r.headers).toMatchObject({ 'content-type': 'application/json', 'dd-api-key': KEY });
    expect(r.entries).toBe(3);
    expect(r.truncatedIds).toEqual([]);
  });

  it('throws EncodeError naming a corrupt stored event', () => {
    expect(() => encode([queued(auditEvent()), queued('{not json', 'bad-7')], cfg())).toThrow(
      EncodeError,
    );
  });
});

describe('classify (research 1.5)', () => {
  const r = (status: number, headers: HttpResponse['headers'] = {}, body = ''): HttpResponse => ({
    status,
    headers,
    body,
  });
  it.each([
    [202, 'ok'],
    [200, 'ok'],
    [400, 'reject'],
    [401, 'unhealthy'],
    [403, 'unhealthy'],
    [404, 'unhealthy'],
    [408, 'retry'],
    [413, 'split'],
    [429, 'retry'],
    [500, 'retry'],
    [502, 'retry'],
    [503, 'retry'],
  ])('%i → %s (no Retry-After)', (status, kind) => {
    const v = classify(r(status));
    expect(v.kind).toBe(kind);
    expect(v).not.toHaveProperty('afterMs');
  });

  it.each([408, 429, 500, 503])(
    '%i honours Retry-After in seconds and as an HTTP date',
    (status) => {
      expect(classify(r(status, { 'retry-after': '7' }))).toMatchObject({
        kind: 'retry',
        afterMs: 7000,
      });
      const at = new Date(Date.now() + 60_000).toUTCString();
      const v = classify(r(status, { 'retry-after': at }));
      expect(v.kind).toBe('retry');
      if (v.kind === 'retry') {
        expect(v.afterMs).toBeGreaterThan(50_000);
        expect(v.afterMs).toBeLessThanOrEqual(60_000);
      }
    },
  );

  it('ignores an unusable Retry-After', () => {
    expect(classify(r(429, { 'retry-after': 'later' }))).not.toHaveProperty('afterMs');
  });
});

describe('datadog driver against the fake intake', () => {
  let dd: DatadogReceiver;
  const drivers: SinkDriver[] = [];
  const cap = captureLogger();

  beforeAll(async () => {
    dd = await startDatadogReceiver({ apiKey: KEY });
  });
  afterEach(async () => {
    for (const d of drivers.splice(0)) await d.close();
    dd.setMode('normal');
    dd.rejectWhen(undefined);
    dd.received.length = 0;
    if (!dd.url) throw new Error('receiver gone');
  });
  afterAll(async () => {
    await dd.close();
    // nothing this suite logged may contain the key
    expect(cap.text()).not.toContain(KEY);
  });

  function driver(over: Record<string, unknown> = {}): SinkDriver {
    const d = createDatadogSink('dd', cfg({ endpoint: dd.url, ...over }), { logger: cap.logger });
    drivers.push(d);
    return d;
  }

  it('delivers a gzip batch that the intake decodes into mapped logs', async () => {
    const before = dd.requestCount;
    expect(await driver().send(batchOf(5), never())).toEqual({ kind: 'ok' });
    expect(dd.requestCount).toBe(before + 1);
    const req = dd.requests.at(-1)!;
    expect(req.headers['content-encoding']).toBe('gzip');
    expect(req.headers['dd-api-key']).toBe(KEY);
    expect(req.wireBytes).toBeLessThan(req.body.length);
    expect(dd.received.map((l) => l.id)).toEqual(['evt-0', 'evt-1', 'evt-2', 'evt-3', 'evt-4']);
    expect(dd.received[0]).toMatchObject({
      ddsource: 'retool',
      service: 'retool-audit-log',
      status: 'info',
    });
  });

  it('sends uncompressed when compression is none', async () => {
    expect(await driver({ compression: 'none' }).send(batchOf(2), never())).toEqual({ kind: 'ok' });
    expect(dd.requests.at(-1)!.headers['content-encoding']).toBeUndefined();
    expect(dd.received).toHaveLength(2);
  });

  it('delivers a full 1000-event batch in one request', async () => {
    const before = dd.requestCount;
    expect(await driver().send(batchOf(1000), never())).toEqual({ kind: 'ok' });
    expect(dd.requestCount).toBe(before + 1);
    expect(dd.received).toHaveLength(1000);
  });

  it('splits, without sending, a batch that would exceed 5 MB', async () => {
    const before = dd.requestCount;
    const big = batchOf(10, () => ({ detail: { blob: 'y'.repeat(600_000) } }));
    const v = await driver().send(big, never());
    expect(v.kind).toBe('split');
    expect(dd.requestCount).toBe(before);
  });

  it('truncates an event over 1 MB and still delivers it, with a warning naming only its id', async () => {
    const ev = queued(auditEvent({ id: 'huge-1', detail: { secretish: 'Q'.repeat(1_200_000) } }));
    expect(await driver().send([ev, ...batchOf(1)], never())).toEqual({ kind: 'ok' });
    expect(dd.received).toHaveLength(2);
    expect(dd.received[0]).toMatchObject({ id: 'huge-1', truncated: true });
    expect(dd.oversized).toBe(0);
    const warn = cap.lines.find((l) => l.level === 'warn' && l.msg?.includes('1 MB'));
    expect(warn?.obj).toMatchObject({ sink: 'dd', events: ['huge-1'], count: 1 });
    expect(cap.text()).not.toContain('QQQQ');
  });

  it('reports a wrong API key as unhealthy without naming the key', async () => {
    const v = await driver({ api_key: 'wrong-key-wrong-key' }).send(batchOf(1), never());
    expect(v).toMatchObject({ kind: 'unhealthy', status: 403 });
    if (v.kind === 'unhealthy') expect(v.reason).not.toContain('wrong-key');
  });

  it.each([
    [400, 'reject'],
    [401, 'unhealthy'],
    [403, 'unhealthy'],
    [408, 'retry'],
    [413, 'split'],
    [429, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
  ])('maps an intake %i to %s', async (status, kind) => {
    dd.failNext(status);
    const v = await driver().send(batchOf(2), never());
    expect(v).toMatchObject({ kind, status });
    expect(v).not.toHaveProperty('afterMs');
    expect(dd.received).toHaveLength(0);
  });

  it.each([429, 503, 500])('carries Retry-After from a %i', async (status) => {
    dd.failNext(status, { retryAfter: 3 });
    expect(await driver().send(batchOf(1), never())).toMatchObject({
      kind: 'retry',
      status,
      afterMs: 3000,
    });
    dd.failNext(status, { retryAfter: new Date(Date.now() + 120_000).toUTCString() });
    const v = await driver().send(batchOf(1), never());
    expect(v.kind === 'retry' && v.afterMs).toBeGreaterThan(100_000);
  });

  it('rejects a batch holding a poison event, keeping a scrubbed body', async () => {
    dd.rejectWhen((l) => l.id === 'evt-1');
    const v = await driver().send(batchOf(3), never());
    expect(v).toMatchObject({ kind: 'reject', status: 400 });
    if (v.kind === 'reject') expect(v.body).toContain('rejected log');
    dd.failNext(400, { body: `invalid key ${KEY} in request` });
    const echoed = await driver().send(batchOf(1), never());
    expect(echoed.kind === 'reject' && echoed.body).toBe('invalid key [REDACTED] in request');
  });

  it('rejects a corrupt stored event without sending anything', async () => {
    const before = dd.requestCount;
    const v = await driver().send([queued('{"broken', 'bad-1')], never());
    expect(v).toMatchObject({ kind: 'reject' });
    expect(dd.requestCount).toBe(before);
  });

  it('retries through an outage: refused, reset, hung', async () => {
    await dd.stop();
    const refused = await driver().send(batchOf(1), never());
    expect(refused).toEqual({
      kind: 'retry',
      reason: 'datadog sink "dd": network error ECONNREFUSED',
    });
    await dd.restart();
    dd.setMode('reset');
    const reset = await driver().send(batchOf(1), never());
    expect(reset.kind).toBe('retry');
    if (reset.kind === 'retry')
      expect(reset.reason).toMatch(/^datadog sink "dd": network error [A-Z_]+$/);
    dd.setMode('hang');
    const hung = await driver({ request: { timeout: '200ms' } }).send(batchOf(1), never());
    expect(hung).toMatchObject({ kind: 'retry', reason: expect.stringContaining('timed out') });
    const ac = new AbortController();
    const p = driver().send(batchOf(1), ac.signal);
    setTimeout(() => ac.abort(), 50);
    expect(await p).toMatchObject({ kind: 'retry', reason: expect.stringContaining('aborted') });
    dd.setMode('normal');
    expect(await driver().send(batchOf(1), never())).toEqual({ kind: 'ok' });
  });

  it('runs concurrent sends on one driver', async () => {
    const d = driver({ request: { concurrency: 3 } });
    const vs = await Promise.all(
      [0, 1, 2].map((i) =>
        d.send(
          batchOf(5, () => ({})).map((q) => ({ ...q, id: `${i}-${q.id}` })),
          never(),
        ),
      ),
    );
    expect(vs).toEqual([{ kind: 'ok' }, { kind: 'ok' }, { kind: 'ok' }]);
    expect(dd.received).toHaveLength(15);
  });

  it('healthcheck validates the API key', async () => {
    expect(await driver().healthcheck!(never())).toEqual({
      ok: true,
      message: 'datadog sink "dd": API key is valid',
    });
    const bad = await driver({ api_key: 'nope-nope-nope' }).healthcheck!(never());
    expect(bad.ok).toBe(false);
    expect(bad.message).toMatch(/API key rejected \(HTTP 403/);
    expect(bad.message).not.toContain('nope-nope');
    expect('healthcheck' in driver({ healthcheck: false })).toBe(false);
  });
});

describe('the fake Datadog intake itself', () => {
  let dd: DatadogReceiver;
  beforeAll(async () => {
    dd = await startDatadogReceiver();
  });
  afterAll(() => dd.close());

  async function post(body: Buffer | string, headers: Record<string, string>) {
    const r = await request(`${dd.url}/api/v2/logs`, { method: 'POST', body, headers });
    return { status: r.statusCode, body: await r.body.text() };
  }
  const json = (v: unknown) => JSON.stringify(v);

  it('enforces the key, the body shape and the limits', async () => {
    const ok = { 'dd-api-key': dd.apiKey, 'content-type': 'application/json' };
    expect((await post(json([{ a: 1 }]), { 'content-type': 'application/json' })).status).toBe(401);
    expect((await post(json([{ a: 1 }]), { ...ok, 'dd-api-key': 'x' })).status).toBe(403);
    expect((await post(json({ a: 1 }), ok)).status).toBe(400);
    expect((await post('[{"a":', ok)).status).toBe(400);
    expect((await post(json(Array.from({ length: 1001 }, () => ({}))), ok)).status).toBe(413);
    expect((await post(json([{ b: 'x'.repeat(5_000_001) }]), ok)).status).toBe(413);
    expect(
      (await post(gzipSync(json([{ a: 1 }])), { ...ok, 'content-encoding': 'gzip' })).status,
    ).toBe(202);
    expect((await post(json([{ a: 1 }]), { ...ok, 'content-encoding': 'br' })).status).toBe(415);
    expect(
      (await post(Buffer.from('not gzip'), { ...ok, 'content-encoding': 'gzip' })).status,
    ).toBe(400);
    expect(dd.received).toEqual([{ a: 1 }]);
  });

  it('repeats a failure `times` times and a mode until changed', async () => {
    const ok = { 'dd-api-key': dd.apiKey };
    dd.failNext(503, { times: 2, retryAfter: 9 });
    const r1 = await request(`${dd.url}/api/v2/logs`, { method: 'POST', body: '[]', headers: ok });
    await r1.body.text();
    expect([r1.statusCode, r1.headers['retry-after']]).toEqual([503, '9']);
    expect((await post('[]', ok)).status).toBe(503);
    expect((await post('[]', ok)).status).toBe(202);
    dd.setMode({ status: 500 });
    expect((await post('[]', ok)).status).toBe(500);
    expect((await post('[]', ok)).status).toBe(500);
    dd.setMode('normal');
    expect((await post('[]', ok)).status).toBe(202);
  });
});
