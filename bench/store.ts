/**
 * The durable buffer alone, per SQLite page size: the store's loop as the agent runs it
 * (ingest one batch row, lease it back, ack it) with bodies of about 1 KiB like the
 * throughput workload's audit events. No parsing, no HTTP. Two row sizes:
 *
 *   full speed  200 rows of 500 events (what a busy file source commits)
 *   steady      2,000 rows of 5 events (what a source commits at a few thousand lines/s)
 *
 *   npm run bench:store [-- --rounds N --pages 4096,8192,16384]
 *
 * Each round opens a fresh buffer per page size (a database made with that page size, then
 * opened by openStore, which keeps the size of an existing database); the sizes alternate
 * so background load hits them alike. Per size: CPU ms of this process (user + system),
 * median of the rounds; bytes passed to write() (/proc/self/io `wchar`: WAL frames and
 * checkpoints) per byte of event bodies; the WAL's size at the end of a round (SQLite
 * reuses it after each checkpoint, so this is its high-water mark). PAGE_SIZE in
 * src/store/store.ts is chosen from these figures.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { openStore, PAGE_SIZE } from '../src/store/store.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    pages: { type: 'string', default: '4096,8192,16384,65536' },
  },
});
const rounds = Number(values.rounds);
const sizes = values.pages.split(',').map(Number);

/** Deterministic bodies: JSON of about 1 KiB, no two alike within a row. */
const bodiesOf = (n: number) =>
  Array.from({ length: n }, (_, i) =>
    Buffer.from(
      JSON.stringify({
        action: 'QUERY_RUN',
        i,
        query: `SELECT * FROM orders WHERE customer_id = ? AND region = '${'r'.repeat(i % 40)}'`,
        detail: 'x'.repeat(700 + (i % 200)),
      }),
    ),
  );

/** Bytes this process has passed to write() so far. */
function written(): number {
  const m = /^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

interface Run {
  cpuMs: number;
  writtenBytes: number;
  walBytes: number;
}

function once(pageSize: number, rows: number, bodies: Buffer[]): Run {
  const dir = mkdtempSync(join(tmpdir(), 'as-bench-store-'));
  try {
    const pre = new Database(join(dir, 'buffer.db'));
    pre.pragma(`page_size = ${pageSize}`);
    pre.pragma('journal_mode = WAL'); // writes the header: the database now exists
    pre.close();
    const store = openStore({ dataDir: dir, sync: 'normal', keepDeliveredMs: 0 });
    const c0 = process.cpuUsage();
    const w0 = written();
    let cursor = 0;
    let offset = 0;
    for (let b = 0; b < rows; b++) {
      const items = bodies.map((body, i) => ({
        id: `b${b}-${i}`,
        offset: (offset += 1000),
        body,
        sinks: ['r'],
      }));
      store.ingestBatch(items, null, 'stream');
      const leased = store.leaseBatch('r', cursor, 1000, 10_000_000);
      cursor = leased[leased.length - 1]!.seq;
      store.ackBatch(
        'r',
        leased.map((e) => e.seq),
      );
    }
    const cu = process.cpuUsage(c0);
    const writtenBytes = written() - w0;
    const walBytes = statSync(join(dir, 'buffer.db-wal')).size;
    store.close();
    const check = new Database(join(dir, 'buffer.db'), { readonly: true });
    const actual = check.pragma('page_size', { simple: true }) as number;
    check.close();
    if (actual !== pageSize) throw new Error(`buffer has ${actual}-byte pages, not ${pageSize}`);
    return { cpuMs: (cu.user + cu.system) / 1000, writtenBytes, walBytes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

for (const [label, rows, perRow] of [
  ['full speed', 200, 500],
  ['steady', 2000, 5],
] as const) {
  const bodies = bodiesOf(perRow);
  const runs = new Map<number, Run[]>(sizes.map((s) => [s, []]));
  once(sizes[0]!, rows, bodies); // warm-up
  for (let r = 0; r < rounds; r++) for (const s of sizes) runs.get(s)!.push(once(s, rows, bodies));
  const payload = bodies.reduce((n, b) => n + b.length, 0) * rows;
  process.stdout.write(
    `\n${label}: ${rows} rows of ${perRow} events (${(payload / 1048576).toFixed(1)} MiB of bodies), ` +
      `ingest + lease + ack, median of ${rounds} rounds\n\n` +
      '| page size | CPU ms | CPU vs 4 KiB | written / bodies | WAL MiB |\n|---:|---:|---:|---:|---:|\n',
  );
  const base = runs.has(4096) ? median(runs.get(4096)!.map((r) => r.cpuMs)) : undefined;
  for (const [s, rs] of runs) {
    const cpu = median(rs.map((r) => r.cpuMs));
    const rel = base ? `${((cpu / base) * 100).toFixed(0)}%` : '—';
    const amp = `${(median(rs.map((r) => r.writtenBytes)) / payload).toFixed(1)}×`;
    const wal = (Math.max(...rs.map((r) => r.walBytes)) / 1048576).toFixed(1);
    const name = `${s / 1024} KiB${s === PAGE_SIZE ? ' (default)' : ''}`;
    process.stdout.write(`| ${name} | ${cpu.toFixed(0)} | ${rel} | ${amp} | ${wal} |\n`);
  }
}
