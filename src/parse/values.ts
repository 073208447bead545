/**
 * Value normalisers shared by the profiles: timestamps, IPs, ids, durations,
 * outcome and severity words, JSON-in-string, and depth limiting.
 * All are total: a value they cannot read yields null, never an exception.
 */
import type { Outcome, Severity } from '../event/types.js';

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Own-property write that is safe for a `__proto__` key coming from parsed JSON. */
export function setOwn(o: Json, k: string, v: unknown): void {
  if (k === '__proto__') {
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  } else {
    o[k] = v;
  }
}

/** `k`, or `_k`, `__k`, … : the first name not already taken in `o` (so nothing is overwritten). */
export function freeKey(o: Json, k: string): string {
  let name = k;
  while (Object.hasOwn(o, name)) name = '_' + name;
  return name;
}

// ---------------------------------------------------------------------------
// Depth limit

/**
 * Deepest nesting kept. JSON.parse copes with any depth but JSON.stringify and every
 * recursive walker downstream overflow the stack on ~10k levels; no real audit record
 * comes near 64. Deeper subtrees are replaced by DEPTH_MARKER.
 */
export const MAX_DEPTH = 64;
export const DEPTH_MARKER = '[auditshipper: nesting deeper than 64 levels removed]';

/** Cheap upper bound on nesting: the number of `{` and `[` in the text. */
function bracketCountAtMost(text: string, limit: number): boolean {
  let n = 0;
  for (const ch of ['{', '[']) {
    let i = text.indexOf(ch);
    while (i !== -1) {
      if (++n > limit) return false;
      i = text.indexOf(ch, i + 1);
    }
  }
  return true;
}

function capInPlace(v: unknown, depth: number): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (depth >= MAX_DEPTH) return DEPTH_MARKER;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const c: unknown = v[i];
      if (typeof c === 'object' && c !== null) v[i] = capInPlace(c, depth + 1);
    }
  } else {
    const o = v as Json;
    for (const k of Object.keys(o)) {
      const c = o[k];
      if (typeof c === 'object' && c !== null) {
        const capped = capInPlace(c, depth + 1);
        if (capped !== c) setOwn(o, k, capped);
      }
    }
  }
  return v;
}

/**
 * JSON.parse that never throws and bounds nesting (in place: the value is fresh).
 * The error never quotes the input (it may hold secrets). The walk that bounds
 * nesting is skipped when the text has too few brackets to be that deep, which is
 * nearly always.
 */
export function parseJsonBounded(
  text: string,
): { ok: true; value: unknown } | { ok: false; error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // The engine's message quotes the input; keep only the position.
    const m = /position (\d+)/.exec(err instanceof Error ? err.message : '');
    return { ok: false, error: m ? `invalid JSON at position ${m[1]}` : 'invalid JSON' };
  }
  if (typeof value === 'object' && value !== null && !bracketCountAtMost(text, MAX_DEPTH)) {
    value = capInPlace(value, 0);
  }
  return { ok: true, value };
}

/** Index of the first character that is not JSON whitespace (or a byte-order mark). */
export function skipSpace(s: string): number {
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0xfeff) break;
  }
  return i;
}

/** True when the text starts (after whitespace) with `{`: worth a JSON.parse. */
export function startsJsonObject(s: string): boolean {
  return s.charCodeAt(skipSpace(s)) === 0x7b;
}

/** A string holding a JSON object or array → the parsed value; anything else → undefined. */
export function parseJsonContainer(s: string): unknown {
  const i = skipSpace(s);
  const c = s.charCodeAt(i);
  if (c !== 0x7b && c !== 0x5b) return undefined;
  const r = parseJsonBounded(i > 0 ? s.slice(i) : s); // JSON.parse rejects a BOM
  return r.ok ? r.value : undefined;
}

/** `metadata` may be an object or a JSON string: the parsed form when it parses, else as written. */
export function normaliseMetadata(v: unknown): unknown {
  if (typeof v === 'string') {
    const parsed = parseJsonContainer(v);
    return parsed === undefined ? v : parsed;
  }
  return v;
}

// ---------------------------------------------------------------------------
// Scalars

/** An id: non-empty string, or a finite number / bigint rendered as a string. */
export function toId(v: unknown): string | null {
  if (typeof v === 'string') return v === '' ? null : v;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : null;
  if (typeof v === 'bigint') return String(v);
  return null;
}

/** A non-empty string (numbers are not names). */
export function toText(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

const IPV4_MAPPED = /^(?:::ffff:|0:0:0:0:0:ffff:)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

/**
 * An IP address as text; IPv4-mapped IPv6 (`::ffff:10.0.0.5`, the form Retool's
 * ipAddress column holds, research/redaction.md §1.4) becomes plain IPv4.
 */
export function normaliseIp(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const s = v.trim();
  if (s === '') return null;
  const m = IPV4_MAPPED.exec(s);
  return m ? m[1]! : s;
}

/** A non-negative duration in ms from a number or a numeric string. */
export function toDuration(v: unknown): number | null {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^\d+(?:\.\d+)?$/.test(v.trim())) n = Number(v.trim());
  else return null;
  return Number.isFinite(n) && n >= 0 ? n : null;
}

const SUCCESS_WORDS = new Set([
  'success',
  'succeeded',
  'successful',
  'ok',
  'allowed',
  'allow',
  'pass',
  'passed',
  'complete',
  'completed',
  'true',
  'done',
]);
const FAILURE_WORDS = new Set([
  'failure',
  'fail',
  'failed',
  'error',
  'errored',
  'denied',
  'deny',
  'rejected',
  'forbidden',
  'unauthorized',
  'unauthorised',
  'blocked',
  'false',
]);

/**
 * Outcome from a field value: booleans (`success: false`), words (`failed`, `ok`,
 * `denied`…) and HTTP-like status numbers (2xx/3xx success, 4xx/5xx failure).
 */
export function parseOutcome(v: unknown): Outcome | null {
  if (typeof v === 'boolean') return v ? 'success' : 'failure';
  if (typeof v === 'number') {
    if (v >= 200 && v < 400) return 'success';
    if (v >= 400 && v < 600) return 'failure';
    return null;
  }
  if (typeof v !== 'string') return null;
  const w = v.trim().toLowerCase();
  if (w === 'unknown') return 'unknown';
  if (SUCCESS_WORDS.has(w)) return 'success';
  if (FAILURE_WORDS.has(w)) return 'failure';
  if (/^[1-5]\d\d$/.test(w)) return parseOutcome(Number(w));
  return null;
}

const SEVERITY_WORDS: ReadonlyMap<string, Severity> = new Map<string, Severity>([
  // syslog-style ranks: emerg/alert/crit → critical, err/warning → warn, notice/info/debug → info
  ['critical', 'critical'],
  ['crit', 'critical'],
  ['fatal', 'critical'],
  ['emergency', 'critical'],
  ['emerg', 'critical'],
  ['alert', 'critical'],
  ['high', 'critical'],
  ['severe', 'critical'],
  ['error', 'warn'],
  ['err', 'warn'],
  ['warn', 'warn'],
  ['warning', 'warn'],
  ['medium', 'warn'],
  ['moderate', 'warn'],
  ['info', 'info'],
  ['informational', 'info'],
  ['notice', 'info'],
  ['low', 'info'],
  ['debug', 'info'],
]);

/** An app's own severity word (`critical`, `warning`, `high`, `low`…) → Severity, else null. */
export function parseSeverityWord(v: unknown): Severity | null {
  if (typeof v !== 'string') return null;
  return SEVERITY_WORDS.get(v.trim().toLowerCase()) ?? null;
}

// ---------------------------------------------------------------------------
// Timestamps

export interface ParsedTime {
  /** ISO 8601 UTC with milliseconds. */
  iso: string;
  /** False when the input named no zone (read as UTC, but a weaker source than a zoned one). */
  zoned: boolean;
}

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/;
const EPOCH_STRING_RE = /^\d{9,19}(?:\.\d+)?$/;
const MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

function fromMs(ms: number, zoned: boolean): ParsedTime | null {
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_MS) return null;
  return { iso: new Date(Math.floor(ms)).toISOString(), zoned };
}

/** Epoch number → ms, choosing the unit by magnitude (s, ms, µs, ns). */
function epochToMs(n: number): number {
  const abs = Math.abs(n);
  if (abs < 1e11) return n * 1000; // seconds (1e11 s is the year 5138)
  if (abs < 1e14) return n; // milliseconds
  if (abs < 1e17) return n / 1000; // microseconds
  return n / 1e6; // nanoseconds
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** Already `YYYY-MM-DDTHH:MM:SS.mmmZ`: once validated, it is its own output (no Date round trip). */
const CANONICAL_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function parseIso(s: string, m: RegExpExecArray): ParsedTime | null {
  const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = '', zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(sec);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 60) return null;
  let offsetMin = 0;
  if (zone !== undefined && (zone[0] === '+' || zone[0] === '-')) {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2)) : 0;
    if (oh > 23 || om > 59) return null;
    offsetMin = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const ms =
    daysFromCivil(year, month, day) * 86_400_000 +
    ((hour * 60 + minute - offsetMin) * 60 + second) * 1000 +
    Number(frac.padEnd(3, '0').slice(0, 3));
  if (ms < 0 || ms > MAX_MS) return null;
  // A leap second (:60) is rolled into the next minute by the Date round trip.
  if (second < 60 && CANONICAL_RE.test(s)) return { iso: s, zoned: true };
  return fromMs(ms, zone !== undefined);
}

/** Two digits at `i` as a number, or -1. */
function digits2(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * True when `s` is exactly `YYYY-MM-DDTHH:MM:SS.mmmZ` naming a real instant from
 * 1970 on without a leap second: the one case where the general path below returns
 * `s` itself (`parseIso`'s last line), decided with character codes instead of two
 * regexes and a dozen substrings. It is the form `Date#toISOString` writes, so most
 * audit records carry it (Retool's createdAt, loggers' timestamps). Anything else,
 * including the same shape with an impossible date, goes the general way.
 */
function isCanonicalIso(s: string): boolean {
  if (
    s.length !== 24 ||
    s.charCodeAt(4) !== 45 ||
    s.charCodeAt(7) !== 45 ||
    s.charCodeAt(10) !== 84 ||
    s.charCodeAt(13) !== 58 ||
    s.charCodeAt(16) !== 58 ||
    s.charCodeAt(19) !== 46 ||
    s.charCodeAt(23) !== 90
  ) {
    return false;
  }
  const c = digits2(s, 0);
  const y = digits2(s, 2);
  const month = digits2(s, 5);
  const day = digits2(s, 8);
  const hour = digits2(s, 11);
  const minute = digits2(s, 14);
  const second = digits2(s, 17);
  const ms1 = digits2(s, 20);
  const ms2 = s.charCodeAt(22) - 48;
  if (c < 0 || y < 0 || ms1 < 0 || ms2 < 0 || ms2 > 9) return false;
  const year = c * 100 + y;
  // Before 1970 the general path answers null (negative epoch); a leap second (:60)
  // is rolled into the next minute by its Date round trip.
  return (
    year >= 1970 &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth(year, month) &&
    hour >= 0 &&
    hour <= 23 &&
    minute >= 0 &&
    minute <= 59 &&
    second >= 0 &&
    second <= 59
  );
}

/**
 * A timestamp → ISO 8601 UTC with ms. Accepts ISO 8601 / RFC 3339 (also with a space
 * and a `+00` offset, as Postgres prints timestamptz), epoch seconds / ms / µs / ns as
 * numbers or digit strings, and other strings `Date.parse` reads only if they name a
 * zone (a zone-less non-ISO string would depend on the host's time zone).
 */
export function parseTimestamp(v: unknown): ParsedTime | null {
  if (typeof v === 'string' && isCanonicalIso(v)) return { iso: v, zoned: true };
  return parseTimestampGeneral(v);
}

/**
 * `parseTimestamp` without its fast path for canonical `toISOString` text: the
 * reference the fast path is tested against (test/parse/values.test.ts).
 */
export function parseTimestampGeneral(v: unknown): ParsedTime | null {
  if (typeof v === 'number') return fromMs(epochToMs(v), true);
  if (typeof v !== 'string') return null;
  const s = v.trim();
  if (s.length === 0 || s.length > 64) return null;
  const m = ISO_RE.exec(s);
  if (m) return parseIso(s, m);
  if (EPOCH_STRING_RE.test(s)) return fromMs(epochToMs(Number(s)), true);
  if (!/(?:\bGMT|\bUTC|Z|[+-]\d{2}:?\d{2})$/i.test(s)) return null;
  return fromMs(Date.parse(s), true);
}
