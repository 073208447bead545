/**
 * Lifecycle: start, reload, drain and stop.
 *
 * Start: open the buffer, start one delivery loop per sink (undelivered rows from a
 * previous run go out first), start the sources from their checkpoints, serve the API.
 *
 * Reload (SIGHUP, or the config file changed — debounced): parse and validate the new
 * file; if it is invalid, log every problem with file:line:col, count the failure and keep
 * running on the old config. If valid: start added sinks and restart changed ones (after
 * their in-flight batch), swap parsers, redaction and routes in one step, restart added,
 * removed and changed sources from their checkpoints, and stop removed sinks. Events
 * already queued keep the routing decided at their ingest; a removed sink's queued events
 * stay in the buffer (visible in `status`) and go out if the sink comes back.
 *
 * Stop (SIGTERM/SIGINT): stop reading, let in-flight batches finish within
 * `shutdown_timeout`, close the database cleanly, exit 0. A second signal exits at once;
 * SQLite's WAL keeps the buffer consistent either way.
 *
 * Finite input (stdin): when every source has finished, wait until every sink is
 * drained, then stop and exit 0.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { buildPipelineParts, buildSink, buildSource } from './components.js';
import {
  ConfigError,
  EMBEDDED_DEFAULT,
  formatIssue,
  loadConfigFile,
  type LoadedConfig,
} from './config/index.js';
import type { Config, SinkConfig, SourceConfig } from './config/schema.js';
import { createPipeline, PipelineClosed, type Pipeline } from './pipeline.js';
import { wantStageWorker } from './pipeline/stage-worker.js';
import { resolveBatchLimits } from './sinks/common-config.js';
import { createDeliveryLoop, type DeliveryLoop } from './sinks/delivery.js';
import type { BatchHandler, Source } from './sources/types.js';
import { openStore, type Store } from './store/store.js';
import { createMetrics, type Metrics } from './telemetry/metrics.js';
import { startApiServer, type HealthReport } from './telemetry/server.js';

export interface AgentOptions {
  logger: Logger;
  stdin?: NodeJS.ReadableStream;
  /** The config file to re-read on reload; null for none (embedded default, tests). */
  configPath?: string | null;
  /** Install SIGTERM/SIGINT/SIGHUP handlers (off in tests that embed the agent). */
  signals?: boolean;
  /** Re-read the config when its file changes (debounced). Default: on when there is a file. */
  watchConfig?: boolean;
}

export interface Agent {
  readonly store: Store;
  readonly metrics: Metrics;
  readonly apiPort: number | null;
  /** Resolves with the process exit code once the agent has stopped. */
  readonly done: Promise<number>;
  /** Re-read and apply the config file; resolves true when the new config took effect. */
  reload(reason: string): Promise<boolean>;
  stop(reason: string): Promise<void>;
}

interface SinkRuntime {
  cfg: SinkConfig;
  loop: DeliveryLoop;
}
interface SourceRuntime {
  cfg: SourceConfig;
  source: Source;
}

const RELOAD_DEBOUNCE_MS = 500;

export async function startAgent(loaded: LoadedConfig, opts: AgentOptions): Promise<Agent> {
  let cfg: Config = loaded.config;
  let configFile = loaded.file;
  let currentText = loaded.text;
  const log = opts.logger;
  for (const w of loaded.warnings) log.warn(formatIssue(w));

  const store = openStore({
    dataDir: cfg.data_dir,
    sync: cfg.buffer.sync,
    keepDeliveredMs: cfg.buffer.keep_delivered,
  });
  const metrics = createMetrics();
  const sinks = new Map<string, SinkRuntime>();
  const sources = new Map<string, SourceRuntime>();
  const pipelineRef: { current?: Pipeline } = {};

  const startSink = (name: string, sc: SinkConfig): SinkRuntime => {
    const driver = buildSink(name, sc, log);
    const loop = createDeliveryLoop({
      sink: driver,
      store,
      limits: resolveBatchLimits(sc.batch),
      concurrency: sc.request.concurrency,
      retry: {
        initialBackoffMs: sc.retry.initial_backoff,
        maxBackoffMs: sc.retry.max_backoff,
        maxAgeMs: sc.retry.max_age,
        unhealthyBackoffMs: sc.retry.unhealthy_backoff,
      },
      logger: log,
      hooks: {
        delivered: (s, n, bytes) => {
          metrics.delivered.inc({ sink: s }, n);
          metrics.deliveredBytes.inc({ sink: s }, bytes);
          pipelineRef.current?.spaceFreed();
        },
        failed: (s, cls) => metrics.deliveryErrors.inc({ sink: s, class: cls }),
        retried: (s) => metrics.retries.inc({ sink: s }),
        deadLettered: (s, n) => metrics.deadLettered.inc({ sink: s }, n),
        latency: (s, sec) => metrics.requestSeconds.observe({ sink: s }, sec),
        health: (s, ok) => metrics.sinkHealthy.set({ sink: s }, ok ? 1 : 0),
      },
    });
    metrics.sinkHealthy.set({ sink: name }, 1);
    if (driver.healthcheck) {
      // Start-up check warns but never blocks: the buffer holds events until the sink works.
      const ac = new AbortController();
      const t = setTimeout(() => ac.abort(), 10_000);
      driver
        .healthcheck(ac.signal)
        .then((r) =>
          r.ok
            ? log.info({ sink: name }, `healthcheck ok: ${r.message}`)
            : log.warn({ sink: name }, `healthcheck failed: ${r.message}`),
        )
        .catch((err: Error) => log.warn({ sink: name }, `healthcheck failed: ${err.message}`))
        .finally(() => clearTimeout(t));
    }
    loop.start();
    return { cfg: sc, loop };
  };

  for (const [name, sc] of Object.entries(cfg.sinks)) sinks.set(name, startSink(name, sc));

  const pipe = createPipeline(buildPipelineParts(cfg), {
    store,
    buffer: cfg.buffer,
    logger: log,
    metrics,
    onQueued: (names) => {
      for (const s of names) sinks.get(s)?.loop.notify();
    },
    // Parse/redact/route part of each large batch on a second core (src/pipeline.ts).
    worker: wantStageWorker() ? { config: cfg } : undefined,
  });
  pipelineRef.current = pipe;

  const handler: BatchHandler = async (batch) => {
    try {
      await pipe.handler(batch);
    } catch (err) {
      if (err instanceof PipelineClosed) throw err;
      // A store failure (disk full, I/O error) must not lose the batch: the source keeps
      // its position (the promise rejects) and re-reads after the error clears.
      log.error(
        { source: batch.source, err: (err as Error).message },
        'could not store a batch; it will be read again',
      );
      throw err;
    }
  };
  handler.prepare = (batch) => pipe.handler.prepare?.(batch);

  const startSource = async (name: string, sc: SourceConfig): Promise<SourceRuntime> => {
    const source = buildSource(name, sc, { store, logger: log, stdin: opts.stdin });
    await source.start(handler);
    return { cfg: sc, source };
  };
  for (const [name, sc] of Object.entries(cfg.sources))
    sources.set(name, await startSource(name, sc));

  /** Per-sink state for `auditshipper status` (which only reads the database). */
  const publishState = () => {
    const state: Record<string, unknown> = {};
    for (const [name, { loop }] of sinks) {
      const st = loop.state();
      state[name] = {
        healthy: st.healthy,
        failing_since: st.failingSince,
        last_error: st.lastError,
      };
    }
    store.setState('sinks', { at: Date.now(), sinks: state });
  };
  const gcTimer = setInterval(() => {
    try {
      if (store.collectGarbage() > 0) pipe.spaceFreed();
      publishState();
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'buffer maintenance failed');
    }
  }, 5_000);
  gcTimer.unref();

  let dbWritable = true;
  const health = (): HealthReport => {
    try {
      store.probeWritable();
      dbWritable = true;
      return { ok: true, checks: { database: { ok: true } } };
    } catch (err) {
      dbWritable = false;
      return {
        ok: false,
        checks: {
          database: { ok: false, message: `buffer not writable: ${(err as Error).message}` },
        },
      };
    }
  };
  const ready = (): HealthReport => {
    const checks: HealthReport['checks'] = {
      config: { ok: true, message: configFile },
      sources: { ok: sources.size > 0 },
      database: dbWritable ? { ok: true } : { ok: false, message: 'buffer not writable' },
    };
    const now = Date.now();
    for (const { loop } of sinks.values()) {
      const st = loop.state();
      const since = st.unhealthySince ?? st.failingSince;
      const bad =
        cfg.api.ready_requires_sinks && since !== null && now - since > cfg.api.unhealthy_after;
      checks[`sink:${st.sink}`] = bad
        ? {
            ok: false,
            message: `${st.unhealthySince !== null ? 'credentials refused' : 'deliveries failing'} since ${new Date(since).toISOString()}: ${st.lastError?.message ?? ''}`,
          }
        : { ok: true };
    }
    return { ok: Object.values(checks).every((c) => c.ok), checks };
  };

  const api = cfg.api.enabled
    ? await startApiServer(cfg.api.listen, {
        registry: metrics.registry,
        health,
        ready,
        beforeScrape: () => {
          metrics.bufferBytes.set(store.bytesUsed());
          metrics.workerUp.set(pipe.workerState === 'ready' ? 1 : 0);
          const t = Date.now();
          for (const q of store.queueStats()) {
            metrics.queueDepth.set({ sink: q.sink }, q.depth);
            metrics.oldestPending.set(
              { sink: q.sink },
              q.oldestIngestedAt === null ? 0 : (t - q.oldestIngestedAt) / 1000,
            );
            metrics.dlqSize.set({ sink: q.sink }, q.dlq);
          }
          metrics.sourceLag.reset();
          for (const { source } of sources.values()) {
            const missing = source.missingAtStart?.();
            if (missing !== undefined)
              metrics.filesMissingAtStart.set({ source: source.name }, missing);
            for (const l of source.lag?.() ?? [])
              metrics.sourceLag.set({ source: source.name, file: l.file }, l.bytes);
          }
        },
      })
    : null;
  if (api) log.info({ listen: cfg.api.listen, port: api.port }, 'api listening');
  log.info(
    {
      sources: Object.keys(cfg.sources),
      sinks: Object.keys(cfg.sinks),
      data_dir: cfg.data_dir,
      config: configFile,
    },
    'auditshipper started',
  );

  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((r) => (finish = r));
  let stopping: Promise<void> | null = null;
  let reloading: Promise<boolean> = Promise.resolve(true);
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;

  const stop = (reason: string): Promise<void> => {
    if (stopping) return stopping;
    stopping = (async () => {
      log.info({ reason }, 'stopping: no more reading, flushing in-flight batches');
      watcher?.close();
      clearTimeout(debounce);
      await reloading.catch(() => false);
      const deadline = Date.now() + cfg.shutdown_timeout;
      pipe.close();
      await Promise.allSettled([...sources.values()].map((s) => s.source.stop()));
      await Promise.allSettled([...sinks.values()].map((s) => s.loop.stop(deadline)));
      clearInterval(gcTimer);
      await api?.close();
      try {
        publishState();
      } catch {
        // the buffer may be unwritable (disk full): state is informational
      }
      store.close();
      log.info('stopped');
      finish(0);
    })();
    return stopping;
  };

  /** Apply a validated config. Ordering keeps every routed event deliverable. */
  const apply = async (next: LoadedConfig) => {
    const ncfg = next.config;
    // Build everything that can fail first, so a bad config changes nothing.
    const parts = buildPipelineParts(ncfg);
    const deadline = () => Date.now() + cfg.shutdown_timeout;
    // 1. Sinks that are new or changed exist before any route can name them.
    for (const [name, sc] of Object.entries(ncfg.sinks)) {
      const old = sinks.get(name);
      if (old && isDeepStrictEqual(old.cfg, sc)) continue;
      if (old) await old.loop.stop(deadline()); // finish its in-flight batch before the new loop leases
      sinks.set(name, startSink(name, sc));
      log.info({ sink: name }, old ? 'sink reconfigured' : 'sink added');
    }
    // 2. Parsers, redaction and routes change in one step, between two batches.
    pipe.swap(parts, ncfg);
    // 3. Sources: stop removed and changed ones (their checkpoints stay), start new ones.
    for (const [name, rt] of [...sources]) {
      const sc = ncfg.sources[name];
      if (sc && isDeepStrictEqual(rt.cfg, sc)) continue;
      if (rt.cfg.type === 'stdin') {
        if (sc)
          log.warn(
            { source: name },
            'a stdin source cannot be restarted; its change applies at the next start',
          );
        if (sc) continue;
      }
      await rt.source.stop();
      sources.delete(name);
      log.info({ source: name }, sc ? 'source reconfigured' : 'source removed');
    }
    for (const [name, sc] of Object.entries(ncfg.sources)) {
      if (sources.has(name)) continue;
      sources.set(name, await startSource(name, sc));
      log.info({ source: name }, 'source started');
    }
    // 4. Sinks no longer configured stop after their in-flight batch; their queue rows stay.
    for (const [name, rt] of [...sinks]) {
      if (ncfg.sinks[name]) continue;
      await rt.loop.stop(deadline());
      sinks.delete(name);
      const left = store.queueDepth(name);
      log.warn(
        { sink: name, queued: left },
        'sink removed; its queued events stay in the buffer until it is configured again',
      );
    }
    cfg = { ...ncfg, data_dir: cfg.data_dir, api: cfg.api, buffer: cfg.buffer };
    configFile = next.file;
    currentText = next.text;
  };

  const reload = (reason: string): Promise<boolean> => {
    if (stopping) return Promise.resolve(false);
    reloading = reloading.then(async () => {
      const path = opts.configPath;
      if (!path) {
        log.warn(
          { reason },
          'reload requested, but the agent runs on the embedded default: nothing to re-read',
        );
        return false;
      }
      let next: LoadedConfig;
      try {
        next = loadConfigFile(path);
      } catch (err) {
        metrics.reloads.inc({ result: 'failure' });
        if (err instanceof ConfigError) {
          for (const i of err.issues) log.error(formatIssue(i));
          log.error(
            { reason, problems: err.issues.length },
            'new config rejected; still running on the previous one',
          );
        } else {
          log.error(
            { reason, err: (err as Error).message },
            'reload failed; still running on the previous one',
          );
        }
        return false;
      }
      if (next.text === currentText) {
        log.debug({ reason }, 'config unchanged; nothing to reload');
        return true;
      }
      for (const w of next.warnings) log.warn(formatIssue(w));
      const fixed: string[] = [];
      if (next.config.data_dir !== cfg.data_dir) fixed.push('data_dir');
      if (!isDeepStrictEqual(next.config.api, cfg.api)) fixed.push('api');
      if (!isDeepStrictEqual(next.config.buffer, cfg.buffer)) fixed.push('buffer');
      if (fixed.length) log.warn({ keys: fixed }, 'these settings apply only at the next start');
      try {
        await apply(next);
      } catch (err) {
        metrics.reloads.inc({ result: 'failure' });
        log.error(
          { reason, err: (err as Error).message },
          'reload failed while applying; check the sinks and sources named above',
        );
        return false;
      }
      metrics.reloads.inc({ result: 'success' });
      log.info({ reason, config: next.file }, 'config reloaded');
      return true;
    });
    return reloading;
  };

  // Finite input: exit once all of it is delivered.
  const all = [...sources.values()].map((s) => s.source);
  const finite = all.filter((s) => s.finished !== undefined);
  if (finite.length === all.length && finite.length > 0) {
    void Promise.all(finite.map((s) => s.finished as Promise<void>))
      .then(() => Promise.all([...sinks.values()].map((s) => s.loop.idle())))
      .then(() => stop('input finished and delivered'));
  }

  if (opts.configPath && opts.configPath !== EMBEDDED_DEFAULT && opts.watchConfig !== false) {
    // Watch the directory, not the file: editors and ConfigMap updates replace the file by rename.
    const file = basename(opts.configPath);
    try {
      watcher = watch(dirname(opts.configPath), (_event, changed) => {
        if (changed !== null && changed !== file && !String(changed).startsWith('..')) return;
        clearTimeout(debounce);
        debounce = setTimeout(() => void reload('config file changed'), RELOAD_DEBOUNCE_MS);
      });
      watcher.on('error', (err) =>
        log.warn({ err: err.message }, 'config file watch failed; SIGHUP still reloads'),
      );
    } catch (err) {
      log.warn(
        { err: (err as Error).message },
        'cannot watch the config file; SIGHUP still reloads',
      );
    }
  }

  if (opts.signals !== false) {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        log.warn({ signal: sig }, 'second signal: exiting now; undelivered events stay buffered');
        process.exit(sig === 'SIGINT' ? 130 : 143);
      }
      void stop(sig);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', () => void reload('SIGHUP'));
  }

  return { store, metrics, apiPort: api?.port ?? null, done, stop, reload };
}
