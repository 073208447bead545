/**
 * The benchmark's HTTP receiver on 127.0.0.1: accepts POSTed NDJSON or JSON arrays, gzip
 * or plain, answers 200 at once, and accounts for every event it receives:
 *
 * - `benchSeq` (the workload line index, see workload.ts) marks the event in a bitmap, so
 *   the receiver knows how many distinct audit events arrived and how many were duplicates
 *   (delivery is at-least-once);
 * - `writtenAt` gives the write-to-receive latency: arrival time (when the request body has
 *   been read) minus the time the line was generated for writing.
 *
 * Events are found by scanning text for the two keys rather than parsing every event: the
 * receiver shares two cores with the shipper it measures and must stay cheap. Each event
 * holds each key exactly once, wherever a shipper puts the app's metadata.
 *
 * It runs in its own process (`forkReceiver`) so that its work and the writer's do not
 * delay each other's clocks, and can be taken down and brought back (the backlog scenario):
 * down closes the listening socket and every open connection, so a shipper sees refused
 * connections, as with a crashed SIEM endpoint.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { trackChild } from './proc.js';

export interface LatencySummary {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

export interface ReceiverStats {
  requests: number;
  /** Events received, duplicates included. */
  events: number;
  /** Distinct `benchSeq` values received. */
  unique: number;
  duplicates: number;
  /** Events without a `benchSeq` (not from the workload). */
  unknown: number;
  /** Request bodies as sent (compressed) and after decompression. */
  wireBytes: number;
  bodyBytes: number;
  badRequests: number;
  /** Epoch ms of the first and last request carrying a new event (null before any). */
  firstAt: number | null;
  lastAt: number | null;
  /** Latency (ms) of first arrivals at or after `since` (all when not given). */
  latency: LatencySummary;
  /** Distinct events received per whole second since the receiver started. */
  perSecond: number[];
  startedAt: number;
}

/** The counters alone: cheap enough to poll ten times a second. */
export type ReceiverProgress = Omit<ReceiverStats, 'latency' | 'perSecond'>;

export interface Receiver {
  readonly port: number;
  progress(): ReceiverProgress;
  stats(since?: number): ReceiverStats;
  /** Stop listening and drop every connection: clients see connection refused. */
  down(): Promise<void>;
  /** Listen again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

/** A growable Float64Array: latencies for millions of events without boxing. */
class Floats {
  a = new Float64Array(1 << 16);
  n = 0;
  push(v: number) {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
}

function percentile(sorted: Float64Array, p: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** The non-negative integer right after `key` in `s` at or after `from`, or -1. */
function numberAfter(s: string, key: string, from: number, to: number): number {
  const i = s.indexOf(key, from);
  if (i < 0 || i >= to) return -1;
  let j = i + key.length;
  while (s.charCodeAt(j) === 32) j++;
  let v = 0;
  let digits = 0;
  for (;;) {
    const c = s.charCodeAt(j);
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
    digits++;
    j++;
  }
  return digits > 0 ? v : -1;
}

export async function startReceiver(
  opts: { host?: string; port?: number } = {},
): Promise<Receiver> {
  const host = opts.host ?? '127.0.0.1';
  const startedAt = Date.now();
  let seen = new Uint8Array(1 << 20);
  const arrivals = new Floats();
  const latencies = new Floats();
  const perSecond: number[] = [];
  const s = {
    requests: 0,
    events: 0,
    unique: 0,
    duplicates: 0,
    unknown: 0,
    wireBytes: 0,
    bodyBytes: 0,
    badRequests: 0,
    firstAt: null as number | null,
    lastAt: null as number | null,
  };

  const account = (text: string, from: number, to: number, now: number): boolean => {
    s.events++;
    const seq = numberAfter(text, '"benchSeq":', from, to);
    if (seq < 0) {
      s.unknown++;
      return false;
    }
    if (seq >= seen.length) {
      let n = seen.length;
      while (n <= seq) n *= 2;
      const b = new Uint8Array(n);
      b.set(seen);
      seen = b;
    }
    if (seen[seq]) {
      s.duplicates++;
      return false;
    }
    seen[seq] = 1;
    s.unique++;
    const sec = Math.floor((now - startedAt) / 1000);
    while (perSecond.length <= sec) perSecond.push(0);
    perSecond[sec]!++;
    const written = numberAfter(text, '"writtenAt":', from, to);
    if (written > 0) {
      arrivals.push(now);
      latencies.push(now - written);
    }
    return true;
  };

  const ingest = (body: Buffer, gzip: boolean, now: number) => {
    const raw = gzip ? gunzipSync(body) : body;
    s.bodyBytes += raw.length;
    const text = raw.toString('utf8');
    let fresh = false;
    const first = text.trimStart()[0];
    if (first === '[') {
      const arr = JSON.parse(text) as unknown[];
      if (!Array.isArray(arr)) throw new Error('not an array');
      for (const ev of arr) {
        const one = JSON.stringify(ev);
        if (account(one, 0, one.length, now)) fresh = true;
      }
    } else {
      let at = 0;
      while (at < text.length) {
        let nl = text.indexOf('\n', at);
        if (nl < 0) nl = text.length;
        if (nl > at && text.charCodeAt(at) !== 13) {
          if (account(text, at, nl, now)) fresh = true;
        }
        at = nl + 1;
      }
    }
    if (fresh) {
      s.firstAt ??= now;
      s.lastAt = now;
    }
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const now = Date.now();
      s.requests++;
      const body = Buffer.concat(chunks);
      s.wireBytes += body.length;
      try {
        ingest(body, /gzip/i.test(String(req.headers['content-encoding'] ?? '')), now);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      } catch {
        s.badRequests++;
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end('{"error":"unreadable body"}');
      }
    });
    req.on('error', () => res.destroy());
  };

  let server: Server = createServer({ keepAliveTimeout: 60_000 }, onRequest);
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const port = await listen(opts.port ?? 0);
  let listening = true;

  return {
    port,
    progress() {
      return { ...s, startedAt };
    },
    stats(since) {
      const n = latencies.n;
      const picked = new Float64Array(n);
      let k = 0;
      for (let i = 0; i < n; i++)
        if (since === undefined || arrivals.a[i]! >= since) picked[k++] = latencies.a[i]!;
      const sorted = picked.subarray(0, k).sort();
      return {
        ...s,
        latency: {
          count: k,
          p50: percentile(sorted, 50),
          p90: percentile(sorted, 90),
          p99: percentile(sorted, 99),
          max: k ? sorted[k - 1]! : null,
        },
        perSecond: [...perSecond],
        startedAt,
      };
    },
    async down() {
      if (!listening) return;
      listening = false;
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
    },
    async up() {
      if (listening) return;
      server = createServer({ keepAliveTimeout: 60_000 }, onRequest);
      await listen(port);
      listening = true;
    },
    async close() {
      if (!listening) return;
      listening = false;
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
    },
  };
}

// ---------------------------------------------------------------------------
// The receiver in a child process, driven over IPC.

type Command =
  | { id: number; op: 'stats'; since?: number }
  | { id: number; op: 'progress' | 'down' | 'up' | 'close' };
type Reply =
  | { id: number; ok: true; stats?: ReceiverStats; progress?: ReceiverProgress }
  | { id: number; ok: false; error: string };

export interface RemoteReceiver {
  readonly port: number;
  readonly pid: number;
  progress(): Promise<ReceiverProgress>;
  stats(since?: number): Promise<ReceiverStats>;
  down(): Promise<void>;
  up(): Promise<void>;
  /** Close the server and end the child process. */
  close(): Promise<void>;
}

export async function forkReceiver(): Promise<RemoteReceiver> {
  const child: ChildProcess = trackChild(
    fork(fileURLToPath(import.meta.url), ['--ipc'], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port?: number }) =>
      m.port ? resolve(m.port) : reject(new Error('receiver did not start')),
    );
    child.once('exit', (code) => reject(new Error(`receiver exited early (${code})`)));
  });
  let next = 1;
  const waiting = new Map<number, (r: Reply) => void>();
  child.once('exit', () => {
    for (const [id, w] of waiting) w({ id, ok: false, error: 'receiver process exited' });
    waiting.clear();
  });
  child.on('message', (m: Reply) => {
    const w = waiting.get(m.id);
    if (w) {
      waiting.delete(m.id);
      w(m);
    }
  });
  const call = (cmd: Omit<Command, 'id'>): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const id = next++;
      if (!child.connected) {
        reject(new Error('receiver process is gone'));
        return;
      }
      waiting.set(id, resolve);
      child.send({ ...cmd, id }, (err) => {
        if (err) {
          waiting.delete(id);
          reject(err);
        }
      });
    });
  const must = async (cmd: Omit<Command, 'id'>) => {
    const r = await call(cmd);
    if (!r.ok) throw new Error(`receiver ${cmd.op}: ${r.error}`);
    return r;
  };
  return {
    port,
    pid: child.pid!,
    async progress() {
      return (await must({ op: 'progress' })).progress!;
    },
    async stats(since) {
      return (await must({ op: 'stats', since } as Omit<Command, 'id'>)).stats!;
    },
    async down() {
      await must({ op: 'down' });
    },
    async up() {
      await must({ op: 'up' });
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      try {
        await must({ op: 'close' });
      } catch {
        // already going away
      } finally {
        if (child.connected) child.disconnect();
      }
      await exited;
    },
  };
}

async function childMain(): Promise<void> {
  const rcv = await startReceiver();
  process.send!({ port: rcv.port });
  process.on('message', (cmd: Command) => {
    const reply = (r: Reply) => process.send!(r);
    const fail = (e: unknown) => reply({ id: cmd.id, ok: false, error: (e as Error).message });
    switch (cmd.op) {
      case 'progress':
        reply({ id: cmd.id, ok: true, progress: rcv.progress() });
        break;
      case 'stats':
        reply({ id: cmd.id, ok: true, stats: rcv.stats(cmd.since) });
        break;
      case 'down':
        rcv.down().then(() => reply({ id: cmd.id, ok: true }), fail);
        break;
      case 'up':
        rcv.up().then(() => reply({ id: cmd.id, ok: true }), fail);
        break;
      case 'close':
        rcv.close().then(() => reply({ id: cmd.id, ok: true }), fail);
        break;
    }
  });
  process.on('disconnect', () => process.exit(0));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv.includes('--ipc') && process.send) {
    childMain().catch((e: unknown) => {
      process.stderr.write(`receiver: ${(e as Error).message}\n`);
      process.exit(1);
    });
  } else {
    // Standalone: print running totals, for trying a shipper by hand.
    const port = Number(process.argv[2] ?? 0);
    void startReceiver({ port }).then((rcv) => {
      process.stdout.write(`receiver listening on 127.0.0.1:${rcv.port}\n`);
      setInterval(() => {
        const st = rcv.stats();
        process.stdout.write(
          `events ${st.events} unique ${st.unique} dup ${st.duplicates} unknown ${st.unknown} p99 ${st.latency.p99 ?? '-'} ms\n`,
        );
      }, 2000);
    });
  }
}
