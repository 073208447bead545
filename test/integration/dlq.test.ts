/**
 * The dead-letter queue end to end, while the agent runs: one poison event inside a batch of
 * 1,000 that the receiver refuses with 400 → 999 delivered, 1 in the DLQ with the status and
 * reason (`auditshipper dlq list`), `dlq replay` re-queues it and the running agent delivers
 * it once the receiver accepts it, `dlq purge` (by sink, by date) removes dead letters.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  readNdjsonTree,
  jsonLogsConfig,
  startCli,
  tempDir,
  waitFor,
  writeConfig,
} from '../helpers/agent.js';
import { startGenericReceiver } from '../helpers/receivers/index.js';
import { retoolAuditLine, rng } from '../helpers/workload.js';

/** Run a CLI command without blocking this process (the receiver lives here). */
async function cli(args: string[]) {
  const r = startCli(args);
  const ex = await r.exited;
  return { code: ex.code, stdout: r.stdout(), stderr: r.stderr() };
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('dead-letter queue (integration)', () => {
  it('isolates one poison event in a batch of 1,000; list, replay and purge work while the agent runs', async () => {
    const dir = tempDir('as-dlq-');
    mkdirSync(join(dir, 'logs'));
    const log = join(dir, 'logs', 'app.log');
    const siem = await startGenericReceiver();
    const agentCfg = writeConfig(
      dir,
      `
${jsonLogsConfig(dir, { logLevel: 'info', shutdownTimeout: '5s', rescanInterval: '100ms', api: '{ listen: 127.0.0.1:0 }' })}sinks:
  siem:
    type: http
    url: ${siem.url}/ingest
    batch: { max_events: 1000, max_bytes: 8MiB, timeout: 1s }
    retry: { initial_backoff: 100ms, max_backoff: 500ms }
  archive:
    type: file
    path: ${join(dir, 'out')}/audit.ndjson
routes:
  - name: all
    to: [siem, archive]
`,
    );
    const write = (from: number, to: number) => {
      const r = rng(from + 3);
      const lines: string[] = [];
      for (let i = from; i < to; i++) lines.push(retoolAuditLine(i, r));
      appendFileSync(log, lines.join('\n') + '\n');
    };
    const dlq = async (...extra: string[]) => {
      const r = await cli(['dlq', 'list', '--json', '-c', agentCfg, ...extra]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown> & { body: Record<string, unknown> });
    };
    const delivered = (id: number) =>
      siem.received.filter((e) => e.app_event_id === String(id)).length;

    // The receiver refuses any request holding event 500 with a 400.
    siem.rejectWhen((e) => e.app_event_id === '500' || e.app_event_id === '1005');
    write(0, 1000);
    const agent = startCli(['run', '-c', agentCfg]);
    try {
      await waitFor('999 delivered', () => siem.received.length >= 999 || undefined, 60_000);
      // The first request was the whole batch of 1,000, refused.
      expect(siem.requests[0]!.status).toBe(400);
      expect((JSON.parse(siem.requests[0]!.body.toString()) as unknown[]).length).toBe(1000);
      // Bisection: ~2·log2(1000) refused requests, not 1,000.
      const refused = siem.requests.filter((r) => r.status === 400).length;
      expect(refused).toBeLessThanOrEqual(21);
      expect(siem.received.length).toBe(999);
      expect(new Set(siem.received.map((e) => e.app_event_id)).size).toBe(999);
      expect(delivered(500)).toBe(0);

      // The three read-only views, side by side (each CLI start costs a second or two).
      const [listed, text, statusOut] = await Promise.all([
        dlq(),
        cli(['dlq', 'list', '-c', agentCfg]),
        cli(['status', '--json', '-c', agentCfg]),
      ]);
      let dead = listed;
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({ sink: 'siem', status: 400 });
      expect(String(dead[0]!.reason)).toMatch(/HTTP 400/);
      expect(String(dead[0]!.response)).toMatch(/rejected event/);
      expect(dead[0]!.body.app_event_id).toBe('500');
      const poisonId = String(dead[0]!.body.id);
      expect(text.stdout).toMatch(
        new RegExp(`#\\d+ sink=siem event=${poisonId} .*status=400 reason=.*HTTP 400`),
      );
      const status = JSON.parse(statusOut.stdout) as {
        sinks: { sink: string; depth: number; dlq: number }[];
      };
      expect(status.sinks.find((s) => s.sink === 'siem')).toMatchObject({ depth: 0, dlq: 1 });
      expect(status.sinks.find((s) => s.sink === 'archive')).toMatchObject({ depth: 0, dlq: 0 });
      // The other sink got all 1,000: a poison event for one sink is nobody else's problem.
      await waitFor(
        'archive complete',
        () => readNdjsonTree(join(dir, 'out')).length >= 1000 || undefined,
        15_000,
      );
      expect(readNdjsonTree(join(dir, 'out')).some((e) => e.id === poisonId)).toBe(true);

      // Replay while the receiver still refuses it: it comes straight back to the DLQ.
      // (Counted before the command: the agent may re-send before the command has exited.)
      const n = siem.requests.length;
      const r1 = await cli(['dlq', 'replay', '--sink', 'siem', '-c', agentCfg]);
      expect(r1.stdout).toMatch(/re-queued 1 dead letter\b/);
      await waitFor('the replayed event sent', () => siem.requests.length > n || undefined, 15_000);
      await until('back in the DLQ', async () => (dead = await dlq()).length === 1, 15_000);
      expect(dead[0]!.body.id).toBe(poisonId);

      // The receiver is fixed; replay by id: delivered once, with the same event id.
      siem.rejectWhen((e) => e.app_event_id === '1005');
      const r2 = await cli(['dlq', 'replay', '--id', String(dead[0]!.dlqId), '-c', agentCfg]);
      expect(r2.code).toBe(0);
      expect(r2.stdout).toMatch(/re-queued 1 dead letter\b/);
      await waitFor(
        'the replayed event delivered',
        () => delivered(500) === 1 || undefined,
        15_000,
      );
      expect(siem.received.find((e) => e.app_event_id === '500')!.id).toBe(poisonId);
      expect(await dlq()).toEqual([]);

      // A second poison event, then purge: by a date in the past (nothing), by sink (it).
      write(1000, 1010);
      await waitFor('1008 delivered', () => siem.received.length >= 1008 || undefined, 30_000);
      await until('the second dead letter', async () => (await dlq()).length === 1, 15_000);
      const p0 = await cli(['dlq', 'purge', '--before', '2000-01-01', '-c', agentCfg]);
      expect(p0.stdout).toMatch(/purged 0 dead letters/);
      expect(await dlq('--sink', 'archive')).toHaveLength(0);
      const p1 = await cli(['dlq', 'purge', '--sink', 'siem', '-c', agentCfg]);
      expect(p1.stdout).toMatch(/purged 1 dead letter\b/);
      expect(await dlq()).toEqual([]);
      expect(delivered(1005)).toBe(0);

      // The agent goes on as before.
      write(1010, 1020);
      await waitFor(
        'later events still flow',
        () => siem.received.length >= 1019 || undefined,
        30_000,
      );
      await waitFor(
        'archive complete',
        () => readNdjsonTree(join(dir, 'out')).length >= 1020 || undefined,
        15_000,
      );

      // The running agent's own accounting saw the replay and the purge made by other
      // processes: its queue depth and buffer bytes match what the database holds.
      const port = Number(/"port":(\d+)/.exec(agent.stderr())?.[1]);
      expect(port).toBeGreaterThan(0);
      const st = JSON.parse((await cli(['status', '--json', '-c', agentCfg])).stdout) as {
        buffer_bytes: number;
      };
      expect(st.buffer_bytes).toBe(0);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const metric = (name: string) =>
        Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
      expect(metric('auditshipper_queue_depth_events\\{sink="siem"\\}')).toBe(0);
      expect(metric('auditshipper_dlq_events\\{sink="siem"\\}')).toBe(0);
      expect(metric('auditshipper_buffer_bytes')).toBe(st.buffer_bytes);
    } finally {
      agent.child.kill('SIGTERM');
    }
    const ex = await agent.exited;
    expect(ex.code, agent.stderr()).toBe(0);
    await siem.close();
    // Every event except the purged poison reached the receiver exactly once.
    const ids = siem.received.map((e) => String(e.app_event_id));
    expect(ids.length).toBe(1019);
    expect(new Set(ids).size).toBe(1019);
  }, 120_000);
});
