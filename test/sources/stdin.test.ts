import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { stdinSourceSchema } from '../../src/sources/config.js';
import { createStdinSource } from '../../src/sources/stdin.js';
import type { SourceBatch } from '../../src/sources/types.js';
import { lineFramer, partialFramer, silent, sleep, waitFor } from './file/helpers.js';

const cfg = (o: Record<string, unknown> = {}) => stdinSourceSchema.parse({ type: 'stdin', ...o });

function collect() {
  const batches: SourceBatch[] = [];
  return {
    batches,
    texts: () => batches.flatMap((b) => b.records.map((r) => r.text)),
    handler: (b: SourceBatch) => {
      batches.push(b);
      return Promise.resolve();
    },
  };
}

describe('createStdinSource', () => {
  it('emits every line, including a last one without newline, then finishes', async () => {
    const input = Readable.from([Buffer.from('{"a":1}\n{"b"'), Buffer.from(':2}\n{"c":3}')]);
    const src = createStdinSource('pipe', cfg(), {
      framerFor: () => lineFramer(),
      logger: silent,
      input,
    });
    const c = collect();
    await src.start(c.handler);
    await src.finished;
    expect(c.texts()).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
    const records = c.batches.flatMap((b) => b.records);
    expect(records.map((r) => r.offset)).toEqual([0, 8, 16]);
    for (const b of c.batches) {
      expect(b.checkpoint).toBeNull();
      expect(b.file).toBe('-');
      expect(b.source).toBe('pipe');
    }
    expect(c.batches.reduce((n, b) => n + b.bytesRead, 0)).toBe(23);
    expect(src.stats).toEqual({ linesRead: 3, bytesRead: 23, oversized: 0 });
  });

  it('uses a fresh random stream id per run', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const src = createStdinSource('pipe', cfg(), {
        framerFor: () => lineFramer(),
        logger: silent,
        input: Readable.from([Buffer.from('x\n')]),
      });
      const c = collect();
      await src.start(c.handler);
      await src.finished;
      ids.add(c.batches[0]!.streamId);
    }
    expect(ids.size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}$/);
  });

  it('bounds an endless line (truncate) and keeps the following lines', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 0x61);
    const input = Readable.from([
      big.subarray(0, 1_000_000),
      big.subarray(1_000_000),
      Buffer.from('\nnext\n'),
    ]);
    const src = createStdinSource('pipe', cfg({ max_line_bytes: '4KiB' }), {
      framerFor: () => lineFramer(),
      logger: silent,
      input,
    });
    const c = collect();
    await src.start(c.handler);
    await src.finished;
    const records = c.batches.flatMap((b) => b.records);
    expect(records.map((r) => [r.text.length, r.truncated ?? false])).toEqual([
      [4096, true],
      [4, false],
    ]);
    expect(src.stats.oversized).toBe(1);
  });

  it('skips an over-long line with oversized_lines: skip', async () => {
    const input = Readable.from([Buffer.from('a'.repeat(5000) + '\nok\n')]);
    const src = createStdinSource(
      'pipe',
      cfg({ max_line_bytes: '1KiB', oversized_lines: 'skip' }),
      {
        framerFor: () => lineFramer(),
        logger: silent,
        input,
      },
    );
    const c = collect();
    await src.start(c.handler);
    await src.finished;
    expect(c.texts()).toEqual(['ok']);
    expect(c.batches.reduce((n, b) => n + b.oversized, 0)).toBe(1);
  });

  it('keeps UTF-8 split across chunks intact', async () => {
    const bytes = Buffer.from('€uro\n');
    const input = Readable.from([bytes.subarray(0, 1), bytes.subarray(1, 2), bytes.subarray(2)]);
    const src = createStdinSource('pipe', cfg(), {
      framerFor: () => lineFramer(),
      logger: silent,
      input,
    });
    const c = collect();
    await src.start(c.handler);
    await src.finished;
    expect(c.texts()).toEqual(['€uro']);
  });

  it('hands lines over as they arrive on a quiet pipe, with backpressure', async () => {
    const input = new PassThrough();
    const src = createStdinSource('pipe', cfg(), {
      framerFor: () => lineFramer(),
      logger: silent,
      input,
    });
    let inFlight = 0;
    let peak = 0;
    const seen: string[] = [];
    await src.start(async (b) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await sleep(5);
      seen.push(...b.records.map((r) => r.text));
      inFlight--;
    });
    input.write('first\n');
    await waitFor(() => seen.length === 1, 'first line without EOF');
    for (let i = 0; i < 50; i++) input.write(`l${i}\n`);
    input.end();
    await src.finished;
    expect(seen).toHaveLength(51);
    expect(peak).toBe(1);
  });

  it('flushes a pending partial as incomplete at EOF', async () => {
    const input = Readable.from([Buffer.from('F whole\nP dangling\n')]);
    const src = createStdinSource('pipe', cfg({ format: 'cri' }), {
      framerFor: () => partialFramer(),
      logger: silent,
      input,
    });
    const c = collect();
    await src.start(c.handler);
    await src.finished;
    const records = c.batches.flatMap((b) => b.records);
    expect(records).toEqual([
      { text: 'whole', offset: 0 },
      { text: 'dangling', offset: 8, incomplete: true },
    ]);
  });

  it('retries a failing handler so no line is lost', async () => {
    const input = Readable.from([Buffer.from('a\nb\n')]);
    const src = createStdinSource('pipe', cfg(), {
      framerFor: () => lineFramer(),
      logger: silent,
      input,
    });
    let failures = 1;
    const texts: string[] = [];
    await src.start((b) => {
      if (failures-- > 0) return Promise.reject(new Error('busy'));
      texts.push(...b.records.map((r) => r.text));
      return Promise.resolve();
    });
    await src.finished;
    expect(texts).toEqual(['a', 'b']);
  });

  it('stop() ends a pipe that never closes, handing over what was read', async () => {
    const input = new PassThrough();
    const src = createStdinSource('pipe', cfg(), {
      framerFor: () => lineFramer(),
      logger: silent,
      input,
    });
    const c = collect();
    await src.start(c.handler);
    input.write('one\ntwo-without-newline');
    await waitFor(() => c.texts().length === 1, 'first line');
    await src.stop();
    await src.finished;
    expect(c.texts()).toEqual(['one', 'two-without-newline']);
  });

  it('survives an input stream error', async () => {
    const input = new PassThrough();
    const src = createStdinSource('pipe', cfg(), {
      framerFor: () => lineFramer(),
      logger: silent,
      input,
    });
    const c = collect();
    await src.start(c.handler);
    input.write('ok\n');
    await waitFor(() => c.texts().length === 1, 'line before error');
    input.destroy(new Error('EIO'));
    await src.finished;
    expect(c.texts()).toEqual(['ok']);
  });

  it('rejects a second start', async () => {
    const src = createStdinSource('pipe', cfg(), {
      framerFor: () => lineFramer(),
      logger: silent,
      input: Readable.from([]),
    });
    await src.start(() => Promise.resolve());
    await expect(src.start(() => Promise.resolve())).rejects.toThrow(/already started/);
    await src.finished;
  });
});
