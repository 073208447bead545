/**
 * The durable pipeline end to end, through the built CLI: a Kubernetes CRI log file that
 * is rotated by rename while being written, and an agent killed with SIGKILL again and
 * again during ingest. Every audit event must reach the file sink; a duplicate may only
 * ever be a re-send of the same event id.
 */
import { appendFileSync, closeSync, openSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNdjsonTree, startCli, tempDir, waitFor, writeConfig } from '../helpers/agent.js';
import { appLogLine, cri, garbageLine, retoolAuditLine, rng } from '../helpers/workload.js';

function config(dir: string, format: string) {
  return writeConfig(
    dir,
    `
data_dir: ${join(dir, 'data')}
log: { level: warn }
api: { enabled: false }
sources:
  retool:
    type: file
    include: ["${join(dir, 'logs')}/*.log*"]
    format: ${format}
    rescan_interval: 200ms
sinks:
  archive:
    type: file
    path: ${join(dir, 'out')}/%Y-%m-%d/{{product}}.ndjson
    batch: { max_events: 1000, timeout: 100ms }
routes:
  - name: everything
    to: [archive]
shutdown_timeout: 10s
`,
  );
}

/** app_event_id → the set of event ids it was delivered under. */
function delivered(dir: string) {
  const byApp = new Map<string, Set<string>>();
  let lines = 0;
  for (const e of readNdjsonTree(join(dir, 'out'))) {
    lines++;
    const app = String(e.app_event_id);
    let s = byApp.get(app);
    if (!s) byApp.set(app, (s = new Set()));
    s.add(String(e.id));
  }
  return { byApp, lines };
}

describe('pipeline (integration)', () => {
  it('delivers every audit event of a CRI file rotated twice while written, exactly once', async () => {
    const dir = tempDir();
    const logs = join(dir, 'logs');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(logs);
    const agent = startCli(['run', '-c', config(dir, 'cri')]);
    const r = rng(7);
    const total = 50_000;
    const current = join(logs, '0.log');
    let fd = openSync(current, 'a');
    let audit = 0;
    for (let i = 0; i < total; i++) {
      let content: string;
      if (i === 10_000)
        content = 'x'.repeat(5 * 1024 * 1024); // one 5 MiB line
      else if (i % 2 === 0) content = retoolAuditLine(audit++, r);
      else if (i % 97 === 1) content = garbageLine(i);
      else content = appLogLine(i);
      writeSync(fd, cri(content) + '\n');
      if (i === 16_000 || i === 33_000) {
        // kubelet-style rotation: rename, the runtime keeps writing to the old fd briefly, then reopens.
        renameSync(current, join(logs, `0.log.2026112${i === 16_000 ? 1 : 2}-100000`));
        for (let k = 0; k < 50; k++) writeSync(fd, cri(retoolAuditLine(audit++, r)) + '\n');
        closeSync(fd);
        fd = openSync(current, 'a');
      }
      if (i % 2000 === 0) await new Promise((res) => setTimeout(res, 5));
    }
    closeSync(fd);
    const result = await waitFor(
      'all audit events delivered',
      () => {
        const d = delivered(dir);
        return d.byApp.size >= audit ? d : undefined;
      },
      120_000,
      250,
    );
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
    const final = delivered(dir);
    expect(final.byApp.size).toBe(audit);
    expect(final.lines).toBe(audit); // exactly once: no crash, so no re-send
    for (let i = 0; i < audit; i++) expect(final.byApp.has(String(i)), `event ${i}`).toBe(true);
    expect(result.byApp.size).toBe(audit);
  }, 180_000);

  it('loses nothing when killed with SIGKILL ten times during ingest', async () => {
    const dir = tempDir();
    const logs = join(dir, 'logs');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(logs);
    const file = join(logs, 'app.log');
    const r = rng(11);
    const total = 100_000;
    let written = 0;
    const writeSome = (n: number) => {
      const lines: string[] = [];
      for (let k = 0; k < n && written < total; k++) lines.push(retoolAuditLine(written++, r));
      if (lines.length) appendFileSync(file, lines.join('\n') + '\n');
    };
    writeSome(60_000);
    const cfg = config(dir, 'json');
    const rand = rng(99);
    let kills = 0;
    for (let round = 0; round < 10; round++) {
      const agent = startCli(['run', '-c', cfg]);
      await new Promise((res) => setTimeout(res, 300 + Math.floor(rand() * 900)));
      writeSome(4_000);
      agent.child.kill('SIGKILL');
      const ex = await agent.exited;
      expect(ex.signal).toBe('SIGKILL');
      kills++;
    }
    writeSome(total);
    const agent = startCli(['run', '-c', cfg]);
    await waitFor(
      'every event delivered after the kills',
      () => delivered(dir).byApp.size >= total || undefined,
      120_000,
      500,
    );
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
    const d = delivered(dir);
    expect(kills).toBe(10);
    expect(d.byApp.size).toBe(total);
    // At-least-once: a duplicate is only ever the same event (same id) sent again.
    for (const [app, ids] of d.byApp) expect(ids.size, `app event ${app}`).toBe(1);
    // Sanity: the workload really was interrupted (some re-sends or not, but never a new id).
    expect(d.lines).toBeGreaterThanOrEqual(total);
  }, 300_000);
});
