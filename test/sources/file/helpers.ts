/**
 * Test helpers for the file source: trivial framers, a fake store that commits
 * records + checkpoint atomically (like store.ingest), temp dirs and polling.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Framer, LogRecord, PhysicalLine } from '../../../src/framing/types.js';
import { fileSourceSchema, type FileSourceConfig } from '../../../src/sources/config.js';
import { createFileSource, type FileSource } from '../../../src/sources/file/index.js';
import type { FileCheckpoint, SourceBatch } from '../../../src/sources/types.js';

export const silent = pino({ level: 'silent' });

/** Each physical line is one record. */
export function lineFramer(): Framer {
  const stats = { malformed: 0, incomplete: 0, truncated: 0 };
  return {
    push(line: PhysicalLine): LogRecord[] {
      const r: LogRecord = { text: line.bytes.toString('utf8'), offset: line.offset };
      if (line.truncated) r.truncated = true;
      return [r];
    },
    flush: () => [],
    pendingFrom: () => undefined,
    stats,
  };
}

/**
 * A CRI-like framer: lines starting "P " are held until a line starting "F ", then
 * merged into one record (text = pieces without the prefix). flush() emits pending
 * pieces as an incomplete record.
 */
export function partialFramer(now: () => number = Date.now): Framer {
  const stats = { malformed: 0, incomplete: 0, truncated: 0 };
  let pieces: string[] = [];
  let from: number | undefined;
  let since = 0;
  return {
    push(line) {
      const text = line.bytes.toString('utf8');
      if (text.startsWith('P ')) {
        if (from === undefined) {
          from = line.offset;
          since = now();
        }
        pieces.push(text.slice(2));
        return [];
      }
      const body = text.startsWith('F ') ? text.slice(2) : text;
      const r: LogRecord = { text: pieces.join('') + body, offset: from ?? line.offset };
      pieces = [];
      from = undefined;
      return [r];
    },
    flush(t, olderThan) {
      if (from === undefined) return [];
      if (olderThan !== undefined && t - since < olderThan) return [];
      const r: LogRecord = { text: pieces.join(''), offset: from, incomplete: true };
      pieces = [];
      from = undefined;
      stats.incomplete++;
      return [r];
    },
    pendingFrom: () => from,
    stats,
  };
}

export async function tempDir(
  prefix = 'auditshipper-src-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll until cond() is true; fail with `what` after timeoutMs. */
export async function waitFor(
  cond: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export interface StoredEvent {
  id: string;
  text: string;
  file: string | null;
  incomplete: boolean;
  truncated: boolean;
}

/**
 * The durable store as the source sees it: a batch's records and checkpoint are
 * committed together, event ids are streamId:offset and inserted "OR IGNORE".
 * `down` simulates a crashed process: batches are accepted but nothing is stored.
 */
export function fakeStore() {
  const events = new Map<string, StoredEvent>();
  const order: StoredEvent[] = [];
  const checkpoints = new Map<string, FileCheckpoint>();
  const batches: SourceBatch[] = [];
  const store = {
    events,
    order,
    checkpoints,
    batches,
    /** Contract violations seen by the handler (asserting there would only cause retries). */
    violations: [] as string[],
    down: false,
    /** Extra handler behaviour (delay, failure) before committing. */
    before: undefined as undefined | ((b: SourceBatch) => Promise<void>),
    texts(): string[] {
      return order.map((e) => e.text);
    },
    load(): FileCheckpoint[] {
      return [...checkpoints.values()].map((c) => ({ ...c }));
    },
    /** Stream ids whose checkpoints the source deleted (ended streams), in order. */
    forgotten: [] as string[],
    forget(fileId: string): void {
      checkpoints.delete(fileId);
      store.forgotten.push(fileId);
    },
    async handler(batch: SourceBatch): Promise<void> {
      if (store.before) await store.before(batch);
      if (store.down) return;
      batches.push(batch);
      for (const r of batch.records) {
        const id = `${batch.streamId}:${r.offset}`;
        const prev = events.get(id);
        if (prev) {
          // A re-read may repeat an event only under the same id and content.
          if (prev.text !== r.text) store.violations.push(`id ${id} reused for different content`);
          continue;
        }
        const e: StoredEvent = {
          id,
          text: r.text,
          file: batch.file,
          incomplete: r.incomplete ?? false,
          truncated: r.truncated ?? false,
        };
        events.set(id, e);
        order.push(e);
      }
      if (batch.checkpoint) {
        if (batch.checkpoint.fileId !== batch.streamId)
          store.violations.push('checkpoint/stream mismatch');
        checkpoints.set(batch.checkpoint.fileId, { ...batch.checkpoint });
      }
    },
  };
  return store;
}

export type FakeStore = ReturnType<typeof fakeStore>;

export function fileConfig(overrides: Record<string, unknown>): FileSourceConfig {
  return fileSourceSchema.parse({
    type: 'file',
    rescan_interval: '20ms',
    partial_timeout: '100ms',
    ...overrides,
  });
}

/** Start a file source wired to a fake store. */
export async function startSource(
  cfg: FileSourceConfig,
  store: FakeStore,
  opts: {
    firstStart?: boolean;
    framer?: (p: string) => Framer;
    name?: string;
    now?: () => number;
    forgetsSince?: number;
    logger?: pino.Logger;
  } = {},
): Promise<FileSource> {
  const src = createFileSource(opts.name ?? 'test', cfg, {
    loadCheckpoints: () => store.load(),
    forgetCheckpoint: (fileId) => store.forget(fileId),
    ...(opts.forgetsSince !== undefined ? { forgetsSince: opts.forgetsSince } : {}),
    framerFor: opts.framer ?? (() => lineFramer()),
    logger: opts.logger ?? silent,
    firstStart: opts.firstStart ?? true,
    ...(opts.now ? { now: opts.now } : {}),
  });
  await src.start((b) => store.handler(b));
  return src;
}
