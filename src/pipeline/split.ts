/**
 * How much of a large batch the stage worker gets.
 *
 * Each large batch is split: the worker takes the first `k` records while the main thread
 * processes the rest, and the batch is ready when both are done (for a batch the file source
 * read ahead, the worker's share starts before the batch is handed over; see pipeline.ts).
 * Equal shares are rarely right: the main thread also reads, frames, commits and runs the
 * sinks (SQLite leases, NDJSON, HTTP), and that work can run while it waits for the worker. So the split is steered by what happened, not by a model
 * of costs alone:
 *
 *  - `idleMs`: the main thread's event loop sat idle waiting for the worker's result → the
 *    main thread has room: give it more records;
 *  - `lateMs`: the worker's result waited for the main thread (still on its own records, or on
 *    other work) → give the worker more.
 *
 * Some lateness is structural: handing the result over (serialise, wake the main thread,
 * deserialise) takes a few ms however the batch is split. It is learnt from the batches where
 * the main thread sat idle (then the result did not wait for any work: all its lateness was
 * hand-over) and only lateness beyond it counts; otherwise the split would settle with the
 * main thread idling for that long on every batch.
 *
 * Moving one record from the worker to the main thread closes the gap by about
 * `costMain + costWorker` ms, so each batch moves the fraction by
 * `(idle − excess lateness) / (cM + cW)` records, damped. Per-record costs are EWMAs of what
 * each side measured.
 */

/** Below this many records a batch stays on the main thread: a round trip is not worth it. */
export const MIN_SPLIT_RECORDS = 64;
/** Never send the worker fewer records than this (the message costs more than it saves). */
export const MIN_WORKER_SLICE = 16;

/** The worker always gets at least this share of a large batch, so its cost stays measured. */
const F_MIN = 0.05;
const F_MAX = 1;
/** Damping: move this part of the estimated correction per batch. */
const GAIN = 0.5;
/** Idle time below this (ms) is noise, not a main thread waiting for work. */
const IDLE_MS = 0.5;
/** EWMA weight of the newest per-record cost (and hand-over time). */
const ALPHA = 0.2;

export interface SplitObservation {
  /** Records in the batch. */
  n: number;
  /** Records the worker processed. */
  k: number;
  /** Main thread time on its n − k records. */
  mainMs: number;
  /** Worker time on its k records. */
  workerMs: number;
  /** Main thread event-loop idle time while it waited for the worker's result. */
  idleMs: number;
  /** Time the worker's result waited for the main thread. */
  lateMs: number;
}

export interface Splitter {
  /**
   * Records of an `n`-record batch to hand the worker (the first ones); 0 keeps the batch on
   * the main thread. `queued`: records of other batches already waiting in the worker.
   */
  workerShare(n: number, queued?: number): number;
  observe(o: SplitObservation): void;
  /** The current target share of the worker, 0..1. */
  readonly fraction: number;
  /**
   * Records of a batch read ahead (see pipeline.ts: its worker share starts before the batch
   * is handed over) to hand the worker. `queued`: records of earlier slices the worker has
   * not answered yet. Steered by that backlog alone, not by `observe`: see aheadFraction.
   */
  aheadShare(n: number, queued: number): number;
  /**
   * The worker's share of read-ahead batches. When a read-ahead batch is ready the batch
   * before it is being committed, so its worker slice should be done: if the worker still
   * has records queued it is the slower side and the share goes down by AHEAD_STEP; if it
   * has none it sat idle and the share goes up. The share hovers where the worker just keeps
   * up. (The finish-together rule of `fraction` does not fit here: the main thread's wait
   * for a slice started a batch earlier says little about how busy the worker is.)
   */
  readonly aheadFraction: number;
}

/** First share of the worker for read-ahead batches: most of the stages (measured best). */
const AHEAD_START = 0.85;
const AHEAD_MIN = 0.5;
const AHEAD_STEP = 0.02;

export function createSplitter(initialFraction = 0.5): Splitter {
  let f = Math.min(F_MAX, Math.max(F_MIN, initialFraction));
  let costMain = 0;
  let costWorker = 0;
  let handOver = 0;
  let ahead = AHEAD_START;
  const ewma = (prev: number, x: number) => (prev === 0 ? x : prev + ALPHA * (x - prev));
  return {
    get fraction() {
      return f;
    },
    get aheadFraction() {
      return ahead;
    },
    aheadShare(n, queued) {
      if (n < MIN_SPLIT_RECORDS) return 0;
      ahead = Math.min(1, Math.max(AHEAD_MIN, ahead + (queued > 0 ? -AHEAD_STEP : AHEAD_STEP)));
      const k = Math.round(ahead * n);
      return k >= MIN_WORKER_SLICE ? k : 0;
    },
    workerShare(n, queued = 0) {
      if (n < MIN_SPLIT_RECORDS) return 0;
      // Records already queued in the worker delay this slice: shorten it so both sides
      // still finish together (by the cost ratio when known, else half of them).
      const lag =
        costMain > 0 && costWorker > 0
          ? (queued * costWorker) / (costMain + costWorker)
          : queued / 2;
      const k = Math.min(n, Math.round(f * n - lag));
      return k >= MIN_WORKER_SLICE ? k : 0;
    },
    observe(o) {
      const vals = [o.n, o.k, o.mainMs, o.workerMs, o.idleMs, o.lateMs];
      if (!vals.every(Number.isFinite) || o.k < 0 || o.k > o.n) return;
      if (o.k > 0 && o.workerMs >= 0) costWorker = ewma(costWorker, o.workerMs / o.k);
      if (o.n - o.k > 0 && o.mainMs >= 0) costMain = ewma(costMain, o.mainMs / (o.n - o.k));
      // Before both costs are known, assume they are equal to the worker's.
      const cW = costWorker > 0 ? costWorker : costMain;
      const cM = costMain > 0 ? costMain : costWorker;
      if (!(cW + cM > 0) || o.n <= 0) return;
      const idle = Math.max(0, o.idleMs);
      const late = Math.max(0, o.lateMs);
      if (idle >= IDLE_MS) handOver = ewma(handOver, late);
      const moveToMain = (idle >= IDLE_MS ? idle : -Math.max(0, late - handOver)) / (cM + cW);
      f = Math.min(F_MAX, Math.max(F_MIN, f - (GAIN * moveToMain) / o.n));
    },
  };
}
