/** Sample AuditEvents, QueuedEvents and a capturing logger for the sink tests. */
import type { AuditEvent } from '../../src/event/types.js';
import type { SinkLogger } from '../../src/sinks/http-common.js';
import type { QueuedEvent } from '../../src/sinks/types.js';

export function auditEvent(over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: 'evt-1',
    app_event_id: null,
    timestamp: '2026-11-21T10:00:00.123Z',
    product: 'retool',
    action: 'QUERY_RUN',
    category: 'query',
    severity: 'info',
    outcome: 'success',
    actor: { id: '42', email: 'ana@example.com', ip: '203.0.113.7', user_agent: 'Mozilla/5.0' },
    target: {
      type: 'query',
      id: null,
      name: 'getCustomers',
      app: 'Support Console',
      resource: 'prod-postgres',
    },
    organization_id: '1',
    duration_ms: 87,
    detail: { rows: 12 },
    redacted: { count: 3, rules: ['credit_card', 'headers'] },
    source: { name: 'retool', host: 'node-1', file: '/var/log/pods/x/0.log', offset: 18234 },
    ...over,
  };
}

let seq = 0;

export function queued(ev: AuditEvent | string, id?: string): QueuedEvent {
  const body = typeof ev === 'string' ? ev : JSON.stringify(ev);
  return {
    seq: ++seq,
    id: id ?? (typeof ev === 'string' ? `raw-${seq}` : ev.id),
    body,
    bytes: Buffer.byteLength(body),
    ingestedAt: 1_790_000_000_000,
  };
}

/** n distinct events `evt-0` … `evt-(n-1)`. */
export function batchOf(
  n: number,
  over: (i: number) => Partial<AuditEvent> = () => ({}),
): QueuedEvent[] {
  return Array.from({ length: n }, (_, i) => queued(auditEvent({ id: `evt-${i}`, ...over(i) })));
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: object;
  msg: string | undefined;
}

export function captureLogger(): { logger: SinkLogger; lines: LogLine[]; text(): string } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj, msg });
    };
  return {
    logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
    lines,
    text: () => lines.map((l) => `${l.level} ${JSON.stringify(l.obj)} ${l.msg ?? ''}`).join('\n'),
  };
}

export const never = (): AbortSignal => new AbortController().signal;
