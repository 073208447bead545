/**
 * Per-stage CPU cost of the in-memory event path, without the store, the sinks or I/O:
 * the throughput scenario's lines (bench/workload.ts, same seed) as records, through
 *
 *   parse      compileParser(auto) on every line (audit, app logs and garbage alike)
 *   redact     the default redaction plan's apply() on every audit event
 *   canonical  canonicalJson() on every redacted event
 *   eventId    eventId(streamId, offset) once per line (parse already calls it for each
 *              audit event; shown alone, not added to the total)
 *
 * and how many non-audit lines get past the parser's pre-check (each one costs a full
 * JSON.parse). Records go through in batches of 1000 as the file source hands them over.
 * Figures are CPU time of this process (process.cpuUsage) per stage, median of the rounds
 * after one warm-up round, as µs per line (or per event) and lines/s. On a shared 2-core
 * machine single runs move by ±10%: compare implementations in one invocation (below).
 *
 *   npx tsc -p bench/tsconfig.json && node dist-bench/bench/stages.js [--lines N] [--rounds N] [--json]
 *
 * `--app-mentions 0.25` prepends "transaction committed; " to the message of that share
 * of the app-log lines (the generator's app logs never mention the word), to measure
 * what ordinary logs that mention "action" cost the parser.
 *
 * `--impl DIR` loads the src modules from another build of the tree (DIR/src/...) and
 * measures it beside the current one, rounds alternating so background load hits both
 * alike; it first checks that both give the same output for every line (audit events
 * byte for byte as canonical JSON). Keep the copy inside the repository so its
 * package.json and node_modules apply; dist-bench/ is git-ignored:
 *
 *   mkdir -p dist-bench/before && cp -r dist-bench/src dist-bench/before/   # before a change
 *   npx tsc -p bench/tsconfig.json && node dist-bench/bench/stages.js --impl dist-bench/before
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type * as CanonicalModule from '../src/event/canonical.js';
import type { AuditEvent } from '../src/event/types.js';
import type { LogRecord } from '../src/framing/types.js';
import type * as ParseModule from '../src/parse/index.js';
import type * as RedactModule from '../src/redact/index.js';
import { createWorkload, isAudit, type LineKind } from './workload.js';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '50000' },
    rounds: { type: 'string', default: '7' },
    seed: { type: 'string', default: '7' },
    impl: { type: 'string' },
    json: { type: 'boolean', default: false },
    /** Share of app-log lines whose message gets "transaction committed; " prepended. */
    'app-mentions': { type: 'string', default: '0' },
  },
});
const MENTIONS = Number(values['app-mentions']);
const LINES = Number(values.lines);
/** Records per batch: the file source's BATCH_LINES (src/sources/file/index.ts). */
const BATCH = 1000;
const ROUNDS = Number(values.rounds);

interface Impl {
  label: string;
  parse: typeof ParseModule;
  redact: typeof RedactModule;
  canonical: typeof CanonicalModule;
}

async function load(root: string | undefined): Promise<Impl> {
  const base =
    root === undefined
      ? new URL('../src/', import.meta.url)
      : pathToFileURL(resolve(root, 'src') + '/');
  const at = (p: string): string => new URL(p, base).href;
  return {
    label: root ?? 'current',
    parse: (await import(at('parse/index.js'))) as typeof ParseModule,
    redact: (await import(at('redact/index.js'))) as typeof RedactModule,
    canonical: (await import(at('event/canonical.js'))) as typeof CanonicalModule,
  };
}

// ---------------------------------------------------------------------------
// The lines, as the json framer would hand them over.

const workload = createWorkload({ seed: Number(values.seed) });
const records: LogRecord[] = [];
const kinds: LineKind[] = [];
let offset = 0;
for (let i = 0; i < LINES; i++) {
  const { kind, bytes } = workload.next(1_795_000_000_000 + i);
  let text = bytes.toString('utf8', 0, bytes.length - 1);
  // Every 1/MENTIONS-th app line, deterministically.
  if (kind === 'app' && MENTIONS > 0 && Math.floor(i * MENTIONS) !== Math.floor((i - 1) * MENTIONS))
    text = text.replace('"msg":"', '"msg":"transaction committed; ');
  records.push({ text, offset });
  kinds.push(kind);
  offset += bytes.length;
}
const auditLines = kinds.filter(isAudit).length;
const ctx = { file: '/var/log/pods/default_retool-0/backend/0.log', streamId: 'bench-stream' };

function cpuMs(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[xs.length >> 1]!;

interface StageFigures {
  parseMs: number;
  redactMs: number;
  canonicalMs: number;
  eventIdMs: number;
  audit: number;
  nonAudit: number;
  malformed: number;
  canonicalBytes: number;
  /** Non-audit lines (by the generator's label) that passed the marker pre-check. */
  nonAuditParsed: number | null;
  /** Non-audit lines containing `action` or `\\u` anywhere (the pre-check before markerPrecheck). */
  nonAuditSubstring: number;
}

interface Runner {
  /** One round: every stage once; CPU ms per stage. */
  round(): { parse: number; redact: number; canonical: number; eventId: number };
  figures: Omit<StageFigures, 'parseMs' | 'redactMs' | 'canonicalMs' | 'eventIdMs'>;
}

/** The parser and the default redaction plan the issue's pipeline uses, from one build. */
function compileStages(impl: Impl) {
  return {
    parseRecord: impl.parse.compileParser({
      profile: 'auto',
      profiles: {},
      host: 'bench-host',
      source: 'retool',
    }),
    plan: impl.redact.compileRedaction(impl.redact.defaultRedactionConfig()),
  };
}

function runner(impl: Impl): Runner {
  const { parseRecord, plan } = compileStages(impl);
  const { canonicalJson, eventId } = impl.canonical;
  const figures: Runner['figures'] = {
    audit: 0,
    nonAudit: 0,
    malformed: 0,
    canonicalBytes: 0,
    nonAuditParsed: null,
    nonAuditSubstring: 0,
  };
  const precheck = (
    impl.parse as { markerPrecheck?: (m: readonly string[]) => (t: string) => boolean }
  ).markerPrecheck;
  // The substring check used before markerPrecheck, for comparison.
  figures.nonAuditSubstring = 0;
  for (let i = 0; i < records.length; i++) {
    const t = records[i]!.text;
    if (!isAudit(kinds[i]!) && (t.includes('action') || t.includes('\\u')))
      figures.nonAuditSubstring++;
  }
  if (precheck !== undefined) {
    const check = precheck(['action']);
    let n = 0;
    for (let i = 0; i < records.length; i++)
      if (!isAudit(kinds[i]!) && check(records[i]!.text)) n++;
    figures.nonAuditParsed = n;
  }
  let sink = 0;
  return {
    figures,
    round() {
      let audit = 0;
      let nonAudit = 0;
      let malformed = 0;
      let chars = 0;
      let parse = 0;
      let redact = 0;
      let canonical = 0;
      // Batches of BATCH records, as the file source hands them to the pipeline: each
      // batch's events become garbage together, so the collector sees what it sees in
      // the daemon (short-lived objects), not one heap of every event.
      for (let from = 0; from < records.length; from += BATCH) {
        const batch = records.slice(from, from + BATCH);
        const events: AuditEvent[] = [];
        let t0 = cpuMs();
        for (const r of batch) {
          const res = parseRecord(r, ctx);
          if (res.kind === 'audit') {
            audit++;
            events.push(res.event);
          } else if (res.kind === 'non_audit') nonAudit++;
          else malformed++;
        }
        let t1 = cpuMs();
        parse += t1 - t0;
        for (const e of events) plan.apply(e);
        t0 = cpuMs();
        redact += t0 - t1;
        for (const e of events) {
          const s = canonicalJson(e);
          // Read one character: a concatenated (cons) string is flattened here, as the
          // store's join and byte count would flatten it, so both ways pay the same.
          chars += s.length + (s.charCodeAt(s.length >> 1) & 0);
        }
        t1 = cpuMs();
        canonical += t1 - t0;
      }
      const t0 = cpuMs();
      for (const r of records) sink += eventId(ctx.streamId, r.offset).length;
      const id = cpuMs() - t0;
      if (sink === 0) throw new Error('unreachable');
      Object.assign(figures, { audit, nonAudit, malformed, canonicalBytes: chars });
      return { parse, redact, canonical, eventId: id };
    },
  };
}

/** Rounds alternate between implementations, so background load hits both alike. */
function measureAll(impls: Impl[]): Array<StageFigures & { impl: string }> {
  const runners = impls.map(runner);
  const times = impls.map(() => ({
    parse: [] as number[],
    redact: [] as number[],
    canonical: [] as number[],
    eventId: [] as number[],
  }));
  for (let round = 0; round <= ROUNDS; round++) {
    runners.forEach((r, i) => {
      const t = r.round();
      if (round === 0) return; // JIT warm-up
      const acc = times[i]!;
      acc.parse.push(t.parse);
      acc.redact.push(t.redact);
      acc.canonical.push(t.canonical);
      acc.eventId.push(t.eventId);
    });
  }
  return runners.map((r, i) => ({
    impl: impls[i]!.label,
    ...r.figures,
    parseMs: median(times[i]!.parse),
    redactMs: median(times[i]!.redact),
    canonicalMs: median(times[i]!.canonical),
    eventIdMs: median(times[i]!.eventId),
  }));
}

const impls = [await load(undefined)];
if (values.impl !== undefined) impls.unshift(await load(values.impl));
/** Every line's outcome through parse → redact → canonical, for comparing implementations. */
function outputs(impl: Impl): string[] {
  const { parseRecord, plan } = compileStages(impl);
  return records.map((r) => {
    const res = parseRecord(r, ctx);
    if (res.kind !== 'audit') return JSON.stringify(res);
    return `${res.knownAction} ${impl.canonical.canonicalJson(plan.apply(res.event))}`;
  });
}

if (impls.length > 1) {
  const [a, b] = [outputs(impls[0]!), outputs(impls[1]!)];
  const differ = a.filter((x, i) => x !== b[i]).length;
  console.log(
    `outputs compared line by line: ${differ === 0 ? 'identical' : `${differ} lines DIFFER`}`,
  );
  if (differ !== 0) process.exitCode = 1;
}
const results = measureAll(impls);

if (values.json) {
  console.log(JSON.stringify({ lines: LINES, auditLines, rounds: ROUNDS, results }));
} else {
  console.log(
    `stages: ${LINES} workload lines (${auditLines} audit by the generator), median of ${ROUNDS} rounds, ` +
      `CPU ms per stage, node ${process.version}`,
  );
  for (const r of results) {
    const total = r.parseMs + r.redactMs + r.canonicalMs;
    const us = (ms: number, n: number): string => ((ms * 1000) / n).toFixed(2).padStart(7);
    console.log(
      `  [${r.impl}] audit ${r.audit}, non-audit ${r.nonAudit}, malformed ${r.malformed}` +
        `, non-audit lines containing "action" or "\\u" ${r.nonAuditSubstring}` +
        (r.nonAuditParsed !== null
          ? `, non-audit lines past markerPrecheck ${r.nonAuditParsed}`
          : '') +
        `, canonical chars ${r.canonicalBytes}`,
    );
    console.log(
      `    parse      ${r.parseMs.toFixed(0).padStart(6)} ms  ${us(r.parseMs, LINES)} µs/line`,
    );
    console.log(
      `    redact     ${r.redactMs.toFixed(0).padStart(6)} ms  ${us(r.redactMs, r.audit)} µs/event`,
    );
    console.log(
      `    canonical  ${r.canonicalMs.toFixed(0).padStart(6)} ms  ${us(r.canonicalMs, r.audit)} µs/event`,
    );
    console.log(
      `    eventId    ${r.eventIdMs.toFixed(0).padStart(6)} ms  ${us(r.eventIdMs, LINES)} µs/line`,
    );
    console.log(
      `    parse+redact+canonical ${total.toFixed(0).padStart(6)} ms  ${us(total, LINES)} µs/line  ` +
        `(${Math.round(LINES / (total / 1000))} lines/s on one core)`,
    );
  }
  if (results.length === 2) {
    const [a, b] = results as [(typeof results)[0], (typeof results)[0]];
    const pct = (x: number, y: number): string => `${(((y - x) / x) * 100).toFixed(1)}%`;
    console.log(
      `  current vs ${a.impl}: parse ${pct(a.parseMs, b.parseMs)}, redact ${pct(a.redactMs, b.redactMs)}, ` +
        `canonical ${pct(a.canonicalMs, b.canonicalMs)}, eventId ${pct(a.eventIdMs, b.eventIdMs)}, ` +
        `parse+redact+canonical ${pct(a.parseMs + a.redactMs + a.canonicalMs, b.parseMs + b.redactMs + b.canonicalMs)}`,
    );
  }
}
