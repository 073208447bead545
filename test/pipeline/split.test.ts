import { describe, expect, it } from 'vitest';
import { createSplitter, MIN_SPLIT_RECORDS, MIN_WORKER_SLICE } from '../../src/pipeline/split.js';

/**
 * A model of one batch: the main thread processes its records at `cm` ms each, the worker its
 * records at `cw` ms each; after its own records the main thread has `other` ms of other work
 * (reading, committing, sinks) that it can do while it waits. The result reaches the main
 * thread `wire` ms after the worker is done and takes it `deser` ms to read. Returns what the
 * pipeline would observe.
 */
function simulate(
  n: number,
  k: number,
  cm: number,
  cw: number,
  other: number,
  wire = 0,
  deser = 0,
) {
  const workerDone = k * cw;
  const mainFree = (n - k) * cm + other;
  const arrival = workerDone + wire;
  const handled = Math.max(arrival, mainFree) + deser;
  return {
    n,
    k,
    mainMs: (n - k) * cm,
    workerMs: k * cw,
    idleMs: Math.max(0, arrival - mainFree),
    lateMs: handled - workerDone,
  };
}

function converge(cm: number, cw: number, other: number, wire = 0, deser = 0, n = 1000) {
  const s = createSplitter();
  for (let i = 0; i < 120; i++)
    s.observe(simulate(n, s.workerShare(n), cm, cw, other, wire, deser));
  return s;
}

describe('splitter', () => {
  it('keeps small batches on the main thread', () => {
    const s = createSplitter();
    expect(s.workerShare(0)).toBe(0);
    expect(s.workerShare(MIN_SPLIT_RECORDS - 1)).toBe(0);
    expect(s.workerShare(MIN_SPLIT_RECORDS)).toBeGreaterThanOrEqual(MIN_WORKER_SLICE);
  });

  it('starts with half of a large batch', () => {
    expect(createSplitter().workerShare(1000)).toBe(500);
  });

  it('balances equal threads with no other work at half', () => {
    const s = converge(0.03, 0.03, 0);
    expect(s.workerShare(1000)).toBeGreaterThan(480);
    expect(s.workerShare(1000)).toBeLessThan(520);
  });

  it('gives the worker more when the main thread has other work, so both finish together', () => {
    // Optimum: k·cw = (n − k)·cm + other  →  k = (n·cm + other) / (cm + cw) = 750.
    const s = converge(0.03, 0.03, 15);
    expect(Math.abs(s.workerShare(1000) - 750)).toBeLessThan(25);
  });

  it('does not let the hand-over time leave the main thread idle on every batch', () => {
    // Optimum: the result arrives as the main thread gets free:
    // k·cw + wire = (n − k)·cm  →  k = (n·cm − wire) / (cm + cw) = 450.
    const s = converge(0.03, 0.03, 0, 3, 1);
    expect(Math.abs(s.workerShare(1000) - 450)).toBeLessThan(25);
  });

  it('gives the main thread more when the worker is slower', () => {
    // k = n·cm / (cm + cw) = 250.
    const s = converge(0.02, 0.06, 0);
    expect(Math.abs(s.workerShare(1000) - 250)).toBeLessThan(25);
  });

  it('hands the worker everything when the main thread is always busier', () => {
    const s = converge(0.03, 0.03, 100);
    expect(s.fraction).toBe(1);
    expect(s.workerShare(1000)).toBe(1000);
  });

  it('keeps a small probe share when the worker is very slow', () => {
    const s = converge(0.01, 1, 0);
    expect(s.fraction).toBe(0.05);
    expect(s.workerShare(1000)).toBe(50);
  });

  it('shortens the slice by records already queued in the worker', () => {
    const s = createSplitter();
    expect(s.workerShare(1000, 200)).toBe(400);
    expect(s.workerShare(100, 1000)).toBe(0);
  });

  it('ignores observations that are not numbers or do not add up', () => {
    const s = createSplitter();
    s.observe({ n: 1000, k: 500, mainMs: NaN, workerMs: 10, idleMs: 5, lateMs: 0 });
    s.observe({ n: 1000, k: 2000, mainMs: 10, workerMs: 10, idleMs: 5, lateMs: 0 });
    s.observe({ n: 1000, k: 500, mainMs: 10, workerMs: 10, idleMs: Infinity, lateMs: 0 });
    expect(s.fraction).toBe(0.5);
    expect(s.workerShare(1000)).toBe(500);
  });

  describe('read-ahead batches', () => {
    /**
     * Steady pipeline model: while the worker runs its k records of a batch (k·cw ms) the main
     * thread does its n − k records and `other` ms of reading and committing. When the next
     * batch is ready, the worker still has records queued exactly when it was the slower side.
     */
    function aheadConverge(cm: number, cw: number, other: number, n = 1000) {
      const s = createSplitter();
      let queued = 0;
      const seen: number[] = [];
      for (let i = 0; i < 200; i++) {
        const k = s.aheadShare(n, queued);
        queued = k * cw > (n - k) * cm + other ? k : 0;
        if (i >= 150) seen.push(s.aheadFraction);
      }
      return seen;
    }

    it('starts with most of the batch on the worker', () => {
      const s = createSplitter();
      expect(s.aheadShare(1000, 0)).toBeGreaterThan(800);
      expect(s.aheadShare(MIN_SPLIT_RECORDS - 1, 0)).toBe(0);
    });

    it('settles where the worker just keeps up', () => {
      // Balance: 0.02·k = 15 + 0.02·(1000 − k)  →  k = 875.
      for (const f of aheadConverge(0.02, 0.02, 15)) expect(Math.abs(f - 0.875)).toBeLessThan(0.03);
    });

    it('gives the worker everything when the main thread has more other work', () => {
      for (const f of aheadConverge(0.02, 0.02, 40)) expect(f).toBeGreaterThan(0.97);
    });

    it('never gives the worker less than half, however slow it is', () => {
      for (const f of aheadConverge(0.01, 1, 0)) expect(f).toBeCloseTo(0.5, 5);
    });
  });
});
