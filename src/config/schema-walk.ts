/**
 * Walks a zod v4 schema along a config path to find which keys an object accepts there,
 * so an unknown key can be answered with "did you mean ...". Unions pick the branch whose
 * discriminator matches the data (sources and sinks are unions on `type`).
 */
import type { z } from 'zod';

type Def = { type: string; [k: string]: unknown };

function defOf(s: unknown): Def | undefined {
  const zod = (s as { _zod?: { def?: Def } } | undefined)?._zod;
  return zod?.def;
}

/** Strip wrappers (optional, default, prefault, pipe, lazy, ...) down to the shape-bearing schema. */
function unwrap(s: unknown, data: unknown, depth = 0): unknown {
  const d = defOf(s);
  if (!d || depth > 20) return s;
  switch (d.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return unwrap(d.innerType, data, depth + 1);
    case 'pipe':
      return unwrap(d.in, data, depth + 1);
    case 'lazy':
      return unwrap((d.getter as () => unknown)(), data, depth + 1);
    case 'union': {
      const options = d.options as unknown[];
      const disc = d.discriminator as string | undefined;
      const tag =
        data && typeof data === 'object'
          ? (data as Record<string, unknown>)[disc ?? 'type']
          : undefined;
      for (const o of options) {
        const u = unwrap(o, data, depth + 1);
        const ud = defOf(u);
        if (ud?.type !== 'object') continue;
        const shape = ud.shape as Record<string, unknown>;
        const lit = defOf(unwrap(shape[disc ?? 'type'], undefined, depth + 1));
        const values = (lit?.values as unknown[] | undefined) ?? [];
        if (tag !== undefined && values.includes(tag)) return u;
      }
      // No discriminator match: prefer the first object option (best effort for hints).
      for (const o of options) {
        const u = unwrap(o, data, depth + 1);
        if (defOf(u)?.type === 'object') return u;
      }
      return s;
    }
    default:
      return s;
  }
}

/** Keys accepted by the object schema at `path`, or undefined when it is not a fixed-shape object. */
export function knownKeysAt(
  schema: z.ZodType,
  path: (string | number)[],
  data: unknown,
): string[] | undefined {
  let s: unknown = unwrap(schema, data);
  let d: unknown = data;
  for (const seg of path) {
    const def = defOf(s);
    if (!def) return undefined;
    const next =
      d && typeof d === 'object' ? (d as Record<string | number, unknown>)[seg] : undefined;
    if (def.type === 'object') {
      s = (def.shape as Record<string, unknown>)[String(seg)];
    } else if (def.type === 'record') {
      s = def.valueType;
    } else if (def.type === 'array') {
      s = def.element;
    } else {
      return undefined;
    }
    d = next;
    s = unwrap(s, d);
  }
  const def = defOf(s);
  if (def?.type !== 'object') return undefined;
  return Object.keys(def.shape as Record<string, unknown>);
}

/** Edit distance counting a swap of two neighbours as one edit (typos like "paht"). */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  const d: number[][] = Array.from({ length: m + 1 }, (_, i) =>
    Array.from({ length: n + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= m; i++) {
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[m]![n]!;
}

/** The closest candidate within a distance that still reads as a typo, if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const w = word.toLowerCase();
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 3));
  return bestD <= limit ? best : undefined;
}
