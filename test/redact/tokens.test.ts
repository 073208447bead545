import { describe, expect, it } from 'vitest';
import { MASK, findProtectedSpans, isHashToken, isToken } from '../../src/redact/tokens.js';

const H = 'hmac:v1:0123456789abcdef0123456789abcdef';

describe('tokens', () => {
  it('recognises its own tokens', () => {
    expect(isToken(MASK)).toBe(true);
    expect(isToken(H)).toBe(true);
    expect(isHashToken(H)).toBe(true);
    expect(isToken('hmac:v1:xyz')).toBe(false);
    expect(isToken('[redacted]')).toBe(false);
    expect(isHashToken(H + 'a')).toBe(false);
  });

  it('finds token spans in text, in order', () => {
    const s = `a ${MASK} b ${H} c ${MASK}`;
    const spans = findProtectedSpans(s)!;
    const parts = [];
    for (let i = 0; i < spans.length; i += 2) parts.push(s.slice(spans[i], spans[i + 1]));
    expect(parts).toEqual([MASK, H, MASK]);
    expect(findProtectedSpans('nothing here')).toBeNull();
    expect(findProtectedSpans('hmac: not a token')).toBeNull();
  });

  it('does not take a longer hex run for a token', () => {
    expect(findProtectedSpans(H + 'ff')).toBeNull();
  });
});
