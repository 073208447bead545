import { describe, expect, it } from 'vitest';
import { compilePaths, parsePath, pathError, type PathState } from '../../src/redact/paths.js';

/** Walk `keys` (numbers are array indexes) and report the accepted rule index, or -1. */
function match(paths: string[], keys: (string | number)[]): number {
  const m = compilePaths(paths);
  let st: PathState = m.initial;
  for (const k of keys) {
    st = typeof k === 'number' ? m.stepIndex(st, k) : m.step(st, k);
    const r = m.accepted(st);
    if (r !== -1) return r;
    if (st === null) return -1;
  }
  return -1;
}

describe('path syntax', () => {
  it.each([
    ['actor.email', null],
    ['detail.**.password', null],
    ['**.password', null],
    ['*.email', null],
    ['detail.metadata.*pass*', null],
    ['organization_id', null],
    ['', /empty/],
    ['detail..x', /empty segment/],
    ['.detail', /empty segment/],
    ['source.file', /must start at one of/],
    ['timestamp', /must start at one of/],
    ['detail', /whole top-level object/],
    ['*', /whole top-level object/],
    ['**', /matches everything/],
    ['detail.a**b', /whole segment/],
    [Array.from({ length: 40 }, () => 'a').join('.'), /more than 32/],
  ] as const)('%s', (path, err) => {
    const e = pathError(path);
    if (err === null) expect(e).toBeNull();
    else expect(e).toMatch(err);
  });

  it('a trailing ** means one or more segments', () => {
    expect(parsePath('detail.x.**')).toHaveLength(4);
  });
});

describe('path matching', () => {
  it.each([
    ['literal', ['actor.email'], ['actor', 'email'], 0],
    ['case-insensitive', ['detail.geoLocation'], ['detail', 'GEOLOCATION'], 0],
    ['no match', ['actor.email'], ['actor', 'ip'], -1],
    ['* is one segment', ['detail.*.password'], ['detail', 'user', 'password'], 0],
    ['* is not two segments', ['detail.*.password'], ['detail', 'a', 'b', 'password'], -1],
    ['** is zero segments', ['detail.**.password'], ['detail', 'password'], 0],
    ['** is many segments', ['detail.**.password'], ['detail', 'a', 'b', 'c', 'password'], 0],
    ['leading **', ['**.password'], ['detail', 'a', 'password'], 0],
    ['trailing ** is not the node itself', ['detail.x.**'], ['detail', 'x'], -1],
    ['trailing ** matches below', ['detail.x.**'], ['detail', 'x', 'y'], 0],
    ['glob in a segment', ['detail.*pass*'], ['detail', 'databasePassword'], 0],
    ['glob prefix and suffix', ['detail.x*y'], ['detail', 'xay'], 0],
    ['glob mismatch', ['detail.x*y'], ['detail', 'xya'], -1],
    ['arrays are transparent', ['detail.users.email'], ['detail', 'users', 3, 'email'], 0],
    ['arrays by index', ['detail.users.1.email'], ['detail', 'users', 1, 'email'], 0],
    ['arrays by wrong index', ['detail.users.1.email'], ['detail', 'users', 2, 'email'], -1],
    ['arrays by *', ['detail.users.*.email'], ['detail', 'users', 0, 'email'], 0],
    ['the element itself', ['detail.tags.*'], ['detail', 'tags', 4], 0],
    ['lowest index wins', ['detail.a.b', 'detail.**.b'], ['detail', 'a', 'b'], 0],
    ['second path', ['actor.email', 'detail.**.b'], ['detail', 'x', 'b'], 1],
  ] as const)('%s', (_n, paths, keys, expected) => {
    expect(match([...paths], [...keys])).toBe(expected);
  });

  it('no paths means no states', () => {
    const m = compilePaths([]);
    expect(m.initial).toBeNull();
    expect(m.step(null, 'x')).toBeNull();
    expect(m.accepted(null)).toBe(-1);
  });

  it('rejects invalid paths at compile time', () => {
    expect(() => compilePaths(['source.host'])).toThrow(/must start/);
  });
});
