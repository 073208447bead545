/**
 * `auditshipper dlq list|replay|purge`: inspect and re-queue dead letters. Safe while the
 * agent runs (SQLite serialises writers; a replayed row is picked up by the running
 * delivery loop on its next lease).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../store/store.js';
import { EXIT, loadOrReport, out, UsageError } from './common.js';

export function dlqCommand(
  action: string | undefined,
  opts: {
    config?: string;
    sink?: string;
    id?: string;
    before?: string;
    json?: boolean;
    limit?: string;
  },
): number {
  if (!action || !['list', 'replay', 'purge'].includes(action)) {
    throw new UsageError(
      'usage: auditshipper dlq list|replay|purge [--sink S] [--id N] [--before DATE] [--json]',
    );
  }
  const loaded = loadOrReport(opts.config);
  if (typeof loaded === 'number') return loaded;
  const cfg = loaded.config;
  if (!existsSync(join(cfg.data_dir, 'buffer.db'))) {
    process.stderr.write(`no buffer at ${cfg.data_dir}\n`);
    return EXIT.runtime;
  }
  const id = opts.id !== undefined ? Number(opts.id) : undefined;
  if (id !== undefined && !Number.isInteger(id))
    throw new UsageError('--id takes a dead-letter number (see dlq list)');
  const before = opts.before !== undefined ? Date.parse(opts.before) : undefined;
  if (before !== undefined && !Number.isFinite(before))
    throw new UsageError('--before takes a date, e.g. 2026-11-01 or 2026-11-01T12:00:00Z');
  const store = openStore({
    dataDir: cfg.data_dir,
    sync: cfg.buffer.sync,
    keepDeliveredMs: cfg.buffer.keep_delivered,
    readonly: action === 'list',
  });
  try {
    if (action === 'list') {
      const rows = store.listDeadLetters({
        sink: opts.sink,
        limit: opts.limit ? Number(opts.limit) : undefined,
      });
      if (opts.json) {
        for (const r of rows) out(JSON.stringify({ ...r, body: JSON.parse(r.body) as unknown }));
        return EXIT.ok;
      }
      if (rows.length === 0) out('dead-letter queue is empty');
      for (const r of rows) {
        out(
          `#${r.dlqId} sink=${r.sink} event=${r.eventId} failed=${new Date(r.failedAt).toISOString()} status=${r.status ?? '-'} reason=${r.reason}`,
        );
      }
      return EXIT.ok;
    }
    if (action === 'replay') {
      const n = store.replayDeadLetters({ sink: opts.sink, id });
      out(`re-queued ${n} dead letter${n === 1 ? '' : 's'}`);
      return EXIT.ok;
    }
    const n = store.purgeDeadLetters({ sink: opts.sink, before });
    out(`purged ${n} dead letter${n === 1 ? '' : 's'}`);
    return EXIT.ok;
  } finally {
    store.close();
  }
}
