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
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Bring the database to the current schema; refuse a database from a newer release. */
export function migrate(db: Database.Database): { from: number; to: number } {
  const from = db.pragma('user_version', { simple: true }) as number;
  if (from > SCHEMA_VERSION) {
    throw new Error(
      `the buffer database has schema version ${from}, newer than this release understands (${SCHEMA_VERSION}); ` +
        'run the newer auditshipper release, or move the data directory aside',
    );
  }
  for (let v = from; v < SCHEMA_VERSION; v++) {
    const sql = MIGRATIONS[v]!;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return { from, to: SCHEMA_VERSION };
}
