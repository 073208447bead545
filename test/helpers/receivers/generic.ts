/**
 * A fake generic HTTP SIEM endpoint on 127.0.0.1: accepts a JSON array (application/json) or
 * NDJSON (application/x-ndjson), gzip or deflate, optionally behind basic, bearer or a custom
 * header, over plain HTTP, TLS or mutual TLS (certificates from ./tls.ts). 2xx on success,
 * 400 on a body it cannot parse, 401 on bad credentials.
 *
 *   const pki = generateTestPki();
 *   const siem = await startGenericReceiver({ auth: { bearer: 's3cret' }, tls: pki.serverTls(true) });
 *   siem.received  // parsed events;  siem.requests[0].headers['idempotency-key']
 */
import { extendReceiver, startReceiverCore } from './common.js';
import type { BaseReceiver, FailOptions, ServerTls } from './common.js';

export type GenericAuth =
  | { basic: { user: string; password: string } }
  | { bearer: string }
  | { header: { name: string; value: string } };

export interface GenericReceiverOptions {
  auth?: GenericAuth;
  tls?: ServerTls;
  /** Only this path is accepted (404 elsewhere). Default: any path. */
  path?: string;
  /** Status for an accepted request (default 200). */
  okStatus?: number;
  /** Answer 400 to a request holding an event for which this returns true. */
  rejectWhen?: (event: Record<string, unknown>) => boolean;
  port?: number;
}

export interface GenericReceiver extends BaseReceiver {
  /** Accepted events in arrival order. */
  readonly received: Record<string, unknown>[];
  rejectWhen(pred: ((event: Record<string, unknown>) => boolean) | undefined): void;
  waitForEvents(n: number, timeoutMs?: number): Promise<void>;
}

function errorBody(status: number, _o: FailOptions): object {
  return { error: `HTTP ${status}` };
}

function authorized(auth: GenericAuth | undefined, headers: Record<string, unknown>): boolean {
  if (!auth) return true;
  if ('basic' in auth) {
    const expected = `Basic ${Buffer.from(`${auth.basic.user}:${auth.basic.password}`).toString('base64')}`;
    return headers.authorization === expected;
  }
  if ('bearer' in auth) return headers.authorization === `Bearer ${auth.bearer}`;
  return headers[auth.header.name.toLowerCase()] === auth.header.value;
}

export function parseBody(
  contentType: string | undefined,
  body: string,
): Record<string, unknown>[] | undefined {
  const ct = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const isObj = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v);
  try {
    if (ct === 'application/x-ndjson' || ct === 'application/jsonl') {
      if (body !== '' && !body.endsWith('\n')) return undefined;
      const out: Record<string, unknown>[] = [];
      for (const line of body.split('\n')) {
        if (line === '') continue;
        const v: unknown = JSON.parse(line);
        if (!isObj(v)) return undefined;
        out.push(v);
      }
      return out;
    }
    if (ct === 'application/json') {
      const v: unknown = JSON.parse(body);
      if (isObj(v)) return [v];
      if (Array.isArray(v) && v.every(isObj)) return v;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

export async function startGenericReceiver(
  opts: GenericReceiverOptions = {},
): Promise<GenericReceiver> {
  const received: Record<string, unknown>[] = [];
  let reject = opts.rejectWhen;
  const core = await startReceiverCore({
    ...(opts.tls ? { tls: opts.tls } : {}),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    errorBody,
    handle(req) {
      if (opts.path !== undefined && req.path !== opts.path)
        return { status: 404, body: errorBody(404, {}) };
      if (!authorized(opts.auth, req.headers)) {
        return { status: 401, body: errorBody(401, {}), headers: { 'www-authenticate': 'Basic' } };
      }
      const events = parseBody(req.headers['content-type'], req.body.toString('utf8'));
      if (!events) return { status: 400, body: { error: 'unparseable body' } };
      if (reject && events.some((e) => reject?.(e))) {
        return { status: 400, body: { error: 'rejected event' } };
      }
      received.push(...events);
      return { status: opts.okStatus ?? 200, body: { accepted: events.length } };
    },
  });
  return extendReceiver(core, {
    received,
    rejectWhen(pred: ((event: Record<string, unknown>) => boolean) | undefined) {
      reject = pred;
    },
    waitForEvents(n: number, timeoutMs?: number) {
      return core.waitUntil(() => received.length >= n, timeoutMs);
    },
  });
}
