/**
 * The in-memory pipeline without a store: a line goes through a source's framing and
 * profile, then min_severity, redaction and routing. `route` (dry run) and `test`
 * (operator-written config tests) both use it, so they show exactly what `run` would do.
 */
import { buildPipelineParts } from './components.js';
import type { Config } from './config/schema.js';
import type { AuditEvent } from './event/types.js';
import { severityRank } from './event/types.js';
import { createFramer } from './framing/index.js';
import type { Explanation, RouteResult } from './route/index.js';

export type DryResult =
  | { kind: 'audit'; event: AuditEvent; routed: RouteResult; explain?: Explanation }
  | { kind: 'filtered'; event: AuditEvent }
  | { kind: 'non_audit' }
  | { kind: 'malformed'; reason: string }
  | { kind: 'incomplete'; offset: number };

export interface DryRun {
  /** Feed one physical line (without its newline); returns the records it completed. */
  push(line: Buffer | string): DryResult[];
  /** End of input: pending partial records (CRI/Docker) come out as incomplete. */
  flush(): DryResult[];
}

const MIN_RANK = { off: 99, critical: 2, warn: 1, info: 0 } as const;

export function createDryRun(
  cfg: Config,
  opts: { source?: string; file?: string | null; explain?: boolean } = {},
): DryRun {
  const sourceName = opts.source ?? Object.keys(cfg.sources)[0]!;
  const src = cfg.sources[sourceName];
  if (!src) {
    throw new Error(
      `no source named "${sourceName}" (have: ${Object.keys(cfg.sources).join(', ')})`,
    );
  }
  const parts = buildPipelineParts(cfg);
  const parse = parts.parsers.get(sourceName)!;
  const framer = createFramer(src.type === 'demo' ? 'json' : src.format);
  const minRank = MIN_RANK[cfg.audit.min_severity];
  const streamId = `dryrun:${sourceName}`;
  let offset = 0;
  return {
    push(line) {
      const bytes = typeof line === 'string' ? Buffer.from(line) : line;
      const end = offset + bytes.length + 1;
      const records = framer.push({ bytes, offset, end, truncated: false });
      offset = end;
      return records.map((record): DryResult => {
        const r = parse(record, { file: opts.file ?? null, streamId });
        if (r.kind !== 'audit') return r;
        if (severityRank(r.event.severity) < minRank) return { kind: 'filtered', event: r.event };
        const event = parts.redaction.apply(r.event);
        const routed = parts.router.route(event);
        return {
          kind: 'audit',
          event,
          routed,
          explain: opts.explain ? parts.router.explain(event) : undefined,
        };
      });
    },
    flush() {
      return framer.flush(Date.now()).map((r) => ({ kind: 'incomplete', offset: r.offset }));
    },
  };
}
