/**
 * A fake Splunk HTTP Event Collector on 127.0.0.1 (research/sinks.md section 2):
 *  - `Authorization: Splunk <token>` (401 code 2 missing, 401 code 3 malformed, 403 code 4 wrong);
 *  - POST /services/collector[/event[/1.0]]: concatenated envelopes, checked like HEC does
 *    (code 5 no data, 6 invalid format with invalid-event-number, 7 index not allowed,
 *    12 event missing, 13 event blank), gzip accepted;
 *  - indexer acknowledgement when `useAck`: channel required (code 10), GUID-shaped (code 11),
 *    `ackId` per channel in the reply, POST /services/collector/ack?channel=... answers
 *    `{"acks":{"id":bool}}` (code 14 when acks are off);
 *  - GET /services/collector/health: 200 code 17, or 503 codes 18-20 via setHealth().
 *
 *   const hec = await startSplunkReceiver({ useAck: true });
 *   hec.failNext(503, { code: 9, retryAfter: 1 });
 *   await hec.waitForEvents(5); hec.events[0]   // the `event` payloads
 */
import { extendReceiver, startReceiverCore } from './common.js';
import type { BaseReceiver, FailOptions, Reply, ServerTls } from './common.js';

export type HecEnvelope = Record<string, unknown> & { event: unknown };

export type HecHealth = 'healthy' | 'queues_full' | 'ack_unavailable' | 'both';

export interface SplunkReceiverOptions {
  token?: string;
  /** The token has useACK: a channel is required and replies carry ackIds. */
  useAck?: boolean;
  /** Indexes the token may write to (envelope `index` outside it → code 7). Default: any. */
  allowedIndexes?: string[];
  /** Acks turn true only from the Nth status query that asks for them (default 1: the first). */
  ackAfterQueries?: number;
  /** Answer 400 code 6 to a request holding an envelope for which this returns true. */
  rejectWhen?: (env: HecEnvelope) => boolean;
  tls?: ServerTls;
  port?: number;
}

export interface SplunkReceiver extends BaseReceiver {
  readonly token: string;
  /** Accepted envelopes in arrival order. */
  readonly received: HecEnvelope[];
  /** Their `event` payloads. */
  readonly events: unknown[];
  /** Ack status queries answered. */
  readonly ackQueries: number;
  /** Channels seen on event requests. */
  readonly channels: Set<string>;
  setHealth(h: HecHealth): void;
  /** 'never': every ack stays false (indexing stalled). */
  setAckMode(m: 'normal' | 'never'): void;
  rejectWhen(pred: ((env: HecEnvelope) => boolean) | undefined): void;
  waitForEvents(n: number, timeoutMs?: number): Promise<void>;
}

const CODE_TEXT: Record<number, string> = {
  0: 'Success',
  1: 'Token disabled',
  2: 'Token is required',
  3: 'Invalid authorization',
  4: 'Invalid token',
  5: 'No data',
  6: 'Invalid data format',
  7: 'Incorrect index',
  8: 'Internal server error',
  9: 'Server is busy',
  10: 'Data channel is missing',
  11: 'Invalid data channel',
  12: 'Event field is required',
  13: 'Event field cannot be blank',
  14: 'ACK is disabled',
  15: 'Error in handling indexed fields',
  16: 'Query string authorization is not enabled',
  17: 'HEC is healthy',
  18: 'HEC is unhealthy, queues are full',
  19: 'HEC is unhealthy, ack service unavailable',
  20: 'HEC is unhealthy, queues are full, ack service unavailable',
};

/** HTTP status → the HEC code a real collector pairs it with (research 2.6). */
const DEFAULT_CODE: Record<number, number> = { 400: 6, 401: 2, 403: 4, 500: 8, 503: 9, 413: 6 };

function hec(status: number, code: number, extra: Record<string, unknown> = {}): Reply {
  return { status, body: { text: CODE_TEXT[code] ?? 'Error', code, ...extra } };
}

function errorBody(status: number, o: FailOptions): object {
  const code = o.code ?? DEFAULT_CODE[status];
  return code === undefined
    ? { text: `HTTP ${status}` }
    : { text: CODE_TEXT[code] ?? 'Error', code };
}

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Split concatenated JSON objects (`{..}{..}\n{..}`). Returns the objects, or the index of the
 * first one that is not a well-formed object.
 */
export function splitConcatenated(
  text: string,
): { ok: true; values: unknown[] } | { ok: false; index: number } {
  const values: unknown[] = [];
  let i = 0;
  const n = text.length;
  while (true) {
    while (i < n && /\s/.test(text[i]!)) i++;
    if (i >= n) return { ok: true, values };
    if (text[i] !== '{') return { ok: false, index: values.length };
    const start = i;
    let depth = 0;
    let inStr = false;
    for (; i < n; i++) {
      const c = text[i];
      if (inStr) {
        if (c === '\\') i++;
        else if (c === '"') inStr = false;
      } else if (c === '"') inStr = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) {
          i++;
          break;
        }
      }
    }
    if (depth !== 0) return { ok: false, index: values.length };
    try {
      values.push(JSON.parse(text.slice(start, i)));
    } catch {
      return { ok: false, index: values.length };
    }
  }
}

export async function startSplunkReceiver(
  opts: SplunkReceiverOptions = {},
): Promise<SplunkReceiver> {
  const token = opts.token ?? '11111111-2222-3333-4444-555555555555';
  const received: HecEnvelope[] = [];
  const channels = new Set<string>();
  let health: HecHealth = 'healthy';
  let ackMode: 'normal' | 'never' = 'normal';
  let reject = opts.rejectWhen;
  let ackQueries = 0;
  // channel → next ackId, and per ackId how many status queries have asked for it
  const nextAck = new Map<string, number>();
  const asked = new Map<string, Map<number, number>>();
  const ackAfter = Math.max(1, opts.ackAfterQueries ?? 1);

  function auth(h: string | undefined): Reply | undefined {
    if (h === undefined || h === '') return hec(401, 2);
    if (!h.startsWith('Splunk ')) return hec(401, 3);
    if (h.slice('Splunk '.length) !== token) return hec(403, 4);
    return undefined;
  }

  function channelOf(headers: Record<string, unknown>, query: URLSearchParams): string | undefined {
    const h = headers['x-splunk-request-channel'];
    return (typeof h === 'string' ? h : undefined) ?? query.get('channel') ?? undefined;
  }

  const core = await startReceiverCore({
    ...(opts.tls ? { tls: opts.tls } : {}),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    errorBody,
    handle(req) {
      if (
        req.path === '/services/collector/health' ||
        req.path === '/services/collector/health/1.0'
      ) {
        if (health === 'healthy') return hec(200, 17);
        return hec(503, health === 'queues_full' ? 18 : health === 'ack_unavailable' ? 19 : 20);
      }
      const denied = auth(req.headers.authorization);
      if (denied) return denied;
      const channel = channelOf(req.headers, req.query);

      if (req.path === '/services/collector/ack') {
        if (!opts.useAck) return hec(400, 14);
        if (channel === undefined) return hec(400, 10);
        if (!GUID_RE.test(channel)) return hec(400, 11);
        let ids: unknown;
        try {
          ids = (JSON.parse(req.body.toString('utf8')) as { acks?: unknown }).acks;
        } catch {
          return hec(400, 6);
        }
        if (!Array.isArray(ids)) return hec(400, 6);
        ackQueries++;
        const seen = asked.get(channel) ?? new Map<number, number>();
        asked.set(channel, seen);
        const issued = nextAck.get(channel) ?? 0;
        const acks: Record<string, boolean> = {};
        for (const id of ids) {
          if (!Number.isInteger(id)) continue;
          const count = (seen.get(id as number) ?? 0) + 1;
          seen.set(id as number, count);
          acks[String(id)] = ackMode === 'normal' && (id as number) < issued && count >= ackAfter;
        }
        return { status: 200, body: { acks } };
      }

      if (
        ![
          '/services/collector',
          '/services/collector/event',
          '/services/collector/event/1.0',
        ].includes(req.path)
      ) {
        return {
          status: 404,
          body: { text: 'The requested URL was not found on this server.', code: 404 },
        };
      }
      if (req.method !== 'POST') return { status: 405, body: { text: 'Method Not Allowed' } };
      if (channel !== undefined) channels.add(channel);
      if (opts.useAck && channel === undefined) return hec(400, 10);
      if (channel !== undefined && !GUID_RE.test(channel)) return hec(400, 11);
      const text = req.body.toString('utf8');
      if (text.trim() === '') return hec(400, 5);
      const split = splitConcatenated(text);
      if (!split.ok) return hec(400, 6, { 'invalid-event-number': split.index });
      const envs = split.values;
      for (let i = 0; i < envs.length; i++) {
        const e = envs[i] as Record<string, unknown> | null;
        if (e === null || typeof e !== 'object' || Array.isArray(e)) {
          return hec(400, 6, { 'invalid-event-number': i });
        }
        if (!('event' in e)) return hec(400, 12, { 'invalid-event-number': i });
        if (e.event === '' || e.event === null) return hec(400, 13, { 'invalid-event-number': i });
        if ('time' in e && typeof e.time !== 'number')
          return hec(400, 6, { 'invalid-event-number': i });
        if (
          opts.allowedIndexes &&
          e.index !== undefined &&
          !opts.allowedIndexes.includes(
            typeof e.index === 'string' ? e.index : JSON.stringify(e.index),
          )
        ) {
          return hec(400, 7, { 'invalid-event-number': i });
        }
        if (reject?.(e as HecEnvelope)) return hec(400, 6, { 'invalid-event-number': i });
      }
      for (const e of envs) received.push(e as HecEnvelope);
      if (opts.useAck && channel !== undefined) {
        const id = nextAck.get(channel) ?? 0;
        nextAck.set(channel, id + 1);
        return hec(200, 0, { ackId: id });
      }
      return hec(200, 0);
    },
  });

  return extendReceiver(core, {
    token,
    received,
    get events() {
      return received.map((e) => e.event);
    },
    get ackQueries() {
      return ackQueries;
    },
    channels,
    setHealth(h: HecHealth) {
      health = h;
    },
    setAckMode(m: 'normal' | 'never') {
      ackMode = m;
    },
    rejectWhen(pred: ((env: HecEnvelope) => boolean) | undefined) {
      reject = pred;
    },
    waitForEvents(n: number, timeoutMs?: number) {
      return core.waitUntil(() => received.length >= n, timeoutMs);
    },
  });
}
