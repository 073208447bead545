/**
 * Framing turns the physical lines a source reads into logical records:
 * a CRI `P,P,F` run or a Docker json-file 16 KiB chunk run becomes one record.
 */

/** One physical line as a source read it: bytes without the trailing newline. */
export interface PhysicalLine {
  /** Line content without the trailing `\n` (a trailing `\r` is kept). */
  bytes: Buffer;
  /** Byte offset of the line's first byte in its file (0 for stdin-like sources: a running counter). */
  offset: number;
  /** Byte offset just after the line's newline: where reading resumes. */
  end: number;
  /** True when the line was longer than max_line_bytes and was cut to that length. */
  truncated: boolean;
}

/** One logical record: what parsing sees. */
export interface LogRecord {
  /** The record's text (UTF-8 decoded; invalid sequences become U+FFFD). */
  text: string;
  /** Byte offset of the first physical line that contributed to this record. */
  offset: number;
  /** Container stream when the format carries one. */
  stream?: 'stdout' | 'stderr';
  /** Runtime timestamp from the CRI / Docker wrapper, when present (ISO 8601 as written). */
  time?: string;
  /** Cut at max_line_bytes (physical) or at the merge limit (partials). */
  truncated?: boolean;
  /** A partial run that never got its final piece (timeout, end of file). */
  incomplete?: boolean;
}

/** Counters a framer reports; the pipeline turns them into metrics. */
export interface FramingStats {
  /** Physical lines that did not fit the format (not CRI, not Docker JSON). */
  malformed: number;
  /** Partial runs flushed without their final piece. */
  incomplete: number;
  /** Records cut at the merge limit. */
  truncated: number;
}

/**
 * A framer is stateful per file (it holds pending partials).
 * `push` returns the records completed by this line, `flush` returns pending
 * partials as incomplete records (file end of life, timeout).
 */
export interface Framer {
  push(line: PhysicalLine): LogRecord[];
  /** Emit pending partials older than `olderThanMs` (all when undefined) as incomplete records. */
  flush(nowMs: number, olderThanMs?: number): LogRecord[];
  /**
   * The smallest byte offset that must be re-read after a restart so that no
   * pending partial is lost: the offset of the oldest pending partial's first
   * piece, or undefined when nothing is pending.
   */
  pendingFrom(): number | undefined;
  readonly stats: FramingStats;
}

export type FramingFormat = 'auto' | 'json' | 'cri' | 'docker' | 'raw';
