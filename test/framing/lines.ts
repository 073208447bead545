/** Test helper: turn file content into the PhysicalLines a source would read. */
import type { Framer, LogRecord, PhysicalLine } from '../../src/framing/types.js';

/** Split newline-terminated content into lines with byte offsets (an unterminated tail is not a line). */
export function linesOf(content: string | Buffer, base = 0): PhysicalLine[] {
  const buf = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  const out: PhysicalLine[] = [];
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, start);
    if (nl < 0) break;
    out.push({
      bytes: buf.subarray(start, nl),
      offset: base + start,
      end: base + nl + 1,
      truncated: false,
    });
    start = nl + 1;
  }
  return out;
}

export function pushAll(framer: Framer, lines: PhysicalLine[]): LogRecord[] {
  const out: LogRecord[] = [];
  for (const l of lines) out.push(...framer.push(l));
  return out;
}

/** Push newline-terminated content and collect the records. */
export function frame(framer: Framer, content: string | Buffer, base = 0): LogRecord[] {
  return pushAll(framer, linesOf(content, base));
}

/** One physical line built by hand. */
export function line(content: string | Buffer, offset = 0, truncated = false): PhysicalLine {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  return { bytes, offset, end: offset + bytes.length + 1, truncated };
}

/** A manual clock for partial-run ages. */
export function manualClock(start = 0): { now: () => number; set: (ms: number) => void } {
  let t = start;
  return {
    now: () => t,
    set: (ms: number) => {
      t = ms;
    },
  };
}
