/**
 * The main thread's handle on the stage worker (src/pipeline/worker.ts): send a slice, get its
 * StageResult back; push a new config on reload.
 *
 * Failure is contained: if the worker fails to start, throws, exits or cannot take a config,
 * the handle logs one error (never event content: error names and exit codes only), rejects
 * every slice in flight with StageWorkerError and stays unusable; the pipeline then processes
 * those slices, and everything after, on the main thread.
 *
 * The worker never keeps the process alive on its own: it is unref'd whenever no slice is in
 * flight, and ref'd while one is (a shutdown that awaits a batch must not exit under it).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';
import type { StageInput, StageResult } from './stages.js';

/**
 * A slice did not come back from the worker. `kind: 'worker'`: the worker is gone (failed or
 * closed); `kind: 'slice'`: the worker is alive but the stages threw on this slice.
 */
export class StageWorkerError extends Error {
  constructor(
    readonly kind: 'worker' | 'slice',
    message: string,
  ) {
    super(message);
    this.name = 'StageWorkerError';
  }
}

export interface SliceDone {
  result: StageResult;
  /** Time the worker spent on the slice. */
  ms: number;
  /** When it finished, as performance.timeOrigin + performance.now() (comparable across threads). */
  doneAt: number;
}

/** V8 old-space limit of the stage worker. */
const WORKER_OLD_SPACE_MB = 96;

export type StageWorkerState = 'starting' | 'ready' | 'failed' | 'closed';

export interface StageWorker {
  /** True once the worker has built its parts, until it fails or is closed. */
  readonly usable: boolean;
  readonly state: StageWorkerState;
  /** Records in slices sent and not answered yet. */
  readonly pendingRecords: number;
  /** Process a slice in the worker; rejects with StageWorkerError. */
  run(input: StageInput): Promise<SliceDone>;
  /** Rebuild the worker's parts from `config`; slices sent afterwards use them. */
  reconfigure(config: Config): void;
  /** Give up on the worker (its own failure, or a result the main thread disagrees with). */
  disable(reason: string): void;
  /** Terminate the worker; slices in flight reject with kind 'worker'. */
  close(): Promise<void>;
}

export interface StageWorkerOptions {
  config: Config;
  logger: Logger;
  /** The worker module. Default: `worker.js` beside this file (dist/pipeline/worker.js). */
  url?: URL;
}

/** Whether to offload to a worker: `AUDITSHIPPER_WORKERS=1` yes, anything else no. */
export function wantStageWorker(
  env: NodeJS.ProcessEnv = process.env,
  cores: number = availableParallelism(),
): boolean {
  const v = env.AUDITSHIPPER_WORKERS?.trim();
  if (v === '0') return false;
  if (v === '1') return cores >= 1;
  // Off by default: with one batch per file in flight the worker idles during read and
  // commit, so on 2 cores it cut main-thread CPU by a third but added 15–25% total CPU and
  // 50–60 MiB of RSS for little throughput (issue 7 measurements). Opt in with =1.
  return false;
}

interface Pending {
  records: number;
  resolve(d: SliceDone): void;
  reject(err: StageWorkerError): void;
}

const errorKind = (err: unknown): string => {
  if (!(err instanceof Error)) return typeof err;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? `${err.name} ${code}` : err.name;
};

export function startStageWorker(opts: StageWorkerOptions): StageWorker {
  const log = opts.logger;
  let gen = 0;
  let nextId = 1;
  let started = false;
  let dead = false;
  let state: StageWorkerState = 'starting';
  let pendingRecords = 0;
  const pending = new Map<number, Pending>();
  let worker: Worker | null = null;
  let terminated: Promise<void> = Promise.resolve();

  const settle = (id: number): Pending | undefined => {
    const p = pending.get(id);
    if (!p) return undefined;
    pending.delete(id);
    pendingRecords -= p.records;
    if (pending.size === 0) worker?.unref();
    return p;
  };

  const stop = (kind: 'failed' | 'closed', reason: string) => {
    if (dead) return;
    dead = true;
    state = kind;
    if (kind === 'failed')
      log.error(
        { reason },
        'pipeline worker stopped; parsing and redaction continue on the main thread',
      );
    const err = new StageWorkerError('worker', `pipeline worker ${kind}: ${reason}`);
    for (const id of [...pending.keys()]) settle(id)?.reject(err);
    const w = worker;
    worker = null;
    if (w) {
      w.removeAllListeners('message');
      terminated = w.terminate().then(
        () => undefined,
        () => undefined,
      );
    }
  };

  const post = (m: ToWorker) => {
    if (!worker) return;
    try {
      worker.postMessage(m);
    } catch (err) {
      stop('failed', `cannot send to the worker: ${errorKind(err)}`);
    }
  };

  try {
    const init: WorkerInit = { config: opts.config, gen };
    worker = new Worker(opts.url ?? new URL('./worker.js', import.meta.url), {
      workerData: init,
      // The worker holds the parts and one or two slices (a few MiB live): a bounded heap
      // keeps its RSS small. Running out is contained like any worker failure: logged once,
      // and the main thread processes the slice and everything after.
      resourceLimits: { maxOldGenerationSizeMb: WORKER_OLD_SPACE_MB },
    });
  } catch (err) {
    stop('failed', `cannot start: ${errorKind(err)}`);
  }
  if (worker) {
    const w = worker;
    w.unref();
    w.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'ready':
          if (!started) log.debug({ threadId: w.threadId }, 'pipeline worker ready');
          started = true;
          if (!dead) state = 'ready';
          return;
        case 'config_failed':
          stop('failed', `cannot build its config: ${m.error}`);
          return;
        case 'result':
          settle(m.id)?.resolve({ result: m.result, ms: m.ms, doneAt: m.doneAt });
          return;
        case 'failed':
          settle(m.id)?.reject(new StageWorkerError('slice', `pipeline worker: ${m.error}`));
          return;
      }
    });
    w.on('error', (err) => stop('failed', `uncaught ${errorKind(err)}`));
    w.on('messageerror', (err) => stop('failed', `unreadable message: ${errorKind(err)}`));
    w.on('exit', (code) => stop('failed', `exited with code ${code}`));
  }

  return {
    get usable() {
      return started && !dead;
    },
    get state() {
      return state;
    },
    get pendingRecords() {
      return pendingRecords;
    },
    run(input) {
      if (dead || !worker)
        return Promise.reject(new StageWorkerError('worker', 'pipeline worker unavailable'));
      const id = nextId++;
      const done = new Promise<SliceDone>((resolve, reject) => {
        if (pending.size === 0) worker?.ref();
        pending.set(id, { records: input.records.length, resolve, reject });
        pendingRecords += input.records.length;
      });
      post({ type: 'run', id, gen, input });
      return done;
    },
    reconfigure(config) {
      if (dead) return;
      gen++;
      post({ type: 'config', gen, config });
    },
    disable(reason) {
      stop('failed', reason);
    },
    close() {
      stop('closed', 'closed');
      return terminated;
    },
  };
}
