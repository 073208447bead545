/**
 * Redaction throughput: events per second through `plan.apply` on realistic ~1 KB
 * Retool QUERY_RUN events (query text, parameters, request headers, cookies, a user
 * object, geo location), generated deterministically from a seed.
 *
 * Run (Node 20 has no TypeScript loader, so compile first; dist-bench/ is git-ignored):
 *   npx tsc --outDir dist-bench --rootDir . --module nodenext --moduleResolution nodenext \
 *     --target es2023 --strict --skipLibCheck --types node bench/redaction.ts
 *   node dist-bench/bench/redaction.js
 * (`npx tsc -p tsconfig.json --outDir dist-bench` works too; it compiles the whole tree.)
 * The events/s figure is per CPU-second of this process (process.cpuUsage), so it is
 * the one-core rate even on a busy machine; the wall-clock rate is printed beside it.
 * Options: --events N (distinct events, default 20000), --rounds N (default 7), --json,
 *          --quick (only the two default-rules rows, no hostile inputs).
 *
 * Events are cloned (JSON.parse of pre-serialised text) outside the timed region,
 * because apply() redacts in place; only apply() is timed. The figure reported is the
 * median round. A second section times hostile inputs that must fail closed quickly.
 */
import { performance } from 'node:perf_hooks';
import type { AuditEvent } from '../src/event/types.js';
import {
  compileRedaction,
  redactionConfigSchema,
  type RedactionConfigInput,
} from '../src/redact/index.js';

// ---------------------------------------------------------------------------
// Deterministic generator.

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
];
const QUERIES = [
  'getCustomers',
  'searchOrders',
  'updateTicket',
  'refundPayment',
  'listInvoices',
  'resetPassword',
];
const TABLES = ['customers', 'orders', 'tickets', 'payments', 'invoices', 'users'];
const UAS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0',
];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function hex(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(r() * 16).toString(16);
  return s;
}

function b64url(r: () => number, n: number): string {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let s = '';
  for (let i = 0; i < n; i++) s += abc[Math.floor(r() * 64)];
  return s;
}

function uuid(r: () => number): string {
  return `${hex(r, 8)}-${hex(r, 4)}-4${hex(r, 3)}-a${hex(r, 3)}-${hex(r, 12)}`;
}

/** Users of one Retool organisation: a few hundred, a handful of them very active. */
const USERS = 300;

export function retoolQueryRunEvent(r: () => number, i: number): AuditEvent {
  const u = Math.floor(USERS * r() * r()); // skewed towards the busy users
  const first = FIRST[u % FIRST.length]!;
  const last = LAST[Math.floor(u / FIRST.length) % LAST.length]!;
  const email = `${first}.${last}${u}@example.com`;
  const userId = 1000 + u;
  const queryName = pick(r, QUERIES);
  const table = pick(r, TABLES);
  const jwt = `eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.${b64url(r, 60)}.${b64url(r, 43)}`;
  const ts = new Date(Date.UTC(2026, 10, 21, 10, 0, 0) + i * 1371).toISOString();
  return {
    id: hex(r, 32),
    app_event_id: String(500000 + i),
    timestamp: ts,
    product: 'retool',
    action: 'QUERY_RUN',
    category: 'query',
    severity: 'info',
    outcome: 'success',
    actor: {
      id: String(userId),
      email,
      ip: `::ffff:10.${u % 250}.${(u * 7) % 250}.${(u * 13) % 250}`,
      user_agent: UAS[u % UAS.length]!,
    },
    target: {
      type: 'query',
      id: null,
      name: queryName,
      app: 'Support Console',
      resource: 'prod-postgres',
    },
    organization_id: '1',
    duration_ms: Math.floor(r() * 900),
    detail: {
      metadata: {
        queryText: `SELECT id, name, email, plan FROM ${table} WHERE org_id = {{ current_user.orgId }} AND email ILIKE {{ '%' + search.value + '%' }} ORDER BY created_at DESC LIMIT 50`,
        parameters: [email, 50, ts, r() < 0.1 ? '4111 1111 1111 1111' : `ref-${hex(r, 6)}`],
        queryType: 'SqlQueryUnified',
        environment: 'production',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${jwt}`,
          'x-request-id': uuid(r),
          cookie: `accessToken=${jwt}; xsrfToken=${hex(r, 32)}`,
        },
        user: {
          id: userId,
          email,
          firstName: first,
          lastName: last,
          sid: `user_${hex(r, 32)}`,
          lastLoggedIn: ts,
          twoFactorAuthEnabled: r() < 0.5,
          organizationId: 1,
        },
        rowsReturned: Math.floor(r() * 50),
      },
      geoLocation: {
        country: 'PL',
        region: 'Mazovia',
        city: 'Warsaw',
        latitude: 52.2297,
        longitude: 21.0122,
      },
      responseTimeMs: Math.floor(r() * 900) + 0.5,
      pageName: 'Customers',
    },
    redacted: { count: 0, rules: [] },
    source: {
      name: 'retool',
      host: 'node-1',
      file: '/var/log/pods/default_retool-0/backend/0.log',
      offset: i * 1100,
    },
  };
}

// ---------------------------------------------------------------------------
// Timing.

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i !== -1 ? Number(process.argv[i + 1]) : dflt;
}

const N = arg('--events', 20_000);
const ROUNDS = arg('--rounds', 7);
const asJson = process.argv.includes('--json');

/** Make every string in `v` unique to event `i`: defeats the engine's scan memo (worst case). */
function uniquify(v: unknown, i: number): unknown {
  if (typeof v === 'string') return `${v} ${i}`;
  if (Array.isArray(v)) return v.map((x) => uniquify(x, i));
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, uniquify(x, i)]));
  }
  return v;
}

const rand = mulberry32(20261121);
const texts: string[] = [];
const uniqueTexts: string[] = [];
let bytes = 0;
for (let i = 0; i < N; i++) {
  const ev = retoolQueryRunEvent(rand, i);
  const t = JSON.stringify(ev);
  texts.push(t);
  bytes += Buffer.byteLength(t);
  ev.detail = uniquify(ev.detail, i) as Record<string, unknown>;
  ev.actor.user_agent = `${ev.actor.user_agent} ${i}`;
  uniqueTexts.push(JSON.stringify(ev));
}
const detailBytes = texts.reduce(
  (a, t) => a + Buffer.byteLength(JSON.stringify((JSON.parse(t) as AuditEvent).detail)),
  0,
);

interface Result {
  name: string;
  eventsPerSec: number;
  wallEventsPerSec: number;
  mbPerSec: number;
}

function timeConfig(name: string, input: RedactionConfigInput, corpus: string[] = texts): Result {
  const plan = compileRedaction(redactionConfigSchema.parse(input));
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let round = 0; round < ROUNDS + 1; round++) {
    const events = corpus.map((t) => JSON.parse(t) as AuditEvent);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (const e of events) plan.apply(e);
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    if (round === 0) continue; // warms the JIT
    wall.push(N / (ms / 1000));
    // CPU time of this process: the single-core figure even on a busy machine
    // (GC helper threads can add a little on top of the main thread).
    cpu.push(N / ((c.user + c.system) / 1e6));
  }
  const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const eps = median(cpu);
  return {
    name,
    eventsPerSec: Math.round(eps),
    wallEventsPerSec: Math.round(median(wall)),
    mbPerSec: Math.round(((eps * bytes) / N / 1e6) * 10) / 10,
  };
}

const KEY = 'bench-only-hmac-key-0123456789abcdef';
const quick = process.argv.includes('--quick');
const results = [
  timeConfig('default rules', {}),
  timeConfig('default rules, every string unique (no memo hits)', {}, uniqueTexts),
  ...(quick
    ? []
    : [
        timeConfig('keyed: e-mail hash, ip truncate', {
          hash: { key: KEY, key_id: 'v1' },
          detectors: { ip: 'truncate' },
        }),
        timeConfig('headers kept + sql_literals + hash/partial paths', {
          hide_all_headers: false,
          sql_literals: true,
          hash: { key: KEY, key_id: 'v1', paths: ['actor.email', 'detail.**.email'] },
          partial: [{ path: 'detail.metadata.user.sid', keep_last: 4 }],
          drop: ['detail.geoLocation'],
        }),
      ]),
];

// Hostile inputs: each must finish quickly and come back masked, never raw.
function hostile(): { name: string; ms: number; failClosed: boolean }[] {
  const plan = compileRedaction(redactionConfigSchema.parse({}));
  const cases: [string, () => Record<string, unknown>, (d: Record<string, unknown>) => boolean][] =
    [
      ['1 MiB string', () => ({ s: 'a'.repeat(1 << 20) }), (d) => d.s === '[REDACTED]'],
      [
        '10,000-deep nesting',
        () => {
          let o: Record<string, unknown> = { leaf: 'ana@example.com' };
          for (let i = 0; i < 10_000; i++) o = { n: o };
          return o;
        },
        (d) => !JSON.stringify(d).includes('ana@'),
      ],
      [
        '100,000-element array',
        () => ({ a: Array.from({ length: 100_000 }, (_, i) => `u${i}@example.com`) }),
        (d) => (d.a as unknown[]).length === 1000,
      ],
      ['128 KiB of "eyJ" runs', () => ({ s: 'eyJ'.repeat(43_000) + '.x' }), () => true],
      ['128 KiB of "a@" pairs', () => ({ s: 'a@'.repeat(65_000) }), () => true],
      ['128 KiB of digit groups', () => ({ s: '4111 '.repeat(26_000) }), () => true],
      ['128 KiB of "k=" pairs', () => ({ s: 'token='.repeat(21_000) }), () => true],
      ['128 KiB of ":" and hex', () => ({ s: 'a:'.repeat(65_000) }), () => true],
    ];
  return cases.map(([name, make, ok]) => {
    const ev = JSON.parse(texts[0]!) as AuditEvent;
    ev.detail = make();
    const c0 = process.cpuUsage();
    plan.apply(ev);
    const c = process.cpuUsage(c0);
    const ms = (c.user + c.system) / 1000;
    return { name, ms: Math.round(ms * 10) / 10, failClosed: ok(ev.detail) };
  });
}
const hostileResults = quick ? [] : hostile();

if (asJson) {
  console.log(
    JSON.stringify({
      events: N,
      avgEventBytes: Math.round(bytes / N),
      results,
      hostile: hostileResults,
    }),
  );
} else {
  console.log(
    `redaction benchmark: ${N} distinct Retool QUERY_RUN events, avg ${Math.round(bytes / N)} B serialised ` +
      `(detail ${Math.round(detailBytes / N)} B), median of ${ROUNDS} rounds, node ${process.version}`,
  );
  for (const r of results) {
    console.log(
      `  ${r.name.padEnd(52)} ${String(r.eventsPerSec).padStart(9)} events/s per CPU-second  ` +
        `${r.mbPerSec} MB/s  (wall clock: ${r.wallEventsPerSec} events/s)`,
    );
  }
  console.log('hostile inputs (one event each, default rules, CPU ms):');
  for (const h of hostileResults) {
    console.log(
      `  ${h.name.padEnd(50)} ${String(h.ms).padStart(9)} ms  ${h.failClosed ? 'fail-closed ok' : 'NOT MASKED'}`,
    );
  }
}
