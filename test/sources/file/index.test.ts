/**
 * Scenario tests for the file source against real files in a temp dir
 * (tailing.md §6 scenarios). A fake store commits records + checkpoint atomically.
 */
import {
  appendFile,
  copyFile,
  open,
  readFile,
  rename,
  stat,
  symlink,
  truncate,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileSource } from '../../../src/sources/file/index.js';
import type { SourceBatch } from '../../../src/sources/types.js';
import {
  fakeStore,
  fileConfig,
  partialFramer,
  sleep,
  startSource,
  tempDir,
  waitFor,
  type FakeStore,
} from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
const running: FileSource[] = [];

beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
  await cleanup();
});

const p = (name: string) => path.join(dir, name);
const lines = (prefix: string, n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => `${prefix}-${from + i}`);
const text = (ls: string[]) => ls.map((l) => l + '\n').join('');

async function start(store: FakeStore, overrides: Record<string, unknown> = {}, opts = {}) {
  const src = await startSource(fileConfig({ include: [p('*.log')], ...overrides }), store, opts);
  running.push(src);
  return src;
}

async function stopAll() {
  for (const s of running.splice(0)) await s.stop();
}

/** Wait until the source has read `bytes` bytes in total, then two more scan periods. */
async function settle(src: FileSource, bytes: number) {
  await waitFor(() => src.stats.bytesRead >= bytes, `${bytes} bytes read`);
  await sleep(60);
}

/** Every checkpoint offset sits at 0 or right after a newline of the file's content. */
function checkpointsOnLineEnds(batches: SourceBatch[], content: Buffer) {
  for (const b of batches) {
    const o = b.checkpoint!.offset;
    if (o > 0) expect(content[o - 1]).toBe(10);
  }
}

describe('reading', () => {
  it('reads existing lines, then appended ones; streamId is the checkpoint fileId', async () => {
    await writeFile(p('a.log'), 'one\ntwo\n');
    const store = fakeStore();
    const src = await start(store);
    await waitFor(() => store.order.length === 2, 'existing lines');
    await appendFile(p('a.log'), 'three\n');
    await waitFor(() => store.order.length === 3, 'appended line');
    expect(store.texts()).toEqual(['one', 'two', 'three']);
    const last = store.batches.at(-1)!;
    expect(last.file).toBe(p('a.log'));
    expect(last.streamId).toBe(last.checkpoint!.fileId);
    expect(last.checkpoint).toMatchObject({ source: 'test', offset: 14, path: p('a.log') });
    expect(src.stats).toMatchObject({ linesRead: 3, bytesRead: 14, filesOpened: 1 });
    expect(src.lag()).toEqual([{ file: p('a.log'), bytes: 0 }]);
    expect(store.violations).toEqual([]);
  });

  it('tails a zero-byte file', async () => {
    await writeFile(p('empty.log'), '');
    const store = fakeStore();
    await start(store);
    await sleep(50);
    await appendFile(p('empty.log'), 'late\n');
    await waitFor(() => store.order.length === 1, 'line in a file that started empty');
    expect(store.texts()).toEqual(['late']);
  });

  it('reassembles lines dribbled one byte at a time; checkpoints sit on line ends', async () => {
    await writeFile(p('d.log'), '');
    const store = fakeStore();
    await start(store);
    const content = Buffer.from(text(['{"a":"dribbled line"}', 'second', '']));
    for (const b of content) {
      await appendFile(p('d.log'), Buffer.from([b]));
      if (b === 0x22) await sleep(3); // let the source see some partial states
    }
    await waitFor(() => store.order.length === 3, 'dribbled lines');
    expect(store.texts()).toEqual(['{"a":"dribbled line"}', 'second', '']);
    checkpointsOnLineEnds(store.batches, content);
  });

  it('reads a 64 KiB burst of many lines in bounded batches, in order', async () => {
    const all = lines('burst', 3000);
    await writeFile(p('b.log'), '');
    const store = fakeStore();
    await start(store);
    await appendFile(p('b.log'), text(all));
    await waitFor(() => store.order.length === 3000, 'burst');
    expect(store.texts()).toEqual(all);
    expect(Math.max(...store.batches.map((b) => b.linesRead))).toBeLessThanOrEqual(1000);
    expect(store.batches.reduce((n, b) => n + b.linesRead, 0)).toBe(3000);
    expect(store.batches.reduce((n, b) => n + b.bytesRead, 0)).toBe(Buffer.byteLength(text(all)));
    checkpointsOnLineEnds(store.batches, await readFile(p('b.log')));
  });

  it('holds an unterminated tail until its newline; a restart meanwhile resumes at the line start', async () => {
    await writeFile(p('u.log'), 'done\n{"half":');
    const store = fakeStore();
    const src = await start(store);
    await settle(src, 13);
    expect(store.texts()).toEqual(['done']);
    expect(store.checkpoints.size).toBe(1);
    expect([...store.checkpoints.values()][0]!.offset).toBe(5);
    await stopAll();

    await appendFile(p('u.log'), '1}\n');
    const again = await start(store, {}, { firstStart: false });
    await waitFor(() => store.order.length === 2, 'completed line');
    await sleep(40);
    expect(store.texts()).toEqual(['done', '{"half":1}']);
    expect(store.order[1]!.incomplete).toBe(false);
    expect(again.stats.bytesRead).toBe(11); // resumed at 5, not 0
  });

  it('keeps a UTF-8 character written in two halves intact', async () => {
    const bytes = Buffer.from('ünïcødé 😀\n');
    await writeFile(p('utf.log'), bytes.subarray(0, 12)); // inside the 4-byte emoji
    const store = fakeStore();
    const src = await start(store);
    await settle(src, 12);
    await appendFile(p('utf.log'), bytes.subarray(12));
    await waitFor(() => store.order.length === 1, 'utf8 line');
    expect(store.texts()).toEqual(['ünïcødé 😀']);
  });

  it('truncates a 5 MiB line at max_line_bytes and reads on', async () => {
    await writeFile(p('big.log'), 'before\n');
    await appendFile(p('big.log'), Buffer.alloc(5 * 1024 * 1024, 0x41));
    await appendFile(p('big.log'), '\nafter\n');
    const store = fakeStore();
    const src = await start(store, { max_line_bytes: '64KiB' });
    await waitFor(() => store.order.length === 3, 'three records');
    expect(store.order.map((e) => [e.text.length, e.truncated])).toEqual([
      [6, false],
      [65536, true],
      [5, false],
    ]);
    expect(src.stats.oversized).toBe(1);
    expect(store.batches.reduce((n, b) => n + b.oversized, 0)).toBe(1);
  });

  it('skips a 5 MiB line with oversized_lines: skip, even when its newline comes later', async () => {
    await writeFile(p('big.log'), 'before\n');
    await appendFile(p('big.log'), Buffer.alloc(5 * 1024 * 1024, 0x41));
    const store = fakeStore();
    const src = await start(store, { max_line_bytes: '64KiB', oversized_lines: 'skip' });
    await settle(src, 7 + 5 * 1024 * 1024);
    expect(store.texts()).toEqual(['before']);
    await appendFile(p('big.log'), '\nafter\n');
    await waitFor(() => store.order.length === 2, 'line after the skipped one');
    expect(store.texts()).toEqual(['before', 'after']);
    expect(src.stats.oversized).toBe(1);
    const last = store.batches.at(-1)!.checkpoint!;
    expect(last.offset).toBe(7 + 5 * 1024 * 1024 + 7);
  });

  it('never reads .gz or .tmp files even when the glob matches', async () => {
    await writeFile(p('x.log.gz'), 'gz\n');
    await writeFile(p('x.log.tmp'), 'tmp\n');
    await writeFile(p('x.log'), 'plain\n');
    const store = fakeStore();
    const src = await start(store, { include: [p('*')] });
    await waitFor(() => store.order.length === 1, 'plain file');
    await writeFile(p('y.log.gz'), 'later gz\n');
    await sleep(80);
    expect(store.texts()).toEqual(['plain']);
    expect(src.stats.filesOpened).toBe(1);
  });

  it('reads a file reachable by a symlink and its real path once', async () => {
    await writeFile(p('real.log'), 'once\n');
    await symlink(p('real.log'), p('link.log'));
    const store = fakeStore();
    const src = await start(store);
    await waitFor(() => store.order.length === 1, 'line');
    await sleep(60);
    expect(store.texts()).toEqual(['once']);
    expect(src.stats.filesOpened).toBe(1);
    expect(src.stats.rotations).toBe(0);
  });

  it('picks up files created after start, from offset 0', async () => {
    const store = fakeStore();
    await start(store, { read_from: 'end' });
    await writeFile(p('new.log'), 'first\nsecond\n');
    await waitFor(() => store.order.length === 2, 'new file');
    expect(store.texts()).toEqual(['first', 'second']);
  });
});

describe('backpressure and stop', () => {
  it('hands one batch at a time per file and reads only one batch ahead until it resolves', async () => {
    await writeFile(p('bp.log'), text(lines('bp', 2500)));
    const store = fakeStore();
    let open = 0;
    let peak = 0;
    let release: () => void = () => undefined;
    let gate = new Promise<void>((r) => (release = r));
    store.before = async () => {
      open++;
      peak = Math.max(peak, open);
      await gate;
      open--;
    };
    const src = await start(store);
    await waitFor(() => open === 1, 'first batch in flight');
    // Read-ahead: the next batch is read and framed while the first is pending, no more.
    await waitFor(() => src.stats.linesRead === 2000, 'the next batch read ahead');
    await sleep(50);
    expect(src.stats.linesRead).toBe(2000);
    expect(store.batches).toHaveLength(0); // the first one is still pending
    store.before = undefined;
    gate = Promise.resolve();
    release();
    await waitFor(() => store.order.length === 2500, 'all lines');
    expect(peak).toBe(1);
    expect(store.texts()).toEqual(lines('bp', 2500));
  });

  it('bounds how many files hold a batch at once, and still reads them all', async () => {
    for (let i = 0; i < 12; i++) await writeFile(p(`many-${i}.log`), text(lines(`f${i}`, 1500)));
    const store = fakeStore();
    let inFlight = 0;
    let peak = 0;
    store.before = async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await sleep(10);
      inFlight--;
    };
    await start(store);
    await waitFor(() => store.order.length === 12 * 1500, 'all files', 20_000);
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(8);
  });

  it('stop() waits for the batch in flight', async () => {
    await writeFile(p('s.log'), 'x\n');
    const store = fakeStore();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let entered = false;
    store.before = async () => {
      entered = true;
      await gate;
    };
    const src = await start(store);
    await waitFor(() => entered, 'batch in flight');
    let stopped = false;
    const stopping = src.stop().then(() => (stopped = true));
    await sleep(30);
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(store.texts()).toEqual(['x']);
  });

  it('retries a batch the handler failed to store; nothing is lost or duplicated', async () => {
    await writeFile(p('r.log'), text(lines('r', 5)));
    const store = fakeStore();
    let failures = 2;
    store.before = () =>
      failures-- > 0 ? Promise.reject(new Error('disk full')) : Promise.resolve();
    await start(store);
    await waitFor(() => store.order.length === 5, 'lines after retries');
    expect(store.texts()).toEqual(lines('r', 5));
  });

  it('a failed batch is retried before the batch read ahead of it: order kept, nothing lost or duplicated', async () => {
    await writeFile(p('ra.log'), text(lines('ra', 2500)));
    const store = fakeStore();
    let failures = 3;
    const firstLines: string[] = [];
    store.before = async (b) => {
      firstLines.push(b.records[0]!.text);
      if (b.records[0]!.text === 'ra-0' && failures-- > 0) {
        await sleep(20); // long enough for the next batch to be read ahead meanwhile
        throw new Error('disk full');
      }
    };
    await start(store);
    await waitFor(() => store.order.length === 2500, 'all lines after retries');
    expect(store.texts()).toEqual(lines('ra', 2500));
    // The first batch, three failures and its success, then the later batches once each.
    expect(firstLines).toEqual(['ra-0', 'ra-0', 'ra-0', 'ra-0', 'ra-1000', 'ra-2000']);
  });

  it('reports lag as size minus committed offset', async () => {
    await writeFile(p('lag.log'), 'aaaa\n');
    const store = fakeStore();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    store.before = () => gate;
    const src = await start(store);
    await waitFor(() => src.stats.linesRead === 1, 'line read');
    expect(src.lag()).toEqual([{ file: p('lag.log'), bytes: 5 }]);
    release();
    await waitFor(() => src.lag()[0]!.bytes === 0, 'lag 0');
  });
});

describe('checkpoints and identity', () => {
  it('restarts from the committed checkpoint with the same stream id', async () => {
    await writeFile(p('c.log'), text(lines('c', 3)));
    const store = fakeStore();
    await start(store);
    await waitFor(() => store.order.length === 3, 'first run');
    const firstId = store.batches[0]!.streamId;
    await stopAll();
    await appendFile(p('c.log'), text(lines('c', 2, 3)));
    const src = await start(store, {}, { firstStart: false });
    await waitFor(() => store.order.length === 5, 'second run');
    await sleep(40);
    expect(store.texts()).toEqual(lines('c', 5));
    expect(store.batches.at(-1)!.streamId).toBe(firstId);
    expect(src.stats.linesRead).toBe(2);
    expect(store.violations).toEqual([]);
  });

  it('a crash between read and commit re-reads the uncommitted lines only', async () => {
    await writeFile(p('k.log'), text(lines('k', 3)));
    const store = fakeStore();
    await start(store);
    await waitFor(() => store.order.length === 3, 'committed part');
    store.down = true; // the process "dies": later batches are never stored
    await appendFile(p('k.log'), text(lines('k', 3, 3)));
    await waitFor(() => running[0]!.stats.linesRead === 6, 'uncommitted lines read');
    await stopAll();
    store.down = false;
    await start(store, {}, { firstStart: false });
    await waitFor(() => store.order.length === 6, 'after restart');
    await sleep(40);
    expect(store.texts()).toEqual(lines('k', 6));
  });

  it('detects a truncate-and-rewrite while stopped (same inode, longer content): new stream from 0', async () => {
    await writeFile(p('t.log'), text(lines('old', 3)));
    const store = fakeStore();
    await start(store);
    await waitFor(() => store.order.length === 3, 'first run');
    const oldId = store.batches[0]!.streamId;
    const ino = (await stat(p('t.log'))).ino;
    await stopAll();
    await writeFile(p('t.log'), text(lines('brand-new-content', 4)));
    expect((await stat(p('t.log'))).ino).toBe(ino);
    await start(store, {}, { firstStart: false });
    await waitFor(() => store.order.length === 7, 'rewritten content');
    expect(store.texts().slice(3)).toEqual(lines('brand-new-content', 4));
    expect(store.batches.at(-1)!.streamId).not.toBe(oldId);
  });

  it('detects a rewrite with the same head by the bytes before the offset', async () => {
    const head = 'HEADER '.repeat(50) + '\n'; // > 256 bytes: the head hash cannot tell
    await writeFile(p('h.log'), head + 'first body line\n');
    const store = fakeStore();
    await start(store);
    await waitFor(() => store.order.length === 2, 'first run');
    await stopAll();
    await writeFile(p('h.log'), head + 'another body line!!\nmore\n');
    await start(store, {}, { firstStart: false });
    await waitFor(() => store.order.length === 5, 'rewritten file read from 0');
    expect(store.texts().slice(2)).toEqual([head.slice(0, -1), 'another body line!!', 'more']);
  });

  it('does not apply a checkpoint whose dev+ino now belong to another file (inode reuse)', async () => {
    await writeFile(p('i.log'), text(lines('reused', 2)));
    const st = await stat(p('i.log'));
    const store = fakeStore();
    // A checkpoint an earlier file with the same dev+ino left behind.
    store.checkpoints.set('gone', {
      source: 'test',
      fileId: 'gone',
      path: p('i.log'),
      dev: st.dev,
      ino: st.ino,
      offset: 9,
      headLen: 9,
      headHash: '0123456789abcdef',
      tailHash: '0123456789abcdef',
      updatedAt: 1,
    });
    await start(store, {}, { firstStart: false });
    await waitFor(() => store.order.length === 2, 'whole file');
    expect(store.texts()).toEqual(lines('reused', 2));
    expect(store.batches[0]!.streamId).not.toBe('gone');
  });

  it('ignores checkpoints of other sources', async () => {
    await writeFile(p('o.log'), 'a\nb\n');
    const store = fakeStore();
    await start(store, {}, { name: 'other' });
    await waitFor(() => store.order.length === 2, 'other source');
    await stopAll();
    await start(store, {}, { firstStart: false });
    await waitFor(() => store.order.length === 4, 'this source reads from 0');
  });
});

describe('read_from and ignore_older', () => {
  it('read_from end skips existing lines on the first start only, and reads a half-written last line whole', async () => {
    await writeFile(p('e.log'), 'old-1\nold-2\npart');
    const store = fakeStore();
    const src = await start(store, { read_from: 'end' });
    await waitFor(() => store.batches.length === 1, 'start announced');
    expect(store.batches[0]!.records).toEqual([]);
    expect(store.batches[0]!.checkpoint!.offset).toBe(12);
    await appendFile(p('e.log'), 'ial\nnew\n');
    await waitFor(() => store.order.length === 2, 'new lines');
    expect(store.texts()).toEqual(['partial', 'new']);
    expect(src.stats.linesRead).toBe(2);
    await stopAll();
    // Not the first start: the checkpoint wins, nothing is skipped or repeated.
    await appendFile(p('e.log'), 'after-restart\n');
    await start(store, { read_from: 'end' }, { firstStart: false });
    await waitFor(() => store.order.length === 3, 'after restart');
    expect(store.texts()).toEqual(['partial', 'new', 'after-restart']);
  });

  it('read_from end does not apply when the source ran before (no checkpoint: read from 0)', async () => {
    await writeFile(p('e2.log'), 'x\ny\n');
    const store = fakeStore();
    await start(store, { read_from: 'end' }, { firstStart: false });
    await waitFor(() => store.order.length === 2, 'whole file');
  });

  it('ignore_older starts old files at their end, still reading appends', async () => {
    await writeFile(p('old.log'), 'ancient\n');
    const past = new Date(Date.now() - 3_600_000);
    await utimes(p('old.log'), past, past);
    await writeFile(p('fresh.log'), 'fresh\n');
    const store = fakeStore();
    await start(store, { ignore_older: '10m' }, { firstStart: false });
    await waitFor(() => store.order.length === 1, 'fresh file');
    await appendFile(p('old.log'), 'appended\n');
    await waitFor(() => store.order.length === 2, 'append to old file');
    expect(store.texts().sort()).toEqual(['appended', 'fresh']);
  });
});

describe('rotation', () => {
  it('rename rotation: drains the old file incl. writes after the rename, then reads the new one', async () => {
    const writer = await open(p('app.log'), 'a');
    await writer.write(text(lines('before', 3)));
    const store = fakeStore();
    // Grace before an unfindable file is closed: max(partial_timeout, 2 × rescan_interval).
    const src = await start(store, { partial_timeout: '1s' });
    await waitFor(() => store.order.length === 3, 'before rotation');
    await rename(p('app.log'), p('app.log.1')); // not matched by *.log: unfindable
    await writer.write(text(lines('after-rename', 2))); // writer still on the old fd
    await writeFile(p('app.log'), text(lines('new', 2)));
    // Once the new file is read, a scan has seen the old one gone; the writer is still
    // on the old fd (kubelet: lines between rename and reopen land there).
    await waitFor(() => store.texts().includes('new-1'), 'new file read');
    await writer.write(text(lines('late', 1)));
    await waitFor(() => store.order.length === 8, 'all lines');
    await writer.close();
    expect(store.texts().filter((t) => !t.startsWith('new'))).toEqual([
      ...lines('before', 3),
      ...lines('after-rename', 2),
      ...lines('late', 1),
    ]);
    expect(store.texts().filter((t) => t.startsWith('new'))).toEqual(lines('new', 2));
    // The old file is closed once drained and quiet; the new one stays.
    await waitFor(() => src.lag().length === 1, 'old file closed');
    expect(src.lag()[0]!.file).toBe(p('app.log'));
    // The drained file's checkpoint is deleted; only the live file's remains.
    await waitFor(() => store.forgotten.length === 1, 'old checkpoint deleted');
    expect([...store.checkpoints.values()].map((c) => c.path)).toEqual([p('app.log')]);
    expect(src.stats.rotations).toBeGreaterThanOrEqual(1);
    expect(new Set(store.batches.map((b) => b.streamId)).size).toBe(2);
  });

  it('a rotated sibling matching the glob is the tracked file, never re-read (also across a restart)', async () => {
    const glob = { include: [p('0.log*')] };
    await writeFile(p('0.log'), text(lines('gen0', 3)));
    const store = fakeStore();
    const src = await start(store, glob);
    await waitFor(() => store.order.length === 3, 'gen0');
    await rename(p('0.log'), p('0.log.20240101-000000'));
    await appendFile(p('0.log.20240101-000000'), text(lines('gen0-late', 1)));
    await writeFile(p('0.log'), text(lines('gen1', 2)));
    await waitFor(() => store.order.length === 6, 'gen1');
    await sleep(80);
    expect(store.order.length).toBe(6);
    expect(src.stats.filesOpened).toBe(2);
    expect(src.stats.rotations).toBe(1);
    await waitFor(
      () =>
        store.batches.some((b) => b.file === p('0.log.20240101-000000')) ||
        src.lag().some((l) => l.file.endsWith('000000')),
      'sibling path tracked',
    );
    await stopAll();
    // Down across another rotation: the plain rotated file resumes by dev+ino+hashes.
    await appendFile(p('0.log'), text(lines('gen1-late', 1)));
    await rename(p('0.log'), p('0.log.20240102-000000'));
    await writeFile(p('0.log'), text(lines('gen2', 1)));
    const again = await start(store, glob, { firstStart: false });
    await waitFor(() => store.order.length === 8, 'after restart');
    await sleep(80);
    expect(store.texts().slice(6).sort()).toEqual(['gen1-late-0', 'gen2-0']);
    expect(again.stats.filesOpened).toBe(3);
    expect(store.violations).toEqual([]);
  });

  it('copytruncate: restarts at 0 as a new stream, no duplicates', async () => {
    await writeFile(p('ct.log'), text(lines('pre', 3)));
    const store = fakeStore();
    const src = await start(store);
    await waitFor(() => store.order.length === 3, 'pre');
    const preId = store.batches[0]!.streamId;
    await copyFile(p('ct.log'), p('ct.log.1'));
    await truncate(p('ct.log'), 0);
    await appendFile(p('ct.log'), text(lines('post', 2)));
    await waitFor(() => store.order.length === 5, 'post');
    await sleep(60);
    expect(store.texts()).toEqual([...lines('pre', 3), ...lines('post', 2)]);
    expect(src.stats.truncations).toBe(1);
    const postIds = new Set(
      store.batches
        .filter((b) => b.records.some((r) => r.text.startsWith('post')))
        .map((b) => b.streamId),
    );
    expect(postIds.has(preId)).toBe(false);
    // The old stream was retired so it can never be resumed, and once that last checkpoint
    // was committed its row was deleted: an ended stream leaves nothing behind.
    const preBatches = store.batches.filter((b) => b.streamId === preId);
    expect(preBatches.at(-1)!.checkpoint!.tailHash).toBe('retired');
    expect(store.forgotten).toEqual([preId]);
    expect(store.checkpoints.has(preId)).toBe(false);
  });

  it('copytruncate rewritten past the old offset before the source looks: still detected', async () => {
    await writeFile(p('ct2.log'), text(lines('pre', 2)));
    const store = fakeStore();
    let release: () => void = () => undefined;
    let gate: Promise<void> | undefined;
    store.before = () => gate ?? Promise.resolve();
    const src = await start(store);
    await waitFor(() => store.order.length === 2, 'pre');
    gate = new Promise<void>((r) => (release = r));
    await appendFile(p('ct2.log'), 'pre-2\n');
    await waitFor(() => src.stats.linesRead === 3, 'third line handed');
    // While that batch is pending: truncate and write more than was read.
    await truncate(p('ct2.log'), 0);
    await appendFile(p('ct2.log'), text(lines('rewritten-after-truncate', 3)));
    gate = undefined;
    release();
    await waitFor(() => store.order.length === 6, 'rewritten lines');
    await sleep(60);
    expect(store.texts()).toEqual([...lines('pre', 3), ...lines('rewritten-after-truncate', 3)]);
    expect(src.stats.truncations).toBe(1);
  });

  it('skips the NUL hole a non-append writer leaves after copytruncate', async () => {
    await writeFile(p('nul.log'), text(lines('pre', 4)));
    const store = fakeStore();
    await start(store);
    await waitFor(() => store.order.length === 4, 'pre');
    const size = (await stat(p('nul.log'))).size;
    await truncate(p('nul.log'), 0);
    const fh = await open(p('nul.log'), 'r+');
    await fh.write('after-hole\n', size); // the writer's old position: bytes before are a hole
    await fh.close();
    await waitFor(() => store.order.length === 5, 'line after hole');
    expect(store.texts()[4]).toBe('after-hole');
    expect(store.order[4]!.id.endsWith(`:${size}`)).toBe(true);
  });

  it('delete + recreate: the deleted file is drained (even writes after unlink), the new one read from 0', async () => {
    const writer = await open(p('del.log'), 'a');
    await writer.write('one\n');
    const store = fakeStore();
    const src = await start(store);
    await waitFor(() => store.order.length === 1, 'one');
    await unlink(p('del.log'));
    await writer.write('two (after unlink)\n');
    await writer.close();
    await writeFile(p('del.log'), 'three (new file)\n');
    await waitFor(() => store.order.length === 3, 'all');
    expect(store.texts().sort()).toEqual(['one', 'three (new file)', 'two (after unlink)']);
    await waitFor(() => src.lag().length === 1, 'deleted file closed');
    expect(src.stats.rotations).toBe(1);
  });

  it('a deleted file with an unterminated last line emits it as incomplete at end of life', async () => {
    await writeFile(p('frag.log'), 'whole\n{"cut":');
    const store = fakeStore();
    const src = await start(store);
    await settle(src, 13);
    await unlink(p('frag.log'));
    await waitFor(() => store.order.length === 2, 'fragment emitted');
    expect(store.order[1]).toMatchObject({ text: '{"cut":', incomplete: true });
    expect(src.lag()).toEqual([]);
  });
});

describe('files gone while the agent was stopped', () => {
  /** A logger that keeps its records, to check what a warning says. */
  const recorder = () => {
    const records: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'warn' },
      { write: (line: string) => records.push(JSON.parse(line) as Record<string, unknown>) },
    );
    return { logger, records };
  };

  it('counts and names a file that was being read at stop and is gone at start', async () => {
    await writeFile(p('keep.log'), text(lines('keep', 2)));
    await writeFile(p('gone.log'), text(lines('gone', 3)));
    const store = fakeStore();
    const first = await start(store);
    await waitFor(() => store.order.length === 5, 'both files');
    expect(first.stats.missingAtStart).toBe(0);
    await stopAll();
    // While stopped: logrotate compresses gone.log away (.gz is never read) and it is deleted.
    await appendFile(p('gone.log'), text(lines('unread', 2)));
    await rename(p('gone.log'), p('gone.log.1.gz'));
    await appendFile(p('keep.log'), text(lines('keep', 1, 2)));
    const { logger, records } = recorder();
    const again = await start(store, {}, { firstStart: false, logger });
    await waitFor(() => store.order.length === 6, 'keep.log resumed');
    expect(again.stats.missingAtStart).toBe(1);
    expect(again.missingAtStart!()).toBe(1);
    const warned = records.filter((r) => String(r.msg).includes('is gone'));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ file: p('gone.log'), offset: 21 });
    // Names the file and where reading stopped, never content.
    expect(JSON.stringify(warned)).not.toContain('unread');
    expect(store.texts()).not.toContain('unread-0');
  });

  it('does not count a file that was read to its end and closed before the stop', async () => {
    await writeFile(p('live.log'), 'a\n');
    await writeFile(p('rotated.log'), 'b\n');
    const store = fakeStore();
    const src = await start(store);
    await waitFor(() => store.order.length === 2, 'both files');
    await unlink(p('rotated.log'));
    await waitFor(() => src.lag().length === 1, 'deleted file drained and closed');
    await waitFor(() => store.forgotten.length === 1, 'its checkpoint deleted');
    await stopAll();
    const again = await start(store, {}, { firstStart: false });
    await sleep(60);
    expect(again.stats.missingAtStart).toBe(0);
  });

  it('does not count checkpoints older than the release that deletes ended ones', async () => {
    await writeFile(p('old.log'), 'a\n');
    const store = fakeStore();
    await start(store);
    await waitFor(() => store.order.length === 1, 'read');
    await stopAll();
    await unlink(p('old.log'));
    // The checkpoint predates `forgetsSince`: it may be a drained file an older release kept.
    const again = await start(store, {}, { firstStart: false, forgetsSince: Date.now() + 1000 });
    expect(again.stats.missingAtStart).toBe(0);
  });
});

describe('partials (framer.pendingFrom / flush)', () => {
  it('never checkpoints past a pending partial; a restart re-reads it and merges once', async () => {
    await writeFile(p('cri.log'), 'F whole\nP part-a|\nP part-b|\n');
    const store = fakeStore();
    const cfg = { partial_timeout: '1h' };
    await start(store, cfg, { framer: () => partialFramer() });
    await waitFor(() => store.order.length === 1, 'whole record');
    await sleep(60);
    const ck = [...store.checkpoints.values()][0]!;
    expect(ck.offset).toBe(8); // the first P piece's offset, not the end of the file
    await stopAll();
    await appendFile(p('cri.log'), 'F end\n');
    await start(store, cfg, { firstStart: false, framer: () => partialFramer() });
    await waitFor(() => store.order.length === 2, 'merged record');
    expect(store.order[1]).toMatchObject({ text: 'part-a|part-b|end', incomplete: false });
    expect(store.order[1]!.id.endsWith(':8')).toBe(true);
  });

  it('flushes a dangling partial as incomplete after partial_timeout', async () => {
    await writeFile(p('dangle.log'), 'P alone\n');
    const store = fakeStore();
    await start(store, { partial_timeout: '50ms' }, { framer: () => partialFramer() });
    await waitFor(() => store.order.length === 1, 'flushed partial');
    expect(store.order[0]).toMatchObject({ text: 'alone', incomplete: true });
    expect(store.batches.at(-1)!.checkpoint!.offset).toBe(8);
  });
});
