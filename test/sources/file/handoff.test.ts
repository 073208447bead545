import { describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import { Writable } from 'node:stream';
import { deliver, errorKind } from '../../../src/sources/file/handoff.js';
import type { SourceBatch } from '../../../src/sources/types.js';

const batch: SourceBatch = {
  source: 's',
  file: '/x.log',
  streamId: 'id',
  records: [{ text: '{"password":"hunter2"}', offset: 0 }],
  checkpoint: null,
  bytesRead: 23,
  linesRead: 1,
  oversized: 0,
};

function capture() {
  const lines: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    }),
  );
  return { logger, lines };
}

describe('deliver', () => {
  it('retries the same batch until the handler accepts it, logging no content', async () => {
    const { logger, lines } = capture();
    let calls = 0;
    const handler = vi.fn((b: SourceBatch) => {
      expect(b).toBe(batch);
      if (++calls < 3) return Promise.reject(new Error('cannot store {"password":"hunter2"}'));
      return Promise.resolve();
    });
    const ok = await deliver(handler, batch, { signal: new AbortController().signal, logger });
    expect(ok).toBe(true);
    expect(handler).toHaveBeenCalledTimes(3);
    expect(lines).toHaveLength(2);
    expect(lines.join('')).not.toContain('hunter2');
    expect(JSON.parse(lines[0]!)).toMatchObject({ errorName: 'Error', file: '/x.log' });
  });

  it('gives up when aborted', async () => {
    const { logger } = capture();
    const ac = new AbortController();
    const handler = vi.fn(() => Promise.reject(new Error('down')));
    const p = deliver(handler, batch, { signal: ac.signal, logger });
    setTimeout(() => ac.abort(), 30);
    expect(await p).toBe(false);
  });
});

describe('errorKind', () => {
  it('keeps name and code only', () => {
    const e = Object.assign(new Error('secret stuff'), { code: 'SQLITE_FULL' });
    expect(errorKind(e)).toEqual({ errorName: 'Error', errorCode: 'SQLITE_FULL' });
    expect(errorKind('x')).toEqual({ errorName: 'string' });
  });
});
