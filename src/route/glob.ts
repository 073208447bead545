/**
 * Globs on field values: `prod-*`, `QUERY_?UN`, `db[0-9]`.
 *
 * These are value globs, not path globs, so they are not matched with picomatch: picomatch
 * treats `/` as a separator (`prod-*` would not match `prod/pg`), refuses `.`-leading
 * segments, and compiles to backtracking JavaScript regexes whose cost on a long,
 * attacker-influenced field value (query text in `detail`) can grow polynomially with the
 * number of stars. Here `*` matches any run of characters (including `/` and newlines),
 * `?` one character, `[abc]` / `[a-z]` / `[!a-z]` (or `[^a-z]`) one character of a class,
 * and `\` makes the next character literal. There are no braces or extglobs.
 *
 * Star-only globs run on startsWith / endsWith / indexOf; the others on a matcher whose
 * tokens each consume one code point and which only ever backtracks to the last star, so
 * the cost is at most (value length × pattern length), with no allocation.
 */

/** A string is a glob when it contains one of these; `{ eq: ... }` forces a literal match. */
export function isGlob(s: string): boolean {
  return s.includes('*') || s.includes('?') || s.includes('[');
}

export type GlobResult =
  { ok: true; test: (value: string) => boolean } | { ok: false; message: string };

/** Every token but `star` consumes exactly one code point. */
type Token =
  | { t: 'lit'; s: string }
  | { t: 'star' }
  | { t: 'any' }
  /** ranges: [lo0, hi0, lo1, hi1, ...] as code points. */
  | { t: 'class'; negate: boolean; ranges: number[] };

type Parsed = { ok: true; tokens: Token[] } | { ok: false; message: string };

function parse(pattern: string): Parsed {
  const cps = Array.from(pattern);
  const tokens: Token[] = [];
  let lit = '';
  const flush = (): void => {
    if (lit !== '') tokens.push({ t: 'lit', s: lit });
    lit = '';
  };
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i]!;
    if (c === '\\') {
      if (i + 1 >= cps.length) {
        return { ok: false, message: `glob ${JSON.stringify(pattern)} ends with a lone backslash` };
      }
      lit += cps[++i]!;
    } else if (c === '*') {
      flush();
      // `**` means the same as `*` for a value; collapse so the matcher stays small.
      if (tokens[tokens.length - 1]?.t !== 'star') tokens.push({ t: 'star' });
    } else if (c === '?') {
      flush();
      tokens.push({ t: 'any' });
    } else if (c === '[') {
      const start = i;
      let j = i + 1;
      let negate = false;
      if (cps[j] === '!' || cps[j] === '^') {
        negate = true;
        j++;
      }
      const ranges: number[] = [];
      let first = true;
      let closed = false;
      while (j < cps.length) {
        let ch = cps[j]!;
        // A `]` right after `[` (or `[!`) is a member, as in shells.
        if (ch === ']' && !first) {
          closed = true;
          break;
        }
        first = false;
        if (ch === '\\' && j + 1 < cps.length) ch = cps[++j]!;
        const lo = ch.codePointAt(0)!;
        if (cps[j + 1] === '-' && j + 2 < cps.length && cps[j + 2] !== ']') {
          let hiCh = cps[j + 2]!;
          j += 2;
          if (hiCh === '\\' && j + 1 < cps.length) hiCh = cps[++j]!;
          const hi = hiCh.codePointAt(0)!;
          if (hi < lo) {
            return {
              ok: false,
              message: `glob ${JSON.stringify(pattern)} has a reversed range ${JSON.stringify(`${ch}-${hiCh}`)}`,
            };
          }
          ranges.push(lo, hi);
        } else {
          ranges.push(lo, lo);
        }
        j++;
      }
      if (!closed) {
        return {
          ok: false,
          message:
            `glob ${JSON.stringify(pattern)} has an unclosed "[" at character ${start + 1}: ` +
            `write "\\\\[" for a literal "[", or use { eq: ... } to match the text exactly`,
        };
      }
      flush();
      tokens.push({ t: 'class', negate, ranges });
      i = j;
    } else {
      lit += c;
    }
  }
  flush();
  return { ok: true, tokens };
}

/**
 * `pre*mid*suf` without `?` or classes: prefix and suffix are fixed, and placing each middle
 * part at its leftmost occurrence is optimal, so one pass of indexOf decides it.
 */
function starOnly(parts: string[]): (v: string) => boolean {
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  const mids = parts.slice(1, -1).filter((m) => m !== '');
  const minLength = parts.reduce((n, p) => n + p.length, 0);
  if (mids.length === 0) {
    if (last === '') return (v) => v.startsWith(first);
    if (first === '') return (v) => v.endsWith(last);
    return (v) => v.length >= minLength && v.startsWith(first) && v.endsWith(last);
  }
  if (mids.length === 1 && first === '' && last === '') {
    const mid = mids[0]!;
    return (v) => v.includes(mid);
  }
  return (v) => {
    if (v.length < minLength || !v.startsWith(first) || !v.endsWith(last)) return false;
    let pos = first.length;
    const end = v.length - last.length;
    for (let i = 0; i < mids.length; i++) {
      const m = mids[i]!;
      const at = v.indexOf(m, pos);
      if (at < 0 || at + m.length > end) return false;
      pos = at + m.length;
    }
    return true;
  };
}

const STAR = -1;
const ANY = -2;
/** Class k is encoded as CLASS_BASE - k (always < ANY). */
const CLASS_BASE = -3;

/**
 * The classic wildcard algorithm over code points: on a mismatch, resume after the last star
 * with that star absorbing one more character. Because every other token matches exactly one
 * code point, backtracking to the last star only is complete.
 */
function oneCharMatcher(tokens: Token[]): (v: string) => boolean {
  // One entry per token: a code point (>= 0), STAR, ANY, or an encoded class index.
  const codes: number[] = [];
  const classes: { negate: boolean; ranges: number[] }[] = [];
  for (const t of tokens) {
    if (t.t === 'lit') for (const ch of t.s) codes.push(ch.codePointAt(0)!);
    else if (t.t === 'star') codes.push(STAR);
    else if (t.t === 'any') codes.push(ANY);
    else {
      codes.push(CLASS_BASE - classes.length);
      classes.push({ negate: t.negate, ranges: t.ranges });
    }
  }
  const m = codes.length;
  const inClass = (code: number, cp: number): boolean => {
    const c = classes[CLASS_BASE - code]!;
    const r = c.ranges;
    for (let x = 0; x < r.length; x += 2) {
      if (cp >= r[x]! && cp <= r[x + 1]!) return !c.negate;
    }
    return c.negate;
  };
  return (v) => {
    const n = v.length;
    let p = 0;
    let i = 0;
    let starP = -1;
    let starI = 0;
    while (i < n) {
      if (p < m) {
        const code = codes[p]!;
        if (code === STAR) {
          starP = p++;
          starI = i;
          continue;
        }
        const cp = v.codePointAt(i)!;
        if (code === ANY || (code >= 0 ? code === cp : inClass(code, cp))) {
          p++;
          i += cp > 0xffff ? 2 : 1;
          continue;
        }
      }
      if (starP < 0) return false;
      p = starP + 1;
      starI += v.codePointAt(starI)! > 0xffff ? 2 : 1;
      i = starI;
    }
    while (p < m && codes[p] === STAR) p++;
    return p === m;
  };
}

/** Compile a value glob into a whole-string matcher. */
export function compileGlob(pattern: string): GlobResult {
  const parsed = parse(pattern);
  if (!parsed.ok) return parsed;
  const { tokens } = parsed;
  if (tokens.every((t) => t.t === 'lit' || t.t === 'star')) {
    const parts: string[] = [''];
    for (const t of tokens) {
      if (t.t === 'star') parts.push('');
      else parts[parts.length - 1] += t.s;
    }
    if (parts.length === 1) {
      const exact = parts[0]!;
      return { ok: true, test: (v) => v === exact };
    }
    return { ok: true, test: starOnly(parts) };
  }
  return { ok: true, test: oneCharMatcher(tokens) };
}
