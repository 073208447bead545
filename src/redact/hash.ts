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

export function createHasher(key: string, keyId: string): Hasher {
  const prefix = `hmac:${keyId}:`;
  return {
    keyId,
    token(value: string): string {
      return prefix + createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, HEX_CHARS);
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
