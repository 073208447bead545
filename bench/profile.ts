/**
 * Summarise a V8 CPU profile (`node --cpu-prof`): self time by function and by module, with
 * dist/ paths mapped back to src/ and dependencies grouped by package, so a profile of the
 * agent reads as "which of our modules to make faster".
 *
 *   node dist-bench/bench/profile.js /tmp/prof/CPU.*.cpuprofile [--top 25] [--json]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileRow {
  name: string;
  ms: number;
  pct: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Time the thread was idle (waiting on I/O or timers). */
  idleMs: number;
  byModule: ProfileRow[];
  byFunction: ProfileRow[];
}

/** A readable module name for a script URL. */
export function moduleOf(url: string): string {
  if (!url) return '(native)';
  if (url.startsWith('node:')) return url;
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const dist = /\/dist(?:-bench)?\/(.*)\.js$/.exec(path);
  if (dist)
    return `${dist[1]!.startsWith('src/') || dist[1]!.startsWith('bench/') ? '' : 'src/'}${dist[1]}.ts`;
  return path;
}

export function summariseProfile(p: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const mods = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const f = byId.get(id)!.callFrame;
    if (f.functionName === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const mod = f.url ? moduleOf(f.url) : f.functionName || '(native)';
    mods.set(mod, (mods.get(mod) ?? 0) + us);
    const fn = f.url
      ? `${f.functionName || '(anonymous)'}  ${mod}:${f.lineNumber + 1}`
      : f.functionName || '(native)';
    fns.set(fn, (fns.get(fn) ?? 0) + us);
  }
  const rows = (m: Map<string, number>): ProfileRow[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({
        name,
        ms: Math.round(us / 1000),
        pct: Math.round((1000 * us) / Math.max(1, total)) / 10,
      }));
  return {
    totalMs: Math.round(total / 1000),
    idleMs: Math.round(idle / 1000),
    byModule: rows(mods),
    byFunction: rows(fns),
  };
}

export function formatProfile(s: ProfileSummary): string {
  const lines = [
    `busy ${s.totalMs} ms, idle ${s.idleMs} ms (self time; % of busy)`,
    '',
    'by module:',
  ];
  for (const r of s.byModule)
    lines.push(`  ${String(r.ms).padStart(7)} ms ${r.pct.toFixed(1).padStart(5)}%  ${r.name}`);
  lines.push('', 'by function:');
  for (const r of s.byFunction)
    lines.push(`  ${String(r.ms).padStart(7)} ms ${r.pct.toFixed(1).padStart(5)}%  ${r.name}`);
  return lines.join('\n');
}

export function readProfile(path: string): CpuProfile {
  return JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' }, json: { type: 'boolean', default: false } },
  });
  if (positionals.length === 0) {
    process.stderr.write('usage: profile.js FILE.cpuprofile [--top N] [--json]\n');
    process.exitCode = 2;
  }
  for (const f of positionals) {
    const s = summariseProfile(readProfile(f), Number(values.top));
    process.stdout.write(
      values.json ? JSON.stringify(s, null, 2) + '\n' : `${f}\n${formatProfile(s)}\n\n`,
    );
  }
}
