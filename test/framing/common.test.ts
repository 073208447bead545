import { describe, expect, it } from 'vitest';
import { emit, isBlank, isBlankString, trimIncompleteUtf8 } from '../../src/framing/common.js';
import type { LogRecord } from '../../src/framing/types.js';

describe('isBlank / isBlankString', () => {
  it('accepts only ASCII whitespace', () => {
    expect(isBlank(Buffer.from(' \t\n\v\f\r'), 0, 6)).toBe(true);
    expect(isBlank(Buffer.from('  x '), 0, 4)).toBe(false);
    expect(isBlank(Buffer.from('  x '), 3, 4)).toBe(true);
    expect(isBlank(Buffer.alloc(0), 0, 0)).toBe(true);
    expect(isBlank(Buffer.from('\u00a0'), 0, 2)).toBe(false);
    expect(isBlankString(' \t\r')).toBe(true);
    expect(isBlankString(' .')).toBe(false);
    expect(isBlankString('\u2028')).toBe(false);
  });
});

describe('trimIncompleteUtf8', () => {
  it('drops a trailing sequence that lacks continuation bytes and nothing else', () => {
    const cases: [string, number, number][] = [
      ['ab', 2, 2],
      ['aé', 3, 3],
      ['aé', 2, 1], // lead of é only
      ['a日', 4, 4],
      ['a日', 3, 1],
      ['a日', 2, 1],
      ['a🎉', 5, 5],
      ['a🎉', 4, 1],
      ['a🎉', 2, 1],
    ];
    for (const [s, end, want] of cases)
      expect(trimIncompleteUtf8(Buffer.from(s), 0, end), `${s}/${end}`).toBe(want);
  });

  it('leaves stray continuation bytes (invalid input) to the decoder', () => {
    expect(trimIncompleteUtf8(Buffer.from([0x61, 0x80, 0x80, 0x80, 0x80]), 0, 5)).toBe(5);
    expect(trimIncompleteUtf8(Buffer.from([0x80]), 0, 1)).toBe(1);
    expect(trimIncompleteUtf8(Buffer.alloc(0), 0, 0)).toBe(0);
  });

  it('never goes below start', () => {
    const b = Buffer.from('日本');
    expect(trimIncompleteUtf8(b, 3, 4)).toBe(3);
  });
});

describe('emit', () => {
  it('sets only the fields that apply', () => {
    const out: LogRecord[] = [];
    emit(out, Buffer.from('x\r'), 0, 2, 7, undefined, undefined, false, false);
    emit(out, Buffer.from('x\r'), 0, 2, 8, 'stderr', 't', false, true);
    expect(out).toStrictEqual([
      { text: 'x', offset: 7 },
      { text: 'x\r', offset: 8, stream: 'stderr', time: 't', incomplete: true },
    ]);
  });
});
