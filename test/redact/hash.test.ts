import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { createHasher, normaliseForHash } from '../../src/redact/hash.js';

describe('keyed hash', () => {
  const key = 'hash-test-key-0123456789abcdef';

  it('is HMAC-SHA-256, 128 bits of hex, prefixed with the key id', () => {
    const t = createHasher(key, 'v1').token('ana@example.com');
    const mac = createHmac('sha256', key).update('ana@example.com').digest('hex').slice(0, 32);
    expect(t).toBe(`hmac:v1:${mac}`);
  });

  it('same input + same key → same token (also from the cache)', () => {
    const h = createHasher(key, 'v1');
    const a = h.token('x');
    expect(h.token('x')).toBe(a);
    expect(createHasher(key, 'v1').token('x')).toBe(a);
    expect(h.token('y')).not.toBe(a);
  });

  it('key rotation: new id → new prefix; new key → new value', () => {
    const a = createHasher(key, 'v1').token('x');
    const b = createHasher('rotated-key-0123456789abcdef', 'v2').token('x');
    expect(b.startsWith('hmac:v2:')).toBe(true);
    expect(b.slice(8)).not.toBe(a.slice(8));
  });

  it('stays correct past the cache size', () => {
    const h = createHasher(key, 'k');
    const first = h.token('v0');
    for (let i = 1; i < 5000; i++) h.token(`v${i}`);
    expect(h.token('v0')).toBe(first);
  });

  it('normalises bare e-mail addresses only', () => {
    expect(normaliseForHash('Ana@Example.com')).toBe('ana@example.com');
    expect(normaliseForHash('Ana Smith')).toBe('Ana Smith');
    expect(normaliseForHash('a@b c@d')).toBe('a@b c@d');
  });
});
