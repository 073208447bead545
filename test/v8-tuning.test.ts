import { beforeEach, describe, expect, it, vi } from 'vitest';

const setFlags = vi.fn();
vi.mock('node:v8', () => ({ setFlagsFromString: setFlags }));
const { governHeapGrowing, HEAP_GROWING_PERCENT, tuneV8 } = await import('../src/v8-tuning.js');

const SHIPPED = ['--max-old-space-size=256', '--max-semi-space-size=8'];

describe('tuneV8', () => {
  beforeEach(() => setFlags.mockClear());

  it('lets the old generation double between full collections and keeps wasm on its baseline tier', () => {
    expect(tuneV8(SHIPPED)).toEqual(['--heap-growing-percent=100', '--liftoff-only']);
    expect(HEAP_GROWING_PERCENT).toBe(100);
    expect(setFlags).toHaveBeenCalledTimes(2);
    expect(setFlags).toHaveBeenCalledWith('--heap-growing-percent=100');
    expect(setFlags).toHaveBeenCalledWith('--liftoff-only');
  });

  it.each(['--heap-growing-percent=30', '--heap_growing_percent=0', '--heap-growing-percent'])(
    'leaves a heap growing factor given on the node command line alone (%s)',
    (flag) => {
      expect(tuneV8([...SHIPPED, flag])).toEqual(['--liftoff-only']);
      expect(setFlags).toHaveBeenCalledExactlyOnceWith('--liftoff-only');
    },
  );

  it.each(['--liftoff-only', '--no-liftoff-only', '--liftoff_only', '--no_liftoff_only'])(
    'leaves the wasm tier alone when the node command line sets it (%s)',
    (flag) => {
      expect(tuneV8([...SHIPPED, flag])).toEqual(['--heap-growing-percent=100']);
      expect(setFlags).toHaveBeenCalledExactlyOnceWith('--heap-growing-percent=100');
    },
  );

  it('does not mistake other flags for these', () => {
    expect(tuneV8(['--liftoff', '--heap-snapshot-signal=SIGUSR2'])).toHaveLength(2);
  });
});

describe('governHeapGrowing', () => {
  const run = (samples: number[]) => {
    const set = vi.fn();
    const queue = [...samples];
    const g = governHeapGrowing({
      intervalMs: 60_000,
      utilisation: () => queue.shift() ?? NaN,
      setFlags: set,
    });
    const states: boolean[] = [];
    for (let i = 0; i < samples.length; i++) {
      g.sample();
      states.push(g.busy);
    }
    g.stop();
    return { set, states };
  };

  it('starts busy, gives V8 its own factor back when quiet and doubles it again under load', () => {
    const { set, states } = run([0.9, 0.2, 0.1, 0.7, 0.95]);
    expect(states).toEqual([true, false, false, true, true]);
    expect(set.mock.calls).toEqual([['--heap-growing-percent=0'], ['--heap-growing-percent=100']]);
  });

  it('does not flap between the thresholds', () => {
    const { set, states } = run([0.2, 0.35, 0.45, 0.32, 0.49, 0.31]);
    expect(states).toEqual([false, false, false, false, false, false]);
    expect(set).toHaveBeenCalledExactlyOnceWith('--heap-growing-percent=0');
    const busy = run([0.4, 0.35, 0.31, 0.45]);
    expect(busy.states.every(Boolean)).toBe(true);
    expect(busy.set).not.toHaveBeenCalled();
  });

  it('ignores a sample it cannot read', () => {
    const { set, states } = run([NaN, Infinity]);
    expect(states).toEqual([true, true]);
    expect(set).not.toHaveBeenCalled();
  });

  it('follows the real event loop on its own timer, and stops', async () => {
    const set = vi.fn();
    const g = governHeapGrowing({ intervalMs: 50, setFlags: set });
    // An idle event loop (this test only waits): utilisation far below the threshold.
    await new Promise((r) => setTimeout(r, 400));
    expect(g.busy).toBe(false);
    expect(set).toHaveBeenCalledExactlyOnceWith('--heap-growing-percent=0');
    // A busy loop: the governor's tick, overdue by then, runs before a timer set after it.
    const busyFor = (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until);
    };
    busyFor(200);
    await new Promise((r) => setTimeout(r, 0));
    expect(g.busy).toBe(true);
    expect(set).toHaveBeenLastCalledWith('--heap-growing-percent=100');
    g.stop();
    // After stop() nothing changes.
    await new Promise((r) => setTimeout(r, 200));
    expect(set).toHaveBeenCalledTimes(2);
  });
});
