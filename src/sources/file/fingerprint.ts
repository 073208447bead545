/**
 * File identity: which stream a file on disk is, and where to resume it.
 *
 * Neither (dev, inode) nor a content hash is enough alone (tailing.md "Quick design
 * takeaways"): inodes are reused (Vector #457, Fluent Bit #4895) and first lines repeat
 * across files (Vector #5833). A checkpoint therefore applies only when dev+ino match,
 * the hash of the file's first `headLen` bytes still matches, and the hash of the ≤32
 * bytes just before the saved offset matches (Fluent Bit's offset_marker, tailing.md §2).
 * Anything else is a different stream: read from 0 under a new fileId.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { FileCheckpoint } from '../types.js';

/** Bytes of the file's start covered by headHash (Vector's historic 256-byte fingerprint). */
export const HEAD_BYTES = 256;
/** Bytes before the offset covered by tailHash (Fluent Bit's offset_marker window). */
export const TAIL_BYTES = 32;
/**
 * tailHash of a stream that ended (its file was truncated under it): not hex, so no
 * content ever matches it and the stream is never resumed.
 */
export const RETIRED_TAIL = 'retired';

/** sha256, hex, first 16 chars: the hash format of FileCheckpoint. */
export function hash16(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex').slice(0, 16);
}

/** Read up to `length` bytes at `position`; shorter only at end of file. */
export async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** The ≤ TAIL_BYTES bytes just before `offset` (empty at 0). */
export function readTail(fh: FileHandle, offset: number): Promise<Buffer> {
  const n = Math.min(TAIL_BYTES, offset);
  return readAt(fh, offset - n, n);
}

/**
 * A new stream id: unique per (source, file, content, moment), so a truncate-and-rewrite
 * with identical first bytes still gets ids that never collide with the old stream's.
 */
export function newFileId(
  source: string,
  dev: number,
  ino: number,
  head: Buffer,
  now: number,
): string {
  return createHash('sha256')
    .update(`${source}\0${dev}\0${ino}\0${now}\0`)
    .update(randomBytes(8))
    .update(head)
    .digest('hex')
    .slice(0, 16);
}

export interface ResumePoint {
  checkpoint: FileCheckpoint;
  /** The bytes just before checkpoint.offset, as read now (seed for live tail checks). */
  tail: Buffer;
}

/**
 * The checkpoint (among those with this file's dev+ino) that still describes this
 * file's content, newest first; undefined when none does (inode reuse, truncation,
 * truncate-and-rewrite while we were down).
 */
export async function findResumePoint(
  fh: FileHandle,
  size: number,
  candidates: readonly FileCheckpoint[],
): Promise<ResumePoint | undefined> {
  const sorted = [...candidates].sort((a, b) => b.updatedAt - a.updatedAt);
  for (const c of sorted) {
    if (c.tailHash === RETIRED_TAIL) continue;
    if (!Number.isSafeInteger(c.offset) || c.offset < 0 || c.offset > size) continue;
    if (!Number.isSafeInteger(c.headLen) || c.headLen < 0 || c.headLen > HEAD_BYTES) continue;
    const head = await readAt(fh, 0, c.headLen);
    if (head.length !== c.headLen || hash16(head) !== c.headHash) continue;
    const tail = await readTail(fh, c.offset);
    const tailHash = c.offset === 0 ? '' : hash16(tail);
    if (tail.length !== Math.min(TAIL_BYTES, c.offset) || tailHash !== c.tailHash) continue;
    return { checkpoint: c, tail };
  }
  return undefined;
}

/**
 * Where `read_from: end` / `ignore_older` start: just after the last `\n` before
 * `size`, so the line being written is read whole once it completes. Looks back at
 * most `maxBack` bytes (a longer last line is oversized anyway); undefined when no
 * newline was found within that window and the file is longer than it (the caller
 * then starts at `size` inside the line, discarding to the next `\n`).
 */
export async function lastLineStart(
  fh: FileHandle,
  size: number,
  maxBack: number,
): Promise<number | undefined> {
  const step = 64 * 1024;
  let end = size;
  const floor = Math.max(0, size - maxBack);
  while (end > floor) {
    const start = Math.max(floor, end - step);
    const buf = await readAt(fh, start, end - start);
    const nl = buf.lastIndexOf(10);
    if (nl !== -1) return start + nl + 1;
    end = start;
  }
  return floor === 0 ? 0 : undefined;
}
