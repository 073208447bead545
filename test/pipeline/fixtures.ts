/** Shared by the pipeline tests: a config that exercises every stage, and mixed batches. */
import { pino } from 'pino';
import { configSchema, type Config } from '../../src/config/schema.js';
import type { LogRecord } from '../../src/framing/types.js';
import type { SourceBatch } from '../../src/sources/types.js';
import { appLogLine, garbageLine, retoolAuditLine, rng } from '../helpers/workload.js';

/** Runs src/pipeline/worker.ts from the TypeScript sources (see ts-worker.js). */
export const TS_WORKER = new URL('./ts-worker.js', import.meta.url);

/**
 * Keyed hashing (e-mails), a severity route, a `final` route, a non_audit route and a
 * default: every counter process() feeds to metrics moves.
 */
export function richConfig(extra: Record<string, unknown> = {}): Config {
  return configSchema.parse({
    sources: { app: { type: 'file', include: ['/x/*.log'], format: 'json' } },
    sinks: {
      a: { type: 'file', path: '/tmp/a' },
      sec: { type: 'file', path: '/tmp/sec' },
      logs: { type: 'file', path: '/tmp/logs' },
    },
    redaction: { hash: { key: 'test-key-0123456789abcdef', key_id: 'v1', paths: ['actor.email'] } },
    routes: [
      { name: 'security', when: { severity: { gte: 'warn' } }, to: ['sec'] },
      { name: 'pages', when: { action: 'PAGE_VIEW' }, to: ['a'], final: true },
      { name: 'queries', when: { action: 'QUERY_RUN' }, to: ['a'] },
      { name: 'rest', non_audit: true, to: ['logs'] },
    ],
    ...extra,
  });
}

/** A generic-profile event with an e-mail (hashed with the key) and an unknown action. */
export function genericLine(i: number): string {
  return JSON.stringify({
    actor: `user${i % 7}@example.com`,
    action: i % 3 === 0 ? 'model.deploy' : 'custom.thing_happened',
    target: { type: 'model', id: `m-${i}`, name: 'churn' },
    timestamp: '2026-11-21T10:00:00Z',
    detail: { password: `pw-${i}`, note: 'Bearer abcdefghijklmnopqrstuvwxyz0123' },
  });
}

/** Audit events of several products and severities, app logs, garbage, malformed audit records. */
export function mixedLines(n: number, seed = 1): string[] {
  const r = rng(seed);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const x = r();
    if (x < 0.4) out.push(retoolAuditLine(seed * 100_000 + i, r));
    else if (x < 0.5) out.push(genericLine(i));
    else if (x < 0.85) out.push(appLogLine(i));
    else if (x < 0.93) out.push(garbageLine(i));
    // Looks like an audit record (has the marker), is not JSON: malformed, not non-audit.
    else out.push(`{"actionType": "QUERY_RUN", "id": ${i}, broken`);
  }
  return out;
}

export function recordsOf(lines: readonly string[], offset0 = 0, time?: string): LogRecord[] {
  let offset = offset0;
  return lines.map((text) => {
    const r: LogRecord = time ? { text, offset, time } : { text, offset };
    offset += Buffer.byteLength(text) + 1;
    return r;
  });
}

/**
 * A batch as the file source hands it over. `time` stamps every record (as the CRI framer
 * does), so forwarded non-audit lines get a fixed timestamp and runs can be compared byte for
 * byte.
 */
export function batchOf(
  lines: readonly string[],
  opts: { offset?: number; time?: string; oversized?: number } = {},
): SourceBatch {
  const offset0 = opts.offset ?? 0;
  const records = recordsOf(lines, offset0, opts.time);
  const end = offset0 + lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
  return {
    source: 'app',
    file: '/x/a.log',
    streamId: 'stream-1',
    records,
    checkpoint: {
      source: 'app',
      fileId: 'f',
      path: '/x/a.log',
      dev: 1,
      ino: 1,
      offset: end,
      headHash: 'h',
      headLen: 1,
      tailHash: 't',
      updatedAt: 0,
    },
    bytesRead: end - offset0,
    linesRead: lines.length,
    oversized: opts.oversized ?? 0,
  };
}

/** A pino logger whose lines a test can read. */
export function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
  );
  return { logger, lines, errors: () => lines.filter((l) => l.level === 50) };
}
