/**
 * Datadog Logs sink: POST a JSON array of log objects to the v2 HTTP intake of the configured
 * site (research/sinks.md section 1). The AuditEvent is mapped onto Datadog's reserved and
 * standard attributes so facets work without a pipeline: ddsource/service/hostname/ddtags/
 * status/message, usr.*, network.client.ip, http.useragent, evt.*, duration (ns).
 *
 * Compression: gzip (default) or none. Datadog's shippers default to zstd (research 1.2), but
 * Node 20's zlib has no zstd and adding a native dependency for it is not worth it: gzip is in
 * the documented Content-Encoding enum.
 */
import { z } from 'zod';
import { commonSinkKeys, healthcheckKey, zHttpUrl } from './common-config.js';
import {
  EncodeError,
  classifyHttpStatus,
  compressBody,
  createHttpClient,
  failureVerdict,
  parseEventBody,
  sanitizeResponseBody,
  sinkLabel,
  statusText,
  USER_AGENT,
} from './http-common.js';
import type { HttpResponse, SinkDeps } from './http-common.js';
import type { QueuedEvent, SinkDriver, Verdict } from './types.js';

/**
 * Site → logs intake host (research 1.1 table). Keys are the `DD_SITE` values Datadog users
 * already know, plus the short region names and UI hosts as aliases.
 */
const SITE_HOSTS: Record<string, string> = {
  'datadoghq.com': 'datadoghq.com',
  'us3.datadoghq.com': 'us3.datadoghq.com',
  'us5.datadoghq.com': 'us5.datadoghq.com',
  'datadoghq.eu': 'datadoghq.eu',
  'ap1.datadoghq.com': 'ap1.datadoghq.com',
  'ap2.datadoghq.com': 'ap2.datadoghq.com',
  'uk1.datadoghq.com': 'uk1.datadoghq.com',
  'ddog-gov.com': 'ddog-gov.com',
  'us2.ddog-gov.com': 'us2.ddog-gov.com',
  // aliases
  us1: 'datadoghq.com',
  us3: 'us3.datadoghq.com',
  us5: 'us5.datadoghq.com',
  eu: 'datadoghq.eu',
  eu1: 'datadoghq.eu',
  ap1: 'ap1.datadoghq.com',
  ap2: 'ap2.datadoghq.com',
  uk1: 'uk1.datadoghq.com',
  'us1-fed': 'ddog-gov.com',
  gov2: 'us2.ddog-gov.com',
  'app.datadoghq.com': 'datadoghq.com',
  'app.datadoghq.eu': 'datadoghq.eu',
  'app.ddog-gov.com': 'ddog-gov.com',
};
export const DATADOG_SITES = Object.keys(SITE_HOSTS) as [string, ...string[]];

/** Limits from research 1.4 (docs send-logs). */
export const DATADOG_MAX_ENTRIES = 1000;
export const DATADOG_MAX_PAYLOAD_BYTES = 5_000_000;
/** "1 MB" per log; the decimal reading is the safe one. */
export const DATADOG_MAX_LOG_BYTES = 1_000_000;
/** Datadog truncates tags beyond 200 characters; keep ours within. */
const MAX_TAG_CHARS = 200;
const MAX_MESSAGE_CHARS = 512;

const tagSchema = z
  .string()
  .min(1)
  .refine((s) => !s.includes(','), {
    message: 'a tag cannot contain a comma (ddtags is one comma-separated string)',
  });

export const datadogSinkSchema = z.strictObject({
  type: z.literal('datadog'),
  /** Datadog site (DD_SITE value, e.g. datadoghq.eu, us5.datadoghq.com). Default datadoghq.com. */
  site: z
    .string()
    .transform((s) => s.trim().toLowerCase())
    .refine((s) => s in SITE_HOSTS, {
      message: `unknown Datadog site; use one of: ${Object.keys(SITE_HOSTS).slice(0, 9).join(', ')} (or endpoint: to override)`,
    })
    .optional(),
  /** Overrides the site: a base URL (`/api/v2/logs` is appended) or a full intake URL. */
  endpoint: zHttpUrl.optional(),
  api_key: z
    .string()
    .trim()
    .min(1, { message: 'api_key is empty (set it with ${ENV_VAR} or ${file:/path})' })
    .refine((s) => !/[\s\u0000-\u001f\u007f]/.test(s), {
      message: 'api_key contains whitespace or control characters',
    }),
  service: z.string().min(1).default('retool-audit-log'),
  /** Reported host; default: the host the event was read on (event.source.host). */
  hostname: z.string().min(1).optional(),
  /** Extra `key:value` tags added to every log, before action:/category:/severity:. */
  tags: z.array(tagSchema).default([]),
  compression: z
    .enum(['gzip', 'none'], {
      error: () =>
        'compression must be gzip or none (zstd is not offered: Node 20 zlib has no zstd)',
    })
    .default('gzip'),
  /** Validate the API key at start-up (GET /api/v1/validate). */
  healthcheck: healthcheckKey,
  // Batch defaults (research 1.4/1.6): at most 1000 entries; 4.25 MB goal like Vector to
  // leave room for the attribute mapping under the 5 MB hard cap; 5 s like the Agent.
  ...commonSinkKeys({
    maxEvents: DATADOG_MAX_ENTRIES,
    maxBytes: 4_250_000,
    timeout: '5s',
    ceilingEvents: DATADOG_MAX_ENTRIES,
    ceilingBytes: DATADOG_MAX_PAYLOAD_BYTES,
    receiver: 'Datadog',
  }),
});

export type DatadogSinkConfig = z.output<typeof datadogSinkSchema>;

/** The intake URL the sink posts to. */
export function datadogIntakeUrl(cfg: Pick<DatadogSinkConfig, 'site' | 'endpoint'>): URL {
  if (cfg.endpoint !== undefined) {
    const u = new URL(cfg.endpoint);
    if (u.pathname === '/' || u.pathname === '') u.pathname = '/api/v2/logs';
    return u;
  }
  const host = SITE_HOSTS[cfg.site ?? 'datadoghq.com'] ?? 'datadoghq.com';
  return new URL(`https://http-intake.logs.${host}/api/v2/logs`);
}

/**
 * The API-key validation URL used by the healthcheck: `api.<site>/api/v1/validate`
 * (docs.datadoghq.com/api/latest/authentication/validate-api-key; 200 {"valid":true}, 403
 * invalid key). With an endpoint override, the same origin is assumed to serve it.
 */
export function datadogValidateUrl(cfg: Pick<DatadogSinkConfig, 'site' | 'endpoint'>): URL {
  if (cfg.endpoint !== undefined) return new URL('/api/v1/validate', new URL(cfg.endpoint).origin);
  const host = SITE_HOSTS[cfg.site ?? 'datadoghq.com'] ?? 'datadoghq.com';
  return new URL(`https://api.${host}/api/v1/validate`);
}

// --- mapping ---------------------------------------------------------------------------------

type Json = Record<string, unknown>;

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

function obj(v: unknown): Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
}

/** A tag value Datadog keeps intact: no commas or whitespace, bounded length. */
function tagValue(v: string): string {
  return v.replace(/[,\s]+/g, '_').slice(0, MAX_TAG_CHARS);
}

/** Datadog status from our three-level severity (research 1.3 status list). */
export function datadogStatus(severity: unknown): string {
  return severity === 'critical' ? 'critical' : severity === 'warn' ? 'warning' : 'info';
}

function oneLine(s: string, max: number): string {
  const flat = s.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** `ana@example.com QUERY_RUN query "getCustomers" in Support Console: success` */
export function summarize(ev: Json): string {
  const actor = obj(ev.actor);
  const target = obj(ev.target);
  const who = str(actor.email) ?? str(actor.id) ?? 'unknown actor';
  const action = str(ev.action) ?? 'unknown action';
  const name = str(target.name) ?? str(target.id);
  const parts = [who, action];
  const type = str(target.type);
  if (type) parts.push(type);
  if (name) parts.push(JSON.stringify(name));
  const app = str(target.app);
  const where = app && app !== name ? ` in ${app}` : '';
  const outcome = str(ev.outcome) ?? 'unknown';
  return oneLine(`${parts.join(' ')}${where}: ${outcome}`, MAX_MESSAGE_CHARS);
}

/** Keys of the AuditEvent handled explicitly by the mapping. */
const MAPPED_KEYS = new Set([
  'id',
  'app_event_id',
  'timestamp',
  'product',
  'action',
  'category',
  'severity',
  'outcome',
  'actor',
  'target',
  'organization_id',
  'duration_ms',
  'detail',
  'redacted',
  'source',
]);

/** Names Datadog treats specially at the top level (research 1.3): never overwritten by extras. */
const RESERVED = new Set([
  'host',
  'hostname',
  'source',
  'ddsource',
  'status',
  'service',
  'trace_id',
  'message',
  'ddtags',
  'timestamp',
  'date',
  'usr',
  'network',
  'http',
  'evt',
  'duration',
  'auditshipper',
  'truncated',
  'audit_timestamp',
  'timestamp_adjusted',
]);

export interface DatadogMapOptions {
  service: string;
  hostname?: string | undefined;
  /** Configured tags, already joined with commas ('' when none). */
  tagPrefix: string;
  /** Send time (epoch ms), for the accepted timestamp window; default Date.now(). */
  now?: number;
}

/** Datadog accepts log timestamps up to 18 h old and 2 h ahead (research 1.4). */
const MAX_PAST_MS = 18 * 3_600_000;
const MAX_FUTURE_MS = 2 * 3_600_000;
/** Margin so a batch that waits a little in a retry loop does not cross the edge. */
const WINDOW_MARGIN_MS = 10 * 60_000;

/** Map one AuditEvent (parsed canonical JSON) to a Datadog log object. */
export function toDatadogLog(ev: Json, opts: DatadogMapOptions, ingestedAt: number): Json {
  const actor = obj(ev.actor);
  const source = obj(ev.source);
  const product = str(ev.product) ?? 'unknown';
  const action = str(ev.action) ?? 'unknown';
  const category = str(ev.category) ?? 'unknown';
  const severity = str(ev.severity) ?? 'info';
  const eventTags = `action:${tagValue(action)},category:${tagValue(category)},severity:${tagValue(severity)}`;
  const ts = typeof ev.timestamp === 'string' ? Date.parse(ev.timestamp) : NaN;

  const log: Json = {
    ddsource: product,
    service: opts.service,
    hostname: opts.hostname ?? str(source.host) ?? 'unknown',
    ddtags: opts.tagPrefix ? `${opts.tagPrefix},${eventTags}` : eventTags,
    status: datadogStatus(ev.severity),
    message: summarize(ev),
    // Epoch milliseconds: a format the date remapper reads (research 1.3).
    timestamp: Number.isFinite(ts) ? ts : ingestedAt,
    id: ev.id,
    evt: { name: action, category, outcome: str(ev.outcome) ?? 'unknown' },
  };
  // An event outside Datadog's timestamp window (a backlog after a long outage, a DLQ replay,
  // a skewed clock) may be dropped by the intake even though it answers 202 (fate UNCONFIRMED,
  // research 1.4). Never risk that for audit data: stamp it with the send time and keep the
  // audit time as an attribute.
  const now = opts.now ?? Date.now();
  const t = log.timestamp as number;
  if (t < now - MAX_PAST_MS + WINDOW_MARGIN_MS || t > now + MAX_FUTURE_MS - WINDOW_MARGIN_MS) {
    log.timestamp = now;
    log.audit_timestamp = Number.isFinite(ts) ? ev.timestamp : new Date(ingestedAt).toISOString();
    log.timestamp_adjusted = true;
  }
  const usr: Json = {};
  if (str(actor.id)) usr.id = actor.id;
  if (str(actor.email)) usr.email = actor.email;
  if (Object.keys(usr).length > 0) log.usr = usr;
  if (str(actor.ip)) log.network = { client: { ip: actor.ip } };
  if (str(actor.user_agent)) log.http = { useragent: actor.user_agent };
  if (typeof ev.duration_ms === 'number' && Number.isFinite(ev.duration_ms)) {
    log.duration = Math.round(ev.duration_ms * 1_000_000); // Datadog's duration is nanoseconds
  }
  log.severity = severity;
  log.category = category;
  if (ev.organization_id !== null && ev.organization_id !== undefined) {
    log.organization_id = ev.organization_id;
  }
  if (ev.app_event_id !== null && ev.app_event_id !== undefined) log.app_event_id = ev.app_event_id;
  if (ev.target !== undefined) log.target = ev.target;
  if (ev.detail !== undefined) log.detail = ev.detail;
  if (ev.redacted !== undefined) log.redacted = ev.redacted;
  // `source` is a reserved Datadog attribute (alias of ddsource): keep ours out of its way.
  const meta: Json = { source: ev.source };
  const extra: Json = {};
  for (const [k, v] of Object.entries(ev)) {
    if (MAPPED_KEYS.has(k)) continue;
    if (RESERVED.has(k) || k in log) extra[k] = v;
    else log[k] = v;
  }
  if (Object.keys(extra).length > 0) meta.extra = extra;
  log.auditshipper = meta;
  return log;
}

function shrinkStrings(v: unknown, max: number): unknown {
  if (typeof v === 'string') return v.length > max ? `${v.slice(0, max)}…[truncated]` : v;
  if (Array.isArray(v)) return v.map((x) => shrinkStrings(x, max));
  if (v !== null && typeof v === 'object') {
    const out: Json = {};
    for (const [k, x] of Object.entries(v)) out[k] = shrinkStrings(x, max);
    return out;
  }
  return v;
}

/**
 * Serialise one log, keeping it within Datadog's 1 MB per-log limit (research 1.4): first the
 * `detail` is replaced by a marker, then long strings are cut, then only the core attributes
 * are kept. The event is always sent and always carries `truncated: true` when cut.
 */
export function serializeDatadogLog(log: Json): {
  json: string;
  bytes: number;
  truncated: boolean;
} {
  let json = JSON.stringify(log);
  let bytes = Buffer.byteLength(json);
  if (bytes <= DATADOG_MAX_LOG_BYTES) return { json, bytes, truncated: false };
  const original = bytes;
  const marker = {
    auditshipper_truncated: `detail removed: the event was ${original} bytes, over Datadog's 1 MB per-log limit`,
  };
  let cut: Json = { ...log, detail: marker, truncated: true };
  json = JSON.stringify(cut);
  bytes = Buffer.byteLength(json);
  if (bytes > DATADOG_MAX_LOG_BYTES) {
    cut = { ...(shrinkStrings(cut, 1024) as Json), detail: marker };
    json = JSON.stringify(cut);
    bytes = Buffer.byteLength(json);
  }
  if (bytes > DATADOG_MAX_LOG_BYTES) {
    const core: Json = { detail: marker, truncated: true };
    for (const k of [
      'ddsource',
      'service',
      'hostname',
      'ddtags',
      'status',
      'message',
      'timestamp',
      'audit_timestamp',
      'timestamp_adjusted',
      'id',
      'evt',
    ]) {
      if (k in log) core[k] = shrinkStrings(log[k], 1024);
    }
    json = JSON.stringify(core);
    bytes = Buffer.byteLength(json);
  }
  return { json, bytes, truncated: true };
}

export interface DatadogRequest {
  /** Uncompressed JSON array. */
  body: Buffer;
  headers: Record<string, string>;
  entries: number;
  /** Ids of events whose detail was cut to fit 1 MB. */
  truncatedIds: string[];
}

/** Build the request for one batch (uncompressed; the driver compresses). Throws EncodeError. */
export function encode(batch: readonly QueuedEvent[], cfg: DatadogSinkConfig): DatadogRequest {
  const opts: DatadogMapOptions = {
    service: cfg.service,
    hostname: cfg.hostname,
    tagPrefix: cfg.tags.join(','),
    now: Date.now(),
  };
  const parts: string[] = [];
  const truncatedIds: string[] = [];
  for (const q of batch) {
    const log = toDatadogLog(parseEventBody(q), opts, q.ingestedAt);
    const s = serializeDatadogLog(log);
    if (s.truncated) truncatedIds.push(q.id);
    parts.push(s.json);
  }
  return {
    body: Buffer.from(`[${parts.join(',')}]`, 'utf8'),
    headers: {
      'content-type': 'application/json',
      'dd-api-key': cfg.api_key,
      'user-agent': USER_AGENT,
    },
    entries: batch.length,
    truncatedIds,
  };
}

/**
 * Datadog v2 intake answers (research 1.5): 202 (any 2xx) ok; 400 reject; 401/403 unhealthy;
 * 408/429/5xx retry, honouring Retry-After whenever present (whether the intake sends it is
 * UNCONFIRMED, so take it if it is there); 413 split. Anything else follows the generic table.
 */
export function classify(res: HttpResponse, label = 'datadog sink'): Verdict {
  return classifyHttpStatus(label, res, { retryAfterOn: 'any' });
}

export function createDatadogSink(
  name: string,
  cfg: DatadogSinkConfig,
  deps: SinkDeps,
): SinkDriver {
  const label = sinkLabel('datadog', name);
  const intake = datadogIntakeUrl(cfg);
  const path = `${intake.pathname}${intake.search}`;
  const client = createHttpClient({
    url: intake,
    connections: cfg.request.concurrency,
    timeoutMs: cfg.request.timeout,
  });
  const secrets = [cfg.api_key];

  async function send(batch: QueuedEvent[], signal: AbortSignal): Promise<Verdict> {
    if (batch.length === 0) return { kind: 'ok' };
    let req: DatadogRequest;
    try {
      req = encode(batch, cfg);
    } catch (err) {
      if (err instanceof EncodeError) return { kind: 'reject', reason: `${label}: ${err.message}` };
      throw err;
    }
    // A request over the 5 MB cap can only earn a 413: split without sending it.
    if (req.body.length > DATADOG_MAX_PAYLOAD_BYTES && batch.length > 1) {
      return {
        kind: 'split',
        reason: `${label}: batch encodes to ${req.body.length} bytes, over Datadog's 5 MB request limit`,
      };
    }
    if (req.truncatedIds.length > 0) {
      deps.logger.warn(
        { sink: name, events: req.truncatedIds.slice(0, 20), count: req.truncatedIds.length },
        `${label}: event detail over Datadog's 1 MB per-log limit was replaced by a marker (truncated: true)`,
      );
    }
    const { body, headers } = await compressBody(req.body, cfg.compression);
    const out = await client.request(
      { method: 'POST', path, headers: { ...req.headers, ...headers }, body },
      signal,
    );
    if (!out.ok) return failureVerdict(label, out.failure);
    return classify(
      { ...out.response, body: sanitizeResponseBody(out.response.body, secrets) },
      label,
    );
  }

  async function healthcheck(signal: AbortSignal): Promise<{ ok: boolean; message: string }> {
    const url = datadogValidateUrl(cfg);
    const sameOrigin = url.origin === client.origin;
    const c = sameOrigin
      ? client
      : createHttpClient({ url, connections: 1, timeoutMs: cfg.request.timeout });
    try {
      const out = await c.request(
        {
          method: 'GET',
          path: url.pathname,
          headers: {
            'dd-api-key': cfg.api_key,
            'user-agent': USER_AGENT,
            accept: 'application/json',
          },
        },
        signal,
      );
      if (!out.ok) {
        return {
          ok: false,
          message: `${label}: API key check failed: ${out.failure.kind} ${out.failure.code}`,
        };
      }
      const s = out.response.status;
      if (s === 200) return { ok: true, message: `${label}: API key is valid` };
      if (s === 401 || s === 403) {
        return { ok: false, message: `${label}: API key rejected (${statusText(s)})` };
      }
      return { ok: false, message: `${label}: API key check answered ${statusText(s)}` };
    } finally {
      if (!sameOrigin) await c.close();
    }
  }

  const driver: SinkDriver = {
    name,
    type: 'datadog',
    send,
    close: () => client.close(),
  };
  return cfg.healthcheck ? { ...driver, healthcheck } : driver;
}
