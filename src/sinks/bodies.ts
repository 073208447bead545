/**
 * Joining stored event bodies into one request body or file write. Events leased from the
 * store carry their UTF-8 bytes (QueuedEvent.raw): those are copied as they are, never
 * decoded and encoded again; a body without bytes (a probe event, a test) is encoded.
 */
import type { QueuedEvent } from './types.js';

const NL = 0x0a;

function join(
  events: readonly QueuedEvent[],
  sep: number,
  open: number | null,
  close: number | null,
): Buffer {
  const n = events.length;
  let total = (open === null ? 0 : 1) + (close === null ? 0 : 1);
  for (const e of events) total += e.raw ? e.raw.length : Buffer.byteLength(e.body);
  total += close === null ? n : Math.max(0, n - 1); // a separator after each, or between
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  if (open !== null) out[at++] = open;
  for (let i = 0; i < n; i++) {
    const e = events[i]!;
    at += e.raw ? e.raw.copy(out, at) : out.write(e.body, at, 'utf8');
    if (close === null || i < n - 1) out[at++] = sep;
  }
  if (close !== null) out[at++] = close;
  return out;
}

/** NDJSON: every body followed by a newline. */
export function ndjsonBytes(events: readonly QueuedEvent[]): Buffer {
  return join(events, NL, null, null);
}

/** A JSON array of the bodies: `[body,body]`. */
export function jsonArrayBytes(events: readonly QueuedEvent[]): Buffer {
  return join(events, 0x2c /* , */, 0x5b /* [ */, 0x5d /* ] */);
}

/**
 * True when the stored body is one line holding a JSON object (starts with `{`, no newline):
 * what NDJSON framing needs. Checked on the bytes when the event has them.
 */
export function isOneLineObject(e: QueuedEvent): boolean {
  const r = e.raw;
  if (r) return r.length > 0 && r[0] === 0x7b && r.indexOf(NL) === -1;
  const b = e.body;
  return b.length > 0 && b.charCodeAt(0) === 0x7b && !b.includes('\n');
}
