/**
 * `auditshipper probe`: the synthetic event, the verdict reading, and the command against the
 * fake receivers on 127.0.0.1 (in process; the exit codes through the built CLI are covered by
 * test/integration/sinks-probe.test.ts).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  PROBE_ACTION,
  buildProbeEvent,
  formatProbeResult,
  probeCommand,
  probeDeadlineMs,
  probeQueuedEvent,
  probeSink,
} from '../../src/cli/probe.js';
import { UsageError } from '../../src/cli/common.js';
import { canonicalJson } from '../../src/event/canonical.js';
import type { SinkDriver, Verdict } from '../../src/sinks/types.js';
import { tempDir } from '../helpers/agent.js';
import {
  startDatadogReceiver,
  startGenericReceiver,
  startSplunkReceiver,
  type DatadogReceiver,
  type GenericReceiver,
  type SplunkReceiver,
} from '../helpers/receivers/index.js';

function fakeDriver(send: SinkDriver['send'], extra: Partial<SinkDriver> = {}): SinkDriver {
  return { name: 'fake', type: 'http', send, close: () => Promise.resolve(), ...extra };
}

describe('buildProbeEvent', () => {
  it('is a complete, clearly marked AuditEvent with a fresh 32-hex id', () => {
    const now = new Date('2026-11-21T10:00:00.123Z');
    const e = buildProbeEvent({ sink: 'siem', host: 'node-1', now });
    expect(e).toMatchObject({
      product: 'auditshipper',
      action: PROBE_ACTION,
      category: 'other',
      severity: 'info',
      timestamp: '2026-11-21T10:00:00.123Z',
      target: { type: 'sink', name: 'siem' },
      detail: { probe: true },
      source: { name: 'auditshipper-probe', host: 'node-1', file: null, offset: null },
    });
    expect(e.id).toMatch(/^[0-9a-f]{32}$/);
    expect(buildProbeEvent({ sink: 'siem' }).id).not.toBe(e.id);
    // Canonical JSON round-trips: every key of the interface is present.
    expect(JSON.parse(canonicalJson(e))).toEqual(e);
  });

  it('becomes a QueuedEvent whose body is the canonical JSON', () => {
    const e = buildProbeEvent({ sink: 's', id: 'abc' });
    const q = probeQueuedEvent(e);
    expect(q.id).toBe('abc');
    expect(q.body).toBe(canonicalJson(e));
    expect(q.bytes).toBe(Buffer.byteLength(q.body));
    expect(q.ingestedAt).toBe(Date.parse(e.timestamp));
  });
});

describe('probeSink', () => {
  const ev = probeQueuedEvent(buildProbeEvent({ sink: 'fake' }));

  it('sends exactly the one event and reports ok', async () => {
    const seen: string[][] = [];
    const r = await probeSink(
      fakeDriver((b) => {
        seen.push(b.map((e) => e.id));
        return Promise.resolve({ kind: 'ok' });
      }),
      ev,
      { deadlineMs: 5000 },
    );
    expect(seen).toEqual([[ev.id]]);
    expect(r).toMatchObject({
      ok: true,
      verdict: 'ok',
      status: null,
      reason: null,
      event_id: ev.id,
    });
    expect(r.latency_ms).toBeGreaterThanOrEqual(0);
    expect(formatProbeResult(r).join('\n')).toMatch(/result: ok/);
  });

  it.each<[Verdict, string]>([
    [{ kind: 'retry', reason: 'r', status: 503, afterMs: 1000 }, 'retry'],
    [{ kind: 'unhealthy', reason: 'u', status: 403 }, 'unhealthy'],
    [{ kind: 'split', reason: 's', status: 413 }, 'split'],
  ])('reports a %o verdict as a failure with its status, reason and a hint', async (v, kind) => {
    const r = await probeSink(
      fakeDriver(() => Promise.resolve(v)),
      ev,
      { deadlineMs: 5000 },
    );
    expect(r).toMatchObject({
      ok: false,
      verdict: kind,
      status: v.kind === 'ok' ? null : v.status,
      reason: v.kind === 'ok' ? null : v.reason,
    });
    const text = formatProbeResult(r).join('\n');
    expect(text).toMatch(/FAILED/);
    expect(text).toMatch(/hint: /);
  });

  it('keeps a rejection body bounded and on one line', async () => {
    const body = `line1\nline2\u0000${'x'.repeat(5000)}`;
    const r = await probeSink(
      fakeDriver(() => Promise.resolve({ kind: 'reject', reason: 'bad', status: 400, body })),
      ev,
      { deadlineMs: 5000 },
    );
    expect(r.response).not.toMatch(/[\n\u0000]/);
    expect(r.response!.length).toBeLessThanOrEqual(501);
    expect(r.response!.startsWith('line1 line2')).toBe(true);
  });

  it('gives up at the deadline on a driver that never answers, aborting it', async () => {
    let aborted = false;
    const r = await probeSink(
      fakeDriver(
        (_b, signal) =>
          new Promise<Verdict>(() => {
            signal.addEventListener('abort', () => (aborted = true));
          }),
      ),
      ev,
      { deadlineMs: 50 },
    );
    expect(r).toMatchObject({ ok: false, verdict: 'timeout' });
    expect(r.reason).toMatch(/no answer/);
    expect(aborted).toBe(true);
  });

  it('turns a throwing driver into a failure without the error message', async () => {
    const r = await probeSink(
      fakeDriver(() => Promise.reject(new Error('https://user:secret@host/'))),
      ev,
      { deadlineMs: 5000 },
    );
    expect(r).toMatchObject({ ok: false, verdict: 'retry' });
    expect(JSON.stringify(r)).not.toMatch(/secret/);
  });

  it('runs the healthcheck first and reports it without letting it decide', async () => {
    const r = await probeSink(
      fakeDriver(() => Promise.resolve({ kind: 'ok' }), {
        healthcheck: () => Promise.resolve({ ok: false, message: 'key check answered 500' }),
      }),
      ev,
      { deadlineMs: 5000 },
    );
    expect(r.ok).toBe(true);
    expect(r.healthcheck).toEqual({ ok: false, message: 'key check answered 500' });
    expect(formatProbeResult(r).join('\n')).toMatch(/healthcheck: FAILED: key check answered 500/);
  });
});

describe('probeDeadlineMs', () => {
  it('adds a bounded ack wait for Splunk with acknowledgements', () => {
    const base = {
      batch: { max_events: 1, max_bytes: 1, timeout: 1 },
      retry: { initial_backoff: 1, max_backoff: 1 },
    };
    expect(
      probeDeadlineMs({
        ...base,
        type: 'http',
        request: { timeout: 1000, concurrency: 1 },
      } as never),
    ).toBe(3000);
    expect(
      probeDeadlineMs({
        ...base,
        type: 'splunk_hec',
        request: { timeout: 1000, concurrency: 1 },
        acknowledgements: { enabled: true, timeout: 300_000, poll_interval: 1000 },
      } as never),
    ).toBe(63_000);
  });
});

describe('probeCommand', () => {
  let out: string;
  let err: string;
  let dir: string;
  let siem: GenericReceiver;
  let dd: DatadogReceiver;
  let hec: SplunkReceiver;
  const SIEM_TOKEN = 'siem-bearer-token-0123456789';

  beforeAll(async () => {
    siem = await startGenericReceiver({ auth: { bearer: SIEM_TOKEN } });
    dd = await startDatadogReceiver();
    hec = await startSplunkReceiver({ useAck: true });
  });
  afterAll(async () => {
    await Promise.all([siem.close(), dd.close(), hec.close()]);
  });
  beforeEach(() => {
    out = '';
    err = '';
    dir = tempDir('as-probe-');
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out += String(s);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      err += String(s);
      return true;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
    siem.setMode('normal');
    dd.setMode('normal');
  });

  function config(sinks: string): string {
    const p = join(dir, 'auditshipper.yaml');
    writeFileSync(
      p,
      `data_dir: ${join(dir, 'data')}
log: { level: silent }
api: { enabled: false }
sources:
  in: { type: stdin }
sinks:
${sinks}
`,
    );
    return p;
  }

  const siemSink = (over = '') => `  siem:
    type: http
    url: ${siem.url}/ingest
    auth: { strategy: bearer, token: ${SIEM_TOKEN} }
    request: { timeout: 2s }
${over}`;

  it('delivers one marked event to an http sink, exit 0, and never opens the buffer', async () => {
    const before = siem.received.length;
    const code = await probeCommand('siem', { config: config(siemSink()) });
    expect(code).toBe(0);
    expect(siem.received.length).toBe(before + 1);
    const got = siem.received.at(-1)!;
    expect(got).toMatchObject({ product: 'auditshipper', action: PROBE_ACTION });
    expect(out).toMatch(new RegExp(`test event ${String(got.id)}`));
    expect(out).toMatch(/result: ok, accepted by the receiver in [\d.]+ ms/);
    expect(existsSync(join(dir, 'data'))).toBe(false);
    expect(out + err).not.toContain(SIEM_TOKEN);
  });

  it('prints one JSON object with --json', async () => {
    const code = await probeCommand('siem', { config: config(siemSink()), json: true });
    expect(code).toBe(0);
    const r = JSON.parse(out.trim()) as Record<string, unknown>;
    expect(r).toMatchObject({ sink: 'siem', type: 'http', ok: true, verdict: 'ok', status: null });
    expect(typeof r.latency_ms).toBe('number');
  });

  it('exit 3 with the status and Retry-After on a 503', async () => {
    siem.failNext(503, { retryAfter: 7 });
    const code = await probeCommand('siem', { config: config(siemSink()) });
    expect(code).toBe(3);
    expect(out).toMatch(/result: FAILED \(retry\)/);
    expect(out).toMatch(/status: 503/);
    expect(out).toMatch(/retry after 7000ms/);
  });

  it('exit 3 on a 400, showing the response body with our token scrubbed', async () => {
    siem.failNext(400, { body: `invalid event; you sent Authorization: Bearer ${SIEM_TOKEN}` });
    const code = await probeCommand('siem', { config: config(siemSink()) });
    expect(code).toBe(3);
    expect(out).toMatch(/result: FAILED \(reject\)/);
    expect(out).toMatch(/response: invalid event; you sent Authorization: \[REDACTED\]/);
    expect(out + err).not.toContain(SIEM_TOKEN);
  });

  it('exit 3 when nothing listens, and when the receiver never answers', async () => {
    const closed = await startGenericReceiver();
    const url = closed.url;
    await closed.close();
    let code = await probeCommand('down', {
      config: config(`  down: { type: http, url: ${url}/x, request: { timeout: 1s } }`),
    });
    expect(code).toBe(3);
    expect(out).toMatch(/network error ECONNREFUSED/);
    out = '';
    siem.setMode('hang');
    code = await probeCommand('siem', {
      config: config(siemSink().replace('timeout: 2s', 'timeout: 300ms')),
    });
    expect(code).toBe(3);
    expect(out).toMatch(/timed out|no answer/);
  });

  it('datadog: ok with a valid key; exit 3 and "unhealthy" with a wrong one, the key never printed', async () => {
    const sink = (key: string) => `  dd:
    type: datadog
    endpoint: ${dd.url}
    api_key: ${key}
`;
    const before = dd.received.length;
    let code = await probeCommand('dd', { config: config(sink(dd.apiKey)) });
    expect(code).toBe(0);
    expect(out).toMatch(/healthcheck: ok/);
    expect(dd.received.length).toBe(before + 1);
    expect(dd.received.at(-1)).toMatchObject({
      ddsource: 'auditshipper',
      evt: { name: PROBE_ACTION },
    });

    out = '';
    const wrong = 'wrong-key-abcdef0123456789';
    code = await probeCommand('dd', { config: config(sink(wrong)) });
    expect(code).toBe(3);
    expect(out).toMatch(/healthcheck: FAILED/);
    expect(out).toMatch(/result: FAILED \(unhealthy\)/);
    expect(out).toMatch(/status: 403/);
    expect(out + err).not.toContain(wrong);
    expect(out + err).not.toContain(dd.apiKey);
  });

  it('splunk_hec with indexer acknowledgement: ok only once the ack is confirmed', async () => {
    const sink = `  hec:
    type: splunk_hec
    endpoint: ${hec.url}
    token: ${hec.token}
    acknowledgements: { enabled: true, poll_interval: 50ms }
`;
    const queries = hec.ackQueries;
    const code = await probeCommand('hec', { config: config(sink) });
    expect(code).toBe(0);
    expect(hec.ackQueries).toBeGreaterThan(queries);
    expect(hec.events.at(-1)).toMatchObject({ action: PROBE_ACTION });
    expect(out + err).not.toContain(hec.token);
  });

  it('file sink: the marked event is written', async () => {
    const path = join(dir, 'out', 'probe.ndjson');
    const code = await probeCommand('archive', {
      config: config(`  archive: { type: file, path: ${path} }`),
    });
    expect(code).toBe(0);
    const line = JSON.parse(readFileSync(path, 'utf8').trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ product: 'auditshipper', action: PROBE_ACTION });
  });

  it('usage errors list the configured sinks', async () => {
    const cfgPath = config(
      `${siemSink()}  archive: { type: file, path: ${join(dir, 'o.ndjson')} }\n`,
    );
    await expect(probeCommand('nope', { config: cfgPath })).rejects.toThrow(UsageError);
    await expect(probeCommand('nope', { config: cfgPath })).rejects.toThrow(
      /unknown sink "nope"; configured sinks: siem, archive/,
    );
    await expect(probeCommand(undefined, { config: cfgPath })).rejects.toThrow(
      /configured sinks: siem, archive/,
    );
    // Inherited object keys are not sinks.
    await expect(probeCommand('constructor', { config: cfgPath })).rejects.toThrow(/unknown sink/);
  });

  it('exit 1 for an invalid config and for a sink that cannot be built', async () => {
    expect(await probeCommand('siem', { config: config('  siem: { type: http }') })).toBe(1);
    expect(err).toMatch(/url/);
    err = '';
    mkdirSync(join(dir, 'tls'));
    const code = await probeCommand('s', {
      config: config(
        `  s: { type: http, url: "https://127.0.0.1:1/x", tls: { ca_file: ${join(dir, 'tls', 'missing.pem')} } }`,
      ),
    });
    expect(code).toBe(1);
    expect(err).toMatch(/tls\.ca_file .*missing\.pem: ENOENT/);
  });
});
