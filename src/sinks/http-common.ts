/**
 * What the HTTP sinks (datadog, splunk_hec, http) share: one keep-alive undici Pool per sink,
 * TLS material loading, compression, bounded response reading, Retry-After parsing, and the
 * mapping of network failures and generic HTTP statuses onto a Verdict.
 *
 * Two rules hold for everything here:
 *  - a reason string names the sink and a status or an error *code*; never a URL (it can hold a
 *    token), an error message (it can quote the URL), a header value or event content;
 *  - a response body is kept only up to MAX_KEPT_RESPONSE_BYTES and scrubbed of the sink's
 *    secrets, because a rejected event's response body ends up in the DLQ.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { Pool } from 'undici';
import type { TlsConfig } from './common-config.js';
import type { QueuedEvent, Verdict } from './types.js';

/** The part of a pino logger the sinks use (pino's Logger satisfies it). */
export interface SinkLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface SinkDeps {
  logger: SinkLogger;
}

/** A receiver's answer, as classify() sees it. `body` is already bounded. */
export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** How much of a response body is kept (for DLQ reasons and body-code parsing). */
export const MAX_KEPT_RESPONSE_BYTES = 4096;
/** Beyond this much response body the connection is dropped instead of drained. */
const MAX_DRAINED_RESPONSE_BYTES = 1024 * 1024;

export const USER_AGENT = `auditshipper/${readOwnVersion()}`;

function readOwnVersion(): string {
  try {
    // src/sinks/ and dist/sinks/ both sit two levels below the package root.
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : '0';
  } catch {
    return '0';
  }
}

/** `datadog sink "dd"`: how every reason and log line names the sink. */
export function sinkLabel(type: string, name: string): string {
  return `${type} sink ${JSON.stringify(name)}`;
}

export function headerValue(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * `Retry-After` as milliseconds from now: delta-seconds or an HTTP date (RFC 9110 10.2.3; the
 * OTel collector reads both, research 4.3). Undefined when absent or unusable; a date in the
 * past means "now" (0). The delivery loop decides how far it is willing to wait.
 */
export function parseRetryAfter(
  value: string | string[] | undefined,
  nowMs: number = Date.now(),
): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) {
    const secs = Number(v);
    return Number.isSafeInteger(secs) ? secs * 1000 : undefined;
  }
  // Only accept things that look like dates (a weekday or month name), so that "-5" or "1.5"
  // are not handed to Date.parse, which accepts surprisingly much.
  if (!/[A-Za-z]{3}/.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

// --- TLS -------------------------------------------------------------------------------------

export interface ResolvedTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
}

/**
 * Read the TLS files named in the config. Throws an Error naming the key and path (never the
 * contents) when a file cannot be read, so a bad config never starts. `verify: false` is
 * logged as a warning every time a sink is created (start and every reload).
 */
export function loadTls(
  label: string,
  tls: TlsConfig | undefined,
  logger: SinkLogger,
): ResolvedTls | undefined {
  if (!tls) return undefined;
  const read = (key: string, path: string | undefined): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`${label}: cannot read tls.${key} ${path}: ${errorCode(err)}`);
    }
  };
  const resolved: ResolvedTls = { rejectUnauthorized: tls.verify };
  const ca = read('ca_file', tls.ca_file);
  const cert = read('cert_file', tls.cert_file);
  const key = read('key_file', tls.key_file);
  if (ca) resolved.ca = ca;
  if (cert) resolved.cert = cert;
  if (key) resolved.key = key;
  if (!tls.verify) {
    logger.warn(
      { sink: label },
      `${label}: tls.verify is false: the server certificate is NOT checked, anyone on the path can read and alter audit events`,
    );
  }
  return resolved;
}

// --- requests --------------------------------------------------------------------------------

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH';

export interface OutgoingRequest {
  method: HttpMethod;
  /** Path plus query string, e.g. `/api/v2/logs` or `/services/collector/ack?channel=...`. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Response bytes kept (default MAX_KEPT_RESPONSE_BYTES); raise it for bodies that are parsed whole. */
  maxBodyBytes?: number;
}

/** Why a request produced no HTTP answer. `code` is a bare error code, safe to log. */
export interface NetworkFailure {
  kind: 'network' | 'timeout' | 'aborted' | 'tls';
  code: string;
}

export type HttpOutcome =
  { ok: true; response: HttpResponse } | { ok: false; failure: NetworkFailure };

export interface HttpClient {
  /** `scheme://host:port` the pool talks to. */
  readonly origin: string;
  /** One request. Never throws: a missing answer is a NetworkFailure. */
  request(req: OutgoingRequest, signal: AbortSignal): Promise<HttpOutcome>;
  close(): Promise<void>;
}

export interface HttpClientOptions {
  url: URL;
  /** Connections kept to the origin (the sink's request concurrency). */
  connections: number;
  /** Deadline for one request, from dispatch to the last body byte. */
  timeoutMs: number;
  tls?: ResolvedTls | undefined;
}

/** A keep-alive pool to one origin. */
export function createHttpClient(opts: HttpClientOptions): HttpClient {
  const origin = opts.url.origin;
  const tls = opts.tls;
  const pool = new Pool(origin, {
    connections: opts.connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    connect: {
      timeout: Math.min(opts.timeoutMs, 10_000),
      ...(tls
        ? {
            rejectUnauthorized: tls.rejectUnauthorized,
            ...(tls.ca ? { ca: tls.ca } : {}),
            ...(tls.cert ? { cert: tls.cert } : {}),
            ...(tls.key ? { key: tls.key } : {}),
          }
        : {}),
    },
  });

  async function request(req: OutgoingRequest, signal: AbortSignal): Promise<HttpOutcome> {
    if (signal.aborted) return { ok: false, failure: { kind: 'aborted', code: 'ABORTED' } };
    // One controller per request, tied to the caller's signal and a deadline, both released
    // in `finally`: AbortSignal.any() on a long-lived parent signal has leaked listeners in
    // some Node 20 releases, and memory must stay flat over millions of requests.
    const ac = new AbortController();
    let timedOut = false;
    const onAbort = (): void => ac.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, opts.timeoutMs);
    try {
      const res = await pool.request({
        method: req.method,
        path: req.path,
        headers: req.headers,
        body: req.body ?? null,
        signal: ac.signal,
      });
      const body = await readBounded(res.body, req.maxBodyBytes ?? MAX_KEPT_RESPONSE_BYTES);
      return {
        ok: true,
        response: {
          status: res.statusCode,
          headers: res.headers,
          body,
        },
      };
    } catch (err) {
      if (signal.aborted) return { ok: false, failure: { kind: 'aborted', code: 'ABORTED' } };
      if (timedOut) return { ok: false, failure: { kind: 'timeout', code: 'TIMEOUT' } };
      const code = errorCode(err);
      return {
        ok: false,
        failure: { kind: isTlsCode(code) ? 'tls' : classifyNetCode(code), code },
      };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  async function close(): Promise<void> {
    // Sends are resolved before close() is called; a lingering request (a receiver that never
    // answers) must not hold shutdown, so give the graceful close a moment, then cut.
    let timer: NodeJS.Timeout | undefined;
    const cut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 2000);
      timer.unref();
    });
    await Promise.race([pool.close().catch(() => undefined), cut]);
    clearTimeout(timer);
    if (!pool.destroyed) await pool.destroy().catch(() => undefined);
  }

  return { origin, request, close };
}

/** Keep the first `keep` bytes; drain (for keep-alive) up to 1 MiB; beyond that drop the connection. */
async function readBounded(
  body: AsyncIterable<Buffer> & { destroy(): unknown },
  keep: number,
): Promise<string> {
  const kept: Buffer[] = [];
  let keptLen = 0;
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (keptLen < keep) {
      const part = chunk.subarray(0, keep - keptLen);
      kept.push(part);
      keptLen += part.length;
    }
    if (total > Math.max(keep, MAX_DRAINED_RESPONSE_BYTES)) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(kept).toString('utf8');
}

/** The first string `code` on the error or its causes, reduced to a safe token. */
export function errorCode(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e !== null && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  const name = err instanceof Error ? err.name : '';
  return /^[A-Za-z0-9_]{1,64}$/.test(name) ? name : 'UNKNOWN';
}

function isTlsCode(code: string): boolean {
  return (
    /CERT|SELF_SIGNED|ALTNAME|UNABLE_TO_(GET|VERIFY)|ERR_SSL|ERR_TLS|HOSTNAME_MISMATCH/.test(
      code,
    ) && code !== 'ERR_TLS_HANDSHAKE_TIMEOUT'
  );
}

function classifyNetCode(code: string): 'network' | 'timeout' {
  return /TIMEOUT|ETIMEDOUT/.test(code) ? 'timeout' : 'network';
}

/**
 * No HTTP answer → Verdict. Network errors and timeouts are retried (research 4.4). A TLS
 * verification failure will not heal by itself (wrong CA, wrong host name, missing client
 * certificate), so it marks the sink unhealthy: still retried, slowly, never dropped.
 */
export function failureVerdict(label: string, f: NetworkFailure): Verdict {
  switch (f.kind) {
    case 'aborted':
      return { kind: 'retry', reason: `${label}: request aborted` };
    case 'timeout':
      return { kind: 'retry', reason: `${label}: request timed out (${f.code})` };
    case 'tls':
      return { kind: 'unhealthy', reason: `${label}: TLS failure ${f.code}` };
    case 'network':
      return { kind: 'retry', reason: `${label}: network error ${f.code}` };
  }
}

// --- bodies ----------------------------------------------------------------------------------

export type Compression = 'none' | 'gzip';

const gzipAsync = promisify(gzipCb);

/** zlib's output buffer per thread-pool round trip: 16 KiB by default. */
const MIN_GZIP_CHUNK = 16 * 1024;
const MAX_GZIP_CHUNK = 1024 * 1024;

/**
 * Compress off the event loop (zlib's thread pool): a 5 MB batch takes tens of milliseconds
 * to gzip, which would otherwise stall every other sink and source.
 *
 * The output buffer is sized to the body (a quarter of it: JSON compresses 4-6×), not zlib's
 * 16 KiB default: each full buffer is a round trip through the thread pool and a callback
 * on the event loop, about sixteen of them for a 1 MB NDJSON batch, and those callbacks
 * were 4-5% of the main thread's time under load.
 */
export async function compressBody(
  body: Buffer,
  compression: Compression,
): Promise<{ body: Buffer; headers: Record<string, string> }> {
  if (compression === 'none') return { body, headers: {} };
  const chunkSize = Math.min(MAX_GZIP_CHUNK, Math.max(MIN_GZIP_CHUNK, body.length >> 2));
  return { body: await gzipAsync(body, { chunkSize }), headers: { 'content-encoding': 'gzip' } };
}

/** Keep a response body fit for a DLQ row: bounded, secrets removed, no control characters. */
export function sanitizeResponseBody(body: string, secrets: readonly string[]): string {
  let out = body.length > MAX_KEPT_RESPONSE_BYTES ? body.slice(0, MAX_KEPT_RESPONSE_BYTES) : body;
  for (const s of secrets) {
    // Short "secrets" (a 1-char password) would shred the text and prove nothing.
    if (s.length >= 4) out = out.split(s).join('[REDACTED]');
  }
  return out.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '');
}

/** Header-safe id: kept as is when plain, else a short hash (ids can hold any character). */
function headerSafeId(id: string): string {
  if (/^[A-Za-z0-9._~-]{1,128}$/.test(id)) return id;
  return `sha256-${createHash('sha256').update(id).digest('hex').slice(0, 32)}`;
}

/**
 * `<first id>:<last id>` of a batch, for an Idempotency-Key-style header. ':' never occurs in
 * a header-safe id, so the two halves are unambiguous.
 */
export function idempotencyKey(batch: readonly QueuedEvent[]): string {
  const first = batch[0];
  const last = batch[batch.length - 1];
  if (!first || !last) return '';
  return `${headerSafeId(first.id)}:${headerSafeId(last.id)}`;
}

/**
 * An event the encoder cannot turn into a request (its stored body is not valid JSON). The
 * driver answers `reject`, so the delivery loop bisects down to that event and dead-letters it.
 */
export class EncodeError extends Error {
  constructor(
    readonly eventId: string,
    message: string,
  ) {
    super(message);
    this.name = 'EncodeError';
  }
}

/** Parse one stored event body as a JSON object, or throw EncodeError naming its id. */
export function parseEventBody(ev: QueuedEvent): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(ev.body);
  } catch {
    throw new EncodeError(ev.id, `event ${JSON.stringify(ev.id)} is not valid JSON`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new EncodeError(ev.id, `event ${JSON.stringify(ev.id)} is not a JSON object`);
  }
  return v as Record<string, unknown>;
}

// --- status classification -------------------------------------------------------------------

export function statusText(status: number): string {
  const phrase = STATUS_CODES[status];
  return phrase ? `HTTP ${status} ${phrase}` : `HTTP ${status}`;
}

export interface ClassifyOptions {
  /** Statuses whose Retry-After is honoured; 'any' = every retried status. */
  retryAfterOn: 'any' | readonly number[];
}

/**
 * The generic status table (research 4.4, with 3.1/4.1 for 501):
 *  2xx ok; 408, 429, 5xx except 501 retry; 413 split; 401/403 unhealthy;
 *  400 and other 4xx reject — except 404/405 (and 3xx, 501), which mean the URL or method is
 *  wrong for *every* event: rejecting would bisect every batch into the DLQ, so they mark the
 *  sink unhealthy instead (retried slowly, nothing dropped).
 */
export function classifyHttpStatus(
  label: string,
  res: HttpResponse,
  opts: ClassifyOptions = { retryAfterOn: [429, 503] },
): Verdict {
  const s = res.status;
  const text = statusText(s);
  if (s >= 200 && s < 300) return { kind: 'ok' };
  if (s === 408 || s === 429 || (s >= 500 && s !== 501)) {
    return retryVerdict(label, res, opts);
  }
  if (s === 413) return { kind: 'split', reason: `${label}: ${text}: batch too large`, status: s };
  if (s === 401 || s === 403) {
    return { kind: 'unhealthy', reason: `${label}: ${text}: check the credentials`, status: s };
  }
  if (s === 404 || s === 405 || s === 501 || (s >= 300 && s < 400)) {
    return { kind: 'unhealthy', reason: `${label}: ${text}: check the URL and method`, status: s };
  }
  if (s >= 400 && s < 500) {
    return { kind: 'reject', reason: `${label}: ${text}`, status: s, body: res.body };
  }
  // 1xx that undici did not consume, or a non-HTTP status: nothing is known, try again.
  return { kind: 'retry', reason: `${label}: unexpected ${text}`, status: s };
}

/** A retry verdict carrying the server's Retry-After when the status allows it. */
export function retryVerdict(
  label: string,
  res: HttpResponse,
  opts: ClassifyOptions,
  detail?: string,
): Verdict {
  const s = res.status;
  const honour = opts.retryAfterOn === 'any' || opts.retryAfterOn.includes(s);
  const afterMs = honour ? parseRetryAfter(res.headers['retry-after']) : undefined;
  const suffix = detail ? `: ${detail}` : '';
  return afterMs === undefined
    ? { kind: 'retry', reason: `${label}: ${statusText(s)}${suffix}`, status: s }
    : {
        kind: 'retry',
        reason: `${label}: ${statusText(s)}${suffix} (retry after ${afterMs}ms)`,
        status: s,
        afterMs,
      };
}
