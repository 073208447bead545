/**
 * `json` and `raw` framing: every physical line is one record. No state, no
 * copies: the text is decoded straight from the source's buffer. Blank lines
 * produce nothing; a trailing `\r` (CRLF writers) is dropped.
 */
import { emit, newStats } from './common.js';
import type { Framer, FramingStats, LogRecord, PhysicalLine } from './types.js';

export function createLineFramer(stats: FramingStats = newStats()): Framer {
  return {
    stats,
    push(line: PhysicalLine): LogRecord[] {
      const out: LogRecord[] = [];
      const b = line.bytes;
      emit(out, b, 0, b.length, line.offset, undefined, undefined, line.truncated, false);
      return out;
    },
    flush(): LogRecord[] {
      return [];
    },
    pendingFrom(): number | undefined {
      return undefined;
    },
  };
}
