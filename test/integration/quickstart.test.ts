/**
 * The README quick start: after `npm install`, `npm start` runs the agent on the embedded
 * default — no log files, no external service — and events flow to the terminal and to
 * an NDJSON file, redacted. (This suite runs in the checkout, where `npm install` already
 * happened; `npm start` itself builds and starts the agent as a newcomer's would.)
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNdjsonTree, ROOT, waitFor } from '../helpers/agent.js';

describe('quick start', () => {
  it('npm start shows redacted demo events flowing and stops cleanly on Ctrl-C', async () => {
    const state = join(ROOT, '.auditshipper');
    rmSync(state, { recursive: true, force: true });
    const child = spawn('npm', ['start', '--silent'], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // 'close': every process holding the pipes (npm, the agent) has finished writing.
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    try {
      await waitFor(
        'three demo events on stdout',
        () => (out.match(/ retool /g) ?? []).length >= 3 || undefined,
        90_000,
      );
      const health = await fetch('http://127.0.0.1:9880/healthz');
      expect(health.status).toBe(200);
      const metrics = await (await fetch('http://127.0.0.1:9880/metrics')).text();
      expect(metrics).toMatch(
        /auditshipper_events_ingested_total\{product="retool",severity="\w+"\} \d+/,
      );
    } finally {
      // What Ctrl-C does in a terminal: SIGINT to the whole foreground process group.
      process.kill(-child.pid!, 'SIGINT');
    }
    await exited;
    expect(err).toContain('"msg":"stopped"');
    // The demo plants fake secrets; none may reach the terminal or the archive.
    expect(out).not.toContain('demo-token-not-a-real-secret');
    const archived = readNdjsonTree(join(state, 'out'));
    expect(archived.length).toBeGreaterThan(0);
    const text = JSON.stringify(archived);
    for (const secret of [
      'demo-token-not-a-real-secret',
      'demo-password-not-real',
      'demo-session-cookie',
      '4111111111111111',
    ]) {
      expect(text).not.toContain(secret);
    }
  }, 150_000);
});
