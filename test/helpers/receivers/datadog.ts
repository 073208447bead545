/**
 * A fake Datadog Logs v2 intake on 127.0.0.1, behaving as research/sinks.md section 1
 * documents: POST /api/v2/logs with DD-API-KEY (401 missing, 403 wrong), gzip/deflate bodies,
 * a JSON array of at most 1000 objects within 5 MB uncompressed, 202 on success; logs over
 * 1 MB are accepted (and counted in `oversized`, as the real intake truncates them). Also
 * GET /api/v1/validate for the healthcheck. Any status can be forced with failNext/setMode.
 *
 *   const dd = await startDatadogReceiver();
 *   sinkConfig.endpoint = dd.url; sinkConfig.api_key = dd.apiKey;
 *   dd.failNext(429, { retryAfter: 2 });
 *   await dd.waitForEvents(10);
 *   dd.received[0].ddsource
 */
import { extendReceiver, startReceiverCore } from './common.js';
import type { BaseReceiver, FailOptions, ServerTls } from './common.js';

export type DatadogLog = Record<string, unknown>;

export interface DatadogReceiverOptions {
  apiKey?: string;
  /** Answer 400 to any request holding a log for which this returns true (a poison event). */
  rejectWhen?: (log: DatadogLog) => boolean;
  tls?: ServerTls;
  port?: number;
}

export interface DatadogReceiver extends BaseReceiver {
  readonly apiKey: string;
  /** Accepted logs, in arrival order. */
  readonly received: DatadogLog[];
  /** Accepted logs that were over the 1 MB per-log limit (the real intake would truncate them). */
  readonly oversized: number;
  rejectWhen(pred: ((log: DatadogLog) => boolean) | undefined): void;
  waitForEvents(n: number, timeoutMs?: number): Promise<void>;
}

/** Limits from research 1.4. */
export const INTAKE_MAX_ENTRIES = 1000;
export const INTAKE_MAX_PAYLOAD = 5_000_000;
export const INTAKE_MAX_LOG = 1_000_000;

const ERROR_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

function errorBody(status: number, _o: FailOptions): object {
  return { errors: [ERROR_TEXT[status] ?? `HTTP ${status}`] };
}

export async function startDatadogReceiver(
  opts: DatadogReceiverOptions = {},
): Promise<DatadogReceiver> {
  const apiKey = opts.apiKey ?? 'test-dd-api-key-0123456789abcdef';
  const received: DatadogLog[] = [];
  let oversized = 0;
  let reject = opts.rejectWhen;

  const core = await startReceiverCore({
    ...(opts.tls ? { tls: opts.tls } : {}),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    errorBody,
    handle(req) {
      const key = req.headers['dd-api-key'];
      if (req.path === '/api/v1/validate') {
        if (req.method !== 'GET') return { status: 405, body: errorBody(405, {}) };
        return key === apiKey
          ? { status: 200, body: { valid: true } }
          : { status: 403, body: errorBody(403, {}) };
      }
      if (req.path !== '/api/v2/logs') return { status: 404, body: errorBody(404, {}) };
      if (req.method !== 'POST') return { status: 405, body: errorBody(405, {}) };
      if (key === undefined || key === '') return { status: 401, body: errorBody(401, {}) };
      if (key !== apiKey) return { status: 403, body: errorBody(403, {}) };
      if (req.body.length > INTAKE_MAX_PAYLOAD) return { status: 413, body: errorBody(413, {}) };
      let logs: unknown;
      try {
        logs = JSON.parse(req.body.toString('utf8'));
      } catch {
        return { status: 400, body: { errors: ['Bad Request: body is not JSON'] } };
      }
      if (!Array.isArray(logs))
        return { status: 400, body: { errors: ['Bad Request: expected an array'] } };
      // Over 1000 entries: whether Datadog answers 400 or 413 is UNCONFIRMED (research 1.4);
      // 413 is the choice here.
      if (logs.length > INTAKE_MAX_ENTRIES) return { status: 413, body: errorBody(413, {}) };
      for (const l of logs) {
        if (l === null || typeof l !== 'object' || Array.isArray(l)) {
          return { status: 400, body: { errors: ['Bad Request: log is not an object'] } };
        }
        if (reject?.(l as DatadogLog))
          return { status: 400, body: { errors: ['Bad Request: rejected log'] } };
      }
      for (const l of logs as DatadogLog[]) {
        if (Buffer.byteLength(JSON.stringify(l)) > INTAKE_MAX_LOG) oversized++;
        received.push(l);
      }
      return { status: 202, body: {} };
    },
  });

  return extendReceiver(core, {
    apiKey,
    received,
    get oversized() {
      return oversized;
    },
    rejectWhen(pred: ((log: DatadogLog) => boolean) | undefined) {
      reject = pred;
    },
    waitForEvents(n: number, timeoutMs?: number) {
      return core.waitUntil(() => received.length >= n, timeoutMs);
    },
  });
}
