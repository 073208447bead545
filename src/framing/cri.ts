/**
 * Kubernetes CRI log lines (containerd, CRI-O), research/tailing.md §4:
 *
 *   <timestamp> SP <stream> SP <tags> SP <content>
 *
 * - timestamp: RFC 3339 with optional fraction — containerd prints RFC3339Nano
 *   (trailing zeros trimmed, `Z`), CRI-O always 9 digits and `+00:00`.
 * - stream: `stdout` | `stderr`, both interleaved in one file.
 * - tags: `:`-separated, first element `P` (partial) or `F` (full / last piece).
 * - content: raw bytes, may be empty and may contain spaces, `P`, `F`.
 *
 * Parsing is a handful of byte comparisons (no regex): this runs once per line
 * on the hot path.
 */
import { createReassembler, isBlank, newStats, passThrough } from './common.js';
import type { ResolvedFramerOptions } from './common.js';
import type { Framer, FramingStats, LogRecord, PhysicalLine } from './types.js';

/** Where the parts of a CRI line are; filled in place to avoid an allocation per line. */
export interface CriHeader {
  /** The timestamp is bytes[0, timeEnd). */
  timeEnd: number;
  /** 0 = stdout, 1 = stderr. */
  slot: number;
  /** Tag `P`: more pieces follow. */
  partial: boolean;
  /** Content is bytes[contentStart, length). */
  contentStart: number;
}

const SP = 0x20;

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

function digits(b: Buffer, at: number, n: number): boolean {
  for (let i = at; i < at + n; i++) if (!isDigit(b[i])) return false;
  return true;
}

/** RFC 3339 date-time occupying exactly bytes[0, end). */
function isTimestamp(b: Buffer, end: number): boolean {
  // YYYY-MM-DDTHH:MM:SS is 19 bytes; the shortest valid form adds `Z`.
  if (end < 20) return false;
  if (
    !digits(b, 0, 4) ||
    b[4] !== 0x2d || // -
    !digits(b, 5, 2) ||
    b[7] !== 0x2d ||
    !digits(b, 8, 2) ||
    (b[10] !== 0x54 && b[10] !== 0x74) || // T t
    !digits(b, 11, 2) ||
    b[13] !== 0x3a || // :
    !digits(b, 14, 2) ||
    b[16] !== 0x3a ||
    !digits(b, 17, 2)
  ) {
    return false;
  }
  let i = 19;
  if (b[i] === 0x2e) {
    // fraction: at least one digit (containerd trims trailing zeros, CRI-O prints 9)
    i++;
    const from = i;
    while (i < end && isDigit(b[i])) i++;
    if (i === from) return false;
  }
  const z = b[i];
  if (z === 0x5a || z === 0x7a) return i + 1 === end; // Z z
  if (z === 0x2b || z === 0x2d) {
    // +HH:MM / -HH:MM
    return i + 6 === end && digits(b, i + 1, 2) && b[i + 3] === 0x3a && digits(b, i + 4, 2);
  }
  return false;
}

/**
 * Recognise a CRI line and fill `h`. Returns false for anything else.
 * A line ending right after the tags (no separator before an empty content)
 * is accepted as empty content: being lenient there loses nothing.
 */
export function parseCriHeader(b: Buffer, h: CriHeader): boolean {
  const len = b.length;
  const sp1 = b.indexOf(SP);
  if (sp1 < 0 || !isTimestamp(b, sp1)) return false;
  // "stdout " | "stderr "
  const s = sp1 + 1;
  if (s + 8 > len || b[s] !== 0x73 || b[s + 1] !== 0x74 || b[s + 2] !== 0x64 || b[s + 6] !== SP) {
    return false;
  }
  let slot: number;
  if (b[s + 3] === 0x6f && b[s + 4] === 0x75 && b[s + 5] === 0x74)
    slot = 0; // out
  else if (b[s + 3] === 0x65 && b[s + 4] === 0x72 && b[s + 5] === 0x72)
    slot = 1; // err
  else return false;
  const t = s + 7;
  const tag = b[t];
  if (tag !== 0x50 && tag !== 0x46) return false; // P F
  let contentStart: number;
  const next = b[t + 1];
  if (next === SP) contentStart = t + 2;
  else if (next === undefined) contentStart = len;
  else if (next === 0x3a) {
    // further tags after `:`; content starts after the next space
    const sp = b.indexOf(SP, t + 2);
    contentStart = sp < 0 ? len : sp + 1;
  } else return false;
  h.timeEnd = sp1;
  h.slot = slot;
  h.partial = tag === 0x50;
  h.contentStart = contentStart;
  return true;
}

export function createCriFramer(
  o: ResolvedFramerOptions,
  stats: FramingStats = newStats(),
): Framer {
  const asm = createReassembler(o, stats);
  const h: CriHeader = { timeEnd: 0, slot: 0, partial: false, contentStart: 0 };
  return {
    stats,
    push(line: PhysicalLine): LogRecord[] {
      const out: LogRecord[] = [];
      asm.expire(out);
      const b = line.bytes;
      if (!parseCriHeader(b, h)) {
        if (!isBlank(b, 0, b.length)) stats.malformed++;
        passThrough(out, line);
        return out;
      }
      // Only the first piece's timestamp is kept; later pieces skip the decode.
      const time = asm.has(h.slot) ? undefined : b.toString('latin1', 0, h.timeEnd);
      if (h.partial)
        asm.partial(h.slot, b, h.contentStart, b.length, line.offset, time, line.truncated);
      else asm.final(out, h.slot, b, h.contentStart, b.length, line.offset, time, line.truncated);
      return out;
    },
    flush: (nowMs, olderThanMs) => asm.flush(nowMs, olderThanMs),
    pendingFrom: () => asm.pendingFrom(),
  };
}
