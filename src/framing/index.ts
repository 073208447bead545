/**
 * Framing: physical lines → logical records (DESIGN.md data flow).
 * One framer per file: it holds that file's pending CRI / Docker partials.
 */
import { z } from 'zod';
import { createAutoFramer } from './auto.js';
import type { ResolvedFramerOptions } from './common.js';
import { createCriFramer } from './cri.js';
import { createDockerFramer } from './docker.js';
import { createLineFramer } from './json.js';
import type { Framer, FramingFormat } from './types.js';

export type { Framer, FramingFormat, FramingStats, LogRecord, PhysicalLine } from './types.js';
export { detectFormat } from './auto.js';
export type { DetectedFormat } from './auto.js';

/** Default bound on one merged record. */
export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;
/** Default age after which a partial run without its final piece is emitted as incomplete. */
export const DEFAULT_PARTIAL_TIMEOUT_MS = 5000;

export const FRAMING_FORMATS = [
  'auto',
  'json',
  'cri',
  'docker',
  'raw',
] as const satisfies readonly FramingFormat[];
/** The `format` key of a source. */
export const zFramingFormat = z.enum(FRAMING_FORMATS);

export interface FramerOptions {
  /** Bound on one record's content bytes, partial runs merged (default 1 MiB). */
  maxRecordBytes?: number;
  /**
   * A partial run whose first piece was pushed this long ago is emitted as
   * incomplete when the next line arrives (default 5000). Idle files need the
   * caller to call `flush(now, partialTimeoutMs)` on a timer.
   */
  partialTimeoutMs?: number;
  /** Clock for partial-run ages (epoch ms); default Date.now. Use the same clock for flush(). */
  now?: () => number;
}

/** Create the framer for one file (or one stdin stream). Throws RangeError on bad options. */
export function createFramer(format: FramingFormat, opts: FramerOptions = {}): Framer {
  const maxRecordBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const partialTimeoutMs = opts.partialTimeoutMs ?? DEFAULT_PARTIAL_TIMEOUT_MS;
  if (!Number.isSafeInteger(maxRecordBytes) || maxRecordBytes < 1) {
    throw new RangeError(
      `maxRecordBytes must be a positive integer, got ${String(maxRecordBytes)}`,
    );
  }
  if (!Number.isFinite(partialTimeoutMs) || partialTimeoutMs < 0) {
    throw new RangeError(
      `partialTimeoutMs must be a non-negative number, got ${String(partialTimeoutMs)}`,
    );
  }
  const o: ResolvedFramerOptions = { maxRecordBytes, partialTimeoutMs, now: opts.now ?? Date.now };
  switch (format) {
    case 'json':
    case 'raw':
      return createLineFramer();
    case 'cri':
      return createCriFramer(o);
    case 'docker':
      return createDockerFramer(o);
    case 'auto':
      return createAutoFramer(o);
    default: {
      const never: never = format;
      throw new RangeError(`unknown framing format ${String(never)}`);
    }
  }
}
