/**
 * Messages between the pipeline (main thread) and its stage worker (src/pipeline/worker.ts).
 * Everything here is structured-clonable plain data. Messages on a port arrive in order, so
 * a slice posted after a `config` message is processed with the parts built from that config.
 */
import type { Config } from '../config/schema.js';
import type { StageInput, StageResult } from './stages.js';

/** What the worker starts with (`workerData`). */
export interface WorkerInit {
  config: Config;
  gen: number;
}

export type ToWorker =
  /** Reload: rebuild parts from this config; slices that follow carry `gen`. */
  | { type: 'config'; gen: number; config: Config }
  | { type: 'run'; id: number; gen: number; input: StageInput };

export type FromWorker =
  /** Parts for `gen` are built: slices may be sent. */
  | { type: 'ready'; gen: number }
  /** Building parts from a config failed: the worker is unusable. `error` is a name, never content. */
  | { type: 'config_failed'; gen: number; error: string }
  /** `ms`: processing time in the worker; `doneAt`: when it finished (performance.timeOrigin + now()). */
  | { type: 'result'; id: number; result: StageResult; ms: number; doneAt: number }
  /** The stages threw on this slice. `error` is the error's name, never its message (content). */
  | { type: 'failed'; id: number; error: string };
