/**
 * `auditshipper route [-c FILE] [FILE|-] [--source NAME] [--explain] [--json]`: the dry run.
 * Each input line goes through the chosen source's framing and profile, then redaction and
 * routing, in memory; nothing is stored or sent. Prints the redacted AuditEvent and where
 * it would go (and, with --explain, why).
 */
import { createReadStream } from 'node:fs';
import { buildPipelineParts } from '../components.js';
import { formatExplanation } from '../route/index.js';
import { canonicalJson } from '../event/canonical.js';
import { createFramer } from '../framing/index.js';
import { severityRank } from '../event/types.js';
import { EXIT, loadOrReport, out, UsageError } from './common.js';

export async function routeCommand(opts: {
  config?: string;
  input?: string;
  source?: string;
  explain?: boolean;
  json?: boolean;
}): Promise<number> {
  const loaded = loadOrReport(opts.config);
  if (typeof loaded === 'number') return loaded;
  const cfg = loaded.config;
  const sourceName = opts.source ?? Object.keys(cfg.sources)[0]!;
  const src = cfg.sources[sourceName];
  if (!src)
    throw new UsageError(
      `no source named "${sourceName}" (have: ${Object.keys(cfg.sources).join(', ')})`,
    );
  const parts = buildPipelineParts(cfg);
  const parse = parts.parsers.get(sourceName)!;
  const format = src.type === 'demo' ? 'json' : src.format;
  const framer = createFramer(format);
  const minRank = { off: 99, critical: 2, warn: 1, info: 0 }[cfg.audit.min_severity];
  const input = !opts.input || opts.input === '-' ? process.stdin : createReadStream(opts.input);

  let lineNo = 0;
  let offset = 0;
  let pending = Buffer.alloc(0);
  const streamId = `route:${sourceName}`;
  const handle = (bytes: Buffer, end: number) => {
    lineNo++;
    for (const record of framer.push({ bytes, offset, end, truncated: false })) {
      const r = parse(record, { file: opts.input ?? null, streamId });
      if (r.kind !== 'audit') {
        if (opts.json)
          out(
            JSON.stringify({
              line: lineNo,
              result: r.kind,
              ...(r.kind === 'malformed' ? { reason: r.reason } : {}),
            }),
          );
        else out(`line ${lineNo}: ${r.kind}${r.kind === 'malformed' ? ` (${r.reason})` : ''}`);
        continue;
      }
      if (severityRank(r.event.severity) < minRank) {
        if (opts.json)
          out(JSON.stringify({ line: lineNo, result: 'filtered', severity: r.event.severity }));
        else
          out(`line ${lineNo}: filtered (severity ${r.event.severity} below audit.min_severity)`);
        continue;
      }
      const event = parts.redaction.apply(r.event);
      const routed = parts.router.route(event);
      const explain = opts.explain ? parts.router.explain(event) : undefined;
      if (opts.json) {
        out(
          JSON.stringify({
            line: lineNo,
            result: 'audit',
            routes: routed.matched,
            sinks: routed.sinks,
            unrouted: routed.unrouted,
            explain,
            event,
          }),
        );
      } else {
        out(
          `line ${lineNo}: ${event.product} ${event.action} (${event.severity}) → ` +
            (routed.sinks.length ? `sinks: ${routed.sinks.join(', ')}` : 'UNROUTED') +
            (routed.matched.length
              ? ` via routes: ${routed.matched.join(', ')}`
              : routed.sinks.length
                ? ' via routes_default'
                : ''),
        );
        if (event.redacted.count)
          out(`  redacted ${event.redacted.count}: ${event.redacted.rules.join(', ')}`);
        if (explain) for (const l of formatExplanation(explain).split('\n')) out(`  ${l}`);
        out(`  ${canonicalJson(event)}`);
      }
    }
  };
  for await (const chunk of input as AsyncIterable<Buffer>) {
    let buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let nl: number;
    while ((nl = buf.indexOf(10)) >= 0) {
      handle(buf.subarray(0, nl), offset + nl + 1);
      offset += nl + 1;
      buf = buf.subarray(nl + 1);
    }
    pending = Buffer.from(buf);
  }
  if (pending.length) handle(pending, offset + pending.length);
  for (const record of framer.flush(Date.now())) {
    out(`line ${lineNo}: incomplete partial record at offset ${record.offset}`);
  }
  return EXIT.ok;
}
