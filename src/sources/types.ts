/**
 * The seam between sources and the pipeline.
 *
 * A source reads complete physical lines, frames them into records (framing
 * state is per file, so the source owns one framer per file), and hands the
 * pipeline batches together with the checkpoint that becomes true once the
 * batch is stored. The pipeline commits records and checkpoint in ONE SQLite
 * transaction (DESIGN.md, durability protocol), then resolves the promise;
 * the source must not read further from that file until it resolves
 * (backpressure: the file is the upstream buffer).
 */
import type { LogRecord } from '../framing/types.js';

/** Where to resume a file, and how to recognise it again. */
export interface FileCheckpoint {
  /** The configured source name. */
  source: string;
  /**
   * Stable identity of the file's content stream, assigned when first seen and
   * kept across renames and restarts. Event ids derive from it + byte offset.
   */
  fileId: string;
  /** Path the file had when last read. */
  path: string;
  dev: number;
  ino: number;
  /** Byte offset to resume reading from (always just after a `\n`, or 0). */
  offset: number;
  /** sha256 (hex, first 16 chars) of the first `headLen` bytes of the file. */
  headHash: string;
  headLen: number;
  /** sha256 (hex, first 16 chars) of the up to 32 bytes just before `offset` ('' at 0). */
  tailHash: string;
  /** Epoch ms of the last update. */
  updatedAt: number;
}

export interface SourceBatch {
  /** The configured source name. */
  source: string;
  /** File path, or null for stdin / generated sources. */
  file: string | null;
  /** Identity used for deterministic event ids (fileId for files, a per-run id for stdin). */
  streamId: string;
  records: LogRecord[];
  /** Checkpoint to commit with these records (null for sources without resume, e.g. stdin). */
  checkpoint: FileCheckpoint | null;
  /** Bytes of input this batch consumed (for metrics). */
  bytesRead: number;
  /** Physical lines this batch consumed (for metrics). */
  linesRead: number;
  /** Physical lines cut or skipped at max_line_bytes. */
  oversized: number;
}

/**
 * Resolves once the batch (records + checkpoint) is committed, or dropped by policy.
 *
 * `prepare` (optional): a source that has read a batch ahead, and will hand it over once the
 * batch before it is stored, may announce it so the handler can start work that does not
 * depend on the commit order (the pipeline's stages, in a worker thread). It is a hint: the
 * batch is still handed over later, in order, and a batch announced but never handed over
 * (the source stopped) is simply forgotten.
 */
export type BatchHandler = ((batch: SourceBatch) => Promise<void>) & {
  prepare?(batch: SourceBatch): void;
};

export interface Source {
  readonly name: string;
  /** Begin reading; batches go to the handler one at a time per file. */
  start(handler: BatchHandler): Promise<void>;
  /** Stop reading new data; resolve when no batch is in flight. */
  stop(): Promise<void>;
  /** For finite sources (stdin): resolves when all input was handed over. */
  readonly finished?: Promise<void>;
  /** Per-file lag in bytes (file size minus committed offset), for metrics and status. */
  lag?(): { file: string; bytes: number }[];
  /**
   * Files this source was reading when the agent last stopped that were gone at start
   * (rotated away or deleted meanwhile): lines written to them after the checkpoint were
   * not read.
   */
  missingAtStart?(): number;
}
