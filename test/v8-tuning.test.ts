import { beforeEach, describe, expect, it, vi } from 'vitest';

const setFlags = vi.fn();
vi.mock('node:v8', () => ({ setFlagsFromString: setFlags }));
const { HEAP_GROWING_PERCENT, tuneV8 } = await import('../src/v8-tuning.js');

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
