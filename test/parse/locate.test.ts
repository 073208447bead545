import { describe, expect, it } from 'vitest';
import { candidateAt, candidates, envelopeOf } from '../../src/parse/locate.js';
import { compilePath } from '../../src/parse/path.js';

function all(root: Record<string, unknown>) {
  const at = candidates(root);
  const out = [];
  for (let i = 0, c = at(0); c !== undefined; c = at(++i)) out.push(c);
  return out;
}

describe('candidates', () => {
  it('lists the line itself first, then nested objects breadth-first', () => {
    const root = { a: { b: { c: { d: { e: 1 } } } }, x: { y: 1 }, list: [{ no: 1 }], s: 'text' };
    const paths = all(root).map((c) => c.chain.map((l) => l.key).join('.'));
    expect(paths).toEqual(['', 'a', 'x', 'a.b', 'a.b.c']); // depth 4 (a.b.c.d) is not searched; arrays are not
  });

  it('parses JSON text under message / msg only', () => {
    const root = {
      message: '{"actionType":"LOGIN"}',
      msg: ' {"nested":{"k":1}}',
      other: '{"actionType":"NO"}',
      bad: 'not json',
    };
    const recs = all(root).map((c) => c.rec);
    expect(recs).toContainEqual({ actionType: 'LOGIN' });
    expect(recs).toContainEqual({ nested: { k: 1 } });
    expect(recs).toContainEqual({ k: 1 });
    expect(recs).not.toContainEqual({ actionType: 'NO' });
  });

  it('bounds JSON-in-string parses per line', () => {
    const root: Record<string, unknown> = {};
    for (const k of ['a', 'b', 'c', 'd', 'e', 'f']) root[k] = { msg: JSON.stringify({ leaf: k }) };
    const leaves = all(root).filter((c) => 'leaf' in c.rec);
    expect(leaves.map((c) => c.rec.leaf)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('is lazy: the first candidate costs no search', () => {
    const root = { message: '{"a":1}' };
    const at = candidates(root);
    expect(at(0)?.rec).toBe(root);
  });
});

describe('candidateAt', () => {
  it('follows a fixed path, parsing JSON text on the way', () => {
    const root = { level: 'info', payload: '{"audit":{"op":"x"}}' };
    const c = candidateAt(root, compilePath('payload.audit'));
    expect(c?.rec).toEqual({ op: 'x' });
    expect(c?.chain.map((l) => l.key)).toEqual(['payload', 'audit']);
    expect(candidateAt(root, compilePath('level'))).toBeUndefined();
    expect(candidateAt(root, compilePath('missing'))).toBeUndefined();
  });
});

describe('envelopeOf', () => {
  it('is the line around the record, minus the record and empty branches', () => {
    const root = { level: 'info', data: { auditEvent: { a: 1 } }, t: 5 };
    const [, data, rec] = all(root);
    expect(data!.rec).toBe(root.data);
    expect(envelopeOf(rec!.chain)).toEqual({ level: 'info', t: 5 });
    expect(envelopeOf([])).toBeNull();
    expect(envelopeOf([{ obj: { only: {} }, key: 'only' }])).toBeNull();
  });

  it('keeps siblings at every level and does not modify the line', () => {
    const root = { level: 'info', data: { keep: 1, auditEvent: { a: 1 } } };
    const rec = all(root).find((c) => c.chain.length === 2)!;
    expect(envelopeOf(rec.chain)).toEqual({ level: 'info', data: { keep: 1 } });
    expect(root.data.auditEvent).toEqual({ a: 1 });
  });
});
