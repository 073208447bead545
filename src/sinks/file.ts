/**
 * `file` sink: NDJSON of AuditEvents on local disk.
 *
 * - `path` is a template: strftime parts (%Y %m %d %H %M %S, of the event's timestamp, UTC)
 *   and event fields (`{{product}}`, `{{source.name}}`). Field values are made path-safe, so
 *   an event cannot steer a write outside the configured directory.
 * - Directories are created (0700), files opened append-only with mode 0600.
 * - A batch is written and fsync'ed before the delivery loop acks it (research/sinks.md §5.5:
 *   "append mode, fsync at batch boundaries, never truncate in place").
 * - Optional gzip: each batch is one gzip member; concatenated members are a valid gzip file.
 * - Optional size rotation: past `rotate.max_size` the file is renamed with a timestamp suffix
 *   and a new one started; `rotate.max_files` old files are kept per path.
 * - Write errors (disk full, permissions) are transient verdicts: the rows stay buffered.
 * - A partial last line left by a write the process did not finish (killed mid-write: a
 *   write to a regular file can stop short when a fatal signal arrives) is cut when the
 *   file is next opened, so the next line does not run into it; with gzip, the unfinished
 *   member is cut, so readers that stop at a broken member reach what follows. Its events
 *   were never acknowledged, so they are still buffered and are written again.
 */
import {
  closeSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import type { Logger } from 'pino';
import { basename, dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { zDuration, zSize } from '../config/zod-units.js';
import { commonSinkKeys } from './common-config.js';
import { ndjsonBytes } from './bodies.js';
import type { QueuedEvent, SinkDriver, Verdict } from './types.js';

export const fileSinkSchema = z.strictObject({
  type: z.literal('file'),
  /** Path template, e.g. `/var/log/audit/%Y-%m-%d/{{product}}.ndjson`. */
  path: z.string().min(1),
  compression: z.enum(['none', 'gzip']).default('none'),
  /** Close a file nobody wrote to for this long (lets time-partitioned paths and external rotation work). */
  idle_timeout: zDuration.prefault('30s'),
  rotate: z
    .strictObject({
      max_size: zSize.optional(),
      max_files: z.number().int().min(1).default(10),
    })
    .prefault({}),
  ...commonSinkKeys({ maxEvents: 1000, maxBytes: 4 * 1024 * 1024, timeout: '1s' }),
});
export type FileSinkConfig = z.output<typeof fileSinkSchema>;

type Part = { lit: string } | { field: string[] } | { time: string };

const TIME_PARTS = new Set(['Y', 'm', 'd', 'H', 'M', 'S', 'j']);

/** Split a path template into literal, strftime and field parts; throws on bad syntax. */
export function compilePathTemplate(template: string): Part[] {
  const parts: Part[] = [];
  let lit = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c === '%' && i + 1 < template.length) {
      const n = template[i + 1]!;
      if (n === '%') {
        lit += '%';
        i++;
        continue;
      }
      if (TIME_PARTS.has(n)) {
        if (lit) parts.push({ lit });
        lit = '';
        parts.push({ time: n });
        i++;
        continue;
      }
      throw new Error(`unsupported strftime specifier %${n} (supported: %Y %m %d %H %M %S %j %%)`);
    }
    if (c === '{' && template[i + 1] === '{') {
      const end = template.indexOf('}}', i + 2);
      if (end < 0) throw new Error('unclosed {{ in path template');
      const field = template.slice(i + 2, end).trim();
      if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(field)) {
        throw new Error(`invalid field reference {{${field}}} in path template`);
      }
      if (lit) parts.push({ lit });
      lit = '';
      parts.push({ field: field.split('.') });
      i = end + 1;
      continue;
    }
    lit += c;
  }
  if (lit) parts.push({ lit });
  return parts;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** A field value made safe as one path segment. */
function safeSegment(v: unknown): string {
  if (v === null || v === undefined || v === '') return '_';
  const s =
    typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '_';
  const cleaned = s.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 128);
  return cleaned === '.' || cleaned === '..' ? '_' : cleaned;
}

export function renderPath(parts: Part[], event: Record<string, unknown>): string {
  let out = '';
  let date: Date | undefined;
  for (const p of parts) {
    if ('lit' in p) out += p.lit;
    else if ('field' in p) {
      let v: unknown = event;
      for (const k of p.field)
        v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
      out += safeSegment(v);
    } else {
      if (!date) {
        const t = Date.parse(typeof event.timestamp === 'string' ? event.timestamp : '');
        date = new Date(Number.isFinite(t) ? t : Date.now());
      }
      switch (p.time) {
        case 'Y':
          out += pad(date.getUTCFullYear(), 4);
          break;
        case 'm':
          out += pad(date.getUTCMonth() + 1);
          break;
        case 'd':
          out += pad(date.getUTCDate());
          break;
        case 'H':
          out += pad(date.getUTCHours());
          break;
        case 'M':
          out += pad(date.getUTCMinutes());
          break;
        case 'S':
          out += pad(date.getUTCSeconds());
          break;
        case 'j': {
          const start = Date.UTC(date.getUTCFullYear(), 0, 1);
          out += pad(Math.floor((date.getTime() - start) / 86_400_000) + 1, 3);
          break;
        }
      }
    }
  }
  return out;
}

interface OpenFile {
  fd: number;
  size: number;
  lastWrite: number;
}

const NL = 0x0a;
const TAIL_CHUNK = 64 * 1024;
/** A partial line up to this long (or batch.max_bytes, if larger) is cut when found. */
const MIN_TORN_LIMIT = 16 * 1024 * 1024;

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

/**
 * Where the text after the file's last newline starts; -1 when the file is empty or ends
 * with a newline; -2 when that text is longer than `limit` bytes (reads at most about that
 * much, backwards from the end).
 */
function partialLineStart(fd: number, size: number, limit: number): number {
  if (size === 0) return -1;
  const buf = Buffer.allocUnsafe(Math.min(TAIL_CHUNK, size));
  for (let end = size; size - end < limit;) {
    const n = Math.min(buf.length, end);
    readSync(fd, buf, 0, n, end - n);
    const i = buf.lastIndexOf(NL, n - 1);
    if (i !== -1) {
      const at = end - n + i + 1;
      if (at === size) return -1;
      return size - at <= limit ? at : -2;
    }
    end -= n;
    if (end === 0) return size <= limit ? 0 : -2;
  }
  return -2;
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b, 0x08]);
/** Candidate member starts tried when looking for a torn gzip member. */
const MAX_GZIP_CANDIDATES = 256;

type GzipRun = 'whole' | 'torn' | 'bad';

/** Whether `buf` is whole gzip members (to its last byte), stops short, or is not gzip. */
function gzipRun(buf: Buffer): GzipRun {
  try {
    const r = gunzipSync(buf, { info: true }) as unknown as { engine: { bytesWritten: number } };
    return r.engine.bytesWritten === buf.length ? 'whole' : 'bad';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'Z_BUF_ERROR' ? 'torn' : 'bad';
  }
}

/**
 * For a gzip file: where a member torn by an interrupted write starts, so the file can be
 * cut back to its last whole member; -1 when it ends with a whole member, or when its end
 * cannot be read as gzip at all (not ours to cut). Looks at the last `limit` bytes. A cut
 * point must be a member boundary, proven by the member before it inflating whole up to
 * exactly there (or by being the file's first byte), so a gzip header that happens to
 * appear inside compressed data is never taken for one.
 */
function tornGzipStart(fd: number, size: number, limit: number): number {
  if (size === 0) return -1;
  const from = Math.max(0, size - limit);
  const tail = Buffer.allocUnsafe(size - from);
  readSync(fd, tail, 0, tail.length, from);
  // Candidate starts, last first: every gzip header, and a header cut short at the very end.
  const starts: number[] = [];
  for (let k = 1; k <= 2; k++)
    if (tail.length >= k && tail.subarray(tail.length - k).equals(GZIP_MAGIC.subarray(0, k)))
      starts.push(tail.length - k);
  for (let i = tail.lastIndexOf(GZIP_MAGIC); i !== -1 && starts.length < MAX_GZIP_CANDIDATES;) {
    starts.push(i);
    i = i > 0 ? tail.lastIndexOf(GZIP_MAGIC, i - 1) : -1;
  }
  const boundary = (p: number): boolean => {
    if (from + p === 0) return true;
    for (const q of starts) if (q < p && gzipRun(tail.subarray(q, p)) === 'whole') return true;
    return false;
  };
  for (const p of starts) {
    const run = gzipRun(tail.subarray(p));
    if (run === 'whole') return -1;
    if (run === 'torn' && boundary(p)) return from + p;
  }
  return -1;
}

export function createFileSink(
  name: string,
  cfg: FileSinkConfig,
  opts: { now?: () => number; logger?: Logger } = {},
): SinkDriver {
  const now = opts.now ?? Date.now;
  const parts = compilePathTemplate(cfg.path);
  const hasFields = parts.some((p) => 'field' in p || 'time' in p);
  const files = new Map<string, OpenFile>();
  /**
   * Paths whose end this process already checked: after that only this process appends to
   * them, whole writes or writes it cut back itself, so reopening one (after idle_timeout)
   * does not read and inflate its tail again. Bounded: cleared when it grows large
   * (time-partitioned paths), at worst a tail is checked once more.
   */
  const checked = new Set<string>();
  const MAX_CHECKED = 10_000;

  /** The most an interrupted write of ours can have left behind. */
  const tornLimit = Math.max(cfg.batch.max_bytes, MIN_TORN_LIMIT);

  /** Truncate what an interrupted write left after `at`: its events are still buffered. */
  const cutAt = (path: string, fd: number, size: number, at: number, what: string): number => {
    ftruncateSync(fd, at);
    fsyncSync(fd);
    opts.logger?.warn(
      { file: path, bytes: size - at },
      `file sink: cut ${what} left by an interrupted write; its events are still buffered and are written again`,
    );
    return at;
  };

  /**
   * Cut a partial last line an interrupted write left (see the header), when it is no
   * longer than one event of ours can be: a longer unterminated tail is not ours to remove,
   * so a newline goes after it instead and our lines still start on a line of their own.
   */
  const repairTail = (path: string, fd: number, size: number): number => {
    const at = partialLineStart(fd, size, tornLimit);
    if (at === -1) return size;
    if (at >= 0) return cutAt(path, fd, size, at, 'a partial last line');
    writeAll(fd, Buffer.from([NL]));
    opts.logger?.warn(
      { file: path },
      'file sink: the file does not end with a newline; starting a new line after it',
    );
    return size + 1;
  };

  /** Cut a gzip member an interrupted write left unfinished (see the header). */
  const repairGzipTail = (path: string, fd: number, size: number): number => {
    const at = tornGzipStart(fd, size, tornLimit);
    return at === -1 ? size : cutAt(path, fd, size, at, 'an unfinished gzip member');
  };

  const open = (path: string): OpenFile => {
    let f = files.get(path);
    if (f) return f;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const fd = openSync(path, 'a+', 0o600);
    let size = fstatSync(fd).size;
    if (!checked.has(path)) {
      try {
        size =
          cfg.compression === 'none' ? repairTail(path, fd, size) : repairGzipTail(path, fd, size);
      } catch (err) {
        closeSync(fd);
        throw err;
      }
      if (checked.size >= MAX_CHECKED) checked.clear();
      checked.add(path);
    }
    f = { fd, size, lastWrite: now() };
    files.set(path, f);
    return f;
  };

  const close = (path: string) => {
    const f = files.get(path);
    if (!f) return;
    files.delete(path);
    try {
      closeSync(f.fd);
    } catch {
      // already closed
    }
  };

  const rotate = (path: string) => {
    close(path);
    const d = new Date(now());
    const stamp =
      `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}-` +
      `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}-${pad(d.getUTCMilliseconds(), 3)}`;
    renameSync(path, `${path}.${stamp}`);
    const base = basename(path);
    const old = readdirSync(dirname(path))
      .filter((n) => n.startsWith(`${base}.`) && /\.\d{8}-\d{6}-\d{3}$/.test(n))
      .sort();
    for (const n of old.slice(0, Math.max(0, old.length - cfg.rotate.max_files))) {
      unlinkSync(join(dirname(path), n));
    }
  };

  const closeIdle = () => {
    const t = now();
    for (const [p, f] of files) if (t - f.lastWrite > cfg.idle_timeout) close(p);
  };
  const idleTimer = setInterval(closeIdle, Math.min(cfg.idle_timeout, 30_000));
  idleTimer.unref();

  return {
    name,
    type: 'file',
    send(batch: QueuedEvent[]): Promise<Verdict> {
      try {
        // Group lines by target path, keeping batch order within each file.
        const groups = new Map<string, QueuedEvent[]>();
        for (const e of batch) {
          const path = hasFields
            ? renderPath(parts, JSON.parse(e.body) as Record<string, unknown>)
            : cfg.path;
          let g = groups.get(path);
          if (!g) groups.set(path, (g = []));
          g.push(e);
        }
        for (const [path, events] of groups) {
          const text = ndjsonBytes(events);
          const data = cfg.compression === 'gzip' ? gzipSync(text) : text;
          let f = open(path);
          if (
            cfg.rotate.max_size !== undefined &&
            f.size > 0 &&
            f.size + data.length > cfg.rotate.max_size
          ) {
            rotate(path);
            f = open(path);
          }
          try {
            writeAll(f.fd, data);
          } catch (err) {
            // Never leave half a line behind: cut the file back to where this write began.
            try {
              ftruncateSync(f.fd, f.size);
            } catch {
              // the retry appends after whatever is there; ids let readers de-duplicate
            }
            throw err;
          }
          // Durable before ack: the delivery loop deletes the rows only after this returns.
          fsyncSync(f.fd);
          f.size += data.length;
          f.lastWrite = now();
        }
        return Promise.resolve({ kind: 'ok' });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        // Disk full, permissions, a vanished directory: keep the events, retry with backoff.
        for (const p of [...files.keys()]) close(p);
        return Promise.resolve({ kind: 'retry', reason: `write failed: ${e.code ?? e.message}` });
      }
    },
    close() {
      clearInterval(idleTimer);
      for (const p of [...files.keys()]) close(p);
      return Promise.resolve();
    },
  };
}
