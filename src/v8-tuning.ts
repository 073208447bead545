/**
 * V8 flags the agent sets on itself at start (`auditshipper run`).
 *
 * Node refuses these flags in NODE_OPTIONS (it accepts only a short list of V8 flags
 * there), so the agent sets them from code with v8.setFlagsFromString before the
 * pipeline and the sinks start. A flag given on the node command line, in either sense
 * (`--liftoff-only` or `--no-liftoff-only`), wins: the agent leaves that one alone.
 *
 * - `--heap-growing-percent=100`. Every shipped way to run the agent caps the heap
 *   (`--max-old-space-size=256`, see the README's "Memory and threads"). With a cap that
 *   small V8 treats the process as a small device and lets the old generation grow only
 *   1.3× past what survived the last full collection before it marks again. The agent's
 *   live heap is about 20 MiB, so under load it ran a mark-compact every 100 ms or so:
 *   about 60 in a 200,000-line run, and garbage collection was the largest item of the
 *   main thread's profile. A factor of 2 cut full collections to about 25 and GC time by
 *   40% with the same peak RSS; 3 saved a little more time for 15-20 MiB more RSS
 *   (issue 7 measurements with --trace-gc-nvp). V8 reads the flag whenever it sizes the
 *   next full collection, so setting it after start-up takes effect, and so does
 *   changing it: governHeapGrowing keeps it only while the agent is busy.
 *
 * - `--liftoff-only`. The HTTP client's response parser (llhttp) is WebAssembly. Once
 *   a sink has sent a few hundred requests V8 re-compiles the parser's one large
 *   state-machine function with its optimising compiler, on a background thread: about
 *   a second of CPU and 30-35 MiB of compiler memory, which was the agent's peak RSS
 *   (a backlog drain peaked at 188-195 MiB with it and 158-163 MiB without; `strace -k`
 *   showed the growth in `ExecuteTurbofanWasmCompilation`). The baseline (Liftoff)
 *   code parses a status line and a few headers per request, for which optimised code
 *   buys nothing measurable. V8 decides on tier-up when it compiles a module, and the
 *   parser is compiled on the first connection, after this runs.
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 100;
/** The doubled heap growing factor, as tuneV8 sets it and the governor restores it. */
export const HEAP_GROWING_FLAG = `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
/** The flag that gives V8 back its own growing factor (0: V8 chooses). */
const HEAP_GROWING_DEFAULT = '--heap-growing-percent=0';

/** Each flag, and the names (with `-` or `_`) that mean the command line already set it. */
export const V8_TUNING: readonly { flag: string; given: RegExp }[] = [
  { flag: HEAP_GROWING_FLAG, given: /^--heap[-_]growing[-_]percent(=|$)/ },
  { flag: '--liftoff-only', given: /^--(no[-_])?liftoff[-_]only(=|$)/ },
];

/** Event-loop utilisation since the previous call (the first call: since start-up). */
function loopUtilisation(): () => number {
  let last = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const u = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    return u;
  };
}

export interface HeapGrowingOptions {
  /** How often the event loop's utilisation is sampled. Default 2 s. */
  intervalMs?: number;
  /** Utilisation at or above which the agent counts as busy. Default 0.5. */
  busyAbove?: number;
  /** Utilisation below which it counts as quiet again. Default 0.3. */
  quietBelow?: number;
  /** Event-loop utilisation since the previous call (tests inject it). */
  utilisation?: () => number;
  /** Where flags go (tests inject it). */
  setFlags?: (flags: string) => void;
}

export interface HeapGrowingGovernor {
  /** True while the doubled growing factor is in force. */
  readonly busy: boolean;
  /** Take one sample now (the timer calls this). */
  sample(): void;
  stop(): void;
}

/**
 * Keeps the doubled heap growing factor only while the agent is busy. Under load it
 * saves garbage-collection time (above); at a steady few thousand lines a second there
 * are few full collections to save, and the doubled factor only lets the old generation
 * stay larger: about 12 MiB of RSS in a 10-minute run at 5,000 lines/s, and most of
 * that run's slow growth (issue 7). So the event loop's utilisation is sampled every
 * couple of seconds: at or above `busyAbove` the factor is doubled, below `quietBelow`
 * V8 chooses again (the gap keeps it from flapping). V8 reads the flag each time it
 * sizes the next full collection. Starts busy, as `tuneV8` leaves it: an agent usually
 * starts with a backlog to read.
 */
export function governHeapGrowing(opts: HeapGrowingOptions = {}): HeapGrowingGovernor {
  const set = opts.setFlags ?? setFlagsFromString;
  const busyAbove = opts.busyAbove ?? 0.5;
  const quietBelow = opts.quietBelow ?? 0.3;
  const measure = opts.utilisation ?? loopUtilisation();
  let busy = true;
  const sample = () => {
    const u = measure();
    if (!Number.isFinite(u)) return;
    if (!busy && u >= busyAbove) {
      busy = true;
      set(HEAP_GROWING_FLAG);
    } else if (busy && u < quietBelow) {
      busy = false;
      set(HEAP_GROWING_DEFAULT);
    }
  };
  const timer = setInterval(sample, opts.intervalMs ?? 2000);
  timer.unref();
  return {
    get busy() {
      return busy;
    },
    sample,
    stop: () => clearInterval(timer),
  };
}

/**
 * Apply the tuning, flag by flag, unless the node command line (`execArgv`) already sets
 * that flag. Returns the flags applied.
 */
export function tuneV8(execArgv: readonly string[] = process.execArgv): string[] {
  const applied: string[] = [];
  for (const t of V8_TUNING) {
    if (execArgv.some((a) => t.given.test(a))) continue;
    setFlagsFromString(t.flag);
    applied.push(t.flag);
  }
  return applied;
}
