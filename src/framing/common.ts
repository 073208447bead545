/**
 * Pieces shared by the framers: resolved options, byte helpers, the
 * pass-through record, and the per-stream reassembler that CRI (`P`/`F`) and
 * Docker json-file (chunks without `\n`) both use.
 *
 * Reassembly works on bytes, not strings: containerd cuts long lines into
 * exactly 16384-byte `P` chunks and CRI-O at arbitrary ≤8 KiB pipe reads
 * (research/tailing.md §4), so a multi-byte UTF-8 character can straddle two
 * pieces. Decoding once, after concatenation, gives back the original text.
 */
import type { FramingStats, LogRecord, PhysicalLine } from './types.js';

export interface ResolvedFramerOptions {
  /** Upper bound on one record's content bytes (merged partials included). */
  maxRecordBytes: number;
  /** A partial run older than this is emitted as incomplete on the next push. */
  partialTimeoutMs: number;
  /** Clock used to stamp when a partial run started (epoch ms). */
  now: () => number;
}

export type StreamName = 'stdout' | 'stderr';
/** Slot index per stream: stdout and stderr interleave in one file and are reassembled apart. */
export const STREAMS: readonly StreamName[] = ['stdout', 'stderr'];

export function newStats(): FramingStats {
  return { malformed: 0, incomplete: 0, truncated: 0 };
}

/** True when bytes[start, end) hold only ASCII whitespace (or nothing). */
export function isBlank(b: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    // space, \t, \n, \v, \f, \r
    if (c !== 0x20 && (c < 0x09 || c > 0x0d)) return false;
  }
  return true;
}

/** String twin of isBlank (for Docker `log` values, which arrive as strings). */
export function isBlankString(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && (c < 0x09 || c > 0x0d)) return false;
  }
  return true;
}

/**
 * End index that drops an incomplete UTF-8 sequence at the end of
 * bytes[start, end): used after a cut, so a truncated record ends on a whole
 * character instead of U+FFFD. At most 3 bytes are dropped.
 */
export function trimIncompleteUtf8(b: Buffer, start: number, end: number): number {
  const floor = Math.max(start, end - 4);
  for (let i = end - 1; i >= floor; i--) {
    const c = b[i]!;
    if ((c & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return end - i < need ? i : end;
  }
  return end;
}

/**
 * Build one record from bytes[start, end) and append it to `out` unless it is
 * blank. A complete, uncut line loses one trailing `\r` (CRLF writers; CRI-O
 * keeps the `\r`, containerd strips it — §4 — so both runtimes give the same
 * text). A cut line keeps it (it was not the line end) but drops a broken
 * trailing character.
 */
export function emit(
  out: LogRecord[],
  b: Buffer,
  start: number,
  end: number,
  offset: number,
  stream: StreamName | undefined,
  time: string | undefined,
  truncated: boolean,
  incomplete: boolean,
): void {
  if (truncated) end = trimIncompleteUtf8(b, start, end);
  else if (!incomplete && end > start && b[end - 1] === 0x0d) end--;
  if (isBlank(b, start, end)) return;
  const rec: LogRecord = { text: b.toString('utf8', start, end), offset };
  if (stream !== undefined) rec.stream = stream;
  if (time !== undefined) rec.time = time;
  if (truncated) rec.truncated = true;
  if (incomplete) rec.incomplete = true;
  out.push(rec);
}

/** A line that does not fit the format: the whole line becomes the record (nothing is lost). */
export function passThrough(out: LogRecord[], line: PhysicalLine): void {
  emit(
    out,
    line.bytes,
    0,
    line.bytes.length,
    line.offset,
    undefined,
    undefined,
    line.truncated,
    false,
  );
}

/** A pending run of partial pieces on one stream. */
interface Run {
  chunks: Buffer[];
  size: number;
  /** Offset of the first piece: the record's offset and the checkpoint floor. */
  offset: number;
  /** Runtime timestamp of the first piece. */
  time: string | undefined;
  /** Clock time the first piece was pushed. */
  startMs: number;
  truncated: boolean;
  /** Past the bound (or a piece was cut by the source): discard pieces until the final one. */
  cut: boolean;
}

export interface Reassembler {
  /** Emit runs that outlived partialTimeoutMs (called at the start of each push). */
  expire(out: LogRecord[]): void;
  /** Is a run pending on this stream slot? */
  has(slot: number): boolean;
  /** Add a non-final piece bytes[start, end). The bytes are copied (the source may reuse its buffer). */
  partial(
    slot: number,
    b: Buffer,
    start: number,
    end: number,
    offset: number,
    time: string | undefined,
    truncated: boolean,
  ): void;
  /** Add the final piece bytes[start, end) and emit the record (a lone final piece is a record by itself). */
  final(
    out: LogRecord[],
    slot: number,
    b: Buffer,
    start: number,
    end: number,
    offset: number,
    time: string | undefined,
    truncated: boolean,
  ): void;
  flush(nowMs: number, olderThanMs: number | undefined): LogRecord[];
  pendingFrom(): number | undefined;
}

export function createReassembler(o: ResolvedFramerOptions, stats: FramingStats): Reassembler {
  const max = o.maxRecordBytes;
  const slots: (Run | undefined)[] = [undefined, undefined];
  let pending = 0;

  function append(run: Run, b: Buffer, start: number, end: number, truncated: boolean): void {
    if (run.cut) return;
    let n = end - start;
    const room = max - run.size;
    if (n > room) {
      // Keep the first maxRecordBytes bytes; the rest of the run is discarded until its end.
      n = room;
      run.truncated = true;
      run.cut = true;
      stats.truncated++;
    }
    if (n > 0) {
      run.chunks.push(Buffer.from(b.subarray(start, start + n)));
      run.size += n;
    }
    if (truncated && !run.cut) {
      // The source cut this piece: what follows would not join up with it.
      run.truncated = true;
      run.cut = true;
    }
  }

  function emitRun(out: LogRecord[], slot: number, run: Run, incomplete: boolean): void {
    slots[slot] = undefined;
    pending--;
    const merged = run.chunks.length === 1 ? run.chunks[0]! : Buffer.concat(run.chunks, run.size);
    emit(
      out,
      merged,
      0,
      merged.length,
      run.offset,
      STREAMS[slot],
      run.time,
      run.truncated,
      incomplete,
    );
  }

  function flushWhere(nowMs: number, olderThanMs: number | undefined, out: LogRecord[]): void {
    const a = slots[0];
    const b = slots[1];
    // Oldest first, so records come out in file order.
    const order = a !== undefined && b !== undefined && b.offset < a.offset ? [1, 0] : [0, 1];
    for (const slot of order) {
      const run = slots[slot];
      if (run === undefined) continue;
      if (olderThanMs !== undefined && nowMs - run.startMs < olderThanMs) continue;
      stats.incomplete++;
      emitRun(out, slot, run, true);
    }
  }

  return {
    expire(out) {
      if (pending > 0) flushWhere(o.now(), o.partialTimeoutMs, out);
    },
    has(slot) {
      return slots[slot] !== undefined;
    },
    partial(slot, b, start, end, offset, time, truncated) {
      let run = slots[slot];
      if (run === undefined) {
        run = { chunks: [], size: 0, offset, time, startMs: o.now(), truncated: false, cut: false };
        slots[slot] = run;
        pending++;
      }
      append(run, b, start, end, truncated);
    },
    final(out, slot, b, start, end, offset, time, truncated) {
      const run = slots[slot];
      if (run === undefined) {
        // Common case: a whole line in one piece; decode in place, no copy.
        if (end - start > max) {
          end = start + max;
          truncated = true;
          stats.truncated++;
        }
        emit(out, b, start, end, offset, STREAMS[slot], time, truncated, false);
        return;
      }
      append(run, b, start, end, truncated);
      emitRun(out, slot, run, false);
    },
    flush(nowMs, olderThanMs) {
      const out: LogRecord[] = [];
      if (pending > 0) flushWhere(nowMs, olderThanMs, out);
      return out;
    },
    pendingFrom() {
      const a = slots[0];
      const b = slots[1];
      if (a === undefined) return b?.offset;
      if (b === undefined) return a.offset;
      return Math.min(a.offset, b.offset);
    },
  };
}
