/**
 * The `file` source: discovers files by glob, tails each one from its checkpoint,
 * follows rotation and truncation, and hands the pipeline batches of framed records
 * with the checkpoint that becomes true once they are stored.
 *
 * Behaviour follows the tailing fact sheet (/work/shared/research/tailing.md):
 * - identity = dev+inode plus head/tail content hashes (fingerprint.ts, §6 takeaways);
 * - rename rotation: the old fd is kept and drained, including lines written after
 *   the rename, and closed only once it is at EOF and no longer findable for a grace
 *   period (§6.3, Fluent Bit rotate_wait without its data loss, §2);
 * - rotated siblings matching the glob are the same tracked file (§6.4);
 * - truncation (size < offset, or the bytes before the offset changed) restarts at 0
 *   as a new stream so event ids never collide (§6.7, Vector #23619);
 * - read_from applies only to files present at the very first start (§1, §6.16);
 * - chokidar events plus a periodic rescan (§2 progress_check_interval, §6.15).
 */
import type { Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import type { Framer, LogRecord } from '../../framing/types.js';
import type { FileSourceConfig } from '../config.js';
import type { BatchHandler, FileCheckpoint, Source, SourceBatch } from '../types.js';
import { compileMatcher, scanFiles } from './discovery.js';
import {
  HEAD_BYTES,
  RETIRED_TAIL,
  TAIL_BYTES,
  findResumePoint,
  hash16,
  lastLineStart,
  newFileId,
  readAt,
  readTail,
} from './fingerprint.js';
import { deliver, errorKind } from './handoff.js';
import { createLineSplitter, type LineSplitter, type SplitLine } from './lines.js';

export interface FileSourceDeps {
  /** Checkpoints committed by earlier runs (any source; this one keeps its own). */
  loadCheckpoints(): FileCheckpoint[];
  /** A fresh framer for one file stream (called again when a file restarts as a new stream). */
  framerFor(path: string): Framer;
  logger: Logger;
  /** Clock (epoch ms); default Date.now. */
  now?: () => number;
  /** True when this source has never run against this data_dir: read_from applies. */
  firstStart: boolean;
  /**
   * Delete this source's checkpoint of a stream that is over: its file was read to the end
   * and is gone, or it was truncated and restarted as a new stream. Keeps the checkpoint
   * table from growing with every rotation, and makes a checkpoint still stored at the next
   * start mean a file that was being read when the agent stopped.
   */
  forgetCheckpoint?(fileId: string): void;
  /**
   * Epoch ms since which ended streams' checkpoints are forgotten (when this release first
   * ran against the data_dir). A checkpoint last updated before it may be a drained file
   * kept by an older release, so it is not reported as missing. Default 0.
   */
  forgetsSince?: number;
}

export interface FileSourceStats {
  /** Physical lines consumed (including cut and skipped ones). */
  linesRead: number;
  /** Bytes read from disk. */
  bytesRead: number;
  /** Lines longer than max_line_bytes (truncated or skipped). */
  oversized: number;
  /** Files opened for tailing. */
  filesOpened: number;
  /** Tracked files that left their path: renamed (to a sibling or out of the globs) or deleted. */
  rotations: number;
  /** Files that shrank or were rewritten under the reader and restarted at 0. */
  truncations: number;
  /**
   * Files this source was reading when the agent stopped that the first scan at start did
   * not find: rotated away (compressed, moved out of the globs) or deleted while the agent
   * was down. Lines written to them after their checkpoint were not read.
   */
  missingAtStart: number;
}

export interface FileSource extends Source {
  readonly stats: Readonly<FileSourceStats>;
  lag(): { file: string; bytes: number }[];
}

/** Read size; one buffer per concurrent read, a few kept for reuse. */
const READ_BYTES = 256 * 1024;
const POOL_KEEP = 4;
/**
 * Files that may hold a pending batch at once. Bounds memory by twice this many batches
 * (one in the pipeline and one read ahead per file, plus read buffers), however many files
 * a DaemonSet tails.
 */
const ACTIVE_FILES = 8;
/** Batch bounds (lines, bytes consumed). */
const BATCH_LINES = 1000;
const BATCH_BYTES = 1024 * 1024;
const EMPTY: Buffer = Buffer.alloc(0);

/** One open file being tailed: one (dev, inode), one stream of bytes, one framer. */
interface Tracked {
  readonly key: string;
  readonly dev: number;
  readonly ino: number;
  /** Latest path the file was found under. */
  path: string;
  readonly fh: FileHandle;
  fileId: string;
  headLen: number;
  headHash: string;
  splitter: LineSplitter;
  framer: Framer;
  /** Next byte to read. */
  readPos: number;
  /** End of the last physical line consumed into a batch. */
  consumedTo: number;
  /** consumedTo at the last hand-off (batch byte accounting). */
  batchFrom: number;
  /** Offset of the last checkpoint the handler accepted. */
  committed: number;
  /** Size last seen (for lag). */
  size: number;
  /** Up to TAIL_BYTES bytes just before readPos, as read: detects rewrites under the reader. */
  tail: Buffer;
  tailCache: { offset: number; hash: string } | undefined;
  /** The last checkpoint the handler accepted. */
  lastCheckpoint: FileCheckpoint | undefined;
  /** Pending batch. */
  records: LogRecord[];
  lines: number;
  oversized: number;
  /** Last time data was read (epoch ms). */
  lastData: number;
  /** When scans stopped finding the file under any accepted path (undefined: found). */
  missingSince: number | undefined;
  /** Announce a start position without data (read_from end / ignore_older). */
  announce: boolean;
  /**
   * The batch handed to the pipeline and not yet stored (read-ahead: the next one is read
   * and framed meanwhile). Resolves false when the source stopped first.
   */
  inFlight: Promise<boolean> | undefined;
  /** Holds one of the ACTIVE_FILES permits (while reading and holding a batch). */
  permit: boolean;
  /** Wake-up plumbing: a signal while not waiting is remembered in `dirty`. */
  dirty: boolean;
  wake: (() => void) | undefined;
}

export function createFileSource(
  name: string,
  cfg: FileSourceConfig,
  deps: FileSourceDeps,
): FileSource {
  const logger = deps.logger.child({ source: name });
  const now = deps.now ?? Date.now;
  const matcher = compileMatcher(cfg.include, cfg.exclude ?? []);
  /** How long an unfindable file stays open at EOF in case its writer still appends. */
  const graceMs = Math.max(cfg.partial_timeout, 2 * cfg.rescan_interval);
  const splitterOpts = {
    maxLineBytes: cfg.max_line_bytes,
    oversized: cfg.oversized_lines,
    skipLeadingNul: true,
  } as const;

  const stats: FileSourceStats = {
    linesRead: 0,
    bytesRead: 0,
    oversized: 0,
    filesOpened: 0,
    rotations: 0,
    truncations: 0,
    missingAtStart: 0,
  };
  const tracked = new Map<string, Tracked>();
  /** Accepted path → dev:ino it named at the last look (rotation detection, event routing). */
  const pathOwner = new Map<string, string>();
  /** Checkpoints not yet matched to a file, by dev:ino. */
  const unclaimed = new Map<string, FileCheckpoint[]>();
  const pumps = new Set<Promise<void>>();
  const pool: Buffer[] = [];
  const warned = new Set<string>();
  const abort = new AbortController();

  let handler: BatchHandler | undefined;
  let started = false;
  let stopping = false;
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  let discovery: Promise<void> = Promise.resolve();
  let scanQueued = false;
  const pendingPaths = new Set<string>();

  const keyOf = (st: { dev: number; ino: number }): string => `${st.dev}:${st.ino}`;

  function warnOnce(what: string, file: string, err: unknown): void {
    const k = `${what}\0${file}`;
    if (warned.has(k)) return;
    if (warned.size > 10_000) warned.clear();
    warned.add(k);
    logger.warn({ file, ...errorKind(err) }, what);
  }

  // ---- permits: at most ACTIVE_FILES files read and hold a batch at once -------

  let freePermits = ACTIVE_FILES;
  const permitQueue: (() => void)[] = [];

  async function acquire(f: Tracked): Promise<void> {
    if (f.permit || stopping) return; // stopping: the queue was drained, do not wait again
    if (freePermits > 0) freePermits--;
    else await new Promise<void>((resolve) => permitQueue.push(resolve));
    f.permit = true;
  }

  function release(f: Tracked): void {
    if (!f.permit) return;
    f.permit = false;
    const next = permitQueue.shift();
    if (next) next();
    else freePermits++;
  }

  // ---- wake-ups ------------------------------------------------------------

  function signal(f: Tracked): void {
    f.dirty = true;
    const w = f.wake;
    if (w) {
      f.wake = undefined;
      w();
    }
  }

  async function waitWake(f: Tracked): Promise<void> {
    if (!f.dirty) await new Promise<void>((resolve) => (f.wake = resolve));
    f.dirty = false;
  }

  // ---- batches -------------------------------------------------------------

  function takeLine(f: Tracked, line: SplitLine, incomplete: boolean): void {
    stats.linesRead++;
    f.lines++;
    f.consumedTo = line.end;
    if (line.truncated || line.skipped) {
      f.oversized++;
      stats.oversized++;
    }
    if (line.skipped) return;
    let recs: LogRecord[];
    try {
      recs = f.framer.push(line);
    } catch (err) {
      // A framer bug must not stop the file; the line is counted, not retried forever.
      warnOnce('framer failed on a line; line dropped', f.path, err);
      return;
    }
    for (const r of recs) f.records.push(incomplete ? { ...r, incomplete: true } : r);
  }

  function takeFlushed(f: Tracked, recs: LogRecord[]): void {
    for (const r of recs) f.records.push(r);
  }

  async function checkpointAt(
    f: Tracked,
    offset: number,
    retired: boolean,
  ): Promise<FileCheckpoint> {
    if (f.headLen < HEAD_BYTES && f.consumedTo > f.headLen) {
      // Grow the head hash as the file grows: tiny files are tailed from the start
      // and become better identified later (tailing.md §6.10).
      const n = Math.min(HEAD_BYTES, f.consumedTo);
      try {
        const head = await readAt(f.fh, 0, n);
        if (head.length === n) {
          f.headLen = n;
          f.headHash = hash16(head);
        }
      } catch (err) {
        warnOnce('could not read file head', f.path, err);
      }
    }
    let tailHash: string;
    if (retired) tailHash = RETIRED_TAIL;
    else if (offset === 0) tailHash = '';
    else if (f.tailCache?.offset === offset) tailHash = f.tailCache.hash;
    else {
      try {
        tailHash = hash16(await readTail(f.fh, offset));
        f.tailCache = { offset, hash: tailHash };
      } catch (err) {
        warnOnce('could not read file tail', f.path, err);
        tailHash = RETIRED_TAIL; // unverifiable: never resume from it
      }
    }
    return {
      source: name,
      fileId: f.fileId,
      path: f.path,
      dev: f.dev,
      ino: f.ino,
      offset,
      headHash: f.headHash,
      headLen: f.headLen,
      tailHash,
      updatedAt: now(),
    };
  }

  /** Wait for the batch in flight (if any) to be stored; false when the source stopped. */
  async function settle(f: Tracked): Promise<boolean> {
    const p = f.inFlight;
    if (!p) return true;
    const ok = await p;
    if (f.inFlight === p) f.inFlight = undefined;
    return ok;
  }

  /**
   * Hand the pending batch over. The checkpoint never passes a pending partial's first
   * piece (framer.pendingFrom), so a crash never loses a CRI/Docker partial run.
   *
   * Read-ahead: with `wait` false this returns once the batch is handed over, so the
   * file is read and framed further while the pipeline processes and commits it (with a
   * stage worker, that is the overlap that lets the second core help). At most one batch
   * per file is in the pipeline: handing over the next one first waits for it, so the
   * handler sees a file's batches one at a time and in order, and a batch that fails is
   * retried (deliver) before any later one is handed over — checkpoints stay monotonic.
   * With `wait` (the default) it also waits for this batch to be stored. Returns false
   * when the source stopped first.
   */
  async function handOff(
    f: Tracked,
    force: boolean,
    retired = false,
    wait = true,
  ): Promise<boolean> {
    if (!force && f.lines === 0 && f.records.length === 0) return wait ? settle(f) : true;
    const pend = f.framer.pendingFrom();
    const offset = pend === undefined ? f.consumedTo : Math.min(f.consumedTo, pend);
    const checkpoint = await checkpointAt(f, offset, retired);
    const batch: SourceBatch = {
      source: name,
      file: f.path,
      streamId: f.fileId,
      records: f.records,
      checkpoint,
      bytesRead: f.consumedTo - f.batchFrom,
      linesRead: f.lines,
      oversized: f.oversized,
    };
    f.records = [];
    f.lines = 0;
    f.oversized = 0;
    f.batchFrom = f.consumedTo;
    if (f.inFlight) handler!.prepare?.(batch); // its stages can start while the last one commits
    if (!(await settle(f))) return false;
    f.inFlight = deliver(handler!, batch, { signal: abort.signal, logger }).then((ok) => {
      if (ok) {
        f.committed = offset;
        f.lastCheckpoint = checkpoint;
      }
      return ok;
    });
    return wait ? settle(f) : true;
  }

  /**
   * End the current stream of a file: its unterminated remainder and pending partials
   * become incomplete records (tailing.md §6.2, §6.13), handed over with a final
   * checkpoint (retired: never resumable, when the file's content was replaced).
   */
  async function endStream(f: Tracked, retired: boolean): Promise<boolean> {
    const frag = f.splitter.finish();
    if (frag) takeLine(f, frag, true);
    f.consumedTo = Math.max(f.consumedTo, f.splitter.consumed);
    takeFlushed(f, f.framer.flush(now()));
    return handOff(f, true, retired);
  }

  /** The file was truncated or rewritten under us: restart at 0 as a new stream. */
  async function restartStream(f: Tracked, why: 'shrank' | 'rewritten'): Promise<void> {
    stats.truncations++;
    logger.info(
      { file: f.path, why },
      'file truncated; reading it again from the start as a new stream',
    );
    const ended = f.fileId;
    if (await endStream(f, true)) forget(ended);
    let head = EMPTY;
    try {
      head = await readAt(f.fh, 0, HEAD_BYTES);
    } catch {
      // the id only needs to be unique; the head is a nicety
    }
    f.fileId = newFileId(name, f.dev, f.ino, head, now());
    f.framer = deps.framerFor(f.path);
    f.splitter = createLineSplitter(splitterOpts, 0);
    f.readPos = f.consumedTo = f.batchFrom = f.committed = 0;
    f.headLen = 0;
    f.headHash = hash16(EMPTY);
    f.tail = EMPTY;
    f.tailCache = undefined;
  }

  // ---- reading ---------------------------------------------------------------

  /** Split one read's bytes and feed them into batches, handing off full ones. */
  async function consume(f: Tracked, lines: SplitLine[]): Promise<void> {
    for (const line of lines) {
      if (stopping) return; // not handed over = not committed = read again after restart
      takeLine(f, line, false);
      if (f.lines >= BATCH_LINES || f.consumedTo - f.batchFrom >= BATCH_BYTES)
        if (!(await handOff(f, false, false, false))) return;
    }
    // Nothing held: let another file have its turn (fairness under a busy file).
    if (f.lines === 0 && f.records.length === 0 && !f.inFlight) release(f);
  }

  function rememberTail(f: Tracked, chunk: Buffer): void {
    const n = chunk.length;
    if (n >= TAIL_BYTES) f.tail = Buffer.from(chunk.subarray(n - TAIL_BYTES));
    else {
      const joined = Buffer.concat([f.tail, chunk]);
      f.tail = joined.subarray(Math.max(0, joined.length - TAIL_BYTES));
    }
  }

  /**
   * Called at EOF: no scan has found the file under an accepted name for graceMs and
   * nothing was read from it for graceMs (its writer may still append after a rename).
   */
  function endOfLife(f: Tracked, t: number): boolean {
    return (
      f.missingSince !== undefined && t - f.missingSince >= graceMs && t - f.lastData >= graceMs
    );
  }

  async function pump(f: Tracked): Promise<void> {
    if (f.announce) {
      f.announce = false;
      await handOff(f, true);
    }
    while (!stopping) {
      try {
        // Before every read: are the bytes just before readPos still the ones we read?
        // Catches truncation (also truncate-and-regrow past readPos, Vector #23619) and
        // in-place rewrites before a single wrong byte is read. One 32-byte pread.
        if (f.readPos > 0 && f.tail.length > 0) {
          const current = await readAt(f.fh, f.readPos - f.tail.length, f.tail.length);
          if (!current.equals(f.tail)) {
            await restartStream(f, current.length < f.tail.length ? 'shrank' : 'rewritten');
            continue;
          }
        }
        await acquire(f);
        if (stopping) break;
        const buf = pool.pop() ?? Buffer.allocUnsafe(READ_BYTES);
        let n: number;
        let lines: SplitLine[];
        try {
          n = (await f.fh.read(buf, 0, READ_BYTES, f.readPos)).bytesRead;
          const chunk = buf.subarray(0, n);
          lines = n > 0 ? f.splitter.push(chunk) : [];
          if (n > 0) rememberTail(f, chunk);
        } finally {
          if (pool.length < POOL_KEEP) pool.push(buf);
        }
        if (n > 0) {
          f.readPos += n;
          f.size = Math.max(f.size, f.readPos);
          f.lastData = now();
          stats.bytesRead += n;
          await consume(f, lines);
          continue;
        }
        // At EOF: hand over what accumulated, then look at the file itself.
        const handed = await handOff(f, false);
        release(f);
        if (!handed || stopping) break;
        const st = await f.fh.stat();
        if (st.size < f.readPos) {
          await restartStream(f, 'shrank');
          continue;
        }
        f.size = st.size;
        if (st.size > f.readPos) continue;
        if (f.framer.pendingFrom() !== undefined) {
          const flushed = f.framer.flush(now(), cfg.partial_timeout);
          if (flushed.length > 0) {
            takeFlushed(f, flushed);
            if (!(await handOff(f, true))) break;
          }
        }
        if (endOfLife(f, now())) {
          await retire(f);
          return;
        }
        await waitWake(f);
      } catch (err) {
        warnOnce('error while reading file; retrying', f.path, err);
        await settle(f);
        release(f);
        try {
          await sleep(cfg.rescan_interval, undefined, { signal: abort.signal });
        } catch {
          break;
        }
      }
    }
    // Stopping (or the reader gave up): the batch handed over last is stored or abandoned
    // before the pump ends, so stop() returns only when nothing of this file is in flight.
    await settle(f);
  }

  /** Drop the stored checkpoint of a stream that is over (after its last one committed). */
  function forget(fileId: string): void {
    try {
      deps.forgetCheckpoint?.(fileId);
    } catch (err) {
      // Only housekeeping: a row left behind is reported as missing at the next start.
      logger.warn(errorKind(err), 'could not delete the checkpoint of an ended file');
    }
  }

  /**
   * After the first scan: checkpoints no file claimed belong to files that were being read
   * when the agent stopped and are gone now (ended streams' checkpoints are forgotten).
   */
  function reportMissing(): void {
    const since = deps.forgetsSince ?? 0;
    const missing: FileCheckpoint[] = [];
    for (const list of unclaimed.values())
      for (const c of list)
        if (c.tailHash !== RETIRED_TAIL && c.updatedAt >= since) missing.push(c);
    stats.missingAtStart = missing.length;
    const SHOWN = 20;
    for (const c of missing.slice(0, SHOWN))
      logger.warn(
        { file: c.path, offset: c.offset },
        'a file this source was reading when the agent stopped is gone (rotated away, deleted, or no longer matched by include/exclude); lines written to it after offset were not read',
      );
    if (missing.length > SHOWN)
      logger.warn(
        { files: missing.length - SHOWN },
        'more files this source was reading are gone (not listed)',
      );
  }

  /** Rotated or deleted, drained and quiet: flush and close (tailing.md §6.3, §6.8). */
  async function retire(f: Tracked): Promise<void> {
    if (await endStream(f, false)) forget(f.fileId);
    tracked.delete(f.key);
    // Should the file come back under an accepted name, it resumes instead of re-reading.
    const c = f.lastCheckpoint;
    if (c && c.tailHash !== RETIRED_TAIL)
      unclaimed.set(f.key, [...(unclaimed.get(f.key) ?? []), c]);
    for (const [p, k] of pathOwner) if (k === f.key) pathOwner.delete(p);
    await f.fh.close().catch(() => undefined);
    logger.debug({ file: f.path }, 'file drained and no longer present; closed');
  }

  function runPump(f: Tracked): void {
    const p = pump(f)
      .catch((err: unknown) => warnOnce('file reader stopped unexpectedly', f.path, err))
      .finally(() => {
        release(f);
        pumps.delete(p);
      });
    pumps.add(p);
  }

  // ---- discovery -------------------------------------------------------------

  /** Open a newly seen file and decide where its stream starts. */
  async function track(file: string, initial: boolean): Promise<void> {
    let fh: FileHandle;
    try {
      fh = await open(file, 'r');
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') warnOnce('cannot open file', file, err);
      return;
    }
    let ok = false;
    try {
      const st = await fh.stat();
      const key = keyOf(st);
      if (stopping || !st.isFile() || tracked.has(key)) return;
      const t = now();
      let fileId: string;
      let start: number;
      let headLen = 0;
      let headHash = hash16(EMPTY);
      let tail = EMPTY;
      let insideLine = false;
      let announce = false;
      const resume = await findResumePoint(fh, st.size, unclaimed.get(key) ?? []);
      if (resume) {
        const c = resume.checkpoint;
        const rest = (unclaimed.get(key) ?? []).filter((x) => x !== c);
        if (rest.length > 0) unclaimed.set(key, rest);
        else unclaimed.delete(key);
        ({ fileId, headLen, headHash } = c);
        start = c.offset;
        tail = resume.tail;
      } else {
        fileId = newFileId(name, st.dev, st.ino, await readAt(fh, 0, HEAD_BYTES), t);
        const skipExisting =
          (initial && deps.firstStart && cfg.read_from === 'end') ||
          (cfg.ignore_older !== undefined && st.mtimeMs < t - cfg.ignore_older);
        start = 0;
        if (skipExisting && st.size > 0) {
          const at = await lastLineStart(fh, st.size, cfg.max_line_bytes + 1);
          start = at ?? st.size;
          insideLine = at === undefined;
          tail = await readTail(fh, start);
          announce = start > 0;
        }
      }
      const f: Tracked = {
        key,
        dev: st.dev,
        ino: st.ino,
        path: file,
        fh,
        fileId,
        headLen,
        headHash,
        splitter: createLineSplitter({ ...splitterOpts, startInsideLine: insideLine }, start),
        framer: deps.framerFor(file),
        readPos: start,
        consumedTo: start,
        batchFrom: start,
        committed: start,
        size: st.size,
        tail,
        tailCache: undefined,
        lastCheckpoint: undefined,
        records: [],
        lines: 0,
        oversized: 0,
        lastData: t,
        missingSince: undefined,
        announce,
        inFlight: undefined,
        permit: false,
        dirty: false,
        wake: undefined,
      };
      tracked.set(key, f);
      pathOwner.set(file, key);
      stats.filesOpened++;
      ok = true;
      logger.debug({ file, offset: start, resumed: resume !== undefined }, 'tailing file');
      runPump(f);
    } catch (err) {
      warnOnce('cannot start reading file', file, err);
    } finally {
      if (!ok) await fh.close().catch(() => undefined);
    }
  }

  /** A tracked file now lives under another accepted name (rename rotation to a sibling). */
  function moved(f: Tracked, file: string): void {
    f.path = file;
    stats.rotations++;
  }

  async function fullScan(initial: boolean): Promise<void> {
    const found = await scanFiles(matcher);
    if (stopping) return;
    const byKey = new Map<string, { file: string; st: Stats }[]>();
    for (const [file, st] of found) {
      const key = keyOf(st);
      pathOwner.set(file, key);
      const list = byKey.get(key);
      if (list) list.push({ file, st });
      else byKey.set(key, [{ file, st }]);
    }
    for (const p of [...pathOwner.keys()]) if (!found.has(p)) pathOwner.delete(p);
    const t = now();
    for (const f of tracked.values()) {
      const at = byKey.get(f.key);
      if (at) {
        f.missingSince = undefined;
        if (!at.some((x) => x.file === f.path)) moved(f, at[0]!.file);
      } else if (f.missingSince === undefined) {
        f.missingSince = t;
        stats.rotations++; // renamed out of the globs, or deleted
      }
    }
    for (const [key, at] of byKey) {
      if (stopping) return;
      if (!tracked.has(key)) await track(at[0]!.file, initial);
    }
    for (const f of tracked.values()) signal(f);
  }

  /** A watcher event for one path: see what it names now. */
  async function checkPath(file: string): Promise<void> {
    let st: Stats;
    try {
      st = await stat(file);
    } catch {
      // Gone; the next full scan decides whether its file is findable elsewhere.
      pathOwner.delete(file);
      return;
    }
    if (!st.isFile() || stopping) return;
    const key = keyOf(st);
    pathOwner.set(file, key);
    const f = tracked.get(key);
    if (f) {
      // Follow a rename to another accepted name (a rotated sibling), but do not flip
      // between two names of one file (a symlink and its target).
      if (f.path !== file && pathOwner.get(f.path) !== key) moved(f, file);
      f.missingSince = undefined;
      signal(f);
    } else {
      await track(file, false);
    }
  }

  function enqueue(op: () => Promise<void>): void {
    discovery = discovery.then(op).catch((err: unknown) => {
      logger.warn(errorKind(err), 'file discovery failed; the next rescan retries');
    });
  }

  function onWatchEvent(kind: 'add' | 'change' | 'unlink', file: string): void {
    if (stopping || !matcher.accepts(file)) return;
    if (kind === 'change') {
      const key = pathOwner.get(file);
      const f = key === undefined ? undefined : tracked.get(key);
      if (f) {
        signal(f); // the common case, an append: no syscall needed
        return;
      }
    }
    if (pendingPaths.size === 0) {
      enqueue(async () => {
        const paths = [...pendingPaths];
        pendingPaths.clear();
        for (const p of paths) if (!stopping) await checkPath(p);
      });
    }
    pendingPaths.add(file);
  }

  function onTick(): void {
    if (stopping || scanQueued) return;
    scanQueued = true;
    enqueue(async () => {
      scanQueued = false;
      await fullScan(false);
    });
  }

  // ---- lifecycle ---------------------------------------------------------------

  return {
    name,
    stats,

    async start(h: BatchHandler): Promise<void> {
      if (started) throw new Error(`source ${name} already started`);
      started = true;
      handler = h;
      for (const c of deps.loadCheckpoints()) {
        if (c.source !== name) continue;
        const key = keyOf(c);
        const list = unclaimed.get(key);
        if (list) list.push(c);
        else unclaimed.set(key, [c]);
      }
      enqueue(() => fullScan(true));
      await discovery;
      if (stopping) return;
      reportMissing();
      // One watcher per base, each limited to the depth its globs can match at.
      for (const b of matcher.bases) {
        const w = watch(b.dir, {
          ignoreInitial: true,
          persistent: true,
          // unlink + add, not a merged "change", so a replaced file is seen at once.
          atomic: false,
          ignorePermissionErrors: true,
          ...(b.depth === undefined ? {} : { depth: b.depth }),
          ignored: (p: string, st?: Stats) => (st?.isFile() ?? false) && !matcher.accepts(p),
        });
        w.on('add', (p) => onWatchEvent('add', p));
        w.on('change', (p) => onWatchEvent('change', p));
        w.on('unlink', (p) => onWatchEvent('unlink', p));
        w.on('error', (err) =>
          logger.warn(errorKind(err), 'file watcher error; periodic rescan continues'),
        );
        watchers.push(w);
      }
      timer = setInterval(onTick, cfg.rescan_interval);
    },

    async stop(): Promise<void> {
      if (stopping) return;
      stopping = true;
      abort.abort();
      if (timer) clearInterval(timer);
      for (const f of tracked.values()) signal(f);
      for (const wakeUp of permitQueue.splice(0)) wakeUp(); // they see `stopping` and exit
      await Promise.all(watchers.map((w) => w.close().catch(() => undefined)));
      await discovery;
      while (pumps.size > 0) await Promise.all([...pumps]);
      for (const f of tracked.values()) await f.fh.close().catch(() => undefined);
      tracked.clear();
    },

    missingAtStart: () => stats.missingAtStart,

    lag() {
      return [...tracked.values()].map((f) => ({
        file: f.path,
        bytes: Math.max(0, f.size - f.committed),
      }));
    },
  };
}
