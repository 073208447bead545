/**
 * Durability of delivery, through the built CLI against a fake SIEM on 127.0.0.1:
 *  - outage: the receiver is down for a minute while 20,000 events flow in through a file
 *    source, then comes back: every event arrives; a duplicate is only ever an event id the
 *    receiver had already seen, and only from batches in flight when the receiver went away;
 *  - `kill -9` during delivery (twice) and restart: nothing lost, duplicates keep their id.
 * Both cases run concurrently; the minute of outage dominates the file.
 */
import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonLogsConfig, startCli, tempDir, waitFor, writeConfig } from '../helpers/agent.js';
import { startGenericReceiver, type GenericReceiver } from '../helpers/receivers/index.js';
import { retoolAuditLine, rng } from '../helpers/workload.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function agentConfig(dir: string, url: string, batchEvents: number): string {
  mkdirSync(join(dir, 'logs'), { recursive: true });
  return writeConfig(
    dir,
    `
${jsonLogsConfig(dir, { logLevel: 'warn', shutdownTimeout: '5s', rescanInterval: '100ms' })}sinks:
  siem:
    type: http
    url: ${url}/ingest
    encoding: ndjson
    batch: { max_events: ${batchEvents}, max_bytes: 4MiB, timeout: 200ms }
    retry: { initial_backoff: 200ms, max_backoff: 3s }
    request: { timeout: 5s }
routes:
  - name: all
    to: [siem]
`,
  );
}

function writer(dir: string, seed: number) {
  const file = join(dir, 'logs', 'app.log');
  const r = rng(seed);
  let next = 0;
  return {
    get written() {
      return next;
    },
    write(n: number) {
      const lines: string[] = [];
      for (let k = 0; k < n; k++) lines.push(retoolAuditLine(next++, r));
      appendFileSync(file, lines.join('\n') + '\n');
    },
  };
}

/** app_event_id → distinct event ids, and total deliveries. */
function deliveries(siem: GenericReceiver) {
  const ids = new Map<string, Set<string>>();
  for (const e of siem.received) {
    const app = String(e.app_event_id);
    let s = ids.get(app);
    if (!s) ids.set(app, (s = new Set()));
    s.add(String(e.id));
  }
  return { ids, total: siem.received.length, duplicates: siem.received.length - ids.size };
}

function expectAllOnceById(siem: GenericReceiver, total: number) {
  const d = deliveries(siem);
  for (let i = 0; i < total; i++) expect(d.ids.has(String(i)), `event ${i} delivered`).toBe(true);
  expect(d.ids.size).toBe(total);
  // At-least-once: a re-send always carries the same event id.
  for (const [app, s] of d.ids) expect(s.size, `app event ${app}: one event id`).toBe(1);
  return d;
}

describe.concurrent('delivery durability (integration)', () => {
  it('a one-minute receiver outage while 20,000 events flow in: every event arrives', async ({
    onTestFinished,
  }) => {
    const dir = tempDir('as-outage-');
    const siem = await startGenericReceiver();
    onTestFinished(() => siem.close());
    const cfg = agentConfig(dir, siem.url, 1000);
    const w = writer(dir, 21);
    const total = 20_000;
    const agent = startCli(['run', '-c', cfg]);
    onTestFinished(() => void agent.child.kill('SIGKILL'));

    // Events flowing and being delivered...
    while (siem.received.length < 1000) {
      if (w.written < 3000) w.write(250);
      await sleep(100);
      expect(agent.child.exitCode).toBeNull();
    }
    // ...when the receiver goes away (connections cut mid-request).
    await siem.stop();
    const downAt = Date.now();
    const requestsBeforeOutage = siem.requests.length;
    const deliveredBeforeOutage = siem.received.length;
    // The rest of the 20,000 arrive during the first ~30 s of the outage.
    while (w.written < total) {
      w.write(Math.min(700, total - w.written));
      await sleep(1000);
    }
    await waitFor(
      'the end of the minute',
      () => Date.now() - downAt >= 45_000 || undefined,
      60_000,
      250,
    );
    // Still running, everything buffered, nothing dead-lettered.
    expect(agent.child.exitCode).toBeNull();
    const st = startCli(['status', '--json', '-c', cfg]);
    await st.exited;
    const status = JSON.parse(st.stdout()) as {
      sinks: { sink: string; depth: number; dlq: number }[];
    };
    const siemQ = status.sinks.find((s) => s.sink === 'siem')!;
    expect(siemQ.dlq).toBe(0);
    expect(siemQ.depth).toBeGreaterThanOrEqual(total - deliveredBeforeOutage - 1000);
    expect(siem.requests.length).toBe(requestsBeforeOutage); // nobody listening
    await waitFor(
      'a full minute down',
      () => Date.now() - downAt >= 60_000 || undefined,
      30_000,
      100,
    );
    await siem.restart();
    const upAt = Date.now();

    await waitFor(
      'all 20,000 delivered',
      () => deliveries(siem).ids.size >= total || undefined,
      60_000,
      250,
    );
    const catchUp = Date.now() - upAt;
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code, agent.stderr()).toBe(0);

    const d = expectAllOnceById(siem, total);
    // Duplicates only from the batch in flight when the receiver vanished (concurrency 1).
    expect(d.duplicates).toBeLessThanOrEqual(1000);
    // Back-off is capped at 3 s: the agent notices the receiver is back within seconds.
    expect(catchUp).toBeLessThan(45_000);
    rmSync(dir, { recursive: true, force: true }); // ~20 MB of logs and buffer
  }, 150_000);

  it('kill -9 during delivery, twice, then restart: nothing lost', async ({ onTestFinished }) => {
    const dir = tempDir('as-kill-');
    const siem = await startGenericReceiver();
    onTestFinished(() => siem.close());
    // Each request takes 150 ms, so a kill lands while batches are in flight.
    siem.setMode({ delayMs: 150 });
    const cfg = agentConfig(dir, siem.url, 250);
    const w = writer(dir, 33);
    const total = 10_000;
    w.write(6000);
    for (const killAt of [1000, 3500]) {
      const agent = startCli(['run', '-c', cfg]);
      onTestFinished(() => void agent.child.kill('SIGKILL'));
      await waitFor(
        `${killAt} delivered`,
        () => siem.received.length >= killAt || undefined,
        60_000,
        20,
      );
      agent.child.kill('SIGKILL');
      expect((await agent.exited).signal).toBe('SIGKILL');
      w.write(2000);
    }
    expect(w.written).toBe(total);
    const agent = startCli(['run', '-c', cfg]);
    onTestFinished(() => void agent.child.kill('SIGKILL'));
    await waitFor(
      'all delivered after the kills',
      () => deliveries(siem).ids.size >= total || undefined,
      90_000,
      250,
    );
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code, agent.stderr()).toBe(0);
    const d = expectAllOnceById(siem, total);
    // A kill can only re-send what was in flight: at most one batch (250) per kill.
    expect(d.duplicates).toBeLessThanOrEqual(2 * 250);
  }, 150_000);
});
