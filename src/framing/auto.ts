/**
 * `auto` framing: each file is written by one runtime, so the first non-blank
 * line decides for the whole file (per framer) and the choice then sticks.
 * A misdetection cannot lose data: every framer passes lines it does not
 * understand through whole.
 */
import { isBlank, newStats } from './common.js';
import type { ResolvedFramerOptions } from './common.js';
import { createCriFramer, parseCriHeader } from './cri.js';
import type { CriHeader } from './cri.js';
import { createDockerFramer } from './docker.js';
import { createLineFramer } from './json.js';
import type { Framer, LogRecord, PhysicalLine } from './types.js';

export type DetectedFormat = 'cri' | 'docker' | 'json';

/**
 * CRI shape → `cri`; a JSON object with string `log` and `stream` → `docker`;
 * anything else → `json`. Undefined for a blank line (no evidence yet).
 */
export function detectFormat(b: Buffer): DetectedFormat | undefined {
  if (isBlank(b, 0, b.length)) return undefined;
  const h: CriHeader = { timeEnd: 0, slot: 0, partial: false, contentStart: 0 };
  if (parseCriHeader(b, h)) return 'cri';
  let i = 0;
  while (i < b.length && isBlank(b, i, i + 1)) i++;
  if (b[i] === 0x7b) {
    try {
      const v: unknown = JSON.parse(b.toString('utf8'));
      if (typeof v === 'object' && v !== null) {
        const o = v as { log?: unknown; stream?: unknown };
        if (typeof o.log === 'string' && typeof o.stream === 'string') return 'docker';
      }
    } catch {
      // not JSON: plain lines
    }
  }
  return 'json';
}

export function createAutoFramer(o: ResolvedFramerOptions): Framer {
  // One stats object shared with whichever framer is chosen, so callers can hold on to it.
  const stats = newStats();
  let inner: Framer | undefined;
  return {
    stats,
    push(line: PhysicalLine): LogRecord[] {
      if (inner === undefined) {
        const f = detectFormat(line.bytes);
        if (f === undefined) return [];
        inner =
          f === 'cri'
            ? createCriFramer(o, stats)
            : f === 'docker'
              ? createDockerFramer(o, stats)
              : createLineFramer(stats);
      }
      return inner.push(line);
    },
    flush(nowMs: number, olderThanMs?: number): LogRecord[] {
      return inner === undefined ? [] : inner.flush(nowMs, olderThanMs);
    },
    pendingFrom(): number | undefined {
      return inner?.pendingFrom();
    },
  };
}
