/**
 * "Did you mean …?" for config names (sinks, field paths, matcher keys).
 * A bad config must fail with a message a person can act on (DESIGN.md, promise 4),
 * and a near-miss name is the most common mistake.
 */

/** Names longer than this are not compared: a suggestion is worth little there and costs O(n·m). */
const MAX_COMPARED_LENGTH = 128;

/** Levenshtein distance (insert, delete, substitute), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  if (s === t) return 0;
  if (s.length === 0) return t.length;
  if (t.length === 0) return s.length;
  let prev = new Array<number>(t.length + 1);
  let cur = new Array<number>(t.length + 1);
  for (let j = 0; j <= t.length; j++) prev[j] = j;
  for (let i = 1; i <= s.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= t.length; j++) {
      const cost = s.charCodeAt(i - 1) === t.charCodeAt(j - 1) ? 0 : 1;
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[t.length]!;
}

/**
 * The candidate closest to `input`, if it is close enough to be a plausible typo: at most a
 * third of the input's length (and at least 1) edits away, or one is a prefix of the other.
 */
export function closest(input: string, candidates: Iterable<string>): string | undefined {
  if (input.length === 0 || input.length > MAX_COMPARED_LENGTH) return undefined;
  const limit = Math.max(1, Math.floor(input.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = input.toLowerCase();
  for (const c of candidates) {
    if (c.length > MAX_COMPARED_LENGTH) continue;
    // `warning` → `warn`, `crit` → `critical`: a shared prefix of 3+ characters is a plausible slip.
    const cl = c.toLowerCase();
    const prefix =
      Math.min(c.length, input.length) >= 3 && (cl.startsWith(lower) || lower.startsWith(cl));
    if (!prefix && Math.abs(c.length - input.length) > limit) continue;
    const d = prefix ? Math.min(limit, editDistance(input, c)) : editDistance(input, c);
    if (d <= limit && d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** ` (did you mean "x"?)` or the empty string. */
export function didYouMean(input: string, candidates: Iterable<string>): string {
  const c = closest(input, candidates);
  return c === undefined ? '' : ` (did you mean ${JSON.stringify(c)}?)`;
}
