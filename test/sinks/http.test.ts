import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EncodeError } from '../../src/sinks/http-common.js';
import type { HttpResponse } from '../../src/sinks/http-common.js';
import {
  authHeaders,
  classify,
  createHttpSink,
  encode,
  httpSinkSchema,
} from '../../src/sinks/http.js';
import type { HttpSinkConfig } from '../../src/sinks/http.js';
import type { SinkDriver } from '../../src/sinks/types.js';
import { startGenericReceiver } from '../helpers/receivers/generic.js';
import type { GenericReceiver, GenericReceiverOptions } from '../helpers/receivers/generic.js';
import { generateTestPki, hasOpenssl } from '../helpers/receivers/tls.js';
import type { TestPki } from '../helpers/receivers/tls.js';
import { batchOf, captureLogger, never, queued } from './fixtures.js';
import type { QueuedEvent } from '../../src/sinks/types.js';

function cfg(over: Record<string, unknown> = {}): HttpSinkConfig {
  return httpSinkSchema.parse({ type: 'http', url: 'https://siem.example.com/ingest', ...over });
}

function issues(input: Record<string, unknown>): string {
  const r = httpSinkSchema.safeParse({
    type: 'http',
    url: 'https://siem.example.com/ingest',
    ...input,
  });
  return r.success ? '' : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
}

describe('httpSinkSchema', () => {
  it('has the documented defaults', () => {
    expect(cfg()).toMatchObject({
      method: 'POST',
      encoding: 'json',
      compression: 'none',
      headers: {},
      idempotency_header: 'Idempotency-Key',
      batch: { max_events: 1000, max_bytes: 1_000_000, timeout: 1000 },
      request: { timeout: 30_000, concurrency: 1 },
    });
  });

  it('accepts each auth strategy', () => {
    expect(cfg({ auth: { strategy: 'basic', user: 'u', password: 'p' } }).auth).toEqual({
      strategy: 'basic',
      user: 'u',
      password: 'p',
    });
    expect(cfg({ auth: { strategy: 'bearer', token: ' t0k \n' } }).auth).toEqual({
      strategy: 'bearer',
      token: 't0k',
    });
    expect(cfg({ auth: { strategy: 'header', name: 'X-Api-Key', value: 'k' } }).auth).toMatchObject(
      { name: 'X-Api-Key' },
    );
  });

  it.each([
    [{ url: 'siem.example.com' }, /url: must be an absolute URL/],
    [{ method: 'GET' }, /method/],
    [{ encoding: 'csv' }, /encoding/],
    [{ compression: 'br' }, /compression/],
    [{ auth: { strategy: 'oauth2' } }, /auth/],
    [{ auth: { strategy: 'basic', user: 'a:b', password: 'p' } }, /cannot contain ":"/],
    [{ auth: { strategy: 'bearer', token: '' } }, /auth\.token/],
    [{ auth: { strategy: 'bearer', token: 'x', extra: 1 } }, /extra/],
    [
      { headers: { 'Content-Type': 'text/plain' } },
      /headers\.Content-Type: Content-Type is set by the sink/,
    ],
    [{ headers: { 'X-Ok': 'a\r\nInjected: 1' } }, /control characters/],
    [{ headers: { 'bad name': 'v' } }, /not a valid HTTP header name/],
    [
      { headers: { Authorization: 'x' }, auth: { strategy: 'bearer', token: 't' } },
      /authorization is set by auth/,
    ],
    [
      {
        headers: { 'x-api-key': 'a' },
        auth: { strategy: 'header', name: 'X-API-Key', value: 'b' },
      },
      /also set under headers/,
    ],
    [{ url: 'http://siem/x', tls: { ca_file: '/ca.pem' } }, /tls settings need an https:\/\/ url/],
    [{ tls: { key_file: '/k.pem' } }, /cert_file and key_file/],
    [{ idempotency_header: 'bad header' }, /idempotency_header/],
  ])('rejects %j', (input, re) => {
    expect(issues(input)).toMatch(re);
  });
});

describe('encode', () => {
  it('joins stored JSON into an array without re-serialising', () => {
    const b = [queued('{"id":"a","x":1}', 'a'), queued('{"id":"b","y":"é"}', 'b')];
    const r = encode(b, cfg());
    expect(r.body.toString()).toBe('[{"id":"a","x":1},{"id":"b","y":"é"}]');
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['idempotency-key']).toBe('a:b');
  });

  it('writes NDJSON with a trailing newline', () => {
    const b = [queued('{"id":"a"}', 'a'), queued('{"id":"b"}', 'b')];
    const r = encode(b, cfg({ encoding: 'ndjson' }));
    expect(r.body.toString()).toBe('{"id":"a"}\n{"id":"b"}\n');
    expect(r.headers['content-type']).toBe('application/x-ndjson');
  });

  it('names or drops the idempotency header as configured', () => {
    const b = batchOf(3);
    expect(encode(b, cfg({ idempotency_header: 'X-Batch-Id' })).headers['x-batch-id']).toBe(
      'evt-0:evt-2',
    );
    const none = encode(b, cfg({ idempotency_header: false })).headers;
    expect(Object.keys(none).some((k) => k.includes('idempotency'))).toBe(false);
  });

  it('adds configured headers and auth', () => {
    const r = encode(
      batchOf(1),
      cfg({
        headers: { 'X-Tenant': 'acme' },
        auth: { strategy: 'basic', user: 'u', password: 'p:w' },
      }),
    );
    expect(r.headers['x-tenant']).toBe('acme');
    expect(r.headers.authorization).toBe(`Basic ${Buffer.from('u:p:w').toString('base64')}`);
    expect(authHeaders({ strategy: 'bearer', token: 't' })).toEqual({ authorization: 'Bearer t' });
    expect(authHeaders({ strategy: 'header', name: 'X-Key', value: 'v' })).toEqual({
      'x-key': 'v',
    });
    expect(authHeaders(undefined)).toEqual({});
  });

  it('refuses bodies that would break the framing', () => {
    expect(() => encode([queued('{"a":\n1}', 'multi')], cfg({ encoding: 'ndjson' }))).toThrow(
      EncodeError,
    );
    expect(() => encode([queued('[1]', 'arr')], cfg())).toThrow(EncodeError);
    expect(() => encode([queued('', 'empty')], cfg())).toThrow(EncodeError);
  });
});

describe('encode from stored bytes', () => {
  /** An event as the store leases it: `raw` holds the bytes and `body` must not be needed. */
  const stored = (body: string, id: string): QueuedEvent => {
    const raw = Buffer.from(body, 'utf8');
    return {
      seq: 1,
      id,
      raw,
      bytes: raw.length,
      ingestedAt: 1,
      get body(): string {
        throw new Error('body decoded');
      },
    };
  };
  const bodies = ['{"id":"a","x":"é"}', '{"id":"b","y":"😀"}', '{"id":"c"}'];

  it.each(['json', 'ndjson'] as const)(
    'copies the bytes without decoding them (%s), the same request as from strings',
    (encoding) => {
      const fromRaw = encode(
        bodies.map((b, i) => stored(b, `e${i}`)),
        cfg({ encoding }),
      );
      const fromText = encode(
        bodies.map((b, i) => queued(b, `e${i}`)),
        cfg({ encoding }),
      );
      expect(fromRaw.body.equals(fromText.body)).toBe(true);
      expect(fromRaw.headers).toEqual(fromText.headers);
    },
  );

  it('writes an empty JSON array and a single event', () => {
    expect(encode([], cfg()).body.toString()).toBe('[]');
    expect(encode([stored('{"a":1}', 'one')], cfg()).body.toString()).toBe('[{"a":1}]');
  });

  it('refuses stored bytes that would break the framing', () => {
    for (const bad of ['{"a":\n1}', '[1]', '']) {
      expect(() => encode([stored('{"ok":1}', 'ok'), stored(bad, 'bad')], cfg())).toThrow(
        /"bad" is not a one-line JSON object/,
      );
    }
  });
});

describe('classify (research 4.4)', () => {
  const r = (status: number, headers: HttpResponse['headers'] = {}): HttpResponse => ({
    status,
    headers,
    body: 'b',
  });
  it.each([
    [200, 'ok'],
    [201, 'ok'],
    [204, 'ok'],
    [400, 'reject'],
    [422, 'reject'],
    [401, 'unhealthy'],
    [403, 'unhealthy'],
    [404, 'unhealthy'],
    [408, 'retry'],
    [413, 'split'],
    [429, 'retry'],
    [500, 'retry'],
    [501, 'unhealthy'],
    [502, 'retry'],
    [503, 'retry'],
    [504, 'retry'],
  ])('%i → %s', (status, kind) => {
    expect(classify(r(status)).kind).toBe(kind);
    expect(classify(r(status))).not.toHaveProperty('afterMs');
  });

  it('honours Retry-After on 429 and 503 only', () => {
    expect(classify(r(429, { 'retry-after': '2' }))).toMatchObject({
      kind: 'retry',
      afterMs: 2000,
    });
    expect(
      classify(r(503, { 'retry-after': new Date(Date.now() + 30_000).toUTCString() })),
    ).toMatchObject({
      kind: 'retry',
      afterMs: expect.any(Number),
    });
    for (const s of [408, 500, 502, 504]) {
      expect(classify(r(s, { 'retry-after': '2' }))).not.toHaveProperty('afterMs');
    }
  });
});

describe('http driver against the generic receiver', () => {
  const cap = captureLogger();
  const drivers: SinkDriver[] = [];
  const receivers: GenericReceiver[] = [];

  afterEach(async () => {
    for (const d of drivers.splice(0)) await d.close();
    for (const r of receivers.splice(0)) await r.close();
  });
  afterAll(() => {
    for (const secret of ['hunter2', 'bearer-secret-1', 'key-value-9'])
      expect(cap.text()).not.toContain(secret);
  });

  async function receiver(o: GenericReceiverOptions = {}): Promise<GenericReceiver> {
    const r = await startGenericReceiver(o);
    receivers.push(r);
    return r;
  }
  function driver(url: string, over: Record<string, unknown> = {}): SinkDriver {
    const d = createHttpSink('siem', httpSinkSchema.parse({ type: 'http', url, ...over }), {
      logger: cap.logger,
    });
    drivers.push(d);
    return d;
  }

  it('delivers a JSON array with an Idempotency-Key', async () => {
    const rx = await receiver({ path: '/ingest' });
    const batch = batchOf(3);
    expect(await driver(`${rx.url}/ingest?tenant=1`).send(batch, never())).toEqual({ kind: 'ok' });
    expect(rx.received).toEqual(batch.map((q) => JSON.parse(q.body)));
    const req = rx.requests[0]!;
    expect(req.headers['idempotency-key']).toBe('evt-0:evt-2');
    expect(req.query.get('tenant')).toBe('1');
    expect(req.method).toBe('POST');
  });

  it('delivers gzip NDJSON with bearer auth, by PUT', async () => {
    const rx = await receiver({ auth: { bearer: 'bearer-secret-1' } });
    const d = driver(rx.url, {
      method: 'PUT',
      encoding: 'ndjson',
      compression: 'gzip',
      auth: { strategy: 'bearer', token: 'bearer-secret-1' },
    });
    expect(await d.send(batchOf(4), never())).toEqual({ kind: 'ok' });
    expect(rx.received).toHaveLength(4);
    expect(rx.requests[0]).toMatchObject({ method: 'PUT' });
    expect(rx.requests[0]!.headers['content-encoding']).toBe('gzip');
    expect(rx.requests[0]!.headers['content-type']).toBe('application/x-ndjson');
  });

  it('authenticates with basic and custom-header auth, and reports bad credentials as unhealthy', async () => {
    const basic = await receiver({ auth: { basic: { user: 'ship', password: 'hunter2' } } });
    expect(
      await driver(basic.url, {
        auth: { strategy: 'basic', user: 'ship', password: 'hunter2' },
      }).send(batchOf(1), never()),
    ).toEqual({ kind: 'ok' });
    const wrong = await driver(basic.url, {
      auth: { strategy: 'basic', user: 'ship', password: 'nope' },
    }).send(batchOf(1), never());
    expect(wrong).toMatchObject({ kind: 'unhealthy', status: 401 });
    expect(await driver(basic.url).send(batchOf(1), never())).toMatchObject({
      kind: 'unhealthy',
      status: 401,
    });
    const hdr = await receiver({ auth: { header: { name: 'X-Api-Key', value: 'key-value-9' } } });
    expect(
      await driver(hdr.url, {
        auth: { strategy: 'header', name: 'X-Api-Key', value: 'key-value-9' },
      }).send(batchOf(1), never()),
    ).toEqual({ kind: 'ok' });
  });

  it('reports a wrong path as unhealthy instead of dead-lettering everything', async () => {
    const rx = await receiver({ path: '/ingest' });
    expect(await driver(`${rx.url}/wrong`).send(batchOf(2), never())).toMatchObject({
      kind: 'unhealthy',
      status: 404,
    });
  });

  it('rejects a poison batch keeping a scrubbed response body', async () => {
    const rx = await receiver({ rejectWhen: (e) => e.id === 'evt-1' });
    const v = await driver(rx.url).send(batchOf(3), never());
    expect(v).toMatchObject({ kind: 'reject', status: 400, body: '{"error":"rejected event"}' });
    rx.failNext(400, { body: 'your token bearer-secret-1 is fine but field x is not' });
    const v2 = await driver(rx.url, {
      auth: { strategy: 'bearer', token: 'bearer-secret-1' },
    }).send(batchOf(1), never());
    expect(v2.kind === 'reject' && v2.body).toBe(
      'your token [REDACTED] is fine but field x is not',
    );
  });

  it.each([
    [400, undefined, 'reject', undefined],
    [401, undefined, 'unhealthy', undefined],
    [403, undefined, 'unhealthy', undefined],
    [408, undefined, 'retry', undefined],
    [413, undefined, 'split', undefined],
    [429, undefined, 'retry', undefined],
    [429, 7, 'retry', 7000],
    [500, undefined, 'retry', undefined],
    [500, 7, 'retry', undefined],
    [501, undefined, 'unhealthy', undefined],
    [503, undefined, 'retry', undefined],
    [503, 7, 'retry', 7000],
  ])('maps %i (Retry-After %s) to %s', async (status, retryAfter, kind, afterMs) => {
    const rx = await receiver();
    rx.failNext(status, retryAfter === undefined ? {} : { retryAfter });
    const v = await driver(rx.url).send(batchOf(1), never());
    expect(v).toMatchObject({ kind, status });
    if (afterMs === undefined) expect(v).not.toHaveProperty('afterMs');
    else expect(v).toMatchObject({ afterMs });
    expect(rx.received).toHaveLength(0);
  });

  it('retries network failures and timeouts', async () => {
    const rx = await receiver();
    rx.setMode('hang');
    const v = await driver(rx.url, { request: { timeout: '150ms' } }).send(batchOf(1), never());
    expect(v).toEqual({ kind: 'retry', reason: 'http sink "siem": request timed out (TIMEOUT)' });
    await rx.stop();
    expect(await driver(rx.url).send(batchOf(1), never())).toMatchObject({
      kind: 'retry',
      reason: expect.stringContaining('ECONNREFUSED'),
    });
  });

  it('has no healthcheck (a generic endpoint has no standard one)', () => {
    expect('healthcheck' in driver('http://127.0.0.1:9/')).toBe(false);
  });

  it('refuses to start with an unreadable CA file', () => {
    expect(() =>
      driver('https://127.0.0.1:9/', { tls: { ca_file: '/nonexistent/ca.pem' } }),
    ).toThrow(/tls\.ca_file \/nonexistent\/ca\.pem: ENOENT/);
  });

  describe.skipIf(!hasOpenssl())('TLS and mutual TLS (certificates generated at test time)', () => {
    let pki: TestPki;
    beforeAll(() => {
      pki = generateTestPki();
    });
    afterAll(() => pki.cleanup());

    it('verifies the server against ca_file', async () => {
      const rx = await receiver({ tls: pki.serverTls() });
      expect(rx.url).toMatch(/^https:/);
      expect(
        await driver(rx.url, { tls: { ca_file: pki.caFile } }).send(batchOf(2), never()),
      ).toEqual({ kind: 'ok' });
      expect(rx.received).toHaveLength(2);
    });

    it('marks the sink unhealthy when the server certificate is not trusted', async () => {
      const rx = await receiver({ tls: pki.serverTls() });
      const v = await driver(rx.url).send(batchOf(1), never());
      expect(v.kind).toBe('unhealthy');
      if (v.kind === 'unhealthy')
        expect(v.reason).toMatch(/^http sink "siem": TLS failure [A-Z_]+$/);
      const other = await driver(rx.url, { tls: { ca_file: pki.otherCaFile } }).send(
        batchOf(1),
        never(),
      );
      expect(other.kind).toBe('unhealthy');
      expect(rx.received).toHaveLength(0);
    });

    it('verify: false connects anyway and warns at every start', async () => {
      const rx = await receiver({ tls: pki.serverTls() });
      const before = cap.lines.filter((l) => l.level === 'warn').length;
      expect(await driver(rx.url, { tls: { verify: false } }).send(batchOf(1), never())).toEqual({
        kind: 'ok',
      });
      driver(rx.url, { tls: { verify: false } });
      const warns = cap.lines.filter((l) => l.level === 'warn').slice(before);
      expect(warns).toHaveLength(2);
      expect(warns[0]!.msg).toMatch(/http sink "siem": tls.verify is false/);
    });

    it('presents a client certificate for mutual TLS', async () => {
      const rx = await receiver({ tls: pki.serverTls({ requireClientCert: true }) });
      const tls = {
        ca_file: pki.caFile,
        cert_file: pki.clientCertFile,
        key_file: pki.clientKeyFile,
      };
      expect(await driver(rx.url, { tls }).send(batchOf(2), never())).toEqual({ kind: 'ok' });
      expect(rx.requests[0]).toMatchObject({
        clientAuthorized: true,
        clientCN: 'auditshipper-client',
      });
      expect(rx.received).toHaveLength(2);
    });

    it('gets nothing through mutual TLS without a trusted client certificate', async () => {
      const rx = await receiver({ tls: pki.serverTls({ requireClientCert: true }) });
      const noCert = await driver(rx.url, { tls: { ca_file: pki.caFile } }).send(
        batchOf(1),
        never(),
      );
      expect(noCert.kind === 'retry' || noCert.kind === 'unhealthy').toBe(true);
      const foreign = await driver(rx.url, {
        tls: {
          ca_file: pki.caFile,
          cert_file: pki.otherClientCertFile,
          key_file: pki.otherClientKeyFile,
        },
      }).send(batchOf(1), never());
      expect(foreign.kind === 'retry' || foreign.kind === 'unhealthy').toBe(true);
      expect(rx.received).toHaveLength(0);
      expect(rx.requestCount).toBe(0);
    });
  });
});
