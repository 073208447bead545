/**
 * The durable buffer: SQLite in WAL mode.
 *
 * The durability protocol (DESIGN.md) in code:
 *  - ingestBatch(): ONE transaction inserts the redacted events, one queue row per
 *    (event, sink) routing chose, and the source checkpoint. Event ids are deterministic,
 *    so a re-read after a crash inserts nothing twice (INSERT OR IGNORE).
 *  - leaseBatch(): a delivery loop reads the oldest queued rows after its cursor. Leases
 *    live in memory: after a crash everything not acked is simply sent again.
 *  - ackBatch(): ONE transaction deletes the delivered queue rows and drops (or marks)
 *    events no sink still needs.
 *  - deadLetter(): moves rows a receiver rejected to the DLQ with the reason.
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
  /** Canonical JSON of the redacted event. */
  body: string;
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
  ingestBatch(items: readonly IngestItem[], checkpoint: FileCheckpoint | null): IngestResult;
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
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${opts.sync === 'full' ? 'FULL' : 'NORMAL'}`);
    // The events table holds ~1 KiB JSON bodies; deleted pages are reused. The WAL is
    // checkpointed by the commit that crosses 1000 pages (SQLite's default), on this thread.
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
    ((db.prepare('SELECT COALESCE(SUM(bytes),0) AS b FROM events').get() as { b: number }).b ?? 0) +
    ((db.prepare('SELECT COALESCE(SUM(bytes),0) AS b FROM dlq').get() as { b: number }).b ?? 0);
  let usedBytes = sumBytes();
  const depth = new Map<number, number>();
  const countDepth = () => {
    const rows = db.prepare('SELECT sink_id, COUNT(*) AS n FROM queue GROUP BY sink_id').all() as {
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
    return readonlyStore(db, path, sinkNames, () => usedBytes, depth);
  }

  const stmt = {
    insertEvent: db.prepare(
      'INSERT OR IGNORE INTO events (id, ingested_at, bytes, refs, body) VALUES (?, ?, ?, ?, ?)',
    ),
    insertQueue: db.prepare('INSERT OR IGNORE INTO queue (sink_id, qseq, seq) VALUES (?, ?, ?)'),
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
    peek: db.prepare(
      `SELECT e.ingested_at AS t FROM queue q JOIN events e ON e.seq = q.seq
       WHERE q.sink_id = ? AND q.qseq > ? ORDER BY q.qseq LIMIT 1`,
    ),
    lease: db.prepare(
      `SELECT q.qseq AS seq, e.id AS id, e.body AS body, e.bytes AS bytes, e.ingested_at AS ingestedAt
       FROM queue q JOIN events e ON e.seq = q.seq
       WHERE q.sink_id = ? AND q.qseq > ? ORDER BY q.qseq LIMIT ?`,
    ),
    deleteQueue: db.prepare('DELETE FROM queue WHERE sink_id = ? AND qseq = ? RETURNING seq'),
    nextSeq: db.prepare(
      "UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'events' RETURNING seq",
    ),
    decRef: db.prepare('UPDATE events SET refs = refs - 1 WHERE seq = ? RETURNING refs, bytes'),
    deleteEvent: db.prepare('DELETE FROM events WHERE seq = ?'),
    markDelivered: db.prepare('UPDATE events SET delivered_at = ? WHERE seq = ?'),
    insertDlq: db.prepare(
      `INSERT INTO dlq (sink_id, event_id, ingested_at, failed_at, status, reason, response, bytes, body)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
    gc: db.prepare('DELETE FROM events WHERE refs = 0 AND delivered_at <= ? RETURNING bytes'),
  };

  /** Drop one queue reference; delete or mark the event when no sink needs it any more. */
  const release = (seq: number) => {
    const r = stmt.decRef.get(seq) as { refs: number; bytes: number } | undefined;
    if (!r || r.refs > 0) return;
    if (opts.keepDeliveredMs <= 0) {
      stmt.deleteEvent.run(seq);
      usedBytes -= r.bytes;
    } else {
      stmt.markDelivered.run(now(), seq);
    }
  };

  const saveCheckpointTx = (cp: FileCheckpoint) =>
    stmt.upsertCheckpoint.run({ ...cp, updatedAt: now() });

  const ingestTx = db.transaction(
    (items: readonly IngestItem[], checkpoint: FileCheckpoint | null) => {
      let inserted = 0;
      let duplicates = 0;
      let bytesAdded = 0;
      const t = now();
      const depthAdded = new Map<number, number>();
      for (const it of items) {
        const bytes = Buffer.byteLength(it.body);
        const r = stmt.insertEvent.run(it.id, t, bytes, it.sinks.length, it.body);
        if (r.changes === 0) {
          duplicates++;
          continue;
        }
        inserted++;
        bytesAdded += bytes;
        const seq = r.lastInsertRowid;
        for (const s of it.sinks) {
          const id = sinkId(s);
          stmt.insertQueue.run(id, seq, seq);
          depthAdded.set(id, (depthAdded.get(id) ?? 0) + 1);
        }
      }
      if (checkpoint) saveCheckpointTx(checkpoint);
      return { inserted, duplicates, bytesAdded, depthAdded };
    },
  );

  // Set-based ack: four statements per batch instead of two or three per event (the ack
  // path was the largest cost in the throughput profile). Events only this sink still
  // needed (refs = 1) are deleted or marked first; then the others lose one reference.
  const ack = {
    deleteQueue: db.prepare(
      'DELETE FROM queue WHERE sink_id = ? AND qseq IN (SELECT value FROM json_each(?)) RETURNING seq',
    ),
    dropLast: db.prepare(
      'DELETE FROM events WHERE refs = 1 AND seq IN (SELECT value FROM json_each(?)) RETURNING bytes',
    ),
    markLast: db.prepare(
      'UPDATE events SET refs = 0, delivered_at = ? WHERE refs = 1 AND seq IN (SELECT value FROM json_each(?))',
    ),
    decRest: db.prepare(
      'UPDATE events SET refs = refs - 1 WHERE refs > 1 AND seq IN (SELECT value FROM json_each(?))',
    ),
  };
  const ackTx = db.transaction((id: number, qseqs: readonly number[]) => {
    const rows = ack.deleteQueue.all(id, JSON.stringify(qseqs)) as { seq: number }[];
    if (rows.length === 0) return 0;
    const seqs = JSON.stringify(rows.map((r) => r.seq));
    if (opts.keepDeliveredMs <= 0) {
      for (const r of ack.dropLast.all(seqs) as { bytes: number }[]) usedBytes -= r.bytes;
    } else {
      ack.markLast.run(now(), seqs);
    }
    ack.decRest.run(seqs);
    return rows.length;
  });

  const dlqTx = db.transaction(
    (
      id: number,
      events: readonly QueuedEvent[],
      why: { status?: number; reason: string; response?: string },
    ) => {
      const t = now();
      let n = 0;
      for (const e of events) {
        const row = stmt.deleteQueue.get(id, e.seq) as { seq: number } | undefined;
        if (!row) continue;
        n++;
        stmt.insertDlq.run(
          id,
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
        release(row.seq);
      }
      return n;
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
    const findEvent = db.prepare('SELECT seq FROM events WHERE id = ?');
    const addRef = db.prepare(
      'UPDATE events SET refs = refs + 1, delivered_at = NULL WHERE seq = ?',
    );
    const reinsert = db.prepare(
      'INSERT INTO events (id, ingested_at, bytes, refs, body) VALUES (?, ?, ?, 1, ?)',
    );
    let n = 0;
    for (const r of rows) {
      // The event id stays the same, so receivers can still de-duplicate a replay.
      const existing = findEvent.get(r.event_id) as { seq: number } | undefined;
      let seq: number;
      let qseq: number;
      if (existing) {
        addRef.run(existing.seq);
        seq = existing.seq;
        qseq = (stmt.nextSeq.get() as { seq: number }).seq;
      } else {
        seq = Number(reinsert.run(r.event_id, r.ingested_at, r.bytes, r.body).lastInsertRowid);
        qseq = seq;
        usedBytes += r.bytes;
      }
      stmt.insertQueue.run(r.sink_id, qseq, seq);
      addDepth(r.sink_id, 1);
      del.run(r.id);
      usedBytes -= r.bytes;
      n++;
    }
    return n;
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
    ingestBatch(items, checkpoint) {
      const r = ingestTx(items, checkpoint);
      usedBytes += r.bytesAdded;
      for (const [id, n] of r.depthAdded) addDepth(id, n);
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
      const out: QueuedEvent[] = [];
      let bytes = 0;
      for (const row of stmt.lease.iterate(
        sinkId(sink),
        afterSeq,
        maxEvents,
      ) as IterableIterator<QueuedEvent>) {
        // Always take at least one event, even one larger than maxBytes: the sink decides.
        if (out.length > 0 && bytes + row.bytes > maxBytes) break;
        out.push(row);
        bytes += row.bytes;
      }
      return out;
    },
    peekOldest(sink, afterSeq) {
      return (stmt.peek.get(sinkId(sink), afterSeq) as { t: number } | undefined)?.t ?? null;
    },
    ackBatch(sink, seqs) {
      const id = sinkId(sink);
      addDepth(id, -ackTx(id, seqs));
    },
    deadLetter(sink, events, why) {
      const id = sinkId(sink);
      addDepth(id, -dlqTx(id, events, why));
    },
    listDeadLetters(o = {}) {
      const { where, args } = dlqWhere(o);
      return listDlq(db, where, args, o.limit, sinkNames);
    },
    replayDeadLetters(o = {}) {
      const { where, args } = dlqWhere(o);
      return replayTx(where, args);
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
      const rows = stmt.gc.all(now() - opts.keepDeliveredMs) as { bytes: number }[];
      for (const r of rows) usedBytes -= r.bytes;
      return rows.length;
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
    'SELECT e.ingested_at AS t FROM queue q JOIN events e ON e.seq = q.seq WHERE q.sink_id = ? ORDER BY q.qseq LIMIT 1',
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
