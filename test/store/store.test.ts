import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  openStore,
  PAGE_CACHE_KIB,
  PAGE_SIZE,
  WAL_CHECKPOINT_BYTES,
  type Store,
} from '../../src/store/store.js';
import { migrate, SCHEMA_VERSION } from '../../src/store/schema.js';
import type { FileCheckpoint } from '../../src/sources/types.js';

let dir: string;
let clock = 1_000_000;
const now = () => clock;
const open = (keep = 0) => openStore({ dataDir: dir, sync: 'normal', keepDeliveredMs: keep, now });
const item = (id: string, sinks: string[] = ['a']) => ({
  id,
  body: JSON.stringify({ id, pad: 'x'.repeat(10) }),
  sinks,
});
const cp = (offset: number): FileCheckpoint => ({
  source: 's',
  fileId: 'f1',
  path: '/logs/0.log',
  dev: 1,
  ino: 2,
  offset,
  headHash: 'h',
  headLen: 10,
  tailHash: 't',
  updatedAt: 0,
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'as-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('store', () => {
  it('creates the schema in WAL mode at the current version', () => {
    const s = open();
    s.close();
    const db = new Database(join(dir, 'buffer.db'));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    db.close();
  });

  it("bounds SQLite's page cache at 2 MiB, not the 16 MiB better-sqlite3 builds in", () => {
    expect(PAGE_CACHE_KIB).toBe(2048);
    const s = open();
    expect(s.pageCacheKiB).toBe(2048);
    s.close();
    const ro = openStore({ dataDir: dir, sync: 'normal', keepDeliveredMs: 0, readonly: true });
    expect(ro.pageCacheKiB).toBe(2048);
    ro.close();
    const plain = new Database(':memory:');
    expect(plain.pragma('cache_size', { simple: true })).toBe(-16000); // what it would be
    plain.close();
  });

  it('makes a new buffer with 4 KiB pages', () => {
    expect(PAGE_SIZE).toBe(4096);
    open().close();
    const db = new Database(join(dir, 'buffer.db'));
    expect(db.pragma('page_size', { simple: true })).toBe(PAGE_SIZE);
    db.close();
  });

  it('keeps the page size of an existing buffer and checkpoints its WAL at about 4 MiB', () => {
    const made = new Database(join(dir, 'buffer.db'));
    made.pragma('page_size = 16384');
    made.pragma('journal_mode = WAL');
    migrate(made);
    made.close();
    const s = open();
    const pad = 'x'.repeat(1000);
    // 24 MiB of bodies through the buffer: ingested, leased, acked.
    let cursor = 0;
    for (let b = 0; b < 48; b++) {
      const items = Array.from({ length: 500 }, (_, i) => ({
        id: `b${b}-${i}`,
        body: JSON.stringify({ b, i, pad }),
        sinks: ['a'],
      }));
      s.ingestBatch(items, null);
      const leased = s.leaseBatch('a', cursor, 1000, 10_000_000);
      cursor = leased[leased.length - 1]!.seq;
      s.ackBatch(
        'a',
        leased.map((e) => e.seq),
      );
    }
    expect(s.queueDepth('a')).toBe(0);
    // SQLite's default checkpoint is at 1000 pages: 16 MiB with these pages. The WAL is
    // reused after each checkpoint, so its size is the threshold plus one commit.
    expect(statSync(join(dir, 'buffer.db-wal')).size).toBeLessThan(WAL_CHECKPOINT_BYTES * 1.5);
    s.close();
    const db = new Database(join(dir, 'buffer.db'));
    expect(db.pragma('page_size', { simple: true })).toBe(16384);
    db.close();
  });

  it('refuses a database from a newer release', () => {
    open().close();
    const db = new Database(join(dir, 'buffer.db'));
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => open()).toThrow(/newer than this release/);
  });

  it('ingests events, queue rows and the checkpoint in one transaction', () => {
    const s = open();
    const r = s.ingestBatch([item('e1', ['a', 'b']), item('e2', ['a'])], cp(100));
    expect(r).toEqual({ inserted: 2, duplicates: 0 });
    expect(s.queueDepth('a')).toBe(2);
    expect(s.queueDepth('b')).toBe(1);
    expect(s.loadCheckpoints('s')[0]).toMatchObject({
      offset: 100,
      fileId: 'f1',
      path: '/logs/0.log',
    });
    s.close();
  });

  it('rolls back everything when the transaction fails', () => {
    const s = open();
    const bad = { id: 'e2', body: null as unknown as string, sinks: ['a'] };
    expect(() => s.ingestBatch([item('e1'), bad], cp(100))).toThrow();
    expect(s.queueDepth('a')).toBe(0);
    expect(s.loadCheckpoints('s')).toEqual([]);
    expect(s.bytesUsed()).toBe(0);
    s.close();
  });

  it('ignores a re-read of the same stream and offsets (a crash inserts nothing twice)', () => {
    const s = open();
    const at = (id: string, offset: number) => ({ ...item(id), offset });
    s.ingestBatch([at('e1', 0), at('e2', 10)], cp(100), 'f1');
    expect(s.ingestBatch([at('e2', 10), at('e3', 20)], cp(200), 'f1')).toEqual({
      inserted: 1,
      duplicates: 1,
    });
    // Another stream with overlapping offsets is new data.
    expect(s.ingestBatch([at('x1', 0), at('x2', 10)], null, 'f2')).toEqual({
      inserted: 2,
      duplicates: 0,
    });
    expect(s.queueDepth('a')).toBe(5);
    expect(s.leaseBatch('a', 0, 100, 1e9).map((e) => e.id)).toEqual(['e1', 'e2', 'e3', 'x1', 'x2']);
    s.close();
  });

  it('stops de-duplicating a stream range once its events are delivered and collected', () => {
    const s = open(60_000);
    const at = (id: string, offset: number) => ({ ...item(id), offset });
    s.ingestBatch([at('e1', 0)], null, 'f1');
    s.ackBatch('a', [s.leaseBatch('a', 0, 10, 1e9)[0]!.seq]);
    // kept for keep_delivered: still recognised
    expect(s.ingestBatch([at('e1', 0)], null, 'f1').duplicates).toBe(1);
    clock += 61_000;
    expect(s.collectGarbage()).toBe(1);
    expect(s.ingestBatch([at('e1', 0)], null, 'f1').inserted).toBe(1);
    s.close();
  });

  it('routes per event inside a batch and acks part of a batch', () => {
    const s = open();
    s.ingestBatch(
      [item('1', ['a']), item('2', ['b']), item('3', ['a', 'b']), item('4', ['a'])],
      null,
    );
    expect(s.queueDepth('a')).toBe(3);
    expect(s.queueDepth('b')).toBe(2);
    const a = s.leaseBatch('a', 0, 2, 1e9);
    expect(a.map((e) => e.id)).toEqual(['1', '3']);
    expect(s.peekOldest('a', a[1]!.seq)).toBe(clock);
    const rest = s.leaseBatch('a', a[1]!.seq, 10, 1e9);
    expect(rest.map((e) => e.id)).toEqual(['4']);
    expect(s.peekOldest('a', rest[0]!.seq)).toBeNull();
    // Ack out of order and in pieces; the batch lives until b has its events too.
    s.ackBatch('a', [rest[0]!.seq]);
    s.ackBatch('a', [a[0]!.seq]);
    expect(s.queueDepth('a')).toBe(1);
    expect(s.leaseBatch('a', 0, 10, 1e9).map((e) => e.id)).toEqual(['3']);
    s.ackBatch('a', [a[1]!.seq, a[1]!.seq]); // a repeated seq counts once
    expect(s.queueDepth('a')).toBe(0);
    const used = s.bytesUsed();
    expect(used).toBeGreaterThan(0);
    const b = s.leaseBatch('b', 0, 10, 1e9);
    expect(b.map((e) => e.id)).toEqual(['2', '3']);
    s.ackBatch(
      'b',
      b.map((e) => e.seq),
    );
    expect(s.bytesUsed()).toBe(0);
    // acking what is gone changes nothing
    s.ackBatch(
      'b',
      b.map((e) => e.seq),
    );
    expect(s.queueDepth('b')).toBe(0);
    s.close();
  });

  it('splits a huge source batch into several rows, in order, within one transaction', () => {
    const s = open();
    const many = Array.from({ length: 10_000 }, (_, i) => ({ ...item(`e${i}`), offset: i * 50 }));
    expect(s.ingestBatch(many, cp(500_000), 'f1')).toEqual({ inserted: 10_000, duplicates: 0 });
    expect(s.queueDepth('a')).toBe(10_000);
    let cursor = 0;
    const seen: string[] = [];
    for (;;) {
      const got = s.leaseBatch('a', cursor, 3_000, 1e9);
      if (got.length === 0) break;
      seen.push(...got.map((e) => e.id));
      cursor = got[got.length - 1]!.seq;
    }
    expect(seen).toEqual(many.map((m) => m.id));
    // the re-read of the whole range is recognised across the rows
    expect(s.ingestBatch(many.slice(4000, 5000), null, 'f1').duplicates).toBe(1000);
    s.close();
  });

  it('keeps bodies with multi-byte and astral characters intact, with their UTF-8 size', () => {
    const s = open();
    const bodies = ['{"m":"é"}', '{"m":"😀 ok"}', '{"m":"\\n"}', '{}'];
    s.ingestBatch(
      bodies.map((body, i) => ({ id: `u${i}`, body, sinks: ['a'] })),
      null,
    );
    const got = s.leaseBatch('a', 0, 10, 1e9);
    expect(got.map((e) => e.body)).toEqual(bodies);
    expect(got.map((e) => e.bytes)).toEqual(bodies.map((b) => Buffer.byteLength(b)));
    expect(s.bytesUsed()).toBe(bodies.reduce((n, b) => n + Buffer.byteLength(b), 0));
    s.close();
  });

  it('stores bodies as bytes and leases views of them, decoding a body only when read', () => {
    const s = open();
    const bodies = ['{"m":"é"}', '{"m":"😀 ok"}', '{"n":1}'];
    s.ingestBatch(
      bodies.map((body, i) => ({ id: `b${i}`, body, sinks: ['a'] })),
      null,
    );
    s.close();
    const db = new Database(join(dir, 'buffer.db'));
    const row = db.prepare('SELECT typeof(body) AS t, lens FROM batches').get() as {
      t: string;
      lens: string;
    };
    db.close();
    // Byte lengths (é is 2 bytes, 😀 4), not UTF-16 lengths.
    expect(row).toEqual({ t: 'blob', lens: bodies.map((b) => Buffer.byteLength(b)).join(',') });
    const r = open();
    const got = r.leaseBatch('a', 0, 10, 1e9);
    expect(got.map((e) => e.raw?.toString('utf8'))).toEqual(bodies);
    expect(got.map((e) => e.body)).toEqual(bodies);
    expect(got.map((e) => e.bytes)).toEqual(bodies.map((b) => Buffer.byteLength(b)));
    r.close();
  });

  it('keeps every body intact around one larger than the encoding buffer, across batches', () => {
    const s = open();
    const big = JSON.stringify({ q: 'é'.repeat(3_000_000) }); // 6 MB of UTF-8
    const first = [item('x1'), { id: 'big', body: big, sinks: ['a'] }, item('x2')];
    s.ingestBatch(first, null);
    s.ingestBatch([item('y1'), item('y2')], null);
    const got = s.leaseBatch('a', 0, 10, 1e9);
    expect(got.map((e) => e.id)).toEqual(['x1', 'big', 'x2', 'y1', 'y2']);
    expect(got.map((e) => e.body)).toEqual([...first, item('y1'), item('y2')].map((e) => e.body));
    expect(got[1]!.bytes).toBe(Buffer.byteLength(big));
    s.close();
  });

  it('upgrades a version-2 buffer and still leases the rows it wrote as text', () => {
    const db = new Database(join(dir, 'buffer.db'));
    db.pragma('journal_mode = WAL');
    migrate(db, 2);
    const body = '{"m":"é"}{"m":"😀"}';
    db.exec(`
      INSERT INTO sinks (id, name) VALUES (7, 'a');
      INSERT INTO batches (seq, ingested_at, stream, lo, hi, n, bytes, refs, ids, lens, body)
        VALUES (1, 5, NULL, NULL, NULL, 2, ${Buffer.byteLength(body)}, 1, 't1' || char(10) || 't2', '9,10', '${body}');
      INSERT INTO bqueue (sink_id, bseq, n, idx) VALUES (7, 1, 2, NULL);
    `);
    db.close();
    const s = open();
    const check = new Database(join(dir, 'buffer.db'), { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(3);
    check.close();
    const got = s.leaseBatch('a', 0, 10, 1e9);
    expect(got.map((e) => [e.id, e.body, e.bytes, e.raw])).toEqual([
      ['t1', '{"m":"é"}', 10, undefined],
      ['t2', '{"m":"😀"}', 12, undefined],
    ]);
    s.ackBatch(
      'a',
      got.map((e) => e.seq),
    );
    expect(s.queueDepth('a')).toBe(0);
    expect(s.bytesUsed()).toBe(0);
    s.close();
  });

  it('upgrades a version-1 buffer (one row per event) without losing queued events', () => {
    const db = new Database(join(dir, 'buffer.db'));
    db.pragma('journal_mode = WAL');
    migrate(db, 1);
    db.exec(`
      INSERT INTO sinks (id, name) VALUES (1, 'a'), (2, 'b');
      INSERT INTO events (seq, id, ingested_at, bytes, refs, delivered_at, body) VALUES
        (1, 'e1', 5, 9, 2, NULL, '{"n":"é"}'),
        (2, 'e2', 6, 8, 1, NULL, '{"n":2}'),
        (3, 'e3', 7, 8, 0, 7, '{"n":3}');
      INSERT INTO queue (sink_id, qseq, seq) VALUES (1, 1, 1), (2, 1, 1), (1, 2, 2);
    `);
    db.close();
    const s = open(60_000);
    expect(s.queueDepth('a')).toBe(2);
    expect(s.queueDepth('b')).toBe(1);
    expect(s.bytesUsed()).toBe(25);
    const a = s.leaseBatch('a', 0, 10, 1e9);
    expect(a.map((e) => [e.id, e.body, e.ingestedAt])).toEqual([
      ['e1', '{"n":"é"}', 5],
      ['e2', '{"n":2}', 6],
    ]);
    s.ackBatch(
      'a',
      a.map((e) => e.seq),
    );
    expect(s.leaseBatch('b', 0, 10, 1e9).map((e) => e.id)).toEqual(['e1']);
    s.close();
  });

  it('leases in order after a cursor, bounded by events and bytes', () => {
    const s = open();
    s.ingestBatch(
      ['1', '2', '3', '4'].map((i) => item(i)),
      null,
    );
    const first = s.leaseBatch('a', 0, 2, 1e9);
    expect(first.map((e) => e.id)).toEqual(['1', '2']);
    const next = s.leaseBatch('a', first[1]!.seq, 10, 1e9);
    expect(next.map((e) => e.id)).toEqual(['3', '4']);
    const one = s.leaseBatch('a', 0, 10, 1);
    expect(one).toHaveLength(1); // always at least one, even over the byte limit
    s.close();
  });

  it('acks per sink and deletes an event only when every sink has it', () => {
    const s = open();
    s.ingestBatch([item('e1', ['a', 'b'])], null);
    const used = s.bytesUsed();
    expect(used).toBeGreaterThan(0);
    const [e] = s.leaseBatch('a', 0, 10, 1e9);
    s.ackBatch('a', [e!.seq]);
    expect(s.bytesUsed()).toBe(used);
    s.ackBatch('b', [s.leaseBatch('b', 0, 10, 1e9)[0]!.seq]);
    expect(s.bytesUsed()).toBe(0);
    expect(s.queueDepth('a') + s.queueDepth('b')).toBe(0);
    s.close();
  });

  it('keeps delivered events for keep_delivered, then collects them', () => {
    const s = open(60_000);
    s.ingestBatch([item('e1')], null);
    s.ackBatch('a', [s.leaseBatch('a', 0, 10, 1e9)[0]!.seq]);
    expect(s.bytesUsed()).toBeGreaterThan(0);
    expect(s.collectGarbage()).toBe(0);
    clock += 61_000;
    expect(s.collectGarbage()).toBe(1);
    expect(s.bytesUsed()).toBe(0);
    // the id is free again only after collection
    s.close();
  });

  it('moves rejected events to the DLQ with the reason, and replays them after the cursor', () => {
    const s = open();
    s.ingestBatch([item('e1', ['a', 'b']), item('e2', ['a'])], null);
    const batch = s.leaseBatch('a', 0, 10, 1e9);
    s.deadLetter('a', [batch[0]!], { status: 400, reason: 'invalid data', response: '{"code":6}' });
    s.ackBatch('a', [batch[1]!.seq]);
    expect(s.queueDepth('a')).toBe(0);
    const dl = s.listDeadLetters();
    expect(dl).toHaveLength(1);
    expect(dl[0]).toMatchObject({
      sink: 'a',
      eventId: 'e1',
      status: 400,
      reason: 'invalid data',
      response: '{"code":6}',
    });
    const cursor = batch[1]!.seq;
    expect(s.replayDeadLetters({ sink: 'a' })).toBe(1);
    const again = s.leaseBatch('a', cursor, 10, 1e9);
    expect(again.map((e) => e.id)).toEqual(['e1']);
    expect(s.listDeadLetters()).toHaveLength(0);
    s.close();
  });

  it('replays a dead letter whose event was already deleted', () => {
    const s = open();
    s.ingestBatch([item('e1')], null);
    const [e] = s.leaseBatch('a', 0, 10, 1e9);
    s.deadLetter('a', [e!], { reason: 'poison' });
    expect(s.replayDeadLetters()).toBe(1);
    const again = s.leaseBatch('a', e!.seq, 10, 1e9);
    expect(again.map((x) => x.id)).toEqual(['e1']);
    expect(s.bytesUsed()).toBe(again[0]!.bytes);
    s.close();
  });

  it('purges dead letters by sink and date', () => {
    const s = open();
    s.ingestBatch([item('e1', ['a', 'b'])], null);
    s.deadLetter('a', s.leaseBatch('a', 0, 10, 1e9), { reason: 'x' });
    clock += 10_000;
    s.deadLetter('b', s.leaseBatch('b', 0, 10, 1e9), { reason: 'y' });
    expect(s.purgeDeadLetters({ before: clock - 5_000 })).toBe(1);
    expect(s.listDeadLetters().map((d) => d.sink)).toEqual(['b']);
    expect(s.purgeDeadLetters({ sink: 'b' })).toBe(1);
    expect(s.bytesUsed()).toBe(0);
    s.close();
  });

  it('survives reopen: counters are rebuilt from the file', () => {
    const s = open();
    s.ingestBatch([item('e1'), item('e2')], cp(50));
    const used = s.bytesUsed();
    s.close();
    const t = open();
    expect(t.bytesUsed()).toBe(used);
    expect(t.queueDepth('a')).toBe(2);
    expect(t.queueStats()).toEqual([{ sink: 'a', depth: 2, oldestIngestedAt: clock, dlq: 0 }]);
    t.close();
  });

  it('sees dlq replay and purge done by another process (counters resync)', () => {
    const agent = open();
    agent.ingestBatch([item('e1'), item('e2')], null);
    const batch = agent.leaseBatch('a', 0, 10, 1e9);
    agent.deadLetter('a', [batch[0]!], { reason: 'poison' });
    agent.ackBatch('a', [batch[1]!.seq]);
    expect(agent.queueDepth('a')).toBe(0);
    const dlqBytes = agent.bytesUsed();
    expect(dlqBytes).toBeGreaterThan(0);
    // `auditshipper dlq replay` runs in its own process with its own connection.
    const cli = open();
    expect(cli.replayDeadLetters({ sink: 'a' })).toBe(1);
    expect(agent.queueDepth('a')).toBe(1);
    expect(agent.leaseBatch('a', batch[1]!.seq, 10, 1e9).map((e) => e.id)).toEqual(['e1']);
    cli.deadLetter('a', cli.leaseBatch('a', batch[1]!.seq, 10, 1e9), { reason: 'again' });
    expect(agent.queueDepth('a')).toBe(0);
    expect(cli.purgeDeadLetters({ sink: 'a' })).toBe(1);
    expect(agent.bytesUsed()).toBe(0);
    cli.close();
    agent.close();
  });

  it('remembers whether a source has started before', () => {
    const s = open();
    expect(s.markSourceStarted('x')).toBe(false);
    expect(s.markSourceStarted('x')).toBe(true);
    s.close();
  });

  it("forgets one source's checkpoint of one stream, and nothing else", () => {
    const s = open();
    s.saveCheckpoint({ ...cp(10), source: 'a', fileId: 'f1' });
    s.saveCheckpoint({ ...cp(20), source: 'a', fileId: 'f2' });
    s.saveCheckpoint({ ...cp(30), source: 'b', fileId: 'f1' });
    s.forgetCheckpoint('a', 'f1');
    expect(s.loadCheckpoints('a').map((c) => c.fileId)).toEqual(['f2']);
    expect(s.loadCheckpoints('b').map((c) => c.fileId)).toEqual(['f1']);
    s.close();
  });

  it('opens read-only beside a writer', () => {
    const w = open();
    w.ingestBatch([item('e1')], cp(10));
    const r: Store = openStore({
      dataDir: dir,
      sync: 'normal',
      keepDeliveredMs: 0,
      readonly: true,
    });
    expect(r.queueStats()[0]).toMatchObject({ sink: 'a', depth: 1 });
    expect(r.allCheckpoints()).toHaveLength(1);
    expect(() => r.ingestBatch([], null)).toThrow(/read-only/);
    r.close();
    w.close();
  });
});
