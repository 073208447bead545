import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EncodeError } from '../../src/sinks/http-common.js';
import type { HttpResponse } from '../../src/sinks/http-common.js';
import {
  HEC_CODES,
  classify,
  createSplunkHecSink,
  encode,
  hecBasePath,
  hecTime,
  parseAckReply,
  parseHecReply,
  splunkHecSinkSchema,
} from '../../src/sinks/splunk-hec.js';
import type { SplunkHecSinkConfig } from '../../src/sinks/splunk-hec.js';
import type { SinkDriver } from '../../src/sinks/types.js';
import { splitConcatenated, startSplunkReceiver } from '../helpers/receivers/splunk.js';
import type { SplunkReceiver } from '../helpers/receivers/splunk.js';
import { auditEvent, batchOf, captureLogger, never, queued } from './fixtures.js';

const TOKEN = '9f1c2b7e-0d3a-4c55-8e21-77a0c3d4e5f6';
const CHANNEL = '0aeeac95-ac74-4aa9-b30d-6c4c0ac581ba';

function cfg(over: Record<string, unknown> = {}): SplunkHecSinkConfig {
  return splunkHecSinkSchema.parse({
    type: 'splunk_hec',
    endpoint: 'https://splunk.example.com:8088',
    token: TOKEN,
    ...over,
  });
}

function issues(input: Record<string, unknown>): string {
  const r = splunkHecSinkSchema.safeParse({
    type: 'splunk_hec',
    endpoint: 'http://h:8088',
    token: TOKEN,
    ...input,
  });
  return r.success ? '' : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
}

describe('splunkHecSinkSchema', () => {
  it('has the documented defaults', () => {
    expect(cfg()).toMatchObject({
      compression: 'none',
      acknowledgements: { enabled: false, poll_interval: 1000, timeout: 300_000 },
      batch: { max_events: 1000, max_bytes: 1_000_000, timeout: 1000 },
      request: { timeout: 30_000, concurrency: 1 },
    });
  });

  it.each([
    [{ token: '' }, /token: token is empty/],
    [{ token: 'a b' }, /token contains whitespace/],
    [{ endpoint: 'splunk:8088' }, /endpoint: /],
    [{ acknowledgements: { enabled: true, channel: 'not-a-guid' } }, /channel must be a GUID/],
    [
      { acknowledgements: { poll_interval: '10s', timeout: '1s' } },
      /timeout must be at least poll_interval/,
    ],
    [{ acknowledgements: { enabled: true, interval: '1s' } }, /interval/],
    [{ tls: { cert_file: '/c.pem' } }, /cert_file and key_file/],
    [{ compression: 'zstd' }, /compression/],
  ])('rejects %j', (input, re) => {
    expect(issues(input)).toMatch(re);
  });

  it('accepts a base URL with or without the collector path', () => {
    expect(hecBasePath('https://h:8088')).toBe('');
    expect(hecBasePath('https://h:8088/')).toBe('');
    expect(hecBasePath('https://h:8088/services/collector')).toBe('');
    expect(hecBasePath('https://h:8088/services/collector/event')).toBe('');
    expect(hecBasePath('https://proxy/splunk/services/collector/event/1.0')).toBe('/splunk');
    expect(hecBasePath('https://proxy/splunk/')).toBe('/splunk');
  });
});

describe('encode (research 2.3/2.4)', () => {
  it('formats time as epoch seconds with exactly three decimals', () => {
    expect(hecTime(Date.parse('2026-11-21T10:00:00.123Z'))).toBe('1795255200.123');
    expect(hecTime(1000)).toBe('1.000');
    expect(hecTime(5)).toBe('0.005');
    expect(hecTime(1_795_255_200_120)).toBe('1795255200.120');
    expect(hecTime(1999.6)).toBe('2.000');
  });

  it('concatenates envelopes carrying the event untouched', () => {
    const batch = batchOf(3);
    const r = encode(batch, cfg({ index: 'audit' }), CHANNEL);
    const text = r.body.toString();
    expect(text).not.toMatch(/^\[/);
    expect(text.split('\n')).toHaveLength(3);
    expect(text).toContain('"time":1795255200.123,');
    const split = splitConcatenated(text);
    if (!split.ok) throw new Error('not concatenated JSON');
    expect(split.values[0]).toEqual({
      time: 1795255200.123,
      host: 'node-1',
      source: '/var/log/pods/x/0.log',
      sourcetype: 'auditshipper:retool',
      index: 'audit',
      event: JSON.parse(batch[0]!.body),
    });
    expect(r.headers).toMatchObject({
      authorization: `Splunk ${TOKEN}`,
      'content-type': 'application/json',
      'x-splunk-request-channel': CHANNEL,
    });
  });

  it('applies configured host/source/sourcetype and falls back sensibly', () => {
    const stdinEvent = auditEvent({
      product: 'tooljet',
      timestamp: 'garbage',
      source: { name: 'pipe', host: 'h2', file: null, offset: null },
    });
    const [env] = (
      splitConcatenated(encode([queued(stdinEvent)], cfg()).body.toString()) as {
        values: Record<string, unknown>[];
      }
    ).values;
    expect(env).toMatchObject({
      host: 'h2',
      source: 'pipe',
      sourcetype: 'auditshipper:tooljet',
      time: 1_790_000_000,
    });
    expect(env).not.toHaveProperty('index');
    const [env2] = (
      splitConcatenated(
        encode(
          [queued(auditEvent())],
          cfg({ host: 'H', source: 'S', sourcetype: '_json' }),
        ).body.toString(),
      ) as { values: Record<string, unknown>[] }
    ).values;
    expect(env2).toMatchObject({ host: 'H', source: 'S', sourcetype: '_json' });
  });

  it('throws EncodeError for a corrupt stored event', () => {
    expect(() => encode([queued('nope', 'bad')], cfg())).toThrow(EncodeError);
  });
});

describe('classify (research 2.6)', () => {
  const r = (
    status: number,
    body: unknown,
    headers: HttpResponse['headers'] = {},
  ): HttpResponse => ({
    status,
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const STATUS_OF: Record<number, number> = {
    0: 200,
    1: 403,
    2: 401,
    3: 401,
    4: 403,
    5: 400,
    6: 400,
    7: 400,
    8: 500,
    9: 503,
    10: 400,
    11: 400,
    12: 400,
    13: 400,
    14: 400,
    15: 400,
    16: 400,
    17: 200,
    18: 503,
    19: 503,
    20: 503,
    21: 400,
    22: 400,
  };
  const EXPECTED: Record<number, string> = {
    0: 'ok',
    1: 'unhealthy',
    2: 'unhealthy',
    3: 'unhealthy',
    4: 'unhealthy',
    5: 'reject',
    6: 'reject',
    7: 'unhealthy',
    8: 'retry',
    9: 'retry',
    10: 'unhealthy',
    11: 'unhealthy',
    12: 'reject',
    13: 'reject',
    14: 'unhealthy',
    15: 'reject',
    16: 'unhealthy',
    17: 'ok',
    18: 'retry',
    19: 'retry',
    20: 'retry',
    21: 'unhealthy',
    22: 'unhealthy',
  };
  it.each(Object.keys(STATUS_OF).map(Number))('code %i', (code) => {
    const v = classify(r(STATUS_OF[code]!, { text: HEC_CODES[code]!.text, code }));
    expect(v.kind).toBe(EXPECTED[code]);
    if (v.kind !== 'ok') {
      expect(v.reason).toContain(`HEC code ${code} (${HEC_CODES[code]!.text})`);
      expect(v).not.toHaveProperty('afterMs');
    }
  });

  it.each([
    [503, 9],
    [500, 8],
    [503, 18],
  ])('honours Retry-After on %i code %i', (status, code) => {
    expect(classify(r(status, { code }, { 'retry-after': '5' }))).toMatchObject({
      kind: 'retry',
      afterMs: 5000,
    });
  });

  it('falls back to the HTTP status without a known code', () => {
    expect(classify(r(200, '')).kind).toBe('ok');
    expect(classify(r(413, '<html>too big</html>')).kind).toBe('split');
    expect(classify(r(429, '', { 'retry-after': '2' }))).toMatchObject({
      kind: 'retry',
      afterMs: 2000,
    });
    expect(classify(r(502, 'bad gateway')).kind).toBe('retry');
    expect(classify(r(400, { code: 99, text: '?' })).kind).toBe('reject');
    expect(classify(r(404, 'not found')).kind).toBe('unhealthy');
  });

  it('does not trust a success code on an error status', () => {
    expect(classify(r(503, { code: 0 })).kind).toBe('retry');
  });

  it('names the first invalid event and keeps the body on reject', () => {
    const body = { text: 'Invalid data format', code: 6, 'invalid-event-number': 4 };
    const v = classify(r(400, body));
    expect(v).toMatchObject({ kind: 'reject', status: 400, body: JSON.stringify(body) });
    if (v.kind === 'reject') expect(v.reason).toContain('first invalid event #4');
  });

  it('parses replies defensively', () => {
    expect(parseHecReply('{"text":"Success","code":0,"ackId":12}')).toEqual({ code: 0, ackId: 12 });
    expect(parseHecReply('garbage')).toEqual({});
    expect(parseHecReply('null')).toEqual({});
    expect(parseHecReply('{"code":"0","ackId":1.5}')).toEqual({});
    expect([...parseAckReply('{"acks":{"0":true,"1":false,"x":true,"2":"yes"}}')]).toEqual([
      [0, true],
      [1, false],
    ]);
    expect(parseAckReply('{"acks":null}').size).toBe(0);
    expect(parseAckReply('[').size).toBe(0);
  });
});

describe('splunk_hec driver against the fake HEC', () => {
  const cap = captureLogger();
  const drivers: SinkDriver[] = [];
  const receivers: SplunkReceiver[] = [];
  let hec: SplunkReceiver;

  beforeAll(async () => {
    hec = await startSplunkReceiver({ token: TOKEN, allowedIndexes: ['audit', 'main'] });
    receivers.push(hec);
  });
  afterEach(async () => {
    for (const d of drivers.splice(0)) await d.close();
    for (const h of receivers) {
      h.setMode('normal');
      h.rejectWhen(undefined);
      h.received.length = 0;
    }
  });
  afterAll(async () => {
    for (const h of receivers) await h.close();
    expect(cap.text()).not.toContain(TOKEN);
  });

  function driver(url: string, over: Record<string, unknown> = {}): SinkDriver {
    const d = createSplunkHecSink('hec', cfg({ endpoint: url, ...over }), { logger: cap.logger });
    drivers.push(d);
    return d;
  }
  async function ackReceiver(
    o: Parameters<typeof startSplunkReceiver>[0] = {},
  ): Promise<SplunkReceiver> {
    const h = await startSplunkReceiver({ token: TOKEN, useAck: true, ...o });
    receivers.push(h);
    return h;
  }

  it('delivers envelopes the collector accepts, with a channel on every request', async () => {
    expect(await driver(hec.url, { index: 'audit' }).send(batchOf(4), never())).toEqual({
      kind: 'ok',
    });
    expect(hec.received).toHaveLength(4);
    expect(hec.events.map((e) => (e as { id: string }).id)).toEqual([
      'evt-0',
      'evt-1',
      'evt-2',
      'evt-3',
    ]);
    expect(hec.received[0]).toMatchObject({
      index: 'audit',
      sourcetype: 'auditshipper:retool',
      time: 1795255200.123,
    });
    expect(hec.requests.at(-1)!.headers['x-splunk-request-channel']).toMatch(/^[0-9a-f-]{36}$/);
    expect(hec.requests.at(-1)!.path).toBe('/services/collector/event');
  });

  it('gzips when asked', async () => {
    expect(await driver(hec.url, { compression: 'gzip' }).send(batchOf(3), never())).toEqual({
      kind: 'ok',
    });
    expect(hec.requests.at(-1)!.headers['content-encoding']).toBe('gzip');
    expect(hec.received).toHaveLength(3);
  });

  it('uses an endpoint given with the collector path', async () => {
    expect(await driver(`${hec.url}/services/collector/event`).send(batchOf(1), never())).toEqual({
      kind: 'ok',
    });
  });

  it('reports a wrong token or index as unhealthy', async () => {
    const v = await driver(hec.url, { token: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee' }).send(
      batchOf(1),
      never(),
    );
    expect(v).toMatchObject({ kind: 'unhealthy', status: 403 });
    if (v.kind === 'unhealthy') expect(v.reason).toContain('HEC code 4 (Invalid token)');
    const idx = await driver(hec.url, { index: 'secret-index' }).send(batchOf(1), never());
    expect(idx).toMatchObject({ kind: 'unhealthy', status: 400 });
    if (idx.kind === 'unhealthy') expect(idx.reason).toContain('HEC code 7');
    expect(hec.received).toHaveLength(0);
  });

  it.each([
    [503, 9, 'retry'],
    [500, 8, 'retry'],
    [503, 18, 'retry'],
    [400, 6, 'reject'],
    [400, 12, 'reject'],
    [403, 1, 'unhealthy'],
    [401, 2, 'unhealthy'],
  ])('maps HTTP %i code %i to %s', async (status, code, kind) => {
    hec.failNext(status, { code });
    expect(await driver(hec.url).send(batchOf(2), never())).toMatchObject({ kind, status });
  });

  it('carries Retry-After from a busy collector', async () => {
    hec.failNext(503, { code: 9, retryAfter: 4 });
    expect(await driver(hec.url).send(batchOf(1), never())).toMatchObject({
      kind: 'retry',
      afterMs: 4000,
    });
    hec.failNext(429, { body: '' });
    expect(await driver(hec.url).send(batchOf(1), never())).toMatchObject({
      kind: 'retry',
      status: 429,
    });
    hec.failNext(413, { body: 'too large' });
    expect(await driver(hec.url).send(batchOf(1), never())).toMatchObject({
      kind: 'split',
      status: 413,
    });
  });

  it('rejects a batch with a poison event and says which one', async () => {
    hec.rejectWhen((e) => (e.event as { id: string }).id === 'evt-2');
    const v = await driver(hec.url).send(batchOf(4), never());
    expect(v).toMatchObject({ kind: 'reject', status: 400 });
    if (v.kind === 'reject') expect(v.reason).toContain('first invalid event #2');
  });

  it('retries when the collector is down', async () => {
    await hec.stop();
    try {
      expect(await driver(hec.url).send(batchOf(1), never())).toEqual({
        kind: 'retry',
        reason: 'splunk_hec sink "hec": network error ECONNREFUSED',
      });
    } finally {
      await hec.restart();
    }
    expect(await driver(hec.url).send(batchOf(1), never())).toEqual({ kind: 'ok' });
  });

  it('talks to a useACK token even with acknowledgements off (channel always sent)', async () => {
    const h = await ackReceiver();
    expect(await driver(h.url).send(batchOf(1), never())).toEqual({ kind: 'ok' });
    expect(h.ackQueries).toBe(0);
  });

  describe('indexer acknowledgement (research 2.7)', () => {
    const ackCfg = (over: Record<string, unknown> = {}) => ({
      acknowledgements: {
        enabled: true,
        poll_interval: '20ms',
        timeout: '2s',
        channel: CHANNEL,
        ...over,
      },
    });

    it('resolves ok only once the collector reports the batch indexed', async () => {
      const h = await ackReceiver({ ackAfterQueries: 3 });
      const v = await driver(h.url, ackCfg()).send(batchOf(2), never());
      expect(v).toEqual({ kind: 'ok' });
      expect(h.ackQueries).toBeGreaterThanOrEqual(3);
      expect([...h.channels]).toEqual([CHANNEL]);
      const q = h.requests.find((r) => r.path === '/services/collector/ack')!;
      expect(q.query.get('channel')).toBe(CHANNEL);
      expect(JSON.parse(q.body.toString())).toEqual({ acks: [0] });
    });

    it('answers retry when indexing is not confirmed in time', async () => {
      const h = await ackReceiver();
      h.setAckMode('never');
      const v = await driver(h.url, ackCfg({ timeout: '150ms' })).send(batchOf(1), never());
      expect(v).toMatchObject({ kind: 'retry' });
      if (v.kind === 'retry')
        expect(v.reason).toMatch(/acknowledgement 0 not confirmed within 150ms/);
      // the events did reach the collector: a resend makes a duplicate with the same id, never a loss
      expect(h.received).toHaveLength(1);
    });

    it('polls the acks of concurrent requests together', async () => {
      const h = await ackReceiver({ ackAfterQueries: 2 });
      const d = driver(h.url, { ...ackCfg(), request: { concurrency: 4 } });
      const vs = await Promise.all([0, 1, 2, 3].map(() => d.send(batchOf(2), never())));
      expect(vs.every((v) => v.kind === 'ok')).toBe(true);
      const bodies = h.requests
        .filter((r) => r.path === '/services/collector/ack')
        .map((r) => (JSON.parse(r.body.toString()) as { acks: number[] }).acks);
      expect(bodies.some((ids) => ids.length > 1)).toBe(true);
    });

    it('gives up waiting when aborted or closed', async () => {
      const h = await ackReceiver();
      h.setAckMode('never');
      const d = driver(h.url, ackCfg({ timeout: '1m' }));
      const ac = new AbortController();
      const p = d.send(batchOf(1), ac.signal);
      await h.waitUntil(() => h.ackQueries > 0);
      ac.abort();
      expect(await p).toMatchObject({ kind: 'retry', reason: expect.stringContaining('aborted') });
      const p2 = d.send(batchOf(1), never());
      await h.waitUntil(() => h.received.length === 2);
      await d.close();
      expect(await p2).toMatchObject({ kind: 'retry', reason: expect.stringContaining('aborted') });
    });

    it('treats a 200 without ackId as delivered and warns once', async () => {
      const d = driver(hec.url, ackCfg());
      expect(await d.send(batchOf(1), never())).toEqual({ kind: 'ok' });
      expect(await d.send(batchOf(1), never())).toEqual({ kind: 'ok' });
      const warns = cap.lines.filter((l) => l.level === 'warn' && l.msg?.includes('no ackId'));
      expect(warns).toHaveLength(1);
    });
  });

  it('healthcheck reads the health endpoint', async () => {
    const d = driver(hec.url);
    expect(await d.healthcheck!(never())).toEqual({
      ok: true,
      message: 'splunk_hec sink "hec": HTTP 200 OK, HEC code 17 (HEC is healthy)',
    });
    hec.setHealth('queues_full');
    try {
      const bad = await d.healthcheck!(never());
      expect(bad.ok).toBe(false);
      expect(bad.message).toContain('HEC code 18 (HEC is unhealthy, queues are full)');
    } finally {
      hec.setHealth('healthy');
    }
    await hec.stop();
    try {
      expect(await d.healthcheck!(never())).toMatchObject({
        ok: false,
        message: expect.stringContaining('ECONNREFUSED'),
      });
    } finally {
      await hec.restart();
    }
  });
});

describe('the fake HEC itself', () => {
  let h: SplunkReceiver;
  beforeAll(async () => {
    h = await startSplunkReceiver({ useAck: true });
  });
  afterAll(() => h.close());

  async function post(path: string, body: string, headers: Record<string, string>) {
    const r = await request(`${h.url}${path}`, { method: 'POST', body, headers });
    return { status: r.statusCode, ...(JSON.parse(await r.body.text()) as { code?: number }) };
  }
  const auth = () => ({ authorization: `Splunk ${h.token}`, 'x-splunk-request-channel': CHANNEL });

  it('speaks the documented body codes', async () => {
    const ev = '{"event":{"a":1}}';
    expect(await post('/services/collector/event', ev, {})).toMatchObject({ status: 401, code: 2 });
    expect(
      await post('/services/collector/event', ev, { authorization: `Bearer ${h.token}` }),
    ).toMatchObject({ status: 401, code: 3 });
    expect(
      await post('/services/collector/event', ev, { authorization: 'Splunk nope' }),
    ).toMatchObject({ status: 403, code: 4 });
    expect(
      await post('/services/collector/event', ev, { authorization: `Splunk ${h.token}` }),
    ).toMatchObject({ status: 400, code: 10 });
    expect(
      await post('/services/collector/event', ev, { ...auth(), 'x-splunk-request-channel': 'x' }),
    ).toMatchObject({ code: 11 });
    expect(await post('/services/collector/event', ' ', auth())).toMatchObject({
      status: 400,
      code: 5,
    });
    expect(await post('/services/collector/event', `${ev}{"event":`, auth())).toMatchObject({
      code: 6,
      'invalid-event-number': 1,
    });
    expect(await post('/services/collector/event', `${ev}{"time":1}`, auth())).toMatchObject({
      code: 12,
    });
    expect(await post('/services/collector/event', '{"event":""}', auth())).toMatchObject({
      code: 13,
    });
    expect(
      await post('/services/collector/event', '{"event":1,"time":"now"}', auth()),
    ).toMatchObject({ code: 6 });
    expect(await post('/services/collector/event', `${ev}\n${ev}`, auth())).toMatchObject({
      status: 200,
      code: 0,
      ackId: 0,
    });
    expect(await post('/services/collector/ack', '{"acks":[0,5]}', auth())).toMatchObject({
      status: 200,
      acks: { 0: true, 5: false },
    });
    expect(h.received).toHaveLength(2);
  });

  it('refuses ack queries for a token without useACK', async () => {
    const plain = await startSplunkReceiver();
    try {
      const r = await request(`${plain.url}/services/collector/ack?channel=${CHANNEL}`, {
        method: 'POST',
        body: '{"acks":[0]}',
        headers: { authorization: `Splunk ${plain.token}` },
      });
      expect(JSON.parse(await r.body.text())).toMatchObject({ code: 14 });
    } finally {
      await plain.close();
    }
  });

  it('splits concatenated JSON, braces inside strings included', () => {
    expect(splitConcatenated('{"a":"}{"}\n {"b":[{"c":"\\"}"}]}')).toEqual({
      ok: true,
      values: [{ a: '}{' }, { b: [{ c: '"}' }] }],
    });
    expect(splitConcatenated('')).toEqual({ ok: true, values: [] });
    expect(splitConcatenated('{"a":1},{"b":2}')).toEqual({ ok: false, index: 1 });
    expect(splitConcatenated('[1]')).toEqual({ ok: false, index: 0 });
    expect(splitConcatenated('{"a":1')).toEqual({ ok: false, index: 0 });
  });
});
