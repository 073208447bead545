/**
 * `auditshipper route [-c FILE] [FILE|-] [--source NAME] [--explain] [--json]`: the dry run.
 * Each input line goes through the chosen source's framing and profile, then redaction and
 * routing, in memory; nothing is stored or sent. Prints the redacted AuditEvent and where
 * it would go (and, with --explain, why).
 */
import { createReadStream } from 'node:fs';
import { createDryRun, type DryResult } from '../dryrun.js';
import { canonicalJson } from '../event/canonical.js';
import { formatExplanation } from '../route/index.js';
import { EXIT, loadOrReport, out, UsageError } from './common.js';

function print(r: DryResult, lineNo: number, json: boolean): void {
  if (json) {
    out(
      JSON.stringify(
        r.kind === 'audit'
          ? {
              line: lineNo,
              result: r.kind,
              routes: r.routed.matched,
              sinks: r.routed.sinks,
              unrouted: r.routed.unrouted,
              explain: r.explain,
              event: r.event,
            }
          : {
              line: lineNo,
              result: r.kind,
              ...(r.kind === 'malformed' ? { reason: r.reason } : {}),
              ...(r.kind === 'filtered' ? { severity: r.event.severity } : {}),
            },
      ),
    );
    return;
  }
  switch (r.kind) {
    case 'audit': {
      const { event, routed } = r;
      const via = routed.matched.length
        ? ` via routes: ${routed.matched.join(', ')}`
        : routed.sinks.length
          ? ' via routes_default'
          : '';
      out(
        `line ${lineNo}: ${event.product} ${event.action} (${event.severity}) → ${routed.sinks.length ? `sinks: ${routed.sinks.join(', ')}` : 'UNROUTED (counted, not stored)'}${via}`,
      );
      if (event.redacted.count)
        out(`  redacted ${event.redacted.count}: ${event.redacted.rules.join(', ')}`);
      if (r.explain) for (const l of formatExplanation(r.explain).split('\n')) out(`  ${l}`);
      out(`  ${canonicalJson(event)}`);
      return;
    }
    case 'filtered':
      out(`line ${lineNo}: filtered (severity ${r.event.severity} is below audit.min_severity)`);
      return;
    case 'malformed':
      out(`line ${lineNo}: malformed (${r.reason})`);
      return;
    case 'non_audit':
      out(`line ${lineNo}: not an audit event`);
      return;
    case 'incomplete':
      out(`end of input: incomplete partial record at offset ${r.offset}`);
  }
}

export async function routeCommand(opts: {
  config?: string;
  input?: string;
  source?: string;
  explain?: boolean;
  json?: boolean;
}): Promise<number> {
  const loaded = loadOrReport(opts.config);
  if (typeof loaded === 'number') return loaded;
  let dry;
  try {
    dry = createDryRun(loaded.config, {
      source: opts.source,
      file: opts.input ?? null,
      explain: opts.explain,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const input = !opts.input || opts.input === '-' ? process.stdin : createReadStream(opts.input);
  let lineNo = 0;
  let pending: Buffer = Buffer.alloc(0);
  for await (const chunk of input as AsyncIterable<Buffer>) {
    let buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let nl: number;
    while ((nl = buf.indexOf(10)) >= 0) {
      lineNo++;
      for (const r of dry.push(buf.subarray(0, nl))) print(r, lineNo, opts.json ?? false);
      buf = buf.subarray(nl + 1);
    }
    pending = Buffer.from(buf);
  }
  if (pending.length) {
    lineNo++;
    for (const r of dry.push(pending)) print(r, lineNo, opts.json ?? false);
  }
  for (const r of dry.flush()) print(r, lineNo, opts.json ?? false);
  return EXIT.ok;
}
