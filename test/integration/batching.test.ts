/**
 * When a partial batch leaves, through the built CLI: a few audit lines, an http sink with a
 * long `batch.timeout`, a receiver on 127.0.0.1 noting when each request arrives.
 *
 * - default `batch.idle_flush`: once the lines are read and nothing more arrives, the batch
 *   is sent within a moment, not after the 30 s timeout;
 * - `idle_flush: 0s`: the batch waits out `batch.timeout`, as before the idle flush existed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonLogsConfig, startCli, tempDir, waitFor, writeConfig } from '../helpers/agent.js';
import { startGenericReceiver } from '../helpers/receivers/index.js';
import { retoolAuditLine, rng } from '../helpers/workload.js';

async function firstRequestAfterStart(
  batch: string,
  onFinished: (fn: () => Promise<void> | void) => void,
): Promise<{ ms: number; requests: number; events: number }> {
  const dir = tempDir('as-batching-');
  mkdirSync(join(dir, 'logs'));
  const siem = await startGenericReceiver();
  const r = rng(7);
  writeFileSync(
    join(dir, 'logs', 'app.log'),
    Array.from({ length: 5 }, (_, i) => retoolAuditLine(i, r)).join('\n') + '\n',
  );
  const cfg = writeConfig(
    dir,
    `${jsonLogsConfig(dir)}
sinks:
  siem:
    type: http
    url: ${siem.url}/ingest
    batch: ${batch}
routes:
  - name: all
    to: [siem]
`,
  );
  const t0 = Date.now();
  const agent = startCli(['run', '-c', cfg]);
  onFinished(async () => {
    agent.child.kill('SIGKILL');
    await siem.close();
  });
  await waitFor('the first request', () => siem.received.length >= 5 || undefined, 30_000);
  const ms = Date.now() - t0;
  return { ms, requests: siem.requests.length, events: siem.received.length };
}

describe.concurrent('partial batches through the built CLI', { timeout: 60_000 }, () => {
  it('are sent once the input is quiet (batch.idle_flush), not after batch.timeout', async ({
    onTestFinished,
  }) => {
    const r = await firstRequestAfterStart('{ max_events: 1000, timeout: 30s }', onTestFinished);
    expect(r.events).toBe(5);
    expect(r.requests).toBe(1);
    // Start-up plus 200 ms of quiet; the 30 s timeout would fail this.
    expect(r.ms).toBeLessThan(15_000);
  });

  it('wait out batch.timeout with idle_flush: 0s', async ({ onTestFinished }) => {
    const r = await firstRequestAfterStart(
      '{ max_events: 1000, timeout: 4s, idle_flush: 0s }',
      onTestFinished,
    );
    expect(r.events).toBe(5);
    expect(r.requests).toBe(1);
    expect(r.ms).toBeGreaterThanOrEqual(4_000);
  });
});
