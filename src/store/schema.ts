/**
 * SQLite schema and its migrations. The database version lives in `PRAGMA user_version`;
 * each migration runs in its own transaction and is never edited once released: a change
 * to the schema is a new entry at the end of MIGRATIONS.
 */
import type Database from 'better-sqlite3';

export const MIGRATIONS: readonly string[] = [
  // 1: the durable buffer.
  `
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE sinks (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
  );

  -- AUTOINCREMENT: sequence numbers must never be reused after deletes, because delivery
  -- loops lease "rows after the last seq I took".
  CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    ingested_at  INTEGER NOT NULL,
    bytes        INTEGER NOT NULL,
    refs         INTEGER NOT NULL,
    delivered_at INTEGER,
    body         TEXT NOT NULL
  );
  CREATE INDEX events_delivered ON events (delivered_at) WHERE refs = 0;

  -- One row per (sink, event) still to deliver. qseq orders delivery and is the event's seq
  -- at ingest; a DLQ replay takes a fresh number from the events sequence so the row lands
  -- after every delivery cursor.
  CREATE TABLE queue (
    sink_id INTEGER NOT NULL,
    qseq    INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (sink_id, qseq)
  ) WITHOUT ROWID;

  CREATE TABLE dlq (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    sink_id     INTEGER NOT NULL,
    event_id    TEXT NOT NULL,
    ingested_at INTEGER NOT NULL,
    failed_at   INTEGER NOT NULL,
    status      INTEGER,
    reason      TEXT NOT NULL,
    response    TEXT,
    bytes       INTEGER NOT NULL,
    body        TEXT NOT NULL
  );
  CREATE INDEX dlq_sink ON dlq (sink_id, id);

  CREATE TABLE checkpoints (
    source     TEXT NOT NULL,
    file_id    TEXT NOT NULL,
    path       TEXT NOT NULL,
    dev        INTEGER NOT NULL,
    ino        INTEGER NOT NULL,
    offset     INTEGER NOT NULL,
    head_hash  TEXT NOT NULL,
    head_len   INTEGER NOT NULL,
    tail_hash  TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (source, file_id)
  ) WITHOUT ROWID;
  `,
  // 2: one row per ingest batch instead of one per event. Per-event rows made SQLite the
  // largest cost of the throughput profile (a random-hex unique index, a queue row per event
  // and sink, a delete per event on ack). A batch row holds its events' canonical JSON
  // concatenated, their ids and body lengths; a queue row per (sink, batch) lists the events
  // that sink still needs (NULL: all of them). Existing rows become one-event batches (a
  // one-event batch needs no lengths).
  `
  CREATE TABLE batches (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    ingested_at  INTEGER NOT NULL,
    stream       TEXT,
    lo           INTEGER,
    hi           INTEGER,
    n            INTEGER NOT NULL,
    bytes        INTEGER NOT NULL,
    refs         INTEGER NOT NULL,
    delivered_at INTEGER,
    ids          TEXT NOT NULL,
    lens         TEXT NOT NULL,
    body         TEXT NOT NULL
  );
  CREATE INDEX batches_stream ON batches (stream, hi) WHERE stream IS NOT NULL;
  CREATE INDEX batches_delivered ON batches (delivered_at) WHERE refs = 0;

  CREATE TABLE bqueue (
    sink_id INTEGER NOT NULL,
    bseq    INTEGER NOT NULL,
    n       INTEGER NOT NULL,
    idx     TEXT,
    PRIMARY KEY (sink_id, bseq)
  ) WITHOUT ROWID;

  INSERT INTO batches (seq, ingested_at, stream, lo, hi, n, bytes, refs, delivered_at, ids, lens, body)
    SELECT seq, ingested_at, NULL, NULL, NULL, 1, bytes, refs, delivered_at, id, '', body
    FROM events;
  INSERT OR IGNORE INTO bqueue (sink_id, bseq, n, idx) SELECT sink_id, seq, 1, NULL FROM queue;
  UPDATE batches SET refs = (SELECT COUNT(*) FROM bqueue q WHERE q.bseq = batches.seq);
  DROP TABLE queue;
  DROP TABLE events;
  `,
  // 3: batch rows are written with the bodies as UTF-8 bytes (a BLOB; `lens` in bytes), so
  // leases hand sinks slices of them without decoding. Rows already buffered stay TEXT with
  // character lengths and are still read. Nothing to convert: the version number is what
  // stops an older release, which would misread a BLOB row, from opening the buffer.
  `
  INSERT OR REPLACE INTO meta (key, value) VALUES ('batch_body', 'utf8-blob');
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Bring the database to the current schema (or to `target`, for upgrade tests); refuse a
 * database from a newer release.
 */
export function migrate(
  db: Database.Database,
  target: number = SCHEMA_VERSION,
): { from: number; to: number } {
  const from = db.pragma('user_version', { simple: true }) as number;
  if (from > SCHEMA_VERSION) {
    throw new Error(
      `the buffer database has schema version ${from}, newer than this release understands (${SCHEMA_VERSION}); ` +
        'run the newer auditshipper release, or move the data directory aside',
    );
  }
  for (let v = from; v < target; v++) {
    const sql = MIGRATIONS[v]!;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return { from, to: Math.max(from, target) };
}
