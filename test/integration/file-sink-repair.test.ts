/**
 * What a killed write leaves in a `file` sink's output, through the built CLI: the output
 * file already ends in a torn line (or a torn gzip member) as `kill -9` in the middle of a
 * write leaves it. The agent starts, cuts the torn part when it opens the file, warns once
 * naming the file (never content), and appends whole lines (members): afterwards every line
 * parses and every audit event of the log is there.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { jsonLogsConfig, startCli, tempDir, waitFor, writeConfig } from '../helpers/agent.js';
import { retoolAuditLine, rng } from '../helpers/workload.js';

const EVENTS = 20;

async function runOver(compression: 'none' | 'gzip', before: Buffer) {
  const dir = tempDir('as-file-repair-');
  mkdirSync(join(dir, 'logs'));
  mkdirSync(join(dir, 'out'));
  const r = rng(5);
  writeFileSync(
    join(dir, 'logs', 'app.log'),
    Array.from({ length: EVENTS }, (_, i) => retoolAuditLine(i, r)).join('\n') + '\n',
  );
  const out = join(dir, 'out', compression === 'gzip' ? 'audit.ndjson.gz' : 'audit.ndjson');
  writeFileSync(out, before);
  const cfg = writeConfig(
    dir,
    `${jsonLogsConfig(dir)}
sinks:
  archive:
    type: file
    path: ${out}
    compression: ${compression}
    batch: { timeout: 100ms }
routes:
  - name: all
    to: [archive]
`,
  );
  const agent = startCli(['run', '-c', cfg]);
  try {
    const text = () => {
      const b = readFileSync(out);
      return compression === 'gzip' ? gunzipSync(b).toString('utf8') : b.toString('utf8');
    };
    const count = () => {
      try {
        return text().split('\n').filter(Boolean).length;
      } catch {
        return 0; // still torn: not repaired yet
      }
    };
    await waitFor('every event written', () => count() >= EVENTS + 1 || undefined, 30_000);
  } finally {
    agent.child.kill('SIGTERM');
    await agent.exited;
  }
  const b = readFileSync(out);
  const lines = (compression === 'gzip' ? gunzipSync(b) : b).toString('utf8').split('\n');
  expect(lines.pop()).toBe('');
  const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { events, stderr: agent.stderr(), out };
}

describe('file sink output torn by a killed write (integration)', () => {
  it('cuts a torn last line and appends whole lines after it', async () => {
    const kept = JSON.stringify({ id: 'kept', note: 'written and acknowledged before' });
    const r = await runOver('none', Buffer.from(`${kept}\n{"id":"torn","pad":"xxxx`));
    expect(r.events[0]).toEqual(JSON.parse(kept));
    expect(r.events.slice(1).map((e) => e.app_event_id)).toEqual(
      Array.from({ length: EVENTS }, (_, i) => String(i)),
    );
    expect(r.stderr).toMatch(/cut a partial last line left by an interrupted write/);
    expect(r.stderr).toContain(r.out);
    expect(r.stderr).not.toContain('xxxx');
  });

  it('cuts an unfinished gzip member so the whole file reads back', async () => {
    const kept = JSON.stringify({ id: 'kept' });
    const torn = gzipSync(Buffer.from(`${JSON.stringify({ id: 'torn' })}\n`));
    const before = Buffer.concat([gzipSync(Buffer.from(`${kept}\n`)), torn.subarray(0, 12)]);
    const r = await runOver('gzip', before);
    expect(r.events[0]).toEqual(JSON.parse(kept));
    expect(r.events).toHaveLength(EVENTS + 1);
    expect(r.stderr).toMatch(/cut an unfinished gzip member left by an interrupted write/);
  });
});
