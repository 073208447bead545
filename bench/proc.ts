/**
 * What a process costs, read from Linux's /proc: resident memory (VmRSS now, VmHWM = the
 * peak since start) from /proc/<pid>/status, and CPU time (user + system, all threads)
 * from fields 14 and 15 of /proc/<pid>/stat, in clock ticks.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcSample {
  /** Epoch ms. */
  at: number;
  rssMiB: number;
  peakRssMiB: number;
  cpuSeconds: number;
}

let clockTicks: number | undefined;

/** Clock ticks per second (almost always 100 on Linux). */
export function clkTck(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

function kib(status: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return m ? Number(m[1]) : 0;
}

/** One reading, or null once the process has gone. */
export function sampleProc(pid: number): ProcSample | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    const ticks = Number(fields[11]) + Number(fields[12]);
    return {
      at: Date.now(),
      rssMiB: kib(status, 'VmRSS') / 1024,
      peakRssMiB: kib(status, 'VmHWM') / 1024,
      cpuSeconds: ticks / clkTck(),
    };
  } catch {
    return null;
  }
}

export interface Sampler {
  readonly samples: ProcSample[];
  /** The latest reading (taken now if the process is still there). */
  last(): ProcSample | null;
  stop(): ProcSample | null;
}

/** Sample `pid` every `everyMs` until stopped or the process exits. */
export function startSampler(pid: number, everyMs: number): Sampler {
  const samples: ProcSample[] = [];
  const take = () => {
    const s = sampleProc(pid);
    if (s) samples.push(s);
    return s;
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    samples,
    last() {
      return take() ?? samples[samples.length - 1] ?? null;
    },
    stop() {
      clearInterval(timer);
      return take() ?? samples[samples.length - 1] ?? null;
    },
  };
}

/** Least-squares slope of RSS over time, in MiB per minute. */
export function rssSlopeMiBPerMin(samples: readonly ProcSample[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  const t0 = samples[0]!.at;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (const s of samples) {
    const x = (s.at - t0) / 60_000;
    sx += x;
    sy += s.rssMiB;
    sxx += x * x;
    sxy += x * s.rssMiB;
  }
  const d = n * sxx - sx * sx;
  return d === 0 ? 0 : (n * sxy - sx * sy) / d;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * CPU seconds per thread name (threads sharing a name are summed), e.g. node's main thread
 * vs its libuv pool (gzip, fs) and V8 helpers: shows whether a second core is being used.
 */
export function threadCpu(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const s = (Number(fields[11]) + Number(fields[12])) / clkTck();
      const key = tid === String(pid) ? `${name} (main)` : name;
      out[key] = Math.round(((out[key] ?? 0) + s) * 100) / 100;
    } catch {
      // the thread ended
    }
  }
  return out;
}

export interface CpuTimes {
  total: number;
  idle: number;
  steal: number;
}

/** Machine-wide CPU ticks from /proc/stat (for steal and background-load figures). */
export function machineCpu(): CpuTimes | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { total, idle: (f[3] ?? 0) + (f[4] ?? 0), steal: f[7] ?? 0 };
  } catch {
    return null;
  }
}

/** Share (0..1) of CPU time between two readings that was stolen by the hypervisor / busy. */
export function cpuShares(
  a: CpuTimes | null,
  b: CpuTimes | null,
): { steal: number; busy: number } | null {
  if (!a || !b || b.total <= a.total) return null;
  const d = b.total - a.total;
  return { steal: (b.steal - a.steal) / d, busy: 1 - (b.idle - a.idle) / d };
}

/** Child processes the bench started, so an interrupted run leaves none behind. */
const children = new Set<ChildProcess>();

export function trackChild(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Send `signal` to every child still running (on SIGINT/SIGTERM of the bench). */
export function killChildren(signal: NodeJS.Signals = 'SIGTERM'): number {
  let n = 0;
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill(signal);
      n++;
    }
  }
  return n;
}

export interface ProcIo {
  /** Bytes through read()/write() calls (page-cache hits included). */
  readCallsMiB: number;
  writeCallsMiB: number;
  /** Bytes the process caused to be read from / written to storage. */
  storageReadMiB: number;
  storageWriteMiB: number;
}

/** I/O totals from /proc/<pid>/io: shows a store's read and write amplification. */
export function procIo(pid: number): ProcIo | null {
  try {
    const t = readFileSync(`/proc/${pid}/io`, 'utf8');
    const v = (k: string) => Number(new RegExp(`^${k}: (\\d+)`, 'm').exec(t)?.[1] ?? 0) / 2 ** 20;
    const r = (x: number) => Math.round(x * 10) / 10;
    return {
      readCallsMiB: r(v('rchar')),
      writeCallsMiB: r(v('wchar')),
      storageReadMiB: r(v('read_bytes')),
      storageWriteMiB: r(v('write_bytes')),
    };
  } catch {
    return null;
  }
}
