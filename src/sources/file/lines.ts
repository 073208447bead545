/**
 * Byte-level line splitting shared by the file and stdin sources.
 *
 * Works on bytes, not strings: offsets are byte offsets and a multi-byte UTF-8
 * character split across two reads stays intact (framing decodes whole lines).
 * Memory is bounded by `maxLineBytes`: an over-long line is cut (truncate) or
 * dropped (skip) while the rest of it is skipped up to the next `\n`; the stream
 * is never abandoned (tailing.md §2, Fluent Bit's Skip_Long_Lines pitfall; §6.11).
 * Unlike split2's flush, an unterminated remainder is held, never emitted, until
 * its `\n` arrives or the caller declares end of stream with finish() (tailing.md §6.2).
 */
import type { PhysicalLine } from '../../framing/types.js';

export interface SplitLine extends PhysicalLine {
  /** Longer than max_line_bytes with `oversized: skip`: `bytes` is empty, the line is dropped. */
  skipped: boolean;
}

export interface LineSplitterOptions {
  maxLineBytes: number;
  oversized: 'truncate' | 'skip';
  /**
   * Drop NUL bytes at the start of a line: the sparse hole a non-O_APPEND writer
   * leaves after copytruncate (tailing.md §2, Fluent Bit). Never content in a log line.
   */
  skipLeadingNul?: boolean;
  /** Begin inside a line whose start was not read: discard up to the first `\n`. */
  startInsideLine?: boolean;
}

export interface LineSplitter {
  /**
   * Split the next chunk of the stream. Returned lines own copies of their bytes,
   * so the caller may reuse `chunk` immediately.
   */
  push(chunk: Buffer): SplitLine[];
  /**
   * End of stream: the held unterminated remainder as a line ending at the
   * current position (`end` is not after a newline), or undefined if none.
   */
  finish(): SplitLine | undefined;
  /** Stream offset just after the last newline seen: where a re-read must start. */
  readonly consumed: number;
  /** Stream offset of the next byte to push. */
  readonly position: number;
  /** Bytes held for the unterminated line (≤ maxLineBytes). */
  readonly held: number;
}

const EMPTY: Buffer = Buffer.alloc(0);
const NL = 10;

/**
 * Largest n ≤ end - start such that bytes [start, start + n) do not end inside a
 * UTF-8 sequence: cutting a line must not manufacture a broken character.
 */
export function utf8CutLength(buf: Buffer, start: number, end: number): number {
  const len = end - start;
  let i = end - 1;
  let cont = 0;
  while (i >= start && cont < 3 && ((buf[i] ?? 0) & 0xc0) === 0x80) {
    i--;
    cont++;
  }
  if (i < start) return len;
  const lead = buf[i] ?? 0;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return end - i < need ? i - start : len;
}

function copyOf(buf: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  buf.copy(out, 0, start, end);
  return out;
}

export function createLineSplitter(opts: LineSplitterOptions, startOffset = 0): LineSplitter {
  const max = opts.maxLineBytes;
  const truncate = opts.oversized === 'truncate';
  const skipNul = opts.skipLeadingNul ?? false;
  if (!Number.isSafeInteger(max) || max < 1) throw new RangeError('maxLineBytes must be ≥ 1');

  let pos = startOffset; // offset of the next byte pushed
  let consumed = startOffset; // offset just after the last newline
  let lineStart = startOffset; // offset of the current line's first byte
  let parts: Buffer[] = [];
  let held = 0;
  let over = false; // current line is longer than max
  let discard = opts.startInsideLine ?? false;

  /** Append bytes [from, to) of chunk to the held line, keeping at most `max`. */
  function hold(chunk: Buffer, from: number, to: number): void {
    if (over) return; // truncate: already holds max bytes; skip: holds nothing
    const n = to - from;
    const room = max - held;
    if (n <= room) {
      if (n > 0) {
        parts.push(copyOf(chunk, from, to));
        held += n;
      }
      return;
    }
    over = true;
    if (truncate) {
      if (room > 0) parts.push(copyOf(chunk, from, from + room));
      held = max;
    } else {
      parts = [];
      held = 0;
    }
  }

  /** The held line, ending at `end`; resets the held state. */
  function take(end: number): SplitLine {
    let line: SplitLine;
    if (over && !truncate) {
      line = { bytes: EMPTY, offset: lineStart, end, truncated: false, skipped: true };
    } else {
      let bytes =
        parts.length === 0 ? EMPTY : parts.length === 1 ? parts[0]! : Buffer.concat(parts, held);
      if (over) bytes = bytes.subarray(0, utf8CutLength(bytes, 0, bytes.length));
      line = { bytes, offset: lineStart, end, truncated: over, skipped: false };
    }
    parts = [];
    held = 0;
    over = false;
    return line;
  }

  return {
    push(chunk: Buffer): SplitLine[] {
      const out: SplitLine[] = [];
      const base = pos;
      const len = chunk.length;
      let i = 0;
      if (discard) {
        const nl = chunk.indexOf(NL);
        if (nl === -1) {
          pos = base + len;
          consumed = lineStart = pos;
          return out;
        }
        discard = false;
        i = nl + 1;
        consumed = lineStart = base + i;
      }
      while (i < len) {
        const fresh = held === 0 && !over;
        if (fresh && skipNul && chunk[i] === 0) {
          while (i < len && chunk[i] === 0) i++;
          lineStart = base + i;
          continue;
        }
        const nl = chunk.indexOf(NL, i);
        if (nl === -1) {
          hold(chunk, i, len);
          break;
        }
        const end = base + nl + 1;
        if (fresh) {
          // Fast path: the whole line is inside this chunk.
          const n = nl - i;
          if (n <= max) {
            out.push({
              bytes: copyOf(chunk, i, nl),
              offset: lineStart,
              end,
              truncated: false,
              skipped: false,
            });
          } else if (truncate) {
            const cut = utf8CutLength(chunk, i, i + max);
            out.push({
              bytes: copyOf(chunk, i, i + cut),
              offset: lineStart,
              end,
              truncated: true,
              skipped: false,
            });
          } else {
            out.push({ bytes: EMPTY, offset: lineStart, end, truncated: false, skipped: true });
          }
        } else {
          hold(chunk, i, nl);
          out.push(take(end));
        }
        consumed = lineStart = end;
        i = nl + 1;
      }
      pos = base + len;
      return out;
    },

    finish(): SplitLine | undefined {
      discard = false;
      if (held === 0 && !over) {
        consumed = lineStart = pos;
        return undefined;
      }
      const line = take(pos);
      consumed = lineStart = pos;
      return line;
    },

    get consumed() {
      return consumed;
    },
    get position() {
      return pos;
    },
    get held() {
      return held;
    },
  };
}
