/**
 * Every receiver answer the delivery loop distinguishes, end to end through the built CLI:
 * a file of Retool audit lines → `auditshipper run` → the http sink → a fake SIEM on
 * 127.0.0.1 that answers as each test tells it. What the receiver got, the DLQ
 * (`auditshipper dlq list --json`) and the queue (`auditshipper status --json`) are checked.
 *
 * The cases run concurrently (each has its own agent, data dir and receiver): the 401/403
 * cases wait through the sink's slow unhealthy retry (retry.unhealthy_backoff) and dominate the file.
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
  startGenericReceiver,
  type BaseReceiver,
  type GenericReceiver,
} from '../helpers/receivers/index.js';
import { retoolAuditLine, rng } from '../helpers/workload.js';

interface Setup {
  dir: string;
  cfg: string;
  log: string;
  siem: GenericReceiver;
  /** Arrival time (epoch ms) of each request, index-aligned with siem.requests. */
  arrivals: number[];
  agent?: Running;
}

type OnFinished = (fn: () => Promise<void> | void) => void;

/** Wrap the receiver's request log so each request's arrival time is known exactly. */
function recordArrivals(r: BaseReceiver): number[] {
  const times: number[] = [];
  const arr = r.requests;
  const push = arr.push.bind(arr);
  arr.push = (...items) => {
    for (let i = 0; i < items.length; i++) times.push(Date.now());
    return push(...items);
  };
  return times;
}

async function setup(
  onFinished: OnFinished,
  sinkExtra = '',
  retry = '{ initial_backoff: 100ms, max_backoff: 500ms }',
): Promise<Setup> {
  const dir = tempDir('as-http-');
  mkdirSync(join(dir, 'logs'));
  const siem = await startGenericReceiver();
  const arrivals = recordArrivals(siem);
  const cfg = writeConfig(
    dir,
    `
${jsonLogsConfig(dir, { logLevel: 'info', shutdownTimeout: '5s', rescanInterval: '100ms' })}sinks:
  siem:
    type: http
    url: ${siem.url}/ingest
    batch: { max_events: 1000, max_bytes: 4MiB, timeout: 500ms }
    retry: ${retry}
    request: { timeout: 5s }
${sinkExtra}
routes:
  - name: all
    to: [siem]
`,
  );
  const s: Setup = { dir, cfg, log: join(dir, 'logs', 'app.log'), siem, arrivals };
  // Per test (the cases run concurrently): never leave an agent or a port behind.
  onFinished(async () => {
    s.agent?.child.kill('SIGKILL');
    await s.siem.close();
  });
  return s;
}

function writeEvents(s: Setup, from: number, to: number): void {
  const r = rng(from + 1);
  const lines: string[] = [];
  for (let i = from; i < to; i++) lines.push(retoolAuditLine(i, r));
  appendFileSync(s.log, lines.join('\n') + '\n');
}

function start(s: Setup): Running {
  s.agent = startCli(['run', '-c', s.cfg]);
  return s.agent;
}

async function stop(s: Setup): Promise<void> {
  s.agent!.child.kill('SIGTERM');
  const ex = await s.agent!.exited;
  expect(ex.code, s.agent!.stderr()).toBe(0);
}

/** Poll an async condition (waitFor takes synchronous ones). */
async function until(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Run a CLI command to completion without blocking this process's receivers. */
async function cli(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = startCli(args);
  const ex = await r.exited;
  return { code: ex.code, stdout: r.stdout(), stderr: r.stderr() };
}

async function dlqList(s: Setup): Promise<Record<string, unknown>[]> {
  const r = await cli(['dlq', 'list', '--json', '-c', s.cfg]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function queueDepth(s: Setup): Promise<number> {
  const r = await cli(['status', '--json', '-c', s.cfg]);
  expect(r.code, r.stderr).toBe(0);
  const st = JSON.parse(r.stdout) as { sinks: { sink: string; depth: number; dlq: number }[] };
  return st.sinks.find((x) => x.sink === 'siem')?.depth ?? 0;
}

/** app_event_id → how many times it was received. */
function tally(siem: GenericReceiver): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of siem.received)
    m.set(String(e.app_event_id), (m.get(String(e.app_event_id)) ?? 0) + 1);
  return m;
}

function expectExactlyOnce(
  siem: GenericReceiver,
  from: number,
  to: number,
  except: number[] = [],
): void {
  const t = tally(siem);
  for (let i = from; i < to; i++) {
    if (except.includes(i))
      expect(t.has(String(i)), `event ${i} must not be delivered`).toBe(false);
    else expect(t.get(String(i)), `event ${i}`).toBe(1);
  }
  expect(siem.received.length).toBe(to - from - except.length);
}

const statuses = (siem: GenericReceiver) => siem.requests.map((r) => r.status);
const idemKey = (siem: GenericReceiver, i: number) =>
  String(siem.requests[i]!.headers['idempotency-key']);

describe.concurrent(
  'http sink: every status path through the built CLI',
  { timeout: 90_000 },
  () => {
    // First: these wait through the slow unhealthy retry, the others run beside them.
    it.for([401, 403])(
      '%i: the sink turns unhealthy, logs once naming it (never the token), drops nothing, retries slowly, delivers once fixed',
      async (status, { onTestFinished }) => {
        const token = `tok-${status}-do-not-print-0123456789`;
        const s = await setup(
          onTestFinished,
          `    auth: { strategy: bearer, token: ${token} }`,
          '{ initial_backoff: 100ms, max_backoff: 500ms, unhealthy_backoff: 8s }',
        );
        s.siem.setMode({ status });
        writeEvents(s, 0, 50);
        start(s);
        await waitFor(
          'the refused request',
          () => s.siem.requests.length >= 1 || undefined,
          30_000,
        );
        const refusedAt = s.arrivals[0]!;
        // Slow retry: no second attempt within the next seconds (a 5xx would be retried in < 0.5 s).
        await new Promise((r) => setTimeout(r, 3000));
        expect(s.siem.requests.length).toBe(1);
        expect(await queueDepth(s)).toBe(50);
        expect(await dlqList(s)).toEqual([]);
        expect(s.agent!.stderr()).toMatch(/sink siem refuses our credentials/);
        // "Credentials fixed": the receiver accepts again; the next slow retry delivers everything.
        s.siem.setMode('normal');
        await waitFor(
          'all delivered',
          () => s.siem.received.length >= 50 || undefined,
          45_000,
          200,
        );
        // retry.unhealthy_backoff (8 s here) paces the retries, not the fast 5xx backoff.
        expect(s.arrivals[1]! - refusedAt).toBeGreaterThanOrEqual(7_500);
        expectExactlyOnce(s.siem, 0, 50);
        expect(s.siem.requests[1]!.headers.authorization).toBe(`Bearer ${token}`);
        await until('queue drained', async () => (await queueDepth(s)) === 0, 10_000);
        await stop(s);
        const logs = s.agent!.stderr();
        expect(logs.match(/refuses our credentials/g)).toHaveLength(1);
        expect(logs).toMatch(/sink recovered/);
        expect(logs).not.toContain(token);
      },
    );

    it('401 from a wrong token; fixing the token in the config file (live reload) delivers everything', async ({
      onTestFinished,
    }) => {
      const s = await setup(
        onTestFinished,
        '    auth: { strategy: bearer, token: "${SIEM_TOKEN}" }',
      );
      const right = 'the-right-token-0123456789';
      const wrong = 'the-wrong-token-9876543210';
      // The receiver checks the token for real this time (no forced status).
      await s.siem.close();
      s.siem = await startGenericReceiver({ auth: { bearer: right }, port: s.siem.port });
      onTestFinished(() => s.siem.close());
      writeEvents(s, 0, 40);
      s.agent = startCli(['run', '-c', s.cfg], { env: { SIEM_TOKEN: wrong } });
      await waitFor('the refused request', () => s.siem.requests.length >= 1 || undefined, 30_000);
      expect(s.siem.requests[0]!.status).toBe(401);
      // The operator fixes the token in the file (here: a literal, no longer from the env).
      const { readFileSync, writeFileSync } = await import('node:fs');
      const fixedAt = Date.now();
      writeFileSync(s.cfg, readFileSync(s.cfg, 'utf8').replace('"${SIEM_TOKEN}"', right));
      await waitFor('all delivered', () => s.siem.received.length >= 40 || undefined, 20_000, 100);
      // Well before the 30 s slow retry of the old sink: the reload replaced it.
      expect(Date.now() - fixedAt).toBeLessThan(20_000);
      expectExactlyOnce(s.siem, 0, 40);
      await stop(s);
      const logs = s.agent.stderr();
      expect(logs).toMatch(/config reloaded/);
      expect(logs).not.toContain(right);
      expect(logs).not.toContain(wrong);
    });

    it('400: bisects the batch, delivers the good events once, dead-letters only the poison event', async ({
      onTestFinished,
    }) => {
      const s = await setup(onTestFinished);
      s.siem.rejectWhen((e) => e.app_event_id === '37');
      writeEvents(s, 0, 100);
      start(s);
      await waitFor(
        '99 delivered and 1 dead letter',
        () => s.siem.received.length >= 99 || undefined,
        60_000,
      );
      await until('the dead letter', async () => (await dlqList(s)).length === 1, 10_000);
      const dlq = await dlqList(s);
      expectExactlyOnce(s.siem, 0, 100, [37]);
      expect(dlq).toHaveLength(1);
      expect(dlq[0]).toMatchObject({ sink: 'siem', status: 400 });
      expect(String(dlq[0]!.reason)).toMatch(/HTTP 400/);
      expect(String(dlq[0]!.response)).toMatch(/rejected event/);
      expect((dlq[0]!.body as Record<string, unknown>).app_event_id).toBe('37');
      // Bisection, not one request per event: about 2·log2(100) rejected requests.
      const rejected = statuses(s.siem).filter((x) => x === 400).length;
      expect(rejected).toBeGreaterThanOrEqual(7);
      expect(rejected).toBeLessThanOrEqual(15);
      expect(await queueDepth(s)).toBe(0);
      await stop(s);
    });

    it('413: splits the batch in halves and retries them; a single event still too large is dead-lettered', async ({
      onTestFinished,
    }) => {
      const s = await setup(onTestFinished);
      s.siem.failNext(413);
      writeEvents(s, 0, 100);
      start(s);
      await waitFor('all delivered', () => s.siem.received.length >= 100 || undefined, 60_000);
      expectExactlyOnce(s.siem, 0, 100);
      expect(statuses(s.siem).slice(0, 3)).toEqual([413, 200, 200]);
      // The halves cover exactly the refused batch: same first and last ids, adjacent in the middle.
      const [first, last] = idemKey(s.siem, 0).split(':');
      const [a1, a2] = idemKey(s.siem, 1).split(':');
      const [b1, b2] = idemKey(s.siem, 2).split(':');
      expect(a1).toBe(first);
      expect(b2).toBe(last);
      const half1 = JSON.parse(s.siem.requests[1]!.body.toString()) as unknown[];
      const half2 = JSON.parse(s.siem.requests[2]!.body.toString()) as unknown[];
      expect(half1.length + half2.length).toBe(100);
      expect(Math.abs(half1.length - half2.length)).toBeLessThanOrEqual(1);
      expect((half1.at(-1) as { id: string }).id).toBe(a2);
      expect((half2[0] as { id: string }).id).toBe(b1);

      // One event alone, refused as too large: nothing left to split, so it goes to the DLQ.
      s.siem.setMode({ status: 413 });
      writeEvents(s, 100, 101);
      await until('the dead letter', async () => (await dlqList(s)).length === 1, 15_000);
      const [dl] = await dlqList(s);
      expect(dl).toMatchObject({ sink: 'siem', status: 413 });
      expect(String(dl!.reason)).toMatch(/too large/);
      expect((dl!.body as Record<string, unknown>).app_event_id).toBe('100');
      s.siem.setMode('normal');
      await stop(s);
    });

    it('429 with Retry-After (seconds): the retry waits at least that long', async ({
      onTestFinished,
    }) => {
      const s = await setup(onTestFinished);
      s.siem.failNext(429, { retryAfter: 2 });
      writeEvents(s, 0, 20);
      start(s);
      await waitFor('all delivered', () => s.siem.received.length >= 20 || undefined, 60_000);
      expectExactlyOnce(s.siem, 0, 20);
      expect(statuses(s.siem)).toEqual([429, 200]);
      expect(s.arrivals[1]! - s.arrivals[0]!).toBeGreaterThanOrEqual(1950);
      await stop(s);
    });

    it('429 without Retry-After: retried after the configured backoff (max 500 ms), not after seconds', async ({
      onTestFinished,
    }) => {
      const s = await setup(onTestFinished);
      s.siem.failNext(429);
      s.siem.failNext(429);
      writeEvents(s, 0, 20);
      start(s);
      await waitFor('all delivered', () => s.siem.received.length >= 20 || undefined, 60_000);
      expectExactlyOnce(s.siem, 0, 20);
      expect(statuses(s.siem)).toEqual([429, 429, 200]);
      // Full jitter under a 500 ms cap; generous for a loaded 2-core machine.
      expect(s.arrivals[1]! - s.arrivals[0]!).toBeLessThan(1500);
      expect(s.arrivals[2]! - s.arrivals[1]!).toBeLessThan(1500);
      await stop(s);
    });

    it('503 with Retry-After as an HTTP date: not retried before that date', async ({
      onTestFinished,
    }) => {
      const s = await setup(onTestFinished);
      const date = new Date(Date.now() + 4000).toUTCString();
      s.siem.failNext(503, { retryAfter: date });
      writeEvents(s, 0, 20);
      start(s);
      await waitFor('all delivered', () => s.siem.received.length >= 20 || undefined, 60_000);
      expectExactlyOnce(s.siem, 0, 20);
      expect(statuses(s.siem)).toEqual([503, 200]);
      expect(s.arrivals[1]!).toBeGreaterThanOrEqual(Date.parse(date) - 50);
      await stop(s);
    });

    it('500, 503, 408, 502: retried until accepted; nothing dropped, nothing duplicated', async ({
      onTestFinished,
    }) => {
      const s = await setup(onTestFinished);
      for (const st of [500, 503, 408, 502]) s.siem.failNext(st);
      writeEvents(s, 0, 50);
      start(s);
      await waitFor('all delivered', () => s.siem.received.length >= 50 || undefined, 60_000);
      expectExactlyOnce(s.siem, 0, 50);
      expect(statuses(s.siem)).toEqual([500, 503, 408, 502, 200]);
      expect(await dlqList(s)).toEqual([]);
      await stop(s);
    });

    it('retry.max_age: a batch still failing after that long goes to the DLQ with the reason', async ({
      onTestFinished,
    }) => {
      const s = await setup(
        onTestFinished,
        '',
        '{ initial_backoff: 100ms, max_backoff: 500ms, max_age: 2s }',
      );
      s.siem.setMode({ status: 503 });
      writeEvents(s, 0, 10);
      start(s);
      await waitFor('the first attempt', () => s.siem.requests.length >= 1 || undefined, 30_000);
      await until('dead letters', async () => (await dlqList(s)).length === 10, 20_000);
      const dlq = await dlqList(s);
      expect(dlq.every((d) => d.status === 503)).toBe(true);
      expect(String(dlq[0]!.reason)).toMatch(
        /gave up after \d+ attempts \(retry.max_age exceeded\)/,
      );
      expect(s.siem.requests.length).toBeGreaterThan(2); // it did retry first
      expect(s.siem.received).toHaveLength(0);
      expect(await queueDepth(s)).toBe(0);
      await stop(s);
    });

    it('connection resets and timeouts: retried until the receiver answers', async ({
      onTestFinished,
    }) => {
      const s = await setup(onTestFinished);
      // request.timeout 5s in setup; a hang costs one timeout, resets are immediate.
      s.siem.setMode('reset');
      writeEvents(s, 0, 30);
      start(s);
      await waitFor('two reset attempts', () => s.siem.requests.length >= 2 || undefined, 30_000);
      s.siem.setMode('hang');
      const n = s.siem.requests.length;
      await waitFor('a hung attempt', () => s.siem.requests.length > n || undefined, 15_000);
      s.siem.setMode('normal');
      await waitFor('all delivered', () => s.siem.received.length >= 30 || undefined, 60_000);
      expectExactlyOnce(s.siem, 0, 30);
      expect(await dlqList(s)).toEqual([]);
      await stop(s);
    });
  },
);
