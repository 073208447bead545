/**
 * Summarise a V8 CPU profile (`node --cpu-prof`): self time by function and by module, with
 * dist/ paths mapped back to src/ and dependencies grouped by package, so a profile of the
 * agent reads as "which of our modules to make faster".
 *
 *   node dist-bench/bench/profile.js /tmp/prof/CPU.*.cpuprofile [--top 25] [--json]
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
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
  /** Time in a function and everything it called (recursion counted once). */
  inclusive: ProfileRow[];
}

/** Source maps next to compiled files (`x.js.map`), so lines point into src/*.ts. */
function sourceMapper(): (f: CallFrame) => { file: string; line: number } {
  const maps = new Map<string, SourceMap | null>();
  return (f) => {
    const path = f.url.replace(/^file:\/\//, '');
    let map = maps.get(path);
    if (map === undefined) {
      map = null;
      try {
        if (existsSync(`${path}.map`))
          map = new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8')) as SourceMapPayload);
      } catch {
        map = null;
      }
      maps.set(path, map);
    }
    const fallback = { file: moduleOf(f.url), line: f.lineNumber + 1 };
    if (!map) return fallback;
    const e = map.findEntry(f.lineNumber, f.columnNumber) as {
      originalSource?: string;
      originalLine?: number;
    };
    if (e.originalSource === undefined || e.originalLine === undefined) return fallback;
    return { file: moduleOf(f.url), line: e.originalLine + 1 };
  };
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
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const where = sourceMapper();
  const keyCache = new Map<number, { mod: string; fn: string }>();
  const keyOf = (id: number) => {
    let k = keyCache.get(id);
    if (!k) {
      const f = byId.get(id)!.callFrame;
      if (!f.url) k = { mod: f.functionName || '(native)', fn: f.functionName || '(native)' };
      else {
        const at = where(f);
        k = { mod: at.file, fn: `${f.functionName || '(anonymous)'}  ${at.file}:${at.line}` };
      }
      keyCache.set(id, k);
    }
    return k;
  };
  const mods = new Map<string, number>();
  const fns = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const f = byId.get(id)!.callFrame;
    if (f.functionName === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const { mod, fn } = keyOf(id);
    mods.set(mod, (mods.get(mod) ?? 0) + us);
    fns.set(fn, (fns.get(fn) ?? 0) + us);
    const seen = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const cf = byId.get(n)!.callFrame;
      if (!cf.url) continue; // (root), (program), natives: not a place to optimise
      const k = keyOf(n).fn;
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + us);
    }
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
    inclusive: rows(incl),
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
  lines.push('', 'by function (self):');
  for (const r of s.byFunction)
    lines.push(`  ${String(r.ms).padStart(7)} ms ${r.pct.toFixed(1).padStart(5)}%  ${r.name}`);
  lines.push('', 'by function (inclusive):');
  for (const r of s.inclusive)
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
