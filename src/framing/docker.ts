/**
 * Docker json-file lines, research/tailing.md §4:
 *
 *   {"log":"audit ok\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}
 *
 * (optional `attrs` before `time`). A `log` ending in `\n` closes a line; a
 * `log` without it is a chunk of a longer line (the copier cuts at 16 KiB) to
 * be joined with the following chunks of the same stream. The daemon escapes
 * `<`, `>`, `&`, U+2028/2029 and control characters and replaces invalid UTF-8
 * with U+FFFD; JSON.parse undoes the escapes (the replacement is not
 * reversible).
 */
import { createReassembler, isBlank, isBlankString, newStats, passThrough } from './common.js';
import type { ResolvedFramerOptions } from './common.js';
import type { Framer, FramingStats, LogRecord, PhysicalLine } from './types.js';

export interface DockerLine {
  log: string;
  /** 0 = stdout, 1 = stderr. */
  slot: number;
  time: string | undefined;
}

/** Index of the first non-whitespace byte, or -1. */
function firstNonBlank(b: Buffer): number {
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c !== 0x20 && (c < 0x09 || c > 0x0d)) return i;
  }
  return -1;
}

/** Parse one json-file line; undefined when it is not one. */
export function parseDockerLine(b: Buffer): DockerLine | undefined {
  // Cheap reject before JSON.parse: a throw per malformed line is costly.
  const i = firstNonBlank(b);
  if (i < 0 || b[i] !== 0x7b) return undefined; // {
  let v: unknown;
  try {
    v = JSON.parse(b.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as { log?: unknown; stream?: unknown; time?: unknown };
  if (typeof o.log !== 'string') return undefined;
  const slot = o.stream === 'stdout' ? 0 : o.stream === 'stderr' ? 1 : -1;
  if (slot < 0) return undefined;
  return { log: o.log, slot, time: typeof o.time === 'string' ? o.time : undefined };
}

export function createDockerFramer(
  o: ResolvedFramerOptions,
  stats: FramingStats = newStats(),
): Framer {
  const asm = createReassembler(o, stats);
  const max = o.maxRecordBytes;
  return {
    stats,
    push(line: PhysicalLine): LogRecord[] {
      const out: LogRecord[] = [];
      asm.expire(out);
      const b = line.bytes;
      if (isBlank(b, 0, b.length)) return out;
      const d = parseDockerLine(b);
      if (d === undefined) {
        // Includes lines the source cut at max_line_bytes: their JSON no longer closes.
        stats.malformed++;
        passThrough(out, line);
        return out;
      }
      const log = d.log;
      const complete = log.length > 0 && log.charCodeAt(log.length - 1) === 0x0a;
      const pending = asm.has(d.slot);
      if (complete && !pending && !line.truncated) {
        // Common case: one whole line; stay on strings. UTF-8 needs at most 3 bytes
        // per UTF-16 unit, so the byte count is only computed when it could matter.
        let text = log.slice(0, -1);
        if (text.length * 3 <= max || Buffer.byteLength(text) <= max) {
          if (text.length > 0 && text.charCodeAt(text.length - 1) === 0x0d)
            text = text.slice(0, -1);
          if (isBlankString(text)) return out;
          const rec: LogRecord = {
            text,
            offset: line.offset,
            stream: d.slot === 0 ? 'stdout' : 'stderr',
          };
          if (d.time !== undefined) rec.time = d.time;
          out.push(rec);
          return out;
        }
      }
      // Chunks are joined as bytes so the size bound is exact.
      const bytes = Buffer.from(log, 'utf8');
      if (complete) {
        asm.final(out, d.slot, bytes, 0, bytes.length - 1, line.offset, d.time, line.truncated);
      } else {
        asm.partial(d.slot, bytes, 0, bytes.length, line.offset, d.time, line.truncated);
      }
      return out;
    },
    flush: (nowMs, olderThanMs) => asm.flush(nowMs, olderThanMs),
    pendingFrom: () => asm.pendingFrom(),
  };
}
