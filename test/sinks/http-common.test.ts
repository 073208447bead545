import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  EncodeError,
  MAX_KEPT_RESPONSE_BYTES,
  classifyHttpStatus,
  compressBody,
  createHttpClient,
  errorCode,
  failureVerdict,
  idempotencyKey,
  loadTls,
  parseEventBody,
  parseRetryAfter,
  sanitizeResponseBody,
  sinkLabel,
} from '../../src/sinks/http-common.js';
import type { HttpResponse, SinkLogger } from '../../src/sinks/http-common.js';
import { generateTestPki, hasOpenssl } from '../helpers/receivers/tls.js';
import type { TestPki } from '../helpers/receivers/tls.js';
import { captureLogger, never, queued } from './fixtures.js';

const res = (status: number, headers: HttpResponse['headers'] = {}, body = ''): HttpResponse => ({
  status,
  headers,
  body,
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-21T10:00:00Z');
  it.each([
    ['120', 120_000],
    ['0', 0],
    ['  7 ', 7000],
    [['5', '9'], 5000],
    ['Sat, 21 Nov 2026 10:00:30 GMT', 30_000],
    ['Sat, 21 Nov 2026 09:00:00 GMT', 0], // in the past: now
  ] as const)('%j → %i ms', (value, ms) => {
    expect(parseRetryAfter(value as string | string[], now)).toBe(ms);
  });
  it.each([undefined, '', '-5', '1.5', 'soon', 'Sat, 99 Foo 2026', '99999999999999999999'])(
    '%j → undefined',
    (value) => {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    },
  );
});

describe('classifyHttpStatus (research 4.4)', () => {
  const L = 'http sink "x"';
  it.each([
    [200, 'ok'],
    [202, 'ok'],
    [204, 'ok'],
    [400, 'reject'],
    [409, 'reject'],
    [422, 'reject'],
    [401, 'unhealthy'],
    [403, 'unhealthy'],
    [404, 'unhealthy'],
    [405, 'unhealthy'],
    [301, 'unhealthy'],
    [501, 'unhealthy'],
    [408, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [502, 'retry'],
    [503, 'retry'],
    [504, 'retry'],
    [413, 'split'],
  ])('%i → %s', (status, kind) => {
    const v = classifyHttpStatus(L, res(status));
    expect(v.kind).toBe(kind);
    if (v.kind !== 'ok') {
      expect(v.reason).toContain(L);
      expect(v.reason).toContain(String(status));
    }
  });

  it('keeps the (bounded) body on reject only', () => {
    expect(classifyHttpStatus(L, res(400, {}, 'bad field x'))).toMatchObject({
      kind: 'reject',
      status: 400,
      body: 'bad field x',
    });
    expect(classifyHttpStatus(L, res(503, {}, 'oops'))).not.toHaveProperty('body');
  });

  it('honours Retry-After on 429/503 by default, not on 500', () => {
    expect(classifyHttpStatus(L, res(429, { 'retry-after': '3' }))).toMatchObject({
      kind: 'retry',
      afterMs: 3000,
    });
    expect(classifyHttpStatus(L, res(503, { 'retry-after': '4' }))).toMatchObject({
      afterMs: 4000,
    });
    expect(classifyHttpStatus(L, res(500, { 'retry-after': '4' }))).not.toHaveProperty('afterMs');
    expect(classifyHttpStatus(L, res(429))).not.toHaveProperty('afterMs');
    expect(
      classifyHttpStatus(L, res(500, { 'retry-after': '4' }), { retryAfterOn: 'any' }),
    ).toMatchObject({ afterMs: 4000 });
  });
});

describe('failureVerdict / errorCode', () => {
  it('maps failures to verdicts naming the sink and the code only', () => {
    const L = sinkLabel('http', 'siem');
    expect(failureVerdict(L, { kind: 'network', code: 'ECONNREFUSED' })).toEqual({
      kind: 'retry',
      reason: 'http sink "siem": network error ECONNREFUSED',
    });
    expect(failureVerdict(L, { kind: 'timeout', code: 'TIMEOUT' }).kind).toBe('retry');
    expect(failureVerdict(L, { kind: 'aborted', code: 'ABORTED' }).kind).toBe('retry');
    expect(failureVerdict(L, { kind: 'tls', code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }).kind).toBe(
      'unhealthy',
    );
  });

  it('finds a code on the error or its causes, and never returns free text', () => {
    expect(errorCode(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe('ECONNRESET');
    expect(errorCode(new Error('outer', { cause: { code: 'UND_ERR_SOCKET' } }))).toBe(
      'UND_ERR_SOCKET',
    );
    expect(
      errorCode(Object.assign(new Error('x'), { code: 'has spaces and https://tok@host' })),
    ).toBe('Error');
    expect(errorCode('a string')).toBe('UNKNOWN');
    expect(errorCode(null)).toBe('UNKNOWN');
  });
});

describe('bodies and keys', () => {
  it('compresses with gzip off the main thread and says so in a header', async () => {
    const raw = Buffer.from('x'.repeat(10_000));
    const gz = await compressBody(raw, 'gzip');
    expect(gz.headers).toEqual({ 'content-encoding': 'gzip' });
    expect(gz.body.length).toBeLessThan(raw.length);
    expect(gunzipSync(gz.body).equals(raw)).toBe(true);
    expect(await compressBody(raw, 'none')).toEqual({ body: raw, headers: {} });
  });

  it('gzips bodies of every size intact, including ones that do not compress', async () => {
    let x = 7;
    const noise = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < noise.length; i++) noise[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    for (const raw of [
      Buffer.alloc(0),
      Buffer.from('{"a":1}\n'),
      Buffer.from('{"event":"QUERY_RUN","q":"select 1"}\n'.repeat(200_000)),
      noise, // output larger than the input: several output buffers
    ]) {
      const gz = await compressBody(raw, 'gzip');
      expect(gunzipSync(gz.body).equals(raw)).toBe(true);
    }
  });

  it('sanitizes response bodies: secrets out, bounded, no control characters', () => {
    const out = sanitizeResponseBody(`token sk-12345 rejected\u0000\u001b[31m`, ['sk-12345', 'ab']);
    expect(out).toBe('token [REDACTED] rejected[31m');
    expect(sanitizeResponseBody('y'.repeat(100_000), [])).toHaveLength(MAX_KEPT_RESPONSE_BYTES);
    expect(sanitizeResponseBody('line1\nline2\ttab', [])).toBe('line1\nline2\ttab');
  });

  it('builds the idempotency key from first and last event ids', () => {
    const a = queued('{}', 'evt-a');
    const b = queued('{}', 'evt-b');
    const c = queued('{}', 'evt-c');
    expect(idempotencyKey([a, b, c])).toBe('evt-a:evt-c');
    expect(idempotencyKey([a])).toBe('evt-a:evt-a');
    expect(idempotencyKey([])).toBe('');
    // ids with characters a header cannot hold (or the separator) are hashed, stably
    const weird = queued('{}', 'id with spaces:and\nnewline');
    const k = idempotencyKey([weird, a]);
    expect(k).toMatch(/^sha256-[0-9a-f]{32}:evt-a$/);
    expect(idempotencyKey([weird, a])).toBe(k);
    expect(idempotencyKey([queued('{}', 'x'.repeat(500))])).toMatch(/^sha256-/);
  });

  it('parses event bodies or throws EncodeError with the id', () => {
    expect(parseEventBody(queued('{"a":1}', 'e1'))).toEqual({ a: 1 });
    for (const bad of ['{"a":', '[1,2]', 'null', '"str"', '']) {
      let caught: unknown;
      try {
        parseEventBody(queued(bad, 'bad-1'));
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(EncodeError);
      expect((caught as EncodeError).eventId).toBe('bad-1');
    }
  });
});

// --- the client against real local servers ---------------------------------------------------

async function listen(server: Server): Promise<URL> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const proto = 'cert' in server ? 'https' : 'http';
  return new URL(`${proto}://127.0.0.1:${port}`);
}

describe('createHttpClient', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  it('sends method, path, headers and body and reads the answer', async () => {
    let seen: { method?: string; url?: string; h?: string; body?: string } = {};
    const s = createServer((req, r) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen = {
          method: req.method,
          url: req.url,
          h: req.headers['x-test'] as string,
          body: Buffer.concat(chunks).toString(),
        };
        r.writeHead(207, { 'x-answer': 'yes' }).end('hello');
      });
    });
    servers.push(s);
    const url = await listen(s);
    const c = createHttpClient({ url, connections: 1, timeoutMs: 5000 });
    const out = await c.request(
      { method: 'PUT', path: '/p?q=1', headers: { 'x-test': 'v' }, body: Buffer.from('payload') },
      never(),
    );
    await c.close();
    expect(seen).toEqual({ method: 'PUT', url: '/p?q=1', h: 'v', body: 'payload' });
    expect(out).toMatchObject({ ok: true, response: { status: 207, body: 'hello' } });
    if (out.ok) expect(out.response.headers['x-answer']).toBe('yes');
  });

  it('keeps only the first 4 KiB of a huge response body', async () => {
    const s = createServer((_req, r) => {
      r.writeHead(400);
      r.end(Buffer.alloc(3 * 1024 * 1024, 'z'));
    });
    servers.push(s);
    const c = createHttpClient({ url: await listen(s), connections: 1, timeoutMs: 5000 });
    const out = await c.request({ method: 'POST', path: '/', headers: {} }, never());
    await c.close();
    expect(out.ok && out.response.body.length).toBe(MAX_KEPT_RESPONSE_BYTES);
  });

  it('reuses one keep-alive connection for sequential requests', async () => {
    let connections = 0;
    const s = createServer((_req, r) => r.end('ok'));
    s.on('connection', () => connections++);
    servers.push(s);
    const c = createHttpClient({ url: await listen(s), connections: 1, timeoutMs: 5000 });
    for (let i = 0; i < 5; i++)
      await c.request({ method: 'POST', path: '/', headers: {} }, never());
    await c.close();
    expect(connections).toBe(1);
  });

  it('reports a refused connection as a network failure with its code', async () => {
    const s = createServer();
    const url = await listen(s);
    await new Promise((r) => s.close(r));
    const c = createHttpClient({ url, connections: 1, timeoutMs: 5000 });
    const out = await c.request({ method: 'POST', path: '/', headers: {} }, never());
    await c.close();
    expect(out).toEqual({ ok: false, failure: { kind: 'network', code: 'ECONNREFUSED' } });
  });

  it('times out a receiver that never answers', async () => {
    const s = createServer(() => undefined);
    servers.push(s);
    const c = createHttpClient({ url: await listen(s), connections: 1, timeoutMs: 150 });
    const out = await c.request({ method: 'POST', path: '/', headers: {} }, never());
    await c.close();
    expect(out).toEqual({ ok: false, failure: { kind: 'timeout', code: 'TIMEOUT' } });
  });

  it('stops when the caller aborts, before or during the request', async () => {
    const s = createServer(() => undefined);
    servers.push(s);
    const c = createHttpClient({ url: await listen(s), connections: 1, timeoutMs: 10_000 });
    const pre = new AbortController();
    pre.abort();
    expect(await c.request({ method: 'POST', path: '/', headers: {} }, pre.signal)).toEqual({
      ok: false,
      failure: { kind: 'aborted', code: 'ABORTED' },
    });
    const during = new AbortController();
    const p = c.request({ method: 'POST', path: '/', headers: {} }, during.signal);
    setTimeout(() => during.abort(), 50);
    expect(await p).toEqual({ ok: false, failure: { kind: 'aborted', code: 'ABORTED' } });
    await c.close();
  });

  it('does not leave abort listeners on a long-lived caller signal', async () => {
    const s = createServer((_req, r) => r.end('ok'));
    servers.push(s);
    const c = createHttpClient({ url: await listen(s), connections: 1, timeoutMs: 5000 });
    const ac = new AbortController();
    let added = 0;
    let removed = 0;
    const add = ac.signal.addEventListener.bind(ac.signal);
    const rem = ac.signal.removeEventListener.bind(ac.signal);
    ac.signal.addEventListener = (...a: Parameters<typeof add>) => {
      added++;
      add(...a);
    };
    ac.signal.removeEventListener = (...a: Parameters<typeof rem>) => {
      removed++;
      rem(...a);
    };
    for (let i = 0; i < 20; i++)
      await c.request({ method: 'POST', path: '/', headers: {} }, ac.signal);
    await c.close();
    expect(added).toBe(20);
    expect(removed).toBe(20);
  });

  describe.skipIf(!hasOpenssl())('TLS', () => {
    let pki: TestPki;
    beforeAll(() => {
      pki = generateTestPki();
    });
    afterAll(() => pki.cleanup());

    it('fails verification of an unknown CA as a tls failure, and succeeds with ca_file', async () => {
      const t = pki.serverTls();
      const s = createHttpsServer({ key: t.key, cert: t.cert }, (_req, r) => r.end('secure'));
      servers.push(s);
      const url = await listen(s);
      const { logger } = captureLogger();
      const bad = createHttpClient({
        url,
        connections: 1,
        timeoutMs: 5000,
        tls: loadTls('t', { verify: true }, logger),
      });
      const out = await bad.request({ method: 'GET', path: '/', headers: {} }, never());
      await bad.close();
      expect(out.ok).toBe(false);
      if (!out.ok) expect(out.failure.kind).toBe('tls');
      const good = createHttpClient({
        url,
        connections: 1,
        timeoutMs: 5000,
        tls: loadTls('t', { verify: true, ca_file: pki.caFile }, logger),
      });
      const ok = await good.request({ method: 'GET', path: '/', headers: {} }, never());
      await good.close();
      expect(ok).toMatchObject({ ok: true, response: { status: 200, body: 'secure' } });
    });
  });
});

describe('SinkLogger', () => {
  it('is satisfied by a pino logger (the daemon passes its own)', () => {
    const logger: SinkLogger = pino({ level: 'silent' });
    expect(() => loadTls('s', { verify: false }, logger)).not.toThrow();
  });
});

describe('loadTls', () => {
  it('returns undefined without tls config', () => {
    expect(loadTls('x', undefined, captureLogger().logger)).toBeUndefined();
  });

  it('names the key and path of an unreadable file, never its content', () => {
    expect(() =>
      loadTls(
        'http sink "s"',
        { verify: true, ca_file: '/nonexistent/ca.pem' },
        captureLogger().logger,
      ),
    ).toThrow(/http sink "s": cannot read tls\.ca_file \/nonexistent\/ca\.pem: ENOENT/);
  });

  it('reads the files and warns every time verify is off', () => {
    const dir = join(process.env.TMPDIR ?? '/tmp');
    const f = join(dir, `auditshipper-tls-${process.pid}.pem`);
    writeFileSync(f, 'PEM-CONTENT-NOT-TO-BE-LOGGED');
    const cap = captureLogger();
    const t = loadTls('s', { verify: false, ca_file: f, cert_file: f, key_file: f }, cap.logger);
    loadTls('s', { verify: false }, cap.logger);
    expect(t?.rejectUnauthorized).toBe(false);
    expect(t?.ca?.toString()).toBe('PEM-CONTENT-NOT-TO-BE-LOGGED');
    expect(cap.lines.filter((l) => l.level === 'warn')).toHaveLength(2);
    expect(cap.text()).not.toContain('PEM-CONTENT');
    expect(cap.text()).toContain('tls.verify is false');
  });
});
