/**
 * The leak test, through the real CLI: events carry unique canary secrets in every place
 * redaction covers. The agent runs with a file sink and an HTTP sink that rejects some
 * batches into the DLQ, at debug log level; then every byte it wrote — the SQLite
 * database, its WAL and shared-memory files, the sink outputs, the DLQ rows, the
 * agent's own stdout and stderr, what the HTTP receiver got — is searched for each
 * canary. There must be zero hits.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startCli, tempDir, waitFor, writeConfig } from '../helpers/agent.js';
import { startGenericReceiver } from '../helpers/receivers/index.js';

/** A Luhn-valid 16-digit Visa number with random middle digits. */
function cardNumber(): string {
  const digits = [4, ...Array.from(randomBytes(14), (b) => b % 10)];
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    let d = digits[14 - i]!;
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return [...digits, (10 - (sum % 10)) % 10].join('');
}

const hex = (n: number) => randomBytes(n).toString('hex');
const b64url = (s: string) => Buffer.from(s).toString('base64url');

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

describe('leak test (integration)', () => {
  it('no planted secret reaches any byte the agent writes', async () => {
    const dir = tempDir('as-leak-');
    mkdirSync(join(dir, 'logs'));
    const rcv = await startGenericReceiver();
    try {
      const canaries: Record<string, string> = {};
      const c = (name: string, value: string) => {
        canaries[name] = value;
        return value;
      };
      const card = cardNumber();
      const cardNum = cardNumber();
      const jwt = `${b64url('{"alg":"HS256","typ":"JWT"}')}.${b64url(`{"sub":"${hex(6)}"}`)}.${b64url(hex(16))}`;
      // The canary is the key body (no newline, so it matches the JSON-escaped form too).
      const pemBody = `MIIEow${hex(24)}`;
      const pem = `-----BEGIN RSA PRIVATE KEY-----\n${pemBody}\n${hex(30)}\n-----END RSA PRIVATE KEY-----`;
      const line = (i: number, extra: Record<string, unknown>, top: Record<string, unknown> = {}) =>
        JSON.stringify({
          level: 'info',
          message: 'audit',
          id: 5000 + i,
          userId: 7,
          organizationId: 1,
          actionType: i % 2 ? 'QUERY_RUN' : 'UPDATE_RESOURCE',
          queryName: i % 3 === 0 ? 'resetPasswordForUser' : 'getCustomers',
          resourceName: 'prod-postgres',
          userEmail: `${c(`email-${i}`, `leak${hex(5)}`)}@example.com`,
          createdAt: '2026-11-21T10:00:00.000Z',
          metadata: extra,
          ...top,
        });
      const lines = [
        line(0, {
          headers: {
            Authorization: `Bearer ${c('bearer', `tok${hex(12)}`)}`,
            'X-Api-Key': c('xapikey', `k${hex(10)}`),
          },
          cookies: `session=${c('cookie', `sess${hex(10)}`)}`,
        }),
        line(1, {
          request: {
            headers: [
              {
                key: 'AUTHORIZATION',
                value: `Basic ${c('basic', Buffer.from(`u:${hex(8)}`).toString('base64'))}`,
              },
              { key: 'cookie', value: `sid=${c('listcookie', `sid${hex(10)}`)}` },
            ],
          },
          query: `SELECT * FROM users WHERE email = '${c('sql-email', `sqlmail${hex(5)}`)}@example.com' AND pin = ${c('sql-pin', String(100000 + (randomBytes(2).readUInt16BE() % 800000)))}`,
        }),
        line(2, {
          databasePassword: c('dbpass', `pw${hex(10)}`),
          options: {
            amazon_secret_access_key: c('awssecretkey', `sk${hex(16)}`),
            clientSecret: c('clientsecret', `cs${hex(10)}`),
          },
          note: `card ${c('card', card)} and ssn ${c('ssn', `${100 + (randomBytes(1)[0]! % 600)}-${10 + (randomBytes(1)[0]! % 89)}-${1000 + (randomBytes(2).readUInt16BE() % 8999)}`)}`,
        }),
        line(3, {
          parameters: [
            `${c('param-email', `parm${hex(5)}`)}@example.com`,
            Number(c('cardnum', cardNum)),
          ],
          token: c('jwt', jwt),
          text: `aws ${c('akia', `AKIA${hex(8).toUpperCase()}`)} gh ${c('ghp', `ghp_${hex(18)}`)} slack ${c('slack', `xoxb-${hex(5)}-${hex(6)}-${hex(12)}`)} stripe ${c('stripe', `sk_live_${hex(12)}`)}`,
        }),
        line(4, {
          key: (c('pem', pemBody), pem),
          url: `postgres://admin:${c('urlpass', `up${hex(8)}`)}@db:5432/app`,
          link: `https://api.example.com/v1?access_token=${c('urltoken', `at${hex(10)}`)}&page=2`,
          body: JSON.stringify({
            password: c('nestedpw', `np${hex(8)}`),
            inner: JSON.stringify({ apiKey: c('innerkey', `ik${hex(8)}`) }),
          }),
          employee: `by EMP-${c('custom', String(100000 + (randomBytes(2).readUInt16BE() % 800000)))}`,
        }),
        // i = 6: query resetPasswordForUser, whose parameters hide_query_parameters hides;
        // geoLocation sits at the record's top level, as in Retool's table, and is dropped.
        line(
          6,
          { parameters: [c('hiddenparam', `hp${hex(8)}`)] },
          { geoLocation: { city: c('geo', `city${hex(5)}`) } },
        ),
      ];
      // Many copies so batches, the WAL and the DLQ all get real traffic.
      const all: string[] = [];
      for (let k = 0; k < 50; k++)
        all.push(
          ...lines.map((l) =>
            l.replace(/"id":(\d+)/, (_m, n: string) => `"id":${Number(n) * 100 + k}`),
          ),
        );
      writeFileSync(join(dir, 'logs', 'app.log'), all.join('\n') + '\n');

      // The receiver rejects some events as malformed: bisection moves them to the DLQ.
      rcv.rejectWhen((e) => Number(e.app_event_id) % 7 === 0);
      const cfg = writeConfig(
        dir,
        `data_dir: ${join(dir, 'data')}
log: { level: trace }
api: { enabled: false }
sources:
  app:
    type: file
    include: ["${join(dir, 'logs')}/*.log"]
    format: json
redaction:
  hide_query_parameters: ["resetPassword*"]
  drop: ["detail.geoLocation"]
  sql_literals: { enabled: true }
  detectors:
    custom:
      - { name: employee, pattern: "EMP-[0-9]{6}" }
sinks:
  archive:
    type: file
    path: ${join(dir, 'out')}/{{product}}.ndjson
    batch: { timeout: 100ms }
  console:
    type: stdout
    encoding: json
  siem:
    type: http
    url: ${rcv.url}/ingest
    encoding: ndjson
    batch: { max_events: 40, timeout: 100ms }
    retry: { initial_backoff: 100ms, max_backoff: 300ms }
routes:
  - name: all
    to: [archive, console, siem]
`,
      );
      const agent = startCli(['run', '-c', cfg]);
      const total = all.length;
      await waitFor(
        'every event in the archive and handled by the siem sink',
        () => {
          const archived = existsSync(join(dir, 'out', 'retool.ndjson'))
            ? readFileSync(join(dir, 'out', 'retool.ndjson'), 'utf8')
                .split('\n')
                .filter(Boolean).length
            : 0;
          return (archived >= total && rcv.received.length > 0) || undefined;
        },
        60_000,
        200,
      );
      await new Promise((r) => setTimeout(r, 1500));
      agent.child.kill('SIGTERM');
      expect((await agent.exited).code).toBe(0);
      const dlq = runCli(['dlq', 'list', '-c', cfg, '--json']);
      expect(dlq.code).toBe(0);
      expect(dlq.stdout.split('\n').filter(Boolean).length).toBeGreaterThan(0); // the DLQ really holds events
      const status = runCli(['status', '-c', cfg, '--json']);

      // Everything the agent wrote or printed.
      const haystacks: [string, Buffer][] = [
        ...walk(join(dir, 'data')).map((p): [string, Buffer] => [p, readFileSync(p)]),
        ...walk(join(dir, 'out')).map((p): [string, Buffer] => [p, readFileSync(p)]),
        ['agent stdout', Buffer.from(agent.stdout())],
        ['agent stderr', Buffer.from(agent.stderr())],
        ['dlq list', Buffer.from(dlq.stdout + dlq.stderr)],
        ['status', Buffer.from(status.stdout + status.stderr)],
        ['receiver', Buffer.from(JSON.stringify(rcv.requests.map((r) => r.body)))],
      ];
      expect(
        haystacks
          .map(([p]) => p)
          .some((p) => p.endsWith('buffer.db-wal') || p.endsWith('buffer.db')),
      ).toBe(true);
      const hits: string[] = [];
      for (const [name, value] of Object.entries(canaries)) {
        for (const [where, bytes] of haystacks) {
          if (bytes.includes(value)) hits.push(`${name} found in ${where}`);
        }
      }
      expect(hits).toEqual([]);
      // Sanity: the canaries were really in the input, and events really flowed.
      const input = readFileSync(join(dir, 'logs', 'app.log'), 'utf8');
      for (const [name, value] of Object.entries(canaries))
        expect(input.includes(value), name).toBe(true);
      expect(agent.stdout().split('\n').filter(Boolean).length).toBe(total);
    } finally {
      await rcv.close();
    }
  }, 120_000);
});
