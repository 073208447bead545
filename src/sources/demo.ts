/**
 * `demo` source: generates realistic Retool audit log lines (with planted secrets, so the
 * redaction is visible) at a fixed rate. It exists so `npm start` shows the whole pipeline
 * working with no log files and no external service, the way Vector's demo_logs source
 * does. Lines go through the same framing, parsing, redaction and routing as real input.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { zDuration } from '../config/zod-units.js';
import type { BatchHandler, Source } from './types.js';

export const demoSourceSchema = z.strictObject({
  type: z.literal('demo'),
  /** Time between generated lines. */
  interval: zDuration.prefault('1s'),
  /** Stop after this many lines (unset: run until stopped). */
  count: z.number().int().positive().optional(),
  profile: z.string().default('auto'),
});
export type DemoSourceConfig = z.output<typeof demoSourceSchema>;

const USERS = [
  { id: 42, email: 'ana@example.com' },
  { id: 7, email: 'li.wei@example.com' },
  { id: 13, email: 'sam.okafor@example.com' },
];
const ACTIONS = [
  'QUERY_RUN',
  'QUERY_RUN',
  'PAGE_VIEW',
  'LOGIN',
  'UPDATE_RESOURCE',
  'DISABLE_TWO_FACTOR_AUTH',
  'PLAYGROUND_QUERY_RUN',
] as const;

/** The n-th demo line (deterministic apart from the timestamp). */
export function demoLine(n: number, now: number): string {
  const user = USERS[n % USERS.length]!;
  const action = ACTIONS[n % ACTIONS.length]!;
  if (n % 5 === 4) {
    // Ordinary application log lines are mixed in, as in a real Retool container's stdout.
    return JSON.stringify({
      level: 'info',
      time: now,
      msg: `GET /api/apps 200 ${12 + (n % 40)}ms`,
    });
  }
  const base = {
    id: 100_000 + n,
    userId: user.id,
    organizationId: 1,
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
    ipAddress: `::ffff:203.0.113.${(n % 200) + 1}`,
    actionType: action,
    createdAt: new Date(now).toISOString(),
    responseTimeMs: 20 + (n % 180),
  };
  let extra: Record<string, unknown> = {};
  if (action === 'QUERY_RUN' || action === 'PLAYGROUND_QUERY_RUN') {
    extra = {
      pageName: 'Support Console',
      queryName: 'getCustomers',
      resourceName: 'prod-postgres',
      metadata: {
        query: "SELECT * FROM customers WHERE email = 'jane@example.org' LIMIT 10",
        parameters: ['jane@example.org', 4111111111111111],
        headers: {
          Authorization: 'Bearer demo-token-not-a-real-secret',
          'Content-Type': 'application/json',
        },
        cookies: 'session=demo-session-cookie',
      },
    };
  } else if (action === 'UPDATE_RESOURCE') {
    extra = {
      resourceName: 'prod-postgres',
      metadata: {
        databaseUsername: 'retool',
        databasePassword: 'demo-password-not-real',
        host: 'db.internal',
      },
    };
  }
  return JSON.stringify({
    level: 'info',
    message: 'audit',
    ...base,
    userEmail: user.email,
    ...extra,
  });
}

export function createDemoSource(
  name: string,
  cfg: DemoSourceConfig,
  now: () => number = Date.now,
): Source {
  const streamId = `demo:${name}:${randomBytes(8).toString('hex')}`;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();
  let n = 0;
  let offset = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => (finish = r));
  return {
    name,
    finished,
    start(handler: BatchHandler) {
      const tick = () => {
        if (stopped) return;
        const text = demoLine(n++, now());
        const bytes = Buffer.byteLength(text) + 1;
        const record = { text, offset };
        offset += bytes;
        inFlight = handler({
          source: name,
          file: null,
          streamId,
          records: [record],
          checkpoint: null,
          bytesRead: bytes,
          linesRead: 1,
          oversized: 0,
        }).then(() => {
          if (cfg.count !== undefined && n >= cfg.count) {
            stopped = true;
            finish();
            return;
          }
          timer = setTimeout(tick, cfg.interval);
        });
      };
      tick();
      return Promise.resolve();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
      finish();
    },
  };
}
