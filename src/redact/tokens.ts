/**
 * Replacement tokens and how to recognise them again.
 *
 * Idempotence rests on this module: every replacement the engine writes is either
 * `[REDACTED]`, a keyed-hash token `hmac:<key_id>:<32 hex>`, or a partial mask made
 * of `*` plus a few kept characters. The scanner treats the first two as protected
 * spans that no detector may match on a later pass, so redacting twice changes
 * nothing (research/redaction.md §7.19).
 */

/** The one mask token. */
export const MASK = '[REDACTED]';

/** A keyed-hash token, anchored: `hmac:v1:0123…` (key id up to 16 chars, 128-bit hex). */
const HASH_TOKEN_EXACT = /^hmac:[A-Za-z0-9_-]{1,16}:[0-9a-f]{32}$/;
/** The same token at a given position (sticky), bounded: a linear check per `hmac:` hit. */
const HASH_TOKEN_AT = /hmac:[A-Za-z0-9_-]{1,16}:[0-9a-f]{32}(?![0-9a-f])/y;

/** True for a value that already is a replacement token (`[REDACTED]` or `hmac:…`). */
export function isToken(s: string): boolean {
  return s === MASK || (s.length <= 55 && s.startsWith('hmac:') && HASH_TOKEN_EXACT.test(s));
}

/** True for a keyed-hash token. */
export function isHashToken(s: string): boolean {
  return s.startsWith('hmac:') && HASH_TOKEN_EXACT.test(s);
}

/**
 * Spans of `s` that hold replacement tokens, as a flat [start, end, start, end, …]
 * list in ascending order, or null when there are none (the common case: two
 * indexOf calls).
 */
export function findProtectedSpans(s: string): number[] | null {
  let out: number[] | null = null;
  let p = s.indexOf(MASK);
  let h = s.indexOf('hmac:');
  if (p === -1 && h === -1) return null;
  // Merge the two sorted streams of hits.
  while (p !== -1 || h !== -1) {
    if (p !== -1 && (h === -1 || p < h)) {
      (out ??= []).push(p, p + MASK.length);
      p = s.indexOf(MASK, p + MASK.length);
    } else {
      HASH_TOKEN_AT.lastIndex = h;
      if (HASH_TOKEN_AT.test(s)) {
        (out ??= []).push(h, HASH_TOKEN_AT.lastIndex);
        h = s.indexOf('hmac:', HASH_TOKEN_AT.lastIndex);
      } else {
        h = s.indexOf('hmac:', h + 5);
      }
    }
  }
  return out;
}
