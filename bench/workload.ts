/**
 * The benchmark workload: a deterministic, seeded stream of log lines shaped like a busy
 * Retool backend's stdout (issue 7): about half audit events — Retool rows (QUERY_RUN with
 * query text, parameters, request headers with Authorization and cookies; PAGE_VIEW; LOGIN;
 * resource changes carrying credentials; user and group changes), ToolJet records and
 * generic JSON audit records — and half ordinary JSON app logs (request logs, SQL timings,
 * job logs), plus about 1% garbage (truncated JSON, stack-trace text, invalid UTF-8).
 * Mean line length is about 950 bytes; lines can be wrapped in the Kubernetes CRI format.
 *
 * Same seed, same lines: only `writtenAt` (and the timestamps derived from it) depend on
 * the clock, and those have a fixed width, so sizes and offsets are reproducible too.
 *
 * Every audit event carries two numbers in its metadata (or `detail` for generic records):
 * `benchSeq`, the line's index in the workload, and `writtenAt`, the epoch milliseconds at
 * which the line was generated for writing. The receiver reads both back from what a
 * shipper delivers: `benchSeq` proves every event arrived exactly once, and arrival minus
 * `writtenAt` is the write-to-receive latency. They are plain numbers so no redaction
 * detector touches them.
 *
 * Standalone: node dist-bench/bench/workload.js --lines 200000 --out /tmp/w.log [--cri] [--seed 7]
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

export type LineKind = 'retool' | 'tooljet' | 'generic' | 'app' | 'garbage';

export interface WorkloadOptions {
  /** PRNG seed (default 7). */
  seed?: number;
  /** Wrap every line in the CRI format (`<time> stdout F <line>`); long lines are split into P/F parts. */
  cri?: boolean;
  /** Share of lines that are audit events (default 0.5). */
  auditShare?: number;
  /** Share of lines that are garbage (default 0.01). */
  garbageShare?: number;
  /** Distinct line templates drawn from (default 16384). */
  poolSize?: number;
}

export interface GeneratedLine {
  kind: LineKind;
  /** The bytes to append, ending in "\n" (several physical lines for a CRI-split record). */
  bytes: Buffer;
}

export interface WorkloadStats {
  lines: number;
  bytes: number;
  audit: number;
  byKind: Record<LineKind, number>;
}

export function emptyStats(): WorkloadStats {
  return {
    lines: 0,
    bytes: 0,
    audit: 0,
    byKind: { retool: 0, tooljet: 0, generic: 0, app: 0, garbage: 0 },
  };
}

export function isAudit(kind: LineKind): boolean {
  return kind === 'retool' || kind === 'tooljet' || kind === 'generic';
}

/** mulberry32: tiny, fast, good enough to make varied but reproducible content. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------
// Vocabulary. Everything here is invented; nothing resembles a real credential.

const FIRST = [
  'ana',
  'bruno',
  'chen',
  'dara',
  'emil',
  'fatima',
  'goran',
  'hana',
  'ivo',
  'jules',
  'kofi',
  'lena',
  'mateo',
  'nadia',
];
const LAST = [
  'kowalski',
  'silva',
  'wang',
  'okafor',
  'novak',
  'haddad',
  'petrov',
  'sato',
  'meyer',
  'rossi',
  'garcia',
  'lindqvist',
];
const DOMAINS = ['example.com', 'example.org', 'corp.example.net'];
const APPS = [
  'Support Console',
  'Refunds Admin',
  'Customer 360',
  'Ops Dashboard',
  'Billing Tools',
  'Fraud Review',
  'Inventory',
];
const PAGES = ['home', 'customerDetail', 'orders', 'refunds', 'settings', 'auditTrail', 'search'];
const RESOURCES = [
  'prod-postgres',
  'prod-mysql-replica',
  'stripe-api',
  'zendesk',
  'analytics-bigquery',
  'internal-rest',
  'staging-postgres',
];
const QUERY_NAMES = [
  'getCustomers',
  'searchOrders',
  'updateTicket',
  'refundPayment',
  'listInvoices',
  'resetPasswordForUser',
  'customerById',
  'recentSignups',
];
const TABLES = [
  'customers',
  'orders',
  'tickets',
  'payments',
  'invoices',
  'users',
  'subscriptions',
  'refunds',
];
const COLUMNS = [
  'id',
  'email',
  'status',
  'created_at',
  'updated_at',
  'amount_cents',
  'currency',
  'customer_id',
  'plan',
  'country',
  'owner_id',
];
const CITIES: [string, string, string][] = [
  ['Lisbon', 'PT', 'Europe/Lisbon'],
  ['Berlin', 'DE', 'Europe/Berlin'],
  ['Austin', 'US', 'America/Chicago'],
  ['Singapore', 'SG', 'Asia/Singapore'],
  ['Nairobi', 'KE', 'Africa/Nairobi'],
];
const UAS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36',
];
const HTTP_PATHS = [
  '/api/pages/uuids/',
  '/api/resources/',
  '/api/organization/users/',
  '/api/apps/',
  '/api/queries/run/',
  '/api/workflows/',
];
const RETOOL_OTHER_ACTIONS = [
  'LOGOUT',
  'INVITE_USER',
  'CREATE_GROUP',
  'ADD_USERS_TO_GROUP',
  'CONFIG_VAR_UPDATE',
  'RELEASE_WORKFLOW',
  'DELETE_RESOURCE',
  'DISABLE_TWO_FACTOR_AUTH',
  'PAGE_EXPORT',
  'RUN_WORKFLOW',
];
const TOOLJET_ACTIONS = [
  'USER_LOGIN',
  'APP_VIEW',
  'APP_UPDATE',
  'DATA_QUERY_RUN',
  'APP_CREATE',
  'GROUP_PERMISSION_UPDATE',
  'DATA_SOURCE_UPDATE',
  'APP_DELETE',
];
const GENERIC_ACTIONS = [
  'model.deploy',
  'auth.login',
  'auth.login_failure',
  'dataset.export',
  'role.grant',
  'api_key.create',
  'settings.update',
  'record.delete',
];
const JOBS = [
  'email-digest',
  'sync-zendesk',
  'rebuild-search-index',
  'expire-sessions',
  'usage-rollup',
];

type R = () => number;

const pick = <T>(r: R, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: R, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const B64URL = ALNUM + '-_';
const HEX = '0123456789abcdef';

function chars(r: R, alphabet: string, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)];
  return s;
}

function uuid(r: R): string {
  return `${chars(r, HEX, 8)}-${chars(r, HEX, 4)}-4${chars(r, HEX, 3)}-a${chars(r, HEX, 3)}-${chars(r, HEX, 12)}`;
}

/** A fake three-part JWT (header and payload are real base64url JSON, the signature random). */
function jwt(r: R, sub: number): string {
  const header = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');
  const payload = Buffer.from(
    JSON.stringify({ sub, xsrf: chars(r, HEX, 16), iat: 1795000000 + int(r, 0, 300000) }),
  ).toString('base64url');
  return `${header}.${payload}.${chars(r, B64URL, 43)}`;
}

function email(r: R): string {
  return `${pick(r, FIRST)}.${pick(r, LAST)}@${pick(r, DOMAINS)}`;
}

function ip(r: R): string {
  return `10.${int(r, 0, 255)}.${int(r, 0, 255)}.${int(r, 1, 254)}`;
}

function sql(r: R): string {
  const t = pick(r, TABLES);
  const cols = [pick(r, COLUMNS), pick(r, COLUMNS), pick(r, COLUMNS), 'id'].join(', ');
  switch (int(r, 0, 3)) {
    case 0:
      return `SELECT ${cols} FROM ${t} WHERE email ILIKE {{ '%' + searchInput.value + '%' }} AND status = 'active' AND created_at > now() - interval '90 days' ORDER BY created_at DESC LIMIT 100`;
    case 1:
      return `UPDATE ${t} SET status = {{ statusSelect.value }}, updated_at = now(), updated_by = {{ current_user.email }} WHERE id = {{ table1.selectedRow.data.id }} RETURNING ${cols}`;
    case 2:
      return `SELECT c.id, c.email, c.country, sum(p.amount_cents) AS total FROM customers c JOIN ${t} p ON p.customer_id = c.id WHERE c.id = {{ urlparams.customerId }} GROUP BY c.id, c.email, c.country`;
    default:
      return `INSERT INTO ${t} (customer_id, amount_cents, currency, reason, created_by) VALUES ({{ customerId.value }}, {{ amount.value }}, 'EUR', {{ reason.value }}, {{ current_user.email }})`;
  }
}

function geo(r: R) {
  const [city, country, tz] = pick(r, CITIES);
  return {
    city,
    country,
    timezone: tz,
    latitude: Math.round(r() * 180_000) / 1000 - 90,
    longitude: Math.round(r() * 360_000) / 1000 - 180,
  };
}

/** Request headers as Retool records them for a query run: the secrets a shipper must hide. */
function requestHeaders(r: R, userId: number) {
  return {
    Authorization: `Bearer ${jwt(r, userId)}`,
    Cookie: `accessToken=${jwt(r, userId)}; xsrfToken=${chars(r, HEX, 32)}; _ga=GA1.1.${int(r, 1e8, 1e9)}.${int(r, 1e9, 2e9)}`,
    'X-Xsrf-Token': chars(r, HEX, 32),
    'User-Agent': pick(r, UAS),
    Accept: 'application/json',
    'X-Request-Id': uuid(r),
  };
}

// ---------------------------------------------------------------------------
// Record builders. They write slot markers where per-line values go (see `compile`):
// W = writtenAt, S = benchSeq, I = Retool row id (numbers); T = ISO time, N = seq,
// U = a unique uuid (inside strings).

function retoolRecord(r: R): Record<string, unknown> {
  const userId = int(r, 1, 400);
  const roll = r();
  const base = {
    id: I,
    userId,
    organizationId: int(r, 1, 3),
    userAgent: pick(r, UAS),
    ipAddress: `::ffff:${ip(r)}`,
    geoLocation: geo(r),
    responseTimeMs: int(r, 2, 1800),
    createdAt: T,
  };
  if (roll < 0.55) {
    // One run in 1000 passes a whole id list: a line longer than a 16 KiB CRI partial.
    const params =
      r() < 0.001
        ? Array.from({ length: 3000 }, () => int(r, 100000, 999999))
        : [int(r, 1, 99999), email(r), pick(r, ['active', 'pending', 'closed'])];
    return {
      ...base,
      actionType: 'QUERY_RUN',
      pageName: pick(r, APPS),
      queryName: pick(r, QUERY_NAMES),
      resourceName: pick(r, RESOURCES),
      metadata: {
        writtenAt: W,
        benchSeq: S,
        query: sql(r),
        parameters: params,
        headers: requestHeaders(r, userId),
        resourceType: 'postgresql',
        environment: 'production',
      },
    };
  }
  if (roll < 0.75) {
    return {
      ...base,
      actionType: 'PAGE_VIEW',
      pageName: pick(r, APPS),
      metadata: {
        writtenAt: W,
        benchSeq: S,
        pageUuid: uuid(r),
        page: pick(r, PAGES),
        referrer: `https://tools.example.com/apps/${uuid(r)}`,
        branch: 'main',
        mode: 'user',
      },
    };
  }
  if (roll < 0.82) {
    const user = {
      id: userId,
      email: email(r),
      firstName: pick(r, FIRST),
      lastName: pick(r, LAST),
    };
    return {
      ...base,
      actionType: 'LOGIN',
      metadata: {
        writtenAt: W,
        benchSeq: S,
        method: pick(r, ['google', 'password', 'saml']),
        user,
        sessionId: chars(r, HEX, 32),
        twoFactor: r() < 0.5,
      },
    };
  }
  if (roll < 0.87) {
    const name = pick(r, RESOURCES);
    return {
      ...base,
      actionType: pick(r, ['UPDATE_RESOURCE', 'CREATE_RESOURCE']),
      resourceName: name,
      metadata: {
        writtenAt: W,
        benchSeq: S,
        resource: {
          name,
          type: 'postgresql',
          options: {
            host: `db-${int(r, 1, 9)}.internal.example.net`,
            port: 5432,
            database: 'app',
            username: 'retool_ro',
            password: chars(r, ALNUM, 24),
            ssl: true,
            sshTunnel: false,
          },
        },
        changedFields: ['options.password', 'options.host'],
      },
    };
  }
  if (roll < 0.92) {
    return {
      ...base,
      actionType: pick(r, ['USER_NAME_CHANGE', 'ENABLE_USER', 'DISABLE_USER']),
      metadata: {
        writtenAt: W,
        benchSeq: S,
        user: {
          id: int(r, 1, 400),
          email: email(r),
          firstName: pick(r, FIRST),
          lastName: pick(r, LAST),
          groups: ['Support', 'All Users'],
          lastLoggedIn: '2026-11-20T08:14:03.512Z',
        },
        before: { firstName: pick(r, FIRST) },
      },
    };
  }
  return {
    ...base,
    actionType: pick(r, RETOOL_OTHER_ACTIONS),
    pageName: pick(r, APPS),
    metadata: {
      writtenAt: W,
      benchSeq: S,
      groupId: int(r, 1, 40),
      members: [int(r, 1, 400), int(r, 1, 400)],
      note: 'changed from the settings page',
    },
  };
}

/** Retool's stdout shape varies by version: bare rows, merged into a logger line, or nested. */
function retoolLine(r: R): string {
  const rec = retoolRecord(r);
  const shape = r();
  if (shape < 0.5)
    return JSON.stringify({ level: 'info', message: 'audit trail event', timestamp: T, ...rec });
  if (shape < 0.85) return JSON.stringify(rec);
  return JSON.stringify({
    level: 'info',
    timestamp: T,
    service: 'retool-backend',
    auditEvent: rec,
  });
}

function tooljetLine(r: R): string {
  const action = pick(r, TOOLJET_ACTIONS);
  const metadata = {
    writtenAt: W,
    benchSeq: S,
    tooljetVersion: '2.50.0',
    appId: uuid(r),
    versionId: uuid(r),
    environment: 'production',
    pageName: pick(r, PAGES),
    userAgent: pick(r, UAS),
    ...(action === 'DATA_QUERY_RUN'
      ? {
          query: sql(r),
          headers: {
            authorization: `Bearer ${jwt(r, 7)}`,
            cookie: `tj_auth_token=${chars(r, B64URL, 40)}`,
          },
        }
      : action === 'DATA_SOURCE_UPDATE'
        ? {
            options: {
              host: 'pg.internal.example.net',
              username: 'tooljet',
              password: chars(r, ALNUM, 20),
            },
          }
        : { appVersion: `v${int(r, 1, 40)}` }),
  };
  if (r() < 0.6) {
    // ToolJet's log file: camelCase, nested under auditLog.
    return JSON.stringify({
      level: 'info',
      message: 'audit log entry',
      context: 'AuditLoggerService',
      pid: 1,
      timestamp: T,
      auditLog: {
        userId: uuid(r),
        organizationId: uuid(r),
        resourceId: uuid(r),
        resourceType: action.startsWith('DATA_') ? 'DATA_QUERY' : 'APP',
        resourceName: pick(r, APPS),
        actionType: action,
        ipAddress: ip(r),
        metadata,
      },
    });
  }
  return JSON.stringify({
    id: U,
    action_type: action,
    created_at: T,
    ip_address: ip(r),
    organization_id: uuid(r),
    resource_id: uuid(r),
    resource_name: pick(r, APPS),
    resource_type: 'APP',
    user_id: uuid(r),
    metadata,
  });
}

function genericLine(r: R): string {
  const action = pick(r, GENERIC_ACTIONS);
  return JSON.stringify({
    timestamp: T,
    actor: email(r),
    action,
    target: {
      type: action.split('.')[0],
      id: String(int(r, 1, 99999)),
      name: `${pick(r, TABLES)}-${int(r, 1, 9)}`,
    },
    severity:
      action.endsWith('failure') || action.startsWith('record.delete') ? 'critical' : 'info',
    ip: ip(r),
    detail: {
      writtenAt: W,
      benchSeq: S,
      requestId: uuid(r),
      session: chars(r, HEX, 32),
      api_key: action === 'api_key.create' ? `sk_live_${chars(r, ALNUM, 32)}` : undefined,
      reason: 'requested through the admin API',
      user_agent: pick(r, UAS),
      changes: {
        before: { enabled: false, owner: email(r), tier: pick(r, ['free', 'team', 'enterprise']) },
        after: { enabled: true, owner: email(r), tier: pick(r, ['free', 'team', 'enterprise']) },
      },
      labels: { env: 'prod', region: pick(r, ['eu-west-1', 'us-east-1']) },
    },
  });
}

/** Ordinary app logs: pino request logs, SQL timings, job runs. No audit markers. */
function appLine(r: R): string {
  const roll = r();
  const time = W;
  if (roll < 0.6) {
    const status = r() < 0.93 ? 200 : pick(r, [304, 400, 404, 500]);
    const path = pick(r, HTTP_PATHS) + uuid(r);
    return JSON.stringify({
      level: status >= 500 ? 50 : 30,
      time,
      pid: 31,
      hostname: 'retool-backend-7d9f8c6b5-x2x9q',
      reqId: `req-${N}`,
      req: {
        method: pick(r, ['GET', 'POST']),
        url: path,
        remoteAddress: `::ffff:${ip(r)}`,
        remotePort: int(r, 30000, 65000),
        headers: {
          host: 'tools.example.com',
          'user-agent': pick(r, UAS),
          accept: 'application/json, text/plain, */*',
          'accept-language': 'en-GB,en;q=0.9',
          'accept-encoding': 'gzip, deflate, br',
          'sec-ch-ua': '"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"',
          referer: `https://tools.example.com/apps/${uuid(r)}/${pick(r, PAGES)}`,
          traceparent: `00-${chars(r, HEX, 32)}-${chars(r, HEX, 16)}-01`,
          'x-forwarded-for': ip(r),
        },
      },
      res: {
        statusCode: status,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'content-length': String(int(r, 80, 90000)),
          'cache-control': 'no-store',
          etag: `W/"${chars(r, HEX, 20)}"`,
        },
      },
      responseTime: Math.round(r() * 90000) / 100,
      msg: 'request completed',
    });
  }
  if (roll < 0.85) {
    return JSON.stringify({
      level: 20,
      time,
      pid: 31,
      hostname: 'retool-backend-7d9f8c6b5-x2x9q',
      component: 'db',
      caller: pick(r, ['PageService.findByUuid', 'ResourceService.list', 'UserService.byEmail']),
      traceId: chars(r, HEX, 32),
      sql: `SELECT "pages"."id", "pages"."name", "pages"."uuid", "pages"."organizationId", "pages"."folderId", "pages"."data" FROM "pages" WHERE "pages"."uuid" = $1 AND "pages"."organizationId" = $2 LIMIT 1`,
      durationMs: Math.round(r() * 5000) / 100,
      rows: int(r, 0, 50),
      pool: { total: 20, idle: int(r, 0, 20), waiting: int(r, 0, 3) },
      msg: 'query executed',
    });
  }
  return JSON.stringify({
    level: 30,
    time,
    pid: 31,
    hostname: 'retool-jobs-5c6d7f8d9-abcde',
    job: pick(r, JOBS),
    jobId: uuid(r),
    attempt: int(r, 1, 3),
    items: int(r, 0, 5000),
    elapsedMs: int(r, 5, 60000),
    queue: { name: 'default', depth: int(r, 0, 400), workers: 4 },
    traceId: chars(r, HEX, 32),
    lastError: null,
    msg: pick(r, ['job started', 'job finished', 'batch processed']),
  });
}

function garbageLine(r: R): string | Buffer {
  switch (int(r, 0, 3)) {
    case 0: // a JSON line cut short (a crashed writer, a truncated copy)
      return `{"level":30,"time":${N},"msg":"request completed","req":{"method":"GET","url":"/api/apps/${chars(r, HEX, 16)}`;
    case 1: // plain text from a dependency or an uncaught error
      return `    at processTicksAndRejections (node:internal/process/task_queues:95:5) [seq ${N}]`;
    case 2: // invalid UTF-8 and control bytes
      return Buffer.concat([
        Buffer.from(`binary ${int(r, 0, 1e6)} `),
        Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x07, 0x80]),
      ]);
    default:
      return `Error: connect ECONNREFUSED 10.0.0.${int(r, 1, 254)}:5432`;
  }
}

// ---------------------------------------------------------------------------
// The generator: a pool of line templates built once from the seed, then lines drawn from
// it with the per-line values filled in. Building a line from scratch costs ~30 µs (mostly
// JSON.stringify); filling a template ~1 µs, so a writer at 5,000 lines/s takes almost no
// CPU away from the shipper it is measuring. The pool is large enough (16,384 templates by
// default) that gzip's 32 KiB window never sees a repeat within a batch.

/** Slot markers: a quoted marker becomes a JSON number, a bare one text inside a string. */
const W = '@@W@@';
const S = '@@S@@';
const I = '@@I@@';
const T = '@@T@@';
const N = '@@N@@';
const U = '@@U@@';
const SLOT_RE = /"@@([WSI])@@"|@@([TNU])@@/g;

interface Template {
  kind: LineKind;
  /** Literal text around the slots (parts.length === slots.length + 1). */
  parts: string[];
  slots: string[];
  /** Lines that are not valid UTF-8 are kept as bytes, without slots. */
  raw?: Buffer;
}

function compile(kind: LineKind, text: string | Buffer): Template {
  if (typeof text !== 'string') return { kind, parts: [], slots: [], raw: text };
  const parts: string[] = [];
  const slots: string[] = [];
  let last = 0;
  for (const m of text.matchAll(SLOT_RE)) {
    parts.push(text.slice(last, m.index));
    slots.push((m[1] ?? m[2])!);
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  return { kind, parts, slots };
}

function buildTemplate(r: R, auditShare: number, garbageShare: number): Template {
  const roll = r();
  if (roll < garbageShare) return compile('garbage', garbageLine(r));
  if (roll < garbageShare + auditShare) {
    const which = r();
    if (which < 0.8) return compile('retool', retoolLine(r));
    if (which < 0.9) return compile('tooljet', tooljetLine(r));
    return compile('generic', genericLine(r));
  }
  return compile('app', appLine(r));
}

function uniqueUuid(seq: number): string {
  const h = seq.toString(16).padStart(12, '0');
  return `b3a5e0c1-7d2f-4e8a-9c61-${h}`;
}

/** Kubelet splits a container's line into 16 KiB CRI partials. */
const CRI_PART = 16 * 1024;

function criTime(iso: string): string {
  // Nanosecond precision like containerd; fixed width, so sizes do not depend on the clock.
  return iso.replace('Z', '000000Z');
}

function wrapCri(content: Buffer, iso: string): Buffer {
  const ts = criTime(iso);
  if (content.length <= CRI_PART)
    return Buffer.concat([Buffer.from(`${ts} stdout F `), content, NL]);
  const parts: Buffer[] = [];
  for (let at = 0; at < content.length; at += CRI_PART) {
    const last = at + CRI_PART >= content.length;
    parts.push(
      Buffer.from(`${ts} stdout ${last ? 'F' : 'P'} `),
      content.subarray(at, at + CRI_PART),
      NL,
    );
  }
  return Buffer.concat(parts);
}

const NL = Buffer.from('\n');

export interface Workload {
  /** The next line; `writtenAt` is stamped into audit events (default: now). */
  next(writtenAt?: number): GeneratedLine;
  readonly stats: WorkloadStats;
}

export function createWorkload(opts: WorkloadOptions = {}): Workload {
  const r = prng(opts.seed ?? 7);
  const auditShare = opts.auditShare ?? 0.5;
  const garbageShare = opts.garbageShare ?? 0.01;
  const pool: Template[] = [];
  for (let i = 0; i < (opts.poolSize ?? 16_384); i++)
    pool.push(buildTemplate(r, auditShare, garbageShare));
  const stats = emptyStats();
  let seq = 0;
  let isoAt = -1;
  let iso = '';
  return {
    stats,
    next(writtenAt = Date.now()) {
      const t = pool[Math.floor(r() * pool.length)]!;
      if (writtenAt !== isoAt) {
        isoAt = writtenAt;
        iso = new Date(writtenAt).toISOString();
      }
      let content: Buffer;
      if (t.raw) content = t.raw;
      else {
        let text = t.parts[0]!;
        for (let i = 0; i < t.slots.length; i++) {
          switch (t.slots[i]) {
            case 'W':
              text += writtenAt;
              break;
            case 'S':
            case 'N':
              text += seq;
              break;
            case 'I':
              text += 1_000_000 + seq;
              break;
            case 'T':
              text += iso;
              break;
            default:
              text += uniqueUuid(seq);
          }
          text += t.parts[i + 1]!;
        }
        content = Buffer.from(opts.cri ? text : text + '\n');
      }
      const bytes = opts.cri
        ? wrapCri(content, iso)
        : t.raw
          ? Buffer.concat([content, NL])
          : content;
      seq++;
      stats.lines++;
      stats.bytes += bytes.length;
      stats.byKind[t.kind]++;
      if (isAudit(t.kind)) stats.audit++;
      return { kind: t.kind, bytes };
    },
  };
}

/**
 * Append `lines` lines to `path` (created or truncated), in ~1 MiB writes. Returns the
 * workload's stats. 200,000 lines take a few seconds, mostly JSON.stringify.
 */
export function writeWorkloadFile(
  path: string,
  lines: number,
  opts: WorkloadOptions = {},
): WorkloadStats {
  const w = createWorkload(opts);
  const fd = openSync(path, 'w');
  try {
    let chunk: Buffer[] = [];
    let size = 0;
    for (let i = 0; i < lines; i++) {
      const { bytes } = w.next();
      chunk.push(bytes);
      size += bytes.length;
      if (size >= 1 << 20) {
        writeAll(fd, Buffer.concat(chunk, size));
        chunk = [];
        size = 0;
      }
    }
    if (size > 0) writeAll(fd, Buffer.concat(chunk, size));
  } finally {
    closeSync(fd);
  }
  return w.stats;
}

export function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

// ---------------------------------------------------------------------------

function main(): void {
  const { values } = parseArgs({
    options: {
      lines: { type: 'string', default: '200000' },
      out: { type: 'string' },
      seed: { type: 'string', default: '7' },
      cri: { type: 'boolean', default: false },
    },
  });
  if (!values.out) {
    process.stderr.write('usage: workload.js --out FILE [--lines N] [--seed N] [--cri]\n');
    process.exitCode = 2;
    return;
  }
  const t0 = performance.now();
  const s = writeWorkloadFile(values.out, Number(values.lines), {
    seed: Number(values.seed),
    cri: values.cri,
  });
  const ms = performance.now() - t0;
  process.stdout.write(
    `${s.lines} lines, ${(s.bytes / 2 ** 20).toFixed(1)} MiB (mean ${Math.round(s.bytes / s.lines)} B), ` +
      `${s.audit} audit (${JSON.stringify(s.byKind)}) in ${Math.round(ms)} ms\n`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
