/** Shared helpers for the redaction tests: events, plans, and the dummy secrets used. */
import type { AuditEvent } from '../../src/event/types.js';
import { compileRedaction, type RedactionPlan } from '../../src/redact/redactor.js';
import { redactionConfigSchema, type RedactionConfigInput } from '../../src/redact/config.js';

export const HMAC_KEY = 'test-hmac-key-0123456789abcdef';

export function plan(cfg: RedactionConfigInput = {}): RedactionPlan {
  return compileRedaction(redactionConfigSchema.parse(cfg));
}

export function keyedPlan(cfg: RedactionConfigInput = {}): RedactionPlan {
  return plan({ ...cfg, hash: { key: HMAC_KEY, key_id: 'v1', ...(cfg.hash ?? {}) } });
}

export function event(
  detail: Record<string, unknown> = {},
  over: Partial<AuditEvent> = {},
): AuditEvent {
  return {
    id: 'evt-1',
    app_event_id: '1001',
    timestamp: '2026-11-21T10:00:00.123Z',
    product: 'retool',
    action: 'QUERY_RUN',
    category: 'query',
    severity: 'info',
    outcome: 'success',
    actor: { id: '42', email: null, ip: null, user_agent: null },
    target: {
      type: 'query',
      id: null,
      name: 'getCustomers',
      app: 'Support Console',
      resource: 'prod-postgres',
    },
    organization_id: '1',
    duration_ms: 87,
    detail,
    redacted: { count: 0, rules: [] },
    source: { name: 'retool', host: 'node-1', file: '/var/log/x.log', offset: 0 },
    ...over,
  };
}

/** Redact a clone of `detail` and return the redacted detail and summary. */
export function redactDetail(p: RedactionPlan, detail: Record<string, unknown>): AuditEvent {
  return p.apply(event(structuredClone(detail)));
}

/** Redact a single string value under a neutral key. */
export function redactValue(p: RedactionPlan, value: unknown): unknown {
  return p.apply(event({ v: structuredClone(value) })).detail.v;
}
