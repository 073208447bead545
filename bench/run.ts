/**
 * `npm run bench`: the scenarios of issue 7 against the built agent (dist/cli/main.js) as a
 * whole process, file source → default redaction → SQLite → HTTP sink (gzip NDJSON) → a
 * receiver on 127.0.0.1. Prints a table and writes the results as JSON to bench/results/.
 *
 *   npm run bench                      all four scenarios (about 7 minutes on 2 cores)
 *   npm run bench -- --quick           a smoke run (about a minute)
 *   npm run bench -- --peers           throughput: syslog-ng vs auditshipper, and the ratio
 *   npm run bench -- --only throughput,latency
 *   npm run bench -- --profile         throughput under --cpu-prof, then the profile summary
 *
 * Sizes and durations (environment; issue 7's full figures in brackets):
 *   BENCH_LINES=200000            throughput lines
 *   BENCH_SECONDS=120 [600]       steady-rate run length
 *   BENCH_RATE=5000               steady lines/s
 *   BENCH_LATENCY_SECONDS=60      latency run length
 *   BENCH_LATENCY_RATE=1000       latency scenario: audit events/s
 *   BENCH_OUTAGE_SECONDS=60 [600] backlog scenario: receiver down this long
 *   BENCH_BACKLOG_RATE=5000       backlog scenario: lines/s throughout
 *   BENCH_REPEAT=1                throughput runs per shipper (the median is reported)
 *   BENCH_SEED=7  BENCH_CRI=0|1   workload seed; wrap lines in the Kubernetes CRI format
 *   BENCH_TMP=<os tmpdir>         where workloads and buffers go;  BENCH_KEEP=1 keeps them
 *   BENCH_STALL_SECONDS=60        give up when nothing new arrives for this long
 *   BENCH_CLI=<dist/cli/main.js>  the agent build to run
 *   BENCH_SYSLOG_NG=<path>        the syslog-ng binary (default: /usr/sbin/syslog-ng)
 *   BENCH_HTTP_CONCURRENCY=1      requests in flight: the agent's request.concurrency and the
 *                                 peer's http() workers (BENCH_SYSLOG_NG_WORKERS overrides)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { syslogNg, syslogNgVersion } from './peers/syslog-ng.js';
import { killChildren } from './proc.js';
import { formatProfile, readProfile, summariseProfile } from './profile.js';
import { steady, throughput, workdir, type ScenarioResult } from './scenarios.js';
import { createAuditshipper, ROOT, type Shipper } from './shipper.js';
import { writeWorkloadFile } from './workload.js';

/** Removed on an interrupted run too. */
let workRoot: { cleanup(): void } | undefined;

const SCENARIOS = ['throughput', 'steady', 'latency', 'backlog'] as const;
type ScenarioName = (typeof SCENARIOS)[number];

function envNumber(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`${name} must be a positive number, got "${v}"`);
  return n;
}

interface Settings {
  lines: number;
  steadySeconds: number;
  steadyRate: number;
  latencySeconds: number;
  latencyAuditRate: number;
  outageSeconds: number;
  backlogRate: number;
  repeat: number;
  seed: number;
  cri: boolean;
  tmp: string;
  keep: boolean;
  stallMs: number;
}

function settings(quick: boolean, criFlag: boolean): Settings {
  const q = (full: number, small: number) => (quick ? small : full);
  return {
    lines: envNumber('BENCH_LINES', q(200_000, 20_000)),
    steadySeconds: envNumber('BENCH_SECONDS', q(120, 15)),
    steadyRate: envNumber('BENCH_RATE', 5000),
    latencySeconds: envNumber('BENCH_LATENCY_SECONDS', q(60, 10)),
    latencyAuditRate: envNumber('BENCH_LATENCY_RATE', 1000),
    outageSeconds: envNumber('BENCH_OUTAGE_SECONDS', q(60, 10)),
    backlogRate: envNumber('BENCH_BACKLOG_RATE', 5000),
    repeat: Math.floor(envNumber('BENCH_REPEAT', 1)),
    seed: envNumber('BENCH_SEED', 7),
    cri: criFlag || process.env.BENCH_CRI === '1',
    tmp: process.env.BENCH_TMP || tmpdir(),
    keep: process.env.BENCH_KEEP === '1',
    stallMs: envNumber('BENCH_STALL_SECONDS', 60) * 1000,
  };
}

function machine() {
  const c = cpus();
  let syslog: string | null = null;
  for (const p of [process.env.BENCH_SYSLOG_NG, '/usr/sbin/syslog-ng', '/usr/bin/syslog-ng']) {
    if (p && existsSync(p)) {
      syslog = syslogNgVersion(p);
      break;
    }
  }
  let gitRev: string | null = null;
  try {
    gitRev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
  } catch {
    // not a git checkout
  }
  return {
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    freeMemGiB: Math.round(freemem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    syslogNg: syslog,
    gitRev,
    loadavgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

// ---------------------------------------------------------------------------
// Output.

const fmtInt = (n: number | null | undefined) =>
  n === null || n === undefined ? '—' : Math.round(n).toLocaleString('en-US');
const fmt1 = (n: number | null | undefined) => (n === null || n === undefined ? '—' : n.toFixed(1));

function noteOf(r: ScenarioResult): string {
  const parts: string[] = [];
  if (r.rss && r.scenario === 'steady')
    parts.push(
      `RSS ${fmt1(r.rss.startMiB)}→${fmt1(r.rss.endMiB)} MiB (${r.rss.slopeMiBPerMin >= 0 ? '+' : ''}${r.rss.slopeMiBPerMin.toFixed(2)} MiB/min)`,
    );
  if (r.backlog)
    parts.push(
      `${fmtInt(r.backlog.backlogEvents)} events backlog after ${r.backlog.outageSeconds} s down: drained in ${fmt1(r.backlog.drainSeconds)} s ` +
        `at ${fmtInt(r.backlog.drainAuditPerSec)} ev/s (≈ ${fmtInt(r.backlog.drainLinesPerSecEquivalent)} lines/s)`,
    );
  if (r.scenario === 'steady' || r.scenario === 'latency' || r.scenario === 'backlog')
    parts.push(`${r.cores.toFixed(2)} cores`);
  if (r.threadCpuSeconds) {
    const all = Object.values(r.threadCpuSeconds).reduce((a, b) => a + b, 0);
    const main = Object.entries(r.threadCpuSeconds).find(([k]) => k.endsWith('(main)'))?.[1];
    if (main !== undefined && all > 0 && Object.keys(r.threadCpuSeconds).length > 1)
      parts.push(`main thread ${Math.round((100 * main) / all)}% of CPU`);
  }
  if (r.io && r.inputMiB > 0)
    parts.push(`disk writes ${fmt1(r.io.storageWriteMiB / r.inputMiB)}× input`);
  if (r.machineCpu && r.machineCpu.stealPct >= 5) parts.push(`${r.machineCpu.stealPct}% CPU steal`);
  if (r.duplicates) parts.push(`${r.duplicates} dup`);
  if (!r.complete) parts.push('INCOMPLETE');
  parts.push(...r.notes.filter((n) => !n.startsWith('incomplete')));
  return parts.join('; ');
}

export function table(results: ScenarioResult[]): string {
  const head = [
    'scenario',
    'shipper',
    'lines/s',
    'lines/CPU-s',
    'audit ev/s',
    'MiB/s',
    'peak RSS MiB',
    'CPU s',
    'p50 ms',
    'p99 ms',
    'notes',
  ];
  const rows = results.map((r) => [
    r.scenario,
    r.shipper,
    fmtInt(r.linesPerSec),
    r.cpuSeconds > 0 ? fmtInt(r.lines / r.cpuSeconds) : '—',
    fmtInt(r.auditPerSec),
    fmt1(r.mibPerSec),
    fmt1(r.peakRssMiB),
    fmt1(r.cpuSeconds),
    fmtInt(r.latencyMs?.p50),
    fmtInt(r.latencyMs?.p99),
    noteOf(r),
  ]);
  const out = [
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i >= 2 && i <= 9 ? '---:' : '---')).join('|')}|`,
  ];
  for (const row of rows) out.push(`| ${row.join(' | ')} |`);
  return out.join('\n');
}

function medianBy(rs: ScenarioResult[]): ScenarioResult {
  const s = [...rs].sort((a, b) => a.linesPerSec - b.linesPerSec);
  const m = s[(s.length - 1) >> 1]!;
  if (rs.length > 1)
    m.notes.push(
      `median of ${rs.length} runs: ${rs.map((r) => fmtInt(r.linesPerSec)).join(', ')} lines/s`,
    );
  return m;
}

// ---------------------------------------------------------------------------

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      peers: { type: 'boolean', default: false },
      only: { type: 'string' },
      profile: { type: 'boolean', default: false },
      cri: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm run bench -- [--quick] [--peers] [--only a,b] [--profile] [--cri]\nsee bench/README.md\n',
    );
    return 0;
  }
  const st = settings(values.quick, values.cri);
  let chosen: ScenarioName[] = values.peers || values.profile ? ['throughput'] : [...SCENARIOS];
  if (values.only) {
    chosen = values.only.split(',').map((s) => s.trim()) as ScenarioName[];
    const bad = chosen.filter((s) => !SCENARIOS.includes(s));
    if (bad.length)
      throw new Error(`unknown scenario(s): ${bad.join(', ')} (have: ${SCENARIOS.join(', ')})`);
  }
  const shippers: Shipper[] = [];
  const skipped: string[] = [];
  const concurrency = Math.max(1, Math.floor(envNumber('BENCH_HTTP_CONCURRENCY', 1)));
  const auditshipper = createAuditshipper({ concurrency });
  if (values.peers) {
    const peer = syslogNg({
      workers: Math.floor(envNumber('BENCH_SYSLOG_NG_WORKERS', concurrency)),
    });
    const why = peer.unavailable();
    if (why) {
      skipped.push(`syslog-ng skipped: ${why}`);
      process.stdout.write(`peer comparison skipped: ${why}\n`);
    } else if (st.cri) {
      skipped.push('syslog-ng skipped: the peer config reads plain JSON lines, not CRI');
      process.stdout.write(
        'peer comparison skipped: the syslog-ng config reads plain JSON lines, not CRI\n',
      );
    } else shippers.push(peer);
  }
  const why = auditshipper.unavailable();
  if (why) throw new Error(why);
  shippers.push(auditshipper);

  const env = machine();
  process.stdout.write(
    `machine: ${env.cpu}, ${env.cores} cores, ${env.memGiB} GiB, Linux ${env.kernel}, Node ${env.node}` +
      `${env.syslogNg ? `, syslog-ng ${env.syslogNg}` : ''}\nload average at start: ${env.loadavgAtStart.join(' ')}` +
      `${env.loadavgAtStart[0]! > env.cores / 2 ? '  (busy machine: figures will be low and noisy)' : ''}\n`,
  );
  mkdirSync(st.tmp, { recursive: true });
  const root = workdir(st.tmp, 'auditshipper-bench', st.keep);
  workRoot = root;
  const results: ScenarioResult[] = [];
  const resultsDir = join(ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  let profileSummary: ReturnType<typeof summariseProfile> | undefined;
  try {
    for (const name of chosen) {
      if (name === 'throughput') {
        const file = join(root.dir, st.cri ? 'workload.cri.log' : 'workload.log');
        const t0 = Date.now();
        const workload = writeWorkloadFile(file, st.lines, { seed: st.seed, cri: st.cri });
        process.stdout.write(
          `workload: ${fmtInt(workload.lines)} lines, ${fmt1(workload.bytes / 2 ** 20)} MiB (mean ${Math.round(workload.bytes / workload.lines)} B), ` +
            `${fmtInt(workload.audit)} audit events, written in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
        );
        const profDir = values.profile ? join(resultsDir, `profile-${stamp}`) : undefined;
        // Runs alternate between shippers so a change in background load hits both alike.
        const runs = new Map<Shipper, ScenarioResult[]>(shippers.map((sh) => [sh, []]));
        const repeat = values.profile ? 1 : st.repeat;
        for (let i = 0; i < repeat; i++) {
          for (const sh of shippers) {
            process.stdout.write(
              `throughput: ${sh.name}${repeat > 1 ? ` (run ${i + 1})` : ''} ...`,
            );
            const r = await throughput(sh, {
              file,
              workload,
              format: st.cri ? 'cri' : 'json',
              root: root.dir,
              keep: st.keep,
              stallMs: st.stallMs,
              cpuProfDir: sh === auditshipper ? profDir : undefined,
            });
            if (profDir) r.notes.push('under --cpu-prof (slower than a normal run)');
            process.stdout.write(
              ` ${fmtInt(r.linesPerSec)} lines/s, peak RSS ${fmt1(r.peakRssMiB)} MiB, ` +
                `CPU ${fmt1(r.cpuSeconds)} s, load ${loadavg()[0]!.toFixed(1)}${r.complete ? '' : ' INCOMPLETE'}\n`,
            );
            runs.get(sh)!.push(r);
          }
        }
        for (const sh of shippers) results.push(medianBy(runs.get(sh)!));
        if (profDir && existsSync(profDir)) {
          const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
          if (files.length) {
            profileSummary = summariseProfile(readProfile(join(profDir, files[0]!)), 30);
            process.stdout.write(
              `\nCPU profile (${join(profDir, files[0]!)}):\n${formatProfile(profileSummary)}\n\n`,
            );
          }
        }
        if (!st.keep) rmSync(file, { force: true });
      } else {
        for (const sh of shippers) {
          const base = {
            seed: st.seed,
            cri: st.cri,
            root: root.dir,
            keep: st.keep,
            stallMs: st.stallMs,
          };
          let r: ScenarioResult;
          if (name === 'steady') {
            process.stdout.write(
              `steady: ${sh.name} at ${st.steadyRate} lines/s for ${st.steadySeconds} s ...`,
            );
            r = await steady(sh, {
              ...base,
              name,
              rate: st.steadyRate,
              seconds: st.steadySeconds,
              warmupSeconds: Math.min(30, st.steadySeconds / 5),
            });
          } else if (name === 'latency') {
            // Half the workload's lines are audit events: twice the lines for the audit rate.
            const rate = st.latencyAuditRate * 2;
            process.stdout.write(
              `latency: ${sh.name} at ${st.latencyAuditRate} audit events/s for ${st.latencySeconds} s ...`,
            );
            r = await steady(sh, {
              ...base,
              name,
              rate,
              seconds: st.latencySeconds,
              warmupSeconds: Math.min(5, st.latencySeconds / 5),
            });
          } else {
            process.stdout.write(
              `backlog: ${sh.name}, receiver down ${st.outageSeconds} s at ${st.backlogRate} lines/s ...`,
            );
            r = await steady(sh, {
              ...base,
              name,
              rate: st.backlogRate,
              seconds: 0,
              outageSeconds: st.outageSeconds,
              warmupSeconds: 0,
            });
          }
          process.stdout.write(` done${r.complete ? '' : ' (INCOMPLETE)'}\n`);
          results.push(r);
        }
      }
    }
  } finally {
    root.cleanup();
  }

  process.stdout.write(`\n${table(results)}\n`);
  const ratio = peerRatio(results);
  if (ratio) process.stdout.write(`\n${ratio.text}\n`);
  for (const s of skipped) process.stdout.write(`${s}\n`);
  const out = join(resultsDir, `${stamp}.json`);
  writeFileSync(
    out,
    JSON.stringify(
      {
        machine: { ...env, loadavgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100) },
        settings: st,
        results,
        peerRatio: ratio ? { lines: ratio.value, perCpuSecond: ratio.perCpu } : null,
        skipped,
        profile: profileSummary,
      },
      null,
      2,
    ) + '\n',
  );
  process.stdout.write(
    `\nload average at end: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}\nresults: ${out}\n`,
  );
  return results.every((r) => r.complete) ? 0 : 1;
}

function peerRatio(
  results: ScenarioResult[],
): { value: number; perCpu: number | null; text: string } | null {
  const ours = results.find((r) => r.scenario === 'throughput' && r.shipper === 'auditshipper');
  const peer = results.find((r) => r.scenario === 'throughput' && r.shipper === 'syslog-ng');
  if (!ours || !peer || !peer.linesPerSec) return null;
  const value = Math.round((100 * ours.linesPerSec) / peer.linesPerSec) / 100;
  // Lines per CPU-second barely depends on what else the machine runs: a steadier ratio.
  const perCpu =
    ours.cpuSeconds > 0 && peer.cpuSeconds > 0
      ? Math.round((100 * peer.cpuSeconds) / ours.cpuSeconds) / 100
      : null;
  return {
    value,
    perCpu,
    text:
      `throughput ratio auditshipper / syslog-ng: ${value.toFixed(2)}× ` +
      `(${fmtInt(ours.linesPerSec)} vs ${fmtInt(peer.linesPerSec)} lines/s); ` +
      `per CPU-second: ${perCpu === null ? '—' : `${perCpu.toFixed(2)}×`} ` +
      `(CPU ${fmt1(ours.cpuSeconds)} vs ${fmt1(peer.cpuSeconds)} s); ` +
      `peak RSS ${fmt1(ours.peakRssMiB)} vs ${fmt1(peer.peakRssMiB)} MiB`,
  };
}

// An interrupted run (Ctrl-C, a CI timeout) stops the shippers and receivers it started.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    const n = killChildren('SIGTERM');
    process.stderr.write(`\nbench: ${sig}: stopping ${n} child process(es)\n`);
    setTimeout(() => {
      killChildren('SIGKILL');
      workRoot?.cleanup();
      process.exit(130);
    }, 3000);
    process.exitCode = 130;
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`bench: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
