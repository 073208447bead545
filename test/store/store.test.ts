import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/store.js';
import { SCHEMA_VERSION } from '../../src/store/schema.js';
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

  it('ignores re-ingested ids (a re-read after a crash inserts nothing twice)', () => {
    const s = open();
    s.ingestBatch([item('e1'), item('e2')], cp(100));
    expect(s.ingestBatch([item('e2'), item('e3')], cp(200))).toEqual({
      inserted: 1,
      duplicates: 1,
    });
    expect(s.queueDepth('a')).toBe(3);
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
