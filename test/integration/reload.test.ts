/**
 * Live reload under load, through the built CLI: while 50,000 events stream through, the
 * config changes three times — a route added (file watch), a sink added (SIGHUP), a
 * broken config (rejected). Nothing may be lost, every event must be routed by the config
 * in force at its ingest, and the broken config must never take effect.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNdjsonTree, startCli, tempDir, waitFor } from '../helpers/agent.js';
import { retoolAuditLine, rng } from '../helpers/workload.js';

const TOTAL = 50_000;

function yaml(dir: string, stage: 0 | 1 | 2 | 'broken') {
  const sink = (name: string) =>
    `  ${name}:\n    type: file\n    path: ${join(dir, 'out', name)}/{{product}}.ndjson\n    batch: { timeout: 100ms }\n`;
  const routes = [
    '  - name: everything\n    to: [archive]',
    '  - name: critical\n    when: { severity: critical }\n    to: [security]',
  ];
  let sinks = sink('archive') + sink('security');
  if (stage !== 0)
    routes.push('  - name: queries\n    when: { action: QUERY_RUN }\n    to: [security]');
  if (stage === 2 || stage === 'broken') {
    sinks += sink('extra');
    routes.push('  - name: copy\n    to: [extra]');
  }
  if (stage === 'broken') {
    // Would drop the archive route and names a sink that does not exist.
    routes.splice(0, 1, '  - name: everything\n    to: [archiv]');
  }
  return `data_dir: ${join(dir, 'data')}
log: { level: info }
api: { enabled: false }
sources:
  app:
    type: file
    include: ["${join(dir, 'logs')}/*.log"]
    format: json
    rescan_interval: 200ms
sinks:
${sinks}routes:
${routes.join('\n')}
`;
}

/** app ids delivered to one sink. */
function ids(dir: string, sink: string): Map<number, Record<string, unknown>> {
  const m = new Map<number, Record<string, unknown>>();
  for (const e of readNdjsonTree(join(dir, 'out', sink))) m.set(Number(e.app_event_id), e);
  return m;
}

describe('live reload (integration)', () => {
  it('applies good configs between batches and rejects a broken one, losing nothing', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'logs'));
    const cfgPath = join(dir, 'auditshipper.yaml');
    writeFileSync(cfgPath, yaml(dir, 0));
    const log = join(dir, 'logs', 'app.log');
    writeFileSync(log, '');
    const agent = startCli(['run', '-c', cfgPath]);
    const r = rng(5);
    const actions = new Map<number, string>();
    let written = 0;
    const write = (n: number) => {
      const lines: string[] = [];
      for (let k = 0; k < n && written < TOTAL; k++, written++) {
        const line = retoolAuditLine(written, r);
        actions.set(written, (JSON.parse(line) as { actionType: string }).actionType);
        lines.push(line);
      }
      appendFileSync(log, lines.join('\n') + '\n');
    };
    const reloads = () => (agent.stderr().match(/"msg":"config reloaded"/g) ?? []).length;
    const streamWhile = async (what: string, cond: () => boolean) => {
      await waitFor(
        what,
        () => {
          write(500);
          return cond() || undefined;
        },
        60_000,
        100,
      );
    };

    await streamWhile('first events archived', () => ids(dir, 'archive').size >= 5_000);
    // 1. a route added, picked up by the file watcher
    writeFileSync(cfgPath, yaml(dir, 1));
    await streamWhile('reload 1', () => reloads() >= 1);
    write(5_000);
    // 2. a sink added, applied on SIGHUP (no file-watch race: watcher would also fire)
    writeFileSync(cfgPath, yaml(dir, 2));
    agent.child.kill('SIGHUP');
    await streamWhile('reload 2', () => reloads() >= 2);
    write(5_000);
    // 3. a broken config: rejected, the previous one stays in force
    writeFileSync(cfgPath, yaml(dir, 'broken'));
    agent.child.kill('SIGHUP');
    await streamWhile('rejection logged', () => /new config rejected/.test(agent.stderr()));
    expect(agent.stderr()).toMatch(/auditshipper\.yaml:\d+:\d+: unknown sink \\"archiv\\"/);
    while (written < TOTAL) write(2_000);

    await waitFor(
      'all events archived',
      () => ids(dir, 'archive').size >= TOTAL || undefined,
      120_000,
      500,
    );
    await new Promise((res) => setTimeout(res, 1_000));
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
    expect(reloads()).toBe(2);

    // Nothing lost: the archive route was in force throughout (the broken config never applied).
    const archive = ids(dir, 'archive');
    expect(archive.size).toBe(TOTAL);

    // Route added: QUERY_RUN events reach `security` from one cut point on, none before.
    const security = ids(dir, 'security');
    const queries = [...actions].filter(([, a]) => a === 'QUERY_RUN').map(([id]) => id);
    const firstRouted = queries.find((id) => security.has(id))!;
    expect(firstRouted).toBeGreaterThan(0);
    for (const id of queries) expect(security.has(id), `query ${id}`).toBe(id >= firstRouted);
    // Critical events went to `security` under every config.
    for (const [id, a] of actions)
      if (a === 'DELETE_GROUP') expect(security.has(id), `critical ${id}`).toBe(true);

    // Sink added: `extra` gets every event from its cut point on, none before, and its cut is later.
    const extra = ids(dir, 'extra');
    const firstExtra = Math.min(...extra.keys());
    expect(firstExtra).toBeGreaterThan(firstRouted);
    for (let id = 0; id < TOTAL; id++) expect(extra.has(id), `extra ${id}`).toBe(id >= firstExtra);
  }, 240_000);
});
