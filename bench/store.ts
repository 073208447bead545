/**
 * CPU cost of the durable buffer alone, per SQLite page size: the store's hot loop as the
 * agent runs it under load (ingest one 500-event batch row, lease it back, ack it), with
 * bodies of about 1 KiB like the throughput workload's audit events. No parsing, no HTTP.
 *
 *   npm run bench:store [-- --batches N --rounds N --pages 4096,16384]
 *
 * Each round opens a fresh buffer per page size (a database made with that page size,
 * then opened by openStore, which keeps the size of an existing database) and the rounds
 * alternate the sizes so background load hits them alike. Prints CPU ms (user + system of
 * this process) per size, median of the rounds, and the largest WAL file seen at the end
 * of a round (SQLite reuses the WAL after each checkpoint, so this is its high-water mark).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { openStore, PAGE_SIZE } from '../src/store/store.js';

const { values } = parseArgs({
  options: {
    batches: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '5' },
    pages: { type: 'string', default: `4096,${PAGE_SIZE},65536` },
  },
});
const batches = Number(values.batches);
const rounds = Number(values.rounds);
const sizes = values.pages.split(',').map(Number);

/** Deterministic bodies: JSON of about 1 KiB, no two alike within a batch. */
const bodies = Array.from({ length: 500 }, (_, i) =>
  Buffer.from(
    JSON.stringify({
      action: 'QUERY_RUN',
      i,
      query: `SELECT * FROM orders WHERE customer_id = ? AND region = '${'r'.repeat(i % 40)}'`,
      detail: 'x'.repeat(700 + (i % 200)),
    }),
  ),
);

function once(pageSize: number): { cpuMs: number; walBytes: number } {
  const dir = mkdtempSync(join(tmpdir(), 'as-bench-store-'));
  try {
    const pre = new Database(join(dir, 'buffer.db'));
    pre.pragma(`page_size = ${pageSize}`);
    pre.pragma('journal_mode = WAL'); // writes the header: the database now exists
    pre.close();
    const store = openStore({ dataDir: dir, sync: 'normal', keepDeliveredMs: 0 });
    const c0 = process.cpuUsage();
    let cursor = 0;
    let offset = 0;
    for (let b = 0; b < batches; b++) {
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
    const walBytes = statSync(join(dir, 'buffer.db-wal')).size;
    store.close();
    const check = new Database(join(dir, 'buffer.db'), { readonly: true });
    const actual = check.pragma('page_size', { simple: true }) as number;
    check.close();
    if (actual !== pageSize) throw new Error(`buffer has ${actual}-byte pages, not ${pageSize}`);
    return { cpuMs: (cu.user + cu.system) / 1000, walBytes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = new Map<number, number[]>(sizes.map((s) => [s, []]));
const wal = new Map<number, number>();
once(sizes[0]!); // warm-up
for (let r = 0; r < rounds; r++)
  for (const s of sizes) {
    const o = once(s);
    results.get(s)!.push(o.cpuMs);
    wal.set(s, Math.max(wal.get(s) ?? 0, o.walBytes));
  }
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
process.stdout.write(
  `store: ${batches} batches of ${bodies.length} events, ingest + lease + ack, median of ${rounds} rounds\n\n` +
    '| page size | CPU ms | vs 4 KiB | WAL MiB |\n|---:|---:|---:|---:|\n',
);
const base = results.has(4096) ? median(results.get(4096)!) : undefined;
for (const [s, xs] of results) {
  const m = median(xs);
  const rel = base ? `${((m / base) * 100).toFixed(0)}%` : '—';
  process.stdout.write(
    `| ${s / 1024} KiB${s === PAGE_SIZE ? ' (default)' : ''} | ${m.toFixed(0)} | ${rel} | ${((wal.get(s) ?? 0) / 1048576).toFixed(1)} |\n`,
  );
}
