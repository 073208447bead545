/**
 * The `stdin` source: lines from a pipe (`kubectl logs -f ... | auditshipper run`,
 * `auditshipper route -`). Uses the same bounded byte splitter as the file source, so
 * an endless line cannot grow memory (split2 without maxLength would, tailing.md §6.11).
 *
 * stdin cannot be resumed: there is no checkpoint, offsets are a running byte count,
 * and the stream id is random per run so event ids never collide across runs. At EOF
 * (or stop) everything held is handed over: the last line even without its `\n`,
 * and any pending partial run as incomplete.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Framer, LogRecord } from '../framing/types.js';
import type { StdinSourceConfig } from './config.js';
import { deliver, errorKind } from './file/handoff.js';
import { createLineSplitter, type SplitLine } from './file/lines.js';
import type { BatchHandler, Source, SourceBatch } from './types.js';

export interface StdinSourceDeps {
  framerFor(path: string): Framer;
  logger: Logger;
  /** Defaults to process.stdin. */
  input?: Readable;
  /** Clock (epoch ms) for flushing partials; default Date.now. */
  now?: () => number;
}

export interface StdinSourceStats {
  linesRead: number;
  bytesRead: number;
  oversized: number;
}

export interface StdinSource extends Source {
  /** Resolves once input ended (or the source stopped) and every batch was handled. */
  readonly finished: Promise<void>;
  readonly stats: Readonly<StdinSourceStats>;
}

const BATCH_LINES = 1000;
const BATCH_BYTES = 1024 * 1024;
/** Shown as the batch's file and passed to framerFor. */
const STDIN_PATH = '-';

export function createStdinSource(
  name: string,
  cfg: StdinSourceConfig,
  deps: StdinSourceDeps,
): StdinSource {
  const logger = deps.logger.child({ source: name });
  const now = deps.now ?? Date.now;
  const input = deps.input ?? process.stdin;
  const streamId = randomBytes(8).toString('hex');
  const stats: StdinSourceStats = { linesRead: 0, bytesRead: 0, oversized: 0 };
  const abort = new AbortController();
  let started = false;
  let stopping = false;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => (resolveFinished = resolve));
  let run: Promise<void> = Promise.resolve();

  async function read(handler: BatchHandler): Promise<void> {
    const splitter = createLineSplitter({
      maxLineBytes: cfg.max_line_bytes,
      oversized: cfg.oversized_lines,
    });
    const framer = deps.framerFor(STDIN_PATH);
    let records: LogRecord[] = [];
    let lines = 0;
    let oversized = 0;
    let consumed = 0;
    let handedTo = 0;

    const take = (line: SplitLine): void => {
      stats.linesRead++;
      lines++;
      consumed = line.end;
      if (line.truncated || line.skipped) {
        oversized++;
        stats.oversized++;
      }
      if (line.skipped) return;
      try {
        for (const r of framer.push(line)) records.push(r);
      } catch (err) {
        logger.warn(errorKind(err), 'framer failed on a stdin line; line dropped');
      }
    };

    const send = async (): Promise<void> => {
      if (lines === 0 && records.length === 0) return;
      const batch: SourceBatch = {
        source: name,
        file: STDIN_PATH,
        streamId,
        records,
        checkpoint: null,
        bytesRead: consumed - handedTo,
        linesRead: lines,
        oversized,
      };
      records = [];
      lines = 0;
      oversized = 0;
      handedTo = consumed;
      await deliver(handler, batch, { signal: abort.signal, logger });
    };

    try {
      for await (const chunk of input as AsyncIterable<Buffer | string>) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        stats.bytesRead += buf.length;
        for (const line of splitter.push(buf)) {
          take(line);
          if (lines >= BATCH_LINES || consumed - handedTo >= BATCH_BYTES) await send();
        }
        // A pipe may stay quiet for long: hand over what this chunk completed now.
        await send();
        if (stopping) break;
      }
    } catch (err) {
      if (!stopping) logger.warn(errorKind(err), 'stdin read failed; treating it as end of input');
    }
    const last = splitter.finish();
    if (last) take(last);
    for (const r of framer.flush(now())) records.push(r);
    await send();
  }

  return {
    name,
    finished,
    stats,

    start(handler: BatchHandler): Promise<void> {
      if (started) return Promise.reject(new Error(`source ${name} already started`));
      started = true;
      run = read(handler)
        .catch((err: unknown) => logger.error(errorKind(err), 'stdin source failed'))
        .finally(resolveFinished);
      return Promise.resolve();
    },

    async stop(): Promise<void> {
      if (stopping) return;
      stopping = true;
      // Ends a pending read; what was already read is still handed over (it cannot be re-read).
      // A failing handler is retried until here; a working one still gets the last batch.
      input.destroy();
      abort.abort();
      await run;
      resolveFinished();
    },
  };
}
