/**
 * Lifecycle: start, reload, drain and stop.
 *
 * Start: open the buffer, start one delivery loop per sink (undelivered rows from a
 * previous run go out first), start the sources from their checkpoints, serve the API.
 * Stop (SIGTERM/SIGINT): stop reading, let in-flight batches finish within
 * `shutdown_timeout`, close the database cleanly, exit 0. A second signal exits at once;
 * SQLite's WAL keeps the buffer consistent either way.
 * Finite input (stdin): when every source has finished, wait until every sink is drained,
 * then stop and exit 0.
 */
import type { Logger } from 'pino';
import { buildPipelineParts, buildSink, buildSource } from './components.js';
import type { LoadedConfig } from './config/index.js';
import type { Config } from './config/schema.js';
import { createPipeline, PipelineClosed, type Pipeline } from './pipeline.js';
import { createDeliveryLoop, type DeliveryLoop } from './sinks/delivery.js';
import { resolveBatchLimits } from './sinks/common-config.js';
import type { Source } from './sources/types.js';
import { openStore, type Store } from './store/store.js';
import { createMetrics, type Metrics } from './telemetry/metrics.js';
import { startApiServer, type HealthReport } from './telemetry/server.js';

export interface AgentOptions {
  logger: Logger;
  stdin?: NodeJS.ReadableStream;
  /** Install SIGTERM/SIGINT/SIGHUP handlers (off in tests that embed the agent). */
  signals?: boolean;
}

export interface Agent {
  readonly store: Store;
  readonly metrics: Metrics;
  readonly pipeline: Pipeline;
  readonly apiPort: number | null;
  /** Resolves with the process exit code once the agent has stopped. */
  readonly done: Promise<number>;
  stop(reason: string): Promise<void>;
}

export async function startAgent(loaded: LoadedConfig, opts: AgentOptions): Promise<Agent> {
  const cfg: Config = loaded.config;
  const log = opts.logger;
  for (const w of loaded.warnings) log.warn(`${w.file}:${w.line}:${w.col}: ${w.message}`);

  const store = openStore({
    dataDir: cfg.data_dir,
    sync: cfg.buffer.sync,
    keepDeliveredMs: cfg.buffer.keep_delivered,
  });
  const metrics = createMetrics();
  const loops = new Map<string, DeliveryLoop>();
  const pipelineRef: { current?: Pipeline } = {};

  for (const [name, sc] of Object.entries(cfg.sinks)) {
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
        deadLettered: (s, n) => {
          metrics.deadLettered.inc({ sink: s }, n);
        },
        latency: (s, sec) => metrics.requestSeconds.observe({ sink: s }, sec),
        health: (s, ok) => metrics.sinkHealthy.set({ sink: s }, ok ? 1 : 0),
      },
    });
    metrics.sinkHealthy.set({ sink: name }, 1);
    loops.set(name, loop);
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
  }

  const pipe = createPipeline(buildPipelineParts(cfg), {
    store,
    buffer: cfg.buffer,
    logger: log,
    metrics,
    onQueued: (sinks) => {
      for (const s of sinks) loops.get(s)?.notify();
    },
  });
  pipelineRef.current = pipe;

  for (const loop of loops.values()) loop.start();

  const sources: Source[] = [];
  for (const [name, sc] of Object.entries(cfg.sources)) {
    sources.push(buildSource(name, sc, { store, logger: log, stdin: opts.stdin }));
  }
  const handler = async (batch: Parameters<Pipeline['handler']>[0]) => {
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
  for (const s of sources) await s.start(handler);
  const sourcesStarted = true;

  const gcTimer = setInterval(() => {
    try {
      if (store.collectGarbage() > 0) pipe.spaceFreed();
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'buffer garbage collection failed');
    }
  }, 10_000);
  gcTimer.unref();

  let dbWritable = true;
  const health = (): HealthReport => {
    try {
      store.probeWritable();
      dbWritable = true;
    } catch (err) {
      dbWritable = false;
      return {
        ok: false,
        checks: {
          database: { ok: false, message: `buffer not writable: ${(err as Error).message}` },
        },
      };
    }
    return { ok: true, checks: { database: { ok: true } } };
  };
  const ready = (): HealthReport => {
    const checks: HealthReport['checks'] = {
      config: { ok: true, message: loaded.file },
      sources: { ok: sourcesStarted },
      database: { ok: dbWritable },
    };
    const now = Date.now();
    for (const loop of loops.values()) {
      const st = loop.state();
      const bad = st.unhealthySince !== null && now - st.unhealthySince > cfg.api.unhealthy_after;
      checks[`sink:${st.sink}`] = bad
        ? {
            ok: false,
            message: `unhealthy since ${new Date(st.unhealthySince!).toISOString()}: ${st.lastError?.message ?? ''}`,
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
          const t = Date.now();
          for (const q of store.queueStats()) {
            metrics.queueDepth.set({ sink: q.sink }, q.depth);
            metrics.oldestPending.set(
              { sink: q.sink },
              q.oldestIngestedAt === null ? 0 : (t - q.oldestIngestedAt) / 1000,
            );
            metrics.dlqSize.set({ sink: q.sink }, q.dlq);
          }
          for (const s of sources)
            for (const l of s.lag?.() ?? [])
              metrics.sourceLag.set({ source: s.name, file: l.file }, l.bytes);
        },
      })
    : null;
  if (api) log.info({ listen: cfg.api.listen, port: api.port }, 'api listening');
  log.info(
    {
      sources: Object.keys(cfg.sources),
      sinks: Object.keys(cfg.sinks),
      data_dir: cfg.data_dir,
      config: loaded.file,
    },
    'auditshipper started',
  );

  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((r) => (finish = r));
  let stopping: Promise<void> | null = null;

  const stop = (reason: string): Promise<void> => {
    if (stopping) return stopping;
    stopping = (async () => {
      log.info({ reason }, 'stopping: no more reading, flushing in-flight batches');
      const deadline = Date.now() + cfg.shutdown_timeout;
      pipe.close();
      await Promise.allSettled(sources.map((s) => s.stop()));
      await Promise.allSettled([...loops.values()].map((l) => l.stop(deadline)));
      clearInterval(gcTimer);
      await api?.close();
      store.close();
      log.info('stopped');
      finish(0);
    })();
    return stopping;
  };

  // Finite input: exit once all of it is delivered.
  const finite = sources.filter((s) => s.finished !== undefined);
  if (finite.length === sources.length && finite.length > 0) {
    void Promise.all(finite.map((s) => s.finished as Promise<void>))
      .then(() => Promise.all([...loops.values()].map((l) => l.idle())))
      .then(() => stop('input finished and delivered'));
  }

  if (opts.signals !== false) {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        log.warn({ signal: sig }, 'second signal: exiting now; undelivered events stay buffered');
        process.exit(130);
      }
      void stop(sig);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', () =>
      log.warn(
        'SIGHUP received: live reload is not available in this build; restart to apply config changes',
      ),
    );
  }

  return { store, metrics, pipeline: pipe, apiPort: api?.port ?? null, done, stop };
}
