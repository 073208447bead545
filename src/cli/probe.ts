/**
 * `auditshipper probe [-c FILE] SINK [--json]`: send ONE synthetic, clearly marked test event
 * (`action: auditshipper.probe`, product `auditshipper`) straight to a configured sink and
 * print the receiver's answer and the latency — the "trigger a small event and check that it
 * shows up in the SIEM" step of setting up an export.
 *
 * The event goes through the sink's own driver (same encoding, auth, TLS, compression and
 * response classification as the agent), but never through the buffer: the SQLite database is
 * not opened, so a probe is safe next to a running agent and leaves nothing behind to deliver.
 *
 * Exit codes (DESIGN.md CLI contract): 0 the receiver accepted the event; 3 it did not (or
 * gave no answer in time); 1 invalid config (including a sink that cannot be built, e.g. an
 * unreadable TLS file); 2 usage (no sink named, or an unknown one: the configured names are
 * listed).
 *
 * Nothing printed comes from the config except the sink's name and type: the reasons and
 * response bodies the drivers return are already free of keys and tokens (http-common.ts
 * rules), and the response body is bounded again here.
 */
import { randomUUID } from 'node:crypto';
import { buildSink } from '../components.js';
import { HOST } from '../host.js';
import type { Config, SinkConfig } from '../config/schema.js';
import { canonicalJson } from '../event/canonical.js';
import type { AuditEvent } from '../event/types.js';
import type { QueuedEvent, SinkDriver, Verdict } from '../sinks/types.js';
import { createLogger, EXIT, loadOrReport, out, UsageError } from './common.js';

export const PROBE_ACTION = 'auditshipper.probe';
export const PROBE_PRODUCT = 'auditshipper';
/** Response bytes shown to the operator. */
const MAX_SHOWN_RESPONSE_CHARS = 500;
/** Time granted beyond the sink's request timeout (connection set-up, compression). */
const DEADLINE_SLACK_MS = 2_000;
/** A probe waits for a Splunk indexer acknowledgement at most this long. */
const MAX_PROBE_ACK_WAIT_MS = 60_000;

/**
 * The synthetic event: valid AuditEvent, recognisable at a glance in any SIEM (product,
 * action, category `other`, and a detail that says what it is), with a fresh random id in the
 * same 32-hex-character shape as real ids so receivers that de-duplicate keep it.
 */
export function buildProbeEvent(
  opts: { sink: string; host?: string; now?: Date; id?: string } = { sink: '' },
): AuditEvent {
  const now = opts.now ?? new Date();
  return {
    id: opts.id ?? randomUUID().replaceAll('-', ''),
    app_event_id: null,
    timestamp: now.toISOString(),
    product: PROBE_PRODUCT,
    action: PROBE_ACTION,
    category: 'other',
    severity: 'info',
    outcome: 'success',
    actor: { id: null, email: null, ip: null, user_agent: null },
    target: { type: 'sink', id: null, name: opts.sink, app: null, resource: null },
    organization_id: null,
    duration_ms: null,
    detail: {
      probe: true,
      message: 'Connection test sent by `auditshipper probe`. Not an audit event; safe to ignore.',
    },
    redacted: { count: 0, rules: [] },
    source: { name: 'auditshipper-probe', host: opts.host ?? HOST, file: null, offset: null },
  };
}

export function probeQueuedEvent(e: AuditEvent): QueuedEvent {
  const body = canonicalJson(e);
  return {
    seq: 0,
    id: e.id,
    body,
    bytes: Buffer.byteLength(body),
    ingestedAt: Date.parse(e.timestamp),
  };
}

export interface ProbeResult {
  sink: string;
  type: string;
  event_id: string;
  ok: boolean;
  /** The delivery loop's reading of the answer: ok | retry | split | reject | unhealthy | timeout. */
  verdict: Verdict['kind'] | 'timeout';
  status: number | null;
  reason: string | null;
  /** Bounded response body (kept by the driver for rejections only). */
  response: string | null;
  latency_ms: number;
  healthcheck: { ok: boolean; message: string } | null;
}

/** How long a probe of this sink may take before it is reported as unanswered. */
export function probeDeadlineMs(cfg: SinkConfig): number {
  let ms = cfg.request.timeout + DEADLINE_SLACK_MS;
  if (cfg.type === 'splunk_hec' && cfg.acknowledgements.enabled) {
    ms += Math.min(cfg.acknowledgements.timeout, MAX_PROBE_ACK_WAIT_MS);
  }
  return ms;
}

/** Run the optional healthcheck, then send the one event. Never throws for receiver trouble. */
export async function probeSink(
  driver: SinkDriver,
  event: QueuedEvent,
  opts: { deadlineMs: number; healthcheck?: boolean },
): Promise<ProbeResult> {
  const result: ProbeResult = {
    sink: driver.name,
    type: driver.type,
    event_id: event.id,
    ok: false,
    verdict: 'timeout',
    status: null,
    reason: null,
    response: null,
    latency_ms: 0,
    healthcheck: null,
  };
  if (opts.healthcheck !== false && driver.healthcheck) {
    result.healthcheck = await withDeadline(opts.deadlineMs, async (signal) => {
      try {
        return await driver.healthcheck!(signal);
      } catch (err) {
        return { ok: false, message: `healthcheck failed: ${(err as Error).name}` };
      }
    }).then((r) => r ?? { ok: false, message: 'healthcheck: no answer in time' });
  }
  const t0 = performance.now();
  const verdict = await withDeadline(opts.deadlineMs, async (signal) => {
    try {
      return await driver.send([event], signal);
    } catch (err) {
      // Drivers map receiver errors to verdicts; a throw is a bug or a local failure.
      return {
        kind: 'retry',
        reason: `${driver.type} sink ${JSON.stringify(driver.name)}: unexpected error (${(err as Error).name})`,
      } satisfies Verdict;
    }
  });
  result.latency_ms = Math.round((performance.now() - t0) * 10) / 10;
  if (verdict === undefined) {
    result.reason = `no answer within ${Math.round(opts.deadlineMs / 1000)}s`;
    return result;
  }
  result.verdict = verdict.kind;
  result.ok = verdict.kind === 'ok';
  if (verdict.kind !== 'ok') {
    result.reason = verdict.reason;
    result.status = verdict.status ?? null;
    if (verdict.kind === 'reject' && verdict.body) result.response = shown(verdict.body);
  }
  return result;
}

/** Run `fn` with an abort signal that fires at the deadline; undefined if it did not finish. */
async function withDeadline<T>(
  ms: number,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T | undefined> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => {
      ac.abort();
      resolve(undefined);
    }, ms);
  });
  try {
    // Race as well as abort: a driver that ignores the signal cannot hold the command.
    return await Promise.race([fn(ac.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}

function shown(body: string): string {
  const oneLine = body.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return oneLine.length > MAX_SHOWN_RESPONSE_CHARS
    ? `${oneLine.slice(0, MAX_SHOWN_RESPONSE_CHARS)}…`
    : oneLine;
}

const HINTS: Record<ProbeResult['verdict'], string> = {
  ok: '',
  retry:
    'the receiver is unreachable, overloaded or failing (network error, timeout, 408, 429 or 5xx); the agent would keep the events buffered and retry',
  timeout: 'the receiver did not answer in time; check the endpoint, firewalls and request.timeout',
  unhealthy:
    'the receiver refuses our credentials, TLS settings, URL or index; the agent would keep the events buffered and retry slowly',
  reject:
    'the receiver refused the event as malformed; the agent would move such events to the dead-letter queue',
  split: 'the receiver refused even a one-event request as too large',
};

export function formatProbeResult(r: ProbeResult): string[] {
  const lines: string[] = [];
  lines.push(
    `probe: ${r.type} sink "${r.sink}", test event ${r.event_id} (action ${PROBE_ACTION})`,
  );
  if (r.healthcheck)
    lines.push(`healthcheck: ${r.healthcheck.ok ? 'ok' : 'FAILED'}: ${r.healthcheck.message}`);
  if (r.ok) {
    lines.push(`result: ok, accepted by the receiver in ${r.latency_ms} ms`);
    return lines;
  }
  lines.push(`result: FAILED (${r.verdict}) after ${r.latency_ms} ms`);
  if (r.status !== null) lines.push(`status: ${r.status}`);
  if (r.reason) lines.push(`reason: ${r.reason}`);
  if (r.response) lines.push(`response: ${r.response}`);
  lines.push(`hint: ${HINTS[r.verdict]}`);
  return lines;
}

export async function probeCommand(
  sinkName: string | undefined,
  opts: { config?: string; json?: boolean },
): Promise<number> {
  const loaded = loadOrReport(opts.config);
  if (typeof loaded === 'number') return loaded;
  const cfg: Config = loaded.config;
  const names = Object.keys(cfg.sinks);
  if (sinkName === undefined || sinkName === '') {
    throw new UsageError(
      `usage: auditshipper probe [-c FILE] SINK [--json]\nconfigured sinks: ${names.join(', ')}`,
    );
  }
  const sc = Object.hasOwn(cfg.sinks, sinkName) ? cfg.sinks[sinkName] : undefined;
  if (!sc) {
    throw new UsageError(`unknown sink "${sinkName}"; configured sinks: ${names.join(', ')}`);
  }
  const logger = createLogger(cfg.log.level);
  let driver: SinkDriver;
  try {
    driver = buildSink(sinkName, sc, logger);
  } catch (err) {
    // e.g. an unreadable tls.ca_file: the message names the key and path, never contents.
    process.stderr.write(`${loaded.file}: sink "${sinkName}": ${(err as Error).message}\n`);
    return EXIT.invalid;
  }
  try {
    const event = probeQueuedEvent(buildProbeEvent({ sink: sinkName }));
    const result = await probeSink(driver, event, { deadlineMs: probeDeadlineMs(sc) });
    if (opts.json) out(JSON.stringify(result));
    else for (const l of formatProbeResult(result)) out(l);
    return result.ok ? EXIT.ok : EXIT.runtime;
  } finally {
    await driver.close().catch(() => undefined);
  }
}
