import { describe, expect, it } from 'vitest';
import { createFramer } from '../../src/framing/index.js';
import { frame, line } from './lines.js';

describe.each(['json', 'raw'] as const)('%s framing', (format) => {
  it('makes one record per physical line with its byte offset', () => {
    const f = createFramer(format);
    const a = '{"event":"LOGIN","actor":"ana"}';
    const b = 'not json at all';
    expect(frame(f, `${a}\n${b}\n`, 10)).toEqual([
      { text: a, offset: 10 },
      { text: b, offset: 10 + a.length + 1 },
    ]);
    expect(f.stats).toEqual({ malformed: 0, incomplete: 0, truncated: 0 });
  });

  it('strips exactly one trailing \\r and keeps interior ones', () => {
    const f = createFramer(format);
    expect(frame(f, 'crlf\r\ntwo\r\r\na\rb\n').map((r) => r.text)).toEqual([
      'crlf',
      'two\r',
      'a\rb',
    ]);
  });

  it('produces nothing for empty and whitespace-only lines', () => {
    const f = createFramer(format);
    expect(frame(f, '\n \n\t \r\n\r\n{}\n')).toEqual([{ text: '{}', offset: 9 }]);
  });

  it('decodes multi-byte UTF-8, and invalid bytes as U+FFFD without throwing', () => {
    const f = createFramer(format);
    expect(f.push(line('{"name":"Zoë 日本 🎉"}'))[0]!.text).toBe('{"name":"Zoë 日本 🎉"}');
    expect(f.push(line(Buffer.from([0x7b, 0xc3, 0x7d])))[0]!.text).toBe('{\ufffd}');
  });

  it('carries the source cut over, keeping the \\r and dropping a half character', () => {
    const f = createFramer(format);
    expect(f.push(line('{"a":"b\r', 5, true))).toEqual([
      { text: '{"a":"b\r', offset: 5, truncated: true },
    ]);
    const cutMidChar = Buffer.from('{"a":"日').subarray(0, 7); // lead byte + 1 of 3
    expect(f.push(line(cutMidChar, 6, true))).toEqual([
      { text: '{"a":"', offset: 6, truncated: true },
    ]);
    expect(f.stats.truncated).toBe(0);
  });

  it('has no pending state', () => {
    const f = createFramer(format);
    f.push(line('partial-looking {'));
    expect(f.pendingFrom()).toBeUndefined();
    expect(f.flush(0)).toEqual([]);
    expect(f.flush(0, 0)).toEqual([]);
  });

  it('does not reinterpret CRI or Docker shapes', () => {
    const f = createFramer(format);
    const cri = '2024-05-01T10:00:00Z stdout P half';
    const docker = '{"log":"half","stream":"stdout"}';
    expect(frame(f, `${cri}\n${docker}\n`).map((r) => r.text)).toEqual([cri, docker]);
    expect(f.stats.malformed).toBe(0);
  });
});
