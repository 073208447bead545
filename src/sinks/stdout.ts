/**
 * `stdout` sink: events on standard output, for trying things out and for container
 * platforms that collect stdout. The agent's own logs go to stderr, so stdout carries
 * events only.
 *   encoding: json  one canonical AuditEvent per line (NDJSON)
 *   encoding: text  one human-readable summary per line
 */
import { z } from 'zod';
import { commonSinkKeys } from './common-config.js';
import type { QueuedEvent, SinkDriver, Verdict } from './types.js';
import type { AuditEvent } from '../event/types.js';

export const stdoutSinkSchema = z.strictObject({
  type: z.literal('stdout'),
  encoding: z.enum(['json', 'text']).default('json'),
  ...commonSinkKeys({ maxEvents: 500, maxBytes: 1024 * 1024, timeout: '200ms' }),
});
export type StdoutSinkConfig = z.output<typeof stdoutSinkSchema>;

/** One line an operator can read at a glance; built from redacted fields only. */
export function summarise(e: AuditEvent): string {
  const who = e.actor.email ?? (e.actor.id !== null ? `user ${e.actor.id}` : 'unknown user');
  const what = [e.target.app, e.target.name, e.target.resource]
    .filter((x) => x !== null)
    .join(' / ');
  const red =
    e.redacted.count > 0 ? `  [redacted ${e.redacted.count}: ${e.redacted.rules.join(',')}]` : '';
  return `${e.timestamp} ${e.product} ${e.severity.toUpperCase().padEnd(8)} ${e.action} by ${who}${
    what ? ` on ${what}` : ''
  } (${e.outcome})${red}`;
}

export function createStdoutSink(
  name: string,
  cfg: StdoutSinkConfig,
  out: NodeJS.WritableStream = process.stdout,
): SinkDriver {
  return {
    name,
    type: 'stdout',
    send(batch: QueuedEvent[]): Promise<Verdict> {
      const text =
        cfg.encoding === 'json'
          ? batch.map((e) => e.body).join('\n') + '\n'
          : batch.map((e) => summarise(JSON.parse(e.body) as AuditEvent)).join('\n') + '\n';
      return new Promise((resolve) => {
        // Resolve only when the write was handed to the OS: that is our "delivered".
        out.write(text, (err) =>
          resolve(
            err ? { kind: 'retry', reason: `stdout write failed: ${err.message}` } : { kind: 'ok' },
          ),
        );
      });
    },
    close: () => Promise.resolve(),
  };
}
