/** A complete AuditEvent for routing tests; override any part. */
import type { AuditEvent } from '../../src/event/types.js';

export type EventOverrides = Partial<
  Omit<AuditEvent, 'actor' | 'target' | 'source' | 'redacted'>
> & {
  actor?: Partial<AuditEvent['actor']>;
  target?: Partial<AuditEvent['target']>;
  source?: Partial<AuditEvent['source']>;
  redacted?: Partial<AuditEvent['redacted']>;
};

export function makeEvent(o: EventOverrides = {}): AuditEvent {
  const { actor, target, source, redacted, ...rest } = o;
  return {
    id: 'e1',
    app_event_id: null,
    timestamp: '2026-11-21T10:00:00.123Z',
    product: 'retool',
    action: 'QUERY_RUN',
    category: 'query',
    severity: 'info',
    outcome: 'success',
    organization_id: '1',
    duration_ms: 87,
    detail: {},
    ...rest,
    actor: { id: '42', email: 'ana@example.com', ip: '203.0.113.7', user_agent: null, ...actor },
    target: {
      type: 'query',
      id: null,
      name: 'getCustomers',
      app: 'Support Console',
      resource: 'prod-postgres',
      ...target,
    },
    source: {
      name: 'retool',
      host: 'node-1',
      file: '/var/log/pods/a/0.log',
      offset: 18234,
      ...source,
    },
    redacted: { count: 0, rules: [], ...redacted },
  };
}
