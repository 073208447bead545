import { appendFile, open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  RETIRED_TAIL,
  findResumePoint,
  hash16,
  lastLineStart,
  newFileId,
  readAt,
  readTail,
} from '../../../src/sources/file/fingerprint.js';
import type { FileCheckpoint } from '../../../src/sources/types.js';
import { tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(() => cleanup());

function checkpointFor(
  content: Buffer,
  offset: number,
  extra: Partial<FileCheckpoint> = {},
): FileCheckpoint {
  const headLen = Math.min(256, offset);
  return {
    source: 's',
    fileId: 'f1',
    path: '/x',
    dev: 1,
    ino: 2,
    offset,
    headLen,
    headHash: hash16(content.subarray(0, headLen)),
    tailHash: offset === 0 ? '' : hash16(content.subarray(Math.max(0, offset - 32), offset)),
    updatedAt: 1,
    ...extra,
  };
}

async function withFile<T>(
  content: string | Buffer,
  fn: (fh: Awaited<ReturnType<typeof open>>) => Promise<T>,
) {
  const p = path.join(dir, 'f.log');
  await writeFile(p, content);
  const fh = await open(p, 'r');
  try {
    return await fn(fh);
  } finally {
    await fh.close();
  }
}

describe('hash16 / readAt / readTail', () => {
  it('hashes to 16 hex chars', () => {
    expect(hash16(Buffer.from('x'))).toMatch(/^[0-9a-f]{16}$/);
    expect(hash16(Buffer.from('x'))).not.toBe(hash16(Buffer.from('y')));
  });

  it('reads ranges, shorter at EOF', async () => {
    await withFile('0123456789', async (fh) => {
      expect((await readAt(fh, 2, 3)).toString()).toBe('234');
      expect((await readAt(fh, 8, 10)).toString()).toBe('89');
      expect((await readTail(fh, 0)).length).toBe(0);
      expect((await readTail(fh, 5)).toString()).toBe('01234');
    });
    const big = Buffer.alloc(100, 0x61);
    await withFile(big, async (fh) => expect((await readTail(fh, 100)).length).toBe(32));
  });
});

describe('newFileId', () => {
  it('is unique even for the same file, head and moment', () => {
    const a = newFileId('s', 1, 2, Buffer.from('h'), 5);
    const b = newFileId('s', 1, 2, Buffer.from('h'), 5);
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(a).not.toBe(b);
  });
});

describe('findResumePoint', () => {
  const content = Buffer.from(
    Array.from({ length: 40 }, (_, i) => `line number ${i} of the log\n`).join(''),
  );

  it('resumes when head and tail hashes still match (also after appends)', async () => {
    const c = checkpointFor(content, 300);
    await withFile(Buffer.concat([content, Buffer.from('appended\n')]), async (fh) => {
      const r = await findResumePoint(fh, content.length + 9, [c]);
      expect(r?.checkpoint).toBe(c);
      expect(r?.tail.equals(content.subarray(268, 300))).toBe(true);
    });
  });

  it('resumes an empty-offset checkpoint of a tiny file', async () => {
    const c = checkpointFor(Buffer.alloc(0), 0);
    await withFile('', async (fh) =>
      expect((await findResumePoint(fh, 0, [c]))?.checkpoint).toBe(c),
    );
  });

  it('rejects when the file is now shorter than the offset (truncated while down)', async () => {
    const c = checkpointFor(content, 300);
    await withFile(content.subarray(0, 200), async (fh) =>
      expect(await findResumePoint(fh, 200, [c])).toBeUndefined(),
    );
  });

  it('rejects when the head changed (inode reused by another file)', async () => {
    const c = checkpointFor(content, 300);
    const other = Buffer.from(content);
    other[5] = 0x21;
    await withFile(other, async (fh) =>
      expect(await findResumePoint(fh, other.length, [c])).toBeUndefined(),
    );
  });

  it('rejects when only the bytes before the offset changed (truncate and rewrite)', async () => {
    const c = checkpointFor(content, 700);
    const other = Buffer.from(content);
    other[690] = 0x21;
    await withFile(other, async (fh) =>
      expect(await findResumePoint(fh, other.length, [c])).toBeUndefined(),
    );
  });

  it('never resumes a retired stream, and prefers the newest valid checkpoint', async () => {
    const retired = checkpointFor(content, 300, { tailHash: RETIRED_TAIL, updatedAt: 9 });
    const old = checkpointFor(content, 100, { fileId: 'old', updatedAt: 1 });
    const newer = checkpointFor(content, 400, { fileId: 'new', updatedAt: 5 });
    await withFile(content, async (fh) => {
      expect(await findResumePoint(fh, content.length, [retired])).toBeUndefined();
      expect(
        (await findResumePoint(fh, content.length, [old, retired, newer]))?.checkpoint.fileId,
      ).toBe('new');
    });
  });

  it('rejects garbage checkpoints instead of throwing', async () => {
    const bad = [
      checkpointFor(content, 100, { offset: -1 }),
      checkpointFor(content, 100, { offset: Number.NaN }),
      checkpointFor(content, 100, { headLen: 10_000 }),
      checkpointFor(content, 100, { headHash: 'nope' }),
    ];
    await withFile(content, async (fh) =>
      expect(await findResumePoint(fh, content.length, bad)).toBeUndefined(),
    );
  });
});

describe('lastLineStart', () => {
  it('finds the start of the last (possibly unterminated) line', async () => {
    await withFile('a\nbb\ncc', async (fh) => expect(await lastLineStart(fh, 7, 100)).toBe(5));
    await withFile('a\nbb\n', async (fh) => expect(await lastLineStart(fh, 5, 100)).toBe(5));
    await withFile('no newline', async (fh) => expect(await lastLineStart(fh, 10, 100)).toBe(0));
  });

  it('looks back across 64 KiB steps but no further than asked', async () => {
    const p = path.join(dir, 'big.log');
    await writeFile(p, 'first\n');
    await appendFile(p, Buffer.alloc(200 * 1024, 0x61));
    const fh = await open(p, 'r');
    try {
      const size = 6 + 200 * 1024;
      expect(await lastLineStart(fh, size, size)).toBe(6);
      expect(await lastLineStart(fh, size, 1000)).toBeUndefined();
    } finally {
      await fh.close();
    }
  });
});
