/**
 * Durations (`500ms`, `30s`, `7d`) and sizes (`64KiB`, `2GiB`) as config strings.
 * Parsers return undefined on bad input so zod refinements can report a message
 * at the right line:col.
 */

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Parse `1500ms`, `30s`, `1m30s`, `7d` into milliseconds. A bare number means seconds. */
export function parseDuration(input: string | number): number | undefined {
  if (typeof input === 'number')
    return Number.isFinite(input) && input >= 0 ? input * 1000 : undefined;
  const s = input.trim();
  if (s === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * (DURATION_UNITS[m[2]!] ?? 0);
    matched = re.lastIndex;
  }
  return matched === s.length ? Math.round(total) : undefined;
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
};

/** Parse `512KiB`, `2GiB`, `5MB`, `100` (bytes) into a byte count. */
export function parseSize(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isInteger(input) && input >= 0 ? input : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(input);
  if (!m) return undefined;
  const unit = (m[2] ?? '').toLowerCase();
  const mult = unit === '' ? 1 : SIZE_UNITS[unit];
  if (mult === undefined) return undefined;
  return Math.floor(Number(m[1]) * mult);
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)}${units[i]}`;
}
