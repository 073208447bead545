/**
 * Integration-test helpers: run the BUILT CLI (dist/cli/main.js) as a child process, as an
 * operator would, and wait on what it writes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');

export function assertBuilt(): void {
  if (!existsSync(CLI))
    throw new Error('dist/cli/main.js missing: run `npm run build` (npm test does it)');
}

export function tempDir(prefix = 'as-it-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Agents still running: killed when the test worker exits, so a failed test leaves no orphan. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** Start `auditshipper <args>`; output is collected in memory (tests keep it small). */
export function startCli(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; stdin?: string | Buffer } = {},
): Running {
  assertBuilt();
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  if (opts.stdin !== undefined) child.stdin.end(opts.stdin);
  live.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, signal) => {
      live.delete(child);
      r({ code, signal });
    }),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Run to completion (for validate, status, route, dlq). */
export function runCli(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; input?: string } = {},
) {
  assertBuilt();
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    input: opts.input,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** All NDJSON lines under a directory (recursively; .gz members decompressed). */
export function readNdjsonTree(dir: string): Record<string, unknown>[] {
  if (!existsSync(dir)) return [];
  const out: Record<string, unknown>[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else {
        const raw = readFileSync(p);
        const text = name.endsWith('.gz') ? gunzipSync(raw).toString() : raw.toString();
        // A line is complete with its newline: a sink may be writing the last one just now.
        const lines = text.split('\n');
        lines.pop();
        for (const line of lines) if (line) out.push(JSON.parse(line) as Record<string, unknown>);
      }
    }
  };
  walk(dir);
  return out;
}

export function writeConfig(dir: string, yaml: string, name = 'auditshipper.yaml'): string {
  const p = join(dir, name);
  writeFileSync(p, yaml);
  return p;
}

export interface JsonLogsOptions {
  /** `log.level`; unset: the agent's default. */
  logLevel?: string;
  /** The `api:` value; default `{ enabled: false }`. */
  api?: string;
  /** `shutdown_timeout`; unset: the agent's default. */
  shutdownTimeout?: string;
  /** The source's `rescan_interval`; unset: the source's default. */
  rescanInterval?: string;
}

/**
 * The start of a config most integration tests share: the buffer in `dir/data`, no API
 * unless `o.api` says otherwise, and one file source `app` reading `dir/logs/*.log` as JSON
 * lines. Append `sinks:` and routes.
 */
export function jsonLogsConfig(dir: string, o: JsonLogsOptions = {}): string {
  return [
    `data_dir: ${join(dir, 'data')}`,
    ...(o.logLevel ? [`log: { level: ${o.logLevel} }`] : []),
    `api: ${o.api ?? '{ enabled: false }'}`,
    ...(o.shutdownTimeout ? [`shutdown_timeout: ${o.shutdownTimeout}`] : []),
    'sources:',
    '  app:',
    '    type: file',
    `    include: ["${join(dir, 'logs')}/*.log"]`,
    '    format: json',
    ...(o.rescanInterval ? [`    rescan_interval: ${o.rescanInterval}`] : []),
    '',
  ].join('\n');
}
