/**
 * Splunk HTTP Event Collector sink (research/sinks.md section 2): events in the HEC envelope,
 * concatenated back to back, POSTed to `/services/collector/event` with
 * `Authorization: Splunk <token>`. The response body's `code` is read (research 2.6), not only
 * the HTTP status.
 *
 * Indexer acknowledgement (research 2.7), when enabled: every request carries our channel GUID;
 * a 200 carries an `ackId`; send() then waits until `/services/collector/ack` reports that id
 * as indexed, so the delivery loop only deletes queue rows Splunk has actually indexed. Acks
 * of all in-flight requests are polled together by one poller.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { zDuration } from '../config/zod-units.js';
import { commonSinkKeys, healthcheckKey, tlsSchema, zHttpUrl } from './common-config.js';
import {
  EncodeError,
  classifyHttpStatus,
  compressBody,
  createHttpClient,
  failureVerdict,
  loadTls,
  parseEventBody,
  retryVerdict,
  sanitizeResponseBody,
  sinkLabel,
  statusText,
  USER_AGENT,
} from './http-common.js';
import type { HttpClient, HttpResponse, SinkDeps, SinkLogger } from './http-common.js';
import type { QueuedEvent, SinkDriver, Verdict } from './types.js';

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const secretString = (what: string) =>
  z
    .string()
    .trim()
    .min(1, { message: `${what} is empty (set it with \${ENV_VAR} or \${file:/path})` })
    .refine((s) => !/[\s\u0000-\u001f\u007f]/.test(s), {
      message: `${what} contains whitespace or control characters`,
    });

export const splunkHecSinkSchema = z.strictObject({
  type: z.literal('splunk_hec'),
  /** Base URL, e.g. https://splunk.example.com:8088 (a trailing /services/collector[/event] is accepted). */
  endpoint: zHttpUrl,
  token: secretString('token'),
  /** Must be one of the token's allowed indexes (else HEC code 7). Default: the token's default index. */
  index: z.string().min(1).optional(),
  /** Default: the file the event was read from, else the configured source name. */
  source: z.string().min(1).optional(),
  /** Default: `auditshipper:<product>`. */
  sourcetype: z.string().min(1).optional(),
  /** Default: the host the event was read on. */
  host: z.string().min(1).optional(),
  /** HEC accepts gzip (research 2.5; official statement unconfirmed, so off by default like Vector). */
  compression: z.enum(['none', 'gzip']).default('none'),
  acknowledgements: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** How often pending ackIds are queried. */
      poll_interval: zDuration.prefault('1s'),
      /** Give up waiting for one request's ack after this long; the batch is then retried. */
      timeout: zDuration.prefault('5m'),
      /** Channel GUID; default: a random one per start. */
      channel: z
        .string()
        .regex(GUID_RE, {
          message: 'channel must be a GUID like 0aeeac95-ac74-4aa9-b30d-6c4c0ac581ba',
        })
        .optional(),
    })
    .superRefine((a, ctx) => {
      if (a.poll_interval <= 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['poll_interval'],
          message: 'poll_interval must be positive',
        });
      }
      if (a.timeout < a.poll_interval) {
        ctx.addIssue({
          code: 'custom',
          path: ['timeout'],
          message: 'timeout must be at least poll_interval',
        });
      }
    })
    .prefault({}),
  tls: tlsSchema.optional(),
  /** Query /services/collector/health at start-up. */
  healthcheck: healthcheckKey,
  // Keep requests around 1 MB: the server's max_content_length default is unconfirmed
  // (research 2.4); 1 s timeout like Vector's HEC sinks.
  ...commonSinkKeys({
    maxEvents: 1000,
    maxBytes: 1_000_000,
    timeout: '1s',
    receiver: 'Splunk HEC',
  }),
});

export type SplunkHecSinkConfig = z.output<typeof splunkHecSinkSchema>;

/** `/prefix` under which HEC's endpoints live ('' for the usual root). */
export function hecBasePath(endpoint: string): string {
  const u = new URL(endpoint);
  let p = u.pathname.replace(/\/+$/, '');
  p = p.replace(/\/services\/collector(\/event(\/1\.0)?)?$/, '');
  return p;
}

// --- encoding --------------------------------------------------------------------------------

type Json = Record<string, unknown>;

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

/** Epoch seconds with exactly three decimals, as HEC's `time` wants (research 2.3). */
export function hecTime(epochMs: number): string {
  const ms = Math.round(epochMs);
  const secs = Math.floor(ms / 1000);
  const frac = ms - secs * 1000;
  return `${secs}.${String(frac).padStart(3, '0')}`;
}

export interface SplunkRequest {
  body: Buffer;
  headers: Record<string, string>;
  events: number;
}

/**
 * Envelopes concatenated with newlines (research 2.4: no array, no commas). The stored
 * canonical JSON is spliced in as `event` without re-serialising it. Throws EncodeError.
 */
export function encode(
  batch: readonly QueuedEvent[],
  cfg: SplunkHecSinkConfig,
  channel?: string,
): SplunkRequest {
  const fixedTail =
    (cfg.index !== undefined ? `,"index":${JSON.stringify(cfg.index)}` : '') + ',"event":';
  const parts: string[] = [];
  for (const q of batch) {
    const ev = parseEventBody(q);
    const src = (ev.source ?? {}) as Json;
    const ts = typeof ev.timestamp === 'string' ? Date.parse(ev.timestamp) : NaN;
    const host = cfg.host ?? str(src.host);
    const source = cfg.source ?? str(src.file) ?? str(src.name);
    const sourcetype = cfg.sourcetype ?? `auditshipper:${str(ev.product) ?? 'unknown'}`;
    parts.push(
      `{"time":${hecTime(Number.isFinite(ts) ? ts : q.ingestedAt)}` +
        (host !== null ? `,"host":${JSON.stringify(host)}` : '') +
        (source !== null ? `,"source":${JSON.stringify(source)}` : '') +
        `,"sourcetype":${JSON.stringify(sourcetype)}` +
        fixedTail +
        q.body +
        '}',
    );
  }
  const headers: Record<string, string> = {
    authorization: `Splunk ${cfg.token}`,
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
  };
  if (channel !== undefined) headers['x-splunk-request-channel'] = channel;
  return { body: Buffer.from(parts.join('\n'), 'utf8'), headers, events: batch.length };
}

// --- classification --------------------------------------------------------------------------

/**
 * HEC body codes (research 2.6) → what they mean for the batch. Token, channel, index and
 * ACK-setting problems are configuration: unhealthy (never drop). Malformed data: reject
 * (bisect to the poison event). Busy/internal/unhealthy: retry.
 */
export const HEC_CODES: Readonly<Record<number, { kind: Verdict['kind']; text: string }>> = {
  0: { kind: 'ok', text: 'Success' },
  1: { kind: 'unhealthy', text: 'Token disabled' },
  2: { kind: 'unhealthy', text: 'Token is required' },
  3: { kind: 'unhealthy', text: 'Invalid authorization' },
  4: { kind: 'unhealthy', text: 'Invalid token' },
  5: { kind: 'reject', text: 'No data' },
  6: { kind: 'reject', text: 'Invalid data format' },
  7: { kind: 'unhealthy', text: 'Incorrect index' },
  8: { kind: 'retry', text: 'Internal server error' },
  9: { kind: 'retry', text: 'Server is busy' },
  10: { kind: 'unhealthy', text: 'Data channel is missing' },
  11: { kind: 'unhealthy', text: 'Invalid data channel' },
  12: { kind: 'reject', text: 'Event field is required' },
  13: { kind: 'reject', text: 'Event field cannot be blank' },
  14: { kind: 'unhealthy', text: 'ACK is disabled' },
  15: { kind: 'reject', text: 'Error in handling indexed fields' },
  16: { kind: 'unhealthy', text: 'Query string authorization is not enabled' },
  17: { kind: 'ok', text: 'HEC is healthy' },
  18: { kind: 'retry', text: 'HEC is unhealthy, queues are full' },
  19: { kind: 'retry', text: 'HEC is unhealthy, ack service unavailable' },
  20: { kind: 'retry', text: 'HEC is unhealthy, queues are full, ack service unavailable' },
  21: { kind: 'unhealthy', text: 'Invalid token' },
  22: { kind: 'unhealthy', text: 'Token disabled' },
};

export interface HecReply {
  code?: number;
  ackId?: number;
  invalidEventNumber?: number;
}

/** The `{"text","code","ackId","invalid-event-number"}` reply, tolerating anything else. */
export function parseHecReply(body: string): HecReply {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return {};
  }
  if (v === null || typeof v !== 'object') return {};
  const o = v as Json;
  const out: HecReply = {};
  if (Number.isInteger(o.code)) out.code = o.code as number;
  if (Number.isInteger(o.ackId)) out.ackId = o.ackId as number;
  if (Number.isInteger(o['invalid-event-number']))
    out.invalidEventNumber = o['invalid-event-number'] as number;
  return out;
}

export function classify(res: HttpResponse, label = 'splunk_hec sink'): Verdict {
  const reply = parseHecReply(res.body);
  const known = reply.code !== undefined ? HEC_CODES[reply.code] : undefined;
  if (!known) {
    // No (known) body code: the HTTP status decides (research 2.6 retry guidance = 4.4 table).
    return classifyHttpStatus(label, res, { retryAfterOn: 'any' });
  }
  const what = `${statusText(res.status)}, HEC code ${reply.code} (${known.text})`;
  switch (known.kind) {
    case 'ok':
      return res.status >= 200 && res.status < 300
        ? { kind: 'ok' }
        : classifyHttpStatus(label, res, { retryAfterOn: 'any' });
    case 'retry':
      return retryVerdict(
        label,
        res,
        { retryAfterOn: 'any' },
        `HEC code ${reply.code} (${known.text})`,
      );
    case 'reject': {
      const at =
        reply.invalidEventNumber !== undefined
          ? `, first invalid event #${reply.invalidEventNumber}`
          : '';
      return {
        kind: 'reject',
        reason: `${label}: ${what}${at}`,
        status: res.status,
        body: res.body,
      };
    }
    case 'unhealthy':
      return { kind: 'unhealthy', reason: `${label}: ${what}`, status: res.status };
    case 'split':
      return { kind: 'split', reason: `${label}: ${what}`, status: res.status };
  }
}

// --- indexer acknowledgement -----------------------------------------------------------------

export type AckResult = 'acked' | 'timeout' | 'aborted';

export interface AckPoller {
  /** Resolves when Splunk reports `ackId` indexed, when the ack timeout passes, or on abort. */
  wait(ackId: number, signal: AbortSignal): Promise<AckResult>;
  readonly pending: number;
  close(): void;
}

interface PendingAck {
  deadline: number;
  settle(r: AckResult): void;
}

/** Ids per status query; replies are small (`"123":true,`), 1000 fit well under 64 KiB. */
const ACK_QUERY_MAX_IDS = 1000;

export function createAckPoller(opts: {
  client: HttpClient;
  path: string;
  headers: Record<string, string>;
  intervalMs: number;
  timeoutMs: number;
  logger: SinkLogger;
  label: string;
}): AckPoller {
  const pending = new Map<number, PendingAck>();
  const stop = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let polling = false;
  let closed = false;

  function schedule(): void {
    if (closed || timer !== undefined || polling || pending.size === 0) return;
    timer = setTimeout(() => {
      timer = undefined;
      void poll();
    }, opts.intervalMs);
  }

  async function poll(): Promise<void> {
    polling = true;
    try {
      const ids = [...pending.keys()].slice(0, ACK_QUERY_MAX_IDS);
      const out = await opts.client.request(
        {
          method: 'POST',
          path: opts.path,
          headers: { ...opts.headers, 'content-type': 'application/json' },
          body: Buffer.from(JSON.stringify({ acks: ids })),
          maxBodyBytes: 64 * 1024,
        },
        stop.signal,
      );
      if (out.ok && out.response.status === 200) {
        const acks = parseAckReply(out.response.body);
        for (const id of ids) if (acks.get(id) === true) pending.get(id)?.settle('acked');
      } else if (!closed) {
        // Transient or not, the answer is the same: keep polling until each ack's deadline.
        const why = out.ok
          ? statusText(out.response.status)
          : `${out.failure.kind} ${out.failure.code}`;
        opts.logger.debug({ sink: opts.label }, `${opts.label}: ack status query failed: ${why}`);
      }
    } finally {
      polling = false;
    }
    const now = Date.now();
    for (const p of [...pending.values()]) if (p.deadline <= now) p.settle('timeout');
    schedule();
  }

  function wait(ackId: number, signal: AbortSignal): Promise<AckResult> {
    if (closed || signal.aborted) return Promise.resolve('aborted');
    return new Promise<AckResult>((resolve) => {
      const onAbort = (): void => entry.settle('aborted');
      const entry: PendingAck = {
        deadline: Date.now() + opts.timeoutMs,
        settle(r) {
          if (pending.get(ackId) !== entry) return;
          pending.delete(ackId);
          signal.removeEventListener('abort', onAbort);
          resolve(r);
        },
      };
      // A reused id (HEC restarted and its counter began again) supersedes the old waiter,
      // which can no longer be told apart: answer it with a timeout so its batch is resent.
      pending.get(ackId)?.settle('timeout');
      pending.set(ackId, entry);
      signal.addEventListener('abort', onAbort, { once: true });
      schedule();
    });
  }

  function close(): void {
    closed = true;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    stop.abort();
    for (const p of [...pending.values()]) p.settle('aborted');
  }

  return {
    wait,
    close,
    get pending() {
      return pending.size;
    },
  };
}

/** `{"acks":{"0":true,"1":false}}` → Map(0→true, 1→false). */
export function parseAckReply(body: string): Map<number, boolean> {
  const out = new Map<number, boolean>();
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return out;
  }
  const acks = (v as { acks?: unknown } | null)?.acks;
  if (acks === null || typeof acks !== 'object') return out;
  for (const [k, val] of Object.entries(acks as Json)) {
    const id = Number(k);
    if (Number.isInteger(id) && typeof val === 'boolean') out.set(id, val);
  }
  return out;
}

// --- driver ----------------------------------------------------------------------------------

export function createSplunkHecSink(
  name: string,
  cfg: SplunkHecSinkConfig,
  deps: SinkDeps,
): SinkDriver {
  const label = sinkLabel('splunk_hec', name);
  const url = new URL(cfg.endpoint);
  const base = hecBasePath(cfg.endpoint);
  const eventPath = `${base}/services/collector/event`;
  const ack = cfg.acknowledgements;
  // The channel is sent on every request, like Vector does: a token with useACK refuses
  // requests without one (HEC code 10) even when we do not wait for acks.
  const channel = ack.channel ?? randomUUID();
  const client = createHttpClient({
    url,
    // One extra connection so ack queries never queue behind a slow event request.
    connections: cfg.request.concurrency + (ack.enabled ? 1 : 0),
    timeoutMs: cfg.request.timeout,
    tls: loadTls(label, cfg.tls, deps.logger),
  });
  const secrets = [cfg.token];
  const authHeaders = { authorization: `Splunk ${cfg.token}`, 'user-agent': USER_AGENT };
  const poller = ack.enabled
    ? createAckPoller({
        client,
        path: `${base}/services/collector/ack?channel=${encodeURIComponent(channel)}`,
        headers: { ...authHeaders, 'x-splunk-request-channel': channel },
        intervalMs: ack.poll_interval,
        timeoutMs: ack.timeout,
        logger: deps.logger,
        label,
      })
    : undefined;
  let warnedNoAckId = false;

  async function send(batch: QueuedEvent[], signal: AbortSignal): Promise<Verdict> {
    if (batch.length === 0) return { kind: 'ok' };
    let req: SplunkRequest;
    try {
      req = encode(batch, cfg, channel);
    } catch (err) {
      if (err instanceof EncodeError) return { kind: 'reject', reason: `${label}: ${err.message}` };
      throw err;
    }
    const { body, headers } = await compressBody(req.body, cfg.compression);
    const out = await client.request(
      { method: 'POST', path: eventPath, headers: { ...req.headers, ...headers }, body },
      signal,
    );
    if (!out.ok) return failureVerdict(label, out.failure);
    const res = { ...out.response, body: sanitizeResponseBody(out.response.body, secrets) };
    const verdict = classify(res, label);
    if (verdict.kind !== 'ok' || !poller) return verdict;

    const { ackId } = parseHecReply(res.body);
    if (ackId === undefined) {
      // Like Vector (research 2.7): no ackId means the token has no useACK; the 200 is all
      // we will get. Say so once, since the operator asked for a stronger guarantee.
      if (!warnedNoAckId) {
        warnedNoAckId = true;
        deps.logger.warn(
          { sink: name },
          `${label}: acknowledgements are enabled but HEC returned no ackId (is useACK on for the token?); treating 200 as delivered`,
        );
      }
      return verdict;
    }
    const r = await poller.wait(ackId, signal);
    if (r === 'acked') return { kind: 'ok' };
    if (r === 'aborted')
      return {
        kind: 'retry',
        reason: `${label}: aborted while waiting for indexer acknowledgement`,
      };
    return {
      kind: 'retry',
      reason: `${label}: indexer acknowledgement ${ackId} not confirmed within ${ack.timeout}ms`,
    };
  }

  async function healthcheck(signal: AbortSignal): Promise<{ ok: boolean; message: string }> {
    const out = await client.request(
      { method: 'GET', path: `${base}/services/collector/health`, headers: authHeaders },
      signal,
    );
    if (!out.ok) {
      return {
        ok: false,
        message: `${label}: health check failed: ${out.failure.kind} ${out.failure.code}`,
      };
    }
    const { status } = out.response;
    const { code } = parseHecReply(out.response.body);
    const known = code !== undefined ? HEC_CODES[code] : undefined;
    const what = known
      ? `${statusText(status)}, HEC code ${code} (${known.text})`
      : statusText(status);
    if (status === 200) return { ok: true, message: `${label}: ${what}` };
    // Vector reads 400 from the health endpoint as an invalid token (research 2.1).
    if (status === 400 && !known)
      return { ok: false, message: `${label}: ${what}: invalid token?` };
    return { ok: false, message: `${label}: ${what}` };
  }

  async function close(): Promise<void> {
    poller?.close();
    await client.close();
  }

  const driver: SinkDriver = { name, type: 'splunk_hec', send, close };
  return cfg.healthcheck ? { ...driver, healthcheck } : driver;
}
