/**
 * Wires the in-memory stages and owns backpressure:
 *
 *   SourceBatch ─▶ parse ─▶ min_severity ─▶ redact ─▶ route ─▶ store.ingestBatch (one transaction)
 *
 * The stages are one pure function (processRecords, src/pipeline/stages.ts) that returns the
 * items to store plus plain counters; this module applies metrics and rate-limited logging
 * once per batch, then commits. The handler resolves only after the batch and its checkpoint
 * are committed, and it does not start committing while the buffer is over
 * `buffer.max_bytes` (when_full: block) — so a source stops reading and the log file stays
 * the upstream buffer. Memory stays flat: at most one batch per file is in the pipeline and
 * one more read ahead (the file source reads and frames the next batch meanwhile).
 *
 * Threading: with a stage worker (`deps.worker`; the daemon starts one only when
 * `AUDITSHIPPER_WORKERS=1`, see wantStageWorker for why it is opt-in) a batch of at least
 * MIN_SPLIT_RECORDS records is split: its first records go to the worker
 * (src/pipeline/worker.ts) while the main thread processes the rest, then the two results are
 * concatenated in record order and committed in ONE ingestBatch call, exactly as without a
 * worker. The share is steered per batch (src/pipeline/split.ts) so both sides finish
 * together. A batch the source read ahead is announced (`handler.prepare`) before it is
 * handed over: its worker share starts then, while the main thread still commits the batch
 * before it, and the rest is processed here when it is handed over. The worker
 * builds its parts from the same Config with the same builder, so its output is byte-identical;
 * swap() sends it the new config, and a slice handed over after swap uses the new parts (a
 * batch prepared before the swap keeps the config its processing started with). If
 * the worker fails to start, throws, or exits, the error is logged once, the slice in flight is
 * processed here instead (nothing is lost, the batch still commits once) and every later batch
 * stays on the main thread. Small batches never leave the main thread.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import type { BatchHandler, SourceBatch } from './sources/types.js';
import type { Store } from './store/store.js';
import type { Metrics } from './telemetry/metrics.js';
import { createSplitter } from './pipeline/split.js';
import {
  startStageWorker,
  StageWorkerError,
  type SliceDone,
  type StageWorker,
  type StageWorkerState,
} from './pipeline/stage-worker.js';
import {
  concatResults,
  processRecords,
  type PipelineParts,
  type StageCounters,
  type StageInput,
  type StageResult,
} from './pipeline/stages.js';

export type { RecordParser } from './parse/index.js';
export { nonAuditEvent, type PipelineParts } from './pipeline/stages.js';

export interface PipelineDeps {
  store: Store;
  buffer: Config['buffer'];
  logger: Logger;
  metrics: Metrics;
  /** Called after a commit with the sinks that received new rows. */
  onQueued(sinks: ReadonlySet<string>): void;
  /**
   * Offload part of each large batch to a worker thread that builds its own parts from
   * `config` (the Config `initial` was built from). Absent: everything runs on this thread.
   * `url` overrides where the worker module is (tests running TypeScript sources).
   */
  worker?: { config: Config; url?: URL };
}

export interface Pipeline {
  /** The handler a source hands its batches to. */
  handler: BatchHandler;
  /**
   * Swap parsers/redaction/routes (config reload); batches already committed keep their
   * routing. `config` is what `parts` were built from: the worker rebuilds its parts from it.
   * Without it a running worker is stopped (it could not follow) and all work stays here.
   */
  swap(parts: PipelineParts, config?: Config): void;
  /** Wake sources blocked on a full buffer (call after deliveries free space). */
  spaceFreed(): void;
  /** Stop waiting for buffer space (shutdown): blocked handlers reject. Stops the worker. */
  close(): void;
  readonly stats: PipelineStats;
  /** The stage worker: `off` when there is none (any more, after swap without a config). */
  readonly workerState: StageWorkerState | 'off';
}

export interface PipelineStats {
  audit: number;
  nonAudit: number;
  malformed: number;
  filtered: number;
  dropped: number;
  inserted: number;
  duplicates: number;
  unrouted: number;
  /** Records whose stages ran in the worker thread. */
  offloaded: number;
}

/** Rate-limited warnings: the first occurrence, then at most one per interval with a count. */
export function rateLimitedLog(logger: Logger, intervalMs = 60_000) {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (key: string, fields: Record<string, unknown>, msg: string) => {
    const t = Date.now();
    const s = last.get(key);
    if (s && t - s.at < intervalMs) {
      s.suppressed++;
      return;
    }
    last.set(key, { at: t, suppressed: 0 });
    logger.warn({ ...fields, suppressed: s?.suppressed ?? 0 }, msg);
  };
}

export class PipelineClosed extends Error {}

const sliceOf = (batch: SourceBatch, from: number, to: number): StageInput => ({
  source: batch.source,
  file: batch.file,
  streamId: batch.streamId,
  records:
    from === 0 && to === batch.records.length ? batch.records : batch.records.slice(from, to),
});

/** Absolute time comparable with the worker's `doneAt`. */
const now = () => performance.timeOrigin + performance.now();

export function createPipeline(initial: PipelineParts, deps: PipelineDeps): Pipeline {
  let parts = initial;
  const { store, metrics } = deps;
  const warn = rateLimitedLog(deps.logger);
  const stats: PipelineStats = {
    audit: 0,
    nonAudit: 0,
    malformed: 0,
    filtered: 0,
    dropped: 0,
    inserted: 0,
    duplicates: 0,
    unrouted: 0,
    offloaded: 0,
  };
  let closed = false;
  let spaceWaiters: (() => void)[] = [];
  metrics.bufferMaxBytes.set(deps.buffer.max_bytes);
  let worker: StageWorker | null = deps.worker
    ? startStageWorker({ config: deps.worker.config, logger: deps.logger, url: deps.worker.url })
    : null;
  const splitter = createSplitter();

  const bufferFull = () => store.bytesUsed() >= deps.buffer.max_bytes;

  const waitForSpace = async (source: string) => {
    let logged = false;
    while (bufferFull()) {
      if (closed) throw new PipelineClosed('pipeline closed while waiting for buffer space');
      if (!logged) {
        logged = true;
        warn(
          'buffer_full',
          { source, used: store.bytesUsed(), max: deps.buffer.max_bytes },
          'buffer full: reading paused until sinks deliver (buffer.when_full: block)',
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, 500);
        function done() {
          clearTimeout(t);
          resolve();
        }
        spaceWaiters.push(done);
      });
    }
  };

  /** A worker slice already under way for a batch: its first `k` records. */
  interface Started {
    k: number;
    pending: Promise<SliceDone>;
    parts: PipelineParts;
  }
  /** Batches announced by a source reading ahead whose worker slice started early. */
  const prepared = new WeakMap<SourceBatch, Started>();

  /** Send the worker its share of a batch (the first records); undefined: keep it here. */
  const startSlice = (batch: SourceBatch, ahead: boolean): Started | undefined => {
    const w = worker?.usable ? worker : null;
    if (!w) return undefined;
    const n = batch.records.length;
    const k = ahead
      ? splitter.aheadShare(n, w.pendingRecords)
      : splitter.workerShare(n, w.pendingRecords);
    if (k === 0) return undefined;
    const pending = w.run(sliceOf(batch, 0, k));
    pending.catch(() => undefined); // handled in process(), or never needed (source stopped)
    return { k, pending, parts };
  };

  /**
   * A source read `batch` ahead and will hand it over once the batch before it commits: start
   * the worker's share now, so the worker works while the main thread commits and reads on.
   */
  const prepare = (batch: SourceBatch): void => {
    if (prepared.has(batch)) return;
    const started = startSlice(batch, true);
    if (started) prepared.set(batch, started);
  };

  /**
   * The stages for one batch: in this thread, or split with the worker. Either way the
   * result is what one in-thread pass over the whole batch gives.
   */
  const process = async (batch: SourceBatch): Promise<StageResult> => {
    const n = batch.records.length;
    let started = prepared.get(batch);
    const ahead = started !== undefined;
    if (started) prepared.delete(batch);
    else started = startSlice(batch, false);
    // Parts are taken once per batch (when its worker slice was sent): a swap() meanwhile
    // does not mix configs within a batch (the worker got the slice before any later config).
    if (!started) return processRecords(parts, sliceOf(batch, 0, n));
    const { k, pending, parts: p } = started;
    const t0 = performance.now();
    const mine = processRecords(p, sliceOf(batch, k, n));
    const mainMs = performance.now() - t0;
    const elu0 = performance.eventLoopUtilization();
    let done: SliceDone;
    try {
      done = await pending;
    } catch (err) {
      // The worker did not deliver: do its slice here. If the stages throw here too the
      // batch fails as it would have without a worker (the source retries it).
      const result = processRecords(p, sliceOf(batch, 0, k));
      if (err instanceof StageWorkerError && err.kind === 'slice')
        worker?.disable('it failed on a slice the main thread processed');
      return concatResults([result, mine]);
    }
    const handled = now();
    stats.offloaded += k;
    metrics.offloaded.inc(k);
    if (!ahead)
      splitter.observe({
        n,
        k,
        mainMs,
        workerMs: done.ms,
        idleMs: performance.eventLoopUtilization(elu0).idle,
        lateMs: handled - done.doneAt,
      });
    return concatResults([done.result, mine]);
  };

  /** Metrics and rate-limited warnings for one batch, the same whichever thread did the work. */
  const account = (batch: SourceBatch, c: StageCounters) => {
    const src = batch.source;
    for (const m of c.malformedNotes)
      warn(
        `malformed:${src}`,
        { source: src, file: batch.file, offset: m.offset, reason: m.reason },
        'malformed record skipped',
      );
    if (c.unrouted) {
      stats.unrouted += c.unrouted;
      metrics.unrouted.inc(c.unrouted);
    }
    for (const [route, n] of c.byRoute) metrics.routed.inc({ route }, n);
    for (const [rule, n] of c.byRule) metrics.redactions.inc({ rule }, n);
    for (const [product, n] of c.unknownByProduct) metrics.unknownActions.inc({ product }, n);
    for (const [key, n] of c.byProductSeverity) {
      const [product, severity] = key.split('\u0000') as [string, string];
      metrics.eventsIngested.inc({ product, severity }, n);
    }
    stats.audit += c.audit;
    stats.nonAudit += c.nonAudit;
    stats.malformed += c.malformed;
    stats.filtered += c.filtered;
    if (c.audit) metrics.records.inc({ source: src, outcome: 'audit' }, c.audit);
    if (c.nonAudit) metrics.records.inc({ source: src, outcome: 'non_audit' }, c.nonAudit);
    if (c.malformed) metrics.records.inc({ source: src, outcome: 'malformed' }, c.malformed);
    if (c.filtered) metrics.records.inc({ source: src, outcome: 'filtered' }, c.filtered);
    if (batch.oversized) {
      metrics.records.inc({ source: src, outcome: 'oversized' }, batch.oversized);
      warn(
        `oversized:${src}`,
        { source: src, file: batch.file, lines: batch.oversized },
        'lines longer than max_line_bytes were cut or skipped',
      );
    }
  };

  const handler: BatchHandler = async (batch) => {
    metrics.linesRead.inc({ source: batch.source }, batch.linesRead);
    metrics.bytesRead.inc({ source: batch.source }, batch.bytesRead);
    const result = await process(batch);
    account(batch, result.counters);
    let items = result.items;
    let sinks: ReadonlySet<string> = new Set(result.sinks);
    if (items.length > 0 && bufferFull()) {
      if (deps.buffer.when_full === 'drop_newest') {
        stats.dropped += items.length;
        metrics.records.inc({ source: batch.source, outcome: 'dropped' }, items.length);
        warn(
          'buffer_drop',
          { source: batch.source, events: items.length },
          'buffer full: events dropped (buffer.when_full: drop_newest)',
        );
        items = [];
        sinks = new Set();
      } else {
        await waitForSpace(batch.source);
      }
    }
    if (items.length === 0 && !batch.checkpoint) return;
    const r = store.ingestBatch(items, batch.checkpoint, batch.streamId);
    stats.inserted += r.inserted;
    stats.duplicates += r.duplicates;
    if (r.duplicates) metrics.duplicates.inc({ source: batch.source }, r.duplicates);
    metrics.bufferBytes.set(store.bytesUsed());
    if (sinks.size > 0) deps.onQueued(sinks);
  };

  handler.prepare = prepare;

  return {
    handler,
    swap(next, config) {
      parts = next;
      if (!worker) return;
      if (config) worker.reconfigure(config);
      else {
        void worker.close();
        worker = null;
      }
    },
    spaceFreed() {
      const w = spaceWaiters;
      spaceWaiters = [];
      for (const f of w) f();
    },
    close() {
      closed = true;
      this.spaceFreed();
      // Slices in flight come back rejected and are finished on this thread.
      if (worker) void worker.close();
      worker = null;
    },
    stats,
    get workerState() {
      return worker ? worker.state : 'off';
    },
  };
}
