/**
 * Dotted field paths (`metadata.user.email`, `events.0.type`) compiled once at
 * config load and resolved per record without allocation.
 */
import { isObject } from './values.js';

export type CompiledPath = readonly string[];

export function compilePath(path: string): CompiledPath {
  return Object.freeze(path.split('.'));
}

/**
 * The value at `path`, or undefined. Only own properties are followed (a path
 * segment `constructor` or `__proto__` never reaches a prototype); a numeric
 * segment indexes an array.
 */
export function resolvePath(root: unknown, path: CompiledPath): unknown {
  let cur: unknown = root;
  for (const seg of path) {
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(seg)) return undefined;
      cur = cur[Number(seg)];
    } else if (isObject(cur)) {
      if (!Object.hasOwn(cur, seg)) return undefined;
      cur = cur[seg];
    } else {
      return undefined;
    }
  }
  return cur;
}
