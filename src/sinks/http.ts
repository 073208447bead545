/**
 * Generic HTTP sink for SIEMs and collectors (research/sinks.md section 3): the redacted
 * AuditEvents as a JSON array or NDJSON, optional gzip, basic/bearer/custom-header auth, TLS
 * with a private CA and mutual TLS, and an Idempotency-Key header (first and last event id)
 * so receivers can recognise a resent batch. Statuses follow the consensus table (research 4.4).
 */
import { z } from 'zod';
import { commonSinkKeys, tlsSchema, zHttpUrl } from './common-config.js';
import { isOneLineObject, jsonArrayBytes, ndjsonBytes } from './bodies.js';
import {
  classifyHttpStatus,
  compressBody,
  createHttpClient,
  EncodeError,
  failureVerdict,
  idempotencyKey,
  loadTls,
  sanitizeResponseBody,
  sinkLabel,
  USER_AGENT,
} from './http-common.js';
import type { HttpResponse, SinkDeps } from './http-common.js';
import type { QueuedEvent, SinkDriver, Verdict } from './types.js';

/** RFC 9110 token: what a header name may be. */
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers the sink computes itself; configuring them would corrupt the request. */
const MANAGED_HEADERS = new Set([
  'content-length',
  'content-type',
  'content-encoding',
  'transfer-encoding',
  'host',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
]);

const headerName = z.string().regex(HEADER_NAME_RE, { message: 'not a valid HTTP header name' });
const headerValueSchema = z.string().refine((v) => !/[\u0000-\u0008\u000a-\u001f\u007f]/.test(v), {
  message: 'header values cannot contain control characters or line breaks',
});

const authSchema = z.discriminatedUnion('strategy', [
  z.strictObject({
    strategy: z.literal('basic'),
    user: z
      .string()
      .min(1)
      .refine((u) => !u.includes(':'), { message: 'a basic-auth user cannot contain ":"' }),
    password: z.string(),
  }),
  z.strictObject({
    strategy: z.literal('bearer'),
    token: z.string().trim().min(1).pipe(headerValueSchema),
  }),
  z.strictObject({
    strategy: z.literal('header'),
    name: headerName,
    value: headerValueSchema.min(1),
  }),
]);

export const httpSinkSchema = z
  .strictObject({
    type: z.literal('http'),
    url: zHttpUrl,
    method: z.enum(['POST', 'PUT', 'PATCH']).default('POST'),
    /** json: one JSON array per request; ndjson: one event per line (research 3.1). */
    encoding: z.enum(['json', 'ndjson']).default('json'),
    compression: z.enum(['none', 'gzip']).default('none'),
    headers: z.record(z.string(), headerValueSchema).default({}),
    auth: authSchema.optional(),
    /** Header carrying `<first id>:<last id>`; false to leave it out. */
    idempotency_header: z.union([headerName, z.literal(false)]).default('Idempotency-Key'),
    tls: tlsSchema.optional(),
    // Vector's http sink batches up to 10 MB (research 3.1); 1 MB keeps one SIEM request
    // modest and a 400 bisection cheap. 1000 events, 1 s.
    ...commonSinkKeys({ maxEvents: 1000, maxBytes: 1_000_000, timeout: '1s' }),
  })
  .superRefine((c, ctx) => {
    for (const k of Object.keys(c.headers)) {
      if (!HEADER_NAME_RE.test(k)) {
        ctx.addIssue({
          code: 'custom',
          path: ['headers', k],
          message: 'not a valid HTTP header name',
        });
      }
      if (MANAGED_HEADERS.has(k.toLowerCase())) {
        ctx.addIssue({
          code: 'custom',
          path: ['headers', k],
          message: `${k} is set by the sink (encoding/compression decide it) and cannot be configured`,
        });
      }
      if (c.auth && k.toLowerCase() === 'authorization') {
        ctx.addIssue({
          code: 'custom',
          path: ['headers', k],
          message: 'authorization is set by auth: configure one or the other',
        });
      }
    }
    if (c.auth?.strategy === 'header' && c.auth.name.toLowerCase() in lowerKeys(c.headers)) {
      ctx.addIssue({
        code: 'custom',
        path: ['auth', 'name'],
        message: `header ${c.auth.name} is also set under headers`,
      });
    }
    if (c.tls && new URL(c.url).protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'tls settings need an https:// url' });
    }
  });

function lowerKeys(o: Record<string, string>): Record<string, true> {
  const out: Record<string, true> = {};
  for (const k of Object.keys(o)) out[k.toLowerCase()] = true;
  return out;
}

export type HttpSinkConfig = z.output<typeof httpSinkSchema>;

/** Headers that carry credentials (their values are scrubbed from kept response bodies). */
export function authHeaders(auth: HttpSinkConfig['auth']): Record<string, string> {
  if (!auth) return {};
  switch (auth.strategy) {
    case 'basic':
      return {
        authorization: `Basic ${Buffer.from(`${auth.user}:${auth.password}`, 'utf8').toString('base64')}`,
      };
    case 'bearer':
      return { authorization: `Bearer ${auth.token}` };
    case 'header':
      return { [auth.name.toLowerCase()]: auth.value };
  }
}

export interface HttpSinkRequest {
  body: Buffer;
  headers: Record<string, string>;
  events: number;
}

/**
 * The request for one batch (uncompressed). The stored canonical JSON is joined as is —
 * no parse, no re-serialisation; events leased from the store carry their bytes (`raw`), so
 * the body is a copy of those, never decoded to a string — except that a body which is not a
 * single line of JSON would break NDJSON framing, so it is checked cheaply and refused
 * (EncodeError).
 */
export function encode(batch: readonly QueuedEvent[], cfg: HttpSinkConfig): HttpSinkRequest {
  const json = cfg.encoding === 'json';
  const headers: Record<string, string> = {
    'user-agent': USER_AGENT,
    ...lowerCaseHeaders(cfg.headers),
    ...authHeaders(cfg.auth),
    'content-type': json ? 'application/json' : 'application/x-ndjson',
  };
  if (cfg.idempotency_header !== false && batch.length > 0) {
    headers[cfg.idempotency_header.toLowerCase()] = idempotencyKey(batch);
  }
  return { body: joinBodies(batch, json), headers, events: batch.length };
}

/** Refuse a body that would break the framing, then join the bodies (src/sinks/bodies.ts). */
function joinBodies(batch: readonly QueuedEvent[], json: boolean): Buffer {
  for (const q of batch) {
    if (!isOneLineObject(q)) {
      throw new EncodeError(
        q.id,
        `event ${JSON.stringify(q.id.slice(0, 128))} is not a one-line JSON object`,
      );
    }
  }
  return json ? jsonArrayBytes(batch) : ndjsonBytes(batch);
}

function lowerCaseHeaders(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  return out;
}

/**
 * Research 4.4: 2xx ok; 408/429/5xx (not 501) retry, Retry-After honoured on 429/503;
 * 413 split; 401/403 unhealthy; 400 and other 4xx reject (404/405/501/3xx: unhealthy, see
 * classifyHttpStatus).
 */
export function classify(res: HttpResponse, label = 'http sink'): Verdict {
  return classifyHttpStatus(label, res, { retryAfterOn: [429, 503] });
}

export function createHttpSink(name: string, cfg: HttpSinkConfig, deps: SinkDeps): SinkDriver {
  const label = sinkLabel('http', name);
  const url = new URL(cfg.url);
  const path = `${url.pathname}${url.search}`;
  const client = createHttpClient({
    url,
    connections: cfg.request.concurrency,
    timeoutMs: cfg.request.timeout,
    tls: loadTls(label, cfg.tls, deps.logger),
  });
  // Everything that could authenticate us: auth values, configured header values (often an
  // API key), and the URL's query string (some SIEMs put the token there).
  const secrets = [
    ...Object.values(authHeaders(cfg.auth)),
    ...(cfg.auth?.strategy === 'basic' ? [cfg.auth.password] : []),
    ...(cfg.auth?.strategy === 'bearer' ? [cfg.auth.token] : []),
    ...Object.values(cfg.headers),
    ...[...url.searchParams.values()],
  ];

  async function send(batch: QueuedEvent[], signal: AbortSignal): Promise<Verdict> {
    if (batch.length === 0) return { kind: 'ok' };
    let req: HttpSinkRequest;
    try {
      req = encode(batch, cfg);
    } catch (err) {
      if (err instanceof EncodeError) return { kind: 'reject', reason: `${label}: ${err.message}` };
      throw err;
    }
    const { body, headers } = await compressBody(req.body, cfg.compression);
    const out = await client.request(
      { method: cfg.method, path, headers: { ...req.headers, ...headers }, body },
      signal,
    );
    if (!out.ok) return failureVerdict(label, out.failure);
    return classify(
      { ...out.response, body: sanitizeResponseBody(out.response.body, secrets) },
      label,
    );
  }

  return { name, type: 'http', send, close: () => client.close() };
}
