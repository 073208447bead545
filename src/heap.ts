/**
 * V8 heap tuning the agent applies to itself at start.
 *
 * Every shipped way to run the agent caps the heap (`--max-old-space-size=256`, see the
 * README's "Memory and threads"). With a cap that small V8 treats the process as a
 * small device and lets the old generation grow only 1.3× past what survived the last
 * full collection before it marks again. The agent's live heap is about 20 MiB, so under
 * load it ran a mark-compact every 100 ms or so: about 60 in a 200,000-line run, and
 * garbage collection was the largest item of the main thread's profile. A factor of 2
 * (`--heap-growing-percent=100`) cut full collections to about 25 and GC time by 40%
 * with the same peak RSS; 3 saved a little more time for 15-20 MiB more RSS (issue 7
 * measurements with --trace-gc-nvp).
 *
 * The flag cannot be given in NODE_OPTIONS (Node refuses V8 flags outside its short
 * list), so the agent sets it from code; V8 reads it whenever it sizes the next full
 * collection, so setting it after start-up takes effect. A value given on the node
 * command line wins.
 */
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 100;

/** Apply the heap tuning unless the node command line already sets the flag. */
export function tuneHeap(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a))) return false;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
