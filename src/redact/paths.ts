/**
 * Field paths with wildcards, matched while the redactor walks an event.
 *
 * Syntax: segments separated by `.`; `*` matches exactly one segment, `**` any
 * number of segments (zero or more in the middle; one or more at the end, so
 * `detail.**` never names `detail` itself); `*` inside a segment is a wildcard
 * within the key name (`*password*`). Literal segments match key names
 * case-insensitively: redaction should err towards matching more.
 *
 * Arrays are transparent: `detail.users.email` reaches `detail.users[3].email`, and an
 * index can also be named (`detail.users.0.email`, `detail.users.*.email`).
 *
 * Matching is a small NFA over all configured paths at once: a state is
 * (path, next segment), kept as an int array; each key visited steps every live
 * state. Nothing here uses regular expressions, so a hostile key name costs linear time.
 */

/** Top-level event fields a path may start at; the others are the pipeline's own. */
export const PATH_ROOTS = ['actor', 'target', 'organization_id', 'detail'] as const;

const MAX_SEGMENTS = 32;

type Segment =
  | { kind: 'literal'; text: string }
  | { kind: 'glob'; parts: string[] }
  | { kind: 'star' }
  | { kind: 'globstar' };

/** A parsed path, or an error message a person can act on. */
export function parsePath(path: string): Segment[] | string {
  if (path.length === 0) return 'path is empty';
  const raw = path.split('.');
  if (raw.length > MAX_SEGMENTS) return `path has more than ${MAX_SEGMENTS} segments`;
  const segs: Segment[] = [];
  for (const seg of raw) {
    if (seg.length === 0)
      return `path ${JSON.stringify(path)} has an empty segment (check for ".." or a leading/trailing ".")`;
    if (seg === '**') {
      if (segs.at(-1)?.kind !== 'globstar') segs.push({ kind: 'globstar' });
    } else if (seg === '*') {
      segs.push({ kind: 'star' });
    } else if (seg.includes('**')) {
      return `path ${JSON.stringify(path)}: "**" must be a whole segment`;
    } else if (seg.includes('*')) {
      segs.push({ kind: 'glob', parts: seg.toLowerCase().split('*') });
    } else {
      segs.push({ kind: 'literal', text: seg.toLowerCase() });
    }
  }
  const first = segs[0]!;
  if (first.kind === 'literal' && !(PATH_ROOTS as readonly string[]).includes(first.text)) {
    return `path ${JSON.stringify(path)} must start at one of ${PATH_ROOTS.join(', ')} (or * / **); the other event fields are not redactable`;
  }
  const concrete = segs.filter((s) => s.kind !== 'globstar').length;
  if (concrete === 0) return `path ${JSON.stringify(path)} matches everything; name a field`;
  if (segs.length === 1 && !(first.kind === 'literal' && first.text === 'organization_id')) {
    return `path ${JSON.stringify(path)} names a whole top-level object; name a field inside it (e.g. ${first.kind === 'literal' ? first.text : 'detail'}.x)`;
  }
  // A trailing ** means "anything below": one segment, then any depth.
  if (segs.at(-1)!.kind === 'globstar') segs.splice(segs.length - 1, 0, { kind: 'star' });
  return segs;
}

/** Null when `path` is valid, else the reason. */
export function pathError(path: string): string | null {
  const r = parsePath(path);
  return typeof r === 'string' ? r : null;
}

/**
 * Null when `path` may be used in a `drop` rule. An array index there would remove a
 * different element on every pass (redaction must be idempotent): use `*` or `mask`.
 */
export function dropPathError(path: string): string | null {
  const err = pathError(path);
  if (err !== null) return err;
  if (path.split('.').some((seg) => /^[0-9]+$/.test(seg))) {
    return `drop path ${JSON.stringify(path)} names an array index; dropping it would remove a different element on each pass (use * to drop all elements, or mask)`;
  }
  return null;
}

function globMatch(parts: string[], s: string): boolean {
  // `*`-only glob: prefix, suffix, and the middle parts in order (leftmost is optimal).
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (s.length < first.length + last.length) return false;
  if (!s.startsWith(first) || !s.endsWith(last)) return false;
  let pos = first.length;
  const end = s.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const p = parts[i]!;
    if (p.length === 0) continue;
    const at = s.indexOf(p, pos);
    if (at === -1 || at + p.length > end) return false;
    pos = at + p.length;
  }
  return true;
}

/** Live NFA states: (path index << 6 | segment index), no duplicates; null when none. */
export type PathState = number[] | null;

export interface PathMatcher {
  /** States before the root object's keys are visited. */
  readonly initial: PathState;
  /** States for the value under `key`. */
  step(state: PathState, key: string): PathState;
  /** States for element `index` of an array whose own states are `state`. */
  stepIndex(state: PathState, index: number): PathState;
  /** The lowest rule index whose path ends here, or -1. */
  accepted(state: PathState): number;
}

/**
 * Compile paths into one matcher; `paths[i]` reports rule index `i` from `accepted`,
 * so callers order paths by precedence (lower index wins).
 */
export function compilePaths(paths: readonly string[]): PathMatcher {
  const progs: Segment[][] = paths.map((p) => {
    const r = parsePath(p);
    if (typeof r === 'string') throw new Error(r);
    return r;
  });

  function add(out: number[], p: number, pos: number): void {
    const prog = progs[p]!;
    const code = (p << 6) | pos;
    if (out.includes(code)) return;
    out.push(code);
    if (pos < prog.length && prog[pos]!.kind === 'globstar') add(out, p, pos + 1);
  }

  const init: number[] = [];
  for (let p = 0; p < progs.length; p++) add(init, p, 0);

  function step(state: PathState, key: string): PathState {
    if (state === null) return null;
    let lower: string | null = null;
    let out: number[] | null = null;
    for (const code of state) {
      const p = code >> 6;
      const pos = code & 63;
      const prog = progs[p]!;
      if (pos >= prog.length) continue;
      const seg = prog[pos]!;
      let next = -1;
      switch (seg.kind) {
        case 'globstar':
          next = pos;
          break;
        case 'star':
          next = pos + 1;
          break;
        case 'literal':
          lower ??= key.toLowerCase();
          if (lower === seg.text) next = pos + 1;
          break;
        case 'glob':
          lower ??= key.toLowerCase();
          if (globMatch(seg.parts, lower)) next = pos + 1;
          break;
      }
      if (next !== -1) add((out ??= []), p, next);
    }
    return out;
  }

  return {
    initial: init.length > 0 ? init : null,
    step,
    stepIndex(state: PathState, index: number): PathState {
      if (state === null) return null;
      const byIndex = step(state, String(index));
      if (byIndex === null) return state;
      const out = state.slice();
      for (const code of byIndex) if (!out.includes(code)) out.push(code);
      return out;
    },
    accepted(state: PathState): number {
      if (state === null) return -1;
      let best = -1;
      for (const code of state) {
        const p = code >> 6;
        if ((code & 63) === progs[p]!.length && (best === -1 || p < best)) best = p;
      }
      return best;
    },
  };
}
