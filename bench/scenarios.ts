/**
 * The four scenarios of issue 7, each run against one shipper process:
 *
 * - throughput: N pre-written lines (page cache), time from spawn until the last audit event
 *   is delivered to the receiver (delivered, not read);
 * - steady: a fixed line rate for a while; RSS sampled every second to show memory is flat;
 * - latency: a fixed audit-event rate; write-to-receive latency percentiles;
 * - backlog: the receiver is down while lines keep arriving, then comes back; how fast the
 *   backlog drains while new lines keep arriving.
 *
 * Every scenario uses a fresh working directory, receiver and shipper process.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cpuShares,
  machineCpu,
  median,
  rssSlopeMiBPerMin,
  startSampler,
  procIo,
  threadCpu,
  type CpuTimes,
  type ProcIo,
  type ProcSample,
} from './proc.js';
import {
  forkReceiver,
  type ReceiverProgress,
  type RemoteReceiver,
  type LatencySummary,
} from './receiver.js';
import { sleep, type RunningShipper, type Shipper } from './shipper.js';
import { createWorkload, writeAll, type WorkloadStats } from './workload.js';

export interface ScenarioResult {
  scenario: string;
  shipper: string;
  /** False when the shipper did not deliver every audit event in time. */
  complete: boolean;
  lines: number;
  inputMiB: number;
  auditEvents: number;
  delivered: number;
  duplicates: number;
  wallSeconds: number;
  linesPerSec: number;
  auditPerSec: number;
  mibPerSec: number;
  peakRssMiB: number;
  cpuSeconds: number;
  /** CPU seconds per wall second (1.0 = one core busy). */
  cores: number;
  latencyMs?: LatencySummary;
  rss?: {
    startMiB: number;
    endMiB: number;
    growthMiB: number;
    slopeMiBPerMin: number;
    samples: [number, number][];
  };
  backlog?: {
    outageSeconds: number;
    backlogEvents: number;
    firstDeliveryAfterUpSeconds: number | null;
    drainSeconds: number | null;
    drainAuditPerSec: number | null;
    drainLinesPerSecEquivalent: number | null;
    /** Distinct events the receiver got in each second of the run (from receiver start). */
    deliveredPerSecond?: number[];
  };
  shipperMetrics?: Record<string, number>;
  /** Machine-wide during the run: share of CPU time stolen by the hypervisor, and busy. */
  machineCpu?: { stealPct: number; busyPct: number };
  /**
   * The shipper's own counters at each scrape ([seconds since the writer started, lines read,
   * events delivered, queue depth]): shows reading and delivery rates over the run.
   */
  shipperTimeline?: [number, number, number, number][];
  /** The shipper's own memory figures at the scrape with the highest RSS (auditshipper). */
  memoryAtPeak?: { rssMiB: number; heapUsedMiB: number; heapTotalMiB: number; externalMiB: number };
  /** The shipper's I/O over the run (/proc/<pid>/io): compare with inputMiB. */
  io?: ProcIo;
  /** CPU seconds by thread name at the end of the run. */
  threadCpuSeconds?: Record<string, number>;
  notes: string[];
}

export interface Workdir {
  dir: string;
  cleanup(): void;
}

export function workdir(root: string, name: string, keep: boolean): Workdir {
  const dir = join(root, `${name}-${Date.now().toString(36)}`);
  mkdirSync(dir, { recursive: true });
  return { dir, cleanup: () => (keep ? undefined : rmSync(dir, { recursive: true, force: true })) };
}

const mib = (b: number) => b / 2 ** 20;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/**
 * Wait until `done(progress)`, or no new event for `stallMs`, or `maxMs` in all; returns the
 * last progress and whether `done` was reached.
 */
async function waitDelivered(
  rcv: RemoteReceiver,
  done: (p: ReceiverProgress) => boolean,
  stallMs: number,
  maxMs = Infinity,
  everyMs = 100,
): Promise<{ p: ReceiverProgress; ok: boolean }> {
  const t0 = Date.now();
  let p = await rcv.progress();
  let lastUnique = p.unique;
  let lastChange = t0;
  for (;;) {
    if (done(p)) return { p, ok: true };
    const now = Date.now();
    if (p.unique !== lastUnique) {
      lastUnique = p.unique;
      lastChange = now;
    } else if (now - lastChange > stallMs) return { p, ok: false };
    if (now - t0 > maxMs) return { p, ok: false };
    await sleep(everyMs);
    p = await rcv.progress();
  }
}

/**
 * How often the bench reads the shipper's /metrics: like a Prometheus server (15 s by
 * default), because a scrape is not free for the shipper (BENCH_SCRAPE_SECONDS).
 */
const SCRAPE_MS = Number(process.env.BENCH_SCRAPE_SECONDS || 15) * 1000;

/** Sleep up to `ms`, waking early once `cond()` turns false (so a run can end promptly). */
async function sleepWhile(ms: number, cond: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (cond() && Date.now() < end) await sleep(Math.min(200, end - Date.now()));
}

/** Scrape the shipper's memory gauges periodically; keep the scrape with the highest RSS. */
function watchMemory(sh: RunningShipper) {
  let peak: ScenarioResult['memoryAtPeak'];
  let on = true;
  const mb = (v: number | undefined) => round((v ?? 0) / 2 ** 20);
  const loop = (async () => {
    while (on) {
      const m = await sh.metrics();
      const rss = m.auditshipper_process_resident_memory_bytes;
      if (rss !== undefined && (!peak || mb(rss) > peak.rssMiB)) {
        peak = {
          rssMiB: mb(rss),
          heapUsedMiB: mb(m.auditshipper_nodejs_heap_size_used_bytes),
          heapTotalMiB: mb(m.auditshipper_nodejs_heap_size_total_bytes),
          externalMiB: mb(m.auditshipper_nodejs_external_memory_bytes),
        };
      }
      await sleepWhile(SCRAPE_MS, () => on);
    }
  })();
  return async () => {
    on = false;
    await loop;
    return peak;
  };
}

/** A few counters from auditshipper's /metrics, summed over labels. */
function summariseMetrics(m: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) {
    const name = k.replace(/\{.*$/, '');
    const outcome = /outcome="([^"]+)"/.exec(k)?.[1];
    if (name === 'auditshipper_lines_read_total') out.lines_read = (out.lines_read ?? 0) + v;
    else if (name === 'auditshipper_records_total' && outcome)
      out[`records_${outcome}`] = (out[`records_${outcome}`] ?? 0) + v;
    else if (name === 'auditshipper_events_delivered_total')
      out.delivered = (out.delivered ?? 0) + v;
    else if (name === 'auditshipper_delivery_errors_total')
      out.delivery_errors = (out.delivery_errors ?? 0) + v;
    else if (name === 'auditshipper_queue_depth_events')
      out.queue_depth = (out.queue_depth ?? 0) + v;
    else if (name === 'auditshipper_events_duplicate_total')
      out.duplicates = (out.duplicates ?? 0) + v;
  }
  return out;
}

function finish(
  cpuAtStart: CpuTimes | null,
  base: Omit<
    ScenarioResult,
    'linesPerSec' | 'auditPerSec' | 'mibPerSec' | 'peakRssMiB' | 'cpuSeconds' | 'cores'
  >,
  last: ProcSample | null,
): ScenarioResult {
  const w = base.wallSeconds;
  const shares = cpuShares(cpuAtStart, machineCpu());
  return {
    ...base,
    machineCpu: shares
      ? { stealPct: round(100 * shares.steal), busyPct: round(100 * shares.busy) }
      : undefined,
    wallSeconds: round(w, 2),
    inputMiB: round(base.inputMiB),
    linesPerSec: Math.round(base.lines / w),
    auditPerSec: Math.round(base.delivered / w),
    mibPerSec: round(base.inputMiB / w),
    peakRssMiB: round(last?.peakRssMiB ?? 0),
    cpuSeconds: round(last?.cpuSeconds ?? 0, 2),
    cores: round((last?.cpuSeconds ?? 0) / w, 2),
  };
}

async function stopAll(
  sh: RunningShipper | undefined,
  rcv: RemoteReceiver | undefined,
  notes: string[],
) {
  if (sh) {
    const r = await sh.stop();
    if (r.signal === 'SIGKILL')
      notes.push('shipper did not stop on SIGTERM within the grace period');
  }
  if (rcv) await rcv.close();
}

// ---------------------------------------------------------------------------

export interface ThroughputOptions {
  file: string;
  workload: WorkloadStats;
  format: 'json' | 'cri';
  root: string;
  keep: boolean;
  stallMs: number;
  cpuProfDir?: string;
}

/** Read the file once so the run starts with it in the page cache. */
export function warmPageCache(file: string): void {
  readFileSync(file);
}

export async function throughput(shipper: Shipper, o: ThroughputOptions): Promise<ScenarioResult> {
  const wd = workdir(o.root, `throughput-${shipper.name}`, o.keep);
  const notes: string[] = [];
  const rcv = await forkReceiver();
  let sh: RunningShipper | undefined;
  let memory: ReturnType<typeof watchMemory> | undefined;
  try {
    warmPageCache(o.file);
    const machineAtStart = machineCpu();
    sh = await shipper.start({
      file: o.file,
      format: o.format,
      receiverPort: rcv.port,
      workDir: wd.dir,
      cpuProfDir: o.cpuProfDir,
    });
    const sampler = startSampler(sh.pid, 200);
    memory = watchMemory(sh);
    const expected = o.workload.audit;
    const { p, ok } = await waitDelivered(rcv, (q) => q.unique >= expected, o.stallMs);
    const threads = threadCpu(sh.pid);
    const io = procIo(sh.pid) ?? undefined;
    const last = sampler.stop();
    const memoryAtPeak = await memory();
    const metrics = summariseMetrics(await sh.metrics());
    if (!ok)
      notes.push(
        `incomplete: ${p.unique} of ${expected} audit events delivered (no progress for ${o.stallMs / 1000} s); see ${sh.logFile}`,
      );
    if (p.unknown) notes.push(`${p.unknown} delivered events carried no benchSeq`);
    if (p.badRequests) notes.push(`${p.badRequests} unreadable requests`);
    const end = p.lastAt ?? Date.now();
    return finish(
      machineAtStart,
      {
        scenario: 'throughput',
        shipper: shipper.name,
        complete: ok,
        lines: o.workload.lines,
        inputMiB: mib(o.workload.bytes),
        auditEvents: expected,
        delivered: p.unique,
        duplicates: p.duplicates,
        wallSeconds: (end - sh.startedAt) / 1000,
        shipperMetrics: Object.keys(metrics).length ? metrics : undefined,
        memoryAtPeak,
        threadCpuSeconds: threads,
        io,
        notes,
      },
      last,
    );
  } finally {
    await memory?.();
    await stopAll(sh, rcv, notes);
    wd.cleanup();
  }
}

// ---------------------------------------------------------------------------

export interface SteadyOptions {
  /** Lines per second written to the file. */
  rate: number;
  seconds: number;
  seed: number;
  cri: boolean;
  root: string;
  keep: boolean;
  stallMs: number;
  /** Seconds at the start left out of latency and memory-growth figures. */
  warmupSeconds: number;
  /** Backlog scenario: the receiver is down for this long from the start. */
  outageSeconds?: number;
  name: string;
}

/** Appends lines at a steady rate, stamping each with the time it is written. */
function startWriter(file: string, rate: number, seed: number, cri: boolean) {
  const w = createWorkload({ seed, cri });
  const fd = openSync(file, 'a');
  const t0 = Date.now();
  let written = 0;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    const now = Date.now();
    const due = Math.floor(((now - t0) / 1000) * rate);
    if (due > written) {
      const chunk: Buffer[] = [];
      while (written < due) {
        chunk.push(w.next(now).bytes);
        written++;
      }
      writeAll(fd, Buffer.concat(chunk));
    }
    setTimeout(tick, 10);
  };
  tick();
  return {
    stats: w.stats,
    stop() {
      if (stopped) return;
      stopped = true;
      closeSync(fd);
    },
  };
}

export async function steady(shipper: Shipper, o: SteadyOptions): Promise<ScenarioResult> {
  const wd = workdir(o.root, `${o.name}-${shipper.name}`, o.keep);
  const notes: string[] = [];
  const file = join(wd.dir, o.cri ? 'steady.cri.log' : 'steady.log');
  writeFileSync(file, '');
  const rcv = await forkReceiver();
  let sh: RunningShipper | undefined;
  let writer: ReturnType<typeof startWriter> | undefined;
  let sampling = false;
  try {
    if (o.outageSeconds) await rcv.down();
    sh = await shipper.start({
      file,
      format: o.cri ? 'cri' : 'json',
      receiverPort: rcv.port,
      workDir: wd.dir,
    });
    await sh.ready();
    const sampler = startSampler(sh.pid, 1000);
    const cpuAtStart = sampler.samples[sampler.samples.length - 1]?.cpuSeconds ?? 0;
    const t0 = Date.now();
    const machineAtStart = machineCpu();
    writer = startWriter(file, o.rate, o.seed, o.cri);
    const timeline: [number, number, number, number][] = [];
    const running = sh;
    sampling = true;
    const sampleMetrics = async () => {
      while (sampling) {
        const m = summariseMetrics(await running.metrics());
        if (m.lines_read !== undefined)
          timeline.push([
            round((Date.now() - t0) / 1000, 1),
            m.lines_read,
            m.delivered ?? 0,
            m.queue_depth ?? 0,
          ]);
        await sleepWhile(SCRAPE_MS, () => sampling);
      }
    };
    const metricsLoop = sampleMetrics();
    let backlog: ScenarioResult['backlog'];
    if (o.outageSeconds) {
      await sleep(o.outageSeconds * 1000);
      const backlogEvents = writer.stats.audit;
      const atUp = await rcv.progress();
      await rcv.up();
      const tUp = Date.now();
      // Drained when every event written before the receiver came back has arrived (the
      // writer goes on, so the shipper drains while new lines arrive).
      let firstAfterUp: number | null = null;
      const { p, ok } = await waitDelivered(
        rcv,
        (q) => {
          if (firstAfterUp === null && q.unique > atUp.unique) firstAfterUp = Date.now();
          return q.unique >= backlogEvents;
        },
        o.stallMs,
        // A shipper that drains slower than lines arrive never catches up: give up in time.
        Math.max(600_000, 2 * o.outageSeconds * 1000),
      );
      const tDone = p.lastAt ?? Date.now();
      const drainSeconds = ok ? (tDone - tUp) / 1000 : null;
      const lineShare = writer.stats.lines / Math.max(1, writer.stats.audit);
      const rate = drainSeconds ? (p.unique - atUp.unique) / drainSeconds : null;
      if (!ok) notes.push(`backlog not drained: ${p.unique} of ${backlogEvents}`);
      backlog = {
        outageSeconds: o.outageSeconds,
        backlogEvents,
        firstDeliveryAfterUpSeconds:
          firstAfterUp === null ? null : round((firstAfterUp - tUp) / 1000, 2),
        drainSeconds: drainSeconds === null ? null : round(drainSeconds, 2),
        drainAuditPerSec: rate === null ? null : Math.round(rate),
        drainLinesPerSecEquivalent: rate === null ? null : Math.round(rate * lineShare),
      };
    } else {
      await sleep(o.seconds * 1000);
    }
    const writtenFor = (Date.now() - t0) / 1000;
    writer.stop();
    const ws = writer.stats;
    writer = undefined;
    const lagAtStop = ws.audit - (await rcv.progress()).unique;
    const { p, ok } = await waitDelivered(rcv, (q) => q.unique >= ws.audit, o.stallMs);
    const threads = threadCpu(sh.pid);
    const io = procIo(sh.pid) ?? undefined;
    const last = sampler.stop();
    sampling = false;
    await metricsLoop;
    const metrics = summariseMetrics(await sh.metrics());
    if (!ok) notes.push(`incomplete: ${p.unique} of ${ws.audit} audit events delivered`);
    if (!o.outageSeconds && lagAtStop > o.rate)
      notes.push(`fell behind: ${lagAtStop} audit events undelivered when the writer stopped`);
    const achieved = ws.lines / writtenFor;
    if (achieved < 0.95 * o.rate)
      notes.push(
        `the writer reached only ${Math.round(achieved)} of ${o.rate} lines/s (busy machine?)`,
      );
    const warmEnd = t0 + o.warmupSeconds * 1000;
    const st = await rcv.stats(o.outageSeconds ? undefined : warmEnd);
    if (backlog) backlog.deliveredPerSecond = st.perSecond;
    const samples = sampler.samples.filter(
      (s) => s.at >= warmEnd && s.at <= t0 + writtenFor * 1000,
    );
    let rss: ScenarioResult['rss'];
    if (samples.length >= 5) {
      const k = Math.max(1, Math.floor(samples.length / 5));
      const startMiB = median(samples.slice(0, k).map((s) => s.rssMiB));
      const endMiB = median(samples.slice(-k).map((s) => s.rssMiB));
      rss = {
        startMiB: round(startMiB),
        endMiB: round(endMiB),
        growthMiB: round(endMiB - startMiB),
        slopeMiBPerMin: round(rssSlopeMiBPerMin(samples), 2),
        samples: sampler.samples.map((s) => [round((s.at - t0) / 1000, 1), round(s.rssMiB)]),
      };
    }
    const cpu = (last?.cpuSeconds ?? 0) - cpuAtStart;
    const r = finish(
      machineAtStart,
      {
        scenario: o.name,
        shipper: shipper.name,
        complete: ok,
        lines: ws.lines,
        inputMiB: mib(ws.bytes),
        auditEvents: ws.audit,
        delivered: p.unique,
        duplicates: p.duplicates,
        wallSeconds: writtenFor,
        latencyMs: o.outageSeconds ? undefined : st.latency,
        threadCpuSeconds: threads,
        io,
        shipperTimeline: timeline.length ? timeline : undefined,
        rss,
        backlog,
        shipperMetrics: Object.keys(metrics).length ? metrics : undefined,
        notes,
      },
      last,
    );
    // CPU here is what the steady load cost (start-up excluded).
    r.cpuSeconds = round(cpu, 2);
    r.cores = round(cpu / writtenFor, 2);
    return r;
  } finally {
    sampling = false;
    writer?.stop();
    await stopAll(sh, rcv, notes);
    wd.cleanup();
  }
}
