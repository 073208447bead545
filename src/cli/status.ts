/**
 * `auditshipper status [-c FILE] [--json]`: queue depth and oldest pending age per sink,
 * DLQ size, source checkpoints and per-file lag, read from the SQLite buffer (read-only,
 * safe while the agent runs).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../store/store.js';
import { formatBytes } from '../config/units.js';
import { EXIT, loadOrReport, out } from './common.js';

/** What the running agent publishes every few seconds (src/daemon.ts publishState). */
interface PublishedState {
  at?: number;
  sinks: Record<
    string,
    {
      healthy: boolean;
      failing_since: number | null;
      last_error: { at: number; message: string; status?: number } | null;
    }
  >;
}

function age(ms: number | null): string {
  if (ms === null) return '-';
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

export function statusCommand(opts: { config?: string; json?: boolean }): number {
  const loaded = loadOrReport(opts.config);
  if (typeof loaded === 'number') return loaded;
  const cfg = loaded.config;
  if (!existsSync(join(cfg.data_dir, 'buffer.db'))) {
    process.stderr.write(
      `no buffer at ${cfg.data_dir}: the agent has not run with this config yet\n`,
    );
    return EXIT.runtime;
  }
  const store = openStore({
    dataDir: cfg.data_dir,
    sync: 'normal',
    keepDeliveredMs: 0,
    readonly: true,
  });
  try {
    const now = Date.now();
    const configured = new Set(Object.keys(cfg.sinks));
    const published = (store.getState('sinks') ?? { sinks: {} }) as PublishedState;
    const stateOf = (name: string) => {
      const st = published.sinks[name];
      return {
        healthy: st ? st.healthy : null,
        failing_since: st?.failing_since ? new Date(st.failing_since).toISOString() : null,
        last_error: st?.last_error
          ? {
              at: new Date(st.last_error.at).toISOString(),
              message: st.last_error.message,
              status: st.last_error.status ?? null,
            }
          : null,
      };
    };
    const sinks = store.queueStats().map((q) => ({
      sink: q.sink,
      configured: configured.has(q.sink),
      depth: q.depth,
      oldest_pending_age_s:
        q.oldestIngestedAt === null ? null : Math.round((now - q.oldestIngestedAt) / 1000),
      dlq: q.dlq,
      ...stateOf(q.sink),
    }));
    for (const name of configured) {
      if (!sinks.some((s) => s.sink === name)) {
        sinks.push({
          sink: name,
          configured: true,
          depth: 0,
          oldest_pending_age_s: null,
          dlq: 0,
          ...stateOf(name),
        });
      }
    }
    const files = store.allCheckpoints().map((c) => {
      let size: number | null = null;
      try {
        const st = statSync(c.path);
        if (st.ino === c.ino) size = st.size;
      } catch {
        // rotated away or deleted
      }
      return {
        source: c.source,
        path: c.path,
        offset: c.offset,
        lag_bytes: size === null ? null : Math.max(0, size - c.offset),
        updated: new Date(c.updatedAt).toISOString(),
      };
    });
    const report = {
      state_published_at: published.at ? new Date(published.at).toISOString() : null,
      data_dir: cfg.data_dir,
      buffer_bytes: store.bytesUsed(),
      buffer_max_bytes: cfg.buffer.max_bytes,
      sinks,
      files,
    };
    if (opts.json) {
      out(JSON.stringify(report, null, 2));
      return EXIT.ok;
    }
    out(
      `buffer: ${formatBytes(report.buffer_bytes)} of ${formatBytes(report.buffer_max_bytes)} (${cfg.data_dir})`,
    );
    out('');
    out(
      `${'SINK'.padEnd(20)} ${'DEPTH'.padStart(10)} ${'OLDEST'.padStart(8)} ${'DLQ'.padStart(8)}`,
    );
    for (const s of sinks) {
      out(
        `${(s.sink + (s.configured ? '' : ' (removed)')).padEnd(20)} ${String(s.depth).padStart(10)} ${age(
          s.oldest_pending_age_s === null ? null : s.oldest_pending_age_s * 1000,
        ).padStart(8)} ${String(s.dlq).padStart(8)}  ${
          s.last_error ? `${s.last_error.at} ${s.last_error.message}` : '-'
        }`,
      );
    }
    if (files.length) {
      out('');
      out(`${'SOURCE'.padEnd(14)} ${'OFFSET'.padStart(12)} ${'LAG'.padStart(10)}  FILE`);
      for (const f of files) {
        out(
          `${f.source.padEnd(14)} ${String(f.offset).padStart(12)} ${(f.lag_bytes === null ? 'gone' : formatBytes(f.lag_bytes)).padStart(10)}  ${f.path}`,
        );
      }
    }
    return EXIT.ok;
  } finally {
    store.close();
  }
}
