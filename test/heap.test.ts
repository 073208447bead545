import { beforeEach, describe, expect, it, vi } from 'vitest';

const setFlags = vi.fn();
vi.mock('node:v8', () => ({ setFlagsFromString: setFlags }));
const { HEAP_GROWING_PERCENT, tuneHeap } = await import('../src/heap.js');

describe('tuneHeap', () => {
  beforeEach(() => setFlags.mockClear());

  it('lets the old generation double between full collections', () => {
    expect(tuneHeap(['--max-old-space-size=256', '--max-semi-space-size=8'])).toBe(true);
    expect(HEAP_GROWING_PERCENT).toBe(100);
    expect(setFlags).toHaveBeenCalledExactlyOnceWith('--heap-growing-percent=100');
  });

  it.each(['--heap-growing-percent=30', '--heap_growing_percent=0', '--heap-growing-percent'])(
    'leaves a value given on the node command line alone (%s)',
    (flag) => {
      expect(tuneHeap(['--max-old-space-size=256', flag])).toBe(false);
      expect(setFlags).not.toHaveBeenCalled();
    },
  );
});
