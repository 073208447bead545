/**
 * Finding the audit record inside a parsed line. Loggers wrap records in different
 * ways — fields merged into the logger's object, nested under a key
 * (`{"level":"info","auditLog":{...}}`, as ToolJet's log file does), or
 * serialised into `message` / `msg` — and the shape varies by version, so the
 * record is found by content (DESIGN.md, "Input shapes to recognise").
 */
import type { CompiledPath } from './path.js';
import type { Json } from './values.js';
import { isObject, parseJsonContainer, setOwn, startsJsonObject } from './values.js';

/** How deep below the line's top level a record is searched for. */
export const MAX_SEARCH_DEPTH = 3;
/** String fields that may hold the record as JSON text. */
const STRING_KEYS: ReadonlySet<string> = new Set(['message', 'msg']);
/** JSON-in-string parses per line: each costs a JSON.parse, so bound them. */
const MAX_STRING_PARSES = 4;

/** One step from a container down to the record: `obj[key]` (an object, or JSON text). */
export interface Link {
  obj: Json;
  key: string;
}

export interface Candidate {
  rec: Json;
  /** Steps from the line's top level down to `rec`; empty when `rec` is the line itself. */
  chain: readonly Link[];
}

/** A child of `obj[key]` when it is an object or, under message/msg, JSON text holding one. */
function childAt(obj: Json, key: string, budget: { parses: number }): Json | null {
  const v = obj[key];
  if (isObject(v)) return v;
  if (typeof v === 'string' && STRING_KEYS.has(key) && budget.parses > 0 && startsJsonObject(v)) {
    budget.parses--;
    const parsed = parseJsonContainer(v);
    return isObject(parsed) ? parsed : null;
  }
  return null;
}

/**
 * Candidates in breadth-first order (the line itself first, shallowest records
 * first), produced lazily: `get(i)` expands the search only as far as needed, so
 * the common flat line costs nothing beyond its first candidate.
 */
export function candidates(root: Json): (i: number) => Candidate | undefined {
  const list: Array<Candidate & { depth: number }> = [{ rec: root, chain: [], depth: 0 }];
  let next = 0; // the next list entry whose children are not yet listed
  const budget = { parses: MAX_STRING_PARSES };
  return (i) => {
    while (list.length <= i && next < list.length) {
      const { rec, chain, depth } = list[next++]!;
      if (depth >= MAX_SEARCH_DEPTH) continue;
      for (const key of Object.keys(rec)) {
        const child = childAt(rec, key, budget);
        if (child !== null)
          list.push({ rec: child, chain: [...chain, { obj: rec, key }], depth: depth + 1 });
      }
    }
    return list[i];
  };
}

/** The record at a fixed path (custom `envelope:`); a JSON string on the way is parsed. */
export function candidateAt(root: Json, path: CompiledPath): Candidate | undefined {
  let cur: Json = root;
  const chain: Link[] = [];
  for (const key of path) {
    if (!Object.hasOwn(cur, key)) return undefined;
    const v = cur[key];
    let child: unknown = v;
    if (typeof v === 'string') child = parseJsonContainer(v);
    if (!isObject(child)) return undefined;
    chain.push({ obj: cur, key });
    cur = child;
  }
  return { rec: cur, chain };
}

/**
 * What the line held around the record: the containers on the chain without the
 * record's own branch, empty branches dropped. Kept in `detail` so nothing the app
 * wrote is lost (the logger's level, message, timestamp, labels). Null when empty.
 */
export function envelopeOf(chain: readonly Link[]): Json | null {
  let inner: Json | null = null;
  for (let i = chain.length - 1; i >= 0; i--) {
    const { obj, key } = chain[i]!;
    const copy: Json = {};
    for (const k of Object.keys(obj)) {
      if (k !== key) setOwn(copy, k, obj[k]);
      else if (inner !== null) setOwn(copy, k, inner);
    }
    inner = Object.keys(copy).length > 0 ? copy : null;
  }
  return inner;
}
