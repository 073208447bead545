import { describe, expect, it } from 'vitest';
import { isOneLineObject, jsonArrayBytes, ndjsonBytes } from '../../src/sinks/bodies.js';
import type { QueuedEvent } from '../../src/sinks/types.js';

/** An event as the store leases it: bytes only; reading `body` fails the test. */
const stored = (body: string): QueuedEvent => {
  const raw = Buffer.from(body, 'utf8');
  return {
    seq: 1,
    id: 'x',
    raw,
    bytes: raw.length,
    ingestedAt: 0,
    get body(): string {
      throw new Error('body decoded');
    },
  };
};
const text = (body: string): QueuedEvent => ({
  seq: 1,
  id: 'y',
  body,
  bytes: Buffer.byteLength(body),
  ingestedAt: 0,
});

describe('joining bodies', () => {
  const a = '{"a":"é"}';
  const b = '{"b":"😀"}';

  it('writes NDJSON from bytes, from strings, and from a mix', () => {
    for (const batch of [
      [stored(a), stored(b)],
      [text(a), text(b)],
      [stored(a), text(b)],
    ]) {
      expect(ndjsonBytes(batch).toString('utf8')).toBe(`${a}\n${b}\n`);
    }
    expect(ndjsonBytes([]).length).toBe(0);
  });

  it('writes a JSON array from bytes, from strings, and from a mix', () => {
    expect(jsonArrayBytes([stored(a), text(b), stored(a)]).toString('utf8')).toBe(
      `[${a},${b},${a}]`,
    );
    expect(jsonArrayBytes([text(a)]).toString('utf8')).toBe(`[${a}]`);
    expect(jsonArrayBytes([]).toString('utf8')).toBe('[]');
  });

  it('tells a one-line JSON object from what would break NDJSON, on bytes and on strings', () => {
    for (const make of [stored, text]) {
      expect(isOneLineObject(make(a))).toBe(true);
      expect(isOneLineObject(make('{"a":\n1}'))).toBe(false);
      expect(isOneLineObject(make('[1]'))).toBe(false);
      expect(isOneLineObject(make(''))).toBe(false);
    }
  });
});
