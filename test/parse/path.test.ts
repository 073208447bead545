import { describe, expect, it } from 'vitest';
import { compilePath, resolvePath } from '../../src/parse/path.js';

describe('resolvePath', () => {
  const rec = {
    metadata: { user: { email: 'ana@example.com' } },
    events: [{ type: 'a' }, { type: 'b' }],
    n: 0,
  };

  it('follows dotted paths and array indexes', () => {
    expect(resolvePath(rec, compilePath('metadata.user.email'))).toBe('ana@example.com');
    expect(resolvePath(rec, compilePath('events.1.type'))).toBe('b');
    expect(resolvePath(rec, compilePath('n'))).toBe(0);
  });

  it('is undefined for anything missing or of the wrong shape', () => {
    expect(resolvePath(rec, compilePath('metadata.user.name'))).toBeUndefined();
    expect(resolvePath(rec, compilePath('events.x'))).toBeUndefined();
    expect(resolvePath(rec, compilePath('events.9.type'))).toBeUndefined();
    expect(resolvePath(rec, compilePath('n.deeper'))).toBeUndefined();
    expect(resolvePath(null, compilePath('a'))).toBeUndefined();
    expect(resolvePath('text', compilePath('length'))).toBeUndefined();
  });

  it('never walks into prototypes', () => {
    expect(resolvePath({}, compilePath('constructor'))).toBeUndefined();
    expect(resolvePath({}, compilePath('__proto__'))).toBeUndefined();
    expect(resolvePath([], compilePath('length'))).toBeUndefined();
    const own = JSON.parse('{"__proto__":{"x":1}}');
    expect(resolvePath(own, compilePath('__proto__.x'))).toBe(1);
  });
});
