/**
 * Keyed pseudonyms: HMAC-SHA-256 with a per-deployment secret and a visible key id,
 * written as `hmac:<key_id>:<hex>`. Keyed rather than plain SHA because e-mails, IPs
 * and card numbers are enumerable (ENISA 2019 §3.3; PCI DSS v4 3.5.1.1 requires a
 * keyed hash of ≥128-bit strength); the key id makes rotations visible in the output
 * (research/redaction.md §6.2).
 */
import { createHmac } from 'node:crypto';

/** Hex digits kept from the 256-bit MAC: 128 bits, PCI's minimum strength, half the bytes. */
const HEX_CHARS = 32;

export interface Hasher {
  readonly keyId: string;
  /** `hmac:<key_id>:<32 hex>` for `value` as given (no normalisation). */
  token(value: string): string;
}

/**
 * Memoised tokens: the same few users' addresses recur in event after event, and an
 * HMAC costs microseconds. In-process memory only (the values are in memory anyway);
 * bounded, cleared when full.
 */
const CACHE_LIMIT = 4096;
const CACHE_MAX_VALUE = 256;

export function createHasher(key: string, keyId: string): Hasher {
  const prefix = `hmac:${keyId}:`;
  const cache = new Map<string, string>();
  return {
    keyId,
    token(value: string): string {
      let t = cache.get(value);
      if (t !== undefined) return t;
      t =
        prefix + createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, HEX_CHARS);
      if (value.length <= CACHE_MAX_VALUE) {
        if (cache.size >= CACHE_LIMIT) cache.clear();
        cache.set(value, t);
      }
      return t;
    },
  };
}

/**
 * What a field value is hashed as, so the same person gets the same token whether a
 * `hash` path or the e-mail detector produced it: a bare e-mail address is lower-cased
 * (addresses are case-insensitive in practice); anything else is hashed as is.
 */
export function normaliseForHash(value: string): string {
  const at = value.indexOf('@');
  if (at > 0 && at === value.lastIndexOf('@') && !/\s/.test(value)) return value.toLowerCase();
  return value;
}
