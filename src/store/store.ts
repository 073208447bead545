/**
 * The durable buffer: SQLite in WAL mode.
 *
 * Storage: one `batches` row per ingest batch (its events' canonical JSON concatenated as
 * UTF-8 bytes, their ids and byte lengths, the stream and offset range they came from; rows
 * from before schema 3 hold text and character lengths) and one `bqueue` row per
 * (sink, batch) listing the events that sink still needs. An event is addressed by
 * `seq = batch seq * 2^20 + index`, so delivery cursors are single numbers. Per-event rows
 * (the first schema) spent a third of the agent's CPU in SQLite; per-batch rows cost a few
 * statements per thousand events.
 *
 * The durability protocol (DESIGN.md) in code:
 *  - ingestBatch(): ONE transaction inserts the redacted events, their queue rows and the
 *    source checkpoint. Event ids derive from stream + offset, so a re-read after a crash
 *    inserts nothing twice: events from a stream and offsets already buffered are skipped.
 *  - leaseBatch(): a delivery loop reads the oldest queued events after its cursor. Leases
 *    live in memory: after a crash everything not acked is simply sent again.
 *  - ackBatch(): ONE transaction takes the delivered events off the sink's queue rows and
 *    drops (or marks) batches no sink still needs.
 *  - deadLetter(): moves events a receiver rejected to the DLQ (one row each) with the reason.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { FileCheckpoint } from '../sources/types.js';
import type { QueuedEvent } from '../sinks/types.js';
import { migrate } from './schema.js';

export interface StoreOptions {
  /** Directory holding `buffer.db` (created if missing). */
  dataDir: string;
  /** `normal` survives a process crash; `full` also survives power loss. */
  sync: 'normal' | 'full';
  /** Keep delivered events this long (ms) before deleting them; 0 = delete at once. */
  keepDeliveredMs: number;
  /** Open read-only (for `status` and friends while the agent runs). */
  readonly?: boolean;
  now?: () => number;
}

export interface IngestItem {
  id: string;
  /**
   * Byte offset of the record in its stream. With the stream passed to ingestBatch it makes
   * the re-read check exact and cheap (ids derive from stream + offset).
   */
  offset?: number;
  /**
   * Canonical JSON of the redacted event: as a string, or already encoded as UTF-8 (the
   * pipeline encodes each body as it is made, so the string dies young: see stages.ts).
   */
  body: string | Uint8Array;
  /** Sink names that must receive it (non-empty). */
  sinks: readonly string[];
}

export interface IngestResult {
  inserted: number;
  duplicates: number;
}

export interface DeadLetter {
  dlqId: number;
  sink: string;
  eventId: string;
  ingestedAt: number;
  failedAt: number;
  status: number | null;
  reason: string;
  response: string | null;
  bytes: number;
  body: string;
}

export interface SinkQueueStats {
  sink: string;
  depth: number;
  oldestIngestedAt: number | null;
  dlq: number;
}

export interface Store {
  readonly path: string;
  /** SQLite's page cache bound for this connection, in KiB (PAGE_CACHE_KIB). */
  readonly pageCacheKiB: number;
  /**
   * Store a source batch and its checkpoint in one transaction. With `stream` (the batch's
   * stream id) and every item's offset, events already buffered from the same stream and
   * offsets are skipped and counted as duplicates.
   */
  ingestBatch(
    items: readonly IngestItem[],
    checkpoint: FileCheckpoint | null,
    stream?: string | null,
  ): IngestResult;
  /** Commit a checkpoint on its own (a batch that produced no events). */
  saveCheckpoint(cp: FileCheckpoint): void;
  forgetCheckpoint(source: string, fileId: string): void;
  loadCheckpoints(source: string): FileCheckpoint[];
  allCheckpoints(): FileCheckpoint[];
  /** True once a source has started at least once (read_from applies only before that). */
  markSourceStarted(source: string): boolean;
  leaseBatch(sink: string, afterSeq: number, maxEvents: number, maxBytes: number): QueuedEvent[];
  /** Ingest time of the oldest queued row after the cursor, without reading bodies; null if none. */
  peekOldest(sink: string, afterSeq: number): number | null;
  ackBatch(sink: string, seqs: readonly number[]): void;
  deadLetter(
    sink: string,
    events: readonly QueuedEvent[],
    why: { status?: number; reason: string; response?: string },
  ): void;
  listDeadLetters(opts?: { sink?: string; limit?: number }): DeadLetter[];
  /** Move dead letters back to their sink's queue; returns how many. */
  replayDeadLetters(opts?: { sink?: string; id?: number }): number;
  purgeDeadLetters(opts?: { sink?: string; before?: number }): number;
  /** Bytes held: queued + kept events + DLQ. Compared against buffer.max_bytes. */
  bytesUsed(): number;
  queueStats(): SinkQueueStats[];
  queueDepth(sink: string): number;
  /** Delete delivered events older than keep_delivered. Returns rows removed. */
  collectGarbage(): number;
  /** Cheap write probe for health checks. */
  probeWritable(): void;
  /** Small JSON state the agent publishes for `status` (e.g. per-sink last error). */
  setState(key: string, value: unknown): void;
  getState(key: string): unknown;
  close(): void;
}

export function openStore(opts: StoreOptions): Store {
  const now = opts.now ?? Date.now;
  if (!opts.readonly) mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const path = join(opts.dataDir, 'buffer.db');
  const db = new Database(path, {
    readonly: opts.readonly ?? false,
    fileMustExist: opts.readonly ?? false,
  });
  db.pragma('busy_timeout = 5000');
  db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
  const pageCacheKiB = -(db.pragma('cache_size', { simple: true }) as number);
  if (!opts.readonly) {
    // A new buffer gets PAGE_SIZE pages; one that exists keeps the size it was made with
    // (changing it means rewriting the whole file, and a WAL database cannot in place).
    if ((db.pragma('page_count', { simple: true }) as number) === 0)
      db.pragma(`page_size = ${PAGE_SIZE}`);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${opts.sync === 'full' ? 'FULL' : 'NORMAL'}`);
    // Batch rows are hundreds of KiB of bodies; deleted pages are reused. The WAL is
    // checkpointed, on this thread, by the commit that takes it past WAL_CHECKPOINT_BYTES.
    db.pragma(
      `wal_autocheckpoint = ${Math.ceil(WAL_CHECKPOINT_BYTES / (db.pragma('page_size', { simple: true }) as number))}`,
    );
    db.pragma('temp_store = MEMORY');
    migrate(db);
  }

  const sinkIds = new Map<string, number>();
  const sinkNames = new Map<number, string>();
  const loadSinks = () => {
    for (const r of db.prepare('SELECT id, name FROM sinks').all() as {
      id: number;
      name: string;
    }[]) {
      sinkIds.set(r.name, r.id);
      sinkNames.set(r.id, r.name);
    }
  };
  loadSinks();
  const insertSink = opts.readonly ? null : db.prepare('INSERT INTO sinks (name) VALUES (?)');
  const sinkId = (name: string): number => {
    let id = sinkIds.get(name);
    if (id === undefined) {
      if (!insertSink) return -1;
      id = Number(insertSink.run(name).lastInsertRowid);
      sinkIds.set(name, id);
      sinkNames.set(id, name);
    }
    return id;
  };

  // Byte accounting kept in memory (one SUM at open) so the hot path never scans.
  const sumBytes = () =>
    ((db.prepare('SELECT COALESCE(SUM(bytes),0) AS b FROM batches').get() as { b: number }).b ??
      0) +
    ((db.prepare('SELECT COALESCE(SUM(bytes),0) AS b FROM dlq').get() as { b: number }).b ?? 0);
  let usedBytes = sumBytes();
  const depth = new Map<number, number>();
  const countDepth = () => {
    const rows = db.prepare('SELECT sink_id, SUM(n) AS n FROM bqueue GROUP BY sink_id').all() as {
      sink_id: number;
      n: number;
    }[];
    depth.clear();
    for (const r of rows) depth.set(r.sink_id, r.n);
  };
  countDepth();
  const addDepth = (id: number, n: number) => depth.set(id, (depth.get(id) ?? 0) + n);

  // `dlq replay` and `dlq purge` run in another process while the agent runs: they change the
  // queue and the byte total behind this connection's back, which left the in-memory counts
  // wrong until restart (a negative queue depth after a replay; after a purge, bytes that no
  // longer exist still counted against buffer.max_bytes, so a buffer "full of dead letters"
  // stayed blocked after the operator purged them). PRAGMA data_version changes only when
  // ANOTHER connection commits, so the check is a few microseconds and a recount happens only
  // after such a command.
  const dataVersion = db.prepare('PRAGMA data_version').pluck();
  let seenVersion = dataVersion.get() as number;
  const syncExternalChanges = () => {
    const v = dataVersion.get() as number;
    if (v === seenVersion) return;
    seenVersion = v;
    usedBytes = sumBytes();
    countDepth();
  };

  if (opts.readonly) {
    return readonlyStore(db, path, pageCacheKiB, sinkNames, () => usedBytes, depth);
  }

  const stmt = {
    insertBatch: db.prepare(
      `INSERT INTO batches (ingested_at, stream, lo, hi, n, bytes, refs, ids, lens, body)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    // Batches of the same stream whose offset range meets [lo, hi]: the index (stream, hi)
    // makes this one seek that finds nothing for new data.
    overlapping: db
      .prepare('SELECT ids FROM batches WHERE stream = ? AND hi >= ? AND lo <= ?')
      .pluck(),
    insertQueue: db.prepare('INSERT INTO bqueue (sink_id, bseq, n, idx) VALUES (?, ?, ?, ?)'),
    upsertCheckpoint: db.prepare(
      `INSERT INTO checkpoints (source, file_id, path, dev, ino, offset, head_hash, head_len, tail_hash, updated_at)
       VALUES (@source, @fileId, @path, @dev, @ino, @offset, @headHash, @headLen, @tailHash, @updatedAt)
       ON CONFLICT (source, file_id) DO UPDATE SET path = excluded.path, dev = excluded.dev, ino = excluded.ino,
         offset = excluded.offset, head_hash = excluded.head_hash, head_len = excluded.head_len,
         tail_hash = excluded.tail_hash, updated_at = excluded.updated_at`,
    ),
    deleteCheckpoint: db.prepare('DELETE FROM checkpoints WHERE source = ? AND file_id = ?'),
    loadCheckpoints: db.prepare('SELECT * FROM checkpoints WHERE source = ?'),
    allCheckpoints: db.prepare('SELECT * FROM checkpoints ORDER BY source, path'),
    queueRows: db.prepare(
      'SELECT bseq, n, idx FROM bqueue WHERE sink_id = ? AND bseq >= ? ORDER BY bseq LIMIT ?',
    ),
    queueRow: db.prepare('SELECT n, idx FROM bqueue WHERE sink_id = ? AND bseq = ?'),
    updateQueue: db.prepare('UPDATE bqueue SET n = ?, idx = ? WHERE sink_id = ? AND bseq = ?'),
    deleteQueue: db.prepare('DELETE FROM bqueue WHERE sink_id = ? AND bseq = ?'),
    batch: db.prepare(
      'SELECT ingested_at AS ingestedAt, n, ids, lens, body FROM batches WHERE seq = ?',
    ),
    batchTime: db.prepare('SELECT ingested_at FROM batches WHERE seq = ?').pluck(),
    decRef: db.prepare('UPDATE batches SET refs = refs - 1 WHERE seq = ? RETURNING refs, bytes'),
    deleteBatch: db.prepare('DELETE FROM batches WHERE seq = ?'),
    markDelivered: db.prepare('UPDATE batches SET delivered_at = ? WHERE seq = ?'),
    insertDlq: db.prepare(
      `INSERT INTO dlq (sink_id, event_id, ingested_at, failed_at, status, reason, response, bytes, body)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
    gc: db.prepare('DELETE FROM batches WHERE refs = 0 AND delivered_at <= ? RETURNING bytes, n'),
  };

  /** Where a row's bodies are encoded before they are bound (kept between rows, bounded). */
  let scratch = Buffer.allocUnsafeSlow(SCRATCH_KEEP);

  /**
   * Write one batch row and its queue rows. `queue` maps a sink id to the indexes (ascending)
   * of the entries it must receive; a sink that takes every entry gets `idx` NULL.
   */
  const writeBatch = (
    t: number,
    entries: readonly { id: string; body: string | Uint8Array }[],
    range: { stream: string; lo: number; hi: number } | null,
    queue: Map<number, number[]>,
    depthAdded: Map<number, number>,
  ): number => {
    const n = entries.length;
    const ids = new Array<string>(n);
    const lens = new Array<number>(n);
    // Stored as bytes (a BLOB, `lens` in bytes): leases hand sinks slices of it and an NDJSON
    // request is a copy of those slices, where a TEXT body was decoded, split, joined and
    // encoded again for every request. Rows written as TEXT (older versions) hold character
    // lengths and are still read as text (decodeBatch). Each body is encoded once (or, when
    // it comes encoded, copied) straight into a reused buffer (SQLite copies a bound blob):
    // a third of the cost of joining the strings and encoding the result.
    let at = 0;
    for (let i = 0; i < n; i++) {
      const e = entries[i]!;
      ids[i] = e.id;
      const b = e.body;
      const room = typeof b === 'string' ? b.length * 3 : b.length;
      if (scratch.length - at < room) {
        const grown = Buffer.allocUnsafeSlow(Math.max(scratch.length * 2, at + room));
        scratch.copy(grown, 0, 0, at);
        scratch = grown;
      }
      let w: number;
      if (typeof b === 'string') w = scratch.write(b, at, 'utf8');
      else {
        scratch.set(b, at);
        w = b.length;
      }
      lens[i] = w;
      at += w;
    }
    const body = scratch.subarray(0, at);
    const bytes = at;
    const bseq = Number(
      stmt.insertBatch.run(
        t,
        range?.stream ?? null,
        range?.lo ?? null,
        range?.hi ?? null,
        n,
        bytes,
        queue.size,
        ids.join('\n'),
        n === 1 ? '' : lens.join(','),
        body,
      ).lastInsertRowid,
    );
    if (scratch.length > SCRATCH_KEEP) scratch = Buffer.allocUnsafeSlow(SCRATCH_KEEP);
    if (bseq >= MAX_BATCH_SEQ) throw new Error('buffer sequence exhausted');
    for (const [sid, idx] of queue) {
      stmt.insertQueue.run(sid, bseq, idx.length, idx.length === n ? null : idx.join(','));
      depthAdded.set(sid, (depthAdded.get(sid) ?? 0) + idx.length);
    }
    return bytes;
  };

  /** Drop one sink's reference to a batch; delete or mark it when no sink needs it any more. */
  const release = (bseq: number) => {
    const r = stmt.decRef.get(bseq) as { refs: number; bytes: number } | undefined;
    if (!r || r.refs > 0) return;
    if (opts.keepDeliveredMs <= 0) {
      stmt.deleteBatch.run(bseq);
      usedBytes -= r.bytes;
    } else {
      stmt.markDelivered.run(now(), bseq);
    }
  };

  /**
   * Take events (by seq) off a sink's queue; `onRemoved` sees each one that was still queued.
   * One read and one write per batch row touched, whatever the number of events.
   */
  const removeFromQueue = (
    sid: number,
    seqs: readonly number[],
    onRemoved?: (seq: number) => void,
  ): number => {
    const byBatch = new Map<number, Set<number>>();
    for (const s of seqs) {
      const bseq = Math.floor(s / SPAN);
      let set = byBatch.get(bseq);
      if (!set) byBatch.set(bseq, (set = new Set()));
      set.add(s - bseq * SPAN);
    }
    let removed = 0;
    for (const [bseq, gone] of byBatch) {
      const row = stmt.queueRow.get(sid, bseq) as QueueRow | undefined;
      if (!row) continue;
      const pending = pendingIndexes(row);
      const left: number[] = [];
      for (const i of pending) {
        if (gone.has(i)) onRemoved?.(bseq * SPAN + i);
        else left.push(i);
      }
      if (left.length === pending.length) continue;
      removed += pending.length - left.length;
      if (left.length === 0) {
        stmt.deleteQueue.run(sid, bseq);
        release(bseq);
      } else {
        stmt.updateQueue.run(left.length, left.join(','), sid, bseq);
      }
    }
    return removed;
  };

  /** The last batch row each sink read, split into events: leases usually walk one row in steps. */
  const decoded = new Map<number, DecodedBatch>();
  const decodedBatch = (sid: number, bseq: number): DecodedBatch | null => {
    const hit = decoded.get(sid);
    if (hit?.bseq === bseq) return hit;
    const r = stmt.batch.get(bseq) as BatchRow | undefined;
    if (!r) return null;
    const d = decodeBatch(bseq, r);
    decoded.set(sid, d);
    return d;
  };

  const saveCheckpointTx = (cp: FileCheckpoint) =>
    stmt.upsertCheckpoint.run({ ...cp, updatedAt: now() });

  const ingestTx = db.transaction(
    (items: readonly IngestItem[], checkpoint: FileCheckpoint | null, stream: string | null) => {
      let fresh = items;
      let keyed = stream !== null && items.length > 0;
      for (let i = 0; keyed && i < items.length; i++) keyed = items[i]!.offset !== undefined;
      if (keyed) {
        // A re-read (after a crash, or a file seen again) repeats (stream, offset), hence ids:
        // only batches of this stream covering the same offsets can hold them.
        const { lo, hi } = offsetRange(items, 0, items.length);
        const prior = stmt.overlapping.all(stream, lo, hi) as string[];
        if (prior.length > 0) {
          const seen = new Set<string>();
          for (const ids of prior) for (const id of ids.split('\n')) seen.add(id);
          fresh = items.filter((it) => !seen.has(it.id));
        }
      }
      const t = now();
      let bytesAdded = 0;
      const depthAdded = new Map<number, number>();
      for (let from = 0; from < fresh.length;) {
        let to = from;
        let chars = 0;
        while (
          to < fresh.length &&
          to - from < MAX_ROW_EVENTS &&
          (to === from || chars < MAX_ROW_CHARS)
        )
          chars += fresh[to++]!.body.length;
        const queue = new Map<number, number[]>();
        for (let i = from; i < to; i++) {
          for (const s of fresh[i]!.sinks) {
            const sid = sinkId(s);
            let idx = queue.get(sid);
            if (!idx) queue.set(sid, (idx = []));
            if (idx[idx.length - 1] !== i - from) idx.push(i - from);
          }
        }
        const range = keyed ? { stream: stream!, ...offsetRange(fresh, from, to) } : null;
        bytesAdded += writeBatch(t, fresh.slice(from, to), range, queue, depthAdded);
        from = to;
      }
      if (checkpoint) saveCheckpointTx(checkpoint);
      return {
        inserted: fresh.length,
        duplicates: items.length - fresh.length,
        bytesAdded,
        depthAdded,
      };
    },
  );

  const ackTx = db.transaction((sid: number, seqs: readonly number[]) =>
    removeFromQueue(sid, seqs),
  );

  const dlqTx = db.transaction(
    (
      sid: number,
      events: readonly QueuedEvent[],
      why: { status?: number; reason: string; response?: string },
    ) => {
      const t = now();
      const bySeq = new Map(events.map((e) => [e.seq, e]));
      return removeFromQueue(
        sid,
        events.map((e) => e.seq),
        (seq) => {
          const e = bySeq.get(seq)!;
          stmt.insertDlq.run(
            sid,
            e.id,
            e.ingestedAt,
            t,
            why.status ?? null,
            why.reason,
            why.response ?? null,
            e.bytes,
            e.body,
          );
          usedBytes += e.bytes;
        },
      );
    },
  );

  const replayTx = db.transaction((where: string, args: unknown[]) => {
    const rows = db
      .prepare(
        `SELECT id, sink_id, event_id, ingested_at, bytes, body FROM dlq ${where} ORDER BY id`,
      )
      .all(...args) as {
      id: number;
      sink_id: number;
      event_id: string;
      ingested_at: number;
      bytes: number;
      body: string;
    }[];
    const del = db.prepare('DELETE FROM dlq WHERE id = ?');
    // One new batch row per sink, after every delivery cursor; the event ids stay the same,
    // so receivers can still de-duplicate a replay.
    const depthAdded = new Map<number, number>();
    const bySink = new Map<number, typeof rows>();
    for (const r of rows) {
      let l = bySink.get(r.sink_id);
      if (!l) bySink.set(r.sink_id, (l = []));
      l.push(r);
    }
    for (const [sid, list] of bySink) {
      for (let from = 0; from < list.length; from += MAX_ROW_EVENTS) {
        const chunk = list.slice(from, from + MAX_ROW_EVENTS);
        const entries = chunk.map((r) => ({ id: r.event_id, body: r.body }));
        const idx = entries.map((_, i) => i);
        usedBytes += writeBatch(
          chunk[0]!.ingested_at,
          entries,
          null,
          new Map([[sid, idx]]),
          depthAdded,
        );
      }
      for (const r of list) {
        del.run(r.id);
        usedBytes -= r.bytes;
      }
    }
    return { n: rows.length, depthAdded };
  });

  const dlqWhere = (o: { sink?: string; id?: number; before?: number }) => {
    const clauses: string[] = [];
    const args: unknown[] = [];
    if (o.sink !== undefined) {
      clauses.push('sink_id = ?');
      args.push(sinkIds.get(o.sink) ?? -1);
    }
    if (o.id !== undefined) {
      clauses.push('id = ?');
      args.push(o.id);
    }
    if (o.before !== undefined) {
      clauses.push('failed_at < ?');
      args.push(o.before);
    }
    return { where: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', args };
  };

  return {
    path,
    pageCacheKiB,
    ingestBatch(items, checkpoint, stream = null) {
      const r = ingestTx(items, checkpoint, stream);
      usedBytes += r.bytesAdded;
      for (const [sid, n] of r.depthAdded) addDepth(sid, n);
      return { inserted: r.inserted, duplicates: r.duplicates };
    },
    saveCheckpoint(cp) {
      saveCheckpointTx(cp);
    },
    forgetCheckpoint(source, fileId) {
      stmt.deleteCheckpoint.run(source, fileId);
    },
    loadCheckpoints(source) {
      return (stmt.loadCheckpoints.all(source) as CheckpointRow[]).map(rowToCheckpoint);
    },
    allCheckpoints() {
      return (stmt.allCheckpoints.all() as CheckpointRow[]).map(rowToCheckpoint);
    },
    markSourceStarted(source) {
      const key = `source_started:${source}`;
      const seen = stmt.getMeta.get(key) !== undefined;
      if (!seen) stmt.setMeta.run(key, String(now()));
      return seen;
    },
    leaseBatch(sink, afterSeq, maxEvents, maxBytes) {
      const sid = sinkId(sink);
      const out: QueuedEvent[] = [];
      let bytes = 0;
      let from = Math.floor(afterSeq / SPAN);
      const firstIndex = afterSeq - from * SPAN + 1;
      const cursorBatch = from;
      for (;;) {
        const rows = stmt.queueRows.all(sid, from, LEASE_ROWS) as (QueueRow & { bseq: number })[];
        for (const row of rows) {
          const b = decodedBatch(sid, row.bseq);
          if (!b) continue;
          const min = row.bseq === cursorBatch ? firstIndex : 0;
          for (const i of pendingIndexes(row)) {
            if (i < min) continue;
            const size = sizeOf(b, i);
            // Always take at least one event, even one larger than maxBytes: the sink decides.
            if (out.length > 0 && bytes + size > maxBytes) return out;
            out.push(leased(b, i, row.bseq * SPAN + i));
            bytes += size;
            if (out.length >= maxEvents) return out;
          }
        }
        if (rows.length < LEASE_ROWS) return out;
        from = rows[rows.length - 1]!.bseq + 1;
      }
    },
    peekOldest(sink, afterSeq) {
      const sid = sinkId(sink);
      const cursorBatch = Math.floor(afterSeq / SPAN);
      const firstIndex = afterSeq - cursorBatch * SPAN + 1;
      for (const row of stmt.queueRows.all(sid, cursorBatch, 2) as (QueueRow & {
        bseq: number;
      })[]) {
        if (row.bseq === cursorBatch) {
          const pending = pendingIndexes(row);
          if (pending[pending.length - 1]! < firstIndex) continue;
        }
        return (stmt.batchTime.get(row.bseq) as number | undefined) ?? null;
      }
      return null;
    },
    ackBatch(sink, seqs) {
      const sid = sinkId(sink);
      addDepth(sid, -ackTx(sid, seqs));
    },
    deadLetter(sink, events, why) {
      const sid = sinkId(sink);
      addDepth(sid, -dlqTx(sid, events, why));
    },
    listDeadLetters(o = {}) {
      const { where, args } = dlqWhere(o);
      return listDlq(db, where, args, o.limit, sinkNames);
    },
    replayDeadLetters(o = {}) {
      const { where, args } = dlqWhere(o);
      const r = replayTx(where, args);
      for (const [sid, n] of r.depthAdded) addDepth(sid, n);
      return r.n;
    },
    purgeDeadLetters(o = {}) {
      const { where, args } = dlqWhere(o);
      const rows = db.prepare(`DELETE FROM dlq ${where} RETURNING bytes`).all(...args) as {
        bytes: number;
      }[];
      for (const r of rows) usedBytes -= r.bytes;
      return rows.length;
    },
    bytesUsed: () => {
      syncExternalChanges();
      return usedBytes;
    },
    queueStats: () => {
      syncExternalChanges();
      return queueStats(db, sinkNames, depth);
    },
    queueDepth: (sink) => {
      syncExternalChanges();
      return depth.get(sinkIds.get(sink) ?? -1) ?? 0;
    },
    collectGarbage() {
      syncExternalChanges();
      if (opts.keepDeliveredMs <= 0) return 0;
      let events = 0;
      for (const r of stmt.gc.all(now() - opts.keepDeliveredMs) as { bytes: number; n: number }[]) {
        usedBytes -= r.bytes;
        events += r.n;
      }
      return events;
    },
    probeWritable() {
      stmt.setMeta.run('last_probe', String(now()));
    },
    setState(key, value) {
      stmt.setMeta.run(`state:${key}`, JSON.stringify(value));
    },
    getState(key) {
      const r = stmt.getMeta.get(`state:${key}`) as { value: string } | undefined;
      return r ? (JSON.parse(r.value) as unknown) : undefined;
    },
    close() {
      if (db.open) {
        // Fold the WAL back into the main file so a stopped agent leaves one consistent file.
        try {
          db.pragma('wal_checkpoint(TRUNCATE)');
        } catch {
          // a failed checkpoint is harmless: the WAL is replayed on next open
        }
        db.close();
      }
    },
  };
}

/**
 * SQLite's page cache per connection, in KiB. better-sqlite3 builds SQLite with a 16 MiB
 * default; SQLite's own is 2 MiB. The buffer is a queue: rows are appended, read back
 * once (usually within a second of being written) and deleted, so the hot pages are the
 * tails of a few B-trees and a larger cache mostly keeps bodies that will not be read
 * again. Filling 16 MiB took the steady 5,000 lines/s run about 8 minutes and was most
 * of its RSS growth (130 → 148 MiB, then flat through minute 20); with 2 MiB a backlog
 * drain peaked 15-20 MiB lower and throughput did not change measurably (issue 7, three
 * interleaved pairs). A page the cache no longer holds is read from the OS page cache.
 */
export const PAGE_CACHE_KIB = 2048;

/**
 * Page size of a new buffer database: SQLite's default, 4 KiB, chosen by measurement
 * (`npm run bench:store`, bench/store.ts). A batch row holds its events' bodies as a chain
 * of overflow pages, and under load (500-event rows) larger pages save CPU: 8 KiB 4-22%
 * of the store's over three runs, 16 KiB about a quarter. But every commit writes whole
 * pages for the small rows it touches (queue row, checkpoint, indexes), and at the rates
 * an agent runs at most of the time commits are small: with 5-event rows 16 KiB pages
 * wrote 2.5× the bytes of 4 KiB ones for more CPU, 8 KiB 1.2× the bytes. A steady 5,000
 * lines/s run wrote 1.8× its input with 16 KiB pages instead of 1.1×. Disk writes at the
 * steady rate matter more than CPU at full speed, which is not what limits throughput
 * (issue 7: the store is about a fifth of the main thread). A buffer keeps the page size
 * it was made with.
 */
export const PAGE_SIZE = 4096;

/**
 * WAL size at which a commit checkpoints it: SQLite's default of 1000 pages at 4 KiB,
 * kept in bytes whatever the page size, so the WAL file stays about this large.
 */
export const WAL_CHECKPOINT_BYTES = 4 * 1024 * 1024;

/**
 * Events of a batch row are addressed as `bseq * SPAN + index`, so a delivery cursor stays one
 * number and orders like the rows. 2^20 events per row is far above MAX_ROW_EVENTS, and
 * bseq below 2^33 keeps every seq a safe integer.
 */
const SPAN = 2 ** 20;
const MAX_BATCH_SEQ = 2 ** 33;
/** A source batch larger than this is written as several rows (in the same transaction). */
const MAX_ROW_EVENTS = 4096;
/** ... or when its bodies pass this size (characters of a string body, bytes of an encoded one). */
const MAX_ROW_CHARS = 8 * 1024 * 1024;
/** Encoding buffer kept between batch rows; a larger one made for a huge row is let go. */
const SCRATCH_KEEP = 4 * 1024 * 1024;
/** Queue rows read per step of a lease (each holds up to a whole ingest batch). */
const LEASE_ROWS = 16;

interface QueueRow {
  n: number;
  /** Pending indexes, comma-separated ascending; null = every event of the batch. */
  idx: string | null;
}

interface BatchRow {
  ingestedAt: number;
  n: number;
  ids: string;
  lens: string;
  /** A Buffer for rows written as bytes (lens in bytes), a string for TEXT rows (lens in chars). */
  body: string | Buffer;
}

type DecodedBatch = {
  bseq: number;
  ingestedAt: number;
  ids: string[];
} & (
  | {
      /** The row's body bytes; event i is raw[starts[i], starts[i + 1]). */
      raw: Buffer;
      starts: number[];
    }
  | {
      raw: null;
      bodies: string[];
      /** UTF-8 sizes, computed when first leased. */
      bytes: (number | undefined)[];
    }
);

/**
 * A leased event of a byte row: `raw` is a view of the row, `body` is decoded only when a sink
 * reads it (the HTTP sink's NDJSON and JSON encodings never do).
 */
class LeasedEvent implements QueuedEvent {
  #body: string | undefined;
  constructor(
    readonly seq: number,
    readonly id: string,
    readonly raw: Buffer,
    readonly bytes: number,
    readonly ingestedAt: number,
  ) {}
  get body(): string {
    return (this.#body ??= this.raw.toString('utf8'));
  }
}

function sizeOf(b: DecodedBatch, i: number): number {
  if (b.raw) return b.starts[i + 1]! - b.starts[i]!;
  return (b.bytes[i] ??= Buffer.byteLength(b.bodies[i]!));
}

function leased(b: DecodedBatch, i: number, seq: number): QueuedEvent {
  if (b.raw) {
    const from = b.starts[i]!;
    const to = b.starts[i + 1]!;
    return new LeasedEvent(seq, b.ids[i]!, b.raw.subarray(from, to), to - from, b.ingestedAt);
  }
  return {
    seq,
    id: b.ids[i]!,
    body: b.bodies[i]!,
    bytes: sizeOf(b, i),
    ingestedAt: b.ingestedAt,
  };
}

function pendingIndexes(row: QueueRow): number[] {
  if (row.idx === null) return Array.from({ length: row.n }, (_, i) => i);
  return row.idx.split(',').map(Number);
}

function decodeBatch(bseq: number, r: BatchRow): DecodedBatch {
  const ids = r.n === 1 ? [r.ids] : r.ids.split('\n');
  const lens = r.n === 1 ? null : r.lens.split(',');
  const head = { bseq, ingestedAt: r.ingestedAt, ids };
  if (typeof r.body !== 'string') {
    const starts = new Array<number>(r.n + 1);
    starts[0] = 0;
    if (lens === null) starts[1] = r.body.length;
    else for (let i = 0; i < r.n; i++) starts[i + 1] = starts[i]! + Number(lens[i]);
    return { ...head, raw: r.body, starts };
  }
  if (lens === null) return { ...head, raw: null, bodies: [r.body], bytes: [] };
  const bodies = new Array<string>(r.n);
  for (let i = 0, at = 0; i < r.n; i++) {
    const len = Number(lens[i]);
    bodies[i] = r.body.slice(at, at + len);
    at += len;
  }
  return { ...head, raw: null, bodies, bytes: [] };
}

function offsetRange(
  items: readonly IngestItem[],
  from: number,
  to: number,
): { lo: number; hi: number } {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = from; i < to; i++) {
    const o = items[i]!.offset!;
    if (o < lo) lo = o;
    if (o > hi) hi = o;
  }
  return { lo, hi };
}

interface CheckpointRow {
  source: string;
  file_id: string;
  path: string;
  dev: number;
  ino: number;
  offset: number;
  head_hash: string;
  head_len: number;
  tail_hash: string;
  updated_at: number;
}

function rowToCheckpoint(r: CheckpointRow): FileCheckpoint {
  return {
    source: r.source,
    fileId: r.file_id,
    path: r.path,
    dev: r.dev,
    ino: r.ino,
    offset: r.offset,
    headHash: r.head_hash,
    headLen: r.head_len,
    tailHash: r.tail_hash,
    updatedAt: r.updated_at,
  };
}

function listDlq(
  db: Database.Database,
  where: string,
  args: unknown[],
  limit: number | undefined,
  sinkNames: Map<number, string>,
): DeadLetter[] {
  const rows = db
    .prepare(
      `SELECT id, sink_id, event_id, ingested_at, failed_at, status, reason, response, bytes, body
       FROM dlq ${where} ORDER BY id LIMIT ?`,
    )
    .all(...args, limit ?? -1) as {
    id: number;
    sink_id: number;
    event_id: string;
    ingested_at: number;
    failed_at: number;
    status: number | null;
    reason: string;
    response: string | null;
    bytes: number;
    body: string;
  }[];
  return rows.map((r) => ({
    dlqId: r.id,
    sink: sinkNames.get(r.sink_id) ?? `#${r.sink_id}`,
    eventId: r.event_id,
    ingestedAt: r.ingested_at,
    failedAt: r.failed_at,
    status: r.status,
    reason: r.reason,
    response: r.response,
    bytes: r.bytes,
    body: r.body,
  }));
}

function queueStats(
  db: Database.Database,
  sinkNames: Map<number, string>,
  depth: Map<number, number>,
): SinkQueueStats[] {
  const oldest = db.prepare(
    // The first row by the primary key, not MIN() over a join: that was a full scan of the
    // queue on every /metrics scrape and stalled the agent for seconds under a large backlog.
    'SELECT b.ingested_at AS t FROM bqueue q JOIN batches b ON b.seq = q.bseq WHERE q.sink_id = ? ORDER BY q.bseq LIMIT 1',
  );
  const dlqCounts = new Map<number, number>();
  for (const r of db.prepare('SELECT sink_id, COUNT(*) AS n FROM dlq GROUP BY sink_id').all() as {
    sink_id: number;
    n: number;
  }[]) {
    dlqCounts.set(r.sink_id, r.n);
  }
  return [...sinkNames.entries()]
    .map(([id, name]) => ({
      sink: name,
      depth: depth.get(id) ?? 0,
      oldestIngestedAt: (oldest.get(id) as { t: number } | undefined)?.t ?? null,
      dlq: dlqCounts.get(id) ?? 0,
    }))
    .sort((a, b) => a.sink.localeCompare(b.sink));
}

function readonlyStore(
  db: Database.Database,
  path: string,
  pageCacheKiB: number,
  sinkNames: Map<number, string>,
  bytes: () => number,
  depth: Map<number, number>,
): Store {
  const refuse = () => {
    throw new Error('store opened read-only');
  };
  const sinkIdOf = (name: string) =>
    [...sinkNames.entries()].find(([, n]) => n === name)?.[0] ?? -1;
  return {
    path,
    pageCacheKiB,
    ingestBatch: refuse,
    saveCheckpoint: refuse,
    forgetCheckpoint: refuse,
    loadCheckpoints: (source) =>
      (db.prepare('SELECT * FROM checkpoints WHERE source = ?').all(source) as CheckpointRow[]).map(
        rowToCheckpoint,
      ),
    allCheckpoints: () =>
      (db.prepare('SELECT * FROM checkpoints ORDER BY source, path').all() as CheckpointRow[]).map(
        rowToCheckpoint,
      ),
    markSourceStarted: refuse,
    leaseBatch: refuse,
    peekOldest: refuse,
    ackBatch: refuse,
    deadLetter: refuse,
    listDeadLetters: (o = {}) => {
      const clauses: string[] = [];
      const args: unknown[] = [];
      if (o.sink !== undefined) {
        clauses.push('sink_id = ?');
        args.push(sinkIdOf(o.sink));
      }
      return listDlq(
        db,
        clauses.length ? `WHERE ${clauses.join(' AND ')}` : '',
        args,
        o.limit,
        sinkNames,
      );
    },
    replayDeadLetters: refuse,
    purgeDeadLetters: refuse,
    bytesUsed: bytes,
    queueStats: () => queueStats(db, sinkNames, depth),
    queueDepth: (sink) => depth.get(sinkIdOf(sink)) ?? 0,
    collectGarbage: () => 0,
    probeWritable: refuse,
    setState: refuse,
    getState: (key) => {
      const r = db.prepare('SELECT value FROM meta WHERE key = ?').get(`state:${key}`) as
        { value: string } | undefined;
      return r ? (JSON.parse(r.value) as unknown) : undefined;
    },
    close: () => db.close(),
  };
}
